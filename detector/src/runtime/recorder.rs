//! Recording: lock operations become trace events (format: ../shared/design/trace-format.md).
//!
//! Each thread encodes its events into a ring buffer of its own ([`log`], [`ring`]): the hot
//! path takes no lock. Every operation on a shared object carries the object's operation number
//! ([`RecordSeq`], taken while holding the lock), from which the trace's reader restores one
//! replay order (trace::compact's `merge`). A writer thread collects the rings every few
//! milliseconds into `block`s, with the declarations and sites the threads added meanwhile, and
//! writes them out, so a process killed mid-run leaves a readable prefix. A compact trace takes
//! the blocks as they are; a JSONL trace takes the declarations as events and the blocks' events
//! in one replay order (`trace::compact::BlockOrder`), through the JSONL writer: the recorder
//! only writes, and never reads a trace back. When the writer
//! falls behind, a thread's ring grows, up to a limit, and then the thread waits for the writer:
//! events are never dropped.

mod log;
mod ring;
mod seq;

use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::panic::Location;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU8, AtomicU64, Ordering};
use std::thread::JoinHandle;
use std::time::Duration;

use rustc_hash::FxHashSet;

pub(crate) use log::Rec;
#[cfg(all(lockscan_active, feature = "tokio"))]
pub(crate) use log::TaskLog;
// These two are used by the active runtime only (detection off, this module is dead code).
#[cfg(lockscan_active)]
pub(crate) use log::record;
use ring::{Consumer, Ring};
#[cfg(lockscan_active)]
pub(crate) use seq::RecordSeq;

use crate::ids::{CondvarId, LockId, LockKind, ThreadId, VarId};
use crate::raw::{Condvar, Mutex};
use crate::site::Site;
use crate::trace::compact::{self, BlockOrder, CompactWriter};
use crate::trace::format::block::MAX_RECORD;
use crate::trace::format::records::{SiteNumbers, block_header};
use crate::trace::{Event, Header, JsonlWriter, TraceWrite};

const UNKNOWN: u8 = 0;
const OFF: u8 = 1;
const ON: u8 = 2;

static STATE: AtomicU8 = AtomicU8::new(UNKNOWN);
/// Which recording is running; objects number their operations per recording.
static EPOCH: AtomicU64 = AtomicU64::new(0);

/// How often the writer collects the rings when nobody asks it to.
const FLUSH_EVERY: Duration = Duration::from_millis(20);

/// What the threads share with the writer, under one lock that the hot path never takes: the
/// rings, and the records that are not any one thread's (declarations, sites, findings), in
/// file order.
struct Recording {
    active: bool,
    /// Records collected and not written yet.
    collected: Collected,
    /// The rings, in the order they were registered: a thread's replaced ring comes before
    /// its successor.
    rings: Vec<(Arc<Ring>, Consumer)>,
    /// The threads declared in this recording.
    threads: FxHashSet<ThreadId>,
}

static REC: Mutex<Recording> = Mutex::new(Recording {
    active: false,
    collected: Collected::Idle,
    rings: Vec::new(),
    threads: FxHashSet::with_hasher(rustc_hash::FxBuildHasher),
});

/// The records collected for the writer, in the trace's encoding.
enum Collected {
    /// No recording.
    Idle,
    /// A compact trace's bytes: the records as the file has them.
    Compact(CompactWriter<Vec<u8>>),
    /// A JSONL trace's records, for the writer to order and format (off the threads' lock).
    Jsonl {
        records: Vec<Item>,
        sites: SiteNumbers,
    },
}

/// A record of a JSONL trace, as collected.
enum Item {
    /// The next site number stands for this site.
    Site(Site),
    /// A declaration or a finding.
    Event(Event),
    /// A block of a thread's records (`trace::format::block`).
    Block {
        tid: u64,
        bytes: Vec<u8>,
        records: u64,
        detached: bool,
    },
}

impl Collected {
    /// The number of `site`, defining it first if it is new.
    fn site(&mut self, site: &'static Location<'static>) -> u64 {
        let site = Site::from(site);
        match self {
            Collected::Idle => 0,
            Collected::Compact(writer) => writer.site(&site),
            Collected::Jsonl { records, sites } => {
                let (number, new) = sites.number(&site);
                if new.is_some() {
                    records.push(Item::Site(site));
                }
                number
            }
        }
    }

    /// A record that is no thread's.
    fn event(&mut self, event: Event) {
        match self {
            Collected::Idle => {}
            // Writing into a `Vec` does not fail.
            Collected::Compact(writer) => {
                let _ = writer.write(&event);
            }
            Collected::Jsonl { records, .. } => records.push(Item::Event(event)),
        }
    }

    /// A block of thread `tid`'s `records` records `bytes`.
    fn block(&mut self, tid: u64, bytes: &[u8], records: u64, detached: bool) {
        match self {
            Collected::Idle => {}
            Collected::Compact(writer) => writer.block(|out| {
                block_header(out, tid, records, bytes.len() as u64, detached);
                out.extend_from_slice(bytes);
                records
            }),
            Collected::Jsonl { records: items, .. } => items.push(Item::Block {
                tid,
                bytes: bytes.to_vec(),
                records,
                detached,
            }),
        }
    }

    /// What was collected so far, for the writer; `spare` is the last batch's buffer, reused.
    fn take(&mut self, spare: Batch) -> Batch {
        match (self, spare) {
            (Collected::Idle, spare) => spare,
            (Collected::Compact(writer), Batch::Bytes(spare)) => {
                Batch::Bytes(std::mem::replace(writer.get_mut(), spare))
            }
            (Collected::Compact(writer), Batch::Records(_)) => {
                Batch::Bytes(std::mem::take(writer.get_mut()))
            }
            (Collected::Jsonl { records, .. }, Batch::Records(spare)) => {
                Batch::Records(std::mem::replace(records, spare))
            }
            (Collected::Jsonl { records, .. }, Batch::Bytes(_)) => {
                Batch::Records(std::mem::take(records))
            }
        }
    }
}

/// Records taken from [`Collected`] for the writer.
enum Batch {
    Bytes(Vec<u8>),
    Records(Vec<Item>),
}

impl Batch {
    fn clear(&mut self) {
        match self {
            Batch::Bytes(bytes) => bytes.clear(),
            Batch::Records(records) => records.clear(),
        }
    }
}

impl Recording {
    /// A new ring for thread `tid`, declaring the thread on its first (an async task's `task`
    /// with the task's name and spawner); `None` when recording `epoch` is not running (any
    /// more).
    fn register(
        &mut self,
        tid: ThreadId,
        capacity: usize,
        epoch: u64,
        task: Option<log::TaskIdentity>,
    ) -> Option<Arc<Ring>> {
        if !self.active || epoch != self::epoch() {
            return None;
        }
        if self.threads.insert(tid) {
            match task {
                Some(task) => self.collected.event(Event::Thread {
                    tid,
                    name: Some(task.name.into()),
                    parent: task.parent,
                }),
                None => {
                    let name = std::thread::current()
                        .name()
                        .map_or_else(|| tid.to_string(), str::to_owned);
                    self.declare_thread(tid, name);
                }
            }
        }
        let ring = Arc::new(Ring::new(tid, capacity));
        self.rings.push((ring.clone(), Consumer::default()));
        Some(ring)
    }

    /// The `thread` record of the current thread, `tid`, with the thread that spawned it.
    fn declare_thread(&mut self, tid: ThreadId, name: String) {
        let parent = super::spawned_by();
        self.collected.event(Event::Thread {
            tid,
            name: (!name.is_empty()).then(|| name.into()),
            parent,
        });
    }

    /// Moves what the rings of `tid` (all threads: `None`) published into `out`, a block per
    /// ring, and lets the rings of ended threads go once empty.
    fn collect(&mut self, tid: Option<ThreadId>) {
        for (ring, consumer) in &mut self.rings {
            if tid.is_some_and(|tid| tid != ring.tid) {
                continue;
            }
            let tid = ring.tid.0;
            match &mut self.collected {
                Collected::Idle => {}
                // Straight from the ring into the trace's bytes.
                Collected::Compact(writer) => writer.block(|out| {
                    let header = |out: &mut Vec<u8>, records, len| {
                        block_header(out, tid, records, len, false);
                    };
                    // SAFETY: every consumer lives in `rings`, one per ring, and is used only
                    // under the `REC` lock: it is the only reader of its ring.
                    unsafe { consumer.take(ring, out, header) }.0
                }),
                Collected::Jsonl { records, .. } => {
                    let mut bytes = Vec::new();
                    // SAFETY: as above.
                    let (taken, _) = unsafe { consumer.take(ring, &mut bytes, |_, _, _| {}) };
                    if taken > 0 {
                        records.push(Item::Block {
                            tid,
                            bytes,
                            records: taken,
                            detached: false,
                        });
                    }
                }
            }
        }
        self.rings
            .retain(|(ring, consumer)| !(ring.is_retired() && consumer.caught_up(ring)));
    }

    /// Records an event of a thread whose own log cannot be used: after the thread's rings, as
    /// a block of its own.
    fn record_directly(&mut self, tid: ThreadId, rec: Rec) {
        if !self.active {
            return;
        }
        self.collect(Some(tid));
        if self.threads.insert(tid) {
            // The recording thread's own event (see `log::record_elsewhere`).
            self.declare_thread(tid, tid.to_string());
        }
        let mut record = [0; MAX_RECORD];
        let len = log::encode_detached(rec, &mut record, |site| self.collected.site(site));
        self.collected.block(tid.0, &record[..len], 1, true);
    }
}

/// Declares a lock to the running recording: its first operation in it does (number 0).
pub(crate) fn declare_lock(
    lock: LockId,
    kind: LockKind,
    name: Option<&'static str>,
    class: &'static Location<'static>,
    rank: Option<u32>,
) {
    let mut rec = REC.lock();
    if !rec.active {
        return;
    }
    rec.collected.event(Event::Lock {
        lock,
        kind,
        name: name.map(Into::into),
        class: Some(site_text(class).into()),
        site: Some(Site::from(class)),
        rank: rank.map(u64::from),
    });
}

/// Declares a condition variable to the running recording.
pub(crate) fn declare_condvar(condvar: CondvarId, site: &'static Location<'static>) {
    let mut rec = REC.lock();
    if !rec.active {
        return;
    }
    rec.collected.event(Event::Condvar {
        condvar,
        name: None,
        site: Some(Site::from(site)),
    });
}

/// Declares a tracked variable to the running recording.
pub(crate) fn declare_var(
    var: VarId,
    name: Option<&'static str>,
    site: &'static Location<'static>,
) {
    let mut rec = REC.lock();
    if !rec.active {
        return;
    }
    rec.collected.event(Event::Var {
        var,
        name: name.map(Into::into),
        site: Some(Site::from(site)),
    });
}

/// The writer's wake-up: set by a thread whose ring is full, or by `finish`.
struct Wake {
    wanted: bool,
    stop: bool,
}

static WAKE: Mutex<Wake> = Mutex::new(Wake {
    wanted: false,
    stop: false,
});
static WAKE_CHANGED: Condvar = Condvar::new();

/// Asks the writer to collect the rings now.
fn wake_writer() {
    let mut wake = WAKE.lock();
    if !wake.wanted {
        wake.wanted = true;
        WAKE_CHANGED.notify_one();
    }
}

/// The environment variable that picks the encoding of the traces `LOCKSCAN_TRACE` puts in a
/// directory: `compact` (the default) or `jsonl`. A trace file named explicitly is compact when
/// its name ends in `.lstrace`, JSONL otherwise (`.json`).
pub const TRACE_FORMAT_ENV: &str = "LOCKSCAN_TRACE_FORMAT";

/// Whether the traces of a directory are JSONL: [`TRACE_FORMAT_ENV`] says `jsonl` (or `json`).
/// A value that is neither that nor `compact` is said once, and the trace is compact.
fn folder_is_jsonl() -> bool {
    let Some(format) = std::env::var_os(TRACE_FORMAT_ENV) else {
        return false;
    };
    match format.to_str() {
        Some("jsonl" | "json") => true,
        Some("compact" | "") => false,
        _ => {
            // Straight to the process's stderr: libtest captures what `eprintln!` writes in a
            // test.
            let _ = writeln!(
                io::stderr().lock(),
                "lockscan: {TRACE_FORMAT_ENV}={} is neither `compact` nor `jsonl`; recording \
                 compact",
                format.to_string_lossy()
            );
            false
        }
    }
}

/// Whether `path` names a compact trace.
fn is_compact(path: &Path) -> bool {
    path.extension().is_some_and(|e| e == compact::EXTENSION)
}

/// The environment variable that turns recording on for a whole process.
pub const TRACE_ENV: &str = "LOCKSCAN_TRACE";

/// Whether events are being recorded; on first call, starts recording when `LOCKSCAN_TRACE`
/// asks for it.
#[inline]
pub(crate) fn on() -> bool {
    match STATE.load(Ordering::Relaxed) {
        ON => true,
        OFF => false,
        _ => start_from_env(),
    }
}

/// Whether a recording is running, without starting the one `LOCKSCAN_TRACE` asks for: what
/// a thread's spawn, start, end and join check, so that a program that only starts threads
/// (every test binary does) writes no trace.
#[inline]
pub(crate) fn running() -> bool {
    STATE.load(Ordering::Relaxed) == ON
}

/// The epoch of the running recording, to declare each lock once per recording.
#[inline]
pub(crate) fn epoch() -> u64 {
    EPOCH.load(Ordering::Relaxed)
}

#[cold]
fn start_from_env() -> bool {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        let Some(spec) = std::env::var_os(TRACE_ENV) else {
            let _ = STATE.compare_exchange(UNKNOWN, OFF, Ordering::Relaxed, Ordering::Relaxed);
            return;
        };
        // A relative path: from the workspace root, so that a workspace's members share it.
        let manifest_dir = std::env::var_os("CARGO_MANIFEST_DIR");
        let spec = crate::record::resolve_trace_spec(&spec, manifest_dir.as_deref());
        let path = trace_path(&spec);
        match start(&path) {
            Ok(()) => {
                if cfg!(lockscan_unoptimized) {
                    // A folder of traces is one run of many processes (`lockscan run -- cargo
                    // test`): one of them says it.
                    let folder = path.parent().filter(|p| *p == spec.as_path());
                    say_unoptimized(folder);
                }
                // SAFETY: `finish_at_exit` is an `extern "C" fn()` that does not unwind (it
                // catches panics) and only touches statics that live for the whole process.
                unsafe { libc::atexit(finish_at_exit) };
            }
            Err(err) => {
                eprintln!("lockscan: not recording: {err}");
                let _ = STATE.compare_exchange(UNKNOWN, OFF, Ordering::Relaxed, Ordering::Relaxed);
            }
        }
    });
    STATE.load(Ordering::Relaxed) == ON
}

extern "C" fn finish_at_exit() {
    let _ = std::panic::catch_unwind(|| {
        if let Err(err) = finish() {
            eprintln!("lockscan: the trace is incomplete: {err}");
        }
    });
}

/// Where `LOCKSCAN_TRACE=spec` puts this process's trace: in a directory (one that exists, or
/// a spec ending in `/`), a file named after the program and the pid; otherwise the file
/// itself, with `%p` replaced by the pid.
pub(crate) fn trace_path(spec: &Path) -> PathBuf {
    let pid = std::process::id();
    let text = spec.to_string_lossy();
    if spec.is_dir() || text.ends_with('/') || text.ends_with(std::path::MAIN_SEPARATOR) {
        let extension = if folder_is_jsonl() {
            "json"
        } else {
            compact::EXTENSION
        };
        return spec.join(format!("{}-{pid}.{extension}", program_name()));
    }
    PathBuf::from(text.replace("%p", &pid.to_string()))
}

fn program_name() -> String {
    std::env::current_exe()
        .ok()
        .and_then(|exe| exe.file_stem().map(|s| s.to_string_lossy().into_owned()))
        .unwrap_or_else(|| "process".to_owned())
}

/// Errors of starting and finishing a recording.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RecordError {
    /// Another recording is running in this process.
    #[error("a recording is already running in this process")]
    AlreadyRecording,
    /// Detection is compiled out of this build, so there is nothing to record.
    #[error("lockscan's detection is compiled out of this build (see the `detect` features)")]
    Inactive,
    /// The recording was already finished, by another handle or at exit.
    #[error("no recording is running")]
    NotRecording,
    /// The trace file could not be created or written.
    #[error("cannot write the trace {path}: {source}")]
    Io {
        /// The trace file.
        path: PathBuf,
        /// What went wrong.
        source: io::Error,
    },
}

static WRITER: Mutex<Option<Writer>> = Mutex::new(None);
static WRITER_THREAD: Mutex<Option<JoinHandle<()>>> = Mutex::new(None);

/// Where the collected records go.
enum Target {
    /// Written as they are.
    Compact(BufWriter<File>),
    /// Written as JSON lines, the blocks' events in replay order.
    Jsonl(Box<BlockOrder<JsonlWriter<BufWriter<File>>>>),
}

struct Writer {
    target: Target,
    path: PathBuf,
    failed: Option<io::Error>,
    /// The last batch, handed back to `REC` so that its buffer is reused.
    spare: Batch,
}

impl Writer {
    /// Writes a batch of collected records.
    fn write(&mut self, batch: &mut Batch) -> io::Result<()> {
        match (&mut self.target, batch) {
            (Target::Compact(out), Batch::Bytes(bytes)) => {
                out.write_all(bytes)?;
                out.flush()
            }
            (Target::Jsonl(order), Batch::Records(records)) => {
                for item in records.drain(..) {
                    match item {
                        Item::Site(site) => order.site(site),
                        Item::Event(event) => order.write(&event)?,
                        Item::Block {
                            tid,
                            bytes,
                            records,
                            detached,
                        } => order.block(tid, bytes, records, detached)?,
                    }
                }
                order.get_mut().flush()
            }
            // A batch of the other encoding is an empty one (`Collected::take`).
            _ => Ok(()),
        }
    }
}

/// Opens the trace, writes the header and starts the writer thread.
pub(crate) fn start(path: &Path) -> Result<(), RecordError> {
    let mut writer = WRITER.lock();
    if writer.is_some() {
        return Err(RecordError::AlreadyRecording);
    }
    let io_error = |source| RecordError::Io {
        path: path.to_owned(),
        source,
    };
    if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent).map_err(io_error)?;
    }
    let out = BufWriter::with_capacity(1 << 18, File::create(path).map_err(io_error)?);
    let header = Header {
        version: crate::trace::wire::FORMAT_VERSION,
        tool: Some(concat!("lockscan ", env!("CARGO_PKG_VERSION")).into()),
        pid: Some(u64::from(std::process::id())),
        program: Some(program_name().into()),
    };
    // The header goes to the file at once: a process killed at any point leaves a trace.
    let (collected, target, spare) = if is_compact(path) {
        let mut encoder = CompactWriter::new(Vec::new(), &header).map_err(io_error)?;
        let mut out = out;
        out.write_all(encoder.get_mut()).map_err(io_error)?;
        out.flush().map_err(io_error)?;
        encoder.get_mut().clear();
        let spare = Batch::Bytes(Vec::new());
        (Collected::Compact(encoder), Target::Compact(out), spare)
    } else {
        let mut writer = JsonlWriter::new(out);
        writer.write(&Event::Header(header)).map_err(io_error)?;
        TraceWrite::flush(&mut writer).map_err(io_error)?;
        let collected = Collected::Jsonl {
            records: Vec::new(),
            sites: SiteNumbers::default(),
        };
        let target = Target::Jsonl(Box::new(BlockOrder::new(writer)));
        (collected, target, Batch::Records(Vec::new()))
    };
    *writer = Some(Writer {
        target,
        path: path.to_owned(),
        failed: None,
        spare,
    });
    drop(writer);
    {
        let mut rec = REC.lock();
        rec.active = true;
        rec.collected = collected;
        rec.rings.clear();
        rec.threads.clear();
        EPOCH.fetch_add(1, Ordering::Relaxed);
    }
    *WAKE.lock() = Wake {
        wanted: false,
        stop: false,
    };
    STATE.store(ON, Ordering::Relaxed);
    // lockscan's own thread: no spawn of the program's to record or order.
    let handle = super::untracked_spawn(|| {
        std::thread::Builder::new()
            .name("lockscan-trace-writer".into())
            .spawn(writer_loop)
    })
    .map_err(io_error)?;
    *WRITER_THREAD.lock() = Some(handle);
    Ok(())
}

/// Says that this build of lockscan is unoptimized: recording then costs several times what it
/// costs optimized (quick_cache's suite: 2.7x the tests' time instead of 1.3x to 1.4x), and one
/// line of the workspace's manifest fixes it. Once per process, and once per `folder` of traces
/// when there is one: the first process to leave a marker file there says it.
pub(crate) fn say_unoptimized(folder: Option<&Path>) {
    static SAID: std::sync::Once = std::sync::Once::new();
    SAID.call_once(|| {
        if let Some(folder) = folder {
            let marker = std::fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .open(folder.join(".lockscan-unoptimized"));
            if marker.is_err_and(|err| err.kind() == io::ErrorKind::AlreadyExists) {
                return;
            }
        }
        // Straight to the process's stderr: libtest captures what `eprintln!` writes in a test.
        let _ = writeln!(
            io::stderr().lock(),
            "lockscan: recording with an unoptimized build of lockscan, which makes tests \
             several times slower; add `[profile.dev.package.lockscan] opt-level = 3` (and, with \
             the parking_lot stand-in, `[profile.dev.package.parking_lot] opt-level = 3`) to the \
             workspace's Cargo.toml (README: \"Recording at full speed\")"
        );
    });
}

/// Stops recording, writes what the threads recorded and the `end` record. Returns the trace's
/// path, or `None` when nothing was being recorded.
pub(crate) fn finish() -> Result<Option<PathBuf>, RecordError> {
    if STATE.load(Ordering::Relaxed) != ON {
        return Ok(None);
    }
    STATE.store(OFF, Ordering::Relaxed);
    WAKE.lock().stop = true;
    WAKE_CHANGED.notify_all();
    if let Some(handle) = WRITER_THREAD.lock().take() {
        // At process exit the writer thread may already be gone; the drain below covers it.
        if handle.thread().id() != std::thread::current().id() {
            let _ = handle.join();
        }
    }
    let mut guard = WRITER.lock();
    let Some(mut writer) = guard.take() else {
        return Ok(None);
    };
    let mut batch = {
        let mut rec = REC.lock();
        rec.collect(None);
        // The writer counts the records (a JSONL trace has fewer: no thread starts and exits).
        rec.collected.event(Event::End {
            events: None,
            dropped: Some(0),
        });
        rec.active = false;
        rec.rings.clear();
        let spare = std::mem::replace(&mut writer.spare, Batch::Bytes(Vec::new()));
        let batch = rec.collected.take(spare);
        rec.collected = Collected::Idle;
        batch
    };
    let result = writer.write(&mut batch);
    let path = writer.path.clone();
    match writer.failed.take().map_or(result, Err) {
        Ok(()) => Ok(Some(path)),
        Err(source) => Err(RecordError::Io { path, source }),
    }
}

/// Writes a finding (every one the policy handles, whatever the policy) into the trace, and
/// the trace to disk at once: the events may not show it (a thread that stops unwinds before it
/// blocks, so no acquisition follows), and the process may be about to end. A data race is
/// left out: its accesses are events, the replay finds it in them, and a `finding` record does
/// not carry them.
pub(crate) fn record_finding(finding: &crate::Finding) {
    if !on() || finding.kind == crate::FindingKind::DataRace {
        return;
    }
    let finding = Event::Finding(Box::new(finding.clone()));
    {
        let mut rec = REC.lock();
        if !rec.active {
            return;
        }
        rec.collected.event(finding);
    }
    drain();
}

fn writer_loop() {
    loop {
        let stop = {
            let mut wake = WAKE.lock();
            if !wake.wanted && !wake.stop {
                WAKE_CHANGED.wait_for(&mut wake, FLUSH_EVERY);
            }
            wake.wanted = false;
            wake.stop
        };
        if stop {
            return;
        }
        drain();
    }
}

/// Collects the rings and writes everything collected so far.
fn drain() {
    let mut guard = WRITER.lock();
    let Some(writer) = guard.as_mut() else {
        return;
    };
    let mut batch = {
        let mut rec = REC.lock();
        rec.collect(None);
        let spare = std::mem::replace(&mut writer.spare, Batch::Bytes(Vec::new()));
        rec.collected.take(spare)
    };
    if writer.failed.is_none()
        && let Err(err) = writer.write(&mut batch)
    {
        eprintln!(
            "lockscan: writing the trace {} failed: {err}",
            writer.path.display()
        );
        writer.failed = Some(err);
    }
    batch.clear();
    writer.spare = batch;
}

fn site_text(site: &Location<'_>) -> String {
    format!("{}:{}:{}", site.file(), site.line(), site.column())
}
