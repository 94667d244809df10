//! Does a lock operation cost more when more locks exist? It must not: lockscan's cost per
//! operation should stay flat as a program's number of locks grows. This bench measures it
//! against raw parking_lot (the floor) and tracing-mutex 0.3.3 (a reference detector), all three
//! in the same run, and prints Markdown tables.
//!
//! ```text
//! RUST_BACKTRACE=0 cargo bench -p lockscan --features detect-in-release --bench scale \
//!     [-- [FILTER] [--quick] [--locks 64,1000,...]]
//! ```
//!
//! - `FILTER` runs only the tables (`per-object-plain`, `per-object-backtrace`, `tight`) or
//!   tight-loop cases (`uncontended`, `private-locks`, `nested-pair`, `private-pairs`,
//!   `create-lock-drop`, `readers`) whose
//!   id contains it: `per-object` runs both per-object tables.
//! - `--quick` takes 3 samples per measurement instead of 7 and shorter tight loops.
//! - `--locks` replaces the per-object tables' lock counts (default 64, 1000, 4000, 16000).
//!
//! It times its own loops (`Instant` around a loop, the median of several samples) rather than
//! using criterion: the per-object workload must start from fresh locks every sample, because
//! both detectors remember every order edge they have seen, and one sample of it can take
//! minutes on a slow engine. A measurement whose first sample takes longer than a minute is not
//! repeated; its table cell says so. Each per-object sample runs its operations a second time
//! over the same locks, every edge known then: the "known ns/op" columns, which should stay flat
//! as the number of locks grows.
//!
//! The per-object table runs a second time in a child process with `RUST_BACKTRACE=1` and
//! `LOCKSCAN_BACKTRACE=1`: both detectors then capture a stack for every new order edge, which
//! is what a user who asks for stacks pays. (lockscan ignores `RUST_BACKTRACE` alone.)

use std::hint::black_box;
use std::io::Write;
use std::process::{Command, ExitCode};
use std::time::{Duration, Instant};

mod support;
// Shared with `examples/prof_per_object.rs`.
#[path = "support/per_object.rs"]
mod per_object;

use per_object::{OPERATIONS, Operation, per_object_operations};
use support::BenchLock;

/// Set on the child process that measures one table only; its value is the table's id.
const ONLY_TABLE_ENV: &str = "LOCKSCAN_SCALE_ONLY";

/// Table ids, matched by the filter argument.
const PER_OBJECT_PLAIN: &str = "per-object-plain";
const PER_OBJECT_BACKTRACE: &str = "per-object-backtrace";
const TIGHT: &str = "tight";

/// How many locks exist in the per-object workload, one row each, unless `--locks` says.
const LOCK_COUNTS: [usize; 4] = [64, 1_000, 4_000, 16_000];

/// A measurement whose sample took longer than this is not sampled again (see the module docs).
const SLOW_SAMPLE: Duration = Duration::from_secs(60);

fn main() -> ExitCode {
    let options = Options::from_args();
    if !lockscan::is_active() {
        eprintln!("error: lockscan's detection is off; run with --features detect-in-release");
        return ExitCode::FAILURE;
    }
    // None of the workloads has a cycle; collecting rather than panicking lets a finding that
    // should not be there be reported at the end instead of aborting the run.
    lockscan::set_policy(lockscan::Policy::Collect);

    let mut succeeded = true;
    if std::env::var(ONLY_TABLE_ENV).as_deref() == Ok(PER_OBJECT_BACKTRACE) {
        per_object_table(&options, "with RUST_BACKTRACE=1 (a stack per new edge)");
    } else {
        print_preamble(&options);
        if options.selects(PER_OBJECT_PLAIN) {
            let backtrace = std::env::var("RUST_BACKTRACE").unwrap_or_else(|_| "unset".into());
            per_object_table(&options, &format!("with RUST_BACKTRACE={backtrace}"));
        }
        if options.selects(PER_OBJECT_BACKTRACE) {
            succeeded &= per_object_table_in_child(&options);
        }
        if options.selects(TIGHT) || TIGHT_CASES.iter().any(|case| options.selects(case.id)) {
            tight_table(&options);
        }
    }
    succeeded &= no_findings();
    if succeeded {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}

/// The command line: an optional filter, `--quick` and `--locks`. Other flags (cargo bench
/// passes `--bench`) are ignored.
#[derive(Debug)]
struct Options {
    filter: Option<String>,
    quick: bool,
    lock_counts: Vec<usize>,
}

impl Options {
    fn from_args() -> Self {
        let mut options = Options {
            filter: None,
            quick: false,
            lock_counts: LOCK_COUNTS.to_vec(),
        };
        let mut args = std::env::args().skip(1);
        while let Some(arg) = args.next() {
            if arg == "--quick" {
                options.quick = true;
            } else if arg == "--locks" {
                let list = args.next().unwrap_or_default();
                options.lock_counts = list
                    .split(',')
                    .map(|count| match count.trim().parse() {
                        Ok(count) if count >= 3 => count,
                        _ => panic!("--locks takes lock counts of 3 or more, like 64,1000"),
                    })
                    .collect();
            } else if !arg.starts_with('-') && options.filter.is_none() {
                options.filter = Some(arg);
            }
        }
        options
    }

    /// The arguments that give a child process the same settings.
    fn child_args(&self) -> Vec<String> {
        let mut args = Vec::new();
        if self.quick {
            args.push("--quick".to_owned());
        }
        let counts: Vec<String> = self.lock_counts.iter().map(usize::to_string).collect();
        args.extend(["--locks".to_owned(), counts.join(",")]);
        args
    }

    /// Samples per measurement; the median is reported.
    fn samples(&self) -> usize {
        if self.quick { 3 } else { 7 }
    }

    /// Loop iterations per sample of a tight-loop case.
    fn tight_iterations(&self) -> u64 {
        if self.quick { 1_000_000 } else { 3_000_000 }
    }

    fn selects(&self, id: &str) -> bool {
        self.filter
            .as_deref()
            .is_none_or(|filter| id.contains(filter))
    }
}

fn print_preamble(options: &Options) {
    let load = std::fs::read_to_string("/proc/loadavg")
        .ok()
        .and_then(|text| text.split_whitespace().next().map(str::to_owned))
        .unwrap_or_else(|| "unknown".into());
    println!("# Lock cost against the number of locks");
    println!();
    println!(
        "parking_lot 0.12, tracing-mutex 0.3.3 (`parkinglot::tracing::Mutex`), lockscan {}; \
         median of {} samples; load average {load} at start.",
        env!("CARGO_PKG_VERSION"),
        options.samples(),
    );
    println!();
}

/// The floor: plain parking_lot, no detection.
type ParkingLotMutex = parking_lot::Mutex<u64>;
/// tracing-mutex's always-tracing parking_lot mutex (its top-level alias traces only in debug
/// builds, and benches are release builds).
type TracingMutex = tracing_mutex::parkinglot::tracing::Mutex<u64>;
type LockscanMutex = lockscan::Mutex<u64>;

impl BenchLock for TracingMutex {
    type Guard<'a> = tracing_mutex::parkinglot::tracing::MutexGuard<'a, u64>;
    const NAME: &'static str = "tracing-mutex";
    fn create(value: u64) -> Self {
        tracing_mutex::parkinglot::tracing::Mutex::new(value)
    }
    fn acquire(&self) -> Self::Guard<'_> {
        self.lock()
    }
}

/// The compared lock types' names, in the order of the `[_; 3]` arrays below.
const LOCK_NAMES: [&str; 3] = [
    ParkingLotMutex::NAME,
    TracingMutex::NAME,
    LockscanMutex::NAME,
];

/// The median of one measurement's samples, and how many were taken.
#[derive(Debug, Clone, Copy)]
struct Measured {
    median: Duration,
    samples: usize,
}

/// Takes up to `samples` samples and returns their median; stops after the first sample that
/// took longer than [`SLOW_SAMPLE`], so that a slow engine costs one sample, not seven.
fn measure(samples: usize, mut sample: impl FnMut() -> Duration) -> Measured {
    let mut times = Vec::with_capacity(samples);
    while times.len() < samples {
        let time = sample();
        times.push(time);
        if time > SLOW_SAMPLE {
            break;
        }
    }
    times.sort_unstable();
    Measured {
        median: times[times.len() / 2],
        samples: times.len(),
    }
}

/// Runs `operations` over `locks`: the timed region of one per-object sample.
fn run_operations<L: BenchLock>(locks: &[L], operations: &[Operation]) {
    for operation in operations {
        let [first, second, third] = operation.indices;
        let first = locks[first].acquire();
        let second = locks[second].acquire();
        if operation.count == 3 {
            let third = locks[third].acquire();
            black_box((&first, &second, &third));
        } else {
            black_box((&first, &second));
        }
        // Guards drop in reverse order of declaration: released innermost first.
    }
}

/// One per-object measurement: a fresh set of `lock_count` locks per sample (made and dropped
/// outside the timed region), since the detectors remember the edges of earlier samples. Each
/// sample runs the operations twice over the same locks: the first pass meets mostly new order
/// edges, the second only edges the detectors know already (the growth table's flat case).
fn measure_per_object<L: BenchLock>(
    lock_count: usize,
    operations: &[Operation],
    samples: usize,
) -> PerObject {
    let mut known = Vec::with_capacity(samples);
    let new_edges = measure(samples, || {
        let locks: Vec<L> = (0..lock_count as u64).map(L::create).collect();
        let start = Instant::now();
        run_operations(&locks, operations);
        let elapsed = start.elapsed();
        let start = Instant::now();
        run_operations(&locks, operations);
        known.push(start.elapsed());
        drop(black_box(locks));
        elapsed
    });
    known.sort_unstable();
    PerObject {
        new_edges,
        known: known[known.len() / 2],
    }
}

/// What [`measure_per_object`] measured: the first pass (edges mostly new), and the median of
/// the second passes (edges known).
#[derive(Debug, Clone, Copy)]
struct PerObject {
    new_edges: Measured,
    known: Duration,
}

/// [`measure_per_object`] for one lock type.
type PerObjectMeasurer = fn(usize, &[Operation], usize) -> PerObject;

/// The per-object table: one row per lock count, each lock type measured in turn.
fn per_object_table(options: &Options, condition: &str) {
    let measurers: [PerObjectMeasurer; 3] = [
        measure_per_object::<ParkingLotMutex>,
        measure_per_object::<TracingMutex>,
        measure_per_object::<LockscanMutex>,
    ];
    println!("## Per-object locks, {condition}");
    println!();
    println!(
        "One thread, N locks in a Vec, {OPERATIONS} operations each locking 2-3 distinct random \
         locks in ascending index order (never a cycle) and releasing them; fresh locks per \
         sample. Total ms per {OPERATIONS} operations and ns per operation; then the same \
         operations again over the same locks, every edge known (\"known ns/op\")."
    );
    println!();
    print!("| locks |");
    for name in LOCK_NAMES {
        print!(" {name} ms | {name} ns/op | {name} known ns/op |");
    }
    println!(
        " lockscan / tracing-mutex | lockscan / parking_lot | lockscan ns/op ÷ first row's | \
         known: lockscan / tracing-mutex | known: lockscan / parking_lot | known: lockscan ÷ \
         first row's |"
    );
    println!(
        "|---:|{}---:|---:|---:|---:|---:|---:|",
        "---:|---:|---:|".repeat(LOCK_NAMES.len())
    );
    let _ = std::io::stdout().flush();

    let mut lockscan_at_smallest = None;
    for &lock_count in &options.lock_counts {
        let operations = per_object_operations(lock_count);
        // Print each cell as it is measured: a slow engine should not hide the fast ones.
        print!("| {lock_count} |");
        let _ = std::io::stdout().flush();
        let measured = measurers.map(|measurer| {
            let measured = measurer(lock_count, &operations, options.samples());
            let new_edges = measured.new_edges;
            let ns_per_op = nanos(new_edges.median) / OPERATIONS as f64;
            let known_per_op = nanos(measured.known) / OPERATIONS as f64;
            print!(
                " {} | {ns_per_op:.1} | {known_per_op:.1} |",
                with_sample_note(
                    format!("{:.2}", millis(new_edges.median)),
                    new_edges,
                    options.samples()
                )
            );
            let _ = std::io::stdout().flush();
            measured
        });
        let [parking_lot, tracing_mutex, lockscan] = measured.map(|m| nanos(m.new_edges.median));
        let [known_parking_lot, known_tracing_mutex, known_lockscan] =
            measured.map(|m| nanos(m.known));
        let (smallest, known_smallest) =
            *lockscan_at_smallest.get_or_insert((lockscan, known_lockscan));
        println!(
            " {} | {} | {} | {} | {} | {} |",
            ratio(lockscan, tracing_mutex),
            ratio(lockscan, parking_lot),
            ratio(lockscan, smallest),
            ratio(known_lockscan, known_tracing_mutex),
            ratio(known_lockscan, known_parking_lot),
            ratio(known_lockscan, known_smallest),
        );
    }
    println!();
}

/// Runs the per-object table again in a child process with `RUST_BACKTRACE=1`: both detectors
/// decide once per process whether to capture stacks. Returns whether the child succeeded.
fn per_object_table_in_child(options: &Options) -> bool {
    let _ = std::io::stdout().flush();
    let exe = match std::env::current_exe() {
        Ok(exe) => exe,
        Err(err) => {
            eprintln!("error: cannot find this program to run the backtrace table: {err}");
            return false;
        }
    };
    let mut child = Command::new(exe);
    child.args(options.child_args());
    // `RUST_LIB_BACKTRACE` would override `RUST_BACKTRACE` for std's `Backtrace`, which
    // tracing-mutex uses.
    child
        .env(ONLY_TABLE_ENV, PER_OBJECT_BACKTRACE)
        .env("RUST_BACKTRACE", "1")
        // lockscan takes stacks only when asked by its own variable: both detectors capture.
        .env("LOCKSCAN_BACKTRACE", "1")
        .env_remove("RUST_LIB_BACKTRACE");
    match child.status() {
        Ok(status) if status.success() => true,
        Ok(status) => {
            eprintln!("error: the RUST_BACKTRACE=1 table's process failed: {status}");
            false
        }
        Err(err) => {
            eprintln!("error: cannot run the RUST_BACKTRACE=1 table's process: {err}");
            false
        }
    }
}

/// A tight-loop case: `run` times `iterations` loop iterations and returns the elapsed time
/// and how many units (the quantity a row reports per) that was.
#[derive(Debug)]
struct TightCase {
    id: &'static str,
    label: &'static str,
    /// One function per lock type, in [`LOCK_NAMES`] order.
    run: [fn(u64) -> (Duration, u64); 3],
}

const TIGHT_CASES: [TightCase; 6] = [
    TightCase {
        id: "uncontended",
        label: "uncontended lock+unlock",
        run: [
            uncontended::<ParkingLotMutex>,
            uncontended::<TracingMutex>,
            uncontended::<LockscanMutex>,
        ],
    },
    TightCase {
        id: "private-locks",
        label: "4 threads × private lock (per lock+unlock)",
        run: [
            private_locks_four_threads::<ParkingLotMutex>,
            private_locks_four_threads::<TracingMutex>,
            private_locks_four_threads::<LockscanMutex>,
        ],
    },
    TightCase {
        id: "nested-pair",
        label: "nested pair A→B, edge already known",
        run: [
            nested_pair_known::<ParkingLotMutex>,
            nested_pair_known::<TracingMutex>,
            nested_pair_known::<LockscanMutex>,
        ],
    },
    TightCase {
        id: "private-pairs",
        label: "4 threads × private nested pair (per pair)",
        run: [
            private_pairs_four_threads::<ParkingLotMutex>,
            private_pairs_four_threads::<TracingMutex>,
            private_pairs_four_threads::<LockscanMutex>,
        ],
    },
    TightCase {
        id: "create-lock-drop",
        label: "new lock, locked under a long-lived lock, dropped",
        run: [
            create_lock_drop::<ParkingLotMutex>,
            create_lock_drop::<TracingMutex>,
            create_lock_drop::<LockscanMutex>,
        ],
    },
    TightCase {
        id: "readers",
        label: "16 threads × read of one RwLock (per read)",
        run: [
            readers_of_one_lock::<parking_lot::RwLock<u64>>,
            readers_of_one_lock::<tracing_mutex::parkinglot::tracing::RwLock<u64>>,
            readers_of_one_lock::<lockscan::RwLock<u64>>,
        ],
    },
];

/// A read-write lock the readers case reads.
trait ReadLock: Sync + Send + 'static {
    fn create(value: u64) -> Self;
    fn read_value(&self) -> u64;
}

impl ReadLock for parking_lot::RwLock<u64> {
    fn create(value: u64) -> Self {
        parking_lot::RwLock::new(value)
    }
    fn read_value(&self) -> u64 {
        *self.read()
    }
}

impl ReadLock for tracing_mutex::parkinglot::tracing::RwLock<u64> {
    fn create(value: u64) -> Self {
        tracing_mutex::parkinglot::tracing::RwLock::new(value)
    }
    fn read_value(&self) -> u64 {
        *self.read()
    }
}

impl ReadLock for lockscan::RwLock<u64> {
    fn create(value: u64) -> Self {
        lockscan::RwLock::new(value)
    }
    fn read_value(&self) -> u64 {
        *self.read()
    }
}

/// A read-mostly workload: 16 threads reading one lock (a shard of a concurrent map), each
/// `iterations / 16` times; wall time per read. Only the lock word should move between cores.
fn readers_of_one_lock<L: ReadLock>(iterations: u64) -> (Duration, u64) {
    const THREADS: u64 = 16;
    let per_thread = iterations / THREADS;
    let lock = L::create(1);
    let start = Instant::now();
    std::thread::scope(|scope| {
        for _ in 0..THREADS {
            scope.spawn(|| {
                for _ in 0..per_thread {
                    black_box(lock.read_value());
                }
            });
        }
    });
    (start.elapsed(), THREADS * per_thread)
}

fn uncontended<L: BenchLock>(iterations: u64) -> (Duration, u64) {
    let lock = L::create(0);
    let start = Instant::now();
    for _ in 0..iterations {
        drop(black_box(lock.acquire()));
    }
    (start.elapsed(), iterations)
}

/// Four threads each locking and unlocking a lock of its own: wall time over all four threads'
/// acquisitions, so that what the threads share besides their locks (a global word written per
/// acquisition, a cache line of the detector's) shows as a cost per acquisition.
fn private_locks_four_threads<L: BenchLock>(iterations: u64) -> (Duration, u64) {
    on_four_threads(iterations, |iterations| {
        let lock = L::create(0);
        for _ in 0..iterations {
            drop(black_box(lock.acquire()));
        }
    })
}

/// Runs `work(iterations)` on four threads side by side; the wall time and the iterations of
/// all four.
fn on_four_threads(iterations: u64, work: impl Fn(u64) + Sync) -> (Duration, u64) {
    const THREADS: u64 = 4;
    let start = Instant::now();
    std::thread::scope(|scope| {
        for _ in 0..THREADS {
            scope.spawn(|| work(iterations));
        }
    });
    (start.elapsed(), THREADS * iterations)
}

fn nested_pair_known<L: BenchLock>(iterations: u64) -> (Duration, u64) {
    let (a, b) = (L::create(0), L::create(1));
    nest(&a, &b); // the edge A→B is known before timing starts
    let start = Instant::now();
    for _ in 0..iterations {
        nest(&a, &b);
    }
    (start.elapsed(), iterations)
}

/// Locks `outer`, then `inner` under it; releases `inner` first.
fn nest<L: BenchLock>(outer: &L, inner: &L) {
    let outer = outer.acquire();
    let inner = inner.acquire();
    black_box((&outer, &inner));
}

/// Four threads each nesting their own pair: wall time over all four threads' pairs, so the
/// figure is the throughput cost per pair with the threads running side by side.
fn private_pairs_four_threads<L: BenchLock>(iterations: u64) -> (Duration, u64) {
    on_four_threads(iterations, |iterations| {
        let (a, b) = (L::create(0), L::create(1));
        for _ in 0..iterations {
            nest(&a, &b);
        }
    })
}

/// A new order edge every iteration, and a lock the detectors must forget again on drop.
fn create_lock_drop<L: BenchLock>(iterations: u64) -> (Duration, u64) {
    let outer = L::create(0);
    let held = outer.acquire();
    let start = Instant::now();
    for _ in 0..iterations {
        let inner = L::create(1);
        drop(black_box(inner.acquire()));
        drop(inner);
    }
    let elapsed = start.elapsed();
    drop(held);
    (elapsed, iterations)
}

fn tight_table(options: &Options) {
    let iterations = options.tight_iterations();
    println!("## Tight loops");
    println!();
    println!("ns per iteration, {iterations} iterations per sample.");
    println!();
    print!("| case |");
    for name in LOCK_NAMES {
        print!(" {name} ns |");
    }
    println!(" tracing-mutex / parking_lot | lockscan / parking_lot | lockscan / tracing-mutex |");
    println!("|---|{}---:|---:|---:|", "---:|".repeat(LOCK_NAMES.len()));
    for case in &TIGHT_CASES {
        if !(options.selects(TIGHT) || options.selects(case.id)) {
            continue;
        }
        print!("| {} |", case.label);
        let _ = std::io::stdout().flush();
        let per_unit = case.run.map(|run| {
            let mut units = 1;
            let measured = measure(options.samples(), || {
                let (elapsed, counted) = run(iterations);
                units = counted;
                elapsed
            });
            let ns = nanos(measured.median) / units as f64;
            print!(
                " {} |",
                with_sample_note(format!("{ns:.2}"), measured, options.samples())
            );
            let _ = std::io::stdout().flush();
            ns
        });
        let [parking_lot, tracing_mutex, lockscan] = per_unit;
        println!(
            " {} | {} | {} |",
            ratio(tracing_mutex, parking_lot),
            ratio(lockscan, parking_lot),
            ratio(lockscan, tracing_mutex),
        );
    }
    println!();
}

/// Checks that lockscan found nothing (none of the workloads has a cycle); says so loudly if
/// it did, since the figures then measured reporting rather than detection.
fn no_findings() -> bool {
    let findings = lockscan::findings();
    if findings.is_empty() {
        return true;
    }
    eprintln!();
    eprintln!("!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!");
    eprintln!(
        "ERROR: lockscan reported {} finding(s) on workloads that have no cycle:",
        findings.len()
    );
    for finding in &findings {
        eprintln!("  {}: {}", finding.kind.as_str(), finding.message);
    }
    eprintln!("!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!");
    false
}

/// A table cell, with a note when the measurement was cut short by [`SLOW_SAMPLE`].
fn with_sample_note(cell: String, measured: Measured, requested: usize) -> String {
    match measured.samples {
        taken if taken >= requested => cell,
        1 => format!("{cell} (1 sample)"),
        taken => format!("{cell} ({taken} samples)"),
    }
}

fn nanos(duration: Duration) -> f64 {
    duration.as_secs_f64() * 1e9
}

fn millis(duration: Duration) -> f64 {
    duration.as_secs_f64() * 1e3
}

fn ratio(numerator: f64, denominator: f64) -> String {
    format!("{:.2}×", numerator / denominator)
}
