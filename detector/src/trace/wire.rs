//! The JSONL wire types: what one line of a lockscan trace looks like, kept apart from
//! [`Event`](super::Event) so that the format can grow without touching the analysis.
//!
//! A record is one flat object whose `type` says which fields are required. Deserializing into
//! one flat struct (rather than a tagged enum) keeps strings borrowed from the line and lets
//! the reader say exactly which required field is missing. Unknown fields are ignored, as the
//! format requires.

use std::borrow::Cow;
use std::fmt;
use std::ops::Deref;

use serde::de::{self, Deserializer, Visitor};
use serde::{Deserialize, Serialize, Serializer};

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
    pub format: Option<Text<'a>>,
    /// `header`: the format version.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<u64>,
    /// `header`: the writing tool.
    #[serde(borrow, default, skip_serializing_if = "Option::is_none")]
    pub tool: Option<Text<'a>>,
    /// `header`: the process id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pid: Option<u64>,
    /// `header`: the program.
    #[serde(borrow, default, skip_serializing_if = "Option::is_none")]
    pub program: Option<Text<'a>>,
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
    pub kind: Option<Text<'a>>,
    /// The condition variable.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub condvar: Option<u64>,
    /// The variable.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub var: Option<u64>,
    /// A human name.
    #[serde(borrow, default, skip_serializing_if = "Option::is_none")]
    pub name: Option<Text<'a>>,
    /// `lock`: the lock class.
    #[serde(borrow, default, skip_serializing_if = "Option::is_none")]
    pub class: Option<Text<'a>>,
    /// `lock`: the declared rank.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rank: Option<u64>,
    /// `file:line:col`.
    #[serde(borrow, default, skip_serializing_if = "Option::is_none")]
    pub site: Option<Text<'a>>,
    /// `exclusive`, `shared` or `upgradable`.
    #[serde(borrow, default, skip_serializing_if = "Option::is_none")]
    pub mode: Option<Text<'a>>,
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
    /// Lock and access records: when, in nanoseconds from an origin of the writer's choice.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ts_ns: Option<u64>,
}

/// A string field that borrows from the line when it can (no escapes) and owns otherwise.
///
/// `#[serde(borrow)]` borrows a `Cow<str>` field, but not one inside an `Option`: serde then
/// always allocates. This type borrows either way, which keeps reading allocation-free.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Text<'a>(pub Cow<'a, str>);

impl Deref for Text<'_> {
    type Target = str;

    fn deref(&self) -> &str {
        &self.0
    }
}

impl<'de: 'a, 'a> Deserialize<'de> for Text<'a> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct TextVisitor;

        impl<'de> Visitor<'de> for TextVisitor {
            type Value = Text<'de>;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a string")
            }

            fn visit_borrowed_str<E: de::Error>(self, text: &'de str) -> Result<Self::Value, E> {
                Ok(Text(Cow::Borrowed(text)))
            }

            fn visit_str<E: de::Error>(self, text: &str) -> Result<Self::Value, E> {
                Ok(Text(Cow::Owned(text.to_owned())))
            }

            fn visit_string<E: de::Error>(self, text: String) -> Result<Self::Value, E> {
                Ok(Text(Cow::Owned(text)))
            }
        }

        deserializer.deserialize_str(TextVisitor)
    }
}

impl Serialize for Text<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strings_borrow_from_the_line_unless_escaped() {
        let line = r#"{"type":"acquire","site":"src/a.rs:1:1","name":"a\"b","future":{"x":[1]}}"#;
        let record: Record<'_> = serde_json::from_str(line).unwrap();
        assert!(matches!(record.record_type, Cow::Borrowed("acquire")));
        assert!(matches!(
            record.site,
            Some(Text(Cow::Borrowed("src/a.rs:1:1")))
        ));
        assert_eq!(record.name.as_deref(), Some("a\"b"));
        assert!(matches!(record.name, Some(Text(Cow::Owned(_)))));
    }
}
