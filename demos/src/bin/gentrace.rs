//! Writes synthetic lock traces of a chosen shape and size, for measuring how `lockscan
//! analyze` (and `lockscan export`) scale with events, locks, threads and held locks.
//!
//! ```text
//! gentrace SHAPE [OPTIONS] -o FILE [--format jsonl|compact|std]
//! ```
//!
//! The output is a lockscan JSONL trace (header, thread and lock declarations, acquire and
//! release records with sites, an `end` record), the same in lockscan's compact encoding with
//! `--format compact`, or with `--format std` a RAPID STD trace.
//! Records are streamed through a buffer: 10^8 events take no more memory than 10.
//! Every shape has a known verdict, printed on standard error when the trace is written.

use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::process::ExitCode;

use lockscan::trace::{CompactWriter, Event, Header, JsonlWriter, TraceWrite};
use lockscan::{Flavour, LockId, LockKind, Mode, ThreadId};

const USAGE: &str = "\
usage: gentrace SHAPE [OPTIONS] -o FILE [--format jsonl|compact|std]

shapes (expected verdict in brackets):
  nested  --events N --threads T --locks L --seed S
          T threads, one operation at a time in random order, each locking 2-3 distinct random
          locks of L in ascending order and releasing them in reverse, until about N lock
          events; then one AB/BA inversion between threads 1 and 2 on two more locks
          [exactly one potential-deadlock]
  chain   --locks N
          one thread taking N locks hand over hand [no finding]
  deep    --threads T --depth D [--reverse]
          each thread in turn holds the same D locks at once, then releases them; --reverse:
          every second thread takes them in the opposite order [no finding; --reverse:
          potential deadlocks]
  threads --threads T
          a main thread spawns T threads one after another, each taking lock A then lock B,
          and joins each before spawning the next [no finding]
  holds   --holds H
          one thread taking and releasing one lock H times [no finding]

options:
  -o, --output FILE   where to write the trace (`-` is standard output)
  --format FORMAT     jsonl (default: lockscan's trace format), compact (its compact
                      encoding) or std (RAPID STD)
  numbers may contain `_` separators (3_000_000)

defaults: --events 1_000_000 --threads 8 (deep: 2) --locks 1000 --seed 1 --depth 1000
          --holds 100_000";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.iter().any(|arg| arg == "-h" || arg == "--help") {
        println!("{USAGE}");
        return ExitCode::SUCCESS;
    }
    let config = match Config::parse(&args) {
        Ok(config) => config,
        Err(message) => {
            eprintln!("gentrace: {message}\n\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    match generate(&config) {
        Ok(written) => {
            eprintln!(
                "gentrace: wrote {} lock events ({} lines) to {}; expected: {}",
                written.lock_events,
                written.lines,
                config.output,
                config.shape.expected_verdict(),
            );
            ExitCode::SUCCESS
        }
        Err(err) => {
            eprintln!("gentrace: cannot write {}: {err}", config.output);
            ExitCode::from(2)
        }
    }
}

/// What to generate, with each shape's own parameters.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Shape {
    Nested {
        events: u64,
        threads: u64,
        locks: u64,
        seed: u64,
    },
    Chain {
        locks: u64,
    },
    Deep {
        threads: u64,
        depth: u64,
        reverse: bool,
    },
    Threads {
        threads: u64,
    },
    Holds {
        holds: u64,
    },
}

impl Shape {
    fn expected_verdict(&self) -> &'static str {
        match self {
            Shape::Nested { .. } => "exactly one potential-deadlock finding",
            Shape::Deep { reverse: true, .. } => "potential-deadlock findings",
            _ => "no finding",
        }
    }
}

/// The output syntax.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Format {
    /// lockscan's JSON Lines trace format.
    Jsonl,
    /// lockscan's compact encoding.
    Compact,
    /// RAPID's `THREAD|OP(ARG)|LOC` text format.
    Std,
}

#[derive(Debug)]
struct Config {
    shape: Shape,
    format: Format,
    output: String,
}

impl Config {
    fn parse(args: &[String]) -> Result<Config, String> {
        let (shape_name, rest) = args.split_first().ok_or("no shape given")?;
        let mut output = None;
        let mut format = Format::Jsonl;
        let mut numbers: Vec<(&str, u64)> = Vec::new();
        let mut reverse = false;
        let mut rest = rest.iter();
        while let Some(arg) = rest.next() {
            let mut value = || {
                rest.next()
                    .map(String::as_str)
                    .ok_or_else(|| format!("{arg} needs a value"))
            };
            match arg.as_str() {
                "-o" | "--output" => output = Some(value()?.to_owned()),
                "--format" => {
                    format = match value()? {
                        "jsonl" | "json" => Format::Jsonl,
                        "compact" => Format::Compact,
                        "std" => Format::Std,
                        other => return Err(format!("unknown format `{other}`")),
                    }
                }
                "--reverse" => reverse = true,
                "--events" | "--threads" | "--locks" | "--seed" | "--depth" | "--holds" => {
                    let text = value()?;
                    let number = text
                        .replace('_', "")
                        .parse()
                        .map_err(|_| format!("{arg} takes a number, not `{text}`"))?;
                    numbers.push((&arg[2..], number));
                }
                other => return Err(format!("unknown argument `{other}`")),
            }
        }
        let output = output.ok_or("no output file given (-o FILE)")?;
        // Each shape takes only its own options: a misplaced one is more likely a mistake than
        // something to ignore silently.
        let allowed: &[&str] = match shape_name.as_str() {
            "nested" => &["events", "threads", "locks", "seed"],
            "chain" => &["locks"],
            "deep" => &["threads", "depth"],
            "threads" => &["threads"],
            "holds" => &["holds"],
            other => return Err(format!("unknown shape `{other}`")),
        };
        if let Some((name, _)) = numbers.iter().find(|(name, _)| !allowed.contains(name)) {
            return Err(format!("shape `{shape_name}` takes no --{name}"));
        }
        if reverse && shape_name != "deep" {
            return Err("--reverse is for the `deep` shape".into());
        }
        let get = |name: &str, default: u64| {
            numbers
                .iter()
                .rev()
                .find(|(given, _)| *given == name)
                .map_or(default, |&(_, value)| value)
        };
        let shape = match shape_name.as_str() {
            "nested" => Shape::Nested {
                events: get("events", 1_000_000),
                threads: get("threads", 8),
                locks: get("locks", 1000),
                seed: get("seed", 1),
            },
            "chain" => Shape::Chain {
                locks: get("locks", 1000),
            },
            "deep" => Shape::Deep {
                threads: get("threads", 2),
                depth: get("depth", 1000),
                reverse,
            },
            "threads" => Shape::Threads {
                threads: get("threads", 8),
            },
            _ => Shape::Holds {
                holds: get("holds", 100_000),
            },
        };
        match shape {
            Shape::Nested { threads, locks, .. } if threads < 2 || locks < 3 => Err(
                "nested needs --threads 2 or more (the inversion is between two threads) \
                     and --locks 3 or more"
                    .into(),
            ),
            Shape::Chain { locks: 0 }
            | Shape::Deep { depth: 0, .. }
            | Shape::Deep { threads: 0, .. }
            | Shape::Threads { threads: 0 } => Err("counts must be at least 1".into()),
            Shape::Deep {
                threads: 1,
                reverse: true,
                ..
            } => Err("--reverse needs --threads 2 or more".into()),
            shape => Ok(Config {
                shape,
                format,
                output,
            }),
        }
    }
}

/// How much was written.
#[derive(Debug)]
struct Written {
    lock_events: u64,
    lines: u64,
}

fn generate(config: &Config) -> io::Result<Written> {
    let sink: Box<dyn Write> = if config.output == "-" {
        Box::new(io::stdout().lock())
    } else {
        Box::new(File::create(&config.output)?)
    };
    let mut trace = TraceWriter::new(sink, config.format)?;
    match config.shape {
        Shape::Nested {
            events,
            threads,
            locks,
            seed,
        } => nested(&mut trace, events, threads, locks, seed)?,
        Shape::Chain { locks } => chain(&mut trace, locks)?,
        Shape::Deep {
            threads,
            depth,
            reverse,
        } => deep(&mut trace, threads, depth, reverse)?,
        Shape::Threads { threads } => spawned_threads(&mut trace, threads)?,
        Shape::Holds { holds } => repeated_holds(&mut trace, holds)?,
    }
    trace.finish()
}

/// A source position, written as `gentrace/FILE:LINE:COL` in JSONL and as `LINE` in STD.
#[derive(Debug, Clone, Copy)]
struct Site {
    file: &'static str,
    line: u32,
}

const fn site(file: &'static str, line: u32) -> Site {
    Site { file, line }
}

/// Writes one trace, record by record, in any of the formats: lockscan's two through its
/// writers, STD by hand (lockscan reads STD but does not write it).
struct TraceWriter {
    /// The STD text, or the encoded records' destination.
    out: BufWriter<Box<dyn Write>>,
    /// lockscan's writer, for `--format jsonl` and `compact`: records go into its buffer, which
    /// is moved to `out` now and then.
    encoder: Option<Box<dyn TraceWrite>>,
    /// Where `encoder` writes: shared with it.
    encoded: Buffer,
    /// The sites, made once each.
    sites: std::collections::HashMap<(&'static str, u32, u32), lockscan::Site>,
    /// STD lines written.
    lines: u64,
    lock_events: u64,
}

/// A buffer that a boxed writer writes into and the trace writer empties.
#[derive(Clone, Default)]
struct Buffer(std::rc::Rc<std::cell::RefCell<Vec<u8>>>);

impl Write for Buffer {
    fn write(&mut self, bytes: &[u8]) -> io::Result<usize> {
        self.0.borrow_mut().extend_from_slice(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl TraceWriter {
    fn new(sink: Box<dyn Write>, format: Format) -> io::Result<Self> {
        let encoded = Buffer::default();
        let header = Header {
            version: 1,
            tool: Some("gentrace".into()),
            pid: None,
            program: Some("gentrace".into()),
        };
        let encoder: Option<Box<dyn TraceWrite>> = match format {
            Format::Compact => Some(Box::new(CompactWriter::new(encoded.clone(), &header)?)),
            Format::Jsonl => {
                let mut writer = JsonlWriter::new(encoded.clone());
                writer.write(&Event::Header(header))?;
                Some(Box::new(writer))
            }
            Format::Std => None,
        };
        Ok(TraceWriter {
            out: BufWriter::with_capacity(1 << 20, sink),
            encoder,
            encoded,
            sites: std::collections::HashMap::new(),
            lines: 0,
            lock_events: 0,
        })
    }

    /// The site for `at`, column `column`.
    fn site(&mut self, at: Site, column: u32) -> Option<lockscan::Site> {
        let site = self
            .sites
            .entry((at.file, at.line, column))
            .or_insert_with(|| {
                lockscan::Site::from(format!("gentrace/{}:{}:{column}", at.file, at.line).as_str())
            });
        Some(site.clone())
    }

    /// Writes an event through lockscan's writer, moving the encoded bytes out now and then;
    /// `false` for STD, which the caller writes itself.
    fn encode(&mut self, event: impl FnOnce(&mut Self) -> Event) -> io::Result<bool> {
        if self.encoder.is_none() {
            return Ok(false);
        }
        let event = event(self);
        let encoder = self.encoder.as_mut().expect("checked above");
        encoder.write(&event)?;
        let mut encoded = self.encoded.0.borrow_mut();
        if encoded.len() >= 1 << 16 {
            self.out.write_all(&encoded)?;
            encoded.clear();
        }
        Ok(true)
    }

    /// Declares a thread (STD has no declarations).
    fn thread(&mut self, tid: u64, name: &str, parent: Option<u64>) -> io::Result<()> {
        self.encode(|_| Event::Thread {
            tid: ThreadId(tid),
            name: Some(name.into()),
            parent: parent.map(ThreadId),
        })?;
        Ok(())
    }

    /// Declares a mutex created at `created` (STD has no declarations); `name` for locks that a
    /// finding should name readably.
    fn lock(&mut self, lock: u64, name: Option<&str>, created: Site) -> io::Result<()> {
        self.encode(|trace| Event::Lock {
            lock: LockId(lock),
            kind: LockKind::Mutex,
            name: name.map(Into::into),
            class: None,
            site: trace.site(created, 17),
            rank: None,
        })?;
        Ok(())
    }

    fn acquire(&mut self, tid: u64, lock: u64, at: Site) -> io::Result<()> {
        self.lock_event(true, tid, lock, at)
    }

    fn release(&mut self, tid: u64, lock: u64, at: Site) -> io::Result<()> {
        self.lock_event(false, tid, lock, at)
    }

    fn lock_event(&mut self, acquire: bool, tid: u64, lock: u64, at: Site) -> io::Result<()> {
        self.lock_events += 1;
        let encoded = self.encode(|trace| {
            let (tid, lock, site) = (ThreadId(tid), LockId(lock), trace.site(at, 9));
            let mode = Mode::Exclusive;
            if acquire {
                Event::Acquire {
                    tid,
                    lock,
                    mode,
                    try_lock: false,
                    flavour: Flavour::Plain,
                    site,
                }
            } else {
                Event::Release {
                    tid,
                    lock,
                    mode,
                    site,
                }
            }
        })?;
        if !encoded {
            let op = if acquire { "acq" } else { "rel" };
            self.lines += 1;
            writeln!(self.out, "T{tid}|{op}(L{lock})|{}", at.line)?;
        }
        Ok(())
    }

    fn spawn(&mut self, tid: u64, child: u64, at: Site) -> io::Result<()> {
        self.thread_event(true, tid, child, at)
    }

    fn join(&mut self, tid: u64, child: u64, at: Site) -> io::Result<()> {
        self.thread_event(false, tid, child, at)
    }

    fn thread_event(&mut self, spawn: bool, tid: u64, child: u64, at: Site) -> io::Result<()> {
        let encoded = self.encode(|trace| {
            let (tid, child, site) = (ThreadId(tid), ThreadId(child), trace.site(at, 5));
            if spawn {
                Event::Spawn { tid, child, site }
            } else {
                Event::Join { tid, child, site }
            }
        })?;
        if !encoded {
            let op = if spawn { "fork" } else { "join" };
            self.lines += 1;
            writeln!(self.out, "T{tid}|{op}(T{child})|{}", at.line)?;
        }
        Ok(())
    }

    /// Writes the `end` record (lockscan's formats) and flushes.
    fn finish(mut self) -> io::Result<Written> {
        let end = Event::End {
            events: None,
            dropped: Some(0),
        };
        self.encode(|_| end)?;
        let lines = match &self.encoder {
            Some(encoder) => encoder.records(),
            None => self.lines,
        };
        self.out.write_all(&self.encoded.0.borrow())?;
        self.out.flush()?;
        Ok(Written {
            lock_events: self.lock_events,
            lines,
        })
    }
}

/// Random nested operations of `threads` threads over locks 1..=`locks`, then one AB/BA
/// inversion on two extra locks, so that the only cycle in the trace is the planted one.
fn nested(
    trace: &mut TraceWriter,
    events: u64,
    threads: u64,
    locks: u64,
    seed: u64,
) -> io::Result<()> {
    const FILE: &str = "nested.rs";
    const ACQUIRE: [Site; 3] = [site(FILE, 21), site(FILE, 22), site(FILE, 23)];
    const RELEASE: [Site; 3] = [site(FILE, 31), site(FILE, 32), site(FILE, 33)];
    for tid in 1..=threads {
        trace.thread(tid, &format!("worker-{tid}"), None)?;
    }
    for lock in 1..=locks {
        trace.lock(lock, None, site(FILE, 10))?;
    }
    let (first, second) = (locks + 1, locks + 2);
    trace.lock(first, Some("inversion:X"), site(FILE, 11))?;
    trace.lock(second, Some("inversion:Y"), site(FILE, 12))?;

    let mut rng = fastrand::Rng::with_seed(seed);
    let mut held = [0_u64; 3];
    let mut written = 0;
    while written < events {
        // One thread's whole operation at a time: no lock is ever held by two threads.
        let tid = 1 + rng.u64(..threads);
        let count = rng.usize(2..4);
        let mut chosen = 0;
        while chosen < count {
            let lock = 1 + rng.u64(..locks);
            if !held[..chosen].contains(&lock) {
                held[chosen] = lock;
                chosen += 1;
            }
        }
        held[..count].sort_unstable();
        for (depth, &lock) in held[..count].iter().enumerate() {
            trace.acquire(tid, lock, ACQUIRE[depth])?;
        }
        for (depth, &lock) in held[..count].iter().enumerate().rev() {
            trace.release(tid, lock, RELEASE[depth])?;
        }
        written += 2 * count as u64;
    }

    // The planted inversion, taken one thread after the other (nothing blocks).
    trace.acquire(1, first, site(FILE, 41))?;
    trace.acquire(1, second, site(FILE, 42))?;
    trace.release(1, second, site(FILE, 43))?;
    trace.release(1, first, site(FILE, 44))?;
    trace.acquire(2, second, site(FILE, 51))?;
    trace.acquire(2, first, site(FILE, 52))?;
    trace.release(2, first, site(FILE, 53))?;
    trace.release(2, second, site(FILE, 54))
}

/// One thread taking locks 1..=`locks` hand over hand: lock 1, lock 2, release 1, lock 3,
/// release 2, ... Each lock is held with exactly one other.
fn chain(trace: &mut TraceWriter, locks: u64) -> io::Result<()> {
    const FILE: &str = "chain.rs";
    trace.thread(1, "main", None)?;
    for lock in 1..=locks {
        trace.lock(lock, None, site(FILE, 10))?;
    }
    trace.acquire(1, 1, site(FILE, 20))?;
    for lock in 2..=locks {
        trace.acquire(1, lock, site(FILE, 21))?;
        trace.release(1, lock - 1, site(FILE, 22))?;
    }
    trace.release(1, locks, site(FILE, 23))
}

/// Each thread in turn holding locks 1..=`depth` at once; with `reverse`, every second
/// thread takes them from `depth` down to 1.
fn deep(trace: &mut TraceWriter, threads: u64, depth: u64, reverse: bool) -> io::Result<()> {
    const FILE: &str = "deep.rs";
    for tid in 1..=threads {
        trace.thread(tid, &format!("holder-{tid}"), None)?;
    }
    for lock in 1..=depth {
        trace.lock(lock, None, site(FILE, 10))?;
    }
    for tid in 1..=threads {
        let mut order: Vec<u64> = (1..=depth).collect();
        if reverse && tid % 2 == 0 {
            order.reverse();
        }
        for &lock in &order {
            trace.acquire(tid, lock, site(FILE, 20))?;
        }
        for &lock in order.iter().rev() {
            trace.release(tid, lock, site(FILE, 21))?;
        }
    }
    Ok(())
}

/// A main thread (tid 1) spawning `threads` threads (tids 2..), one after another, each
/// taking lock A then lock B; each is joined before the next is spawned.
fn spawned_threads(trace: &mut TraceWriter, threads: u64) -> io::Result<()> {
    const FILE: &str = "threads.rs";
    const MAIN: u64 = 1;
    const A: u64 = 1;
    const B: u64 = 2;
    trace.thread(MAIN, "main", None)?;
    trace.lock(A, Some("A"), site(FILE, 10))?;
    trace.lock(B, Some("B"), site(FILE, 11))?;
    for child in MAIN + 1..=MAIN + threads {
        trace.spawn(MAIN, child, site(FILE, 20))?;
        trace.thread(child, &format!("worker-{child}"), Some(MAIN))?;
        trace.acquire(child, A, site(FILE, 30))?;
        trace.acquire(child, B, site(FILE, 31))?;
        trace.release(child, B, site(FILE, 32))?;
        trace.release(child, A, site(FILE, 33))?;
        trace.join(MAIN, child, site(FILE, 21))?;
    }
    Ok(())
}

/// One thread taking and releasing one lock `holds` times: many short holds for timeline
/// exports (`lockscan export --format chrome`).
fn repeated_holds(trace: &mut TraceWriter, holds: u64) -> io::Result<()> {
    const FILE: &str = "holds.rs";
    trace.thread(1, "main", None)?;
    trace.lock(1, Some("hot"), site(FILE, 10))?;
    for _ in 0..holds {
        trace.acquire(1, 1, site(FILE, 20))?;
        trace.release(1, 1, site(FILE, 21))?;
    }
    Ok(())
}
