//! What a trace shows done wrong: re-locks, releases that match no acquisition, and
//! acquisitions of a lock another thread holds (an inconsistent trace).

use super::*;

impl Replay {
    /// Notes an acquisition of a lock another thread holds: the trace is inconsistent, which
    /// says nothing about the program, so it is a warning rather than a finding.
    /// Thread `t` acquired `l` while another thread holds it in a conflicting mode: no program
    /// can do that, so the trace is wrong (a lost release, an unrecorded wait, events written
    /// out of order). An error naming the line; the analysis goes on.
    pub(super) fn inconsistent(&mut self, t: u32, l: u32, site: Option<Site>) {
        self.misuse(Misuse::HeldElsewhere, t, l, site);
    }

    /// Thread `t` locks `l` (in `mode`, at `site`) again while holding it as `held`.
    pub(super) fn relock(&mut self, t: u32, l: u32, held: LockAt, mode: Mode, site: Option<Site>) {
        if let Some((_, count)) = self.misuses.get_mut(&(Misuse::Relock, t, l)) {
            *count += 1;
            return;
        }
        let thread = self.thread_name(self.threads[t as usize].id);
        let again = LockAt {
            name: self.lock_name(self.locks[l as usize].id),
            site,
            mode,
        };
        let mut finding = rules::relock(&thread, self.locks[l as usize].kind, held, again);
        if let Some(line) = self.line {
            finding.message = format!("{} (line {line})", finding.message);
        }
        self.misuses
            .insert((Misuse::Relock, t, l), (self.findings.len(), 1));
        self.findings.push(finding);
    }

    pub(super) fn misuse(&mut self, misuse: Misuse, t: u32, l: u32, site: Option<Site>) {
        if let Some((_, count)) = self.misuses.get_mut(&(misuse, t, l)) {
            *count += 1;
            return;
        }
        let thread = self.thread_name(self.threads[t as usize].id);
        let lock = self.lock_name(self.locks[l as usize].id);
        let holder = self.locks[l as usize]
            .holders
            .iter()
            .find(|&&(h, _)| h != t)
            .map(|&(h, _)| self.thread_name(self.threads[h as usize].id));
        let holder = holder.unwrap_or_default();
        let (message, reason) = match misuse {
            Misuse::ReleaseNotHeld => (
                format!("thread `{thread}` released `{lock}`, which no thread holds"),
                "a release without a matching acquisition: the guard was released twice, or \
                 the trace lost the acquisition"
                    .to_owned(),
            ),
            Misuse::ReleaseByNonOwner => (
                format!("thread `{thread}` released `{lock}`, which thread `{holder}` holds"),
                "only the owner may release a lock; releasing another thread's lock breaks its \
                 mutual exclusion"
                    .to_owned(),
            ),
            Misuse::Relock => unreachable!("a re-lock is built by `relock`, with its sites"),
            Misuse::HeldElsewhere => (
                format!(
                    "inconsistent trace: thread `{thread}` acquired `{lock}` while thread \
                     `{holder}` holds it"
                ),
                "no program can do this: the trace lost a release or a wait, or its events \
                 were written out of order, so what follows about this lock is uncertain"
                    .to_owned(),
            ),
        };
        let message = match self.line {
            Some(line) => format!("{message} (line {line})"),
            None => message,
        };
        let mut finding = Finding::new(FindingKind::ApiMisuse, message);
        finding.reason = reason;
        finding.locks = vec![lock];
        finding.threads = vec![thread];
        if !holder.is_empty() {
            finding.threads.push(holder);
        }
        finding.site = site;
        self.misuses
            .insert((misuse, t, l), (self.findings.len(), 1));
        self.findings.push(finding);
    }
}
