//! The property behind every lock-order finding: a trace in which every thread takes its locks
//! in one global order has no lock-order cycle, however the threads interleave, while breaking
//! that order once is found.

use lockscan::FindingKind;
use lockscan::analysis::{Replay, ReplayOptions};
use lockscan::ids::{Flavour, LockId, LockKind, Mode, ThreadId};
use lockscan::trace::Event;
use proptest::prelude::*;

const LOCKS: u64 = 6;

/// One critical section: a thread takes a set of locks, nested, and lets them go.
#[derive(Clone, Debug)]
struct Section {
    thread: u64,
    /// The locks, in the order taken.
    locks: Vec<u64>,
    shared: bool,
}

fn section() -> impl Strategy<Value = Section> {
    (
        1..4_u64,
        proptest::sample::subsequence((0..LOCKS).collect::<Vec<_>>(), 1..=LOCKS as usize),
        any::<bool>(),
    )
        .prop_map(|(thread, locks, shared)| Section {
            thread,
            locks,
            shared,
        })
}

/// The events of `sections`, one after the other (each section is atomic, so the trace is a
/// valid interleaving of the threads).
fn events(sections: &[Section]) -> Vec<Event> {
    let mut events: Vec<Event> = (0..LOCKS)
        .map(|l| Event::Lock {
            lock: LockId(l),
            kind: LockKind::RwLock,
            name: None,
            class: None,
            site: None,
            rank: None,
        })
        .collect();
    for s in sections {
        let tid = ThreadId(s.thread);
        let mode = if s.shared {
            Mode::Shared
        } else {
            Mode::Exclusive
        };
        for &l in &s.locks {
            events.push(Event::Acquire {
                tid,
                lock: LockId(l),
                mode,
                try_lock: false,
                flavour: Flavour::Plain,
                site: None,
            });
        }
        for &l in s.locks.iter().rev() {
            events.push(Event::Release {
                tid,
                lock: LockId(l),
                mode,
                site: None,
            });
        }
    }
    events
}

fn cycle_kinds(events: Vec<Event>) -> Vec<FindingKind> {
    let mut replay = Replay::new(ReplayOptions::default());
    for event in events {
        replay.event(event);
    }
    replay
        .finish()
        .findings
        .into_iter()
        .map(|f| f.kind)
        .filter(|k| {
            matches!(
                k,
                FindingKind::PotentialDeadlock
                    | FindingKind::LockOrderInversion
                    | FindingKind::GatedCycle
                    | FindingKind::Deadlock
            )
        })
        .collect()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn one_global_order_yields_no_cycle(sections in proptest::collection::vec(section(), 1..40)) {
        // `subsequence` keeps the ascending order of 0..LOCKS: the global order.
        prop_assert_eq!(cycle_kinds(events(&sections)), vec![]);
    }

    #[test]
    fn one_section_against_the_order_is_found(
        mut sections in proptest::collection::vec(section(), 1..40),
        thread in 1..4_u64,
    ) {
        // Two exclusive sections of different threads, in opposite orders of locks 0 and 1.
        sections.push(Section { thread, locks: vec![0, 1], shared: false });
        sections.push(Section { thread: thread % 3 + 1, locks: vec![1, 0], shared: false });
        let kinds = cycle_kinds(events(&sections));
        prop_assert!(!kinds.is_empty(), "the inversion is reported");
    }
}
