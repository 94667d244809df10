//! The cost of recording, in a tight loop, against parking_lot in the same shape and the same
//! process: THREADS threads each run 10^6 iterations of
//!
//! - `single`: `lock`+unlock of one uncontended mutex of its own;
//! - `pairs`: a nested pair of its own (lock A, lock B, unlock both).
//!
//! Three rows: parking_lot, lockscan detecting without a trace, and lockscan while a trace is
//! recorded to PATH (`.lstrace`: compact; else JSONL). Each row is the median of five rounds.
//! BENCHMARKS.md quotes it.
//!
//! ```text
//! cargo build --release -p lockscan --features detect-in-release --example prof_record
//! RUST_BACKTRACE=0 target/release/examples/prof_record /tmp/r.lstrace single 1
//! RUST_BACKTRACE=0 target/release/examples/prof_record /tmp/r.lstrace pairs 4
//! ```

use std::hint::black_box;
use std::time::Instant;

const ITERATIONS: usize = 1_000_000;
const ROUNDS: usize = 5;

/// Nanoseconds per iteration (wall time of all threads over one thread's iterations).
fn time(threads: usize, body: impl Fn() + Sync) -> f64 {
    let start = Instant::now();
    std::thread::scope(|s| {
        for _ in 0..threads {
            s.spawn(&body);
        }
    });
    start.elapsed().as_nanos() as f64 / ITERATIONS as f64
}

fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(f64::total_cmp);
    values[values.len() / 2]
}

fn parking_lot(pairs: bool) -> impl Fn() + Sync {
    move || {
        let (a, b) = (
            parking_lot::Mutex::new(0_u64),
            parking_lot::Mutex::new(0_u64),
        );
        for _ in 0..ITERATIONS {
            let mut x = black_box(&a).lock();
            if pairs {
                *black_box(&b).lock() += 1;
            }
            *x += 1;
        }
    }
}

fn lockscan(pairs: bool) -> impl Fn() + Sync {
    move || {
        let (a, b) = (lockscan::Mutex::new(0_u64), lockscan::Mutex::new(0_u64));
        for _ in 0..ITERATIONS {
            let mut x = black_box(&a).lock();
            if pairs {
                *black_box(&b).lock() += 1;
            }
            *x += 1;
        }
    }
}

fn main() {
    let mut args = std::env::args().skip(1);
    let usage = "usage: prof_record PATH single|pairs [THREADS]";
    let path = args.next().expect(usage);
    let pairs = match args.next().as_deref() {
        Some("single") | None => false,
        Some("pairs") => true,
        Some(_) => panic!("{usage}"),
    };
    let threads: usize = args
        .next()
        .map_or(1, |t| t.parse().expect("a thread count"));
    let mut rows = [Vec::new(), Vec::new(), Vec::new()];
    let mut size = 0;
    for round in 0..ROUNDS {
        rows[0].push(time(threads, parking_lot(pairs)));
        rows[1].push(time(threads, lockscan(pairs)));
        let recording = lockscan::record::start(&path).expect("start recording");
        rows[2].push(time(threads, lockscan(pairs)));
        recording.finish().expect("finish recording");
        if round == 0 {
            size = std::fs::metadata(&path).expect("the trace").len();
        }
    }
    let [base, detect, record] = rows.map(median);
    let events = (if pairs { 4 } else { 2 }) * ITERATIONS * threads;
    println!(
        "{path}: {} x {threads} threads, ns per iteration (median of {ROUNDS}): parking_lot \
         {base:.1}, lockscan {detect:.1} ({:.2}x), recording {record:.1} ({:.2}x); {:.1} bytes \
         per event",
        if pairs { "pairs" } else { "single" },
        detect / base,
        record / base,
        size as f64 / events as f64
    );
}
