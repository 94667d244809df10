//! [`CompactReader`]: a compact trace read as a stream of events; a recorded trace's blocks
//! are put in one replay order by the merge on the way.

use std::io::{self, Read};
use std::sync::Arc;

use rustc_hash::FxHashSet;

use super::merge::Merge;
use crate::ids::{CondvarId, Flavour, LockId, Mode, ThreadId, VarId};
use crate::site::Site;
#[cfg(feature = "analyze")]
use crate::trace::Header;
use crate::trace::format::fields::{Field, finding_of, flavour_of, kind_of, mode_of, site_of};
use crate::trace::format::tags::{
    self as tag, COMPACT_VERSION, FLAVOURS_SINCE, MAGIC, UNIQUE_SITES_SINCE,
};
use crate::trace::format::varint;
#[cfg(feature = "analyze")]
use crate::trace::wire::WireFinding;
#[cfg(feature = "analyze")]
use crate::trace::wire::{FORMAT_NAME, FORMAT_VERSION, Record};
use crate::trace::{Event, LockKinds, TraceError, TraceWarning};

/// A named record (condition variable, variable) as read: what [`named`] wrote.
struct Named {
    id: u64,
    site: Option<Site>,
    name: Option<Arc<str>>,
}

/// The longest block a reader accepts: a corrupt length cannot make it allocate more. The
/// recorder's blocks are at most its per-thread buffer (1 MiB).
const MAX_BLOCK: u64 = 1 << 26;

/// How much the reader buffers.
const BUFFER: usize = 1 << 16;

/// The longest string a record may carry: a corrupt length cannot make the reader allocate
/// more.
const MAX_STRING: u64 = 1 << 20;

/// Reads a compact trace; an iterator of events, like the JSONL reader. A recorded trace's
/// per-thread blocks come out in one replay order. Example: [`CompactWriter`](super::CompactWriter).
///
/// The `header` record, and the `finding` records lockscan wrote as JSON before findings had a
/// record of their own fields, hold JSON text: reading them takes the feature `analyze`.
/// Without it they are errors (recording, which reads its own records back for a JSONL trace,
/// never hands the reader one).
#[derive(Debug)]
pub struct CompactReader<R> {
    input: R,
    file: Arc<str>,
    buffer: Box<[u8]>,
    /// The unread part of `buffer` is `start..end`.
    start: usize,
    end: usize,
    /// The file offset of `buffer[0]`.
    base: u64,
    eof: bool,
    sites: Vec<Site>,
    /// The sites' texts, to tell a site defined twice (see [`TraceWarning::DuplicateSite`]);
    /// kept only for a version whose writers define each text once.
    site_texts: FxHashSet<Arc<str>>,
    /// Whether the trace's version promises one `site` record per text (see
    /// [`UNIQUE_SITES_SINCE`]): earlier recorders legitimately defined a text again.
    unique_sites: bool,
    /// The kinds of the locks declared so far (see [`TraceWarning::LockRedeclared`]).
    lock_kinds: LockKinds,
    warnings: Vec<TraceWarning>,
    /// Records read, `site` records aside (what `end` counts, plus `end` itself).
    records: u64,
    started: bool,
    seen_end: bool,
    finished: bool,
    /// Where the record being read starts in `buffer`: kept when the buffer is refilled, so a
    /// record that is not all there yet can be read again when more input comes.
    record_start: usize,
    /// The input said "nothing more yet" (`WouldBlock`): a trace being written.
    input_pending: bool,
    /// The events of `block`s, put in replay order.
    merge: Merge,
    /// The `end` record, given out once the merge has given out everything before it.
    held_end: Option<Event>,
    /// Whether the trace's version records the flavour of acquisitions (see [`Flavour`]).
    flavours: bool,
}

/// Why a record could not be read.
enum Stop {
    /// The input ended inside the record.
    Cut,
    /// The input ended between records.
    End,
    /// A block was read whose events wait in the merge.
    Block,
    Error(TraceError),
}

impl From<TraceError> for Stop {
    fn from(error: TraceError) -> Self {
        Stop::Error(error)
    }
}

impl<R: Read> CompactReader<R> {
    /// A reader of `input`, called `file` in messages; checks the magic bytes and version when
    /// the first event is asked for.
    pub fn new(input: R, file: impl Into<Arc<str>>) -> Self {
        CompactReader {
            input,
            file: file.into(),
            buffer: vec![0; BUFFER].into_boxed_slice(),
            start: 0,
            end: 0,
            base: 0,
            eof: false,
            sites: Vec::new(),
            site_texts: FxHashSet::default(),
            unique_sites: true,
            lock_kinds: LockKinds::default(),
            warnings: Vec::new(),
            records: 0,
            started: false,
            seen_end: false,
            finished: false,
            record_start: 0,
            input_pending: false,
            merge: Merge::default(),
            held_end: None,
            flavours: true,
        }
    }

    /// `event` as the analysis takes it: from a version without flavours, a shared
    /// acquisition may have been a recursive read.
    #[inline]
    fn flavoured(&self, event: Event) -> Event {
        if self.flavours {
            event
        } else {
            event.without_recorded_flavour()
        }
    }

    /// The input, to give it more bytes: a reader whose input returned
    /// [`WouldBlock`](io::ErrorKind::WouldBlock) goes on where it stopped on the next call.
    pub fn get_mut(&mut self) -> &mut R {
        &mut self.input
    }

    /// The number of records read so far (what the JSONL reader calls lines).
    pub fn line(&self) -> u64 {
        self.records
    }

    /// The warnings so far (complete once the iterator returned `None`).
    pub fn warnings(&self) -> &[TraceWarning] {
        &self.warnings
    }

    fn offset(&self) -> u64 {
        self.base + self.start as u64
    }

    fn error(&self, at: u64, expected: impl Into<String>, found: impl Into<String>) -> TraceError {
        TraceError::Binary {
            file: self.file.clone(),
            offset: at,
            expected: expected.into(),
            found: found.into(),
        }
    }

    /// Makes at least `n` bytes available from `start`, unless the input ends first.
    fn fill(&mut self, n: usize) -> Result<bool, TraceError> {
        while self.end - self.start < n {
            if self.eof {
                return Ok(false);
            }
            let keep = self.record_start.min(self.start);
            if keep > 0 {
                self.buffer.copy_within(keep..self.end, 0);
                self.base += keep as u64;
                self.end -= keep;
                self.start -= keep;
                self.record_start -= keep;
            }
            if self.end == self.buffer.len() {
                // A string longer than the buffer: grow it (bounded by MAX_STRING).
                let mut bigger = vec![0; self.buffer.len() * 2].into_boxed_slice();
                bigger[..self.end].copy_from_slice(&self.buffer[..self.end]);
                self.buffer = bigger;
            }
            match self.input.read(&mut self.buffer[self.end..]) {
                Ok(0) => self.eof = true,
                Ok(read) => self.end += read,
                Err(err) if err.kind() == io::ErrorKind::Interrupted => {}
                Err(err) if err.kind() == io::ErrorKind::WouldBlock => {
                    self.input_pending = true;
                    return Ok(false);
                }
                Err(source) => {
                    return Err(TraceError::Io {
                        file: self.file.clone(),
                        source,
                    });
                }
            }
        }
        Ok(true)
    }

    fn byte(&mut self) -> Result<u8, Stop> {
        if self.start == self.end && !self.fill(1)? {
            return Err(Stop::Cut);
        }
        let byte = self.buffer[self.start];
        self.start += 1;
        Ok(byte)
    }

    /// `field` placed at the record starting at offset `at`.
    fn place<T>(&self, at: u64, field: Result<T, Field>) -> Result<T, Stop> {
        field.map_err(|error| match error {
            Field::Cut => Stop::Cut,
            Field::Bad(expected, found) => Stop::Error(self.error(at, expected, found)),
        })
    }

    fn varint(&mut self, at: u64) -> Result<u64, Stop> {
        // Up to a varint's longest, or what is left of the input.
        self.fill(10)?;
        let (value, len) = self.place(at, varint::read(&self.buffer[self.start..self.end]))?;
        self.start += len;
        Ok(value)
    }

    fn string(&mut self, at: u64) -> Result<Arc<str>, Stop> {
        let len = self.varint(at)?;
        if len > MAX_STRING {
            return Err(Stop::Error(self.error(
                at,
                format!("a string of at most {MAX_STRING} bytes"),
                format!("a length of {len}"),
            )));
        }
        let len = len as usize;
        if !self.fill(len)? {
            return Err(Stop::Cut);
        }
        let bytes = &self.buffer[self.start..self.start + len];
        self.start += len;
        match std::str::from_utf8(bytes) {
            Ok(text) => Ok(Arc::from(text)),
            Err(_) => Err(Stop::Error(self.error(
                at,
                "a UTF-8 string",
                "invalid UTF-8",
            ))),
        }
    }

    /// A named record's fields after the tag (see the writer's `named`): id, site, and the
    /// name when `flag` says there is one.
    fn named(&mut self, at: u64, flag: bool) -> Result<Named, Stop> {
        let id = self.varint(at)?;
        let site = self.site(at)?;
        let name = if flag { Some(self.string(at)?) } else { None };
        Ok(Named { id, site, name })
    }

    fn site(&mut self, at: u64) -> Result<Option<Site>, Stop> {
        let n = self.varint(at)?;
        self.place(at, site_of(&self.sites, n))
    }

    fn mode(&self, tag: u8, at: u64) -> Result<Mode, Stop> {
        self.place(at, mode_of(tag))
    }

    /// Checks [`MAGIC`] and the version.
    fn start(&mut self) -> Result<(), Stop> {
        if !self.fill(MAGIC.len())? {
            return Err(Stop::Cut);
        }
        if self.buffer[self.start..self.start + MAGIC.len()] != MAGIC {
            return Err(Stop::Error(self.error(
                0,
                "a compact lockscan trace (its magic bytes)",
                "other bytes",
            )));
        }
        self.start += MAGIC.len();
        let version = self.varint(MAGIC.len() as u64)?;
        if !(1..=COMPACT_VERSION).contains(&version) {
            return Err(Stop::Error(self.error(
                MAGIC.len() as u64,
                format!("version 1 to {COMPACT_VERSION} of the compact encoding"),
                format!("version {version}"),
            )));
        }
        self.flavours = version >= FLAVOURS_SINCE;
        self.unique_sites = version >= UNIQUE_SITES_SINCE;
        Ok(())
    }

    /// The next top-level event; `site` records are taken in and `block`s handed to the merge
    /// on the way.
    fn record(&mut self) -> Result<Event, Stop> {
        loop {
            self.record_start = self.start;
            // Set again by `fill` if this record is not all there yet.
            self.input_pending = false;
            let at = self.offset();
            if self.start == self.end && !self.fill(1)? {
                return Err(Stop::End);
            }
            let t = self.byte()?;
            match t & tag::TYPE_MASK {
                tag::SITE => {
                    let text = self.string(at)?;
                    self.sites.push(Site::from(&*text));
                    if self.unique_sites && !self.site_texts.insert(text.clone()) {
                        self.warnings.push(TraceWarning::DuplicateSite {
                            file: self.file.clone(),
                            offset: at,
                            site: text.to_string(),
                            number: self.sites.len() as u64,
                        });
                    }
                }
                tag::BLOCK => {
                    self.block(at, t & tag::FLAG != 0)?;
                    return Err(Stop::Block);
                }
                _ => {
                    self.records += 1;
                    return self.event(t, at);
                }
            }
        }
    }

    /// Reads a `block` whole and hands it to the merge, which decodes it as it gets there.
    fn block(&mut self, at: u64, detached: bool) -> Result<(), Stop> {
        let tid = self.varint(at)?;
        let records = self.varint(at)?;
        let len = self.varint(at)?;
        if len > MAX_BLOCK || records > len {
            return Err(Stop::Error(self.error(
                at,
                format!("a block of at most {MAX_BLOCK} bytes, one or more per record"),
                format!("{records} records in {len} bytes"),
            )));
        }
        if !self.fill(len as usize)? {
            return Err(Stop::Cut);
        }
        let offset = self.offset();
        let mut bytes = self.merge.block_buffer();
        bytes.extend_from_slice(&self.buffer[self.start..self.start + len as usize]);
        self.start += len as usize;
        self.records += records;
        self.merge.push_block(tid, bytes, records, offset, detached);
        Ok(())
    }

    fn event(&mut self, t: u8, at: u64) -> Result<Event, Stop> {
        let flag = t & tag::FLAG != 0;
        let event = match t & tag::TYPE_MASK {
            #[cfg(not(feature = "analyze"))]
            tag::HEADER | tag::FINDING_JSON => {
                // Recording never reads these back (it writes its JSONL header itself).
                return Err(Stop::Error(self.error(
                    at,
                    "a record this build reads without JSON (reading a `header` or a JSON \
                     `finding` needs the feature `analyze`)",
                    (t & tag::TYPE_MASK).to_string(),
                )));
            }
            #[cfg(feature = "analyze")]
            tag::HEADER => {
                let json = self.string(at)?;
                let record: Record<'_> = serde_json::from_str(&json).map_err(|err| {
                    Stop::Error(self.error(at, "a JSON header object", err.to_string()))
                })?;
                if record.format.as_deref() != Some(FORMAT_NAME)
                    || record.version != Some(FORMAT_VERSION)
                {
                    return Err(Stop::Error(self.error(
                        at,
                        format!("a header of format `{FORMAT_NAME}` version {FORMAT_VERSION}"),
                        json.to_string(),
                    )));
                }
                Event::Header(Header {
                    version: FORMAT_VERSION,
                    tool: record.tool.as_deref().map(Arc::from),
                    pid: record.pid,
                    program: record.program.as_deref().map(Arc::from),
                })
            }
            tag::THREAD => {
                let tid = ThreadId(self.varint(at)?);
                let name = self.string(at)?;
                let parent = if flag {
                    Some(ThreadId(self.varint(at)?))
                } else {
                    None
                };
                Event::Thread {
                    tid,
                    name: (!name.is_empty()).then_some(name),
                    parent,
                }
            }
            tag::LOCK => {
                let lock = LockId(self.varint(at)?);
                let byte = self.byte()?;
                let kind = self.place(at, kind_of(byte))?;
                let site = self.site(at)?;
                let class = if flag { Some(self.string(at)?) } else { None };
                let name = if t & tag::LOCK_NAME != 0 {
                    Some(self.string(at)?)
                } else {
                    None
                };
                let rank = if t & tag::LOCK_RANK != 0 {
                    Some(self.varint(at)?)
                } else {
                    None
                };
                if let Some(first) = self.lock_kinds.redeclared(lock.0, kind) {
                    self.warnings.push(TraceWarning::LockRedeclared {
                        file: self.file.clone(),
                        offset: at,
                        lock: lock.0,
                        first,
                        kind,
                    });
                }
                Event::Lock {
                    lock,
                    kind,
                    name,
                    class,
                    site,
                    rank,
                }
            }
            tag::CONDVAR => {
                let Named { id, site, name } = self.named(at, flag)?;
                Event::Condvar {
                    condvar: CondvarId(id),
                    name,
                    site,
                }
            }
            tag::VAR => {
                let Named { id, site, name } = self.named(at, flag)?;
                Event::Var {
                    var: VarId(id),
                    name,
                    site,
                }
            }
            tag::SPAWN | tag::JOIN => {
                let tid = ThreadId(self.varint(at)?);
                let child = ThreadId(self.varint(at)?);
                let site = self.site(at)?;
                if t & tag::TYPE_MASK == tag::SPAWN {
                    Event::Spawn { tid, child, site }
                } else {
                    Event::Join { tid, child, site }
                }
            }
            tag::REQUEST | tag::ACQUIRE | tag::RELEASE => {
                let (mode, flavour) =
                    if t & tag::TYPE_MASK != tag::RELEASE && t & tag::FLAVOURED == tag::FLAVOURED {
                        let byte = self.byte()?;
                        self.place(at, flavour_of(byte))?
                    } else {
                        (self.mode(t, at)?, Flavour::Plain)
                    };
                let tid = ThreadId(self.varint(at)?);
                let lock = LockId(self.varint(at)?);
                let site = self.site(at)?;
                match t & tag::TYPE_MASK {
                    tag::REQUEST => Event::Request {
                        tid,
                        lock,
                        mode,
                        flavour,
                        site,
                    },
                    tag::ACQUIRE => Event::Acquire {
                        tid,
                        lock,
                        mode,
                        try_lock: flag,
                        flavour,
                        site,
                    },
                    _ => Event::Release {
                        tid,
                        lock,
                        mode,
                        site,
                    },
                }
            }
            tag::WAIT => Event::Wait {
                tid: ThreadId(self.varint(at)?),
                condvar: CondvarId(self.varint(at)?),
                lock: LockId(self.varint(at)?),
                site: self.site(at)?,
            },
            tag::NOTIFY => Event::Notify {
                tid: ThreadId(self.varint(at)?),
                condvar: CondvarId(self.varint(at)?),
                all: flag,
                site: self.site(at)?,
            },
            tag::READ | tag::WRITE => {
                let tid = ThreadId(self.varint(at)?);
                let var = VarId(self.varint(at)?);
                let site = self.site(at)?;
                if t & tag::TYPE_MASK == tag::READ {
                    Event::Read { tid, var, site }
                } else {
                    Event::Write { tid, var, site }
                }
            }
            tag::FINDING => {
                let len = self.varint(at)?;
                if len > MAX_STRING {
                    return Err(Stop::Error(self.error(
                        at,
                        format!("a finding of at most {MAX_STRING} bytes"),
                        format!("a length of {len}"),
                    )));
                }
                if !self.fill(len as usize)? {
                    return Err(Stop::Cut);
                }
                let fields = &self.buffer[self.start..self.start + len as usize];
                self.start += len as usize;
                let wire = finding_of(fields).map_err(|error| {
                    let (expected, found) = match error {
                        Field::Cut => (
                            "a finding whose fields fit in its length",
                            format!("{len} bytes"),
                        ),
                        Field::Bad(expected, found) => (expected, found),
                    };
                    Stop::Error(self.error(at, expected, found))
                })?;
                let finding = wire.into_finding().map_err(|expected| {
                    Stop::Error(self.error(at, expected, "something else in the finding"))
                })?;
                Event::Finding(Box::new(finding))
            }
            #[cfg(feature = "analyze")]
            tag::FINDING_JSON => {
                let json = self.string(at)?;
                let wire: WireFinding = serde_json::from_str(&json).map_err(|err| {
                    Stop::Error(self.error(at, "a JSON finding object", err.to_string()))
                })?;
                let finding = wire
                    .into_finding()
                    .map_err(|expected| Stop::Error(self.error(at, expected, json.to_string())))?;
                Event::Finding(Box::new(finding))
            }
            tag::END => {
                let events = self.varint(at)?;
                let dropped = self.varint(at)?;
                Event::End {
                    events: Some(events),
                    dropped: Some(dropped),
                }
            }
            other => {
                return Err(Stop::Error(self.error(
                    at,
                    "a record tag 0 to 17 or 22",
                    other.to_string(),
                )));
            }
        };
        Ok(event)
    }

    fn check_end(&mut self, event: &Event) {
        let Event::End { events, dropped } = event else {
            return;
        };
        self.seen_end = true;
        let read = self.records - 1;
        if let Some(written) = events.filter(|&written| written != read) {
            self.warnings.push(TraceWarning::EventCountMismatch {
                file: self.file.clone(),
                written,
                read,
            });
        }
        if let Some(dropped) = dropped.filter(|&d| d > 0) {
            self.warnings.push(TraceWarning::DroppedEvents {
                file: self.file.clone(),
                dropped,
            });
        }
    }

    fn finish(&mut self) {
        if !self.finished {
            self.finished = true;
            if !self.seen_end {
                self.warnings.push(TraceWarning::MissingEnd {
                    file: self.file.clone(),
                });
            }
        }
    }
}

impl<R: Read> Iterator for CompactReader<R> {
    type Item = Result<Event, TraceError>;

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            match self.merge.next(&self.sites) {
                Some(Ok(event)) => return Some(Ok(self.flavoured(event))),
                Some(Err(error)) => {
                    // The merge cannot go on past a bad record: stop here.
                    self.finished = true;
                    self.merge = Merge::default();
                    self.held_end = None;
                    return Some(Err(TraceError::Binary {
                        file: self.file.clone(),
                        offset: error.offset,
                        expected: error.expected,
                        found: error.found,
                    }));
                }
                None => {}
            }
            self.note_forced();
            if let Some(end) = self.held_end.take() {
                return Some(Ok(end));
            }
            if self.finished {
                return None;
            }
            if !self.started {
                match self.start() {
                    Ok(()) => self.started = true,
                    Err(Stop::Cut | Stop::End) if self.input_pending => return self.pause(),
                    Err(Stop::Error(error)) => {
                        self.finished = true;
                        return Some(Err(error));
                    }
                    Err(_) => {
                        self.finished = true;
                        return Some(Err(self.error(
                            0,
                            "a compact lockscan trace",
                            "a file shorter than its magic bytes",
                        )));
                    }
                }
            }
            let at = self.offset();
            match self.record() {
                Ok(event @ Event::End { .. }) => {
                    self.check_end(&event);
                    // Everything recorded before the end comes before it, even events whose
                    // predecessors never came.
                    self.merge.finish();
                    self.held_end = Some(event);
                }
                Ok(event) => return Some(Ok(self.flavoured(event))),
                Err(Stop::Block) => {}
                Err(Stop::Cut | Stop::End) if self.input_pending => return self.pause(),
                Err(Stop::End) => {
                    self.merge.finish();
                    let empty = self.records == 0;
                    self.finish();
                    if empty {
                        return Some(Err(self.error(
                            self.offset(),
                            "a trace record",
                            "the end of the file",
                        )));
                    }
                }
                Err(Stop::Cut) => {
                    self.warnings.push(TraceWarning::TruncatedRecord {
                        file: self.file.clone(),
                        offset: at,
                    });
                    self.merge.finish();
                    self.finish();
                }
                Err(Stop::Error(error)) => {
                    // The stream cannot be resynchronised after a bad record: stop here.
                    self.finished = true;
                    self.merge = Merge::default();
                    return Some(Err(error));
                }
            }
        }
    }
}

impl<R: Read> CompactReader<R> {
    /// The input has nothing more for now: go back to the start of the record being read, to
    /// read it whole when the input has more.
    fn pause(&mut self) -> Option<Result<Event, TraceError>> {
        self.input_pending = false;
        self.start = self.record_start;
        None
    }

    /// Says so when events had to be given out before predecessors that never came.
    fn note_forced(&mut self) {
        let forced = self.merge.take_forced();
        if forced > 0 {
            self.warnings.push(TraceWarning::UnorderedEvents {
                file: self.file.clone(),
                events: forced,
            });
        }
    }
}
