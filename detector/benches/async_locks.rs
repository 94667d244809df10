//! What `lockscan::tokio::Mutex` costs against `tokio::sync::Mutex`, in one run, side by side:
//! an uncontended lock/unlock inside one task (current-thread runtime), and four tasks
//! contending for one mutex on a multi-thread runtime of four workers (each holds it across a
//! `yield_now`, so that the others find it taken and wait: every acquisition is contended). lockscan's mutex is
//! measured twice: in a task lockscan sees (`lockscan::tokio::spawn`, which records every
//! acquisition and registers every wait), and in a plain `tokio::spawn` task (not recorded:
//! the cost of the switch alone); tokio's is measured a second time out of tokio's cooperative
//! budget, which its `lock().await` spends and lockscan's uncontended fast path does not.
//! Prints a Markdown table.
//!
//! ```text
//! RUST_BACKTRACE=0 cargo bench -p lockscan --features detect-in-release,tokio \
//!     --bench async_locks [-- --quick]
//! ```
//!
//! It times its own loops (`Instant` around each workload, the median of several samples)
//! and takes the samples of the variants in turn, so that a change of the machine's load during
//! the run falls on all of them alike. `--quick` takes 3 samples instead of 7 and shorter
//! loops.

use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Tasks, and worker threads, of the contended workload.
const TASKS: u64 = 4;

fn main() -> ExitCode {
    let quick = std::env::args().any(|arg| arg == "--quick");
    if !lockscan::is_active() {
        eprintln!(
            "error: lockscan's detection is off; run with --features detect-in-release,tokio"
        );
        return ExitCode::FAILURE;
    }
    // The workloads have one lock and no cycle: a finding is a bug, reported at the end.
    lockscan::set_policy(lockscan::Policy::Collect);
    let (samples, uncontended_iterations, contended_iterations) = if quick {
        (3, 200_000, 20_000)
    } else {
        (7, 1_000_000, 100_000)
    };

    let load_at_start = load_average();
    let mut uncontended = [const { Vec::new() }; VARIANTS.len()];
    let mut contended = [const { Vec::new() }; VARIANTS.len()];
    for _ in 0..samples {
        for (variant, workload) in VARIANTS.iter().enumerate() {
            uncontended[variant].push((workload.uncontended)(uncontended_iterations));
            contended[variant].push((workload.contended)(contended_iterations));
        }
    }

    println!("# lockscan::tokio::Mutex against tokio::sync::Mutex");
    println!();
    println!(
        "tokio {}, lockscan {}; nanoseconds per lock/unlock, median of {samples} samples \
         (ratio to tokio's in parentheses); {} available cores; load average {load_at_start} \
         at start, {} at end.",
        tokio_version(),
        env!("CARGO_PKG_VERSION"),
        std::thread::available_parallelism().map_or(0, |n| n.get()),
        load_average(),
    );
    println!();
    print!("| workload |");
    for workload in &VARIANTS {
        print!(" {} |", workload.name);
    }
    println!();
    print!("|---|");
    for _ in &VARIANTS {
        print!("---:|");
    }
    println!();
    let rows = [
        (
            format!("uncontended, one task, current-thread runtime ({uncontended_iterations} ops)"),
            uncontended,
            uncontended_iterations,
        ),
        (
            format!(
                "contended, {TASKS} tasks on {TASKS} workers, multi-thread runtime, \
                 held across a `yield_now` ({TASKS} × {contended_iterations} ops)"
            ),
            contended,
            TASKS * contended_iterations,
        ),
    ];
    for (label, mut times, operations) in rows {
        let medians = times.each_mut().map(|times| median(times));
        let per_op = |time: Duration| time.as_nanos() as f64 / operations as f64;
        let baseline = per_op(medians[0]);
        print!("| {label} | {baseline:.1} ns |");
        for &time in &medians[1..] {
            let cost = per_op(time);
            print!(" {cost:.1} ns ({:.2}×) |", cost / baseline);
        }
        println!();
    }

    let findings = lockscan::findings();
    if findings.is_empty() {
        ExitCode::SUCCESS
    } else {
        eprintln!("error: lockscan reported findings on workloads without a cycle:");
        for finding in &findings {
            eprintln!("  {}: {}", finding.kind.as_str(), finding.message);
        }
        ExitCode::FAILURE
    }
}

/// The version of tokio the locks are measured against, from the workspace's Cargo.lock.
fn tokio_version() -> &'static str {
    const LOCK_FILE: &str = include_str!("../../Cargo.lock");
    LOCK_FILE
        .split("[[package]]")
        .find(|package| package.contains("\nname = \"tokio\"\n"))
        .and_then(|package| package.split("version = \"").nth(1))
        .and_then(|rest| rest.split('"').next())
        .unwrap_or("unknown")
}

/// A lock and task kind: its two workloads, each timing `iterations` lock/unlock per task.
struct Variant {
    name: &'static str,
    uncontended: fn(u64) -> Duration,
    contended: fn(u64) -> Duration,
}

/// The two workloads over `$Mutex` in tasks spawned by `$spawn`.
macro_rules! workloads {
    ($module:ident, $Mutex:ident, $spawn:path) => {
        mod $module {
            use super::*;

            /// One task locks and unlocks `iterations` times; the loop alone is timed.
            pub fn uncontended(iterations: u64) -> Duration {
                let runtime = tokio::runtime::Builder::new_current_thread()
                    .build()
                    .unwrap();
                runtime.block_on(async {
                    $spawn(async move {
                        let counter = $Mutex::new(0_u64);
                        let start = Instant::now();
                        for _ in 0..iterations {
                            *counter.lock().await += 1;
                        }
                        let time = start.elapsed();
                        assert_eq!(*counter.lock().await, iterations);
                        time
                    })
                    .await
                    .unwrap()
                })
            }

            /// [`TASKS`] tasks each lock one mutex, yield to the scheduler, and unlock it,
            /// `iterations` times; from the first spawn to the last join.
            pub fn contended(iterations: u64) -> Duration {
                let runtime = tokio::runtime::Builder::new_multi_thread()
                    .worker_threads(TASKS as usize)
                    .build()
                    .unwrap();
                runtime.block_on(async {
                    let counter = Arc::new($Mutex::new(0_u64));
                    let start = Instant::now();
                    let tasks: Vec<_> = (0..TASKS)
                        .map(|_| {
                            let counter = Arc::clone(&counter);
                            $spawn(async move {
                                for _ in 0..iterations {
                                    let mut guard = counter.lock().await;
                                    // Held across a return to the scheduler, so that the
                                    // other tasks find it taken and wait: every acquisition
                                    // is contended, whatever the lock's fast path.
                                    tokio::task::yield_now().await;
                                    *guard += 1;
                                }
                            })
                        })
                        .collect();
                    for task in tasks {
                        task.await.unwrap();
                    }
                    let time = start.elapsed();
                    assert_eq!(*counter.lock().await, TASKS * iterations);
                    time
                })
            }
        }
    };
}

use lockscan::tokio::Mutex as LockscanMutex;
use tokio::sync::Mutex as TokioMutex;

workloads!(tokio_in_tokio_task, TokioMutex, tokio::spawn);
workloads!(lockscan_in_tokio_task, LockscanMutex, tokio::spawn);
workloads!(
    lockscan_in_lockscan_task,
    LockscanMutex,
    lockscan::tokio::spawn
);
workloads!(tokio_unconstrained, TokioMutex, spawn_unconstrained);

/// `tokio::spawn` of a task out of tokio's cooperative budget: tokio's `lock().await` spends
/// the budget and yields when it runs out, lockscan's takes an uncontended lock with
/// `try_lock`, which does not; this column shows what the budget costs tokio's mutex.
fn spawn_unconstrained<F>(future: F) -> tokio::task::JoinHandle<F::Output>
where
    F: std::future::Future + Send + 'static,
    F::Output: Send + 'static,
{
    tokio::spawn(tokio::task::coop::unconstrained(future))
}

/// The baseline first: the table's ratios are to it.
const VARIANTS: [Variant; 4] = [
    Variant {
        name: "`tokio::sync::Mutex`, `tokio::spawn`",
        uncontended: tokio_in_tokio_task::uncontended,
        contended: tokio_in_tokio_task::contended,
    },
    Variant {
        name: "`lockscan::tokio::Mutex`, `tokio::spawn` (not recorded)",
        uncontended: lockscan_in_tokio_task::uncontended,
        contended: lockscan_in_tokio_task::contended,
    },
    Variant {
        name: "`lockscan::tokio::Mutex`, `lockscan::tokio::spawn` (recorded)",
        uncontended: lockscan_in_lockscan_task::uncontended,
        contended: lockscan_in_lockscan_task::contended,
    },
    Variant {
        name: "`tokio::sync::Mutex`, `tokio::spawn` of `unconstrained` (no coop budget)",
        uncontended: tokio_unconstrained::uncontended,
        contended: tokio_unconstrained::contended,
    },
];

fn median(times: &mut [Duration]) -> Duration {
    times.sort_unstable();
    times[times.len() / 2]
}

/// The 1-minute load average, from `/proc/loadavg`.
fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .ok()
        .and_then(|text| text.split_whitespace().next().map(str::to_owned))
        .unwrap_or_else(|| "unknown".into())
}
