//! Recording: lock operations become trace events (format: ../shared/design/trace-format.md).
//!
//! The hot path only pushes a small binary event onto one queue under one mutex, which also
//! fixes the file order: an acquisition is pushed after the lock is taken and a release before
//! it is let go, so the queue order obeys each thread's program order and each lock's order. A
//! writer thread turns the queue into JSON lines and flushes every few milliseconds, so a
//! process killed mid-run leaves a readable prefix. When the writer falls behind, pushers wait
//! for it: events are never dropped.

use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::panic::Location;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU8, AtomicU64, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crate::raw::{Condvar, Mutex};
use rustc_hash::FxHashSet;

use crate::ids::{CondvarId, LockId, LockKind, Mode, ThreadId, VarId};
use crate::site::Site;
use crate::trace::Header;
use crate::trace::compact::{self, CompactWriter};

/// One recorded operation, before formatting.
#[derive(Clone, Debug)]
pub(crate) enum Event {
    Lock {
        lock: LockId,
        kind: LockKind,
        name: Option<&'static str>,
        class: &'static Location<'static>,
        rank: Option<u32>,
    },
    Condvar {
        condvar: CondvarId,
        site: &'static Location<'static>,
    },
    Request {
        tid: ThreadId,
        lock: LockId,
        mode: Mode,
        site: &'static Location<'static>,
    },
    Acquire {
        tid: ThreadId,
        lock: LockId,
        mode: Mode,
        try_lock: bool,
        site: &'static Location<'static>,
    },
    Release {
        tid: ThreadId,
        lock: LockId,
        mode: Mode,
    },
    Wait {
        tid: ThreadId,
        condvar: CondvarId,
        lock: LockId,
        site: &'static Location<'static>,
    },
    Notify {
        tid: ThreadId,
        condvar: CondvarId,
        all: bool,
        site: &'static Location<'static>,
    },
    Var {
        var: VarId,
        name: Option<&'static str>,
        site: &'static Location<'static>,
    },
    Read {
        tid: ThreadId,
        var: VarId,
        site: &'static Location<'static>,
    },
    Write {
        tid: ThreadId,
        var: VarId,
        site: &'static Location<'static>,
    },
    Spawn {
        tid: ThreadId,
        child: ThreadId,
        site: &'static Location<'static>,
    },
    Join {
        tid: ThreadId,
        child: ThreadId,
        site: &'static Location<'static>,
    },
    /// A finding that stopped a thread (see [`record_finding`]).
    Finding(Box<crate::trace::wire::WireFinding>),
}

impl Event {
    fn thread(&self) -> Option<ThreadId> {
        match self {
            Event::Request { tid, .. }
            | Event::Acquire { tid, .. }
            | Event::Release { tid, .. }
            | Event::Wait { tid, .. }
            | Event::Notify { tid, .. }
            | Event::Read { tid, .. }
            | Event::Write { tid, .. }
            | Event::Spawn { tid, .. }
            | Event::Join { tid, .. } => Some(*tid),
            Event::Lock { .. } | Event::Condvar { .. } | Event::Var { .. } | Event::Finding(_) => {
                None
            }
        }
    }
}

const UNKNOWN: u8 = 0;
const OFF: u8 = 1;
const ON: u8 = 2;

static STATE: AtomicU8 = AtomicU8::new(UNKNOWN);
/// Which recording is running; locks remember the epoch they were declared in.
static EPOCH: AtomicU64 = AtomicU64::new(0);

/// How many events may wait for the writer before pushers block.
const CAPACITY: usize = 1 << 16;
const FLUSH_EVERY: Duration = Duration::from_millis(20);

struct Queue {
    events: Vec<(Event, Option<String>)>,
    /// The drained batch, handed back by the writer so the queue never regrows.
    spare: Vec<(Event, Option<String>)>,
    threads: FxHashSet<ThreadId>,
    /// The thread of the last event: most events come in runs from one thread, and it is
    /// declared already.
    last_thread: Option<ThreadId>,
    stop: bool,
}

static QUEUE: Mutex<Queue> = Mutex::new(Queue {
    events: Vec::new(),
    spare: Vec::new(),
    threads: FxHashSet::with_hasher(rustc_hash::FxBuildHasher),
    last_thread: None,
    stop: false,
});
/// Signalled when the queue is full (to the writer) and when it was drained (to pushers).
static QUEUE_CHANGED: Condvar = Condvar::new();

struct Writer {
    out: BufWriter<File>,
    path: PathBuf,
    written: u64,
    failed: Option<io::Error>,
    /// `,"site":"file:line:col"` of each site seen, escaped once.
    sites: rustc_hash::FxHashMap<usize, Box<[u8]>>,
    numbers: itoa::Buffer,
    /// The compact encoder, for a compact trace: it encodes a batch into its buffer, which
    /// then goes to `out` whole (`out` gets no JSON then).
    compact: Option<CompactWriter<Vec<u8>>>,
}

/// The environment variable that picks the encoding of the traces `LOCKSCAN_TRACE` puts in a
/// directory: `jsonl` (the default) or `compact`. A trace file named explicitly is compact when
/// its name ends in `.lstrace`.
pub const TRACE_FORMAT_ENV: &str = "LOCKSCAN_TRACE_FORMAT";

/// Whether `path` names a compact trace.
fn is_compact(path: &Path) -> bool {
    path.extension().is_some_and(|e| e == compact::EXTENSION)
}

static WRITER: Mutex<Option<Writer>> = Mutex::new(None);
static WRITER_THREAD: Mutex<Option<JoinHandle<()>>> = Mutex::new(None);

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
        let path = trace_path(Path::new(&spec));
        match start(&path) {
            Ok(()) => {
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
        let compact = std::env::var(TRACE_FORMAT_ENV).is_ok_and(|f| f == "compact");
        let extension = if compact { compact::EXTENSION } else { "json" };
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
    let mut out = BufWriter::with_capacity(1 << 18, File::create(path).map_err(io_error)?);
    let mut compact = None;
    if is_compact(path) {
        let header = Header {
            version: crate::trace::wire::FORMAT_VERSION,
            tool: Some(concat!("lockscan ", env!("CARGO_PKG_VERSION")).into()),
            pid: Some(u64::from(std::process::id())),
            program: Some(program_name().into()),
        };
        let mut encoder = CompactWriter::new(Vec::new(), &header).map_err(io_error)?;
        out.write_all(encoder.get_mut()).map_err(io_error)?;
        encoder.get_mut().clear();
        compact = Some(encoder);
    } else {
        write_header(&mut out).map_err(io_error)?;
    }
    out.flush().map_err(io_error)?;
    *writer = Some(Writer {
        out,
        path: path.to_owned(),
        // The header: `end` counts every record before it (trace-format.md's example).
        written: 1,
        failed: None,
        sites: rustc_hash::FxHashMap::default(),
        numbers: itoa::Buffer::new(),
        compact,
    });
    drop(writer);
    {
        let mut queue = QUEUE.lock();
        queue.events.clear();
        queue.threads.clear();
        queue.last_thread = None;
        queue.stop = false;
    }
    EPOCH.fetch_add(1, Ordering::Relaxed);
    STATE.store(ON, Ordering::Relaxed);
    let handle = std::thread::Builder::new()
        .name("lockscan-trace-writer".into())
        .spawn(writer_loop)
        .map_err(io_error)?;
    *WRITER_THREAD.lock() = Some(handle);
    Ok(())
}

/// Stops recording, writes what is queued and the `end` line. Returns the trace's path, or
/// `None` when nothing was being recorded.
pub(crate) fn finish() -> Result<Option<PathBuf>, RecordError> {
    if STATE.load(Ordering::Relaxed) != ON {
        return Ok(None);
    }
    STATE.store(OFF, Ordering::Relaxed);
    QUEUE.lock().stop = true;
    QUEUE_CHANGED.notify_all();
    if let Some(handle) = WRITER_THREAD.lock().take() {
        // At process exit the writer thread may already be gone; the drain below covers it.
        if handle.thread().id() != std::thread::current().id() {
            let _ = handle.join();
        }
    }
    drain();
    let Some(mut writer) = WRITER.lock().take() else {
        return Ok(None);
    };
    let result = write_end(&mut writer).and_then(|()| writer.out.flush());
    let path = writer.path.clone();
    match writer.failed.take().map_or(result, Err) {
        Ok(()) => Ok(Some(path)),
        Err(source) => Err(RecordError::Io { path, source }),
    }
}

/// Queues an event; `thread_name` is called only for a thread's first event.
pub(crate) fn push(event: Event) {
    let mut queue = QUEUE.lock();
    if queue.stop {
        return;
    }
    while queue.events.len() >= CAPACITY && !queue.stop {
        QUEUE_CHANGED.notify_all();
        QUEUE_CHANGED.wait_for(&mut queue, FLUSH_EVERY);
    }
    let thread = event.thread();
    let name = match thread {
        Some(tid) if queue.last_thread != thread && queue.threads.insert(tid) => Some(
            std::thread::current()
                .name()
                .map_or_else(|| tid.to_string(), str::to_owned),
        ),
        _ => None,
    };
    if thread.is_some() {
        queue.last_thread = thread;
    }
    queue.events.push((event, name));
}

/// Writes a finding that stops a thread into the trace, and the trace to disk at once: the
/// events may not show it (the thread unwinds before it blocks, so no acquisition follows),
/// and the process may be about to end. A data race is left out: its accesses are events, and
/// the replay finds it in them.
pub(crate) fn record_finding(finding: &crate::Finding) {
    if !on() || finding.kind == crate::FindingKind::DataRace {
        return;
    }
    push(Event::Finding(Box::new(
        crate::trace::wire::WireFinding::from_finding(finding),
    )));
    drain();
}

fn writer_loop() {
    loop {
        let stop = {
            let mut queue = QUEUE.lock();
            if !queue.stop && queue.events.len() < CAPACITY {
                QUEUE_CHANGED.wait_for(&mut queue, FLUSH_EVERY);
            }
            queue.stop
        };
        drain();
        if stop {
            return;
        }
    }
}

/// Writes everything queued so far and flushes.
fn drain() {
    let mut batch = {
        let mut queue = QUEUE.lock();
        let spare = std::mem::take(&mut queue.spare);
        std::mem::replace(&mut queue.events, spare)
    };
    QUEUE_CHANGED.notify_all();
    let mut guard = WRITER.lock();
    let Some(writer) = guard.as_mut() else {
        return;
    };
    if writer.failed.is_some() {
        return;
    }
    let mut result = Ok(());
    if let Some(encoder) = &mut writer.compact {
        for (event, name) in &batch {
            result = result.and_then(|()| encode(encoder, event, name.as_deref()));
        }
        result = result.and_then(|()| writer.out.write_all(encoder.get_mut()));
        encoder.get_mut().clear();
    } else {
        for (event, name) in &batch {
            if let Some(name) = name {
                result = result.and_then(|()| write_thread(&mut writer.out, event, name));
                writer.written += 1;
            }
            result = result.and_then(|()| writer.write_event(event));
            writer.written += 1;
        }
    }
    if let Err(err) = result.and_then(|()| writer.out.flush()) {
        eprintln!(
            "lockscan: writing the trace {} failed: {err}",
            writer.path.display()
        );
        writer.failed = Some(err);
    }
    drop(guard);
    batch.clear();
    let mut queue = QUEUE.lock();
    if queue.spare.capacity() < batch.capacity() {
        queue.spare = batch;
    }
}

fn json_str(out: &mut impl Write, text: &str) -> io::Result<()> {
    serde_json::to_writer(&mut *out, text).map_err(io::Error::from)
}

fn mode(out: &mut impl Write, mode: Mode) -> io::Result<()> {
    match mode {
        Mode::Exclusive => Ok(()),
        Mode::Shared => out.write_all(b",\"mode\":\"shared\""),
        Mode::Upgradable => out.write_all(b",\"mode\":\"upgradable\""),
    }
}

fn site_text(site: &Location<'_>) -> String {
    format!("{}:{}:{}", site.file(), site.line(), site.column())
}

fn write_header(out: &mut impl Write) -> io::Result<()> {
    let start = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    write!(
        out,
        "{{\"type\":\"header\",\"format\":\"lockscan-trace\",\"version\":1,\"tool\":\"lockscan {}\",\"pid\":{},\"program\":",
        env!("CARGO_PKG_VERSION"),
        std::process::id()
    )?;
    json_str(out, &program_name())?;
    write!(out, ",\"start_unix_ns\":{start},\"args\":")?;
    let args: Vec<String> = std::env::args_os()
        .map(|a| a.to_string_lossy().into_owned())
        .collect();
    serde_json::to_writer(&mut *out, &args).map_err(io::Error::from)?;
    writeln!(out, "}}")
}

fn write_thread(out: &mut impl Write, event: &Event, name: &str) -> io::Result<()> {
    let Some(tid) = event.thread() else {
        return Ok(());
    };
    write!(out, "{{\"type\":\"thread\",\"tid\":{},\"name\":", tid.0)?;
    json_str(out, name)?;
    writeln!(out, "}}")
}

impl Writer {
    /// Writes `"key":N`, preceded by a comma.
    fn number(&mut self, key: &[u8], value: u64) -> io::Result<()> {
        self.out.write_all(b",\"")?;
        self.out.write_all(key)?;
        self.out.write_all(b"\":")?;
        self.out.write_all(self.numbers.format(value).as_bytes())
    }

    /// Writes `,"site":"..."`, escaped once per site.
    fn site(&mut self, site: &'static Location<'static>) -> io::Result<()> {
        let key = std::ptr::from_ref(site) as usize;
        let bytes = self.sites.entry(key).or_insert_with(|| {
            let mut bytes = b",\"site\":".to_vec();
            // Writing a string to a Vec cannot fail.
            let _ = serde_json::to_writer(&mut bytes, &site_text(site));
            bytes.into_boxed_slice()
        });
        self.out.write_all(bytes)
    }

    fn write_event(&mut self, event: &Event) -> io::Result<()> {
        match event {
            Event::Lock {
                lock,
                kind,
                name,
                class,
                rank,
            } => {
                self.out.write_all(b"{\"type\":\"lock\"")?;
                self.number(b"lock", lock.0)?;
                write!(self.out, ",\"kind\":\"{}\"", kind.as_str())?;
                if let Some(name) = name {
                    self.out.write_all(b",\"name\":")?;
                    json_str(&mut self.out, name)?;
                }
                self.out.write_all(b",\"class\":")?;
                json_str(&mut self.out, &site_text(class))?;
                self.site(class)?;
                if let Some(rank) = rank {
                    self.number(b"rank", u64::from(*rank))?;
                }
            }
            Event::Condvar { condvar, site } => {
                self.out.write_all(b"{\"type\":\"condvar\"")?;
                self.number(b"condvar", condvar.0)?;
                self.site(site)?;
            }
            Event::Request {
                tid,
                lock,
                mode: m,
                site,
            } => {
                self.out.write_all(b"{\"type\":\"request\"")?;
                self.number(b"tid", tid.0)?;
                self.number(b"lock", lock.0)?;
                mode(&mut self.out, *m)?;
                self.site(site)?;
            }
            Event::Acquire {
                tid,
                lock,
                mode: m,
                try_lock,
                site,
            } => {
                self.out.write_all(b"{\"type\":\"acquire\"")?;
                self.number(b"tid", tid.0)?;
                self.number(b"lock", lock.0)?;
                mode(&mut self.out, *m)?;
                if *try_lock {
                    self.out.write_all(b",\"try\":true")?;
                }
                self.site(site)?;
            }
            Event::Release { tid, lock, mode: m } => {
                self.out.write_all(b"{\"type\":\"release\"")?;
                self.number(b"tid", tid.0)?;
                self.number(b"lock", lock.0)?;
                mode(&mut self.out, *m)?;
            }
            Event::Wait {
                tid,
                condvar,
                lock,
                site,
            } => {
                self.out.write_all(b"{\"type\":\"wait\"")?;
                self.number(b"tid", tid.0)?;
                self.number(b"condvar", condvar.0)?;
                self.number(b"lock", lock.0)?;
                self.site(site)?;
            }
            Event::Notify {
                tid,
                condvar,
                all,
                site,
            } => {
                self.out.write_all(b"{\"type\":\"notify\"")?;
                self.number(b"tid", tid.0)?;
                self.number(b"condvar", condvar.0)?;
                if *all {
                    self.out.write_all(b",\"all\":true")?;
                }
                self.site(site)?;
            }
            Event::Var { var, name, site } => {
                self.out.write_all(b"{\"type\":\"var\"")?;
                self.number(b"var", var.0)?;
                if let Some(name) = name {
                    self.out.write_all(b",\"name\":")?;
                    json_str(&mut self.out, name)?;
                }
                self.site(site)?;
            }
            Event::Read { tid, var, site } | Event::Write { tid, var, site } => {
                let kind: &[u8] = if matches!(event, Event::Read { .. }) {
                    b"{\"type\":\"read\""
                } else {
                    b"{\"type\":\"write\""
                };
                self.out.write_all(kind)?;
                self.number(b"tid", tid.0)?;
                self.number(b"var", var.0)?;
                self.site(site)?;
            }
            Event::Spawn { tid, child, site } | Event::Join { tid, child, site } => {
                let kind: &[u8] = if matches!(event, Event::Spawn { .. }) {
                    b"{\"type\":\"spawn\""
                } else {
                    b"{\"type\":\"join\""
                };
                self.out.write_all(kind)?;
                self.number(b"tid", tid.0)?;
                self.number(b"child", child.0)?;
                self.site(site)?;
            }
            Event::Finding(finding) => {
                self.out.write_all(b"{\"type\":\"finding\",\"finding\":")?;
                serde_json::to_writer(&mut self.out, finding).map_err(io::Error::from)?;
            }
        }
        self.out.write_all(b"}\n")
    }
}

/// Encodes a recorded event, after the `thread` record of its thread when `thread_name` says it
/// is the thread's first.
fn encode(
    encoder: &mut CompactWriter<Vec<u8>>,
    event: &Event,
    thread_name: Option<&str>,
) -> io::Result<()> {
    use crate::trace::Event as T;
    if let (Some(name), Some(tid)) = (thread_name, event.thread()) {
        encoder.write(&T::Thread {
            tid,
            name: Some(name.into()),
            parent: None,
        })?;
    }
    let site = |site: &'static Location<'static>| Some(Site::Caller(site));
    let event = match *event {
        Event::Finding(ref finding) => return encoder.write_wire_finding(finding),
        Event::Lock {
            lock,
            kind,
            name,
            class,
            rank,
        } => T::Lock {
            lock,
            kind,
            name: name.map(Arc::from),
            class: Some(site_text(class).into()),
            site: site(class),
            rank: rank.map(u64::from),
        },
        Event::Condvar { condvar, site: s } => T::Condvar {
            condvar,
            name: None,
            site: site(s),
        },
        Event::Request {
            tid,
            lock,
            mode,
            site: s,
        } => T::Request {
            tid,
            lock,
            mode,
            site: site(s),
        },
        Event::Acquire {
            tid,
            lock,
            mode,
            try_lock,
            site: s,
        } => T::Acquire {
            tid,
            lock,
            mode,
            try_lock,
            site: site(s),
        },
        Event::Release { tid, lock, mode } => T::Release {
            tid,
            lock,
            mode,
            site: None,
        },
        Event::Wait {
            tid,
            condvar,
            lock,
            site: s,
        } => T::Wait {
            tid,
            condvar,
            lock,
            site: site(s),
        },
        Event::Notify {
            tid,
            condvar,
            all,
            site: s,
        } => T::Notify {
            tid,
            condvar,
            all,
            site: site(s),
        },
        Event::Var { var, name, site: s } => T::Var {
            var,
            name: name.map(Arc::from),
            site: site(s),
        },
        Event::Read { tid, var, site: s } => T::Read {
            tid,
            var,
            site: site(s),
        },
        Event::Write { tid, var, site: s } => T::Write {
            tid,
            var,
            site: site(s),
        },
        Event::Spawn {
            tid,
            child,
            site: s,
        } => T::Spawn {
            tid,
            child,
            site: site(s),
        },
        Event::Join {
            tid,
            child,
            site: s,
        } => T::Join {
            tid,
            child,
            site: site(s),
        },
    };
    encoder.write(&event)
}

fn write_end(writer: &mut Writer) -> io::Result<()> {
    if let Some(encoder) = &mut writer.compact {
        encoder.write(&crate::trace::Event::End {
            events: None,
            dropped: Some(0),
        })?;
        writer.out.write_all(encoder.get_mut())?;
        encoder.get_mut().clear();
        return Ok(());
    }
    writeln!(
        writer.out,
        "{{\"type\":\"end\",\"events\":{},\"dropped\":0}}",
        writer.written
    )
}
