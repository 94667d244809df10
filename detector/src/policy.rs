//! What happens to a [`Finding`] once it is found: panic, warn, or collect.
//!
//! Every distinct finding (by [`Finding::fingerprint`]) is handled once, however often the code
//! that causes it runs, and is kept in a list that [`findings`] returns.

use std::io::Write;
use std::sync::Arc;
use std::sync::atomic::{AtomicU8, AtomicU64, Ordering};

use crate::raw::{Mutex, RwLock};
use rustc_hash::{FxHashMap, FxHashSet};

use crate::finding::{Finding, FindingKind, Severity};

/// What lockscan does with a finding.
///
/// ```
/// use lockscan::Policy;
///
/// assert_eq!(lockscan::POLICY_ENV, "LOCKSCAN_ON_FINDING"); // `panic`, `warn` or `collect`
/// lockscan::set_policy(Policy::Warn);
/// assert_eq!(lockscan::policy(), Some(Policy::Warn));
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Policy {
    /// Panic on the thread that found it, with the report as the message, so a test fails at
    /// the acquisition that closes the cycle. The default for errors.
    Panic,
    /// Emit a `tracing` event at target `lockscan` (and print to stderr when no subscriber is
    /// installed). The default for warnings and notes.
    Warn,
    /// Only keep it for [`findings`].
    Collect,
}

impl Policy {
    fn parse(text: &str) -> Option<Policy> {
        match text.trim().to_ascii_lowercase().as_str() {
            "panic" => Some(Policy::Panic),
            "warn" => Some(Policy::Warn),
            "collect" => Some(Policy::Collect),
            _ => None,
        }
    }
}

/// 0: not decided yet; 1: by severity; 2: panic; 3: warn; 4: collect.
static POLICY: AtomicU8 = AtomicU8::new(0);
const BY_SEVERITY: u8 = 1;

/// The environment variable that sets the policy: `panic`, `warn` or `collect`.
pub const POLICY_ENV: &str = "LOCKSCAN_ON_FINDING";

fn encode(policy: Option<Policy>) -> u8 {
    match policy {
        None => BY_SEVERITY,
        Some(Policy::Panic) => 2,
        Some(Policy::Warn) => 3,
        Some(Policy::Collect) => 4,
    }
}

/// Sets the policy for every finding from now on, overriding `LOCKSCAN_ON_FINDING`.
///
/// ```
/// lockscan::set_policy(lockscan::Policy::Collect);
/// assert_eq!(lockscan::policy(), Some(lockscan::Policy::Collect));
/// ```
pub fn set_policy(policy: Policy) {
    POLICY.store(encode(Some(policy)), Ordering::Relaxed);
}

/// Goes back to the default: errors panic, warnings and notes are logged.
///
/// ```
/// lockscan::set_policy(lockscan::Policy::Collect);
/// lockscan::reset_policy();
/// assert_eq!(lockscan::policy(), None);
/// ```
pub fn reset_policy() {
    POLICY.store(BY_SEVERITY, Ordering::Relaxed);
}

/// The policy in force, or `None` for the default (errors panic, the rest warn).
///
/// ```
/// lockscan::set_policy(lockscan::Policy::Panic);
/// assert_eq!(lockscan::policy(), Some(lockscan::Policy::Panic));
/// ```
pub fn policy() -> Option<Policy> {
    let mut value = POLICY.load(Ordering::Relaxed);
    if value == 0 {
        let from_env = std::env::var(POLICY_ENV).ok().and_then(|v| {
            let parsed = Policy::parse(&v);
            if parsed.is_none() {
                eprintln!("lockscan: ignoring {POLICY_ENV}={v:?}: expected panic, warn or collect");
            }
            parsed
        });
        // Lose the race to `set_policy` gracefully: an explicit setting wins over the env var.
        let _ = POLICY.compare_exchange(0, encode(from_env), Ordering::Relaxed, Ordering::Relaxed);
        value = POLICY.load(Ordering::Relaxed);
    }
    match value {
        2 => Some(Policy::Panic),
        3 => Some(Policy::Warn),
        4 => Some(Policy::Collect),
        _ => None,
    }
}

fn policy_for(severity: Severity) -> Policy {
    policy().unwrap_or(match severity {
        Severity::Error => Policy::Panic,
        Severity::Warning | Severity::Note => Policy::Warn,
    })
}

type Hook = Arc<dyn Fn(&Finding) + Send + Sync>;

static HOOK: RwLock<Option<Hook>> = RwLock::new(None);
static FINDINGS: Mutex<Vec<Finding>> = Mutex::new(Vec::new());
static SEEN: Mutex<Option<FxHashSet<String>>> = Mutex::new(None);
/// The live counts of the findings reported once for many occurrences, by [`dedup_key`].
static COUNTED: Mutex<Option<FxHashMap<String, Arc<AtomicU64>>>> = Mutex::new(None);

/// The count of the occurrences that `finding` stands for (by its [`dedup_key`], so that
/// findings the policy takes for one share it): the runtime adds to it at each occurrence,
/// [`findings`] reads it into [`Finding::times`].
#[cfg_attr(not(lockscan_active), allow(dead_code))]
pub(crate) fn counter(finding: &Finding) -> Arc<AtomicU64> {
    let mut counted = COUNTED.lock();
    let counted = counted.get_or_insert_with(FxHashMap::default);
    Arc::clone(counted.entry(dedup_key(finding)).or_default())
}

/// `findings` with their live counts read, and said in their reasons.
fn with_counts(mut findings: Vec<Finding>) -> Vec<Finding> {
    let counted = COUNTED.lock();
    let Some(counted) = counted.as_ref().filter(|c| !c.is_empty()) else {
        return findings;
    };
    for finding in &mut findings {
        if let Some(count) = counted.get(&dedup_key(finding)) {
            let times = count.load(Ordering::Relaxed);
            finding.times = Some(times);
            if times > 1 {
                finding.reason.push_str(&format!(
                    "; happened {times} times so far at these sites, grouped into this finding"
                ));
            }
        }
    }
    findings
}

/// Calls `hook` with every new finding, before the policy is applied, on the thread that found
/// it. Replaces an earlier hook.
///
/// ```
/// use std::sync::atomic::{AtomicUsize, Ordering};
/// use lockscan::{Mutex, Policy};
///
/// static SEEN: AtomicUsize = AtomicUsize::new(0);
/// lockscan::set_policy(Policy::Collect);
/// lockscan::set_finding_hook(|finding| {
///     SEEN.fetch_add(1, Ordering::Relaxed);
///     eprintln!("{}", finding.kind);
/// });
/// let a = Mutex::named("doc:hook-a", ());
/// let b = Mutex::named("doc:hook-b", ());
/// drop((a.lock(), b.lock()));
/// drop((b.lock(), a.lock())); // the opposite order: a finding, handed to the hook
/// lockscan::clear_finding_hook();
/// let expected = if lockscan::is_active() { 1 } else { 0 };
/// assert_eq!(SEEN.load(Ordering::Relaxed), expected);
/// ```
pub fn set_finding_hook(hook: impl Fn(&Finding) + Send + Sync + 'static) {
    *HOOK.write() = Some(Arc::new(hook));
}

/// Removes the hook set by [`set_finding_hook`].
///
/// ```
/// use std::sync::atomic::{AtomicBool, Ordering};
///
/// static CALLED: AtomicBool = AtomicBool::new(false);
/// lockscan::set_policy(lockscan::Policy::Collect);
/// lockscan::set_finding_hook(|_| CALLED.store(true, Ordering::Relaxed));
/// lockscan::clear_finding_hook();
/// let a = lockscan::Mutex::named("doc:unhooked-a", ());
/// let b = lockscan::Mutex::named("doc:unhooked-b", ());
/// drop((a.lock(), b.lock()));
/// drop((b.lock(), a.lock()));
/// assert!(!CALLED.load(Ordering::Relaxed));
/// ```
pub fn clear_finding_hook() {
    *HOOK.write() = None;
}

/// Every distinct finding reported so far in this process, oldest first.
///
/// Tests that run in parallel share this list: look for the findings about your own locks.
///
/// ```
/// use lockscan::{FindingKind, Mutex, Policy};
///
/// lockscan::set_policy(Policy::Collect);
/// let config = Mutex::named("doc:config", ());
/// let cache = Mutex::named("doc:cache", ());
/// drop((config.lock(), cache.lock()));
/// drop((cache.lock(), config.lock()));
/// let mine: Vec<_> = lockscan::findings()
///     .into_iter()
///     .filter(|f| f.locks.iter().any(|lock| lock == "doc:config"))
///     .collect();
/// if lockscan::is_active() {
///     assert_eq!(mine.len(), 1);
///     assert_eq!(mine[0].kind, FindingKind::LockOrderInversion);
/// } else {
///     assert!(mine.is_empty());
/// }
/// ```
pub fn findings() -> Vec<Finding> {
    let findings = FINDINGS.lock().clone();
    with_counts(findings)
}

/// Removes and returns the findings reported so far. The same findings are not reported
/// again: de-duplication outlives this call.
///
/// ```
/// use lockscan::{Mutex, Policy};
///
/// lockscan::set_policy(Policy::Collect);
/// let a = Mutex::named("doc:take-a", ());
/// let b = Mutex::named("doc:take-b", ());
/// drop((a.lock(), b.lock()));
/// drop((b.lock(), a.lock()));
/// let taken = lockscan::take_findings();
/// assert_eq!(taken.len(), if lockscan::is_active() { 1 } else { 0 });
/// assert!(lockscan::findings().is_empty());
/// drop((b.lock(), a.lock())); // the same inversion: not reported again
/// assert!(lockscan::findings().is_empty());
/// ```
pub fn take_findings() -> Vec<Finding> {
    let findings = std::mem::take(&mut *FINDINGS.lock());
    with_counts(findings)
}

/// Whether `finding` is new: the first with its [`dedup_key`]. A finding seen before is
/// dropped, the policy decides nothing about it.
pub(crate) fn is_new(finding: &Finding) -> bool {
    SEEN.lock()
        .get_or_insert_with(FxHashSet::default)
        .insert(dedup_key(finding))
}

/// Keeps a new finding for [`findings`], hands it to the hook, and returns the policy's
/// decision about it, which the caller (the runtime) carries out: this module records nothing
/// else and acts on nothing.
pub(crate) fn decide(finding: &Finding) -> Policy {
    FINDINGS.lock().push(finding.clone());
    let hook = HOOK.read().clone();
    if let Some(hook) = hook {
        hook(finding);
    }
    policy_for(finding.severity)
}

/// The last line of a live report, after the finding's own lines (which end in a line break):
/// what lockscan does about it. It marks the report as lockscan's in a log, since the report
/// itself starts with rustc's `error[kind]:`.
pub(crate) fn ending(kind: FindingKind, fatal: bool) -> &'static str {
    match (fatal, kind) {
        (true, FindingKind::Deadlock) => {
            "lockscan: found live; this thread is part of a deadlock: unwinding it instead of \
             hanging"
        }
        (true, _) => {
            "lockscan: found live; this thread would wait for itself forever: unwinding it \
             instead of hanging"
        }
        (false, _) => {
            "lockscan: found live (policy `panic`: this thread unwinds; \
             LOCKSCAN_ON_FINDING=warn reports findings and goes on)"
        }
    }
}

/// The ending of a report that the `warn` policy writes.
const WARN_ENDING: &str = "lockscan: found live (policy `warn`: the program goes on)";

/// What makes two findings the same report: the fingerprint (kind and names), for a data race
/// also the pair of sites, so that each racing pair of code locations is reported once, and
/// for a `lock-held-across-await` its severity (its escalation to an error is reported after
/// the warning).
/// A trace's replay de-duplicates the findings the program recorded with it.
pub(crate) fn dedup_key(finding: &Finding) -> String {
    let mut key = finding.fingerprint();
    if finding.kind == FindingKind::LockHeldAcrossAwait && finding.severity == Severity::Error {
        // The warning's escalation (another task blocked on the lock) is news after the
        // warning about the same lock.
        key.push_str("\u{1f}error");
    }
    if finding.kind == FindingKind::DataRace {
        let mut sites: Vec<String> = finding
            .vars
            .iter()
            .map(|v| v.site.as_ref().map(ToString::to_string).unwrap_or_default())
            .collect();
        sites.sort();
        for site in sites {
            key.push('\u{1f}');
            key.push_str(&site);
        }
    }
    key
}

/// The `warn` policy: the report on stderr (or a `tracing` event), ending with what happens
/// next: the program goes on, unless the finding is `fatal`.
pub(crate) fn warn(finding: &Finding, fatal: bool) {
    let ending = if fatal {
        ending(finding.kind, true)
    } else {
        WARN_ENDING
    };
    let no_subscriber =
        tracing::dispatcher::get_default(|d| d.is::<tracing::subscriber::NoSubscriber>());
    if no_subscriber {
        // Straight to the process's stderr, not through `eprintln!`: libtest captures what the
        // print macros write in a passing test, and a warning nobody sees is no warning.
        // A line break first: the report may follow partial output on the terminal or in the
        // log (libtest's progress dots under `cargo test -q` are on stdout, this is stderr),
        // and its `error[kind]:` must start a line for a reader or a log matcher to find it.
        let _ = writeln!(std::io::stderr().lock(), "\n{finding}{ending}");
    } else {
        tracing::warn!(
            target: "lockscan",
            kind = finding.kind.as_str(),
            fingerprint = %finding.fingerprint(),
            "{finding}"
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn policy_names_parse() {
        assert_eq!(Policy::parse("panic"), Some(Policy::Panic));
        assert_eq!(Policy::parse(" Warn "), Some(Policy::Warn));
        assert_eq!(Policy::parse("collect"), Some(Policy::Collect));
        assert_eq!(Policy::parse("ignore"), None);
    }

    #[test]
    fn default_policy_depends_on_severity() {
        assert_eq!(encode(None), BY_SEVERITY);
        if policy().is_none() {
            assert_eq!(policy_for(Severity::Error), Policy::Panic);
            assert_eq!(policy_for(Severity::Note), Policy::Warn);
        }
    }
}
