//! The per-object workload of the `scale` bench (`--bench per-object-plain`), lockscan's locks
//! only, for a profiler: LOCKS fresh locks, 50,000 operations each locking 2-3 distinct random
//! locks in ascending order (the bench's seed and sequence), run twice over the same locks; the
//! first pass (`first_pass`) meets new edges, the second (`known_pass`) only known ones. Each
//! pass is a function of its own, so that `callgrind --toggle-collect` counts one of them.
//!
//! ```text
//! cargo build --release -p lockscan --features detect-in-release --example prof_per_object
//! RUST_BACKTRACE=0 target/release/examples/prof_per_object 64 [ROUNDS]
//! valgrind --tool=callgrind --toggle-collect='prof_per_object::first_pass' \
//!     target/release/examples/prof_per_object 64 1
//! ```

use std::hint::black_box;
use std::time::Instant;

#[path = "../benches/support/per_object.rs"]
mod per_object;

use per_object::{OPERATIONS, Operation, per_object_operations};

fn run(locks: &[lockscan::Mutex<u64>], operations: &[Operation]) {
    for &Operation {
        indices: [first, second, third],
        count,
    } in operations
    {
        let first = locks[first].lock();
        let second = locks[second].lock();
        if count == 3 {
            let third = locks[third].lock();
            black_box((&first, &second, &third));
        } else {
            black_box((&first, &second));
        }
    }
}

#[inline(never)]
fn first_pass(locks: &[lockscan::Mutex<u64>], operations: &[Operation]) {
    run(locks, operations);
    // Unlike `known_pass`'s, so that the two are not folded into one symbol.
    black_box(1);
}

#[inline(never)]
fn known_pass(locks: &[lockscan::Mutex<u64>], operations: &[Operation]) {
    run(locks, operations);
    black_box(2);
}

fn ns_per_op(f: impl FnOnce()) -> f64 {
    let start = Instant::now();
    f();
    start.elapsed().as_nanos() as f64 / OPERATIONS as f64
}

fn main() {
    let mut args = std::env::args().skip(1);
    let usage = "usage: prof_per_object LOCKS [ROUNDS]";
    let lock_count: usize = args.next().expect(usage).parse().expect(usage);
    let rounds: usize = args.next().map_or(1, |r| r.parse().expect(usage));
    lockscan::set_policy(lockscan::Policy::Collect);
    let operations = per_object_operations(lock_count);
    let (mut first, mut known) = (Vec::new(), Vec::new());
    for _ in 0..rounds {
        let locks: Vec<_> = (0..lock_count as u64).map(lockscan::Mutex::new).collect();
        first.push(ns_per_op(|| first_pass(&locks, &operations)));
        known.push(ns_per_op(|| known_pass(&locks, &operations)));
        drop(black_box(locks));
    }
    let median = |mut v: Vec<f64>| {
        v.sort_by(f64::total_cmp);
        v[v.len() / 2]
    };
    println!(
        "{lock_count} locks, ns/op (median of {rounds}): first pass {:.1}, known {:.1}",
        median(first),
        median(known)
    );
    assert!(
        lockscan::take_findings().is_empty(),
        "the workload has no cycle"
    );
}
