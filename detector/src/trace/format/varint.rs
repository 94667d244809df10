//! Varints: unsigned LEB128, at most 10 bytes a `u64`; what every number of the compact
//! encoding is.

use super::fields::Field;

/// The longest varint.
pub(crate) const MAX_VARINT: usize = 10;

/// Writes `value` into `out` from `at`; returns where it ends. `out` must have room for
/// [`MAX_VARINT`] bytes from `at` (an index past its end panics).
#[inline(always)]
pub(crate) fn put(out: &mut [u8], mut at: usize, mut value: u64) -> usize {
    while value >= 0x80 {
        out[at] = (value as u8) | 0x80;
        at += 1;
        value >>= 7;
    }
    out[at] = value as u8;
    at + 1
}

/// Appends `value` to `out`.
#[inline]
pub(crate) fn push(out: &mut Vec<u8>, value: u64) {
    let mut bytes = [0; MAX_VARINT];
    let len = put(&mut bytes, 0, value);
    out.extend_from_slice(&bytes[..len]);
}

/// The varint at the start of `bytes`, and its length.
#[inline]
pub(crate) fn read(bytes: &[u8]) -> Result<(u64, usize), Field> {
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
