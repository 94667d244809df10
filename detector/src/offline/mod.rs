//! The offline half (feature `analyze`): a recorded trace replayed through the engine, the
//! timeline kept on the way, and the picture model the graph and timeline renderers read.

pub mod picture;
pub mod replay;
pub(crate) mod timeline;
