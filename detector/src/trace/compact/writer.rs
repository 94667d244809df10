//! [`CompactWriter`]: events in one total order as top-level compact records.

use std::io::{self, Write};

use crate::ids::{Flavour, Mode};
use crate::site::Site;
use crate::trace::format::records::{
    SiteNumbers, end_record, finding_record, lock_record, named, preamble, site_record,
    thread_record, triple,
};
use crate::trace::format::tags::{self as tag, lock_tag, mode_bits};
use crate::trace::format::{json, varint::push as varint};
use crate::trace::wire::{FORMAT_NAME, FORMAT_VERSION, Record, Text, WireFinding};
use crate::trace::{Event, Header};

/// Writes a compact trace: [`MAGIC`](super::MAGIC), the version, then one record per [`write`](Self::write).
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
    pub(super) out: W,
    sites: SiteNumbers,
    /// Records written but `site` records, header included: what `end` counts.
    records: u64,
    buffer: Vec<u8>,
}

impl<W: Write> CompactWriter<W> {
    /// Starts a trace on `out` with `header` (the JSONL header object's fields).
    pub fn new(out: W, header: &Header) -> io::Result<Self> {
        let mut writer = CompactWriter {
            out,
            sites: SiteNumbers::default(),
            records: 0,
            buffer: Vec::with_capacity(64),
        };
        preamble(&mut writer.buffer);
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
                thread_record(b, tid.0, name.as_deref().unwrap_or(""), parent.map(|p| p.0));
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
        let (number, new) = self.sites.number(site);
        if let Some(text) = new {
            let mut record = Vec::with_capacity(48);
            site_record(&mut record, &text);
            self.out.write_all(&record)?;
        }
        Ok(number)
    }
}

impl CompactWriter<Vec<u8>> {
    /// The number of `site` (what a thread record names it by), writing its `site` record
    /// first if it is new: for the recorder, whose threads encode their own records.
    pub(crate) fn site(&mut self, site: &Site) -> u64 {
        // Writing into a `Vec` does not fail.
        self.site_number(Some(site)).unwrap_or(0)
    }

    /// Appends a `block` of thread `tid`'s records with `write`, which writes the block's
    /// header (through [`block_header`]) and records and returns how many records it wrote.
    pub(crate) fn block(&mut self, write: impl FnOnce(&mut Vec<u8>) -> u64) {
        self.records += write(&mut self.out);
    }
}

crate::trace::forward_trace_write!(CompactWriter);
