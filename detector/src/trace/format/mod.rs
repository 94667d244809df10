//! The format layer: what the recorder and the readers share about the bytes of a trace.

pub(crate) mod block;
pub(crate) mod json;
