//! The compact trace encoding: the same records as the JSONL format (trace-format.md), in a
//! byte stream of 2 to 5 bytes a lock event instead of about 60, and read an order of magnitude
//! faster. The recorder writes it for `*.lstrace` files and for the traces of a `LOCKSCAN_TRACE`
//! directory (unless `LOCKSCAN_TRACE_FORMAT=jsonl`); every command reads it; `lockscan convert`
//! turns it into JSONL and back.
//!
//! The layout is documented in the repository's `docs/trace-compact.md`. In short: [`MAGIC`],
//! the version (2) as a varint, then records of a tag byte and varint or string fields, each
//! written whole (a killed writer leaves a readable prefix). [`CompactWriter`] writes events in
//! one total order as top-level records. The recorder writes each thread's events in `block`s
//! of thread records that carry operation numbers of the objects they touch instead of a tid
//! (`compact/block.rs`), and [`CompactReader`] restores a replay order from them
//! (`compact/merge.rs`).

use std::io::{self, Read, Write};
use std::sync::Arc;

use rustc_hash::FxHashMap;

use super::wire::{FORMAT_NAME, FORMAT_VERSION, Record, Text, WireFinding, WireFindingEdge};
use super::format::{block, json};
use super::{Event, Header, TraceError, TraceWarning};
use crate::ids::{CondvarId, Flavour, LockId, LockKind, Mode, ThreadId, VarId};
use crate::site::Site;

pub(crate) mod merge;

use merge::{Item, Key, Merge, Order};

/// The first 8 bytes of a compact trace. The high first byte and the line ends tell it apart
/// from text, and show when a transfer changed line ends.
pub const MAGIC: [u8; 8] = *b"\x89LSTRC\r\n";

/// The version of the compact layout this module writes and reads. Version 3 added the
/// flavour of acquisitions and requests; readers read versions 1 and 2 too, where a shared
/// acquisition may have been a recursive read (see [`Flavour`]).
pub const COMPACT_VERSION: u64 = 3;

/// The first version whose acquisitions and requests carry their [`Flavour`].
const FLAVOURS_SINCE: u64 = 3;

/// The file extension that selects the compact encoding where a name is chosen by extension.
pub const EXTENSION: &str = "lstrace";

pub(crate) mod tag {
    pub const HEADER: u8 = 0;
    pub const SITE: u8 = 1;
    pub const THREAD: u8 = 2;
    pub const LOCK: u8 = 3;
    pub const CONDVAR: u8 = 4;
    pub const VAR: u8 = 5;
    pub const SPAWN: u8 = 6;
    pub const JOIN: u8 = 7;
    pub const REQUEST: u8 = 8;
    pub const ACQUIRE: u8 = 9;
    pub const RELEASE: u8 = 10;
    pub const WAIT: u8 = 11;
    pub const NOTIFY: u8 = 12;
    pub const READ: u8 = 13;
    pub const WRITE: u8 = 14;
    /// A finding as JSON text: what lockscan wrote before [`FINDING`]; still read, with the
    /// feature `analyze`.
    pub const FINDING_JSON: u8 = 15;
    pub const END: u8 = 16;
    pub const BLOCK: u8 = 17;
    pub const START: u8 = 18;
    pub const EXIT: u8 = 19;
    pub const NEAR_ACQUIRE: u8 = 20;
    pub const NEAR_RELEASE: u8 = 21;
    /// A finding, field by field (no JSON: recording does not need a JSON library).
    pub const FINDING: u8 = 22;
    pub const TYPE_MASK: u8 = 0x1f;
    pub const MODE_SHIFT: u8 = 5;
    /// Mode bits 3, on `request` and `acquire` records: a flavour byte follows the tag, with
    /// the mode (low 2 bits) and the flavour (bits 2 to 4; see `lock_tag`).
    pub const FLAVOURED: u8 = 0x60;
    pub const FLAG: u8 = 0x80;
    /// On `lock` records, which use the mode bits for optional fields instead.
    pub const LOCK_NAME: u8 = 0x20;
    pub const LOCK_RANK: u8 = 0x40;
}

pub(crate) fn mode_bits(mode: Mode) -> u8 {
    let bits = match mode {
        Mode::Exclusive => 0,
        Mode::Shared => 1,
        Mode::Upgradable => 2,
    };
    bits << tag::MODE_SHIFT
}

/// The tag of a `request` or `acquire` record (`base`: its type and flag) in `mode`, and the
/// flavour byte that follows it when the flavour is not plain (the mode then moves into it):
/// a plain acquisition costs no byte more.
#[inline(always)]
pub(crate) fn lock_tag(base: u8, mode: Mode, flavour: Flavour) -> (u8, Option<u8>) {
    if flavour == Flavour::Plain {
        return (base | mode_bits(mode), None);
    }
    let flavour_bits = match flavour {
        Flavour::Plain => 0,
        Flavour::Recursive => 1,
        Flavour::Timed => 2,
        Flavour::Upgrade => 3,
        Flavour::Downgrade => 4,
    };
    let byte = (mode_bits(mode) >> tag::MODE_SHIFT) | flavour_bits << 2;
    (base | tag::FLAVOURED, Some(byte))
}

/// The mode and flavour of a flavour byte (see [`lock_tag`]).
fn flavour_of(byte: u8) -> Result<(Mode, Flavour), Field> {
    let mode = mode_of((byte & 0b11) << tag::MODE_SHIFT)?;
    let flavour = match byte >> 2 {
        0 => Flavour::Plain,
        1 => Flavour::Recursive,
        2 => Flavour::Timed,
        3 => Flavour::Upgrade,
        4 => Flavour::Downgrade,
        other => {
            return Err(Field::Bad(
                "a flavour 0 to 4 (plain, recursive, timed, upgrade, downgrade)",
                other.to_string(),
            ));
        }
    };
    Ok((mode, flavour))
}

fn kind_byte(kind: LockKind) -> u8 {
    match kind {
        LockKind::Mutex => 0,
        LockKind::RwLock => 1,
        LockKind::Reentrant => 2,
        LockKind::Semaphore => 3,
    }
}

/// Writes a compact trace: [`MAGIC`], the version, then one record per [`write`](Self::write).
///
/// ```
/// use lockscan::ids::{Flavour, LockId, Mode, ThreadId};
/// use lockscan::trace::{CompactReader, CompactWriter, Event, Header};
///
/// let acquire = Event::Acquire {
///     tid: ThreadId(1),
///     lock: LockId(7),
///     mode: Mode::Exclusive,
///     try_lock: false,
///     flavour: Flavour::Plain,
///     site: Some("src/lib.rs:10:5".into()),
/// };
/// let mut writer = CompactWriter::new(Vec::new(), &Header::default())?;
/// writer.write(&acquire)?;
/// writer.write(&Event::End { events: None, dropped: None })?;
/// let bytes = std::mem::take(writer.get_mut());
///
/// let events: Vec<Event> = CompactReader::new(&bytes[..], "trace.lstrace")
///     .collect::<Result<_, _>>()?;
/// assert_eq!(events[1], acquire); // after the header
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug)]
pub struct CompactWriter<W: Write> {
    out: W,
    /// Site -> number.
    sites: FxHashMap<SiteKey, u64>,
    /// Records written but `site` records, header included: what `end` counts.
    records: u64,
    buffer: Vec<u8>,
}

impl<W: Write> CompactWriter<W> {
    /// Starts a trace on `out` with `header` (the JSONL header object's fields).
    pub fn new(mut out: W, header: &Header) -> io::Result<Self> {
        out.write_all(&MAGIC)?;
        let mut writer = CompactWriter {
            out,
            sites: FxHashMap::default(),
            records: 0,
            buffer: Vec::with_capacity(64),
        };
        varint(&mut writer.buffer, COMPACT_VERSION);
        writer.flush_record()?;
        writer.write(&Event::Header(header.clone()))?;
        Ok(writer)
    }

    /// How many records `end` would count now.
    pub fn records(&self) -> u64 {
        self.records
    }

    /// The underlying writer.
    pub fn get_mut(&mut self) -> &mut W {
        &mut self.out
    }

    /// Writes one event as a record (and the `site` records it needs first).
    pub fn write(&mut self, event: &Event) -> io::Result<()> {
        let b = &mut self.buffer;
        b.clear();
        match event {
            Event::Header(header) => {
                let record = Record {
                    record_type: "header".into(),
                    format: Some(Text(FORMAT_NAME.into())),
                    // The version this writer writes, whatever the header read said.
                    version: Some(FORMAT_VERSION),
                    tool: header.tool.as_deref().map(|t| Text(t.into())),
                    pid: header.pid,
                    program: header.program.as_deref().map(|p| Text(p.into())),
                    ..Record::default()
                };
                let mut json = Vec::with_capacity(128);
                json::record(&mut json, &record);
                b.push(tag::HEADER);
                varint(b, json.len() as u64);
                b.extend_from_slice(&json);
            }
            Event::Thread { tid, name, parent } => {
                b.push(tag::THREAD | if parent.is_some() { tag::FLAG } else { 0 });
                varint(b, tid.0);
                string(b, name.as_deref().unwrap_or(""));
                if let Some(parent) = parent {
                    varint(b, parent.0);
                }
            }
            Event::Lock {
                lock,
                kind,
                name,
                class,
                site,
                rank,
            } => {
                let site = self.site_number(site.as_ref())?;
                lock_record(
                    &mut self.buffer,
                    lock.0,
                    *kind,
                    site,
                    class.as_deref(),
                    name.as_deref(),
                    *rank,
                );
            }
            Event::Condvar {
                condvar,
                name,
                site,
            } => {
                let site = self.site_number(site.as_ref())?;
                named(
                    &mut self.buffer,
                    tag::CONDVAR,
                    condvar.0,
                    site,
                    name.as_deref(),
                );
            }
            Event::Var { var, name, site } => {
                let site = self.site_number(site.as_ref())?;
                named(&mut self.buffer, tag::VAR, var.0, site, name.as_deref());
            }
            Event::Spawn { tid, child, site } | Event::Join { tid, child, site } => {
                let t = if matches!(event, Event::Spawn { .. }) {
                    tag::SPAWN
                } else {
                    tag::JOIN
                };
                self.triple(t, tid.0, child.0, site)?;
            }
            Event::Request {
                tid,
                lock,
                mode,
                flavour,
                site,
            } => self.lock_event(tag::REQUEST, *mode, *flavour, tid.0, lock.0, site)?,
            Event::Acquire {
                tid,
                lock,
                mode,
                try_lock,
                flavour,
                site,
            } => {
                let flag = if *try_lock { tag::FLAG } else { 0 };
                self.lock_event(tag::ACQUIRE | flag, *mode, *flavour, tid.0, lock.0, site)?;
            }
            Event::Release {
                tid,
                lock,
                mode,
                site,
            } => self.triple(tag::RELEASE | mode_bits(*mode), tid.0, lock.0, site)?,
            Event::Wait {
                tid,
                condvar,
                lock,
                site,
            } => {
                let site = self.site_number(site.as_ref())?;
                let b = &mut self.buffer;
                b.push(tag::WAIT);
                varint(b, tid.0);
                varint(b, condvar.0);
                varint(b, lock.0);
                varint(b, site);
            }
            Event::Notify {
                tid,
                condvar,
                all,
                site,
            } => {
                let flag = if *all { tag::FLAG } else { 0 };
                self.triple(tag::NOTIFY | flag, tid.0, condvar.0, site)?;
            }
            Event::Read { tid, var, site } | Event::Write { tid, var, site } => {
                let t = if matches!(event, Event::Read { .. }) {
                    tag::READ
                } else {
                    tag::WRITE
                };
                self.triple(t, tid.0, var.0, site)?;
            }
            Event::Finding(finding) => finding_record(b, &WireFinding::from_finding(finding)),
            Event::End { events, dropped } => {
                end_record(b, events.unwrap_or(self.records), dropped.unwrap_or(0));
            }
        }
        self.records += 1;
        self.flush_record()
    }

    /// Writes a finding as it is recorded live (its wire form).
    pub fn write_wire_finding(&mut self, finding: &WireFinding) -> io::Result<()> {
        self.buffer.clear();
        finding_record(&mut self.buffer, finding);
        self.records += 1;
        self.flush_record()
    }

    fn flush_record(&mut self) -> io::Result<()> {
        self.out.write_all(&self.buffer)
    }

    /// A record of `tag`, `a`, `b` and `site`'s number (writing its `site` record first if it
    /// is new): most events' form.
    fn triple(&mut self, tag: u8, a: u64, b: u64, site: &Option<Site>) -> io::Result<()> {
        let site = self.site_number(site.as_ref())?;
        triple(&mut self.buffer, tag, a, b, site);
        Ok(())
    }

    /// A `request` or `acquire` record (`base`: its type and flag): [`lock_tag`], then as
    /// [`triple`](Self::triple).
    fn lock_event(
        &mut self,
        base: u8,
        mode: Mode,
        flavour: Flavour,
        tid: u64,
        lock: u64,
        site: &Option<Site>,
    ) -> io::Result<()> {
        let site = self.site_number(site.as_ref())?;
        let (t, flavour_byte) = lock_tag(base, mode, flavour);
        let b = &mut self.buffer;
        b.push(t);
        b.extend(flavour_byte);
        varint(b, tid);
        varint(b, lock);
        varint(b, site);
        Ok(())
    }

    /// The number of `site`, writing its `site` record first if it is new.
    fn site_number(&mut self, site: Option<&Site>) -> io::Result<u64> {
        let Some(site) = site else {
            return Ok(0);
        };
        let key = match site {
            // A live site is a `&'static Location`: its address names it, and hashing that is
            // cheaper than hashing its file name.
            Site::Caller(location) => SiteKey::Caller(std::ptr::from_ref(*location).addr()),
            Site::Text(text) => SiteKey::Text(text.clone()),
        };
        if let Some(&number) = self.sites.get(&key) {
            return Ok(number);
        }
        let number = self.sites.len() as u64 + 1;
        self.sites.insert(key, number);
        let mut record = Vec::with_capacity(48);
        site_record(&mut record, &site.to_string());
        self.out.write_all(&record)?;
        Ok(number)
    }
}

/// What tells sites apart for numbering.
#[derive(Debug, PartialEq, Eq, Hash)]
enum SiteKey {
    Caller(usize),
    Text(Arc<Box<str>>),
}

fn varint(out: &mut Vec<u8>, mut value: u64) {
    while value >= 0x80 {
        out.push((value as u8) | 0x80);
        value >>= 7;
    }
    out.push(value as u8);
}

fn string(out: &mut Vec<u8>, text: &str) {
    varint(out, text.len() as u64);
    out.extend_from_slice(text.as_bytes());
}

fn triple(out: &mut Vec<u8>, tag: u8, a: u64, b: u64, site: u64) {
    out.push(tag);
    varint(out, a);
    varint(out, b);
    varint(out, site);
}

/// A `condvar` or `var` declaration.
fn named(out: &mut Vec<u8>, tag: u8, id: u64, site: u64, name: Option<&str>) {
    out.push(tag | if name.is_some() { tag::FLAG } else { 0 });
    varint(out, id);
    varint(out, site);
    if let Some(name) = name {
        string(out, name);
    }
}

/// A named record (condition variable, variable) as read: what [`named`] wrote.
struct Named {
    id: u64,
    site: Option<Site>,
    name: Option<Arc<str>>,
}

/// A `condvar` declaration without a name.
pub(crate) fn condvar_record(out: &mut Vec<u8>, condvar: u64, site: u64) {
    named(out, tag::CONDVAR, condvar, site, None);
}

/// A `var` declaration.
pub(crate) fn var_record(out: &mut Vec<u8>, var: u64, site: u64, name: Option<&str>) {
    named(out, tag::VAR, var, site, name);
}

/// A `site` record: the next site number stands for `text`.
pub(crate) fn site_record(out: &mut Vec<u8>, text: &str) {
    out.push(tag::SITE);
    string(out, text);
}

/// A `thread` record, with the thread that spawned it when known.
pub(crate) fn thread_record(out: &mut Vec<u8>, tid: u64, name: &str, parent: Option<u64>) {
    out.push(tag::THREAD | if parent.is_some() { tag::FLAG } else { 0 });
    varint(out, tid);
    string(out, name);
    if let Some(parent) = parent {
        varint(out, parent);
    }
}

/// A `lock` declaration.
pub(crate) fn lock_record(
    out: &mut Vec<u8>,
    lock: u64,
    kind: LockKind,
    site: u64,
    class: Option<&str>,
    name: Option<&str>,
    rank: Option<u64>,
) {
    let mut t = tag::LOCK;
    if class.is_some() {
        t |= tag::FLAG;
    }
    if name.is_some() {
        t |= tag::LOCK_NAME;
    }
    if rank.is_some() {
        t |= tag::LOCK_RANK;
    }
    out.push(t);
    varint(out, lock);
    out.push(kind_byte(kind));
    varint(out, site);
    if let Some(class) = class {
        string(out, class);
    }
    if let Some(name) = name {
        string(out, name);
    }
    if let Some(rank) = rank {
        varint(out, rank);
    }
}

/// What starts every compact trace: [`MAGIC`] and the version.
pub(crate) fn preamble(out: &mut Vec<u8>) {
    out.extend_from_slice(&MAGIC);
    varint(out, COMPACT_VERSION);
}

/// A `finding` record: the byte length of its fields, then the fields (docs/trace-compact.md).
pub(crate) fn finding_record(out: &mut Vec<u8>, finding: &WireFinding) {
    let mut fields = Vec::with_capacity(256);
    finding_fields(&mut fields, finding);
    out.push(tag::FINDING);
    varint(out, fields.len() as u64);
    out.extend_from_slice(&fields);
}

/// Bits of a finding's and an edge's flags.
mod finding_flag {
    pub const HELP: u64 = 1;
    pub const SITE: u64 = 2;
    pub const FROM_SITE: u64 = 1;
    pub const TO_SITE: u64 = 2;
    pub const BLOCKED: u64 = 4;
    /// `from_mode` and `to_mode` (0 exclusive, 1 shared, 2 upgradable), two bits each.
    pub const FROM_MODE_SHIFT: u32 = 3;
    pub const TO_MODE_SHIFT: u32 = 5;
}

fn finding_fields(out: &mut Vec<u8>, finding: &WireFinding) {
    // Every field named: a field added to `WireFinding` does not compile here until it is
    // encoded too (at the end, where older readers skip it).
    let WireFinding {
        kind,
        message,
        reason,
        help,
        site,
        locks,
        threads,
        edges,
    } = finding;
    let strings = |out: &mut Vec<u8>, list: &[String]| {
        varint(out, list.len() as u64);
        for text in list {
            string(out, text);
        }
    };
    string(out, kind);
    string(out, message);
    string(out, reason);
    let mut flags = 0;
    if help.is_some() {
        flags |= finding_flag::HELP;
    }
    if site.is_some() {
        flags |= finding_flag::SITE;
    }
    varint(out, flags);
    for text in [help, site].into_iter().flatten() {
        string(out, text);
    }
    strings(out, locks);
    strings(out, threads);
    varint(out, edges.len() as u64);
    for edge in edges {
        let WireFindingEdge {
            from,
            to,
            thread,
            from_site,
            to_site,
            from_mode,
            to_mode,
            held,
            blocked,
        } = edge;
        string(out, from);
        string(out, to);
        string(out, thread);
        let mode = |mode: &Option<String>| match mode.as_deref() {
            Some("shared") => 1,
            Some("upgradable") => 2,
            _ => 0,
        };
        let mut flags = (mode(from_mode) << finding_flag::FROM_MODE_SHIFT)
            | (mode(to_mode) << finding_flag::TO_MODE_SHIFT);
        if from_site.is_some() {
            flags |= finding_flag::FROM_SITE;
        }
        if to_site.is_some() {
            flags |= finding_flag::TO_SITE;
        }
        if *blocked {
            flags |= finding_flag::BLOCKED;
        }
        varint(out, flags);
        for text in [from_site, to_site].into_iter().flatten() {
            string(out, text);
        }
        strings(out, held);
    }
}

/// Decodes a `finding` record's fields, as [`finding_fields`] wrote them; bytes after them
/// (fields of a later version) are skipped.
fn finding_of(mut bytes: &[u8]) -> Result<WireFinding, Field> {
    fn number(bytes: &mut &[u8]) -> Result<u64, Field> {
        let (value, len) = varint_of(bytes)?;
        *bytes = &bytes[len..];
        Ok(value)
    }
    fn text(bytes: &mut &[u8]) -> Result<String, Field> {
        let len = number(bytes)?;
        let len = usize::try_from(len)
            .ok()
            .filter(|&len| len <= bytes.len())
            .ok_or(Field::Cut)?;
        let (text, rest) = bytes.split_at(len);
        *bytes = rest;
        String::from_utf8(text.to_vec())
            .map_err(|_| Field::Bad("a UTF-8 string", "invalid UTF-8".into()))
    }
    fn texts(bytes: &mut &[u8]) -> Result<Vec<String>, Field> {
        let count = number(bytes)?;
        // Each string takes a byte at least: a corrupt count cannot make this allocate more.
        if count > bytes.len() as u64 {
            return Err(Field::Cut);
        }
        (0..count).map(|_| text(bytes)).collect()
    }
    fn optional(bytes: &mut &[u8], present: bool) -> Result<Option<String>, Field> {
        present.then(|| text(bytes)).transpose()
    }
    let mode = |bits: u64| -> Result<Option<String>, Field> {
        match bits & 0b11 {
            0 => Ok(None),
            1 => Ok(Some(Mode::Shared.as_str().to_owned())),
            2 => Ok(Some(Mode::Upgradable.as_str().to_owned())),
            _ => Err(Field::Bad("a lock mode 0, 1 or 2", "3".into())),
        }
    };
    let bytes = &mut bytes;
    let kind = text(bytes)?;
    let message = text(bytes)?;
    let reason = text(bytes)?;
    let flags = number(bytes)?;
    let help = optional(bytes, flags & finding_flag::HELP != 0)?;
    let site = optional(bytes, flags & finding_flag::SITE != 0)?;
    let locks = texts(bytes)?;
    let threads = texts(bytes)?;
    let count = number(bytes)?;
    if count > bytes.len() as u64 {
        return Err(Field::Cut);
    }
    let edges = (0..count)
        .map(|_| {
            let from = text(bytes)?;
            let to = text(bytes)?;
            let thread = text(bytes)?;
            let flags = number(bytes)?;
            Ok(WireFindingEdge {
                from,
                to,
                thread,
                from_site: optional(bytes, flags & finding_flag::FROM_SITE != 0)?,
                to_site: optional(bytes, flags & finding_flag::TO_SITE != 0)?,
                from_mode: mode(flags >> finding_flag::FROM_MODE_SHIFT)?,
                to_mode: mode(flags >> finding_flag::TO_MODE_SHIFT)?,
                held: texts(bytes)?,
                blocked: flags & finding_flag::BLOCKED != 0,
            })
        })
        .collect::<Result<_, Field>>()?;
    Ok(WireFinding {
        kind,
        message,
        reason,
        help,
        site,
        locks,
        threads,
        edges,
    })
}

/// The `end` record.
pub(crate) fn end_record(out: &mut Vec<u8>, events: u64, dropped: u64) {
    out.push(tag::END);
    varint(out, events);
    varint(out, dropped);
}

/// The start of a `block` of `len` bytes holding `records` thread records of thread `tid`;
/// `detached`: its records neither use nor change the thread's recent locks.
pub(crate) fn block_header(out: &mut Vec<u8>, tid: u64, records: u64, len: u64, detached: bool) {
    out.push(tag::BLOCK | if detached { tag::FLAG } else { 0 });
    varint(out, tid);
    varint(out, records);
    varint(out, len);
}

/// What went wrong decoding a field, for the reader or the block cursor to place.
enum Field {
    /// The bytes end inside the field.
    Cut,
    /// The field is wrong: what was expected, what was found.
    Bad(&'static str, String),
}

/// The varint at the start of `bytes`, and its length.
#[inline]
fn varint_of(bytes: &[u8]) -> Result<(u64, usize), Field> {
    let mut value = 0_u64;
    for (index, &byte) in bytes.iter().take(10).enumerate() {
        value |= u64::from(byte & 0x7f) << (7 * index);
        if byte & 0x80 == 0 {
            return Ok((value, index + 1));
        }
    }
    if bytes.len() < 10 {
        Err(Field::Cut)
    } else {
        Err(Field::Bad(
            "a varint of at most 10 bytes",
            "a longer one".into(),
        ))
    }
}

/// Site number `n` (0: none) of the sites defined so far.
#[inline]
fn site_of(sites: &[Site], n: u64) -> Result<Option<Site>, Field> {
    match n {
        0 => Ok(None),
        n => match sites.get(n as usize - 1) {
            Some(site) => Ok(Some(site.clone())),
            None => Err(Field::Bad(
                "a site number defined before its use",
                n.to_string(),
            )),
        },
    }
}

/// The lock mode in a tag's mode bits.
fn mode_of(tag: u8) -> Result<Mode, Field> {
    match (tag >> tag::MODE_SHIFT) & 0b11 {
        0 => Ok(Mode::Exclusive),
        1 => Ok(Mode::Shared),
        2 => Ok(Mode::Upgradable),
        _ => Err(Field::Bad("a lock mode 0, 1 or 2", "3".into())),
    }
}

/// A bad record inside a block, found when the merge decodes it.
#[derive(Debug)]
pub(crate) struct BlockError {
    pub(crate) offset: u64,
    pub(crate) expected: String,
    pub(crate) found: String,
}

/// Decodes the thread records of a block from its bytes.
struct BlockCursor<'a> {
    bytes: &'a [u8],
    at: usize,
    /// The file offset of `bytes[0]`.
    offset: u64,
    sites: &'a [Site],
    /// The thread's recent locks; `None` in a detached block.
    recent: Option<&'a mut block::Recent>,
}

impl BlockCursor<'_> {
    fn error(&self, at: usize, expected: &str, found: String) -> BlockError {
        BlockError {
            offset: self.offset + at as u64,
            expected: expected.to_owned(),
            found,
        }
    }

    #[inline]
    fn byte(&mut self, start: usize) -> Result<u8, BlockError> {
        let Some(&byte) = self.bytes.get(self.at) else {
            return Err(self.error(
                start,
                "a record that ends inside its block",
                "the block's end".into(),
            ));
        };
        self.at += 1;
        Ok(byte)
    }

    /// `field` placed at the record starting at `start`.
    fn place<T>(&self, start: usize, field: Result<T, Field>) -> Result<T, BlockError> {
        field.map_err(|error| match error {
            Field::Cut => self.error(
                start,
                "a record that ends inside its block",
                "the block's end".into(),
            ),
            Field::Bad(expected, found) => self.error(start, expected, found),
        })
    }

    #[inline]
    fn varint(&mut self, start: usize) -> Result<u64, BlockError> {
        let (value, len) = self.place(start, varint_of(&self.bytes[self.at..]))?;
        self.at += len;
        Ok(value)
    }

    #[inline]
    fn site(&mut self, start: usize) -> Result<Option<Site>, BlockError> {
        let n = self.varint(start)?;
        self.place(start, site_of(self.sites, n))
    }

    fn mode(&self, tag: u8, start: usize) -> Result<Mode, BlockError> {
        self.place(start, mode_of(tag))
    }

    /// The mode and flavour of a `request` or `acquire` record: in the tag, or in the flavour
    /// byte after it.
    fn mode_and_flavour(&mut self, tag: u8, start: usize) -> Result<(Mode, Flavour), BlockError> {
        if tag & tag::FLAVOURED != tag::FLAVOURED {
            return Ok((self.mode(tag, start)?, Flavour::Plain));
        }
        let byte = self.byte(start)?;
        self.place(start, flavour_of(byte))
    }

    /// One record of a block of thread `tid`, with what orders it.
    fn thread_record(&mut self, tid: u64) -> Result<(Item, Order), BlockError> {
        let start = self.at;
        let t = self.byte(start)?;
        let flag = t & tag::FLAG != 0;
        let thread = ThreadId(tid);
        let record = match t & tag::TYPE_MASK {
            kind @ (tag::ACQUIRE | tag::NEAR_ACQUIRE | tag::RELEASE | tag::NEAR_RELEASE) => {
                let (mode, flavour) = if kind == tag::ACQUIRE || kind == tag::NEAR_ACQUIRE {
                    self.mode_and_flavour(t, start)?
                } else {
                    (self.mode(t, start)?, Flavour::Plain)
                };
                let (lock, seq) = if kind == tag::ACQUIRE || kind == tag::RELEASE {
                    (self.varint(start)?, self.varint(start)?)
                } else {
                    let (slot, step) = block::near_byte(self.byte(start)?);
                    let recent = self.recent.as_deref().and_then(|r| r.slot(slot));
                    let Some((lock, last)) = recent else {
                        return Err(self.error(
                            start,
                            "a near record naming one of the thread's recent locks",
                            format!("slot {slot}"),
                        ));
                    };
                    (lock, last + step)
                };
                if let Some(recent) = self.recent.as_deref_mut() {
                    recent.note(lock, seq);
                }
                let event = if kind == tag::ACQUIRE || kind == tag::NEAR_ACQUIRE {
                    Event::Acquire {
                        tid: thread,
                        lock: LockId(lock),
                        mode,
                        try_lock: flag,
                        flavour,
                        site: self.site(start)?,
                    }
                } else {
                    Event::Release {
                        tid: thread,
                        lock: LockId(lock),
                        mode,
                        site: None,
                    }
                };
                (Item::Event(event), Order::Seq(Key::lock(lock), seq))
            }
            tag::REQUEST => {
                let (mode, flavour) = self.mode_and_flavour(t, start)?;
                let event = Event::Request {
                    tid: thread,
                    lock: LockId(self.varint(start)?),
                    mode,
                    flavour,
                    site: self.site(start)?,
                };
                (Item::Event(event), Order::Free)
            }
            tag::WAIT => {
                let condvar = self.varint(start)?;
                let condvar_seq = self.varint(start)?;
                let lock = self.varint(start)?;
                let lock_seq = self.varint(start)?;
                let event = Event::Wait {
                    tid: thread,
                    condvar: CondvarId(condvar),
                    lock: LockId(lock),
                    site: self.site(start)?,
                };
                let order = Order::Seq2(
                    Key::lock(lock),
                    lock_seq,
                    Key::condvar(condvar),
                    condvar_seq,
                );
                (Item::Event(event), order)
            }
            tag::NOTIFY => {
                let condvar = self.varint(start)?;
                let seq = self.varint(start)?;
                let event = Event::Notify {
                    tid: thread,
                    condvar: CondvarId(condvar),
                    all: flag,
                    site: self.site(start)?,
                };
                (Item::Event(event), Order::Seq(Key::condvar(condvar), seq))
            }
            tag::READ | tag::WRITE => {
                let var = self.varint(start)?;
                let seq = self.varint(start)?;
                let site = self.site(start)?;
                let var_id = VarId(var);
                let event = if t & tag::TYPE_MASK == tag::READ {
                    Event::Read {
                        tid: thread,
                        var: var_id,
                        site,
                    }
                } else {
                    Event::Write {
                        tid: thread,
                        var: var_id,
                        site,
                    }
                };
                (Item::Event(event), Order::Seq(Key::var(var), seq))
            }
            tag::SPAWN => {
                let child = self.varint(start)?;
                let event = Event::Spawn {
                    tid: thread,
                    child: ThreadId(child),
                    site: self.site(start)?,
                };
                (Item::Event(event), Order::Provide(Key::thread(child), 1))
            }
            tag::JOIN => {
                let child = self.varint(start)?;
                let event = Event::Join {
                    tid: thread,
                    child: ThreadId(child),
                    site: self.site(start)?,
                };
                let order = if flag {
                    Order::After(Key::thread(child), 2)
                } else {
                    Order::Free
                };
                (Item::Event(event), order)
            }
            tag::START => {
                let order = if flag {
                    Order::After(Key::thread(tid), 1)
                } else {
                    Order::Free
                };
                (Item::Mark, order)
            }
            tag::EXIT => (Item::Mark, Order::Provide(Key::thread(tid), 2)),
            other => {
                return Err(self.error(
                    start,
                    "a thread record (tag 6 to 14 or 18 to 21)",
                    other.to_string(),
                ));
            }
        };
        Ok(record)
    }
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
/// per-thread blocks come out in one replay order. Example: [`CompactWriter`].
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
        let (value, len) = self.place(at, varint_of(&self.buffer[self.start..self.end]))?;
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
                let kind = match self.byte()? {
                    0 => LockKind::Mutex,
                    1 => LockKind::RwLock,
                    2 => LockKind::Reentrant,
                    3 => LockKind::Semaphore,
                    other => {
                        return Err(Stop::Error(self.error(
                            at,
                            "a lock kind 0 to 3",
                            other.to_string(),
                        )));
                    }
                };
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

#[cfg(test)]
mod tests {
    use super::*;

    fn header() -> Header {
        Header {
            version: FORMAT_VERSION,
            tool: Some("lockscan test".into()),
            pid: Some(7),
            program: Some("prog".into()),
        }
    }

    fn sample() -> Vec<Event> {
        let site = Some(Site::from("src/a.rs:1:2"));
        vec![
            Event::Header(header()),
            Event::Thread {
                tid: ThreadId(1),
                name: Some("main".into()),
                parent: None,
            },
            Event::Thread {
                tid: ThreadId(300),
                name: Some("worker".into()),
                parent: Some(ThreadId(1)),
            },
            Event::Lock {
                lock: LockId(70_000),
                kind: LockKind::RwLock,
                name: Some("table".into()),
                class: Some("src/a.rs:9:9".into()),
                site: site.clone(),
                rank: Some(3),
            },
            Event::Condvar {
                condvar: CondvarId(2),
                name: None,
                site: None,
            },
            Event::Var {
                var: VarId(4),
                name: Some("balance".into()),
                site: site.clone(),
            },
            Event::Spawn {
                tid: ThreadId(1),
                child: ThreadId(300),
                site: site.clone(),
            },
            Event::Request {
                tid: ThreadId(300),
                lock: LockId(70_000),
                mode: Mode::Upgradable,
                flavour: Flavour::Plain,
                site: site.clone(),
            },
            Event::Acquire {
                tid: ThreadId(300),
                lock: LockId(70_000),
                mode: Mode::Shared,
                try_lock: true,
                flavour: Flavour::Plain,
                site: Some(Site::from("src/b.rs:3:4")),
            },
            Event::Request {
                tid: ThreadId(300),
                lock: LockId(70_000),
                mode: Mode::Exclusive,
                flavour: Flavour::Upgrade,
                site: site.clone(),
            },
            Event::Acquire {
                tid: ThreadId(300),
                lock: LockId(70_000),
                mode: Mode::Shared,
                try_lock: false,
                flavour: Flavour::Recursive,
                site: None,
            },
            Event::Acquire {
                tid: ThreadId(300),
                lock: LockId(70_000),
                mode: Mode::Upgradable,
                try_lock: true,
                flavour: Flavour::Timed,
                site: site.clone(),
            },
            Event::Acquire {
                tid: ThreadId(300),
                lock: LockId(70_000),
                mode: Mode::Shared,
                try_lock: false,
                flavour: Flavour::Downgrade,
                site: site.clone(),
            },
            Event::Release {
                tid: ThreadId(300),
                lock: LockId(70_000),
                mode: Mode::Shared,
                site: None,
            },
            Event::Wait {
                tid: ThreadId(1),
                condvar: CondvarId(2),
                lock: LockId(70_000),
                site: site.clone(),
            },
            Event::Notify {
                tid: ThreadId(300),
                condvar: CondvarId(2),
                all: true,
                site: None,
            },
            Event::Read {
                tid: ThreadId(1),
                var: VarId(4),
                site: site.clone(),
            },
            Event::Write {
                tid: ThreadId(1),
                var: VarId(4),
                site,
            },
            Event::Join {
                tid: ThreadId(1),
                child: ThreadId(300),
                site: None,
            },
            Event::End {
                events: Some(19),
                dropped: Some(0),
            },
        ]
    }

    fn encode(events: &[Event]) -> Vec<u8> {
        let Event::Header(header) = &events[0] else {
            panic!("a header first");
        };
        let mut writer = CompactWriter::new(Vec::new(), header).unwrap();
        for event in &events[1..] {
            writer.write(event).unwrap();
        }
        writer.out
    }

    fn decode(bytes: &[u8]) -> (Vec<Result<Event, TraceError>>, Vec<TraceWarning>) {
        let mut reader = CompactReader::new(bytes, "t.lstrace");
        let events: Vec<_> = reader.by_ref().collect();
        (events, reader.warnings().to_vec())
    }

    #[test]
    fn every_record_type_round_trips() {
        let events = sample();
        let (read, warnings) = decode(&encode(&events));
        let read: Vec<Event> = read.into_iter().map(Result::unwrap).collect();
        assert_eq!(read, events);
        assert_eq!(warnings, []);
    }

    #[test]
    fn a_plain_acquisition_has_no_flavour_byte_and_a_flavoured_one_has_one() {
        let acquire = |flavour| Event::Acquire {
            tid: ThreadId(1),
            lock: LockId(2),
            mode: Mode::Shared,
            try_lock: false,
            flavour,
            site: None,
        };
        let bytes = |event: &Event| {
            let mut writer = CompactWriter::new(Vec::new(), &header()).unwrap();
            let before = writer.out.len();
            writer.write(event).unwrap();
            writer.out[before..].to_vec()
        };
        assert_eq!(
            bytes(&acquire(Flavour::Plain)),
            [tag::ACQUIRE | 0x20, 1, 2, 0]
        );
        assert_eq!(
            bytes(&acquire(Flavour::Recursive)),
            [tag::ACQUIRE | tag::FLAVOURED, 1 | 1 << 2, 1, 2, 0]
        );
    }

    #[test]
    fn a_trace_of_an_earlier_version_reads_its_shared_acquisitions_as_recursive() {
        let events = sample();
        let mut bytes = encode(&events);
        assert_eq!(bytes[MAGIC.len()], COMPACT_VERSION as u8);
        let read = |bytes: &[u8]| -> Vec<Event> {
            decode(bytes).0.into_iter().map(Result::unwrap).collect()
        };
        assert_eq!(read(&bytes), events, "this version: as written");
        bytes[MAGIC.len()] = 2;
        let expected: Vec<Event> = events
            .iter()
            .cloned()
            .map(|event| match event {
                Event::Acquire {
                    mode: Mode::Shared,
                    flavour: Flavour::Plain,
                    tid,
                    lock,
                    try_lock,
                    site,
                } => Event::Acquire {
                    tid,
                    lock,
                    mode: Mode::Shared,
                    try_lock,
                    flavour: Flavour::Recursive,
                    site,
                },
                other => other,
            })
            .collect();
        assert_ne!(
            expected, events,
            "the sample has a plain shared acquisition"
        );
        assert_eq!(read(&bytes), expected);
    }

    #[test]
    fn a_bad_flavour_is_an_error() {
        let mut writer = CompactWriter::new(Vec::new(), &header()).unwrap();
        let before = writer.out.len();
        writer
            .write(&Event::Acquire {
                tid: ThreadId(1),
                lock: LockId(2),
                mode: Mode::Shared,
                try_lock: false,
                flavour: Flavour::Timed,
                site: None,
            })
            .unwrap();
        let mut bytes = writer.out;
        bytes[before + 1] = 7 << 2; // flavour 7
        let (read, _) = decode(&bytes);
        let error = read.last().unwrap().as_ref().unwrap_err().to_string();
        assert!(error.contains("a flavour 0 to 4"), "{error}");
    }

    #[test]
    fn a_lock_event_takes_a_few_bytes() {
        let mut events = sample();
        events.truncate(4);
        let before = encode(&events).len();
        for _ in 0..1000 {
            events.push(Event::Acquire {
                tid: ThreadId(300),
                lock: LockId(70_000),
                mode: Mode::Exclusive,
                try_lock: false,
                flavour: Flavour::Plain,
                site: Some(Site::from("src/b.rs:3:4")),
            });
            events.push(Event::Release {
                tid: ThreadId(300),
                lock: LockId(70_000),
                mode: Mode::Exclusive,
                site: None,
            });
        }
        let per_event = (encode(&events).len() - before) as f64 / 2000.0;
        // Tag, thread (2 bytes), lock (3 bytes), site: at most 7, usually fewer.
        assert!(per_event <= 7.5, "{per_event} bytes per event");
    }

    /// An input that has part of the bytes, then says "nothing more yet", then has the rest.
    struct Pending<'a> {
        parts: [&'a [u8]; 2],
        given: usize,
    }

    impl Read for Pending<'_> {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            let part = &mut self.parts[self.given.min(1)];
            if part.is_empty() {
                if self.given == 0 {
                    return Err(io::ErrorKind::WouldBlock.into());
                }
                return Ok(0);
            }
            let n = part.len().min(buf.len());
            buf[..n].copy_from_slice(&part[..n]);
            *part = &part[n..];
            Ok(n)
        }
    }

    #[test]
    fn a_reader_told_to_wait_goes_on_where_it_stopped_when_more_comes() {
        let bytes = encode(&sample());
        let (whole, _) = decode(&bytes);
        for cut in 0..bytes.len() {
            let input = Pending {
                parts: [&bytes[..cut], &bytes[cut..]],
                given: 0,
            };
            let mut reader = CompactReader::new(input, "t.lstrace");
            let mut read: Vec<_> = reader.by_ref().collect();
            reader.get_mut().given = 1;
            read.extend(reader.by_ref());
            assert_eq!(format!("{read:?}"), format!("{whole:?}"), "cut at {cut}");
        }
    }

    #[test]
    fn a_cut_off_last_record_is_a_warning_and_the_prefix_is_read() {
        let bytes = encode(&sample());
        for cut in MAGIC.len() + 2..bytes.len() {
            let (read, warnings) = decode(&bytes[..cut]);
            assert!(read.iter().all(Result::is_ok), "cut at {cut}: {read:?}");
            assert!(
                warnings.iter().any(|w| matches!(
                    w,
                    TraceWarning::TruncatedRecord { .. } | TraceWarning::MissingEnd { .. }
                )),
                "cut at {cut}: {warnings:?}"
            );
        }
    }

    /// Findings as a `finding` record keeps them: one with every field, one with the fewest.
    fn findings() -> [crate::Finding; 2] {
        let mut full = crate::Finding::new(crate::FindingKind::PotentialDeadlock, "a \"b\" é");
        full.reason = "why\nand how".into();
        full.help = Some("take them in one order".into());
        full.site = Some(Site::from("src/a.rs:1:2"));
        full.locks = vec!["a".into(), "b".into()];
        full.threads = vec!["t1".into(), "t2".into()];
        let edge = |from: &str, to: &str, thread: &str| crate::FindingEdge {
            from: from.into(),
            to: to.into(),
            thread: thread.into(),
            from_site: None,
            to_site: None,
            from_mode: Mode::Exclusive,
            to_mode: Mode::Exclusive,
            held: Vec::new(),
            blocked: false,
            backtrace: None,
        };
        full.edges = vec![
            crate::FindingEdge {
                from_site: Some(Site::from("src/a.rs:3:4")),
                to_site: Some(Site::from("src/a.rs:5:6")),
                from_mode: Mode::Shared,
                to_mode: Mode::Upgradable,
                held: vec!["c".into(), "d".into()],
                blocked: true,
                ..edge("a", "b", "t1")
            },
            edge("b", "a", "t2"),
        ];
        let mut bare = crate::Finding::new(crate::FindingKind::Deadlock, "m");
        bare.reason.clear();
        [full, bare]
    }

    fn with_findings() -> Vec<Event> {
        let mut events = vec![Event::Header(header())];
        events.extend(findings().map(|f| Event::Finding(Box::new(f))));
        events.push(Event::End {
            events: Some(3),
            dropped: Some(0),
        });
        events
    }

    #[test]
    fn findings_round_trip_field_by_field() {
        let events = with_findings();
        let bytes = encode(&events);
        assert!(
            !bytes.windows(7).any(|w| w == b"\"kind\""),
            "no JSON in a finding record"
        );
        let (read, warnings) = decode(&bytes);
        let read: Vec<Event> = read.into_iter().map(Result::unwrap).collect();
        assert_eq!(read, events);
        assert_eq!(warnings, []);
        for cut in MAGIC.len() + 2..bytes.len() {
            let (read, warnings) = decode(&bytes[..cut]);
            assert!(read.iter().all(Result::is_ok), "cut at {cut}: {read:?}");
            assert!(!warnings.is_empty(), "cut at {cut}");
        }
        // What the recorder writes is what the writer writes.
        let mut recorded = Vec::new();
        finding_record(&mut recorded, &WireFinding::from_finding(&findings()[0]));
        let mut written = CompactWriter::new(Vec::new(), &header()).unwrap();
        let start = written.out.len();
        written
            .write(&Event::Finding(Box::new(findings()[0].clone())))
            .unwrap();
        assert_eq!(written.out[start..], recorded);
    }

    #[test]
    fn fields_a_later_version_adds_to_a_finding_are_skipped() {
        let finding = WireFinding::from_finding(&findings()[0]);
        let mut fields = Vec::new();
        finding_fields(&mut fields, &finding);
        fields.extend_from_slice(b"\x05later");
        let mut bytes = Vec::new();
        preamble(&mut bytes);
        bytes.push(tag::FINDING);
        varint(&mut bytes, fields.len() as u64);
        bytes.extend_from_slice(&fields);
        end_record(&mut bytes, 1, 0);
        let (read, _) = decode(&bytes);
        assert_eq!(
            *read[0].as_ref().unwrap(),
            Event::Finding(Box::new(findings()[0].clone()))
        );
        assert!(matches!(read[1], Ok(Event::End { .. })), "{read:?}");
    }

    #[test]
    fn a_finding_record_of_json_text_is_still_read() {
        // What lockscan wrote before findings had a record of their own fields.
        let wire = WireFinding::from_finding(&findings()[0]);
        let json = serde_json::to_string(&wire).unwrap();
        let mut bytes = CompactWriter::new(Vec::new(), &header()).unwrap().out;
        bytes.push(tag::FINDING_JSON);
        string(&mut bytes, &json);
        end_record(&mut bytes, 2, 0);
        let (read, warnings) = decode(&bytes);
        assert_eq!(
            *read[1].as_ref().unwrap(),
            Event::Finding(Box::new(findings()[0].clone()))
        );
        assert_eq!(warnings, []);
    }

    #[test]
    fn the_header_written_by_hand_is_the_json_serde_writes() {
        let bytes = encode(&sample()[..1]);
        let mut expected = Vec::new();
        preamble(&mut expected);
        let record = Record {
            record_type: "header".into(),
            format: Some(Text(FORMAT_NAME.into())),
            version: Some(FORMAT_VERSION),
            tool: Some(Text("lockscan test".into())),
            pid: Some(7),
            program: Some(Text("prog".into())),
            ..Record::default()
        };
        expected.push(tag::HEADER);
        string(&mut expected, &serde_json::to_string(&record).unwrap());
        assert_eq!(bytes, expected);
    }

    #[test]
    fn bad_bytes_are_errors_with_their_offset_never_panics() {
        let (read, _) = decode(b"{\"type\":\"header\"}\n");
        let error = read[0].as_ref().unwrap_err().to_string();
        assert!(error.contains("t.lstrace: byte 0"), "{error}");
        let mut bytes = encode(&sample());
        let at = bytes.len() - 3;
        bytes[at] = 0x1f; // not a tag
        let (read, _) = decode(&bytes);
        assert!(read.last().unwrap().is_err());
        // Every single-byte corruption: errors or warnings, never a panic.
        let mut good = encode(&sample());
        good.extend_from_slice(&encode(&with_findings())[MAGIC.len() + 1..]);
        for at in 0..good.len() {
            for value in [0x00, 0x7f, 0x80, 0xff] {
                let mut bytes = good.clone();
                bytes[at] = value;
                let _ = decode(&bytes);
            }
        }
    }
}
