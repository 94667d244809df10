//! The common JSONL record read without serde: a flat object of the known fields whose values
//! are plain strings (no escapes), unsigned integers, booleans or `null`. Anything else — an
//! unknown field, an escape, a nested value, a duplicate field, a value of the wrong type, a
//! syntax error — is left to serde_json ([`parse`] says `None`), which then gives exactly the
//! record or the error it always gave: this path only ever returns what serde_json would.

use std::borrow::Cow;

use crate::trace::wire::{Record, Text};

/// A value as this path reads it.
enum Value<'a> {
    Null,
    Bool(bool),
    Int(u64),
    Str(&'a str),
}

/// Reads `line` into `record` (a default one), or says `false` when serde_json must read it
/// (`record` then holds part of the line: the caller starts again from a default one).
pub(super) fn parse<'a>(line: &'a [u8], record: &mut Record<'a>) -> bool {
    // Validated once, so that every string between two quotes is a `str` without a check.
    let Ok(line) = std::str::from_utf8(line) else {
        return false;
    };
    parse_str(line, record).is_some()
}

fn parse_str<'a>(line: &'a str, record: &mut Record<'a>) -> Option<()> {
    let mut parser = Parser { line, at: 0 };
    // One bit per field seen (a duplicate is serde's error to report); bit 0 is `type`.
    let mut seen = 0_u32;
    parser.space();
    parser.eat(b'{')?;
    loop {
        parser.space();
        let key = parser.string()?;
        parser.space();
        parser.eat(b':')?;
        parser.space();
        let value = parser.value()?;
        let bit = assign(record, key, value)?;
        if seen & bit != 0 {
            return None;
        }
        seen |= bit;
        parser.space();
        match parser.byte()? {
            b',' => continue,
            b'}' => break,
            _ => return None,
        }
    }
    parser.space();
    (parser.at == line.len() && seen & 1 != 0).then_some(())
}

/// Stores `value` as the field `key`; returns the field's bit, or `None` for a field or value
/// this path leaves to serde.
fn assign<'a>(record: &mut Record<'a>, key: &str, value: Value<'a>) -> Option<u32> {
    let int = |value: Value<'a>| match value {
        Value::Int(n) => Some(Some(n)),
        Value::Null => Some(None),
        _ => None,
    };
    let text = |value: Value<'a>| match value {
        Value::Str(s) => Some(Some(Text(Cow::Borrowed(s)))),
        Value::Null => Some(None),
        _ => None,
    };
    let boolean = |value: Value<'a>| match value {
        Value::Bool(b) => Some(Some(b)),
        Value::Null => Some(None),
        _ => None,
    };
    let bit = match key {
        "type" => {
            let Value::Str(s) = value else {
                return None;
            };
            record.record_type = Cow::Borrowed(s);
            0
        }
        "tid" => field(&mut record.tid, int(value)?, 1),
        "lock" => field(&mut record.lock, int(value)?, 2),
        "site" => field(&mut record.site, text(value)?, 3),
        "mode" => field(&mut record.mode, text(value)?, 4),
        "flavour" => field(&mut record.flavour, text(value)?, 5),
        "try" => field(&mut record.try_lock, boolean(value)?, 6),
        "ts_ns" => field(&mut record.ts_ns, int(value)?, 7),
        "child" => field(&mut record.child, int(value)?, 8),
        "parent" => field(&mut record.parent, int(value)?, 9),
        "condvar" => field(&mut record.condvar, int(value)?, 10),
        "var" => field(&mut record.var, int(value)?, 11),
        "all" => field(&mut record.all, boolean(value)?, 12),
        "name" => field(&mut record.name, text(value)?, 13),
        "kind" => field(&mut record.kind, text(value)?, 14),
        "class" => field(&mut record.class, text(value)?, 15),
        "rank" => field(&mut record.rank, int(value)?, 16),
        "format" => field(&mut record.format, text(value)?, 17),
        "version" => field(&mut record.version, int(value)?, 18),
        "tool" => field(&mut record.tool, text(value)?, 19),
        "pid" => field(&mut record.pid, int(value)?, 20),
        "program" => field(&mut record.program, text(value)?, 21),
        "flavours" => field(&mut record.flavours, boolean(value)?, 22),
        "events" => field(&mut record.events, int(value)?, 23),
        "dropped" => field(&mut record.dropped, int(value)?, 24),
        // `finding` and any field this path does not know: serde's.
        _ => return None,
    };
    Some(1 << bit)
}

fn field<T>(slot: &mut Option<T>, value: Option<T>, bit: u32) -> u32 {
    *slot = value;
    bit
}

struct Parser<'a> {
    line: &'a str,
    at: usize,
}

impl<'a> Parser<'a> {
    fn bytes(&self) -> &'a [u8] {
        self.line.as_bytes()
    }

    fn byte(&mut self) -> Option<u8> {
        let byte = *self.bytes().get(self.at)?;
        self.at += 1;
        Some(byte)
    }

    fn eat(&mut self, expected: u8) -> Option<()> {
        (self.byte()? == expected).then_some(())
    }

    /// JSON's whitespace.
    fn space(&mut self) {
        while let Some(b' ' | b'\t' | b'\n' | b'\r') = self.bytes().get(self.at) {
            self.at += 1;
        }
    }

    /// A string without escapes or control characters.
    fn string(&mut self) -> Option<&'a str> {
        self.eat(b'"')?;
        let start = self.at;
        let rest = &self.bytes()[start..];
        let end = string_end(rest)?;
        if rest[end] != b'"' {
            return None;
        }
        self.at += end + 1;
        // Both ends are ASCII quotes: character boundaries.
        self.line.get(start..start + end)
    }

    fn value(&mut self) -> Option<Value<'a>> {
        match *self.bytes().get(self.at)? {
            b'"' => self.string().map(Value::Str),
            b'0'..=b'9' => self.integer().map(Value::Int),
            b't' => self.word(b"true", Value::Bool(true)),
            b'f' => self.word(b"false", Value::Bool(false)),
            b'n' => self.word(b"null", Value::Null),
            _ => None,
        }
    }

    fn word(&mut self, word: &[u8], value: Value<'a>) -> Option<Value<'a>> {
        let end = self.at + word.len();
        (self.bytes().get(self.at..end)? == word).then(|| {
            self.at = end;
            value
        })
    }

    /// An unsigned integer as JSON writes it (no leading zero), that fits a `u64` and is not
    /// the start of a fraction or an exponent.
    fn integer(&mut self) -> Option<u64> {
        let start = self.at;
        let mut n: u64 = 0;
        while let Some(&digit @ b'0'..=b'9') = self.bytes().get(self.at) {
            n = n.checked_mul(10)?.checked_add(u64::from(digit - b'0'))?;
            self.at += 1;
        }
        let leading_zero = self.bytes()[start] == b'0' && self.at - start > 1;
        let fraction = matches!(self.bytes().get(self.at), Some(b'.' | b'e' | b'E'));
        (!leading_zero && !fraction).then_some(n)
    }
}

/// Whether `byte` ends the plain part of a JSON string: its closing quote, an escape, or a
/// control character (serde's error).
fn ends_string(byte: u8) -> bool {
    byte == b'"' || byte == b'\\' || byte < 0x20
}

/// The index of the first byte of `bytes` that [`ends_string`], eight bytes at a time: the
/// strings of a trace are short (a library's vectorised search costs more to start than it
/// saves on them), and a byte at a time is what the reader spent most on.
fn string_end(bytes: &[u8]) -> Option<usize> {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGH: u64 = 0x8080_8080_8080_8080;
    // The high bit of each byte of `word` below `n` (≤ 0x80); exact for the lowest such byte,
    // which is the one wanted (a borrow only flags bytes above a flagged one).
    let below = |word: u64, n: u8| word.wrapping_sub(ONES * u64::from(n)) & !word & HIGH;
    let mut at = 0;
    while let Some(chunk) = bytes.get(at..at + 8) {
        let word = u64::from_le_bytes(chunk.try_into().expect("eight bytes"));
        let found = below(word ^ (ONES * u64::from(b'"')), 1)
            | below(word ^ (ONES * u64::from(b'\\')), 1)
            | below(word, 0x20);
        if found != 0 {
            return Some(at + (found.trailing_zeros() / 8) as usize);
        }
        at += 8;
    }
    let tail = bytes.get(at..)?;
    tail.iter().position(|&b| ends_string(b)).map(|i| at + i)
}

#[cfg(test)]
mod tests {
    use super::*;

    proptest::proptest! {
        /// Eight bytes at a time finds what a byte at a time finds.
        #[test]
        fn string_ends_are_found_as_one_byte_at_a_time_finds_them(
            bytes in proptest::collection::vec(proptest::sample::select(vec![
                0_u8, 0x1f, 0x20, 0x21, b'"', 0x23, b'\\', 0x5b, 0x5d, b'a', 0x7f, 0x80, 0xa2,
                0xdc, 0xff,
            ]), 0..40)
        ) {
            proptest::prop_assert_eq!(
                string_end(&bytes),
                bytes.iter().position(|&b| ends_string(b))
            );
        }
    }

    /// What serde_json makes of `line`, in a form to compare.
    fn by_serde(line: &str) -> Option<String> {
        serde_json::from_str::<Record<'_>>(line)
            .ok()
            .map(|r| serde_json::to_string(&r).expect("a record serializes"))
    }

    fn by_fast(line: &str) -> Option<String> {
        let mut record = Record::default();
        parse(line.as_bytes(), &mut record)
            .then(|| serde_json::to_string(&record).expect("a record serializes"))
    }

    #[test]
    fn the_fast_path_reads_what_serde_reads() {
        for line in [
            r#"{"type":"acquire","tid":7,"lock":849,"site":"gentrace/nested.rs:23:9"}"#,
            r#" { "type" : "release" , "tid" : 0 , "lock" : 18446744073709551615 } "#,
            r#"{"type":"header","format":"lockscan-trace","version":1,"tool":"t","flavours":true}"#,
            r#"{"type":"acquire","tid":1,"lock":2,"try":false,"mode":"shared","ts_ns":null}"#,
            r#"{"type":"lock","lock":3,"kind":"rwlock","name":"é","rank":4}"#,
            r#"{"type":"end","events":5,"dropped":0}"#,
        ] {
            assert!(by_fast(line).is_some(), "{line}");
            assert_eq!(by_fast(line), by_serde(line), "{line}");
        }
    }

    proptest::proptest! {
        /// Lines pieced together from JSON's tokens and the record's fields: whatever the fast
        /// path reads, serde_json reads the same.
        #[test]
        fn the_fast_path_never_disagrees_with_serde(
            pieces in proptest::collection::vec(proptest::sample::select(vec![
                "{", "}", ",", ":", " ", "\"type\"", "\"acquire\"", "\"tid\"", "\"lock\"",
                "\"site\"", "\"try\"", "\"x\"", "\"a\\\"b\"", "0", "1", "07", "1.5", "-2",
                "99999999999999999999", "true", "false", "null", "[", "]", "\"é\"",
            ]), 0..16)
        ) {
            let body = pieces.concat();
            // Also behind a valid start, so that most lines get past the first field.
            for line in [body.clone(), format!("{{\"type\":\"acquire\",{body}")] {
                if let Some(fast) = by_fast(&line) {
                    proptest::prop_assert_eq!(Some(fast), by_serde(&line), "{}", line);
                }
            }
        }
    }

    #[test]
    fn anything_unusual_is_left_to_serde() {
        for line in [
            r#"{"type":"acquire","tid":1,"lock":2,"unknown":3}"#,
            r#"{"type":"acquire","tid":1,"tid":2,"lock":2}"#,
            r#"{"type":"acquire","tid":01,"lock":2}"#,
            r#"{"type":"acquire","tid":1.0,"lock":2}"#,
            r#"{"type":"acquire","tid":1e2,"lock":2}"#,
            r#"{"type":"acquire","tid":-1,"lock":2}"#,
            r#"{"type":"acquire","tid":18446744073709551616,"lock":2}"#,
            r#"{"type":"acquire","tid":"1","lock":2}"#,
            r#"{"type":"acquire","tid":1,"lock":2,"site":"a\"b"}"#,
            r#"{"type":"acquire","tid":1,"lock":2} x"#,
            r#"{"type":"acquire","tid":1,"lock":2"#,
            r#"{"type":"acquire","tid":1,"lock":2,}"#,
            r#"{"tid":1,"lock":2}"#,
            r#"{"type":null}"#,
            r#"{}"#,
            r#"{"type":"finding","finding":{"kind":"deadlock","message":"m"}}"#,
            r#"{"type":"acquire","try":1}"#,
            "",
        ] {
            assert!(by_fast(line).is_none(), "{line}");
        }
    }
}
