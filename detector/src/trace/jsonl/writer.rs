//! [`JsonlWriter`]: events as JSONL records, one line each, the JSON written by hand
//! (`trace::format::json`): recording uses it, and recording has no serde_json.

use std::io::{self, Write};

use crate::ids::{Flavour, LockId, Mode, ThreadId};
use crate::site::Site;
use crate::trace::event::Event;
use crate::trace::format::json;
use crate::trace::wire::{FORMAT_NAME, FORMAT_VERSION, Record, Text, WireFinding};

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
    pub(super) out: W,
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

crate::trace::forward_trace_write!(JsonlWriter);

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
pub(super) fn to_record(event: &Event, records: u64) -> Record<'_> {
    fn text(value: &str) -> Option<Text<'_>> {
        Some(Text(value.into()))
    }
    let mode = |mode: Mode| (mode != Mode::Exclusive).then(|| Text(mode.as_str().into()));
    let flavour_text =
        |flavour: Flavour| (flavour != Flavour::Plain).then(|| Text(flavour.as_str().into()));
    // The fields most records share first (serde writes them in `Record`'s order whatever
    // the order they are set in); a site read from a trace is its text already: borrowed, not
    // formatted again.
    let mut record = Record {
        tid: event.thread().map(|tid| tid.0),
        site: event.site().map(|site| match site {
            Site::Text(text) => Text((***text).into()),
            Site::Caller(_) => Text(site.to_string().into()),
        }),
        ..Record::default()
    };
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
        Event::Thread { name, parent, .. } => {
            record.name = name.as_deref().and_then(text);
            record.parent = parent.map(|p| p.0);
            "thread"
        }
        Event::Lock {
            lock,
            kind,
            name,
            class,
            rank,
            ..
        } => {
            record.lock = Some(lock.0);
            record.kind = text(kind.as_str());
            record.name = name.as_deref().and_then(text);
            record.class = class.as_deref().and_then(text);
            record.rank = *rank;
            "lock"
        }
        Event::Condvar { condvar, name, .. } => {
            record.condvar = Some(condvar.0);
            record.name = name.as_deref().and_then(text);
            "condvar"
        }
        Event::Var { var, name, .. } => {
            record.var = Some(var.0);
            record.name = name.as_deref().and_then(text);
            "var"
        }
        Event::Spawn { child, .. } => {
            record.child = Some(child.0);
            "spawn"
        }
        Event::Join { child, .. } => {
            record.child = Some(child.0);
            "join"
        }
        Event::Request {
            lock,
            mode: m,
            flavour,
            ..
        } => {
            record.lock = Some(lock.0);
            record.mode = mode(*m);
            record.flavour = flavour_text(*flavour);
            "request"
        }
        Event::Release { lock, mode: m, .. } => {
            record.lock = Some(lock.0);
            record.mode = mode(*m);
            "release"
        }
        Event::Acquire {
            lock,
            mode: m,
            try_lock,
            flavour,
            ..
        } => {
            record.lock = Some(lock.0);
            record.mode = mode(*m);
            record.try_lock = try_lock.then_some(true);
            record.flavour = flavour_text(*flavour);
            "acquire"
        }
        Event::Wait { condvar, lock, .. } => {
            record.condvar = Some(condvar.0);
            record.lock = Some(lock.0);
            "wait"
        }
        Event::Notify { condvar, all, .. } => {
            record.condvar = Some(condvar.0);
            record.all = all.then_some(true);
            "notify"
        }
        Event::Read { var, .. } => {
            record.var = Some(var.0);
            "read"
        }
        Event::Write { var, .. } => {
            record.var = Some(var.0);
            "write"
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
