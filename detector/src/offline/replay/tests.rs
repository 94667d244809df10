//! The replay's tests, on a tiny event language.

use super::*;
use crate::finding::Occurrences;

/// A tiny event language: `acq t l`, `racq t l` (shared), `try t l`, `req t l`,
/// `rel t l`, `spawn t c`, `join t c`, `wait t cv l`, `notify t cv`, and declarations
/// `mutex l`, `rwlock l`, `reentrant l`, `semaphore l`. Undeclared locks are mutexes.
/// Flavours: `rracq t l` (a recursive read), `tracq t l` (a timed read), `uacq t l`
/// (upgradable), `upreq t l` and `up t l` (a blocking upgrade's request and acquisition),
/// `tryup t l` (an upgrade attempt that succeeded), `down t l` (a downgrade to shared).
fn replay(script: &str) -> TraceResult {
    replay_with(script, &[])
}

fn replay_with(script: &str, names: &[(u64, &str)]) -> TraceResult {
    let mut replay = Replay::default();
    for &(lock, name) in names {
        replay.event(Event::Lock {
            lock: LockId(lock),
            kind: LockKind::Mutex,
            name: Some(name.into()),
            class: None,
            site: None,
            rank: None,
        });
    }
    for event in events(script) {
        replay.event(event);
    }
    replay.finish()
}

/// The events of a script of the tiny language (see [`replay`]).
fn events(script: &str) -> Vec<Event> {
    let mut events = Vec::new();
    for (line, step) in script.split(';').map(str::trim).enumerate() {
        let words: Vec<&str> = step.split_whitespace().collect();
        let n = |i: usize| words[i].parse::<u64>().unwrap();
        let site = Some(Site::from(format!("s.rs:{}", line + 1).as_str()));
        let event = match words[0] {
            "acq" | "try" => Event::Acquire {
                tid: ThreadId(n(1)),
                lock: LockId(n(2)),
                mode: Mode::Exclusive,
                try_lock: words[0] == "try",
                flavour: Flavour::Plain,
                site,
            },
            "racq" => Event::Acquire {
                tid: ThreadId(n(1)),
                lock: LockId(n(2)),
                mode: Mode::Shared,
                try_lock: false,
                flavour: Flavour::Plain,
                site,
            },
            "rracq" | "tracq" | "uacq" | "up" | "tryup" | "down" => {
                let (mode, try_lock, flavour) = match words[0] {
                    "rracq" => (Mode::Shared, false, Flavour::Recursive),
                    "tracq" => (Mode::Shared, true, Flavour::Timed),
                    "uacq" => (Mode::Upgradable, false, Flavour::Plain),
                    "up" => (Mode::Exclusive, false, Flavour::Upgrade),
                    "tryup" => (Mode::Exclusive, true, Flavour::Upgrade),
                    _ => (Mode::Shared, false, Flavour::Downgrade),
                };
                Event::Acquire {
                    tid: ThreadId(n(1)),
                    lock: LockId(n(2)),
                    mode,
                    try_lock,
                    flavour,
                    site,
                }
            }
            "req" | "upreq" => Event::Request {
                tid: ThreadId(n(1)),
                lock: LockId(n(2)),
                mode: Mode::Exclusive,
                flavour: if words[0] == "upreq" {
                    Flavour::Upgrade
                } else {
                    Flavour::Plain
                },
                site,
            },
            "rel" => Event::Release {
                tid: ThreadId(n(1)),
                lock: LockId(n(2)),
                mode: Mode::Exclusive,
                site,
            },
            "spawn" => Event::Spawn {
                tid: ThreadId(n(1)),
                child: ThreadId(n(2)),
                site,
            },
            "join" => Event::Join {
                tid: ThreadId(n(1)),
                child: ThreadId(n(2)),
                site,
            },
            "wait" => Event::Wait {
                tid: ThreadId(n(1)),
                condvar: CondvarId(n(2)),
                lock: LockId(n(3)),
                site,
            },
            "notify" => Event::Notify {
                tid: ThreadId(n(1)),
                condvar: CondvarId(n(2)),
                all: false,
                site,
            },
            "mutex" | "reentrant" | "rwlock" | "semaphore" => Event::Lock {
                lock: LockId(n(1)),
                kind: match words[0] {
                    "mutex" => LockKind::Mutex,
                    "rwlock" => LockKind::RwLock,
                    "semaphore" => LockKind::Semaphore,
                    _ => LockKind::Reentrant,
                },
                name: None,
                class: None,
                site: None,
                rank: None,
            },
            "rank" => Event::Lock {
                lock: LockId(n(1)),
                kind: LockKind::Mutex,
                name: None,
                class: None,
                site: None,
                rank: Some(n(2)),
            },
            other => panic!("unknown step {other}"),
        };
        events.push(event);
    }
    events
}

fn kinds(result: &TraceResult) -> Vec<FindingKind> {
    result.findings.iter().map(|f| f.kind).collect()
}

const AB_BA: &str = "acq 1 1; acq 1 2; rel 1 2; rel 1 1; acq 2 2; acq 2 1; rel 2 1; rel 2 2";

#[test]
fn opposite_orders_in_two_threads_are_a_potential_deadlock() {
    let result = replay(AB_BA);
    assert_eq!(kinds(&result), [FindingKind::PotentialDeadlock]);
    let finding = &result.findings[0];
    assert_eq!(finding.locks, ["lock#1", "lock#2"]);
    assert_eq!(finding.threads, ["thread#1", "thread#2"]);
    assert_eq!(finding.edges[0].from_site, Some(Site::from("s.rs:1")));
    assert_eq!(finding.edges[0].to_site, Some(Site::from("s.rs:2")));
    assert!(!finding.edges[0].blocked);
    assert_eq!(result.edges, 2);
}

#[test]
fn a_lock_hand_off_is_not_happens_before() {
    // Thread 2 takes lock 1 after thread 1 released it: ordered in this schedule only.
    let result = replay("acq 1 1; acq 1 2; rel 1 2; rel 1 1; acq 2 2; acq 2 1; rel 2 1");
    assert_eq!(kinds(&result), [FindingKind::PotentialDeadlock]);
}

#[test]
fn spawn_and_join_order_threads() {
    let spawned_after = format!(
        "acq 1 1; acq 1 2; rel 1 2; rel 1 1; spawn 1 2; {}",
        &AB_BA[36..]
    );
    assert_eq!(
        kinds(&replay(&spawned_after)),
        [FindingKind::LockOrderInversion]
    );
    let joined = "spawn 1 2; acq 2 2; acq 2 1; rel 2 1; rel 2 2; join 1 2; acq 1 1; acq 1 2";
    assert_eq!(kinds(&replay(joined)), [FindingKind::LockOrderInversion]);
    // Spawned before the first edge: concurrent.
    let spawned_before = format!("spawn 1 2; {AB_BA}");
    assert_eq!(
        kinds(&replay(&spawned_before)),
        [FindingKind::PotentialDeadlock]
    );
}

/// Regression: notify → wake orderings downgraded real cycles to inversions, also through
/// condition variables unrelated to the cycle's locks and waits that ended by time-out. A
/// wake-up proves no order in another schedule (time-outs, spurious wake-ups, other
/// notifiers), so only spawn and join order the edges of a cycle.
#[test]
fn a_notify_does_not_order_the_woken_thread_for_the_lock_order() {
    let script = "acq 2 9; wait 2 5 9; acq 1 1; acq 1 2; rel 1 2; rel 1 1; acq 1 9; \
                  notify 1 5; rel 1 9; acq 2 9; rel 2 9; acq 2 2; acq 2 1";
    assert_eq!(kinds(&replay(script)), [FindingKind::PotentialDeadlock]);
    // A notify through an unrelated condition variable, and a wait that timed out (no
    // notify at all): the same.
    let unrelated = "acq 2 8; wait 2 6 8; acq 1 1; acq 1 2; rel 1 2; rel 1 1; acq 1 8; \
                     notify 1 6; rel 1 8; acq 2 8; rel 2 8; acq 2 2; acq 2 1";
    assert_eq!(kinds(&replay(unrelated)), [FindingKind::PotentialDeadlock]);
    let timed_out = script.replace("notify 1 5; ", "");
    assert_eq!(kinds(&replay(&timed_out)), [FindingKind::PotentialDeadlock]);
}

#[test]
fn one_thread_in_both_orders_is_an_inversion() {
    let result = replay("acq 1 1; acq 1 2; rel 1 2; rel 1 1; acq 1 2; acq 1 1");
    assert_eq!(kinds(&result), [FindingKind::LockOrderInversion]);
}

#[test]
fn a_gate_lock_makes_a_note() {
    let result = replay(
        "acq 1 9; acq 1 1; acq 1 2; rel 1 2; rel 1 1; rel 1 9; \
         acq 2 9; acq 2 2; acq 2 1",
    );
    assert_eq!(kinds(&result), [FindingKind::GatedCycle]);
    assert!(
        result.findings[0].reason.contains("`lock#9`"),
        "{}",
        result.findings[0].reason
    );
}

#[test]
fn reentrant_reacquisition_adds_no_edge() {
    let result = replay("reentrant 1; acq 1 1; acq 1 2; acq 1 1; rel 1 1; rel 1 2; rel 1 1");
    assert_eq!(result.edges, 1, "only 1 -> 2");
    assert!(result.findings.is_empty());
    // The lock stays held until the last release.
    let result = replay("reentrant 1; acq 1 1; acq 1 1; rel 1 1; acq 1 2");
    assert_eq!(result.edges, 1);
}

#[test]
fn relocking_a_mutex_is_misuse() {
    let result = replay("mutex 1; acq 1 1; acq 1 1; acq 1 1");
    assert_eq!(kinds(&result), [FindingKind::ApiMisuse]);
    assert!(result.findings[0].message.contains("again"));
    assert!(result.findings[0].reason.contains("seen 2 times"));
}

#[test]
fn try_lock_adds_no_edge_into_the_lock_but_is_a_source() {
    // 1 -> 3 and 2 -> 3, never 1 -> 2.
    let result = replay("acq 1 1; try 1 2; acq 1 3");
    assert_eq!(result.edges, 2);
    // A try-lock cycle cannot deadlock: the try never waits.
    let result = replay("acq 1 1; try 1 2; rel 1 2; rel 1 1; acq 2 2; acq 2 1");
    assert!(result.findings.is_empty(), "{:?}", result.findings);
}

#[test]
fn releases_that_do_not_match_are_misuse() {
    let result = replay("rel 1 1");
    assert_eq!(kinds(&result), [FindingKind::ApiMisuse]);
    assert!(result.findings[0].message.contains("which no thread holds"));
    let result = replay("acq 1 1; rel 2 1; rel 1 1");
    assert_eq!(kinds(&result), [FindingKind::ApiMisuse]);
    assert!(
        result.findings[0]
            .message
            .contains("which thread `thread#1` holds")
    );
}

#[test]
fn an_acquisition_of_a_held_lock_is_an_error_about_the_trace() {
    let result = replay("acq 1 1; acq 2 1; rel 2 1; acq 2 1");
    assert_eq!(kinds(&result), [FindingKind::ApiMisuse]);
    let finding = &result.findings[0];
    assert!(
        finding.message.starts_with("inconsistent trace"),
        "{finding}"
    );
    assert_eq!(finding.severity, crate::Severity::Error);
    assert!(finding.reason.ends_with("(seen 2 times)"), "{finding}");
    // Shared holders do not conflict.
    let result = replay("rwlock 1; racq 1 1; racq 2 1");
    assert!(result.warnings.is_empty());
}

#[test]
fn acquiring_against_declared_ranks_is_an_order_violation() {
    // Ranks must rise: 1 (rank 10) then 2 (rank 20) is fine, the reverse is not.
    let result = replay("rank 1 10; rank 2 20; acq 1 1; acq 1 2; rel 1 2; rel 1 1");
    assert!(result.findings.is_empty(), "{:?}", result.findings);
    let result = replay("rank 1 10; rank 2 20; acq 1 2; acq 1 1; rel 1 1; acq 1 1");
    assert_eq!(
        kinds(&result),
        [FindingKind::OrderViolation],
        "reported once"
    );
    let finding = &result.findings[0];
    assert_eq!(
        finding.message,
        "`lock#1` (rank 10) acquired while holding `lock#2` (rank 20)"
    );
    assert_eq!(finding.locks, ["lock#2", "lock#1"]);
    assert_eq!(finding.site, Some(Site::from("s.rs:4")));
    // Equal ranks violate too; unranked locks never do.
    let result = replay("rank 1 5; rank 2 5; acq 1 1; acq 1 2");
    assert_eq!(kinds(&result), [FindingKind::OrderViolation]);
    assert!(replay("rank 1 5; acq 1 1; acq 1 2").findings.is_empty());
}

#[test]
fn semaphore_permits_are_shared_and_returned_by_anyone() {
    let result = replay("semaphore 1; acq 1 1; acq 2 1; rel 3 1; rel 2 1");
    assert!(result.findings.is_empty(), "{:?}", result.findings);
    assert!(result.warnings.is_empty(), "{:?}", result.warnings);
    // Waiting on a semaphore is not a wait cycle: its capacity is unknown.
    let result = replay("semaphore 1; acq 1 1; acq 2 2; req 1 2; req 2 1");
    assert!(
        result
            .findings
            .iter()
            .all(|f| f.kind != FindingKind::Deadlock)
    );
}

#[test]
fn requests_blocked_at_the_end_in_a_cycle_are_a_deadlock() {
    let result = replay("acq 1 1; acq 2 2; req 1 2; req 2 1");
    assert_eq!(
        kinds(&result),
        [FindingKind::Deadlock],
        "the cycle is not repeated"
    );
    let finding = &result.findings[0];
    assert!(finding.edges.iter().all(|e| e.blocked));
    assert_eq!(finding.edges.len(), 2);
    assert!(finding.reason.contains("still blocked"));
    // Each edge: held lock -> requested lock, both closing the cycle.
    assert_eq!(finding.edges[0].to, finding.edges[1].from);
    assert_eq!(finding.edges[1].to, finding.edges[0].from);
}

#[test]
fn a_request_given_up_is_not_a_wait() {
    // Thread 1 requested lock 2 (a timed attempt), gave up and went on: when thread 2
    // then requests lock 1, nobody waits on anybody.
    let result = replay("acq 1 1; acq 2 2; req 1 2; rel 1 1; acq 1 1; req 2 1");
    assert!(
        result
            .findings
            .iter()
            .all(|f| f.kind != FindingKind::Deadlock)
    );
    let result = replay("acq 1 1; acq 2 2; req 1 2; req 2 1");
    assert_eq!(
        kinds(&result),
        [FindingKind::Deadlock],
        "without the give-up"
    );
}

#[test]
fn a_wait_cycle_that_was_broken_later_says_so() {
    let result = replay("acq 1 1; acq 2 2; req 1 2; req 2 1; rel 2 2; acq 1 2");
    assert_eq!(kinds(&result), [FindingKind::Deadlock]);
    assert!(result.findings[0].reason.contains("goes on"));
}

#[test]
fn three_threads_in_a_wait_cycle() {
    let result = replay("acq 1 1; acq 2 2; acq 3 3; req 1 2; req 2 3; req 3 1");
    assert_eq!(kinds(&result), [FindingKind::Deadlock]);
    assert_eq!(result.findings[0].threads.len(), 3);
}

#[test]
fn a_mutex_requested_by_its_holder_deadlocks_alone() {
    let result = replay("mutex 1; acq 1 1; req 1 1");
    assert_eq!(kinds(&result), [FindingKind::Deadlock]);
    assert!(result.findings[0].message.contains("holds itself"));
    // A re-entrant lock does not.
    let result = replay("reentrant 1; acq 1 1; req 1 1; acq 1 1");
    assert!(result.findings.is_empty());
}

#[test]
fn waiting_while_holding_another_lock_is_a_warning() {
    let result = replay("acq 1 1; acq 1 2; wait 1 7 2; acq 1 2; rel 1 2; acq 1 2; wait 1 7 2");
    assert_eq!(
        kinds(&result),
        [FindingKind::WaitWhileHolding],
        "reported once"
    );
    // The condition variable's mutex first, then what else is held (as live).
    assert_eq!(result.findings[0].locks, ["lock#2", "lock#1"]);
    assert_eq!(result.findings[0].edges[0].from, "lock#1");
    assert!(replay("acq 1 2; wait 1 7 2").findings.is_empty());
}

/// Regression: a trace ending with thread 1 waiting on a condition variable while holding
/// lock 1, and thread 2 blocked requesting lock 1, with no notify after the wait, was a
/// warning and exit 0.
#[test]
fn a_thread_blocked_behind_a_condvar_wait_that_nobody_notified_is_a_deadlock() {
    let stalled = "acq 1 1; acq 1 2; wait 1 7 2; req 2 1";
    assert_eq!(
        kinds(&replay(stalled)),
        [FindingKind::Deadlock, FindingKind::WaitWhileHolding]
    );
    let finding = &replay(stalled).findings[0];
    assert!(finding.message.contains("was never notified"), "{finding}");
    assert_eq!(finding.locks, ["lock#1"]);
    // A notify after the wait may have woken it: the thread is not stuck.
    let notified = "acq 1 1; acq 1 2; wait 1 7 2; req 2 1; notify 3 7";
    assert_eq!(kinds(&replay(notified)), [FindingKind::WaitWhileHolding]);
    // A blocked thread whose lock is held by a thread that is not waiting: no stall.
    assert!(replay("acq 1 1; req 2 1").findings.is_empty());
}

#[test]
fn cycles_are_grouped_by_lock_set() {
    // 1 -> 2 -> 3 -> 1 and 1 -> 3 -> 2 -> 1 over the same locks: one finding.
    let result = replay(
        "acq 1 1; acq 1 2; rel 1 2; rel 1 1; acq 2 2; acq 2 3; rel 2 3; rel 2 2; \
         acq 3 3; acq 3 1; rel 3 1; rel 3 3; acq 4 1; acq 4 3; rel 4 3; rel 4 1; \
         acq 5 3; acq 5 2; rel 5 2; rel 5 3; acq 6 2; acq 6 1",
    );
    let potential = result
        .findings
        .iter()
        .filter(|f| f.kind == FindingKind::PotentialDeadlock)
        .count();
    // Three 2-cycles ({1,2}, {1,3}, {2,3}) and one set {1,2,3} of two 3-cycles.
    assert_eq!(potential, 4);
    assert!(
        result
            .findings
            .iter()
            .any(|f| f.reason.contains("2 cycles over these locks"))
    );
}

#[test]
fn traces_merge_by_lock_name() {
    let names = [(1, "accounts"), (2, "ledger")];
    let first = replay_with("acq 1 1; acq 1 2", &names);
    let second = replay_with("acq 7 2; acq 7 1", &names);
    assert!(first.findings.is_empty() && second.findings.is_empty());
    let mut analysis = Analysis::default();
    analysis.add("a.jsonl", first);
    analysis.add("b.jsonl", second);
    let findings = analysis.finish();
    assert_eq!(findings.len(), 1);
    assert_eq!(findings[0].kind, FindingKind::LockOrderInversion);
    assert!(findings[0].message.contains("across traces"));
    assert_eq!(
        findings[0].threads,
        ["thread#1 (a.jsonl)", "thread#7 (b.jsonl)"]
    );
}

#[test]
fn a_cycle_inside_one_trace_is_not_repeated_across_traces() {
    let names = [(1, "a"), (2, "b")];
    let mut analysis = Analysis::default();
    analysis.add("a", replay_with(AB_BA, &names));
    analysis.add("b", replay_with(AB_BA, &names));
    let findings = analysis.finish();
    assert_eq!(
        findings.len(),
        1,
        "the same finding of both traces, once; none across: {findings:#?}"
    );
    assert!(!findings[0].message.contains("across traces"));
    assert_eq!(
        findings[0].trace.as_deref(),
        Some("a"),
        "where it was seen first"
    );
    // Traces without a header are a process each.
    assert_eq!(
        findings[0].occurrences,
        Some(Occurrences {
            traces: 2,
            processes: 2
        })
    );
}

/// The trace of process `pid` of program `t`.
fn of_process(mut result: TraceResult, pid: u64) -> TraceResult {
    result.header = Some(Header {
        version: 1,
        tool: None,
        pid: Some(pid),
        program: Some("t".into()),
    });
    result
}

#[test]
fn copies_of_a_process_trace_count_as_one_process() {
    let names = [(1, "a"), (2, "b")];
    let mut analysis = Analysis::default();
    analysis.add("t-7.json", of_process(replay_with(AB_BA, &names), 7));
    analysis.add("copy.json", of_process(replay_with(AB_BA, &names), 7));
    analysis.add("t-8.json", of_process(replay_with(AB_BA, &names), 8));
    let findings = analysis.finish();
    assert_eq!(findings.len(), 1, "{findings:#?}");
    assert_eq!(
        findings[0].occurrences,
        Some(Occurrences {
            traces: 3,
            processes: 2
        })
    );
}

#[test]
fn findings_at_other_sites_or_of_one_trace_stay_apart() {
    let names = [(1, "a"), (2, "b")];
    let mut analysis = Analysis::default();
    analysis.add("a", replay_with(AB_BA, &names));
    // The same cycle one line further down: other sites, another finding.
    analysis.add("b", replay_with(&format!("mutex 3; {AB_BA}"), &names));
    let findings = analysis.finish();
    assert_eq!(findings.len(), 2, "{findings:#?}");
    assert!(findings.iter().all(|f| f.occurrences.unwrap().traces == 1));
    assert_eq!(findings[0].fingerprint(), findings[1].fingerprint());

    // Two findings of one trace are the trace's own business, even when alike; a copy of
    // the trace matches each of them once.
    let one = replay_with(AB_BA, &names).findings.remove(0);
    let twice = || TraceResult {
        findings: vec![one.clone(), one.clone()],
        ..TraceResult::default()
    };
    let mut analysis = Analysis::default();
    analysis.add("x", twice());
    analysis.add("y", twice());
    let findings = analysis.finish();
    assert_eq!(findings.len(), 2, "{findings:#?}");
    assert!(findings.iter().all(|f| f.occurrences.unwrap().traces == 2));
}

#[test]
fn unnamed_locks_do_not_merge() {
    let mut analysis = Analysis::default();
    analysis.add("a", replay("acq 1 1; acq 1 2"));
    analysis.add("b", replay("acq 1 2; acq 1 1"));
    assert!(analysis.finish().is_empty());
}

#[test]
fn a_plain_read_again_while_holding_a_read_is_misuse_and_a_recursive_one_is_not() {
    let result = replay("rwlock 1; racq 1 1; racq 1 1; rel 1 1; rel 1 1");
    assert_eq!(kinds(&result), [FindingKind::ApiMisuse]);
    let finding = &result.findings[0];
    // The live detector's words (`rules::relock`), both sites.
    assert!(finding.reason.contains("queued writer"), "{finding}");
    let text = finding.to_string();
    assert!(text.contains("`read_recursive()`"), "{text}");
    assert!(text.contains("s.rs:2") && text.contains("s.rs:3"), "{text}");
    assert!(
        result.warnings.is_empty(),
        "both holds are released: {:?}",
        result.warnings
    );
    // `read_recursive`, or a timed read (it gives up), is no misuse.
    for again in ["rracq 1 1", "tracq 1 1"] {
        let result = replay(&format!("rwlock 1; racq 1 1; {again}; rel 1 1; rel 1 1"));
        assert!(result.findings.is_empty(), "{again}: {:?}", result.findings);
    }
    // Neither is a plain read after a recursive one.
    let result = replay("rwlock 1; rracq 1 1; racq 1 1");
    assert_eq!(kinds(&result), [FindingKind::ApiMisuse]);
}

#[test]
fn a_timed_acquisition_adds_no_edge_into_its_lock() {
    // Thread 1 holds lock 2 and takes lock 1 with a time-out; thread 2, 1 then 2.
    let timed = "rwlock 1; acq 1 2; tracq 1 1; rel 1 1; rel 1 2; acq 2 1; acq 2 2";
    assert!(replay(timed).findings.is_empty());
    let blocking = timed.replace("tracq 1 1", "acq 1 1");
    assert_eq!(kinds(&replay(&blocking)), [FindingKind::PotentialDeadlock]);
}

#[test]
fn an_upgrade_is_an_exclusive_request_and_no_new_hold() {
    // Thread 1 holds mutex 1 and upgrades its upgradable read of 2; thread 2 reads 2, then
    // takes 1. The upgrade waits for readers: with it, the orders conflict.
    let upgraded = "rwlock 2; acq 1 1; uacq 1 2; up 1 2; rel 1 2; rel 1 1; racq 2 2; acq 2 1";
    let result = replay(upgraded);
    assert_eq!(kinds(&result), [FindingKind::PotentialDeadlock]);
    assert!(
        result.warnings.is_empty() && !result.findings[0].message.contains("inconsistent"),
        "one release ends the upgraded hold: {result:?}"
    );
    // An upgradable read alone shares with readers: no cycle that can block.
    let not_upgraded = upgraded.replace("up 1 2; ", "");
    assert!(replay(&not_upgraded).findings.is_empty());
    // A successful attempt cannot wait: no edge.
    let tried = upgraded.replace("up 1 2", "tryup 1 2");
    assert!(replay(&tried).findings.is_empty());
    // A blocking upgrade waits for the other readers, not for its own upgradable hold.
    let waited = "rwlock 2; uacq 1 2; racq 2 2; upreq 1 2; rel 2 2; up 1 2; rel 1 2";
    let result = replay(waited);
    assert!(result.findings.is_empty(), "{:?}", result.findings);
    // ... and an upgrade waiting for a reader that waits for it is a deadlock.
    let result = replay("rwlock 2; acq 1 1; uacq 1 2; racq 2 2; upreq 1 2; req 2 1");
    assert_eq!(kinds(&result), [FindingKind::Deadlock]);
}

#[test]
fn a_downgraded_hold_is_shared() {
    // Thread 1 writes 2, downgrades, then takes 1; thread 2 holds 1 and reads 2: readers do
    // not wait for a reader.
    let downgraded = "rwlock 2; acq 1 2; down 1 2; acq 1 1; rel 1 1; rel 1 2; acq 2 1; racq 2 2";
    assert!(replay(downgraded).findings.is_empty());
    let written = downgraded.replace("down 1 2; ", "");
    assert_eq!(kinds(&replay(&written)), [FindingKind::PotentialDeadlock]);
    // Another reader may come in after the downgrade: not an inconsistent trace.
    let result = replay("rwlock 2; acq 1 2; down 1 2; racq 2 2; rel 2 2; rel 1 2");
    assert!(result.findings.is_empty(), "{:?}", result.findings);
}

#[test]
fn a_recorded_finding_the_replay_finds_again_is_reported_once() {
    let mut replay = Replay::default();
    let script = [("rwlock", 1), ("racq", 1), ("racq", 1)];
    let mut events = Vec::new();
    for (word, lock) in script {
        events.push(match word {
            "rwlock" => Event::Lock {
                lock: LockId(lock),
                kind: LockKind::RwLock,
                name: Some("table".into()),
                class: None,
                site: None,
                rank: None,
            },
            _ => Event::Acquire {
                tid: ThreadId(1),
                lock: LockId(lock),
                mode: Mode::Shared,
                try_lock: false,
                flavour: Flavour::Plain,
                site: Some(Site::from("src/lib.rs:3:9")),
            },
        });
    }
    // The live report, recorded twice (two recordings' worth), and a finding of another kind.
    let mut live = rules::relock(
        "thread#1",
        LockKind::RwLock,
        LockAt {
            name: "table".into(),
            site: None,
            mode: Mode::Shared,
        },
        LockAt {
            name: "table".into(),
            site: None,
            mode: Mode::Shared,
        },
    );
    live.message.push_str(" (live)");
    let mut other = Finding::new(FindingKind::WaitWhileHolding, "a wait");
    other.locks = vec!["table".into(), "other".into()];
    for event in events
        .into_iter()
        .chain([live.clone(), live, other].map(|f| Event::Finding(Box::new(f))))
    {
        replay.event(event);
    }
    let result = replay.finish();
    assert_eq!(
        kinds(&result),
        [FindingKind::ApiMisuse, FindingKind::WaitWhileHolding]
    );
    assert!(
        !result.findings[0].message.contains("(live)"),
        "the replay's own: {}",
        result.findings[0]
    );
}

#[test]
fn a_cycle_that_deadlocked_is_reported_as_the_deadlock_whichever_side_saw_it() {
    // Live: the potential deadlock when the cycle closed, then the deadlock.
    let both = replay("acq 1 1; acq 2 2; req 1 2; req 2 1").findings;
    let deadlock = both[0].clone();
    assert_eq!(deadlock.kind, FindingKind::Deadlock);
    let mut potential = Finding::new(FindingKind::PotentialDeadlock, "the cycle closed");
    potential.locks = deadlock.locks.clone();
    potential.locks.reverse();
    let with_recorded = |script: &str, recorded: &[&Finding]| -> Vec<FindingKind> {
        let mut replay = Replay::default();
        let recorded = recorded
            .iter()
            .map(|f| Event::Finding(Box::new((*f).clone())));
        for event in events(script).into_iter().chain(recorded) {
            replay.event(event);
        }
        kinds(&replay.finish())
    };
    // The replay saw the wait cycle: the recorded potential deadlock is the same problem.
    assert_eq!(
        with_recorded(
            "acq 1 1; acq 2 2; req 1 2; req 2 1",
            &[&potential, &deadlock]
        ),
        [FindingKind::Deadlock]
    );
    // The replay saw only the orders (the wait cycle was broken before its requests met):
    // the recorded deadlock stands for its own potential one.
    assert_eq!(
        with_recorded(
            "acq 1 1; acq 1 2; rel 1 2; rel 1 1; acq 2 2; acq 2 1",
            &[&potential, &deadlock]
        ),
        [FindingKind::Deadlock]
    );
    // Without a deadlock, the cycle is what it is.
    assert_eq!(
        with_recorded(
            "acq 1 1; acq 1 2; rel 1 2; rel 1 1; acq 2 2; acq 2 1",
            &[&potential]
        ),
        [FindingKind::PotentialDeadlock]
    );
}
