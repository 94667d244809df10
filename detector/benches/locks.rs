//! The cost of lockscan's instrumentation against raw parking_lot, measured in the same run.
//!
//! `cargo bench -p lockscan --features detect-in-release --bench locks`
//! Results and the command that produced them go to BENCHMARKS.md.

use std::hint::black_box;
use std::time::{Duration, Instant};

use criterion::{BenchmarkId, Criterion, criterion_group, criterion_main};

mod support;

use support::BenchLock as Lock;

fn uncontended<L: Lock>(c: &mut Criterion) {
    uncontended_labelled::<L>(c, "uncontended lock+unlock");
}

fn uncontended_labelled<L: Lock>(c: &mut Criterion, label: &str) {
    let lock = L::create(0);
    c.bench_function(&format!("{label}/{}", L::NAME), |b| {
        b.iter(|| drop(black_box(lock.acquire())))
    });
}

fn nested_pair<L: Lock>(c: &mut Criterion) {
    let (a, b) = (L::create(0), L::create(1));
    // Record the edge once, so that the loop measures the seen-before path.
    drop((a.acquire(), b.acquire()));
    c.bench_function(
        &format!("nested pair A->B, edge seen/{}", L::NAME),
        |bench| {
            bench.iter(|| {
                let outer = a.acquire();
                let inner = b.acquire();
                black_box((&outer, &inner));
            })
        },
    );
}

/// Four threads, each nesting its own pair of locks `iters` times: per iteration, the time of
/// one pair on each of four threads at once.
fn threads_private_pairs<L: Lock>(c: &mut Criterion) {
    c.bench_function(
        &format!("4 threads x private nested pairs/{}", L::NAME),
        |b| {
            b.iter_custom(|iters| {
                let start = Instant::now();
                std::thread::scope(|s| {
                    for _ in 0..4 {
                        s.spawn(|| {
                            let (a, b) = (L::create(0), L::create(1));
                            for _ in 0..iters {
                                let outer = a.acquire();
                                let inner = b.acquire();
                                black_box((&outer, &inner));
                            }
                        });
                    }
                });
                start.elapsed()
            })
        },
    );
}

/// A lock created, locked under a long-lived lock (a new edge every time), and dropped.
fn create_nested_drop<L: Lock>(c: &mut Criterion) {
    let outer = L::create(0);
    c.bench_with_input(
        BenchmarkId::new("create, lock under outer, drop", L::NAME),
        &(),
        |b, ()| {
            let _outer = outer.acquire();
            b.iter(|| {
                let inner = L::create(1);
                drop(black_box(inner.acquire()));
            })
        },
    );
}

/// Uncontended lock+unlock while a recording runs: two events per iteration, queued for the
/// writer thread (which formats them on the other core).
fn uncontended_recording(c: &mut Criterion) {
    let path = std::env::temp_dir().join(format!("lockscan-bench-{}.json", std::process::id()));
    let recording = lockscan::record::start(&path).expect("start recording");
    let lock = lockscan::Mutex::new(0_u64);
    c.bench_function("uncontended lock+unlock, recording/lockscan", |b| {
        b.iter(|| drop(black_box(lock.lock())))
    });
    drop(recording);
    let _ = std::fs::remove_file(path);
}

/// A tracked value's get and set on one thread, against a plain atomic load and store.
fn tracked_get_set(c: &mut Criterion) {
    use std::sync::atomic::{AtomicU64, Ordering};
    let atomic = AtomicU64::new(0);
    c.bench_function("get+set/atomic", |b| {
        b.iter(|| {
            let v = atomic.load(Ordering::Relaxed);
            atomic.store(black_box(v + 1), Ordering::Relaxed);
        })
    });
    c.bench_function("get+set/atomic SeqCst", |b| {
        b.iter(|| {
            let v = atomic.load(Ordering::SeqCst);
            atomic.store(black_box(v + 1), Ordering::SeqCst);
        })
    });
    let tracked = lockscan::Tracked::new(0_u64);
    c.bench_function("get+set/lockscan::Tracked", |b| {
        b.iter(|| {
            let v = tracked.get();
            tracked.set(black_box(v + 1));
        })
    });
}

fn all(c: &mut Criterion) {
    assert!(
        lockscan::is_active(),
        "run with --features detect-in-release"
    );
    lockscan::set_policy(lockscan::Policy::Collect);
    uncontended::<parking_lot::Mutex<u64>>(c);
    uncontended::<lockscan::Mutex<u64>>(c);
    nested_pair::<parking_lot::Mutex<u64>>(c);
    nested_pair::<lockscan::Mutex<u64>>(c);
    threads_private_pairs::<parking_lot::Mutex<u64>>(c);
    threads_private_pairs::<lockscan::Mutex<u64>>(c);
    create_nested_drop::<parking_lot::Mutex<u64>>(c);
    create_nested_drop::<lockscan::Mutex<u64>>(c);
    tracked_get_set(c);
    // After tracked values were used, every lock also keeps a clock: measured again.
    uncontended_labelled::<lockscan::Mutex<u64>>(c, "uncontended lock+unlock, races on");
    uncontended_recording(c);
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3));
    targets = all
}
criterion_main!(benches);
