//! The cost of recording, in a tight loop: `lock`+unlock of one uncontended lockscan mutex per
//! thread, 10^6 times each, while a trace is recorded to PATH (`.lstrace`: compact; else
//! JSONL), against parking_lot's in the same process. BENCHMARKS.md quotes it.
//!
//! ```text
//! cargo build --release -p lockscan --features detect-in-release --example prof_record
//! RUST_BACKTRACE=0 target/release/examples/prof_record /tmp/r.lstrace [THREADS]
//! ```

use std::hint::black_box;
use std::time::Instant;

const ITERATIONS: usize = 1_000_000;

fn main() {
    let mut args = std::env::args().skip(1);
    let path = args.next().expect("usage: prof_record PATH [THREADS]");
    let threads: usize = args
        .next()
        .map_or(1, |t| t.parse().expect("a thread count"));
    let baseline = {
        let m = parking_lot::Mutex::new(0_u64);
        let start = Instant::now();
        for _ in 0..ITERATIONS {
            *black_box(&m).lock() += 1;
        }
        start.elapsed().as_nanos() as f64 / ITERATIONS as f64
    };
    let recording = lockscan::record::start(&path).expect("start recording");
    let start = Instant::now();
    std::thread::scope(|s| {
        for _ in 0..threads {
            s.spawn(|| {
                let m = lockscan::Mutex::new(0_u64);
                for _ in 0..ITERATIONS {
                    *black_box(&m).lock() += 1;
                }
            });
        }
    });
    let per = start.elapsed().as_nanos() as f64 / ITERATIONS as f64;
    recording.finish().expect("finish recording");
    let size = std::fs::metadata(&path).expect("the trace").len();
    let events = 2 * ITERATIONS * threads;
    println!(
        "{path}: {threads} threads: {per:.1} ns per lock+unlock, parking_lot {baseline:.1} ns, \
         {:.1}x, {:.1} bytes per event",
        per / baseline,
        size as f64 / events as f64
    );
}
