//! Declared lock ranks: an acquisition against them is reported at once.

use lockscan::{FindingKind, Mutex, RwLock};

use crate::support::{findings_about, kinds_about, setup};

#[test]
fn acquiring_against_the_ranks_is_an_order_violation_at_once() {
    setup();
    let low = Mutex::named("rank:low", ()).with_rank(1);
    let high = Mutex::named("rank:high", ()).with_rank(2);
    {
        // Against the ranks, and the first time ever: no cycle exists yet.
        let _high = high.lock();
        let _low = low.lock();
    }
    let found = findings_about(&["rank:low", "rank:high"]);
    assert_eq!(found.len(), 1, "{found:#?}");
    let violation = &found[0];
    assert_eq!(violation.kind, FindingKind::OrderViolation);
    assert_eq!(violation.locks, ["rank:high", "rank:low"]);
    assert!(
        violation.message.contains("rank 1"),
        "{}",
        violation.message
    );
    assert_eq!(
        violation.edges[0].to_site.as_ref().unwrap().file(),
        Some(file!())
    );
}

#[test]
fn acquiring_with_the_ranks_is_fine() {
    setup();
    let low = RwLock::named("rankok:low", ()).with_rank(1);
    let high = Mutex::named("rankok:high", ()).with_rank(5);
    let unranked = Mutex::named("rankok:free", ());
    for _ in 0..3 {
        let _low = low.read();
        let _high = high.lock();
        let _free = unranked.lock();
    }
    assert_eq!(low.rank(), Some(1));
    assert_eq!(
        findings_about(&["rankok:low", "rankok:high", "rankok:free"]),
        []
    );
}

#[test]
fn equal_ranks_may_not_nest() {
    setup();
    let a = Mutex::named("rankeq:a", ()).with_rank(3);
    let b = Mutex::named("rankeq:b", ()).with_rank(3);
    let _a = a.lock();
    let _b = b.lock();
    assert_eq!(
        kinds_about(&["rankeq:a", "rankeq:b"]),
        [FindingKind::OrderViolation]
    );
}
