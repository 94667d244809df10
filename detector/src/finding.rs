//! [`Finding`]: what lockscan found, as data.
//!
//! Detection produces findings; panicking, logging, collecting and rendering reports are
//! policies applied to them afterwards. The same type comes out of the live detector and of the
//! offline trace analysis, so a finding reads the same whichever way it was found.

use std::fmt;

pub(crate) mod identity;
pub(crate) mod layout;
pub mod sources;

pub use sources::{FileSystemSources, NoSources, SourceProvider};

use crate::ids::Mode;
use crate::site::Site;

/// What kind of problem a finding is. The names are part of lockscan's public contract (JSON
/// output, baselines, suppressions).
///
/// ```
/// use lockscan::{FindingKind, Severity};
///
/// let kind: FindingKind = "potential-deadlock".parse().unwrap();
/// assert_eq!(kind, FindingKind::PotentialDeadlock);
/// assert_eq!(kind.to_string(), "potential-deadlock");
/// assert_eq!(kind.default_severity(), Severity::Error);
/// assert!("deadlocks".parse::<FindingKind>().is_err());
/// assert_eq!(FindingKind::ALL.len(), 9);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[non_exhaustive]
pub enum FindingKind {
    /// Threads were blocked in a wait cycle: a deadlock that actually happened.
    Deadlock,
    /// A lock-order cycle whose edges come from threads that could overlap: another schedule
    /// can deadlock.
    PotentialDeadlock,
    /// A lock-order cycle that could not deadlock in this run (one thread, or ordered by
    /// spawn/join/notify) but breaks a consistent lock order.
    LockOrderInversion,
    /// A lock-order cycle whose edges are serialized by a common gate lock.
    GatedCycle,
    /// Two conflicting accesses to a tracked value not ordered by happens-before.
    DataRace,
    /// Release of a lock not held, release by a non-owner, or re-locking a held
    /// non-reentrant lock.
    ApiMisuse,
    /// An acquisition against a declared lock rank.
    OrderViolation,
    /// A condition-variable wait while holding other locks.
    WaitWhileHolding,
    /// An async task suspended (its poll returned `Pending`) while holding a blocking lock
    /// (`lockscan::tokio`). A warning by default; with severity `error` when another task (or
    /// thread) then blocks on that lock while the task is suspended.
    LockHeldAcrossAwait,
}

impl FindingKind {
    /// Every kind, in the order of the public contract.
    pub const ALL: [FindingKind; 9] = [
        FindingKind::Deadlock,
        FindingKind::PotentialDeadlock,
        FindingKind::LockOrderInversion,
        FindingKind::GatedCycle,
        FindingKind::DataRace,
        FindingKind::ApiMisuse,
        FindingKind::OrderViolation,
        FindingKind::WaitWhileHolding,
        FindingKind::LockHeldAcrossAwait,
    ];

    /// The kebab-case name: `deadlock`, `potential-deadlock`, ...
    pub const fn as_str(self) -> &'static str {
        match self {
            FindingKind::Deadlock => "deadlock",
            FindingKind::PotentialDeadlock => "potential-deadlock",
            FindingKind::LockOrderInversion => "lock-order-inversion",
            FindingKind::GatedCycle => "gated-cycle",
            FindingKind::DataRace => "data-race",
            FindingKind::ApiMisuse => "api-misuse",
            FindingKind::OrderViolation => "order-violation",
            FindingKind::WaitWhileHolding => "wait-while-holding",
            FindingKind::LockHeldAcrossAwait => "lock-held-across-await",
        }
    }

    /// The severity a finding of this kind has unless configured otherwise.
    pub const fn default_severity(self) -> Severity {
        match self {
            FindingKind::GatedCycle => Severity::Note,
            FindingKind::WaitWhileHolding | FindingKind::LockHeldAcrossAwait => Severity::Warning,
            _ => Severity::Error,
        }
    }
}

impl fmt::Display for FindingKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for FindingKind {
    type Err = UnknownName;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        FindingKind::ALL
            .into_iter()
            .find(|kind| kind.as_str() == s)
            .ok_or_else(|| UnknownName(s.to_owned()))
    }
}

/// How serious a finding is. Ordered: `Note < Warning < Error`.
///
/// ```
/// use lockscan::{FindingKind, Severity};
///
/// assert!(Severity::Note < Severity::Warning && Severity::Warning < Severity::Error);
/// assert_eq!("warning".parse(), Ok(Severity::Warning));
/// assert_eq!(FindingKind::WaitWhileHolding.default_severity().as_str(), "warning");
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Severity {
    /// Worth knowing; not a bug by itself.
    Note,
    /// Likely a problem.
    Warning,
    /// A bug.
    Error,
}

impl Severity {
    /// `note`, `warning` or `error`.
    pub const fn as_str(self) -> &'static str {
        match self {
            Severity::Note => "note",
            Severity::Warning => "warning",
            Severity::Error => "error",
        }
    }
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for Severity {
    type Err = UnknownName;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "note" => Ok(Severity::Note),
            "warning" => Ok(Severity::Warning),
            "error" => Ok(Severity::Error),
            _ => Err(UnknownName(s.to_owned())),
        }
    }
}

/// A name that is not one of the expected kinds or severities.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown name `{0}`")]
pub struct UnknownName(pub String);

/// One step of a finding: thread `thread` acquired (or requested) `to` while holding `from`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FindingEdge {
    /// The lock that was held.
    pub from: String,
    /// The lock that was acquired or requested.
    pub to: String,
    /// The thread that did it.
    pub thread: String,
    /// Where `from` had been acquired.
    pub from_site: Option<Site>,
    /// Where `to` was acquired or requested.
    pub to_site: Option<Site>,
    /// The mode `from` was held in.
    pub from_mode: Mode,
    /// The mode `to` was requested in.
    pub to_mode: Mode,
    /// Other locks the thread held at that moment (the candidates for a gate lock).
    pub held: Vec<String>,
    /// Whether the thread was actually blocked on `to` (a wait-for edge of a real deadlock)
    /// rather than having acquired it.
    pub blocked: bool,
    /// The stack, when backtraces were asked for (`LOCKSCAN_BACKTRACE=1`).
    pub backtrace: Option<String>,
}

/// One access of a data race.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VarAccess {
    /// The variable's name.
    pub var: String,
    /// The accessing thread.
    pub thread: String,
    /// Whether the access wrote the variable.
    pub write: bool,
    /// Where the access happened.
    pub site: Option<Site>,
}

/// A problem lockscan found: structured, so tests, renderers and baselines can use its parts.
///
/// `Display` renders the rustc-style text report; [`fingerprint`](Finding::fingerprint) names
/// the problem stably across runs (baselines and de-duplication use it).
///
/// ```
/// use lockscan::{FindingKind, Mutex, Policy, Severity};
///
/// lockscan::set_policy(Policy::Collect);
/// let a = Mutex::named("finding-doc:A", ());
/// let b = Mutex::named("finding-doc:B", ());
/// drop((a.lock(), b.lock()));
/// drop((b.lock(), a.lock()));
/// # if lockscan::is_active() {
/// let finding = lockscan::findings()
///     .into_iter()
///     .find(|f| f.locks.contains(&"finding-doc:A".to_owned()))
///     .expect("the inversion");
/// assert_eq!(finding.kind, FindingKind::LockOrderInversion);
/// assert_eq!(finding.severity, Severity::Error);
/// assert_eq!(finding.edges.len(), 2); // each with both acquisition sites
/// assert!(finding.to_string().starts_with("error[lock-order-inversion]"));
/// # }
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct Finding {
    /// What kind of problem this is.
    pub kind: FindingKind,
    /// How serious it is.
    pub severity: Severity,
    /// One line saying what happened.
    pub message: String,
    /// Why lockscan classified it this way (potential or actual, and the evidence).
    pub reason: String,
    /// The locks involved, in cycle order for cycles (names, else classes, else ids).
    pub locks: Vec<String>,
    /// The threads involved.
    pub threads: Vec<String>,
    /// Every edge, each with both sites.
    pub edges: Vec<FindingEdge>,
    /// The accesses of a data race.
    pub vars: Vec<VarAccess>,
    /// How to fix it.
    pub help: Option<String>,
    /// Where the finding was detected, when it is a single place (a misuse, a rank violation).
    pub site: Option<Site>,
    /// The trace it was found in, when found offline in one trace (`lockscan analyze`); the
    /// first of them when several traces showed it.
    pub trace: Option<String>,
    /// How many traces and processes showed it, when found offline (`lockscan analyze`, and
    /// the `analyze` feature's `analysis::Analysis`, report a finding that several traces
    /// show once); `None` live.
    pub occurrences: Option<Occurrences>,
    /// How many times a finding that the live detector reports once for many occurrences
    /// happened so far (a `wait-while-holding`, reported once for its sites): counted as the
    /// program runs, read by [`findings`](crate::findings). `None` for the others.
    pub times: Option<u64>,
}

/// How many traces, and how many processes, showed one finding. Copies of one trace are one
/// process (the same program and pid in their headers); a trace without a header (RAPID STD)
/// counts as a process of its own.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct Occurrences {
    /// Traces that showed the finding.
    pub traces: usize,
    /// Distinct processes among them.
    pub processes: usize,
}

impl Finding {
    /// Where a reader should look first: the finding's own site, else where the first edge's
    /// lock was requested, else the first access of a race.
    ///
    /// ```
    /// use lockscan::{Finding, FindingKind, Site};
    ///
    /// let mut finding = Finding::new(FindingKind::ApiMisuse, "a re-lock");
    /// assert_eq!(finding.main_site(), None);
    /// finding.site = Some(Site::from("src/bank.rs:12:9"));
    /// assert_eq!(finding.main_site().map(ToString::to_string).as_deref(), Some("src/bank.rs:12:9"));
    /// ```
    pub fn main_site(&self) -> Option<&Site> {
        self.site
            .as_ref()
            .or_else(|| self.edges.first().and_then(|e| e.to_site.as_ref()))
            .or_else(|| self.vars.iter().find_map(|v| v.site.as_ref()))
    }

    /// A finding of `kind` with its default severity and nothing else filled in.
    ///
    /// ```
    /// use lockscan::{Finding, FindingKind, Severity};
    ///
    /// let finding = Finding::new(FindingKind::GatedCycle, "a cycle behind a gate lock");
    /// assert_eq!(finding.severity, Severity::Note);
    /// assert!(finding.locks.is_empty() && finding.help.is_none());
    /// ```
    pub fn new(kind: FindingKind, message: impl Into<String>) -> Finding {
        Finding {
            kind,
            severity: kind.default_severity(),
            message: message.into(),
            reason: String::new(),
            locks: Vec::new(),
            threads: Vec::new(),
            edges: Vec::new(),
            vars: Vec::new(),
            help: None,
            site: None,
            trace: None,
            occurrences: None,
            times: None,
        }
    }

    /// A stable identity for baselines and de-duplication: the kind and the sorted identities
    /// of the lock and variable names. Ids, thread names and the sites of the edges do not
    /// enter it, so the same bug found in another run has the same fingerprint.
    ///
    /// A named lock or variable is its name. An unnamed one is named after a source line
    /// (where it was made, or where it was first taken: `src/bank.rs:10:49`); its identity is
    /// that line's text, not its number: the file, a hash of the line without whitespace, which
    /// of the file's identical lines it is, and the non-whitespace characters before the column.
    /// So inserting lines above or below, or reformatting other lines, keeps the fingerprint;
    /// changing the line that made or first took the lock changes it. The line is read from
    /// the source file (from the current folder, or the folders above it for a relative path);
    /// when the file cannot be read, the line number stands in for the text, as it did before
    /// version 2 of the fingerprint. A name without a site hashes as in version 1, so baselines
    /// of named locks written before stay valid.
    ///
    /// ```
    /// use lockscan::{Finding, FindingKind};
    ///
    /// let mut found = Finding::new(FindingKind::PotentialDeadlock, "found by one test");
    /// found.locks = vec!["A".into(), "B".into()];
    /// let mut again = Finding::new(FindingKind::PotentialDeadlock, "found by another");
    /// again.locks = vec!["B".into(), "A".into()];
    /// assert_eq!(found.fingerprint(), again.fingerprint());
    /// assert_eq!(found.fingerprint().len(), 16);
    /// ```
    ///
    /// An unnamed lock keeps its fingerprint when a line is inserted above the line that made
    /// it:
    ///
    /// ```
    /// use lockscan::{Finding, FindingKind};
    ///
    /// let dir = std::env::temp_dir().join(format!("lockscan-fingerprint-doc-{}", std::process::id()));
    /// std::fs::create_dir_all(&dir)?;
    /// let file = dir.join("bank.rs");
    /// let deadlock = |line: u32| {
    ///     let mut finding = Finding::new(FindingKind::Deadlock, "m");
    ///     finding.locks = vec![format!("{}:{line}:19", file.display()), "audit".into()];
    ///     finding.fingerprint()
    /// };
    /// std::fs::write(&file, "fn new() {\n    let lock = Mutex::new(0);\n}\n")?;
    /// let before = deadlock(2);
    /// std::fs::write(&file, "// a new comment\nfn new() {\n    let lock = Mutex::new(0);\n}\n")?;
    /// assert_eq!(deadlock(3), before);
    /// std::fs::write(&file, "// a new comment\nfn new() {\n    let lock = Mutex::new(1);\n}\n")?;
    /// assert_ne!(deadlock(3), before, "the line that made the lock changed");
    /// # std::fs::remove_dir_all(&dir)?;
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn fingerprint(&self) -> String {
        let mut parts: Vec<std::borrow::Cow<'_, str>> = self
            .locks
            .iter()
            .map(|lock| identity::stable_name(lock))
            .collect();
        parts.sort_unstable();
        parts.dedup();
        let mut vars: Vec<std::borrow::Cow<'_, str>> = self
            .vars
            .iter()
            .map(|v| identity::stable_name(&v.var))
            .collect();
        vars.sort_unstable();
        vars.dedup();
        let mut hash = Fnv64::new();
        hash.write(self.kind.as_str());
        for part in parts {
            hash.write("\u{1f}lock:");
            hash.write(&part);
        }
        for var in vars {
            hash.write("\u{1f}var:");
            hash.write(&var);
        }
        format!("{:016x}", hash.finish())
    }

    /// The cycle as `A -> B -> A`, or `None` when the finding is not about a cycle.
    ///
    /// ```
    /// use lockscan::{FindingKind, Mutex, Policy};
    ///
    /// lockscan::set_policy(Policy::Collect);
    /// let a = Mutex::named("doc:cycle-a", ());
    /// let b = Mutex::named("doc:cycle-b", ());
    /// drop((a.lock(), b.lock()));
    /// drop((b.lock(), a.lock()));
    /// # if lockscan::is_active() {
    /// let finding = lockscan::findings().pop().unwrap();
    /// let cycle = finding.cycle_text().unwrap();
    /// assert!(cycle.contains("`doc:cycle-a`") && cycle.contains("`doc:cycle-b`"));
    /// # }
    /// assert_eq!(lockscan::Finding::new(FindingKind::DataRace, "").cycle_text(), None);
    /// ```
    pub fn cycle_text(&self) -> Option<String> {
        let is_cycle = matches!(
            self.kind,
            FindingKind::Deadlock
                | FindingKind::PotentialDeadlock
                | FindingKind::LockOrderInversion
                | FindingKind::GatedCycle
        );
        if self.edges.is_empty() || !is_cycle {
            return None;
        }
        let mut text = String::new();
        for edge in &self.edges {
            text.push('`');
            text.push_str(&edge.from);
            text.push_str("` -> ");
        }
        text.push('`');
        text.push_str(&self.edges[self.edges.len() - 1].to);
        text.push('`');
        Some(text)
    }
}

/// FNV-1a, 64 bit: a hash whose value is fixed by its definition, so fingerprints written to a
/// baseline file stay valid across Rust versions.
struct Fnv64(u64);

impl Fnv64 {
    fn new() -> Self {
        Fnv64(0xcbf2_9ce4_8422_2325)
    }

    fn write(&mut self, text: &str) {
        for byte in text.bytes() {
            self.0 ^= u64::from(byte);
            self.0 = self.0.wrapping_mul(0x0000_0100_0000_01b3);
        }
    }

    fn finish(&self) -> u64 {
        self.0
    }
}

impl Finding {
    /// The report [`Display`](fmt::Display) writes, drawing the sites on the source files
    /// `sources` gives (as rustc's emitter takes a source map).
    ///
    /// ```
    /// use lockscan::finding::NoSources;
    /// use lockscan::{Finding, FindingKind, Site};
    ///
    /// let mut finding = Finding::new(FindingKind::ApiMisuse, "re-locked");
    /// finding.site = Some(Site::from("src/bank.rs:2:13"));
    /// let report = finding.display_with(&NoSources).to_string();
    /// assert!(report.starts_with("error[api-misuse]: re-locked"));
    /// assert!(report.contains("src/bank.rs:2:13"));
    /// ```
    pub fn display_with<'a>(&'a self, sources: &'a dyn SourceProvider) -> WithSources<'a> {
        WithSources {
            finding: self,
            sources,
        }
    }
}

/// A finding with the sources to draw it on: [`Finding::display_with`].
pub struct WithSources<'a> {
    finding: &'a Finding,
    sources: &'a dyn SourceProvider,
}

impl fmt::Debug for WithSources<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WithSources")
            .field("finding", self.finding)
            .finish_non_exhaustive()
    }
}

impl fmt::Display for WithSources<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let plain = annotate_snippets::Renderer::plain();
        writeln!(
            f,
            "{}",
            layout::finding_report(self.finding, &plain, self.sources)
        )
    }
}

impl fmt::Display for Finding {
    /// A rustc-style report: what happened, every edge with both sites (drawn on the source
    /// when it is readable from here), the cycle,
    /// why, and how to fix it. The text report of `lockscan analyze` is the same, coloured.
    ///
    /// The sources come from [`FileSystemSources`]; [`Finding::display_with`] takes others.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // This reads the source files of the sites. It is no hot path: the live detector
        // formats a finding at most once (the policy reports each finding once), on the way to
        // a panic or a warning, never per lock operation. The layout is worth that read.
        self.display_with(&FileSystemSources).fmt(f)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn edge(from: &str, to: &str, thread: &str) -> FindingEdge {
        FindingEdge {
            from: from.into(),
            to: to.into(),
            thread: thread.into(),
            from_site: Some(Site::from("src/x.rs:10:5")),
            to_site: Some(Site::from("src/x.rs:12:5")),
            from_mode: Mode::Exclusive,
            to_mode: Mode::Exclusive,
            held: Vec::new(),
            blocked: false,
            backtrace: None,
        }
    }

    #[test]
    fn kind_names_round_trip() {
        for kind in FindingKind::ALL {
            assert_eq!(kind.as_str().parse::<FindingKind>(), Ok(kind));
        }
        assert!("deadlocks".parse::<FindingKind>().is_err());
    }

    #[test]
    fn fingerprint_ignores_order_threads_and_sites() {
        let mut a = Finding::new(FindingKind::PotentialDeadlock, "m");
        a.locks = vec!["A".into(), "B".into()];
        a.edges = vec![edge("A", "B", "t1"), edge("B", "A", "t2")];
        let mut b = a.clone();
        b.locks.reverse();
        b.edges[0].thread = "other".into();
        b.edges[0].to_site = Some(Site::from("src/y.rs:1:1"));
        assert_eq!(a.fingerprint(), b.fingerprint());
        let mut c = a.clone();
        c.kind = FindingKind::LockOrderInversion;
        assert_ne!(a.fingerprint(), c.fingerprint());
        c = a.clone();
        c.locks[1] = "C".into();
        assert_ne!(a.fingerprint(), c.fingerprint());
    }

    #[test]
    fn fingerprint_is_fixed_by_definition() {
        // A baseline written today must match tomorrow: pin one value (checked against an
        // independent FNV-1a implementation).
        let mut f = Finding::new(FindingKind::Deadlock, "m");
        f.locks = vec!["A".into()];
        assert_eq!(f.fingerprint(), "330d38eef10a8ac3");
    }

    #[test]
    fn display_is_rustc_style() {
        let mut f = Finding::new(FindingKind::PotentialDeadlock, "lock-order cycle");
        f.locks = vec!["A".into(), "B".into()];
        f.edges = vec![edge("A", "B", "t1"), edge("B", "A", "t2")];
        f.help = Some("take the locks in one order".into());
        let text = f.to_string();
        assert!(
            text.starts_with("error[potential-deadlock]: lock-order cycle\n"),
            "{text}"
        );
        assert!(text.contains("= cycle: `A` -> `B` -> `A`"), "{text}");
        assert!(
            text.contains(
                "thread `t1` acquired `B` at src/x.rs:12:5 while holding `A` (acquired at src/x.rs:10:5)"
            ),
            "{text}"
        );
        assert!(
            text.contains("= help: take the locks in one order"),
            "{text}"
        );
    }
}
