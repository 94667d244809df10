//! What a trace shows done wrong: re-locks, releases that match no acquisition, and
//! acquisitions of a lock another thread holds (an inconsistent trace).

use super::*;

impl Replay {
    /// Thread `t` acquired `l` while another thread holds it in a conflicting mode: no program
    /// can do that, so the trace is wrong (a lost release, an unrecorded wait, events written
    /// out of order). An error naming the line; the analysis goes on.
    pub(super) fn inconsistent(&mut self, t: u32, l: u32, site: Option<Site>) {
        self.misuse(Misuse::HeldElsewhere, t, l, site);
    }

    /// Thread `t` locks `l` (in `mode`, at `site`) again while holding it as `held`.
    pub(super) fn relock(&mut self, t: u32, l: u32, held: LockAt, mode: Mode, site: Option<Site>) {
        let key = (Wrong::Relock, t, l);
        if self.seen_again(key) {
            return;
        }
        let thread = self.thread_name(self.threads[t as usize].id);
        let again = LockAt {
            name: self.lock_name(self.locks[l as usize].id),
            site,
            mode,
        };
        let finding = rules::relock(&thread, self.locks[l as usize].kind, held, again);
        self.push_counted(key, finding);
    }

    pub(super) fn misuse(&mut self, misuse: Misuse, t: u32, l: u32, site: Option<Site>) {
        let key = (Wrong::Misuse(misuse), t, l);
        if self.seen_again(key) {
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
        let mut finding = Finding::new(FindingKind::ApiMisuse, message);
        finding.reason = reason;
        finding.locks = vec![lock];
        finding.threads = vec![thread];
        if !holder.is_empty() {
            finding.threads.push(holder);
        }
        finding.site = site;
        self.push_counted(key, finding);
    }

    /// Counts another occurrence of `key` if it was reported already; returns whether it was.
    fn seen_again(&mut self, key: (Wrong, u32, u32)) -> bool {
        match self.misuses.get_mut(&key) {
            Some((_, count)) => {
                *count += 1;
                true
            }
            None => false,
        }
    }

    /// Reports the first occurrence of `key`, naming the trace line when known.
    fn push_counted(&mut self, key: (Wrong, u32, u32), mut finding: Finding) {
        if let Some(line) = self.line {
            finding.message = format!("{} (line {line})", finding.message);
        }
        self.misuses.insert(key, (self.findings.len(), 1));
        self.findings.push(finding);
    }
}
