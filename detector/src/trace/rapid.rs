//! The reader of RAPID "STD" text traces: `THREAD|OP(ARG)|LOC`, one event a line.
//!
//! Built with the feature `analyze`.
//!
//! STD traces come from Java programs: every lock is a monitor, which is re-entrant, so each
//! lock is declared [`LockKind::Reentrant`]. Threads, locks and variables live in separate
//! namespaces (`fork(12)` is thread 12, `acq(12)` lock 12), and a name may be written bare
//! (`12`) or with its namespace letter (`T12`, `L12`, `V12`): both spell the same entity. Ids
//! are handed out densely in order of first appearance; the trace's own token is the name,
//! preferring the prefixed spelling once one has been seen.

use std::collections::VecDeque;
use std::io::BufRead;
use std::sync::Arc;

use rustc_hash::FxHashMap;

use super::event::Event;
use super::{LineRead, LineSource, Problem, TraceError, TraceWarning, quote};
use crate::ids::{CondvarId, Flavour, LockId, LockKind, Mode, ThreadId, VarId};
use crate::site::Site;

/// The operations, for error messages and for recognising a name cut short.
const OPS: [&str; 16] = [
    "acq",
    "rel",
    "req",
    "tryacq",
    "racq",
    "rrel",
    "r",
    "w",
    "fork",
    "join",
    "wait",
    "notify",
    "notifyAll",
    "begin",
    "end",
    "branch",
];

const EXPECTED_OP: &str = "an operation (`acq`, `rel`, `req`, `tryacq`, `racq`, `rrel`, `r`, `w`, \
     `fork`, `join`, `wait`, `notify`, `notifyAll`, `begin`, `end`, `branch`)";

/// Reads an STD trace line by line; an iterator of events.
///
/// ```
/// use lockscan::trace::{Event, StdReader};
///
/// let trace = "T1|fork(T2)|1\nT1|acq(L1)|2\nT1|acq(L2)|3\nT1|rel(L2)|4\nT1|rel(L1)|5\n";
/// let mut reader = StdReader::new(trace.as_bytes(), "example.std");
/// let events: Vec<Event> = reader.by_ref().collect::<Result<_, _>>().unwrap();
/// let acquires = events.iter().filter(|e| matches!(e, Event::Acquire { .. })).count();
/// assert_eq!(acquires, 2);
/// assert_eq!(reader.line(), 5);
/// assert!(reader.warnings().is_empty());
/// ```
#[derive(Debug)]
pub struct StdReader<R> {
    lines: LineSource<R>,
    threads: Namespace,
    locks: Namespace,
    monitors: Namespace,
    vars: Namespace,
    sites: FxHashMap<Box<[u8]>, Site>,
    /// Declarations are emitted before the event that first names an entity, so one line can
    /// produce several events.
    queue: VecDeque<Event>,
    warnings: Vec<TraceWarning>,
    /// Whether a line other than a blank one was read, and whether the end was reached.
    any_record: bool,
    ended: bool,
}

/// One namespace: token → dense id, with the name to show.
#[derive(Debug)]
struct Namespace {
    letter: u8,
    numeric: FxHashMap<u64, u32>,
    named: FxHashMap<Box<[u8]>, u32>,
    /// Whether the id's name is spelled with the namespace letter.
    prefixed: Vec<bool>,
}

/// What interning a token did.
enum Interned {
    /// Seen before, nothing to declare.
    Known(u32),
    /// New (or newly spelled with its letter): declare it under this name.
    Declare(u32, Arc<str>),
}

impl Interned {
    /// The id, after queueing the declaration `declare` makes of it and its name when it is
    /// new.
    fn declared(
        self,
        queue: &mut VecDeque<Event>,
        declare: impl FnOnce(u64, Arc<str>) -> Event,
    ) -> u64 {
        match self {
            Interned::Known(id) => u64::from(id),
            Interned::Declare(id, name) => {
                queue.push_back(declare(u64::from(id), name));
                u64::from(id)
            }
        }
    }
}

impl Namespace {
    fn new(letter: u8) -> Self {
        Namespace {
            letter,
            numeric: FxHashMap::default(),
            named: FxHashMap::default(),
            prefixed: Vec::new(),
        }
    }

    fn intern(&mut self, token: &[u8]) -> Interned {
        let (digits, prefixed) = match token.split_first() {
            Some((&first, rest)) if first == self.letter && is_number(rest) => (rest, true),
            _ if is_number(token) => (token, false),
            _ => (&[][..], false),
        };
        let next = self.prefixed.len() as u32;
        let (id, new) = match parse_number(digits) {
            Some(number) => match self.numeric.get(&number) {
                Some(&id) => (id, false),
                None => {
                    self.numeric.insert(number, next);
                    (next, true)
                }
            },
            None => match self.named.get(token) {
                Some(&id) => (id, false),
                None => {
                    self.named.insert(token.into(), next);
                    (next, true)
                }
            },
        };
        if new {
            self.prefixed.push(prefixed);
        } else if prefixed && !self.prefixed[id as usize] {
            self.prefixed[id as usize] = true;
        } else {
            return Interned::Known(id);
        }
        Interned::Declare(id, Arc::from(String::from_utf8_lossy(token)))
    }
}

fn is_number(bytes: &[u8]) -> bool {
    !bytes.is_empty() && bytes.iter().all(u8::is_ascii_digit)
}

fn parse_number(digits: &[u8]) -> Option<u64> {
    if digits.is_empty() {
        return None;
    }
    digits.iter().try_fold(0u64, |acc, &d| {
        acc.checked_mul(10)?.checked_add(u64::from(d - b'0'))
    })
}

pub(crate) fn is_token_byte(byte: u8) -> bool {
    byte.is_ascii_alphanumeric() || matches!(byte, b'_' | b'.' | b'$' | b'-' | b':' | b'/')
}

/// The operation of a line, with its argument.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Op {
    Acquire,
    Release,
    Request,
    TryAcquire,
    ReadAcquire,
    ReadRelease,
    Read,
    Write,
    Fork,
    Join,
    Wait,
    Notify,
    NotifyAll,
}

fn op(name: &[u8]) -> Option<Op> {
    Some(match name {
        b"acq" => Op::Acquire,
        b"rel" => Op::Release,
        b"req" => Op::Request,
        b"tryacq" => Op::TryAcquire,
        b"racq" => Op::ReadAcquire,
        b"rrel" => Op::ReadRelease,
        b"r" => Op::Read,
        b"w" => Op::Write,
        b"fork" => Op::Fork,
        b"join" => Op::Join,
        b"wait" => Op::Wait,
        b"notify" => Op::Notify,
        b"notifyAll" => Op::NotifyAll,
        _ => return None,
    })
}

/// Whether `name` is a marker (`begin`, `end`, `branch`): a line that records no event.
fn is_marker(name: &[u8]) -> bool {
    matches!(name, b"begin" | b"end" | b"branch")
}

/// A parsed line, borrowing from the line buffer.
struct Parsed<'a> {
    thread: &'a [u8],
    /// `None` for a marker line.
    op: Option<Op>,
    arg: &'a [u8],
    loc: &'a [u8],
}

/// Why a line did not parse: what was expected, where, and whether the text simply ran out.
struct Unexpected {
    expected: String,
    at: usize,
    cut_short: bool,
}

fn parse(line: &[u8]) -> Result<Parsed<'_>, Unexpected> {
    let fail = |expected: &str, at: usize| Unexpected {
        expected: expected.to_owned(),
        at,
        cut_short: at >= line.len(),
    };
    let thread_len = line.iter().take_while(|&&b| is_token_byte(b)).count();
    if thread_len == 0 {
        return Err(fail("a thread name", 0));
    }
    let mut at = thread_len;
    if line.get(at) != Some(&b'|') {
        return Err(fail("`|` after the thread", at));
    }
    at += 1;
    let op_start = at;
    let op_len = line[at..]
        .iter()
        .take_while(|b| b.is_ascii_alphabetic())
        .count();
    let op_name = &line[op_start..op_start + op_len];
    at += op_len;
    let op = op(op_name);
    if op.is_none() && !is_marker(op_name) {
        let cut_short = at >= line.len()
            && OPS
                .iter()
                .any(|known| known.as_bytes().starts_with(op_name));
        return Err(Unexpected {
            expected: EXPECTED_OP.to_owned(),
            at: op_start,
            cut_short,
        });
    }
    let mut arg: &[u8] = &[];
    if line.get(at) == Some(&b'(') {
        at += 1;
        let arg_start = at;
        if op.is_none() {
            // `begin(...)`: the content means nothing here; skip to the parenthesis.
            at += line[at..].iter().take_while(|&&b| b != b')').count();
        } else {
            at += line[at..].iter().take_while(|&&b| is_token_byte(b)).count();
            if at == arg_start {
                return Err(fail("an argument", at));
            }
        }
        arg = &line[arg_start..at];
        if line.get(at) != Some(&b')') {
            return Err(fail("`)`", at));
        }
        at += 1;
    } else if op.is_some() {
        return Err(fail("`(` and an argument", at));
    }
    if line.get(at) != Some(&b'|') {
        return Err(fail("`|` and a location", at));
    }
    at += 1;
    let loc = &line[at..];
    if loc.is_empty() {
        return Err(fail("a location", at));
    }
    if let Some(bad) = loc
        .iter()
        .position(|b| *b == b'|' || b.is_ascii_whitespace())
    {
        return Err(fail("the end of the line after the location", at + bad));
    }
    Ok(Parsed {
        thread: &line[..thread_len],
        op,
        arg,
        loc,
    })
}

impl<R: BufRead> StdReader<R> {
    /// A reader of `input`, called `file` in messages.
    pub fn new(input: R, file: impl Into<Arc<str>>) -> Self {
        StdReader {
            lines: LineSource::new(input, file.into()),
            threads: Namespace::new(b'T'),
            locks: Namespace::new(b'L'),
            monitors: Namespace::new(b'L'),
            vars: Namespace::new(b'V'),
            sites: FxHashMap::default(),
            queue: VecDeque::new(),
            warnings: Vec::new(),
            any_record: false,
            ended: false,
        }
    }

    /// The number of the line read last.
    pub fn line(&self) -> u64 {
        self.lines.line
    }

    /// The warnings so far (complete once the iterator returned `None`).
    pub fn warnings(&self) -> &[TraceWarning] {
        &self.warnings
    }

    /// Parses the current line into events; `None` for a line without any (blank, `begin`).
    fn parse_line(&mut self) -> Result<Option<Event>, Problem> {
        let line = &self.lines.buffer;
        if line.iter().all(u8::is_ascii_whitespace) {
            return Ok(None);
        }
        let parsed = match parse(line) {
            Ok(parsed) => parsed,
            Err(unexpected) => {
                let found = quote(&line[unexpected.at.min(line.len())..]);
                return Err(self
                    .lines
                    .problem(unexpected.expected, found, unexpected.cut_short));
            }
        };
        let thread = ThreadId(self.threads.intern(parsed.thread).declared(
            &mut self.queue,
            |id, name| Event::Thread {
                tid: ThreadId(id),
                name: Some(name),
                parent: None,
            },
        ));
        let Some(op) = parsed.op else {
            return Ok(self.queue.pop_front());
        };
        let site = Some(match self.sites.get(parsed.loc) {
            Some(site) => site.clone(),
            None => {
                let site = Site::from(&*String::from_utf8_lossy(parsed.loc));
                self.sites.insert(parsed.loc.into(), site.clone());
                site
            }
        });
        let event = match op {
            Op::Acquire
            | Op::Release
            | Op::Request
            | Op::TryAcquire
            | Op::ReadAcquire
            | Op::ReadRelease => {
                let lock = declare_lock(&mut self.locks, &mut self.queue, parsed.arg);
                let shared = matches!(op, Op::ReadAcquire | Op::ReadRelease);
                let mode = if shared {
                    Mode::Shared
                } else {
                    Mode::Exclusive
                };
                match op {
                    Op::Request => Event::Request {
                        tid: thread,
                        lock,
                        mode,
                        flavour: Flavour::Plain,
                        site,
                    },
                    Op::Release | Op::ReadRelease => Event::Release {
                        tid: thread,
                        lock,
                        mode,
                        site,
                    },
                    _ => Event::Acquire {
                        tid: thread,
                        lock,
                        mode,
                        try_lock: op == Op::TryAcquire,
                        flavour: Flavour::Plain,
                        site,
                    },
                }
            }
            Op::Read | Op::Write => {
                let var = VarId(self.vars.intern(parsed.arg).declared(
                    &mut self.queue,
                    |id, name| Event::Var {
                        var: VarId(id),
                        name: Some(name),
                        site: None,
                    },
                ));
                if op == Op::Read {
                    Event::Read {
                        tid: thread,
                        var,
                        site,
                    }
                } else {
                    Event::Write {
                        tid: thread,
                        var,
                        site,
                    }
                }
            }
            Op::Fork | Op::Join => {
                let child = ThreadId(self.threads.intern(parsed.arg).declared(
                    &mut self.queue,
                    |id, name| Event::Thread {
                        tid: ThreadId(id),
                        name: Some(name),
                        parent: (op == Op::Fork).then_some(thread),
                    },
                ));
                if op == Op::Fork {
                    Event::Spawn {
                        tid: thread,
                        child,
                        site,
                    }
                } else {
                    Event::Join {
                        tid: thread,
                        child,
                        site,
                    }
                }
            }
            Op::Wait | Op::Notify | Op::NotifyAll => {
                let lock = declare_lock(&mut self.locks, &mut self.queue, parsed.arg);
                let condvar = CondvarId(self.monitors.intern(parsed.arg).declared(
                    &mut self.queue,
                    |id, name| Event::Condvar {
                        condvar: CondvarId(id),
                        name: Some(name),
                        site: None,
                    },
                ));
                if op == Op::Wait {
                    Event::Wait {
                        tid: thread,
                        condvar,
                        lock,
                        site,
                    }
                } else {
                    Event::Notify {
                        tid: thread,
                        condvar,
                        all: op == Op::NotifyAll,
                        site,
                    }
                }
            }
        };
        if self.queue.is_empty() {
            Ok(Some(event))
        } else {
            self.queue.push_back(event);
            Ok(self.queue.pop_front())
        }
    }
}

/// The id of the lock `token`, queueing its declaration when it is new.
fn declare_lock(locks: &mut Namespace, queue: &mut VecDeque<Event>, token: &[u8]) -> LockId {
    LockId(locks.intern(token).declared(queue, |id, name| Event::Lock {
        lock: LockId(id),
        kind: LockKind::Reentrant,
        name: Some(name),
        class: None,
        site: None,
        rank: None,
    }))
}

impl<R: BufRead> Iterator for StdReader<R> {
    type Item = Result<Event, TraceError>;

    fn next(&mut self) -> Option<Self::Item> {
        if let Some(event) = self.queue.pop_front() {
            return Some(Ok(event));
        }
        loop {
            match self.lines.next_line() {
                Ok(LineRead::Line) => {}
                Ok(LineRead::End) => {
                    let empty = !self.any_record && !self.ended;
                    self.ended = true;
                    return empty
                        .then(|| Err(TraceError::empty(self.lines.file.clone(), self.lines.line)));
                }
                Err(err) => return Some(Err(err)),
            }
            if !self.lines.buffer.iter().all(u8::is_ascii_whitespace) {
                self.any_record = true;
            }
            match self.parse_line() {
                Ok(Some(event)) => return Some(Ok(event)),
                Ok(None) => {}
                Err(Problem::Error(err)) => return Some(Err(err)),
                Err(Problem::Truncated(warning)) => self.warnings.push(warning),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(text: &str) -> (Vec<Result<Event, TraceError>>, Vec<TraceWarning>) {
        let mut reader = StdReader::new(text.as_bytes(), "t.std");
        let events: Vec<_> = reader.by_ref().collect();
        (events, reader.warnings().to_vec())
    }

    fn ok(text: &str) -> Vec<Event> {
        let (events, warnings) = read(text);
        assert!(warnings.is_empty(), "{warnings:?}");
        events.into_iter().map(Result::unwrap).collect()
    }

    #[test]
    fn declares_entities_before_their_first_use() {
        let events = ok("T0|acq(L1)|17\n");
        assert_eq!(
            events,
            vec![
                Event::Thread {
                    tid: ThreadId(0),
                    name: Some("T0".into()),
                    parent: None
                },
                Event::Lock {
                    lock: LockId(0),
                    kind: LockKind::Reentrant,
                    name: Some("L1".into()),
                    class: None,
                    site: None,
                    rank: None
                },
                Event::Acquire {
                    tid: ThreadId(0),
                    lock: LockId(0),
                    mode: Mode::Exclusive,
                    try_lock: false,
                    flavour: Flavour::Plain,
                    site: Some(Site::from("17"))
                },
            ]
        );
    }

    #[test]
    fn namespaces_are_per_kind_and_prefixes_are_optional() {
        // `fork(12)` is thread T12; `acq(12)` is a lock, not that thread.
        let events = ok("T0|fork(12)|1\nT0|acq(12)|2\nT12|acq(L12)|3\nT12|w(12)|4\n");
        let threads: Vec<_> = events
            .iter()
            .filter_map(|e| match e {
                Event::Thread { tid, name, .. } => Some((*tid, name.clone().unwrap())),
                _ => None,
            })
            .collect();
        // T12 is thread 1 throughout; its name is upgraded to the prefixed spelling.
        assert_eq!(
            threads,
            vec![
                (ThreadId(0), "T0".into()),
                (ThreadId(1), "12".into()),
                (ThreadId(1), "T12".into())
            ]
        );
        let acquires: Vec<_> = events
            .iter()
            .filter_map(|e| match e {
                Event::Acquire { tid, lock, .. } => Some((*tid, *lock)),
                _ => None,
            })
            .collect();
        assert_eq!(
            acquires,
            vec![(ThreadId(0), LockId(0)), (ThreadId(1), LockId(0))]
        );
        assert!(
            events
                .iter()
                .any(|e| matches!(e, Event::Write { var: VarId(0), .. }))
        );
    }

    #[test]
    fn every_operation_is_understood() {
        let text = "T1|begin|0\nT1|req(L1)|1\nT1|tryacq(L2)|2\nT1|racq(L3)|3\nT1|rrel(L3)|4\n\
                    T1|wait(L1)|5\nT1|notify(L1)|6\nT1|notifyAll(L1)|7\nT1|r(V1)|8\n\
                    T1|join(T2)|9\nT1|branch|10\nT1|end(x y)|11\n";
        let ops: Vec<String> = ok(text)
            .iter()
            .filter(|e| {
                !matches!(
                    e,
                    Event::Thread { .. }
                        | Event::Lock { .. }
                        | Event::Var { .. }
                        | Event::Condvar { .. }
                )
            })
            .map(|e| {
                format!("{e:?}")
                    .split([' ', '{'])
                    .next()
                    .unwrap()
                    .to_owned()
            })
            .collect();
        assert_eq!(
            ops,
            [
                "Request", "Acquire", "Acquire", "Release", "Wait", "Notify", "Notify", "Read",
                "Join"
            ]
        );
        let events = ok("T1|tryacq(L2)|2\nT1|racq(L3)|3\nT1|notifyAll(L1)|7\n");
        assert!(events.iter().any(|e| matches!(
            e,
            Event::Acquire {
                try_lock: true,
                mode: Mode::Exclusive,
                ..
            }
        )));
        assert!(events.iter().any(|e| matches!(
            e,
            Event::Acquire {
                try_lock: false,
                mode: Mode::Shared,
                ..
            }
        )));
        assert!(
            events
                .iter()
                .any(|e| matches!(e, Event::Notify { all: true, .. }))
        );
    }

    #[test]
    fn errors_say_where_and_what_was_expected() {
        let cases = [
            (
                "T6|ww(4294967298)|59\n",
                "t.std:1: expected an operation",
                "`ww(4294967298)|59`",
            ),
            (
                "T6|w(4294967298)*|59\n",
                "t.std:1: expected `|` and a location",
                "`*|59`",
            ),
            (
                "|acq(L1)|1\n",
                "t.std:1: expected a thread name",
                "`|acq(L1)|1`",
            ),
            ("T1|acq()|1\n", "t.std:1: expected an argument", "`)|1`"),
            (
                "T1|acq(L1)|1|2\n",
                "t.std:1: expected the end of the line",
                "`|2`",
            ),
            (
                "T1|acq L1|1\n",
                "t.std:1: expected `(` and an argument",
                "` L1|1`",
            ),
        ];
        for (text, expected, found) in cases {
            let (events, warnings) = read(text);
            let err = events
                .iter()
                .find_map(|e| e.as_ref().err())
                .unwrap_or_else(|| panic!("{text}: no error"))
                .to_string();
            assert!(err.starts_with(expected), "{text}: {err}");
            assert!(err.ends_with(found), "{text}: {err}");
            assert!(warnings.is_empty());
        }
    }

    #[test]
    fn a_line_cut_short_at_the_end_is_a_warning_but_a_bad_one_is_not() {
        for cut in ["T1|acq(L1)|", "T1|acq(L1", "T1|ac", "T1"] {
            let (events, warnings) = read(&format!("T1|acq(L1)|1\n{cut}"));
            assert!(events.iter().all(Result::is_ok), "{cut}: {events:?}");
            assert!(
                matches!(
                    warnings[..],
                    [TraceWarning::TruncatedLastLine { line: 2, .. }]
                ),
                "{cut}: {warnings:?}"
            );
        }
        // The same text with its newline was complete, so it is wrong, not cut short.
        let (events, warnings) = read("T1|acq(L1)|\n");
        assert!(events.iter().any(Result::is_err));
        assert!(warnings.is_empty());
        // Text that ends but could never become a record is an error even on the last line.
        let (events, _) = read("T6|w(4294967298)*|59");
        assert!(events.iter().any(Result::is_err));
    }

    #[test]
    fn reading_goes_on_after_an_error() {
        let (events, _) = read("T1|acq(L1)|1\nbad\nT1|rel(L1)|2\n");
        // Thread, Lock, Acquire, then the error for line 2, then line 3.
        assert_eq!(events[3].as_ref().unwrap_err().line(), Some(2));
        assert!(matches!(events[4], Ok(Event::Release { .. })));
    }

    #[test]
    fn huge_numbers_and_odd_names_are_tokens() {
        let events = ok("T6|w(4294967298)|59\nmain|acq(99999999999999999999999)|x.java:3\n");
        assert!(
            events
                .iter()
                .any(|e| matches!(e, Event::Thread { name: Some(n), .. } if &**n == "main"))
        );
        assert!(
            events
                .iter()
                .any(|e| matches!(e, Event::Lock { name: Some(n), .. } if n.len() == 23))
        );
    }
}
