//! lockscan's JSON Lines traces: the streaming reader (with the feature `analyze`), and the
//! writer, which recording uses and which writes its JSON by hand (`trace::json`).

#[cfg(feature = "analyze")]
use std::io::BufRead;
use std::io::{self, Write};
#[cfg(feature = "analyze")]
use std::sync::Arc;

#[cfg(feature = "analyze")]
use rustc_hash::FxHashMap;
#[cfg(feature = "analyze")]
use serde_json::error::Category;

use super::event::Event;
#[cfg(feature = "analyze")]
use super::event::Header;
use super::format::json;
use super::wire::{FORMAT_NAME, FORMAT_VERSION, Record, Text, WireFinding};
#[cfg(feature = "analyze")]
use super::{LineRead, LineSource, Problem, TraceError, TraceWarning, quote};
#[cfg(feature = "analyze")]
use crate::ids::{CondvarId, LockKind, VarId};
use crate::ids::{Flavour, LockId, Mode, ThreadId};
use crate::site::Site;

/// The record types, for error messages.
#[cfg(feature = "analyze")]
const RECORD_TYPES: &str = "a record type (`header`, `thread`, `lock`, `condvar`, `var`, \
     `spawn`, `join`, `request`, `acquire`, `release`, `wait`, `notify`, `read`, `write`, \
     `finding`, `end`)";

/// Reads a JSONL trace line by line; an iterator of events. With the feature `analyze`.
#[cfg(feature = "analyze")]
#[derive(Debug)]
pub struct JsonlReader<R> {
    lines: LineSource<R>,
    /// Sites seen so far: a site repeats on every pass through a loop, so interning it makes
    /// the common event allocation-free.
    sites: FxHashMap<Box<str>, Site>,
    warnings: Vec<TraceWarning>,
    seen_header: bool,
    seen_end: bool,
    finished: bool,
    /// Non-blank lines so far, to check the `end` record's count.
    records: u64,
    /// A valid record whose line also gave an error (a missing header), returned next.
    held_back: Option<Event>,
    /// The `ts_ns` of the record read last.
    timestamp: Option<u64>,
    /// Whether the header says that acquisitions carry their flavour.
    flavours: bool,
}

#[cfg(feature = "analyze")]
impl<R: BufRead> JsonlReader<R> {
    /// A reader of `input`, called `file` in messages.
    pub fn new(input: R, file: impl Into<Arc<str>>) -> Self {
        JsonlReader {
            lines: LineSource::new(input, file.into()),
            sites: FxHashMap::default(),
            warnings: Vec::new(),
            seen_header: false,
            seen_end: false,
            finished: false,
            records: 0,
            held_back: None,
            timestamp: None,
            flavours: false,
        }
    }

    /// The `ts_ns` of the event returned last, when its record has one.
    pub fn timestamp(&self) -> Option<u64> {
        self.timestamp
    }

    /// The number of the line read last.
    pub fn line(&self) -> u64 {
        self.lines.line
    }

    /// The warnings so far (complete once the iterator returned `None`).
    pub fn warnings(&self) -> &[TraceWarning] {
        &self.warnings
    }

    fn finish(&mut self) {
        if !self.finished {
            self.finished = true;
            if self.seen_header && !self.seen_end {
                self.warnings.push(TraceWarning::MissingEnd {
                    file: self.lines.file.clone(),
                });
            }
        }
    }

    fn parse_line(&mut self) -> Result<Option<Event>, Problem> {
        let line = &self.lines.buffer;
        if line.iter().all(u8::is_ascii_whitespace) {
            return Ok(None);
        }
        self.records += 1;
        let mut record: Record<'_> = match serde_json::from_slice(line) {
            Ok(record) => record,
            Err(err) => {
                let cut_short = err.classify() == Category::Eof;
                let expected = match err.classify() {
                    Category::Data => format!("a valid record ({err})"),
                    _ => format!("a JSON object ({err})"),
                };
                return Err(self.lines.problem(expected, quote(line), cut_short));
            }
        };
        self.timestamp = record.ts_ns;
        let is_header = record.record_type == "header";
        if self.seen_end {
            // The recorder writes `end` last: whatever follows was appended by something else,
            // or two traces were concatenated.
            return Err(self.lines.problem(
                "nothing after the `end` record",
                format!("a `{}` record", record.record_type),
                false,
            ));
        }
        if is_header && self.seen_header {
            return Err(self.lines.problem(
                "one `header` record, on the first line",
                "a second `header` record",
                false,
            ));
        }
        let mut event = convert(&mut record, &mut self.sites)
            .map_err(|(expected, found)| self.lines.problem(expected, found, false))?;
        if is_header {
            self.flavours = record.flavours == Some(true);
        } else if !self.flavours {
            event = event.without_recorded_flavour();
        }
        if !self.seen_header && !is_header {
            self.seen_header = true; // complain once
            // The record itself is fine: keep it for the next call rather than drop it.
            self.held_back = Some(event);
            return Err(self.lines.problem(
                "a `header` record on the first line",
                format!("a `{}` record", record.record_type),
                false,
            ));
        }
        match &event {
            Event::Header(_) => self.seen_header = true,
            Event::End { dropped, events } => {
                self.seen_end = true;
                // Every record before this one, header included (the format's example, and
                // lockscan's recorder, count that way).
                let read = self.records - 1;
                if let Some(written) = events.filter(|&written| written != read) {
                    self.warnings.push(TraceWarning::EventCountMismatch {
                        file: self.lines.file.clone(),
                        written,
                        read,
                    });
                }
                if let Some(dropped) = dropped.filter(|&d| d > 0) {
                    self.warnings.push(TraceWarning::DroppedEvents {
                        file: self.lines.file.clone(),
                        dropped,
                    });
                }
            }
            _ => {}
        }
        Ok(Some(event))
    }
}

#[cfg(feature = "analyze")]
impl<R: BufRead> Iterator for JsonlReader<R> {
    type Item = Result<Event, TraceError>;

    fn next(&mut self) -> Option<Self::Item> {
        if let Some(event) = self.held_back.take() {
            return Some(Ok(event));
        }
        loop {
            match self.lines.next_line() {
                Ok(LineRead::Line) => {}
                Ok(LineRead::End) => {
                    let empty = self.records == 0 && !self.finished;
                    self.finish();
                    return empty
                        .then(|| Err(TraceError::empty(self.lines.file.clone(), self.lines.line)));
                }
                Err(err) => return Some(Err(err)),
            }
            match self.parse_line() {
                Ok(Some(event)) => return Some(Ok(event)),
                Ok(None) => {}
                Err(Problem::Error(err)) => return Some(Err(err)),
                Err(Problem::Truncated(warning)) => self.warnings.push(warning),
            }
        }
    }
}

/// What went wrong converting a record: what was expected, what was found.
#[cfg(feature = "analyze")]
type Mismatch = (String, String);

#[cfg(feature = "analyze")]
fn missing(record: &Record<'_>, field: &str) -> Mismatch {
    (
        format!("the field `{field}` in a `{}` record", record.record_type),
        "no such field".to_owned(),
    )
}

#[cfg(feature = "analyze")]
fn required<T: Copy>(record: &Record<'_>, value: Option<T>, field: &str) -> Result<T, Mismatch> {
    value.ok_or_else(|| missing(record, field))
}

#[cfg(feature = "analyze")]
fn name(value: &Option<Text<'_>>) -> Option<Arc<str>> {
    value.as_deref().map(Arc::from)
}

#[cfg(feature = "analyze")]
fn mode(record: &Record<'_>) -> Result<Mode, Mismatch> {
    match record.mode.as_deref() {
        None | Some("exclusive") => Ok(Mode::Exclusive),
        Some("shared") => Ok(Mode::Shared),
        Some("upgradable") => Ok(Mode::Upgradable),
        Some(other) => Err((
            "a `mode` of `exclusive`, `shared` or `upgradable`".to_owned(),
            format!("`{other}`"),
        )),
    }
}

#[cfg(feature = "analyze")]
fn flavour(record: &Record<'_>) -> Result<Flavour, Mismatch> {
    match record.flavour.as_deref() {
        None => Ok(Flavour::Plain),
        Some(name) => Flavour::parse(name).ok_or_else(|| {
            (
                "a `flavour` of `plain`, `recursive`, `timed`, `upgrade` or `downgrade`".to_owned(),
                format!("`{name}`"),
            )
        }),
    }
}

#[cfg(feature = "analyze")]
fn lock_kind(record: &Record<'_>) -> Result<LockKind, Mismatch> {
    match record.kind.as_deref() {
        Some("mutex") => Ok(LockKind::Mutex),
        Some("rwlock") => Ok(LockKind::RwLock),
        Some("reentrant") => Ok(LockKind::Reentrant),
        Some("semaphore") => Ok(LockKind::Semaphore),
        Some(other) => Err((
            "a lock `kind` of `mutex`, `rwlock`, `reentrant` or `semaphore`".to_owned(),
            format!("`{other}`"),
        )),
        None => Err(missing(record, "kind")),
    }
}

#[cfg(feature = "analyze")]
fn intern(sites: &mut FxHashMap<Box<str>, Site>, text: &Option<Text<'_>>) -> Option<Site> {
    let text = text.as_deref()?;
    if let Some(site) = sites.get(text) {
        return Some(site.clone());
    }
    let site = Site::from(text);
    sites.insert(text.into(), site.clone());
    Some(site)
}

#[cfg(feature = "analyze")]
fn convert(
    record: &mut Record<'_>,
    sites: &mut FxHashMap<Box<str>, Site>,
) -> Result<Event, Mismatch> {
    let tid = || required(record, record.tid, "tid").map(ThreadId);
    let lock = || required(record, record.lock, "lock").map(LockId);
    let child = || required(record, record.child, "child").map(ThreadId);
    let condvar = || required(record, record.condvar, "condvar").map(CondvarId);
    let var = || required(record, record.var, "var").map(VarId);
    let event = match &*record.record_type {
        "header" => {
            match record.format.as_deref() {
                Some(FORMAT_NAME) => {}
                Some(other) => {
                    return Err((format!("`format` = `{FORMAT_NAME}`"), format!("`{other}`")));
                }
                None => return Err(missing(record, "format")),
            }
            let version = required(record, record.version, "version")?;
            if version != FORMAT_VERSION {
                return Err((
                    format!("`version` = {FORMAT_VERSION} (the version this lockscan reads)"),
                    version.to_string(),
                ));
            }
            Event::Header(Header {
                version,
                tool: name(&record.tool),
                pid: record.pid,
                program: name(&record.program),
            })
        }
        "thread" => Event::Thread {
            tid: tid()?,
            name: name(&record.name),
            parent: record.parent.map(ThreadId),
        },
        "lock" => Event::Lock {
            lock: lock()?,
            kind: lock_kind(record)?,
            name: name(&record.name),
            class: name(&record.class),
            site: intern(sites, &record.site),
            rank: record.rank,
        },
        "condvar" => Event::Condvar {
            condvar: condvar()?,
            name: name(&record.name),
            site: intern(sites, &record.site),
        },
        "var" => Event::Var {
            var: var()?,
            name: name(&record.name),
            site: intern(sites, &record.site),
        },
        "spawn" => Event::Spawn {
            tid: tid()?,
            child: child()?,
            site: intern(sites, &record.site),
        },
        "join" => Event::Join {
            tid: tid()?,
            child: child()?,
            site: intern(sites, &record.site),
        },
        "request" => Event::Request {
            tid: tid()?,
            lock: lock()?,
            mode: mode(record)?,
            flavour: flavour(record)?,
            site: intern(sites, &record.site),
        },
        "acquire" => Event::Acquire {
            tid: tid()?,
            lock: lock()?,
            mode: mode(record)?,
            try_lock: record.try_lock.unwrap_or(false),
            flavour: flavour(record)?,
            site: intern(sites, &record.site),
        },
        "release" => Event::Release {
            tid: tid()?,
            lock: lock()?,
            mode: mode(record)?,
            site: intern(sites, &record.site),
        },
        "wait" => Event::Wait {
            tid: tid()?,
            condvar: condvar()?,
            lock: lock()?,
            site: intern(sites, &record.site),
        },
        "notify" => Event::Notify {
            tid: tid()?,
            condvar: condvar()?,
            all: record.all.unwrap_or(false),
            site: intern(sites, &record.site),
        },
        "read" => Event::Read {
            tid: tid()?,
            var: var()?,
            site: intern(sites, &record.site),
        },
        "write" => Event::Write {
            tid: tid()?,
            var: var()?,
            site: intern(sites, &record.site),
        },
        "finding" => {
            let finding = record
                .finding
                .take()
                .ok_or_else(|| ("a `finding` field".to_owned(), "none".to_owned()))?;
            let finding = finding
                .into_finding()
                .map_err(|expected| (expected, "something else in `finding`".to_owned()))?;
            Event::Finding(Box::new(finding))
        }
        "end" => Event::End {
            events: record.events,
            dropped: record.dropped,
        },
        other => return Err((RECORD_TYPES.to_owned(), format!("`{other}`"))),
    };
    Ok(event)
}

/// Writes events as JSONL records, one line each: for converting a trace read from another
/// encoding (`lockscan convert`), and for the recorder's JSONL traces.
///
/// ```
/// use lockscan::ids::{LockId, Mode, ThreadId};
/// use lockscan::trace::{Event, JsonlWriter};
///
/// let mut writer = JsonlWriter::new(Vec::new());
/// writer.write(&Event::Release {
///     tid: ThreadId(2),
///     lock: LockId(7),
///     mode: Mode::Shared,
///     site: None,
/// })?;
/// assert_eq!(
///     String::from_utf8(std::mem::take(writer.get_mut()))?,
///     "{\"type\":\"release\",\"tid\":2,\"lock\":7,\"mode\":\"shared\"}\n"
/// );
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug)]
pub struct JsonlWriter<W> {
    out: W,
    /// Records written, header included: what `end` counts.
    records: u64,
    /// The line being written: serialized here first, so that `out` gets one write per line
    /// instead of one per JSON token.
    line: Vec<u8>,
}

impl<W: Write> JsonlWriter<W> {
    /// A writer of `out`; the first event written should be the header.
    pub fn new(out: W) -> Self {
        JsonlWriter {
            out,
            records: 0,
            line: Vec::with_capacity(256),
        }
    }

    /// The underlying writer.
    pub fn get_mut(&mut self) -> &mut W {
        &mut self.out
    }

    /// Writes one record.
    pub fn write(&mut self, event: &Event) -> io::Result<()> {
        self.line.clear();
        match event {
            // Most of any trace: written directly, in the order serde writes `Record`'s
            // fields (a test checks they are the same bytes).
            Event::Acquire {
                tid,
                lock,
                mode,
                try_lock,
                flavour,
                site,
            } => lock_line(
                &mut self.line,
                "acquire",
                *tid,
                *lock,
                (*mode, *try_lock, *flavour),
                site,
            ),
            Event::Release {
                tid,
                lock,
                mode,
                site,
            } => lock_line(
                &mut self.line,
                "release",
                *tid,
                *lock,
                (*mode, false, Flavour::Plain),
                site,
            ),
            _ => json::record(&mut self.line, &to_record(event, self.records)),
        }
        self.line.push(b'\n');
        self.out.write_all(&self.line)?;
        self.records += 1;
        Ok(())
    }
}

/// An `acquire` or `release` line without its newline; `how`: the mode, `try` and flavour.
fn lock_line(
    line: &mut Vec<u8>,
    kind: &str,
    tid: ThreadId,
    lock: LockId,
    how: (Mode, bool, Flavour),
    site: &Option<Site>,
) {
    let (mode, try_lock, flavour) = how;
    let mut numbers = itoa::Buffer::new();
    line.extend_from_slice(b"{\"type\":\"");
    line.extend_from_slice(kind.as_bytes());
    line.extend_from_slice(b"\",\"tid\":");
    line.extend_from_slice(numbers.format(tid.0).as_bytes());
    line.extend_from_slice(b",\"lock\":");
    line.extend_from_slice(numbers.format(lock.0).as_bytes());
    if let Some(site) = site {
        line.extend_from_slice(b",\"site\":");
        match site {
            Site::Text(text) => json::string(line, text),
            Site::Caller(_) => json::string(line, &site.to_string()),
        }
    }
    if mode != Mode::Exclusive {
        line.extend_from_slice(b",\"mode\":\"");
        line.extend_from_slice(mode.as_str().as_bytes());
        line.push(b'"');
    }
    if try_lock {
        line.extend_from_slice(b",\"try\":true");
    }
    if flavour != Flavour::Plain {
        line.extend_from_slice(b",\"flavour\":\"");
        line.extend_from_slice(flavour.as_str().as_bytes());
        line.push(b'"');
    }
    line.push(b'}');
}

/// The JSONL record of `event`; `records` is what an `end` without a count counts.
fn to_record<'a>(event: &'a Event, records: u64) -> Record<'a> {
    fn text(value: &str) -> Option<Text<'_>> {
        Some(Text(value.into()))
    }
    // A site read from a trace is its text already: borrowed, not formatted again.
    let site = |site: &'a Option<Site>| {
        site.as_ref().map(|s| match s {
            Site::Text(text) => Text((***text).into()),
            Site::Caller(_) => Text(s.to_string().into()),
        })
    };
    let mode = |mode: Mode| (mode != Mode::Exclusive).then(|| Text(mode.as_str().into()));
    let flavour_text =
        |flavour: Flavour| (flavour != Flavour::Plain).then(|| Text(flavour.as_str().into()));
    let mut record = Record::default();
    let kind: &'static str = match event {
        Event::Header(header) => {
            record.format = text(FORMAT_NAME);
            // The version this writer writes, whatever the header read said.
            record.version = Some(FORMAT_VERSION);
            record.tool = header.tool.as_deref().and_then(text);
            record.pid = header.pid;
            record.program = header.program.as_deref().and_then(text);
            // Every event says its flavour (one read from a trace that did not is explicit).
            record.flavours = Some(true);
            "header"
        }
        Event::Thread { tid, name, parent } => {
            record.tid = Some(tid.0);
            record.name = name.as_deref().and_then(text);
            record.parent = parent.map(|p| p.0);
            "thread"
        }
        Event::Lock {
            lock,
            kind,
            name,
            class,
            site: s,
            rank,
        } => {
            record.lock = Some(lock.0);
            record.kind = text(kind.as_str());
            record.name = name.as_deref().and_then(text);
            record.class = class.as_deref().and_then(text);
            record.site = site(s);
            record.rank = *rank;
            "lock"
        }
        Event::Condvar {
            condvar,
            name,
            site: s,
        } => {
            record.condvar = Some(condvar.0);
            record.name = name.as_deref().and_then(text);
            record.site = site(s);
            "condvar"
        }
        Event::Var { var, name, site: s } => {
            record.var = Some(var.0);
            record.name = name.as_deref().and_then(text);
            record.site = site(s);
            "var"
        }
        Event::Spawn {
            tid,
            child,
            site: s,
        }
        | Event::Join {
            tid,
            child,
            site: s,
        } => {
            record.tid = Some(tid.0);
            record.child = Some(child.0);
            record.site = site(s);
            if matches!(event, Event::Spawn { .. }) {
                "spawn"
            } else {
                "join"
            }
        }
        Event::Request {
            tid,
            lock,
            mode: m,
            flavour,
            site: s,
        } => {
            record.tid = Some(tid.0);
            record.lock = Some(lock.0);
            record.mode = mode(*m);
            record.flavour = flavour_text(*flavour);
            record.site = site(s);
            "request"
        }
        Event::Release {
            tid,
            lock,
            mode: m,
            site: s,
        } => {
            record.tid = Some(tid.0);
            record.lock = Some(lock.0);
            record.mode = mode(*m);
            record.site = site(s);
            "release"
        }
        Event::Acquire {
            tid,
            lock,
            mode: m,
            try_lock,
            flavour,
            site: s,
        } => {
            record.tid = Some(tid.0);
            record.lock = Some(lock.0);
            record.mode = mode(*m);
            record.try_lock = try_lock.then_some(true);
            record.flavour = flavour_text(*flavour);
            record.site = site(s);
            "acquire"
        }
        Event::Wait {
            tid,
            condvar,
            lock,
            site: s,
        } => {
            record.tid = Some(tid.0);
            record.condvar = Some(condvar.0);
            record.lock = Some(lock.0);
            record.site = site(s);
            "wait"
        }
        Event::Notify {
            tid,
            condvar,
            all,
            site: s,
        } => {
            record.tid = Some(tid.0);
            record.condvar = Some(condvar.0);
            record.all = all.then_some(true);
            record.site = site(s);
            "notify"
        }
        Event::Read { tid, var, site: s } | Event::Write { tid, var, site: s } => {
            record.tid = Some(tid.0);
            record.var = Some(var.0);
            record.site = site(s);
            if matches!(event, Event::Read { .. }) {
                "read"
            } else {
                "write"
            }
        }
        Event::Finding(finding) => {
            record.finding = Some(Box::new(WireFinding::from_finding(finding)));
            "finding"
        }
        Event::End { events, dropped } => {
            record.events = Some(events.unwrap_or(records));
            record.dropped = Some(dropped.unwrap_or(0));
            "end"
        }
    };
    record.record_type = kind.into();
    record
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lock_lines_written_directly_are_the_bytes_serde_writes() {
        let sites = [
            None,
            Some(Site::from("src/a \"b\".rs:1:2")),
            Some(Site::caller()),
        ];
        for site in sites {
            for mode in [Mode::Exclusive, Mode::Shared, Mode::Upgradable] {
                for (try_lock, flavour) in [
                    (false, Flavour::Plain),
                    (true, Flavour::Plain),
                    (false, Flavour::Recursive),
                    (true, Flavour::Timed),
                ] {
                    let acquire = Event::Acquire {
                        tid: ThreadId(3),
                        lock: LockId(123_456),
                        mode,
                        try_lock,
                        flavour,
                        site: site.clone(),
                    };
                    let release = Event::Release {
                        tid: ThreadId(3),
                        lock: LockId(9),
                        mode,
                        site: site.clone(),
                    };
                    for event in [acquire, release] {
                        let mut direct = JsonlWriter::new(Vec::new());
                        direct.write(&event).unwrap();
                        let serde = serde_json::to_string(&to_record(&event, 0)).unwrap();
                        assert_eq!(String::from_utf8(direct.out).unwrap(), serde + "\n");
                    }
                }
            }
        }
    }

    /// One event of every kind, each with and without its optional fields, strings that need
    /// escaping, and a site of each kind.
    fn every_kind_of_event() -> Vec<Event> {
        let awkward = "a \"quoted\"\\ name\twith\u{1} é ✓";
        let sites = [
            None,
            Some(Site::from("src/\"x\".rs:1:2")),
            Some(Site::caller()),
        ];
        let name = |named: bool| named.then(|| Arc::from(awkward));
        let mut events = vec![
            Event::Header(Header::default()),
            Event::Header(Header {
                version: 7,
                tool: Some("lockscan 0.1.0".into()),
                pid: Some(4242),
                program: name(true),
            }),
            Event::End {
                events: None,
                dropped: None,
            },
            Event::End {
                events: Some(12),
                dropped: Some(3),
            },
        ];
        for (index, site) in sites.into_iter().enumerate() {
            let named = index != 1;
            let (tid, other) = (ThreadId(index as u64 + 1), ThreadId(99));
            events.extend([
                Event::Thread {
                    tid,
                    name: name(named),
                    parent: named.then_some(other),
                },
                Event::Lock {
                    lock: LockId(5),
                    kind: [LockKind::Mutex, LockKind::RwLock, LockKind::Reentrant][index],
                    name: name(named),
                    class: name(!named),
                    site: site.clone(),
                    rank: named.then_some(3),
                },
                Event::Condvar {
                    condvar: CondvarId(6),
                    name: name(named),
                    site: site.clone(),
                },
                Event::Var {
                    var: VarId(8),
                    name: name(named),
                    site: site.clone(),
                },
                Event::Spawn {
                    tid,
                    child: other,
                    site: site.clone(),
                },
                Event::Join {
                    tid,
                    child: other,
                    site: site.clone(),
                },
                Event::Wait {
                    tid,
                    condvar: CondvarId(6),
                    lock: LockId(5),
                    site: site.clone(),
                },
                Event::Notify {
                    tid,
                    condvar: CondvarId(6),
                    all: named,
                    site: site.clone(),
                },
                Event::Read {
                    tid,
                    var: VarId(8),
                    site: site.clone(),
                },
                Event::Write {
                    tid,
                    var: VarId(8),
                    site: site.clone(),
                },
            ]);
            for mode in [Mode::Exclusive, Mode::Shared, Mode::Upgradable] {
                // A flavour other than plain writes one more field.
                let flavour = if mode == Mode::Shared {
                    Flavour::Recursive
                } else {
                    Flavour::Plain
                };
                events.push(Event::Request {
                    tid,
                    lock: LockId(5),
                    mode,
                    flavour,
                    site: site.clone(),
                });
                for try_lock in [false, true] {
                    events.push(Event::Acquire {
                        tid,
                        lock: LockId(5),
                        mode,
                        try_lock,
                        flavour,
                        site: site.clone(),
                    });
                }
                events.push(Event::Release {
                    tid,
                    lock: LockId(5),
                    mode,
                    site: site.clone(),
                });
            }
        }
        let mut bare = crate::Finding::new(crate::FindingKind::Deadlock, "m");
        bare.reason.clear();
        let mut full = crate::Finding::new(crate::FindingKind::PotentialDeadlock, awkward);
        full.reason = awkward.into();
        full.help = Some("take them in one order".into());
        full.site = Some(Site::caller());
        full.locks = vec!["a".into(), awkward.into()];
        full.threads = vec!["t1".into(), "t2".into()];
        full.edges = vec![
            crate::FindingEdge {
                from: "a".into(),
                to: "b".into(),
                thread: "t1".into(),
                from_site: Some(Site::from("src/a.rs:1:2")),
                to_site: Some(Site::caller()),
                from_mode: Mode::Shared,
                to_mode: Mode::Upgradable,
                held: vec!["c".into()],
                blocked: true,
                backtrace: None,
            },
            crate::FindingEdge {
                from: "b".into(),
                to: "a".into(),
                thread: "t2".into(),
                from_site: None,
                to_site: None,
                from_mode: Mode::Exclusive,
                to_mode: Mode::Exclusive,
                held: Vec::new(),
                blocked: false,
                backtrace: None,
            },
        ];
        events.extend([bare, full].map(|f| Event::Finding(Box::new(f))));
        events
    }

    #[test]
    fn every_record_written_by_hand_is_the_bytes_serde_json_writes() {
        for event in &every_kind_of_event() {
            let mut writer = JsonlWriter::new(Vec::new());
            writer.write(event).unwrap();
            let serde = serde_json::to_string(&to_record(event, 0)).unwrap();
            assert_eq!(String::from_utf8(writer.out).unwrap(), serde + "\n");
        }
    }

    const HEADER: &str = r#"{"type":"header","format":"lockscan-trace","version":1}"#;

    fn read(text: &str) -> (Vec<Result<Event, TraceError>>, Vec<TraceWarning>) {
        let mut reader = JsonlReader::new(text.as_bytes(), "t.jsonl");
        let events: Vec<_> = reader.by_ref().collect();
        (events, reader.warnings().to_vec())
    }

    #[test]
    fn reads_the_spec_example() {
        let text = concat!(
            r#"{"type":"header","format":"lockscan-trace","version":1,"tool":"lockscan 0.1.0","pid":4242,"program":"bank"}"#,
            "\n",
            r#"{"type":"thread","tid":1,"name":"main"}"#,
            "\n",
            r#"{"type":"lock","lock":1,"kind":"mutex","name":"account:ACC001","site":"demos/src/bank.rs:31:19"}"#,
            "\n",
            r#"{"type":"spawn","tid":1,"child":2}"#,
            "\n",
            r#"{"type":"acquire","tid":2,"lock":1,"site":"demos/src/bank.rs:58:21","ts_ns":18230,"future_field":[1,2]}"#,
            "\n",
            r#"{"type":"release","tid":2,"lock":1,"mode":"exclusive"}"#,
            "\n",
            r#"{"type":"end","events":6}"#,
            "\n",
        );
        let (events, warnings) = read(text);
        let events: Vec<Event> = events.into_iter().map(Result::unwrap).collect();
        assert!(warnings.is_empty(), "{warnings:?}");
        assert_eq!(events.len(), 7);
        assert_eq!(
            events[2],
            Event::Lock {
                lock: LockId(1),
                kind: LockKind::Mutex,
                name: Some("account:ACC001".into()),
                class: None,
                site: Some(Site::from("demos/src/bank.rs:31:19")),
                rank: None,
            }
        );
        assert_eq!(
            events[4],
            Event::Acquire {
                tid: ThreadId(2),
                lock: LockId(1),
                mode: Mode::Exclusive,
                try_lock: false,
                flavour: Flavour::Plain,
                site: Some(Site::from("demos/src/bank.rs:58:21")),
            }
        );
    }

    /// The shared acquisitions of `text`'s records after its header, with their flavours.
    fn shared_flavours(text: &str) -> Vec<Flavour> {
        read(text)
            .0
            .into_iter()
            .filter_map(|event| match event.unwrap() {
                Event::Acquire {
                    mode: Mode::Shared,
                    flavour,
                    ..
                }
                | Event::Request {
                    mode: Mode::Shared,
                    flavour,
                    ..
                } => Some(flavour),
                _ => None,
            })
            .collect()
    }

    #[test]
    fn flavours_are_read_and_a_trace_without_them_reads_shared_acquisitions_as_recursive() {
        let records = concat!(
            r#"{"type":"request","tid":1,"lock":1,"mode":"shared"}"#,
            "
",
            r#"{"type":"acquire","tid":1,"lock":1,"mode":"shared"}"#,
            "
",
            r#"{"type":"acquire","tid":1,"lock":1,"mode":"shared","flavour":"recursive"}"#,
            "
",
            r#"{"type":"acquire","tid":1,"lock":1,"mode":"shared","try":true,"flavour":"timed"}"#,
            "
",
        );
        let with = r#"{"type":"header","format":"lockscan-trace","version":1,"flavours":true}"#;
        assert_eq!(
            shared_flavours(&format!(
                "{with}
{records}"
            )),
            [
                Flavour::Plain,
                Flavour::Plain,
                Flavour::Recursive,
                Flavour::Timed
            ]
        );
        // Written before acquisitions said how: a shared one may have been a recursive read.
        assert_eq!(
            shared_flavours(&format!("{HEADER}\n{records}")),
            [
                Flavour::Recursive,
                Flavour::Recursive,
                Flavour::Recursive,
                Flavour::Timed
            ]
        );
        // What this writer writes says so.
        let mut writer = JsonlWriter::new(Vec::new());
        writer.write(&Event::Header(Header::default())).unwrap();
        let written = String::from_utf8(writer.out).unwrap();
        assert!(written.contains(r#""flavours":true"#), "{written}");
        assert_eq!(
            shared_flavours(&format!("{written}{records}"))[..2],
            [Flavour::Plain, Flavour::Plain]
        );
    }

    #[test]
    fn a_missing_field_names_the_field_and_the_line() {
        let text = format!("{HEADER}\n{{\"type\":\"acquire\",\"tid\":1}}\n{{\"type\":\"end\"}}\n");
        let (events, _) = read(&text);
        let err = events[1].as_ref().unwrap_err().to_string();
        assert_eq!(
            err,
            "t.jsonl:2: expected the field `lock` in a `acquire` record, found no such field"
        );
        assert!(events[2].is_ok(), "reading goes on after a bad line");
    }

    #[test]
    fn bad_values_are_errors() {
        for (line, expected) in [
            (
                r#"{"type":"acquire","tid":1,"lock":2,"mode":"both"}"#,
                "`mode`",
            ),
            (
                r#"{"type":"lock","lock":2,"kind":"spinlock"}"#,
                "lock `kind`",
            ),
            (r#"{"type":"frobnicate"}"#, "a record type"),
            (
                r#"{"type":"acquire","tid":1,"lock":2,"flavour":"sideways"}"#,
                "a `flavour` of",
            ),
            (
                r#"{"type":"acquire","tid":"one","lock":2}"#,
                "a valid record",
            ),
            (r#"[1,2]"#, "a valid record"),
            ("not json", "a JSON object"),
        ] {
            let (events, warnings) = read(&format!("{HEADER}\n{line}\n"));
            let err = events[1].as_ref().unwrap_err().to_string();
            assert!(err.starts_with("t.jsonl:2: expected "), "{err}");
            assert!(err.contains(expected), "{line}: {err}");
            assert!(
                warnings
                    .iter()
                    .all(|w| !matches!(w, TraceWarning::TruncatedLastLine { .. }))
            );
        }
    }

    #[test]
    fn a_truncated_last_line_is_a_warning() {
        let text = format!("{HEADER}\n{{\"type\":\"acquire\",\"tid\":1,\"lo");
        let (events, warnings) = read(&text);
        assert_eq!(events.len(), 1);
        assert!(events[0].is_ok());
        assert!(matches!(
            warnings[0],
            TraceWarning::TruncatedLastLine { line: 2, .. }
        ));
        assert!(matches!(warnings[1], TraceWarning::MissingEnd { .. }));
    }

    #[test]
    fn a_cut_off_line_in_the_middle_is_an_error() {
        let text = format!("{HEADER}\n{{\"type\":\"acquire\",\"tid\":1,\"lo\n{{\"type\":\"end\"}}");
        let (events, warnings) = read(&text);
        assert!(events[1].is_err());
        assert!(
            events[2].is_ok(),
            "an unterminated but complete last line is fine"
        );
        assert!(warnings.is_empty(), "{warnings:?}");
    }

    #[test]
    fn header_checks() {
        let (events, _) = read("{\"type\":\"thread\",\"tid\":1}\n");
        assert!(
            events[0]
                .as_ref()
                .unwrap_err()
                .to_string()
                .contains("`header`")
        );
        assert!(
            matches!(events[1], Ok(Event::Thread { .. })),
            "the record is kept: {events:?}"
        );
        let (events, _) =
            read("{\"type\":\"header\",\"format\":\"lockscan-trace\",\"version\":2}\n");
        assert!(
            events[0]
                .as_ref()
                .unwrap_err()
                .to_string()
                .contains("version")
        );
        let (events, _) = read("{\"type\":\"header\",\"format\":\"other\",\"version\":1}\n");
        assert!(events[0].is_err());
    }

    #[test]
    fn the_end_record_count_is_checked() {
        let text = format!("{HEADER}\n{{\"type\":\"thread\",\"tid\":1}}\n\n");
        let (_, warnings) = read(&format!("{text}{{\"type\":\"end\",\"events\":2}}\n"));
        assert!(warnings.is_empty(), "{warnings:?}");
        // One record short: a line was lost.
        let (_, warnings) = read(&format!("{text}{{\"type\":\"end\",\"events\":1}}\n"));
        assert_eq!(warnings.len(), 1);
        let (_, warnings) = read(&format!("{text}{{\"type\":\"end\",\"events\":3}}\n"));
        assert_eq!(
            warnings,
            [TraceWarning::EventCountMismatch {
                file: "t.jsonl".into(),
                written: 3,
                read: 2
            }]
        );
    }

    #[test]
    fn dropped_events_and_a_missing_end_are_warnings() {
        let (_, warnings) = read(&format!("{HEADER}\n{{\"type\":\"end\",\"dropped\":3}}\n"));
        assert_eq!(warnings.len(), 1);
        assert!(matches!(
            warnings[0],
            TraceWarning::DroppedEvents { dropped: 3, .. }
        ));
        let (_, warnings) = read(&format!("{HEADER}\n"));
        assert!(matches!(warnings[0], TraceWarning::MissingEnd { .. }));
    }

    #[test]
    fn escaped_strings_and_blank_lines_are_fine() {
        let text = format!(
            "{HEADER}\n\n{{\"type\":\"lock\",\"lock\":1,\"kind\":\"reentrant\",\"name\":\"a\\\"b\"}}\r\n"
        );
        let (events, _) = read(&text);
        assert_eq!(events.len(), 2);
        match events[1].as_ref().unwrap() {
            Event::Lock { name, kind, .. } => {
                assert_eq!(name.as_deref(), Some("a\"b"));
                assert_eq!(*kind, LockKind::Reentrant);
            }
            other => panic!("{other:?}"),
        }
    }
}
