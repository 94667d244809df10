//! The format layer: what the recorder, the readers and the writers share about the bytes of a
//! trace. The compact encoding's tags and constants ([`tags`]), its varints ([`varint`]), the
//! encoding of its top-level records ([`records`]) and of the thread records in its blocks
//! ([`block`]), the decoding of their fields ([`fields`]), and JSON written by hand ([`json`]).
//! The recorder imports this and the writers, never a reader.

pub(crate) mod block;
pub(crate) mod fields;
pub(crate) mod json;
pub(crate) mod records;
pub(crate) mod tags;
pub(crate) mod varint;
