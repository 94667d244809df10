//! The JSONL wire types: what one line of a lockscan trace looks like, kept apart from
//! [`Event`](super::Event) so that the format can grow without touching the analysis.
//!
//! A record is one flat object whose `type` says which fields are required. Deserializing into
//! one flat struct (rather than a tagged enum) keeps strings borrowed from the line and lets
//! the reader say exactly which required field is missing. Unknown fields are ignored, as the
//! format requires.

use std::borrow::Cow;

use serde::{Deserialize, Serialize};

/// The value of `format` in the header.
pub const FORMAT_NAME: &str = "lockscan-trace";

/// The format version this reader understands.
pub const FORMAT_VERSION: u64 = 1;

/// One line of a JSONL trace, every field optional; [`Record::record_type`] says which are required.
#[derive(Debug, Default, Deserialize, Serialize)]
pub struct Record<'a> {
    /// The record type: `header`, `thread`, `lock`, ...
    #[serde(rename = "type", borrow)]
    pub record_type: Cow<'a, str>,
    /// `header`: the format name.
    #[serde(borrow, default, skip_serializing_if = "Option::is_none")]
    pub format: Option<Cow<'a, str>>,
    /// `header`: the format version.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<u64>,
    /// `header`: the writing tool.
    #[serde(borrow, default, skip_serializing_if = "Option::is_none")]
    pub tool: Option<Cow<'a, str>>,
    /// `header`: the process id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pid: Option<u64>,
    /// `header`: the program.
    #[serde(borrow, default, skip_serializing_if = "Option::is_none")]
    pub program: Option<Cow<'a, str>>,
    /// The acting thread.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tid: Option<u64>,
    /// `spawn`/`join`: the other thread.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub child: Option<u64>,
    /// `thread`: the parent thread.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parent: Option<u64>,
    /// The lock.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lock: Option<u64>,
    /// `lock`: `mutex`, `rwlock`, `reentrant` or `semaphore`.
    #[serde(borrow, default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<Cow<'a, str>>,
    /// The condition variable.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub condvar: Option<u64>,
    /// The variable.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub var: Option<u64>,
    /// A human name.
    #[serde(borrow, default, skip_serializing_if = "Option::is_none")]
    pub name: Option<Cow<'a, str>>,
    /// `lock`: the lock class.
    #[serde(borrow, default, skip_serializing_if = "Option::is_none")]
    pub class: Option<Cow<'a, str>>,
    /// `lock`: the declared rank.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rank: Option<u64>,
    /// `file:line:col`.
    #[serde(borrow, default, skip_serializing_if = "Option::is_none")]
    pub site: Option<Cow<'a, str>>,
    /// `exclusive`, `shared` or `upgradable`.
    #[serde(borrow, default, skip_serializing_if = "Option::is_none")]
    pub mode: Option<Cow<'a, str>>,
    /// `acquire`: a non-blocking acquisition.
    #[serde(rename = "try", default, skip_serializing_if = "Option::is_none")]
    pub try_lock: Option<bool>,
    /// `notify`: `notify_all`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub all: Option<bool>,
    /// `end`: events written.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub events: Option<u64>,
    /// `end`: events lost.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dropped: Option<u64>,
}
