//! Decoding the fields of compact records: what the streaming reader and the block cursor
//! share. A field that cannot be decoded is a [`Field`] error, which each places at its record.

use super::records::finding_flag;
use super::tags as tag;
use super::varint;
use crate::ids::{Flavour, LockKind, Mode};
use crate::site::Site;
use crate::trace::wire::{WireFinding, WireFindingEdge};

/// What went wrong decoding a field, for the reader or the block cursor to place.
pub(crate) enum Field {
    /// The bytes end inside the field.
    Cut,
    /// The field is wrong: what was expected, what was found.
    Bad(&'static str, String),
}

/// Site number `n` (0: none) of the sites defined so far.
#[inline]
pub(crate) fn site_of(sites: &[Site], n: u64) -> Result<Option<Site>, Field> {
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
pub(crate) fn mode_of(tag: u8) -> Result<Mode, Field> {
    match (tag >> tag::MODE_SHIFT) & 0b11 {
        0 => Ok(Mode::Exclusive),
        1 => Ok(Mode::Shared),
        2 => Ok(Mode::Upgradable),
        _ => Err(Field::Bad("a lock mode 0, 1 or 2", "3".into())),
    }
}

/// The mode and flavour of a flavour byte (see [`lock_tag`]).
pub(crate) fn flavour_of(byte: u8) -> Result<(Mode, Flavour), Field> {
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

/// Decodes a `finding` record's fields, as [`finding_fields`] wrote them; bytes after them
/// (fields of a later version) are skipped.
pub(crate) fn finding_of(mut bytes: &[u8]) -> Result<WireFinding, Field> {
    fn number(bytes: &mut &[u8]) -> Result<u64, Field> {
        let (value, len) = varint::read(bytes)?;
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

/// The lock kind of a `lock` record's kind byte (see `tags::kind_byte`).
pub(crate) fn kind_of(byte: u8) -> Result<LockKind, Field> {
    match byte {
        0 => Ok(LockKind::Mutex),
        1 => Ok(LockKind::RwLock),
        2 => Ok(LockKind::Reentrant),
        3 => Ok(LockKind::Semaphore),
        other => Err(Field::Bad("a lock kind 0 to 3", other.to_string())),
    }
}
