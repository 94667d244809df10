//! Steering a run towards a predicted deadlock, to confirm it (active testing, as
//! DeadlockFuzzer did for Java).
//!
//! A `potential-deadlock` is a prediction: each edge of its cycle was taken by some thread, and
//! another schedule may deadlock. Steering looks for that schedule. A thread that holds one lock
//! of the cycle and is about to take the next one at the site where the prediction saw it
//! pauses there (a *steering point*), up to a bound, or until the other threads of the cycle
//! have reached their own points (each holding its first lock, about to request its next): then
//! all are let go at once, they request their locks, and the wait cycle forms. lockscan's live
//! wait-for detection reports it as an actual `deadlock` and unwinds one thread: a confirmed
//! deadlock is real by construction, and the run still ends.
//!
//! A pause only delays a thread, as a busy machine could: it never reorders a thread's own
//! operations and never skips a lock, so steering cannot make a deadlock the program cannot
//! have. A cycle that cannot form costs at most the bound per steering point, within a budget
//! per cycle, after which the cycle's points no longer pause.
//!
//! Steer from the environment ([`STEER_ENV`], read once, at the first lock operation), or
//! from the program with [`steer`]:
//!
//! ```
//! use std::time::Duration;
//! use lockscan::steer::{self, Cycle, Options};
//!
//! let cycle: Cycle = "ledger -> journal @ src/books.rs:40:21; journal -> ledger @ src/books.rs:71:9"
//!     .parse()
//!     .unwrap();
//! assert_eq!(cycle.edges.len(), 2);
//! let steering = steer::steer(cycle, Options { pause: Duration::from_millis(200), ..Options::default() });
//! // ... run the code that took the two orders, from two threads at once ...
//! assert_eq!(steering.stats().meetings, 0); // no thread came near the cycle here
//! drop(steering); // steering for this cycle ends
//! ```
//!
//! The `lockscan confirm` command does all of it for the findings of a trace: it re-runs the
//! command that produced them with [`STEER_ENV`] set, a few times, and reports each finding as
//! confirmed (with the witness) or not.
//!
//! # The text format
//!
//! `LOCKSCAN_STEER` holds one cycle per line; a cycle is its edges separated by `;`, each edge
//! `FROM -> TO @ SITE`: the thread holds lock `FROM` and takes lock `TO` at `SITE`
//! (`file:line:col` or `file:line`). A lock is named as findings name it: its name
//! (`Mutex::named`), else its class, the `file:line:col` where it was made; a ` #N` that a
//! finding adds to tell apart locks of one class is allowed (each instance is matched by what
//! the threads hold). Several names separated by ` | ` match any of them: a lock made without
//! its maker's site (a `const` lock, the parking_lot stand-in's) is named after its first
//! acquisition, which depends on the schedule, so `lockscan confirm` lists each site it was
//! taken at. An edge written `~ FROM -> TO @ SITE` does not pause: its thread only
//! completes a meeting of the others. The edges must close a cycle. Lock names containing `;`,
//! ` -> `, ` @ ` or a line break can be steered through [`steer`] only (one containing ` | `, not
//! at all). [`Cycle`]'s `Display`
//! writes this format.
//!
//! When detection is compiled out ([`is_active`](crate::is_active) is false), nothing steers:
//! [`steer`] returns a handle whose statistics stay zero.

use std::fmt;
use std::str::FromStr;
use std::time::Duration;

use crate::finding::{Finding, FindingKind};

/// The environment variable naming the cycles to steer towards, one a line (see the module's
/// text format). Read once, at the first lock operation of the process.
pub const STEER_ENV: &str = "LOCKSCAN_STEER";

/// The environment variable with the bound of one pause, in milliseconds (default 500).
pub const STEER_PAUSE_ENV: &str = "LOCKSCAN_STEER_PAUSE_MS";

/// The environment variable with the total pause time a cycle may cost the process, in
/// milliseconds (default: twenty pauses).
pub const STEER_BUDGET_ENV: &str = "LOCKSCAN_STEER_BUDGET_MS";

/// The prefix of the line a process steered through [`STEER_ENV`] writes to standard error
/// when it exits, per cycle: `lockscan-steer: points=… pauses=… …` (see [`Stats`]'s `Display`).
pub const STATS_LINE_PREFIX: &str = "lockscan-steer:";

/// One edge of a cycle: a thread holding `from` takes `to` at `site`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Edge {
    /// The lock held, as findings name it.
    pub from: String,
    /// The lock taken next.
    pub to: String,
    /// Where `to` is taken: `file:line:col` or `file:line`.
    pub site: String,
    /// Whether a thread pauses at this edge's point (else it only completes a meeting).
    pub pause: bool,
}

/// A lock-order cycle to steer towards: its edges in cycle order, each `to` the next `from`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Cycle {
    /// The edges, in cycle order.
    pub edges: Vec<Edge>,
}

/// Why a cycle cannot be steered towards.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SteerError {
    /// No edge at all.
    #[error("a cycle needs at least two edges")]
    TooShort,
    /// An edge that does not read `FROM -> TO @ SITE`.
    #[error("`{0}` is not an edge `FROM -> TO @ SITE`")]
    BadEdge(String),
    /// A site that is not `file:line[:col]`.
    #[error("`{0}` is not a site `file:line[:col]`")]
    BadSite(String),
    /// Consecutive edges that do not meet.
    #[error("the edges do not close a cycle: `{to}` is followed by an edge from `{next}`")]
    NotACycle {
        /// The lock one edge takes.
        to: String,
        /// The lock the next edge starts from.
        next: String,
    },
    /// A finding that is not a lock-order cycle with sites.
    #[error("the finding is not a lock-order cycle whose edges have sites")]
    NotACycleFinding,
    /// An option that is not a number of milliseconds.
    #[error("`{0}` is not a number of milliseconds")]
    BadDuration(String),
}

impl Cycle {
    /// The cycle of a lock-order finding (a `potential-deadlock`, say): each edge's locks and
    /// the site where the edge's thread took its `to`. Every edge pauses.
    ///
    /// ```
    /// use lockscan::{Finding, FindingEdge, FindingKind, Mode, Site};
    /// use lockscan::steer::Cycle;
    ///
    /// let edge = |from: &str, to: &str, site: &str| FindingEdge {
    ///     from: from.into(), to: to.into(), thread: "t".into(),
    ///     from_site: None, to_site: Some(Site::from(site)),
    ///     from_mode: Mode::Exclusive, to_mode: Mode::Exclusive,
    ///     held: vec![], blocked: false, backtrace: None,
    /// };
    /// let mut finding = Finding::new(FindingKind::PotentialDeadlock, "a cycle");
    /// finding.edges = vec![edge("A", "B", "src/a.rs:3:9"), edge("B", "A", "src/b.rs:7:5")];
    /// let cycle = Cycle::from_finding(&finding).unwrap();
    /// assert_eq!(cycle.to_string(), "A -> B @ src/a.rs:3:9; B -> A @ src/b.rs:7:5");
    /// ```
    pub fn from_finding(finding: &Finding) -> Result<Cycle, SteerError> {
        let is_cycle = matches!(
            finding.kind,
            FindingKind::PotentialDeadlock
                | FindingKind::LockOrderInversion
                | FindingKind::GatedCycle
                | FindingKind::Deadlock
        );
        if !is_cycle {
            return Err(SteerError::NotACycleFinding);
        }
        let edges = finding
            .edges
            .iter()
            .map(|edge| {
                let site = edge.to_site.as_ref().ok_or(SteerError::NotACycleFinding)?;
                Ok(Edge {
                    from: edge.from.clone(),
                    to: edge.to.clone(),
                    site: site.to_string(),
                    pause: true,
                })
            })
            .collect::<Result<Vec<_>, SteerError>>()?;
        Cycle::new(edges)
    }

    /// A cycle of `edges`, checked: at least two, each edge's `to` the next one's `from`, every
    /// site `file:line[:col]`.
    pub fn new(edges: Vec<Edge>) -> Result<Cycle, SteerError> {
        if edges.len() < 2 {
            return Err(SteerError::TooShort);
        }
        for (i, edge) in edges.iter().enumerate() {
            if SiteMatcher::parse(&edge.site).is_none() {
                return Err(SteerError::BadSite(edge.site.clone()));
            }
            let next = &edges[(i + 1) % edges.len()];
            if edge.to != next.from {
                return Err(SteerError::NotACycle {
                    to: edge.to.clone(),
                    next: next.from.clone(),
                });
            }
        }
        Ok(Cycle { edges })
    }

    /// The same cycle with only edge `index` pausing (the others complete meetings), or every
    /// edge pausing for `None`.
    pub fn pausing_only(mut self, index: Option<usize>) -> Cycle {
        for (i, edge) in self.edges.iter_mut().enumerate() {
            edge.pause = index.is_none_or(|only| only == i);
        }
        self
    }

    /// Every cycle of a text with one cycle a line (blank lines skipped): what [`STEER_ENV`]
    /// holds.
    pub fn parse_all(text: &str) -> Result<Vec<Cycle>, SteerError> {
        text.lines()
            .filter(|line| !line.trim().is_empty())
            .map(str::parse)
            .collect()
    }
}

impl FromStr for Cycle {
    type Err = SteerError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let edges = text
            .split(';')
            .map(str::trim)
            .filter(|part| !part.is_empty())
            .map(|part| {
                let (pause, part) = match part.strip_prefix('~') {
                    Some(rest) => (false, rest.trim_start()),
                    None => (true, part),
                };
                let bad = || SteerError::BadEdge(part.to_owned());
                let (locks, site) = part.rsplit_once(" @ ").ok_or_else(bad)?;
                let (from, to) = locks.split_once(" -> ").ok_or_else(bad)?;
                let (from, to, site) = (from.trim(), to.trim(), site.trim());
                if from.is_empty() || to.is_empty() {
                    return Err(bad());
                }
                Ok(Edge {
                    from: from.to_owned(),
                    to: to.to_owned(),
                    site: site.to_owned(),
                    pause,
                })
            })
            .collect::<Result<Vec<_>, _>>()?;
        Cycle::new(edges)
    }
}

impl fmt::Display for Cycle {
    /// The text format [`STEER_ENV`] reads back.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, edge) in self.edges.iter().enumerate() {
            if i > 0 {
                f.write_str("; ")?;
            }
            if !edge.pause {
                f.write_str("~ ")?;
            }
            write!(f, "{} -> {} @ {}", edge.from, edge.to, edge.site)?;
        }
        Ok(())
    }
}

/// How long a steering point may pause.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Options {
    /// The longest one pause lasts, when the other threads of the cycle do not arrive.
    pub pause: Duration,
    /// The total pause time the cycle may cost the process; past it, its points no longer
    /// pause (they still complete meetings).
    pub budget: Duration,
}

impl Options {
    /// The default bound of one pause.
    pub const DEFAULT_PAUSE: Duration = Duration::from_millis(500);
    /// How many pauses the default budget allows.
    pub const DEFAULT_PAUSES_IN_BUDGET: u32 = 20;

    /// Options with `pause`, and a budget of [`DEFAULT_PAUSES_IN_BUDGET`] pauses.
    ///
    /// [`DEFAULT_PAUSES_IN_BUDGET`]: Self::DEFAULT_PAUSES_IN_BUDGET
    pub fn with_pause(pause: Duration) -> Options {
        Options {
            pause,
            budget: pause.saturating_mul(Self::DEFAULT_PAUSES_IN_BUDGET),
        }
    }

    /// The options [`STEER_PAUSE_ENV`] and [`STEER_BUDGET_ENV`] set, from their values.
    pub fn from_env_values(
        pause: Option<&str>,
        budget: Option<&str>,
    ) -> Result<Options, SteerError> {
        let millis = |text: &str| {
            text.trim()
                .parse::<u64>()
                .map(Duration::from_millis)
                .map_err(|_| SteerError::BadDuration(text.to_owned()))
        };
        let mut options = match pause {
            Some(pause) => Options::with_pause(millis(pause)?),
            None => Options::default(),
        };
        if let Some(budget) = budget {
            options.budget = millis(budget)?;
        }
        Ok(options)
    }
}

impl Default for Options {
    fn default() -> Self {
        Options::with_pause(Self::DEFAULT_PAUSE)
    }
}

/// What steering towards one cycle did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Stats {
    /// Times a thread reached a steering point (held the edge's `from`, about to take its `to`
    /// at its site).
    pub points: u64,
    /// Of those, the times it paused.
    pub pauses: u64,
    /// Pauses that ended because the cycle's threads all arrived.
    pub released: u64,
    /// Pauses that ended at their bound.
    pub timeouts: u64,
    /// Meetings: every edge of the cycle had its thread at its point, and all were let go.
    pub meetings: u64,
    /// Points that did not pause because the budget was spent.
    pub over_budget: u64,
    /// The time spent paused, in milliseconds.
    pub paused_ms: u64,
}

impl Stats {
    /// Adds another process's statistics to these.
    pub fn add(&mut self, other: &Stats) {
        self.points += other.points;
        self.pauses += other.pauses;
        self.released += other.released;
        self.timeouts += other.timeouts;
        self.meetings += other.meetings;
        self.over_budget += other.over_budget;
        self.paused_ms += other.paused_ms;
    }
}

impl fmt::Display for Stats {
    /// `points=… pauses=… released=… timeouts=… meetings=… over-budget=… paused-ms=…`, which
    /// [`Stats::from_str`] reads back.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "points={} pauses={} released={} timeouts={} meetings={} over-budget={} paused-ms={}",
            self.points,
            self.pauses,
            self.released,
            self.timeouts,
            self.meetings,
            self.over_budget,
            self.paused_ms
        )
    }
}

impl FromStr for Stats {
    type Err = SteerError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let mut stats = Stats::default();
        for part in text.split_whitespace() {
            let bad = || SteerError::BadDuration(part.to_owned());
            let (key, value) = part.split_once('=').ok_or_else(bad)?;
            let value: u64 = value.parse().map_err(|_| bad())?;
            match key {
                "points" => stats.points = value,
                "pauses" => stats.pauses = value,
                "released" => stats.released = value,
                "timeouts" => stats.timeouts = value,
                "meetings" => stats.meetings = value,
                "over-budget" => stats.over_budget = value,
                "paused-ms" => stats.paused_ms = value,
                // Keys a later version adds are skipped.
                _ => {}
            }
        }
        Ok(stats)
    }
}

/// Steering towards one cycle, from [`steer`] until dropped.
#[derive(Debug)]
pub struct Steering {
    #[cfg(lockscan_active)]
    cycle: std::sync::Arc<crate::runtime::steer::Steered>,
}

impl Steering {
    /// What steering did so far.
    pub fn stats(&self) -> Stats {
        #[cfg(lockscan_active)]
        return self.cycle.stats();
        #[cfg(not(lockscan_active))]
        Stats::default()
    }

    /// Stops steering, lets the threads paused at the cycle's points go on, and returns what
    /// steering did once none of them is paused any more (each pause is bounded). Dropping the
    /// handle stops steering too, without waiting.
    pub fn stop(self) -> Stats {
        #[cfg(lockscan_active)]
        crate::runtime::steer::remove(&self.cycle, true);
        self.stats()
    }
}

impl Drop for Steering {
    fn drop(&mut self) {
        #[cfg(lockscan_active)]
        crate::runtime::steer::remove(&self.cycle, false);
    }
}

/// Steers this process towards `cycle` until the returned handle is dropped. Several cycles
/// can be steered towards at once, each with its own options.
pub fn steer(cycle: Cycle, options: Options) -> Steering {
    #[cfg(lockscan_active)]
    return Steering {
        cycle: crate::runtime::steer::install(cycle, options),
    };
    #[cfg(not(lockscan_active))]
    {
        let _ = (cycle, options);
        Steering {}
    }
}

/// A lock as a steering cycle names it: a lock's name, else its class `file:line[:col]`, with
/// the ` #N` findings add to tell apart locks of one class; or several such names separated
/// by ` | `, any of which matches.
// Only the instrumented runtime compares locks.
#[cfg_attr(not(lockscan_active), allow(dead_code))]
#[derive(Clone, Debug)]
pub(crate) struct LockMatcher {
    names: Vec<LockName>,
}

#[cfg_attr(not(lockscan_active), allow(dead_code))]
#[derive(Clone, Debug)]
struct LockName {
    text: String,
    /// The text without its ` #N`, when it had one.
    base: Option<String>,
    class: Option<SiteMatcher>,
}

#[cfg_attr(not(lockscan_active), allow(dead_code))]
impl LockMatcher {
    pub(crate) fn new(text: &str) -> LockMatcher {
        let names = text
            .split(" | ")
            .map(str::trim)
            .filter(|name| !name.is_empty())
            .map(|text| {
                let base = text.rsplit_once(" #").and_then(|(base, number)| {
                    (!number.is_empty() && number.bytes().all(|b| b.is_ascii_digit()))
                        .then(|| base.to_owned())
                });
                // A lock made from a `const` is reported as `lock first taken at SITE`, and
                // its class is that site.
                let site = base.as_deref().unwrap_or(text);
                let site = site
                    .strip_prefix(crate::finding::identity::FIRST_TAKEN)
                    .unwrap_or(site);
                let class = SiteMatcher::parse(site);
                LockName {
                    text: text.to_owned(),
                    base,
                    class,
                }
            })
            .collect();
        LockMatcher { names }
    }

    /// Whether a lock named `name` (if any), made at `class`, is this one.
    pub(crate) fn matches(&self, name: Option<&str>, class: (&str, u32, u32)) -> bool {
        self.names.iter().any(|this| match name {
            Some(name) => name == this.text || this.base.as_deref() == Some(name),
            None => this.class.as_ref().is_some_and(|c| c.matches(class)),
        })
    }
}

/// A site as `file:line[:col]`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct SiteMatcher {
    file: String,
    line: u32,
    column: Option<u32>,
}

impl SiteMatcher {
    pub(crate) fn parse(text: &str) -> Option<SiteMatcher> {
        let site = crate::site::Site::from(text);
        Some(SiteMatcher {
            file: site.file()?.to_owned(),
            line: site.line()?,
            column: site.column(),
        })
    }

    /// Whether `(file, line, column)` is this site.
    #[cfg_attr(not(lockscan_active), allow(dead_code))]
    pub(crate) fn matches(&self, (file, line, column): (&str, u32, u32)) -> bool {
        line == self.line && self.column.is_none_or(|c| c == column) && file == self.file
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_text_format_round_trips() {
        let text =
            "account:A -> account:B @ src/bank.rs:12:9; ~ account:B -> account:A @ src/bank.rs:30";
        let cycle: Cycle = text.parse().unwrap();
        assert_eq!(cycle.edges.len(), 2);
        assert!(cycle.edges[0].pause && !cycle.edges[1].pause);
        assert_eq!(cycle.edges[1].site, "src/bank.rs:30");
        assert_eq!(cycle.to_string(), text);
        assert_eq!(cycle.to_string().parse::<Cycle>(), Ok(cycle));
    }

    #[test]
    fn malformed_cycles_are_refused() {
        assert_eq!("".parse::<Cycle>(), Err(SteerError::TooShort));
        assert_eq!(
            "A -> B @ x.rs:1".parse::<Cycle>(),
            Err(SteerError::TooShort)
        );
        assert!(matches!(
            "A B @ x.rs:1; B -> A @ x.rs:2".parse::<Cycle>(),
            Err(SteerError::BadEdge(_))
        ));
        assert!(matches!(
            "A -> B @ nowhere; B -> A @ x.rs:2".parse::<Cycle>(),
            Err(SteerError::BadSite(_))
        ));
        assert!(matches!(
            "A -> B @ x.rs:1; C -> A @ x.rs:2".parse::<Cycle>(),
            Err(SteerError::NotACycle { .. })
        ));
    }

    #[test]
    fn several_cycles_one_a_line() {
        let text = "A -> B @ x.rs:1:1; B -> A @ x.rs:2:1\n\nC -> D @ y.rs:1; D -> C @ y.rs:2\n";
        assert_eq!(Cycle::parse_all(text).unwrap().len(), 2);
    }

    #[test]
    fn pausing_only_one_edge() {
        let cycle: Cycle = "A -> B @ x.rs:1; B -> A @ x.rs:2".parse().unwrap();
        let one = cycle.clone().pausing_only(Some(1));
        assert_eq!(
            one.edges.iter().map(|e| e.pause).collect::<Vec<_>>(),
            [false, true]
        );
        assert!(one.pausing_only(None).edges.iter().all(|e| e.pause));
    }

    #[test]
    fn locks_match_by_name_else_class() {
        let named = LockMatcher::new("account:A");
        assert!(named.matches(Some("account:A"), ("src/x.rs", 1, 1)));
        assert!(!named.matches(Some("account:B"), ("src/x.rs", 1, 1)));
        assert!(!named.matches(None, ("src/x.rs", 1, 1)));
        let numbered = LockMatcher::new("src/lib.rs:10:49 #2");
        assert!(numbered.matches(None, ("src/lib.rs", 10, 49)));
        assert!(!numbered.matches(None, ("src/lib.rs", 10, 50)));
        assert!(!numbered.matches(Some("other"), ("src/lib.rs", 10, 49)));
        let named_numbered = LockMatcher::new("worker #1");
        assert!(named_numbered.matches(Some("worker"), ("src/x.rs", 1, 1)));
        assert!(named_numbered.matches(Some("worker #1"), ("src/x.rs", 1, 1)));
        let by_line = LockMatcher::new("src/lib.rs:10");
        assert!(by_line.matches(None, ("src/lib.rs", 10, 3)));
        // A lock named after its first acquisition: whichever of its sites came first.
        let either = LockMatcher::new("src/lib.rs:274:39 | src/lib.rs:520:37");
        assert!(either.matches(None, ("src/lib.rs", 274, 39)));
        assert!(either.matches(None, ("src/lib.rs", 520, 37)));
        assert!(!either.matches(None, ("src/lib.rs", 521, 42)));
        // A lock made from a `const`, as reports name it: its class is the site.
        let first_taken = LockMatcher::new("lock first taken at src/lib.rs:7:13 #1");
        assert!(first_taken.matches(None, ("src/lib.rs", 7, 13)));
        assert!(!first_taken.matches(None, ("src/lib.rs", 8, 13)));
    }

    #[test]
    fn options_from_the_environment() {
        let options = Options::from_env_values(Some("200"), None).unwrap();
        assert_eq!(options.pause, Duration::from_millis(200));
        assert_eq!(options.budget, Duration::from_millis(4000));
        let options = Options::from_env_values(None, Some("1000")).unwrap();
        assert_eq!(options.pause, Options::DEFAULT_PAUSE);
        assert_eq!(options.budget, Duration::from_secs(1));
        assert!(Options::from_env_values(Some("soon"), None).is_err());
    }

    #[test]
    fn stats_round_trip_as_text() {
        let stats = Stats {
            points: 3,
            pauses: 2,
            released: 1,
            timeouts: 1,
            meetings: 1,
            over_budget: 0,
            paused_ms: 501,
        };
        assert_eq!(stats.to_string().parse::<Stats>(), Ok(stats));
        let mut sum = stats;
        sum.add(&stats);
        assert_eq!(sum.points, 6);
    }
}
