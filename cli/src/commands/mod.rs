//! One module a subcommand, each with the function `main` dispatches to.

pub(crate) mod analyze;
pub(crate) mod confirm;
pub(crate) mod convert;
pub(crate) mod export;
pub(crate) mod graph;
pub(crate) mod run;
