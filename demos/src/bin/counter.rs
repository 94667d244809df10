//! A shared counter incremented by several threads.
//!
//! - `unlocked`: each increment reads the counter, then writes it back plus one, with no lock:
//!   increments get lost, and lockscan reports the data race on the tracked counter.
//! - `locked`: each increment holds a `lockscan::Mutex`: none is lost. Clean.

use std::process::ExitCode;
use std::sync::{Arc, Barrier};
use std::thread;

use lockscan::{Mutex, Tracked};
use lockscan_demos::{Command, Outcome, first_line, join, print_findings};

const COMMAND: Command = Command {
    name: "counter",
    about: "counter: threads incrementing one shared counter",
    modes: &[
        (
            "unlocked",
            "read, then write back plus one, without a lock (lost updates)",
        ),
        ("locked", "increment under a mutex (clean)"),
    ],
    flags: &[],
};

const THREADS: u64 = 8;
const INCREMENTS: u64 = 10_000;

fn main() -> ExitCode {
    let args = match COMMAND.start() {
        Ok(args) => args,
        Err(code) => return code,
    };
    let value = match args.mode.as_str() {
        "unlocked" => count_unlocked(),
        "locked" => count_locked(),
        _ => unreachable!("the parser accepts only the listed modes"),
    };
    let expected = THREADS * INCREMENTS;
    println!("{THREADS} threads incremented the counter {INCREMENTS} times each");
    println!("counter value: {value} (expected {expected})");
    if value == expected {
        println!("no increment was lost");
    } else {
        println!("increments lost: {}", expected - value);
    }
    print_findings();
    ExitCode::SUCCESS
}

/// Runs `increment` `INCREMENTS` times on each of `THREADS` threads, started together.
fn run(increment: impl Fn() + Send + Sync + 'static) {
    let increment = Arc::new(increment);
    let start = Arc::new(Barrier::new(THREADS as usize));
    let threads: Vec<_> = (0..THREADS)
        .map(|worker| {
            let (increment, start) = (increment.clone(), start.clone());
            // `lockscan::thread`: the spawn and the join order the counter's creation and the
            // final read; only the increments race with each other.
            let builder = lockscan::thread::Builder::new().name(format!("worker-{worker}"));
            builder
                .spawn(move || {
                    start.wait();
                    for _ in 0..INCREMENTS {
                        increment();
                    }
                })
                .expect("spawn a worker thread")
        })
        .collect();
    for handle in threads {
        if let Outcome::Unwound(message) = join(handle) {
            println!("a thread failed: {}", first_line(&message));
        }
    }
}

fn count_unlocked() -> u64 {
    let counter = Arc::new(Tracked::named("counter", 0_u64));
    let shared = counter.clone();
    run(move || {
        // Two separate steps: another thread's increment between them is overwritten.
        let value = shared.get();
        if value.is_multiple_of(64) {
            // Now and then, a pause between the read and the write, as a busy machine would
            // make, so that the lost updates show up in a short run.
            thread::yield_now();
        }
        shared.set(value + 1);
    });
    counter.get()
}

fn count_locked() -> u64 {
    let counter = Arc::new(Mutex::named("counter", 0_u64));
    let shared = counter.clone();
    run(move || *shared.lock() += 1);
    *counter.lock()
}
