//! Several traces together: [`Analysis`] merges their locks by name, else by class, and
//! looks for lock-order cycles across them.

use super::*;
use crate::finding::Occurrences;
use crate::finding::identity::FIRST_TAKEN;

/// An order edge between locks known by name or class, as another trace can see it too.
#[derive(Clone, Debug)]
pub struct MergeEdge {
    /// The held lock's name, else class.
    pub from: Arc<str>,
    /// The acquired lock's name, else class.
    pub to: Arc<str>,
    /// How it was taken.
    pub occurrences: Vec<MergeOccurrence>,
}

/// One way a [`MergeEdge`] was taken.
#[derive(Clone, Debug)]
pub struct MergeOccurrence {
    /// The thread's name in its trace.
    pub thread: String,
    /// The mode `from` was held in.
    pub from_mode: Mode,
    /// The mode `to` was requested in.
    pub to_mode: Mode,
    /// Where `from` was acquired.
    pub from_site: Option<Site>,
    /// Where `to` was requested.
    pub to_site: Option<Site>,
    /// The other held locks that have a name or class.
    pub held: Vec<(Arc<str>, Mode)>,
}

impl Replay {
    /// The key a lock is matched by across traces: its name, else its class. `None` for a lock
    /// that cannot be told apart from others: one named after where it was first taken (a lock
    /// made from a `const`) at a site `shared` says took other locks too.
    fn merge_key(&self, id: LockId, shared: &FxHashSet<String>) -> Option<Arc<str>> {
        let lock = &self.locks[*self.lock_index.get(&id)? as usize];
        if let Some(name) = &lock.name
            && let Some(site) = name.strip_prefix(FIRST_TAKEN)
            && shared.contains(site)
        {
            return None;
        }
        lock.name.clone().or_else(|| lock.class.clone())
    }

    /// The sites that first took more than one lock made from a `const` in this trace, counting
    /// a lock at the site it is named after and at the site it was declared with (a wrapper's
    /// line, for a lock named after the wrapper's caller).
    ///
    /// Such a site is a wrapper's, or a line that takes many locks: the locks named after it
    /// are distinct, and which of them is which in another trace nobody can tell, so they are
    /// matched with none (a cycle they close in one trace is that trace's finding). Matching
    /// them by their shared name would merge them into one node, which invents cycles that no
    /// run had and hides the ones between them. A lock that first took its site alone in its
    /// trace is matched by name, as before; so is every lock made with a name or at a creation
    /// site (`Mutex::new` in a loop makes one class, merged on purpose).
    fn shared_first_taken_sites(&self) -> FxHashSet<String> {
        let mut locks_through: FxHashMap<String, u32> = FxHashMap::default();
        for lock in &self.locks {
            let Some(named_at) = lock
                .name
                .as_deref()
                .and_then(|n| n.strip_prefix(FIRST_TAKEN))
            else {
                continue;
            };
            *locks_through.entry(named_at.to_owned()).or_default() += 1;
            if let Some(declared) = lock.site.as_ref().map(ToString::to_string)
                && declared != named_at
            {
                *locks_through.entry(declared).or_default() += 1;
            }
        }
        locks_through
            .into_iter()
            .filter(|&(_, locks)| locks > 1)
            .map(|(site, _)| site)
            .collect()
    }

    pub(super) fn merge_edges(&self) -> Vec<MergeEdge> {
        let shared = self.shared_first_taken_sites();
        let key = |id: LockId| self.merge_key(id, &shared);
        let mut out = Vec::new();
        for (from, to, ()) in self.graph.edges() {
            let (Some(from_key), Some(to_key)) = (key(from), key(to)) else {
                continue;
            };
            let Some(data) = self.taken_edge(from, to) else {
                continue;
            };
            let occurrences = data
                .iter(&self.tables)
                .map(|o| MergeOccurrence {
                    thread: self.thread_name(self.threads[o.thread as usize].id),
                    from_mode: o.from_mode,
                    to_mode: o.to_mode,
                    from_site: self.tables.sites.get(o.from_site).cloned(),
                    to_site: self.tables.sites.get(o.to_site).cloned(),
                    held: self
                        .tables
                        .held
                        .get(o.held)
                        .iter()
                        .map(|&(l, mode)| (self.locks[l as usize].id, mode))
                        .filter(|&(l, _)| l != from)
                        .filter_map(|(l, mode)| Some((key(l)?, mode)))
                        .collect(),
                })
                .collect();
            out.push(MergeEdge {
                from: from_key,
                to: to_key,
                occurrences,
            });
        }
        out
    }
}

/// The results of several traces, and the lock-order cycles that only their union shows.
///
/// A finding that several traces show (copies of one trace, the traces of several runs, the
/// test processes of one run reaching the same code) is reported once, with
/// [`Finding::occurrences`] saying how many traces and processes showed it: findings of
/// different traces are one when they have the same fingerprint at the same places (the same
/// sites for each edge, access and the finding itself). Thread names and messages do not
/// count, as they differ between processes; the sites do, so one lock-order problem reached
/// by different code is listed for each way. Two findings of one trace are never merged.
///
/// Two test processes, each taking the same two named locks in one order, the other's opposite:
/// neither trace has a cycle, their union does.
///
/// ```
/// use lockscan::analysis::{Analysis, Replay};
/// use lockscan::trace::{InputFormat, TraceReader};
///
/// let header = r#"{"type":"header","format":"lockscan-trace","version":1}"#;
/// let locks = r#"{"type":"lock","lock":1,"kind":"mutex","name":"a"}
/// {"type":"lock","lock":2,"kind":"mutex","name":"b"}"#;
/// let first = format!(
///     "{header}\n{locks}\n{}",
///     r#"{"type":"acquire","tid":1,"lock":1}
/// {"type":"acquire","tid":1,"lock":2}"#
/// );
/// let second = first.replace(r#""lock":1}"#, r#""lock":0}"#)
///     .replace(r#""lock":2}"#, r#""lock":1}"#)
///     .replace(r#""lock":0}"#, r#""lock":2}"#);
///
/// let mut analysis = Analysis::default();
/// for (file, text) in [("first.json", &first), ("second.json", &second)] {
///     let mut reader = TraceReader::new(text.as_bytes(), file, InputFormat::Auto)?;
///     let result = Replay::default().run(&mut reader, |error| panic!("{error}"));
///     assert!(result.findings.is_empty(), "one order in each trace");
///     analysis.add(file, result);
/// }
/// let findings = analysis.finish();
/// assert_eq!(findings.len(), 1);
/// assert_eq!(findings[0].locks, ["a", "b"]);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug)]
pub struct Analysis {
    options: ReplayOptions,
    graph: OrderGraph<LockId, EdgeData>,
    keys: FxHashMap<Arc<str>, LockId>,
    key_names: Vec<Arc<str>>,
    thread_names: Vec<String>,
    /// For each merged edge, the traces that took it.
    edge_traces: FxHashMap<(LockId, LockId), Vec<u32>>,
    traces: u32,
    /// Each trace's process, numbered in order of first appearance.
    trace_processes: Vec<u32>,
    /// The processes seen, by the program and pid of a trace's header.
    processes: FxHashMap<(u64, Option<Arc<str>>), u32>,
    process_count: u32,
    /// Each trace's own findings, with the trace's number.
    findings: Vec<(u32, Finding)>,
    /// Events replayed in all traces.
    pub events: u64,
    /// Whether every cycle search ran to the end.
    pub complete: bool,
}

impl Default for Analysis {
    fn default() -> Self {
        Self::new(ReplayOptions::default())
    }
}

impl Analysis {
    /// An analysis with no trace yet.
    pub fn new(options: ReplayOptions) -> Self {
        Analysis {
            options,
            graph: OrderGraph::new(),
            keys: FxHashMap::default(),
            key_names: Vec::new(),
            thread_names: Vec::new(),
            edge_traces: FxHashMap::default(),
            traces: 0,
            trace_processes: Vec::new(),
            processes: FxHashMap::default(),
            process_count: 0,
            findings: Vec::new(),
            events: 0,
            complete: true,
        }
    }

    /// The options the traces should be replayed with.
    pub fn options(&self) -> &ReplayOptions {
        &self.options
    }

    /// How many traces were added.
    pub fn traces(&self) -> u32 {
        self.traces
    }

    fn key(&mut self, name: &Arc<str>) -> LockId {
        if let Some(&id) = self.keys.get(name) {
            return id;
        }
        let id = LockId(self.key_names.len() as u64);
        self.key_names.push(name.clone());
        self.keys.insert(name.clone(), id);
        id
    }

    /// Adds the result of one trace, called `file` in cross-trace findings.
    pub fn add(&mut self, file: &str, result: TraceResult) {
        let trace = self.traces;
        self.traces += 1;
        self.events += result.events;
        self.complete &= result.complete;
        // A trace without a pid in its header is a process of its own.
        let header = result.header.as_ref();
        let key = header.and_then(|header| Some((header.pid?, header.program.clone())));
        let known = key
            .as_ref()
            .and_then(|key| self.processes.get(key).copied());
        let process = known.unwrap_or_else(|| {
            let new = self.process_count;
            self.process_count += 1;
            if let Some(key) = key {
                self.processes.insert(key, new);
            }
            new
        });
        self.trace_processes.push(process);
        self.findings
            .extend(result.findings.into_iter().map(|mut finding| {
                finding.trace = Some(file.to_owned());
                (trace, finding)
            }));
        let mut threads: FxHashMap<String, ThreadId> = FxHashMap::default();
        for edge in result.merge_edges {
            let from = self.key(&edge.from);
            let to = self.key(&edge.to);
            if from == to {
                continue; // two instances of one class nested: not a cycle between classes
            }
            for occurrence in edge.occurrences {
                let thread = *threads.entry(occurrence.thread.clone()).or_insert_with(|| {
                    self.thread_names
                        .push(format!("{} ({file})", occurrence.thread));
                    ThreadId(self.thread_names.len() as u64 - 1)
                });
                let held = occurrence
                    .held
                    .iter()
                    .map(|(name, mode)| (self.key(name), *mode))
                    .collect();
                // Threads of different traces are different processes: no happens-before.
                let merged = Occurrence {
                    thread,
                    from_mode: occurrence.from_mode,
                    to_mode: occurrence.to_mode,
                    from_site: occurrence.from_site,
                    to_site: occurrence.to_site,
                    held,
                    clock: None,
                    backtrace: None,
                };
                match self.graph.edge_mut(from, to) {
                    Some(data) => {
                        data.add(merged);
                    }
                    None => {
                        self.graph.insert_edge(from, to, || EdgeData::new(merged));
                    }
                }
            }
            let traces = self.edge_traces.entry((from, to)).or_default();
            if traces.last() != Some(&trace) {
                traces.push(trace);
            }
        }
    }

    /// Every finding: each trace's own, then the cross-trace cycles; a finding several traces
    /// show once, where the first of them showed it, with its [`Finding::occurrences`].
    pub fn finish(mut self) -> Vec<Finding> {
        let mut groups: Vec<(Finding, Vec<u32>)> = Vec::new();
        let mut by_identity: FxHashMap<String, Vec<usize>> = FxHashMap::default();
        for (trace, finding) in std::mem::take(&mut self.findings) {
            let same = by_identity.entry(identity(&finding)).or_default();
            match same.iter().find(|&&g| !groups[g].1.contains(&trace)) {
                Some(&group) => groups[group].1.push(trace),
                None => {
                    same.push(groups.len());
                    groups.push((finding, vec![trace]));
                }
            }
        }
        for finding in self.across_traces() {
            // The traces whose edges make the cycle.
            let mut traces: Vec<u32> = finding
                .edges
                .iter()
                .filter_map(|edge| {
                    let key = |name: &str| self.keys.get(name).copied();
                    self.edge_traces.get(&(key(&edge.from)?, key(&edge.to)?))
                })
                .flatten()
                .copied()
                .collect();
            traces.sort_unstable();
            traces.dedup();
            groups.push((finding, traces));
        }
        groups
            .into_iter()
            .map(|(mut finding, traces)| {
                let mut processes: Vec<u32> = traces
                    .iter()
                    .map(|&t| self.trace_processes[t as usize])
                    .collect();
                processes.sort_unstable();
                processes.dedup();
                finding.occurrences = Some(Occurrences {
                    traces: traces.len(),
                    processes: processes.len(),
                });
                finding
            })
            .collect()
    }

    /// The lock-order cycles that only the union of the traces shows.
    fn across_traces(&mut self) -> Vec<Finding> {
        if self.traces < 2 {
            return Vec::new();
        }
        let cycles = self
            .graph
            .cycles(self.options.max_cycle_len, self.options.max_cycles);
        self.complete &= cycles.complete;
        // Only cycles that no single trace closes: the others were found by that trace.
        let across: Vec<Vec<LockId>> = cycles
            .cycles
            .into_iter()
            .filter(|cycle| {
                let n = cycle.len();
                let first = &self.edge_traces[&(cycle[0], cycle[1 % n])];
                !first.iter().any(|trace| {
                    (0..n)
                        .all(|i| self.edge_traces[&(cycle[i], cycle[(i + 1) % n])].contains(trace))
                })
            })
            .collect();
        let found = classify_cycles(
            |from, to| self.graph.edge(from, to),
            &across,
            &*self,
            &FxHashSet::default(),
        );
        let mut findings = Vec::new();
        for mut finding in found {
            if finding.kind == FindingKind::PotentialDeadlock {
                // Different traces are different runs: none of them could deadlock.
                finding.kind = FindingKind::LockOrderInversion;
                finding.severity = finding.kind.default_severity();
                finding.message = format!(
                    "lock-order inversion across traces between `{}`",
                    finding.locks.join("`, `")
                );
                finding.reason = "the edges come from different traces (different runs), \
                                  matched by lock name or class: no single run could deadlock, \
                                  but the code takes these locks in inconsistent orders and \
                                  can deadlock when these paths run concurrently"
                    .to_owned();
            } else {
                finding.message.push_str(" (across traces)");
            }
            findings.push(finding);
        }
        findings
    }
}

/// What makes findings of different traces one: the same fingerprint at the same places.
fn identity(finding: &Finding) -> String {
    use std::fmt::Write as _;
    fn site(site: Option<&Site>) -> String {
        site.map_or_else(String::new, ToString::to_string)
    }
    let mut key = finding.fingerprint();
    // Writing to a `String` cannot fail.
    let _ = write!(key, "\u{1f}{}", site(finding.site.as_ref()));
    for edge in &finding.edges {
        let _ = write!(
            key,
            "\u{1f}{}\u{1e}{}\u{1e}{}\u{1e}{}",
            edge.from,
            edge.to,
            site(edge.from_site.as_ref()),
            site(edge.to_site.as_ref())
        );
    }
    for access in &finding.vars {
        let _ = write!(
            key,
            "\u{1f}{}\u{1e}{}\u{1e}{}",
            access.var,
            access.write,
            site(access.site.as_ref())
        );
    }
    key
}

impl Names for Analysis {
    fn lock_name(&self, lock: LockId) -> String {
        self.key_names
            .get(lock.0 as usize)
            .map_or_else(|| lock.to_string(), |n| n.to_string())
    }

    fn thread_name(&self, thread: ThreadId) -> String {
        self.thread_names
            .get(thread.0 as usize)
            .cloned()
            .unwrap_or_else(|| thread.to_string())
    }
}
