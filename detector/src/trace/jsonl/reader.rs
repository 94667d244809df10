//! [`JsonlReader`]: a JSONL trace read line by line into events (the feature `analyze`: it
//! parses with serde_json).

use std::io::BufRead;
use std::sync::Arc;

use rustc_hash::FxHashMap;
use serde_json::error::Category;

use super::fast;
use crate::ids::{CondvarId, Flavour, LockId, LockKind, Mode, ThreadId, VarId};
use crate::site::Site;
use crate::trace::event::{Event, Header};
use crate::trace::wire::{FORMAT_NAME, FORMAT_VERSION, Record, Text};
use crate::trace::{LineRead, LineSource, LockKinds, Problem, TraceError, TraceWarning, quote};

const RECORD_TYPES: &str = "a record type (`header`, `thread`, `lock`, `condvar`, `var`, \
     `spawn`, `join`, `request`, `acquire`, `release`, `wait`, `notify`, `read`, `write`, \
     `finding`, `end`)";

/// Reads a JSONL trace line by line; an iterator of events. With the feature `analyze`.
#[derive(Debug)]
pub struct JsonlReader<R> {
    lines: LineSource<R>,
    /// Sites seen so far: a site repeats on every pass through a loop, so interning it makes
    /// the common event allocation-free.
    sites: FxHashMap<Box<str>, Site>,
    /// The kinds of the locks declared so far (see [`TraceWarning::LockRedeclaredOnLine`]).
    lock_kinds: LockKinds,
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

impl<R: BufRead> JsonlReader<R> {
    /// A reader of `input`, called `file` in messages.
    pub fn new(input: R, file: impl Into<Arc<str>>) -> Self {
        JsonlReader {
            lines: LineSource::new(input, file.into()),
            sites: FxHashMap::default(),
            lock_kinds: LockKinds::default(),
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
        // The common record without serde; serde_json for the rest, and for every error.
        let mut record = Record::default();
        if !fast::parse(line, &mut record) {
            record = match serde_json::from_slice(line) {
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
        }
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
            &Event::Lock { lock, kind, .. } => {
                if let Some(first) = self.lock_kinds.redeclared(lock.0, kind) {
                    self.warnings.push(TraceWarning::LockRedeclaredOnLine {
                        file: self.lines.file.clone(),
                        line: self.lines.line,
                        lock: lock.0,
                        first,
                        kind,
                    });
                }
            }
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
type Mismatch = (String, String);

fn missing(record: &Record<'_>, field: &str) -> Mismatch {
    (
        format!("the field `{field}` in a `{}` record", record.record_type),
        "no such field".to_owned(),
    )
}

fn required<T: Copy>(record: &Record<'_>, value: Option<T>, field: &str) -> Result<T, Mismatch> {
    value.ok_or_else(|| missing(record, field))
}

fn name(value: &Option<Text<'_>>) -> Option<Arc<str>> {
    value.as_deref().map(Arc::from)
}

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

fn intern(sites: &mut FxHashMap<Box<str>, Site>, text: &Option<Text<'_>>) -> Option<Site> {
    let text = text.as_deref()?;
    if let Some(site) = sites.get(text) {
        return Some(site.clone());
    }
    let site = Site::from(text);
    sites.insert(text.into(), site.clone());
    Some(site)
}

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
