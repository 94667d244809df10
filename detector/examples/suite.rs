//! A test suite's worth of lock events, to measure recording and analysis at that scale
//! (BENCHMARKS.md, "Recording and reading at the scale of a test suite").
//!
//! It runs like libtest: TESTS tests, two at a time (one per core of the machines it was
//! measured on). Each test spawns THREADS threads, and each thread runs ITERATIONS short
//! critical sections: a nested pair of locks drawn from the test's own window of 64 of the
//! LOCKS locks (a few thousand in all), taken in one global order, so there is nothing to find;
//! and, every 16th iteration, the test's shared counter lock, which the test's threads contend
//! for. Each iteration makes 4 lock events (and the counter 2 more), so the defaults make
//! about 10^8.
//!
//! ```text
//! cargo build --release -p lockscan --features detect-in-release --example suite
//! target/release/examples/suite                       # lockscan's locks, detecting
//! target/release/examples/suite --parking-lot         # the same with parking_lot's
//! LOCKSCAN_TRACE=/tmp/suite/ LOCKSCAN_TRACE_FORMAT=compact target/release/examples/suite
//! lockscan run -- target/release/examples/suite       # recorded, then analyzed
//! ```
//!
//! Options: `--tests N` (100), `--threads N` (4), `--iterations N` (58,000), `--locks N`
//! (4,000), `--parking-lot`.

use std::hint::black_box;
use std::time::Instant;

/// The locks a test draws its pairs from.
const WINDOW: usize = 64;

struct Config {
    tests: usize,
    threads: usize,
    iterations: usize,
    locks: usize,
}

/// A lock type the suite can run on.
trait Lock: Sync {
    fn new() -> Self;
    fn with<R>(&self, f: impl FnOnce(&mut u64) -> R) -> R;
}

impl Lock for lockscan::Mutex<u64> {
    fn new() -> Self {
        lockscan::Mutex::new(0)
    }

    #[track_caller]
    fn with<R>(&self, f: impl FnOnce(&mut u64) -> R) -> R {
        f(&mut self.lock())
    }
}

impl Lock for parking_lot::Mutex<u64> {
    fn new() -> Self {
        parking_lot::Mutex::new(0)
    }

    fn with<R>(&self, f: impl FnOnce(&mut u64) -> R) -> R {
        f(&mut self.lock())
    }
}

/// A small fast generator: the pairs differ between threads and runs alike.
fn xorshift(state: &mut u64) -> u64 {
    *state ^= *state << 13;
    *state ^= *state >> 7;
    *state ^= *state << 17;
    *state
}

fn test<L: Lock>(config: &Config, locks: &[L], number: usize) {
    let start = (number * 37) % (locks.len() - WINDOW);
    let window = &locks[start..start + WINDOW];
    let counter = L::new();
    std::thread::scope(|s| {
        for thread in 0..config.threads {
            let counter = &counter;
            s.spawn(move || {
                let mut state =
                    ((number * 1000 + thread + 1) as u64).wrapping_mul(0x9e37_79b9_7f4a_7c15);
                for iteration in 0..config.iterations {
                    let a = xorshift(&mut state) as usize % WINDOW;
                    let b = (a + 1 + xorshift(&mut state) as usize % (WINDOW - 1)) % WINDOW;
                    let (first, second) = (a.min(b), a.max(b));
                    window[first].with(|x| {
                        window[second].with(|y| *black_box(x) = x.wrapping_add(*y).wrapping_add(1))
                    });
                    if iteration % 16 == 0 {
                        counter.with(|c| *c += 1);
                    }
                }
            });
        }
    });
}

fn run<L: Lock>(config: &Config) {
    let locks: Vec<L> = (0..config.locks).map(|_| L::new()).collect();
    // Two tests at a time, as libtest runs them on two cores.
    let next = std::sync::atomic::AtomicUsize::new(0);
    std::thread::scope(|s| {
        for _ in 0..2 {
            s.spawn(|| {
                loop {
                    let number = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    if number >= config.tests {
                        break;
                    }
                    test(config, &locks, number);
                }
            });
        }
    });
}

fn main() {
    let mut config = Config {
        tests: 100,
        threads: 4,
        iterations: 58_000,
        locks: 4_000,
    };
    let mut parking_lot = false;
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let mut value = |name: &str| -> usize {
            args.next()
                .and_then(|v| v.replace('_', "").parse().ok())
                .unwrap_or_else(|| panic!("{name} takes a number"))
        };
        match arg.as_str() {
            "--tests" => config.tests = value("--tests"),
            "--threads" => config.threads = value("--threads"),
            "--iterations" => config.iterations = value("--iterations"),
            "--locks" => config.locks = value("--locks").max(WINDOW + 1),
            "--parking-lot" => parking_lot = true,
            other => panic!("unknown argument {other}; see the source's documentation"),
        }
    }
    let started = Instant::now();
    if parking_lot {
        run::<parking_lot::Mutex<u64>>(&config);
    } else {
        run::<lockscan::Mutex<u64>>(&config);
    }
    let pairs = config.tests * config.threads * config.iterations;
    let events = 4 * pairs + 2 * pairs.div_ceil(16);
    eprintln!(
        "suite: {} tests x {} threads x {} iterations over {} locks ({}): about {:.2e} lock \
         events in {:.2} s",
        config.tests,
        config.threads,
        config.iterations,
        config.locks,
        if parking_lot {
            "parking_lot"
        } else {
            "lockscan"
        },
        events as f64,
        started.elapsed().as_secs_f64()
    );
}
