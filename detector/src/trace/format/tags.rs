//! The compact encoding's constants: its magic bytes and version, the record tags, and the
//! bits a tag carries (docs/trace-compact.md).

use crate::ids::{Flavour, LockKind, Mode};

/// The first 8 bytes of a compact trace. The high first byte and the line ends tell it apart
/// from text, and show when a transfer changed line ends.
pub const MAGIC: [u8; 8] = *b"\x89LSTRC\r\n";

/// The version of the compact layout this module writes and reads. Version 3 added the
/// flavour of acquisitions and requests; version 4 the promise that each site text is defined
/// once. Readers read versions 1 to 3 too, where a shared acquisition may have been a recursive
/// read (see [`Flavour`]; before version 3) and a text may be defined again (one `site` record
/// per `Location`, and two `Location`s can have one `file:line:col`).
pub const COMPACT_VERSION: u64 = 4;

/// The first version whose acquisitions and requests carry their [`Flavour`].
pub(crate) const FLAVOURS_SINCE: u64 = 3;

/// The first version whose writers define each site text once, so that a text defined again
/// is a repeated record (`TraceWarning::DuplicateSite`), not two `Location`s of one line.
pub(crate) const UNIQUE_SITES_SINCE: u64 = 4;

/// The file extension that selects the compact encoding where a name is chosen by extension.
pub const EXTENSION: &str = "lstrace";

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

pub(crate) fn mode_bits(mode: Mode) -> u8 {
    let bits = match mode {
        Mode::Exclusive => 0,
        Mode::Shared => 1,
        Mode::Upgradable => 2,
    };
    bits << MODE_SHIFT
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
    let byte = (mode_bits(mode) >> MODE_SHIFT) | flavour_bits << 2;
    (base | FLAVOURED, Some(byte))
}

pub(crate) fn kind_byte(kind: LockKind) -> u8 {
    match kind {
        LockKind::Mutex => 0,
        LockKind::RwLock => 1,
        LockKind::Reentrant => 2,
        LockKind::Semaphore => 3,
    }
}
