//! JSON text written by hand: the JSONL records ([`Record`]) and the findings they carry
//! ([`WireFinding`]), byte for byte as serde_json writes them (the tests compare).
//!
//! Recording is in every build, and serde_json is not: its `PartialEq<Value>` impls for the
//! integer types would be visible in every crate that depends on lockscan and make
//! `x == y as _` or `assert_eq!(v, vec![])` ambiguous there (E0283). Reading JSON, the
//! `analyze` feature's job, uses serde_json.

use crate::trace::wire::{Record, Text, WireFinding, WireFindingEdge};

/// `text` as a JSON string, quoted, escaped as serde_json escapes: `"` and `\`, the control
/// characters (`\b`, `\t`, `\n`, `\f`, `\r`, else `\u00xx`); everything else as it is.
pub(crate) fn string(out: &mut Vec<u8>, text: &str) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    out.push(b'"');
    let bytes = text.as_bytes();
    let mut clean = 0;
    for (at, &byte) in bytes.iter().enumerate() {
        let escape: &[u8] = match byte {
            b'"' => b"\\\"",
            b'\\' => b"\\\\",
            0x08 => b"\\b",
            b'\t' => b"\\t",
            b'\n' => b"\\n",
            0x0c => b"\\f",
            b'\r' => b"\\r",
            0x00..=0x1f => &[
                b'\\',
                b'u',
                b'0',
                b'0',
                HEX[usize::from(byte >> 4)],
                HEX[usize::from(byte & 0xf)],
            ],
            _ => continue,
        };
        out.extend_from_slice(&bytes[clean..at]);
        out.extend_from_slice(escape);
        clean = at + 1;
    }
    out.extend_from_slice(&bytes[clean..]);
    out.push(b'"');
}

/// An object being written: each field after the first gets its comma.
struct Object<'a> {
    out: &'a mut Vec<u8>,
    empty: bool,
}

impl<'a> Object<'a> {
    fn new(out: &'a mut Vec<u8>) -> Self {
        out.push(b'{');
        Object { out, empty: true }
    }

    fn key(&mut self, key: &str) -> &mut Vec<u8> {
        if !self.empty {
            self.out.push(b',');
        }
        self.empty = false;
        // Keys are the wire types' field names: nothing to escape.
        self.out.push(b'"');
        self.out.extend_from_slice(key.as_bytes());
        self.out.extend_from_slice(b"\":");
        self.out
    }

    fn text(&mut self, key: &str, value: &str) {
        string(self.key(key), value);
    }

    fn optional_text(&mut self, key: &str, value: Option<&str>) {
        if let Some(value) = value {
            self.text(key, value);
        }
    }

    fn number(&mut self, key: &str, value: Option<u64>) {
        if let Some(value) = value {
            let out = self.key(key);
            out.extend_from_slice(itoa::Buffer::new().format(value).as_bytes());
        }
    }

    fn flag(&mut self, key: &str, value: Option<bool>) {
        if let Some(value) = value {
            let text: &[u8] = if value { b"true" } else { b"false" };
            self.key(key).extend_from_slice(text);
        }
    }

    /// A list of strings, left out when empty.
    fn texts(&mut self, key: &str, values: &[String]) {
        self.array(key, values, |out, value| string(out, value));
    }

    /// A list, each value written by `write`; left out when empty.
    fn array<T>(&mut self, key: &str, values: &[T], write: impl Fn(&mut Vec<u8>, &T)) {
        if values.is_empty() {
            return;
        }
        let out = self.key(key);
        out.push(b'[');
        for (index, value) in values.iter().enumerate() {
            if index > 0 {
                out.push(b',');
            }
            write(out, value);
        }
        out.push(b']');
    }

    fn end(self) {
        self.out.push(b'}');
    }
}

fn text<'a>(value: &'a Option<Text<'_>>) -> Option<&'a str> {
    value.as_deref()
}

/// `record` as one JSON object, without a line end: serde's serialization of [`Record`], its
/// fields in declaration order, `None` left out.
pub(crate) fn record(out: &mut Vec<u8>, record: &Record<'_>) {
    // Every field named, none with `..`: a field added to `Record` does not compile here until
    // it is written too.
    let Record {
        record_type,
        format,
        version,
        tool,
        pid,
        program,
        flavours,
        tid,
        child,
        parent,
        lock,
        kind,
        condvar,
        var,
        name,
        class,
        rank,
        site,
        mode,
        try_lock,
        flavour,
        all,
        events,
        dropped,
        ts_ns,
        finding: found,
    } = record;
    let mut object = Object::new(out);
    object.text("type", record_type);
    object.optional_text("format", text(format));
    object.number("version", *version);
    object.optional_text("tool", text(tool));
    object.number("pid", *pid);
    object.optional_text("program", text(program));
    object.flag("flavours", *flavours);
    object.number("tid", *tid);
    object.number("child", *child);
    object.number("parent", *parent);
    object.number("lock", *lock);
    object.optional_text("kind", text(kind));
    object.number("condvar", *condvar);
    object.number("var", *var);
    object.optional_text("name", text(name));
    object.optional_text("class", text(class));
    object.number("rank", *rank);
    object.optional_text("site", text(site));
    object.optional_text("mode", text(mode));
    object.flag("try", *try_lock);
    object.optional_text("flavour", text(flavour));
    object.flag("all", *all);
    object.number("events", *events);
    object.number("dropped", *dropped);
    object.number("ts_ns", *ts_ns);
    if let Some(found) = found {
        finding(object.key("finding"), found);
    }
    object.end();
}

/// `finding` as one JSON object: serde's serialization of [`WireFinding`].
pub(crate) fn finding(out: &mut Vec<u8>, finding: &WireFinding) {
    let WireFinding {
        kind,
        message,
        reason,
        help,
        site,
        locks,
        threads,
        edges,
    } = finding;
    let mut object = Object::new(out);
    object.text("kind", kind);
    object.text("message", message);
    if !reason.is_empty() {
        object.text("reason", reason);
    }
    object.optional_text("help", help.as_deref());
    object.optional_text("site", site.as_deref());
    object.texts("locks", locks);
    object.texts("threads", threads);
    object.array("edges", edges, edge);
    object.end();
}

fn edge(out: &mut Vec<u8>, edge: &WireFindingEdge) {
    let WireFindingEdge {
        from,
        to,
        thread,
        from_site,
        to_site,
        from_mode,
        to_mode,
        held,
        blocked,
    } = edge;
    let mut object = Object::new(out);
    object.text("from", from);
    object.text("to", to);
    object.text("thread", thread);
    object.optional_text("from_site", from_site.as_deref());
    object.optional_text("to_site", to_site.as_deref());
    object.optional_text("from_mode", from_mode.as_deref());
    object.optional_text("to_mode", to_mode.as_deref());
    object.texts("held", held);
    object.flag("blocked", blocked.then_some(true));
    object.end();
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(value: &str) -> Option<Text<'_>> {
        Some(Text(value.into()))
    }

    /// Every character that JSON escapes, a few that it does not, and non-ASCII text.
    const AWKWARD: &str = "q\"b\\s/\u{8}\t\n\u{c}\r\u{0}\u{1}\u{1f}\u{7f} é ✓ 🦀 \u{2028}";

    #[test]
    fn strings_are_escaped_as_serde_json_escapes_them() {
        let every_ascii: String = (0..=0x7f_u8).map(char::from).collect();
        for value in ["", "plain", AWKWARD, &every_ascii] {
            let mut out = Vec::new();
            string(&mut out, value);
            assert_eq!(
                String::from_utf8(out).unwrap(),
                serde_json::to_string(value).unwrap()
            );
        }
    }

    fn full_finding() -> WireFinding {
        WireFinding {
            kind: "potential-deadlock".into(),
            message: AWKWARD.into(),
            reason: "why".into(),
            help: Some("help".into()),
            site: Some("src/a.rs:1:2".into()),
            locks: vec!["a".into(), AWKWARD.into()],
            threads: vec!["t1".into()],
            edges: vec![
                WireFindingEdge {
                    from: "a".into(),
                    to: "b".into(),
                    thread: "t1".into(),
                    from_site: Some("src/a.rs:3:4".into()),
                    to_site: Some("src/a.rs:5:6".into()),
                    from_mode: Some("shared".into()),
                    to_mode: Some("upgradable".into()),
                    held: vec!["c".into(), "d".into()],
                    blocked: true,
                },
                WireFindingEdge {
                    from: "b".into(),
                    to: "a".into(),
                    thread: "t2".into(),
                    ..WireFindingEdge::default()
                },
            ],
        }
    }

    /// Every field of `Record` set, named one by one (no `..`): a field added to the type
    /// must be added here, and then to the writer, or this test fails.
    fn full_record() -> Record<'static> {
        Record {
            record_type: "everything".into(),
            format: text("lockscan-trace"),
            version: Some(1),
            tool: text("lockscan 0.1.0"),
            pid: Some(42),
            program: text(AWKWARD),
            flavours: Some(true),
            tid: Some(1),
            child: Some(2),
            parent: Some(3),
            lock: Some(4),
            kind: text("mutex"),
            condvar: Some(5),
            var: Some(6),
            name: text("name"),
            class: text("src/a.rs:1:1"),
            rank: Some(7),
            site: text("src/a.rs:2:2"),
            mode: text("shared"),
            try_lock: Some(true),
            flavour: text("recursive"),
            all: Some(false),
            events: Some(u64::MAX),
            dropped: Some(0),
            ts_ns: Some(123_456_789),
            finding: Some(Box::new(full_finding())),
        }
    }

    #[test]
    fn records_are_the_bytes_serde_json_writes() {
        let empty_finding = WireFinding {
            kind: "deadlock".into(),
            message: "m".into(),
            ..WireFinding::default()
        };
        let records = [
            full_record(),
            Record::default(),
            Record {
                record_type: "finding".into(),
                finding: Some(Box::new(empty_finding)),
                ..Record::default()
            },
        ];
        for one in &records {
            let mut out = Vec::new();
            record(&mut out, one);
            assert_eq!(
                String::from_utf8(out).unwrap(),
                serde_json::to_string(one).unwrap()
            );
        }
    }
}
