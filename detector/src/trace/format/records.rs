//! Encoding the compact encoding's top-level records: declarations, findings, `end`, and the
//! headers of `block`s (the thread records inside blocks: [`super::block`]). The compact writer
//! and the recorder both write through these.

use super::tags::{self as tag, COMPACT_VERSION, MAGIC, kind_byte};
use super::varint::push as varint;
use rustc_hash::FxHashMap;

use crate::ids::LockKind;
use crate::site::Site;
use crate::trace::wire::{WireFinding, WireFindingEdge};

pub(crate) fn string(out: &mut Vec<u8>, text: &str) {
    varint(out, text.len() as u64);
    out.extend_from_slice(text.as_bytes());
}

pub(crate) fn triple(out: &mut Vec<u8>, tag: u8, a: u64, b: u64, site: u64) {
    out.push(tag);
    varint(out, a);
    varint(out, b);
    varint(out, site);
}

/// A `condvar` or `var` declaration.
pub(crate) fn named(out: &mut Vec<u8>, tag: u8, id: u64, site: u64, name: Option<&str>) {
    out.push(tag | if name.is_some() { tag::FLAG } else { 0 });
    varint(out, id);
    varint(out, site);
    if let Some(name) = name {
        string(out, name);
    }
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
pub(crate) mod finding_flag {
    pub const HELP: u64 = 1;
    pub const SITE: u64 = 2;
    pub const FROM_SITE: u64 = 1;
    pub const TO_SITE: u64 = 2;
    pub const BLOCKED: u64 = 4;
    /// `from_mode` and `to_mode` (0 exclusive, 1 shared, 2 upgradable), two bits each.
    pub const FROM_MODE_SHIFT: u32 = 3;
    pub const TO_MODE_SHIFT: u32 = 5;
}

pub(crate) fn finding_fields(out: &mut Vec<u8>, finding: &WireFinding) {
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

/// The numbers a compact trace gives its sites: from 1, in the order their `site` records come,
/// one record for each text (two `Location`s of one place, as monomorphized copies of a
/// `#[track_caller]` function may have, get one number): a reader can then take a text defined
/// twice for the damage it is.
#[derive(Debug, Default)]
pub(crate) struct SiteNumbers {
    /// A live site's address -> its number: hashing that is cheaper than hashing its text.
    by_address: FxHashMap<usize, u64>,
    by_text: FxHashMap<Box<str>, u64>,
}

impl SiteNumbers {
    /// The number of `site`, and its text when it is new (its `site` record is to be written
    /// first).
    pub(crate) fn number(&mut self, site: &Site) -> (u64, Option<String>) {
        let address = match site {
            Site::Caller(location) => {
                let address = std::ptr::from_ref(*location).addr();
                if let Some(&number) = self.by_address.get(&address) {
                    return (number, None);
                }
                Some(address)
            }
            Site::Text(text) => {
                if let Some(&number) = self.by_text.get(&***text) {
                    return (number, None);
                }
                None
            }
        };
        let text = site.to_string();
        let next = self.by_text.len() as u64 + 1;
        let (number, new) = match self.by_text.get(text.as_str()) {
            Some(&number) => (number, false),
            None => {
                self.by_text.insert(text.as_str().into(), next);
                (next, true)
            }
        };
        if let Some(address) = address {
            self.by_address.insert(address, number);
        }
        (number, new.then_some(text))
    }
}
