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
pub(crate) struct Record<'a> {
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
    /// `header`: `true` when the trace's `acquire` and `request` records say their `flavour`
    /// (absent: written before they did, so a shared one may have been a recursive read).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub flavours: Option<bool>,
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
    /// `acquire`, `request`: how, when not plain: `recursive`, `timed`, `upgrade` or
    /// `downgrade`.
    #[serde(borrow, default, skip_serializing_if = "Option::is_none")]
    pub flavour: Option<Text<'a>>,
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
    /// `finding`: what the program reported live.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub finding: Option<Box<WireFinding>>,
}

/// A finding as a `finding` record carries it: one the program reported live and that stopped
/// a thread (an actual deadlock or a re-lock, unwound; any finding under the `panic` policy).
/// Such a finding may have left no trace in the events themselves (the thread unwound before
/// it blocked), so the recorder writes it out and the replay reports it.
#[derive(Clone, Debug, Default, Deserialize, Serialize)]
pub struct WireFinding {
    /// `deadlock`, `api-misuse`, ...
    pub kind: String,
    /// One line.
    pub message: String,
    /// Why.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub reason: String,
    /// How to fix it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub help: Option<String>,
    /// Where it was detected, when it is one place.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub site: Option<String>,
    /// The locks.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub locks: Vec<String>,
    /// The threads.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub threads: Vec<String>,
    /// The edges.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub edges: Vec<WireFindingEdge>,
}

/// One edge of a [`WireFinding`].
#[derive(Clone, Debug, Default, Deserialize, Serialize)]
pub struct WireFindingEdge {
    /// The held lock.
    pub from: String,
    /// The requested lock.
    pub to: String,
    /// The thread.
    pub thread: String,
    /// Where `from` was acquired.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub from_site: Option<String>,
    /// Where `to` was requested.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub to_site: Option<String>,
    /// The mode `from` was held in, when not exclusive.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub from_mode: Option<String>,
    /// The mode `to` was requested in, when not exclusive.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub to_mode: Option<String>,
    /// Other locks held.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub held: Vec<String>,
    /// Whether the thread was blocked on `to`.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub blocked: bool,
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

impl WireFinding {
    /// What a `finding` record keeps of `finding`: everything but a data race's accesses and
    /// the backtraces (the text of each stack is in the live report).
    pub fn from_finding(finding: &crate::Finding) -> Self {
        let mode =
            |mode: crate::Mode| (mode != crate::Mode::Exclusive).then(|| mode.as_str().to_owned());
        WireFinding {
            kind: finding.kind.as_str().to_owned(),
            message: finding.message.clone(),
            reason: finding.reason.clone(),
            help: finding.help.clone(),
            site: finding.site.as_ref().map(ToString::to_string),
            locks: finding.locks.clone(),
            threads: finding.threads.clone(),
            edges: finding
                .edges
                .iter()
                .map(|edge| WireFindingEdge {
                    from: edge.from.clone(),
                    to: edge.to.clone(),
                    thread: edge.thread.clone(),
                    from_site: edge.from_site.as_ref().map(ToString::to_string),
                    to_site: edge.to_site.as_ref().map(ToString::to_string),
                    from_mode: mode(edge.from_mode),
                    to_mode: mode(edge.to_mode),
                    held: edge.held.clone(),
                    blocked: edge.blocked,
                })
                .collect(),
        }
    }

    /// The finding, with its kind's default severity; `Err` names what is wrong with a field.
    pub fn into_finding(self) -> Result<crate::Finding, String> {
        let kind: crate::FindingKind = self
            .kind
            .parse()
            .map_err(|_| format!("a finding kind, not `{}`", self.kind))?;
        let mode = |text: Option<String>| match text.as_deref() {
            None | Some("exclusive") => Ok(crate::Mode::Exclusive),
            Some("shared") => Ok(crate::Mode::Shared),
            Some("upgradable") => Ok(crate::Mode::Upgradable),
            Some(other) => Err(format!("a mode, not `{other}`")),
        };
        let site = |text: Option<String>| text.map(|t| crate::Site::from(t.as_str()));
        let mut finding = crate::Finding::new(kind, self.message);
        finding.reason = self.reason;
        finding.help = self.help;
        finding.site = site(self.site);
        finding.locks = self.locks;
        finding.threads = self.threads;
        finding.edges = self
            .edges
            .into_iter()
            .map(|edge| {
                Ok(crate::FindingEdge {
                    from: edge.from,
                    to: edge.to,
                    thread: edge.thread,
                    from_site: site(edge.from_site),
                    to_site: site(edge.to_site),
                    from_mode: mode(edge.from_mode)?,
                    to_mode: mode(edge.to_mode)?,
                    held: edge.held,
                    blocked: edge.blocked,
                    backtrace: None,
                })
            })
            .collect::<Result<_, String>>()?;
        Ok(finding)
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
