//! The live detector's memory with nesting depth: one thread takes DEPTH mutexes of its own,
//! one inside the other, holds them all at once, takes one more inside them, and lets all go.
//! Without a bound, DEPTH held locks make DEPTH²/2 order edges; past `MAX_ORDER_DEPTH`, the
//! edges come from the innermost locks only (and lockscan warns once). Peak RSS by GNU time;
//! BENCHMARKS.md ("Nesting depth") quotes it.
//!
//! ```text
//! cargo build --release -p lockscan --features detect-in-release --example prof_deep
//! /usr/bin/time -v target/release/examples/prof_deep 2000
//! ```

use std::time::Instant;

fn main() {
    let depth: usize = match std::env::args().nth(1).map(|arg| arg.parse()) {
        None => 2_000,
        Some(Ok(depth)) => depth,
        Some(Err(err)) => {
            eprintln!("prof_deep: DEPTH: {err}");
            std::process::exit(2);
        }
    };
    let locks: Vec<lockscan::Mutex<()>> = (0..depth).map(|_| lockscan::Mutex::new(())).collect();
    let inner = lockscan::Mutex::new(());
    let start = Instant::now();
    let guards: Vec<_> = locks.iter().map(|lock| lock.lock()).collect();
    drop(inner.lock());
    drop(guards);
    println!(
        "prof_deep: {depth} locks held at once, then one more: {:.2} s",
        start.elapsed().as_secs_f64()
    );
}
