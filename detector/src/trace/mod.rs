//! Reading traces: the lockscan JSONL format, its compact binary encoding ([`compact`]) and
//! RAPID STD text traces, all turned into [`Event`]s.
//!
//! Readers stream: they hold one line at a time, so memory does not grow with the trace. A
//! malformed line is an error naming the file, the line and what was expected; the reader goes
//! on with the next line, so one bad line does not hide the rest of the trace. A last line that
//! was cut short (no trailing newline, and the text ends before the record does) is a
//! [`TraceWarning`]: that is what a process killed mid-write leaves behind.
//!
//! ```
//! use lockscan::trace::{InputFormat, TraceReader};
//!
//! let text = "T1|acq(L1)|3\nT1|rel(L1)|4\n";
//! let reader = TraceReader::new(text.as_bytes(), "example.std", InputFormat::Auto).unwrap();
//! let events: Vec<_> = reader.collect::<Result<_, _>>().unwrap();
//! assert!(events.len() >= 2);
//! ```

pub mod compact;
pub mod event;
pub(crate) mod format;
pub mod jsonl;
#[cfg(feature = "analyze")]
pub mod rapid;
pub mod wire;

use std::io;
#[cfg(feature = "analyze")]
use std::io::BufRead;
use std::sync::Arc;

pub use compact::{CompactReader, CompactWriter};
pub use event::{Event, Header};
#[cfg(feature = "analyze")]
pub use jsonl::JsonlReader;
pub use jsonl::JsonlWriter;
#[cfg(feature = "analyze")]
pub use rapid::StdReader;

/// Writes events in one encoding: what `TraceReader` reads, the other way round. The
/// compact and JSONL writers implement it; `lockscan convert`, the recorder and the demos'
/// trace generator write through it.
///
/// ```
/// use lockscan::ids::{LockId, Mode, ThreadId};
/// use lockscan::trace::{CompactWriter, Event, Header, JsonlWriter, TraceWrite};
///
/// let release = Event::Release { tid: ThreadId(2), lock: LockId(7), mode: Mode::Shared, site: None };
/// let end = Event::End { events: None, dropped: None };
/// let mut writers: Vec<Box<dyn TraceWrite>> = vec![
///     Box::new(CompactWriter::new(Vec::new(), &Header::default())?),
///     Box::new(JsonlWriter::new(Vec::new())),
/// ];
/// for writer in &mut writers {
///     writer.write(&release)?;
///     writer.write(&end)?;
///     writer.flush()?;
/// }
/// # Ok::<(), std::io::Error>(())
/// ```
pub trait TraceWrite {
    /// Writes one event as a record (and whatever the encoding needs before it).
    fn write(&mut self, event: &Event) -> io::Result<()>;

    /// How many records an `end` record without a count would count now.
    fn records(&self) -> u64;

    /// Flushes what was written to the underlying writer.
    fn flush(&mut self) -> io::Result<()>;
}

/// [`TraceWrite`] for a writer `$writer<W>` with an inherent `write`, a `records` count and the
/// underlying writer in `out`: the trait forwards to them (a macro, as a trait's default
/// methods cannot reach fields).
macro_rules! forward_trace_write {
    ($writer:ident) => {
        impl<W: std::io::Write> $crate::trace::TraceWrite for $writer<W> {
            fn write(&mut self, event: &$crate::trace::Event) -> std::io::Result<()> {
                $writer::write(self, event)
            }

            fn records(&self) -> u64 {
                self.records
            }

            fn flush(&mut self) -> std::io::Result<()> {
                std::io::Write::flush(&mut self.out)
            }
        }
    };
}
pub(crate) use forward_trace_write;

/// The longest line a reader accepts; longer lines are an error, so a corrupt file without line
/// breaks cannot make the reader buffer all of it.
pub const MAX_LINE_BYTES: usize = 1 << 20;

/// Which reader to use.
///
/// With the `clap` feature it is a `clap::ValueEnum` whose names are [`InputFormat::as_str`]'s;
/// the variants' docs are for this page, not for the command line's help (`help = None`).
#[cfg(feature = "analyze")]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[cfg_attr(feature = "clap", derive(clap::ValueEnum))]
pub enum InputFormat {
    /// Decide from the first bytes: the compact encoding's magic bytes, `{` (after blanks)
    /// for JSONL, a first line that starts like STD's (`THREAD|`); anything else is
    /// [`TraceError::NotATrace`].
    #[default]
    #[cfg_attr(feature = "clap", value(name = "auto", help = None))]
    Auto,
    /// The lockscan JSON Lines format.
    #[cfg_attr(feature = "clap", value(name = "jsonl", help = None))]
    Jsonl,
    /// The lockscan compact encoding.
    #[cfg_attr(feature = "clap", value(name = "compact", help = None))]
    Compact,
    /// RAPID STD text.
    #[cfg_attr(feature = "clap", value(name = "std", help = None))]
    Std,
}

#[cfg(feature = "analyze")]
impl InputFormat {
    /// `auto`, `jsonl`, `compact` or `std`.
    pub const fn as_str(self) -> &'static str {
        match self {
            InputFormat::Auto => "auto",
            InputFormat::Jsonl => "jsonl",
            InputFormat::Compact => "compact",
            InputFormat::Std => "std",
        }
    }
}

#[cfg(feature = "analyze")]
impl std::fmt::Display for InputFormat {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Why a trace could not be read, or a line of it not understood.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TraceError {
    /// Reading failed.
    #[error("{file}: cannot read: {source}")]
    Io {
        /// The file.
        file: Arc<str>,
        /// What the system said.
        #[source]
        source: io::Error,
    },
    /// A line is not a valid record.
    #[error("{file}:{line}: expected {expected}, found {found}")]
    Syntax {
        /// The file.
        file: Arc<str>,
        /// The line number, from 1.
        line: u64,
        /// What the reader expected there.
        expected: String,
        /// What it found instead (quoted).
        found: String,
    },
    /// The input is in none of the formats lockscan reads (format detection, `auto`, found
    /// none of them at its start).
    #[error(
        "{file}: not a lockscan trace: expected a JSON Lines trace (`{{\"type\":...}}` \
         records), the compact encoding (`.lstrace`), or RAPID STD text (`THREAD|OP(ARG)|LOC` \
         lines); found {found}"
    )]
    NotATrace {
        /// The file.
        file: Arc<str>,
        /// The start of its first line that is not blank (quoted).
        found: String,
    },
    /// A record of a compact trace is not valid. The reader stops there: a byte stream cannot
    /// be resynchronised.
    #[error("{file}: byte {offset}: expected {expected}, found {found}")]
    Binary {
        /// The file.
        file: Arc<str>,
        /// Where the record starts, in bytes from the start of the file.
        offset: u64,
        /// What the reader expected there.
        expected: String,
        /// What it found instead.
        found: String,
    },
}

impl TraceError {
    /// The error for a file with no record at all (empty, or blank lines only): nothing a
    /// program could have done, and most likely a recording that never started.
    #[cfg(feature = "analyze")]
    pub(crate) fn empty(file: Arc<str>, lines: u64) -> TraceError {
        TraceError::Syntax {
            file,
            line: lines.max(1),
            expected: "a trace record".to_owned(),
            found: if lines == 0 {
                "an empty file".to_owned()
            } else {
                "only blank lines".to_owned()
            },
        }
    }

    /// The line number, for syntax errors.
    pub fn line(&self) -> Option<u64> {
        match self {
            TraceError::Syntax { line, .. } => Some(*line),
            TraceError::Io { .. } | TraceError::Binary { .. } | TraceError::NotATrace { .. } => {
                None
            }
        }
    }
}

/// Something about a trace worth saying that does not stop the analysis.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum TraceWarning {
    /// The last line has no newline and stops in the middle of a record: the writer was cut
    /// off. The line is ignored.
    #[error(
        "{file}:{line}: the last line is truncated (no trailing newline; expected {expected}); \
         ignored"
    )]
    TruncatedLastLine {
        /// The file.
        file: Arc<str>,
        /// The line number.
        line: u64,
        /// What the reader expected where the text stopped.
        expected: String,
    },
    /// The last record of a compact trace stops before its end: the writer was cut off. The
    /// record is ignored.
    #[error("{file}: byte {offset}: the last record is truncated; ignored")]
    TruncatedRecord {
        /// The file.
        file: Arc<str>,
        /// Where the record starts.
        offset: u64,
    },
    /// A JSONL trace has no `end` record: the process died or was killed while recording.
    #[error(
        "{file}: no `end` record: the recording stopped early (the process died or was killed)"
    )]
    MissingEnd {
        /// The file.
        file: Arc<str>,
    },
    /// The recorder says it lost events: findings may be missing or incomplete.
    #[error("{file}: the recorder dropped {dropped} events; the analysis may miss findings")]
    DroppedEvents {
        /// The file.
        file: Arc<str>,
        /// How many.
        dropped: u64,
    },
    /// The `end` record counts a different number of records than the file has before it:
    /// lines were lost or added after recording.
    #[error(
        "{file}: the `end` record counts {written} records but the file has {read} before it; \
         lines were lost or added"
    )]
    EventCountMismatch {
        /// The file.
        file: Arc<str>,
        /// What the recorder says it wrote.
        written: u64,
        /// The non-blank lines before the `end` record, header included.
        read: u64,
    },
    /// Events of a recording cut off by a kill, or missing a block, could not all be put in
    /// replay order: they were replayed in their threads' order where their predecessors on
    /// another thread never came.
    #[error(
        "{file}: {events} events wait for operations of other threads that are not in the \
         trace (a cut-off recording); replayed in their threads' order"
    )]
    UnorderedEvents {
        /// The file.
        file: Arc<str>,
        /// How many.
        events: u64,
    },
    /// A compact trace defines a site a second time. Writers of version 4 on define each site
    /// text once, so this is a repeated `site` record: it shifts the number of every later site
    /// by one, and events after it may name the wrong lines. (Earlier versions' recorders wrote
    /// one record per `Location`, two of which can share a text: no warning there.)
    #[error(
        "{file}: byte {offset}: the site `{site}` is defined a second time (as site {number}); \
         a repeated `site` record shifts every later site by one, so findings may name the \
         wrong lines"
    )]
    DuplicateSite {
        /// The file.
        file: Arc<str>,
        /// Where the second `site` record starts.
        offset: u64,
        /// The site's text.
        site: String,
        /// The number the second record gives it.
        number: u64,
    },
    /// A compact trace declares a lock again with another kind.
    #[error(
        "{file}: byte {offset}: lock {lock} is declared again as a {kind}, after being declared \
         a {first}",
        kind = .kind.as_str(),
        first = .first.as_str()
    )]
    LockRedeclared {
        /// The file.
        file: Arc<str>,
        /// Where the second `lock` record starts.
        offset: u64,
        /// The lock's id.
        lock: u64,
        /// The kind it was declared first.
        first: crate::ids::LockKind,
        /// The kind it is declared now.
        kind: crate::ids::LockKind,
    },
    /// A JSONL trace declares a lock again with another kind (what
    /// [`TraceWarning::LockRedeclared`] is in a compact trace).
    #[error(
        "{file}:{line}: lock {lock} is declared again as a {kind}, after being declared a {first}",
        kind = .kind.as_str(),
        first = .first.as_str()
    )]
    LockRedeclaredOnLine {
        /// The file.
        file: Arc<str>,
        /// The second `lock` record's line.
        line: u64,
        /// The lock's id.
        lock: u64,
        /// The kind it was declared first.
        first: crate::ids::LockKind,
        /// The kind it is declared now.
        kind: crate::ids::LockKind,
    },
}

/// The kinds of the locks a trace has declared so far: how both readers tell a lock declared
/// again with another kind ([`TraceWarning::LockRedeclared`]).
#[derive(Debug, Default)]
pub(crate) struct LockKinds(rustc_hash::FxHashMap<u64, crate::ids::LockKind>);

impl LockKinds {
    /// Takes in a declaration of `lock` as `kind`; the kind it was declared before, when that
    /// was another.
    pub(crate) fn redeclared(
        &mut self,
        lock: u64,
        kind: crate::ids::LockKind,
    ) -> Option<crate::ids::LockKind> {
        self.0.insert(lock, kind).filter(|&first| first != kind)
    }
}

/// The format a reader actually reads.
#[cfg(feature = "analyze")]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    /// The lockscan JSON Lines format.
    Jsonl,
    /// The lockscan compact encoding.
    Compact,
    /// RAPID STD text.
    Std,
}

#[cfg(feature = "analyze")]
impl Format {
    /// `jsonl`, `compact` or `std`.
    pub const fn as_str(self) -> &'static str {
        match self {
            Format::Jsonl => "jsonl",
            Format::Compact => "compact",
            Format::Std => "std",
        }
    }
}

/// The format of the input, told from its start without consuming it: the compact encoding's
/// magic bytes, `{` (after blanks) for JSONL, a first line that starts like RAPID STD's
/// (`THREAD|`, the thread a name of letters, digits and `_.$-:/`); `None` when it is none of
/// them. An empty input, or blanks only, is left to the STD reader, which says it is empty.
#[cfg(feature = "analyze")]
pub fn detect_format<R: BufRead>(input: &mut R) -> io::Result<Option<Format>> {
    // `fill_buf` shows the buffered prefix without consuming it.
    Ok(sniff(input.fill_buf()?))
}

#[cfg(feature = "analyze")]
fn sniff(buffer: &[u8]) -> Option<Format> {
    if buffer.first() == Some(&compact::MAGIC[0]) {
        return Some(Format::Compact);
    }
    let start = buffer.iter().position(|byte| !byte.is_ascii_whitespace());
    let Some(start) = start else {
        return Some(Format::Std);
    };
    if buffer[start] == b'{' {
        return Some(Format::Jsonl);
    }
    let thread = buffer[start..]
        .iter()
        .take_while(|&&byte| rapid::is_token_byte(byte))
        .count();
    (thread > 0 && buffer.get(start + thread) == Some(&b'|')).then_some(Format::Std)
}

/// The first line of `buffer` that is not blank, quoted for a message.
#[cfg(feature = "analyze")]
fn first_line(buffer: &[u8]) -> String {
    let line = buffer
        .split(|&byte| byte == b'\n')
        .map(<[u8]>::trim_ascii)
        .find(|line| !line.is_empty())
        .unwrap_or_default();
    quote(line)
}

/// A reader of either format, chosen by [`InputFormat`].
#[cfg(feature = "analyze")]
#[derive(Debug)]
// One reader exists per file; boxing would only add an indirection to every event.
#[allow(clippy::large_enum_variant)]
pub enum TraceReader<R> {
    /// A JSONL reader.
    Jsonl(JsonlReader<R>),
    /// A compact reader.
    Compact(CompactReader<R>),
    /// An STD reader.
    Std(StdReader<R>),
}

#[cfg(feature = "analyze")]
impl<R: BufRead> TraceReader<R> {
    /// A reader of `input`, called `file` in messages.
    pub fn new(
        mut input: R,
        file: impl Into<Arc<str>>,
        format: InputFormat,
    ) -> Result<Self, TraceError> {
        let file = file.into();
        let format = match format {
            InputFormat::Jsonl => Format::Jsonl,
            InputFormat::Compact => Format::Compact,
            InputFormat::Std => Format::Std,
            InputFormat::Auto => {
                let buffer = input.fill_buf().map_err(|source| TraceError::Io {
                    file: file.clone(),
                    source,
                })?;
                match sniff(buffer) {
                    Some(format) => format,
                    None => {
                        let found = first_line(buffer);
                        return Err(TraceError::NotATrace { file, found });
                    }
                }
            }
        };
        Ok(match format {
            Format::Jsonl => TraceReader::Jsonl(JsonlReader::new(input, file)),
            Format::Compact => TraceReader::Compact(CompactReader::new(input, file)),
            Format::Std => TraceReader::Std(StdReader::new(input, file)),
        })
    }

    /// The format being read.
    pub fn format(&self) -> Format {
        match self {
            TraceReader::Jsonl(_) => Format::Jsonl,
            TraceReader::Compact(_) => Format::Compact,
            TraceReader::Std(_) => Format::Std,
        }
    }

    /// The number of the line read last.
    pub fn line(&self) -> u64 {
        match self {
            TraceReader::Jsonl(reader) => reader.line(),
            TraceReader::Compact(reader) => reader.line(),
            TraceReader::Std(reader) => reader.line(),
        }
    }

    /// The warnings so far (complete once the reader returned `None`).
    pub fn warnings(&self) -> &[TraceWarning] {
        match self {
            TraceReader::Jsonl(reader) => reader.warnings(),
            TraceReader::Compact(reader) => reader.warnings(),
            TraceReader::Std(reader) => reader.warnings(),
        }
    }

    /// The timestamp (`ts_ns`) of the event returned last, when the trace has one (STD
    /// traces never do).
    pub fn timestamp(&self) -> Option<u64> {
        match self {
            TraceReader::Jsonl(reader) => reader.timestamp(),
            TraceReader::Compact(_) | TraceReader::Std(_) => None,
        }
    }
}

#[cfg(feature = "analyze")]
impl<R: BufRead> Iterator for TraceReader<R> {
    type Item = Result<Event, TraceError>;

    fn next(&mut self) -> Option<Self::Item> {
        match self {
            TraceReader::Jsonl(reader) => reader.next(),
            TraceReader::Compact(reader) => reader.next(),
            TraceReader::Std(reader) => reader.next(),
        }
    }
}

/// Reads lines into a reused buffer, counting them, refusing overlong ones.
#[cfg(feature = "analyze")]
#[derive(Debug)]
pub(crate) struct LineSource<R> {
    input: R,
    pub(crate) file: Arc<str>,
    /// The current line, without its line end.
    pub(crate) buffer: Vec<u8>,
    /// The number of the current line.
    pub(crate) line: u64,
    /// Whether the current line ended with `\n` (false only for the last line of a file).
    pub(crate) terminated: bool,
    done: bool,
}

/// What [`LineSource::next_line`] read.
#[cfg(feature = "analyze")]
pub(crate) enum LineRead {
    /// A line is in the buffer.
    Line,
    /// The input is exhausted.
    End,
}

#[cfg(feature = "analyze")]
impl<R: BufRead> LineSource<R> {
    pub(crate) fn new(input: R, file: Arc<str>) -> Self {
        LineSource {
            input,
            file,
            buffer: Vec::with_capacity(256),
            line: 0,
            terminated: true,
            done: false,
        }
    }

    /// Reads the next line into `buffer`.
    pub(crate) fn next_line(&mut self) -> Result<LineRead, TraceError> {
        if self.done {
            return Ok(LineRead::End);
        }
        self.buffer.clear();
        let read = match self.read_until_newline(MAX_LINE_BYTES + 1) {
            Ok(read) => read,
            Err(source) => return Err(self.io_error(source)),
        };
        if read == 0 {
            self.done = true;
            return Ok(LineRead::End);
        }
        self.line += 1;
        self.terminated = self.buffer.last() == Some(&b'\n');
        if self.terminated {
            self.buffer.pop();
        } else if self.buffer.len() > MAX_LINE_BYTES {
            // Skip the rest of the overlong line so that the next call starts on a fresh line.
            self.skip_to_newline()?;
            return Err(TraceError::Syntax {
                file: self.file.clone(),
                line: self.line,
                expected: format!("a line of at most {MAX_LINE_BYTES} bytes"),
                found: "a longer line".to_owned(),
            });
        }
        if self.buffer.last() == Some(&b'\r') {
            self.buffer.pop();
        }
        Ok(LineRead::Line)
    }

    /// Appends to `buffer` the input up to its next newline (included), `limit` bytes at most;
    /// returns how many. `BufRead::read_until` through `Read::take`, with a vectorised scan.
    fn read_until_newline(&mut self, limit: usize) -> io::Result<usize> {
        let mut read = 0;
        loop {
            let available = match self.input.fill_buf() {
                Ok(available) => available,
                Err(error) if error.kind() == io::ErrorKind::Interrupted => continue,
                Err(error) => return Err(error),
            };
            let room = limit - read;
            let available = &available[..available.len().min(room)];
            let (end, used) = match memchr::memchr(b'\n', available) {
                Some(at) => (true, at + 1),
                None => (available.is_empty(), available.len()),
            };
            self.buffer.extend_from_slice(&available[..used]);
            self.input.consume(used);
            read += used;
            if end || read == limit {
                return Ok(read);
            }
        }
    }

    fn skip_to_newline(&mut self) -> Result<(), TraceError> {
        loop {
            let available = match self.input.fill_buf() {
                Ok(available) => available,
                Err(source) => return Err(self.io_error(source)),
            };
            if available.is_empty() {
                self.done = true;
                return Ok(());
            }
            match memchr::memchr(b'\n', available) {
                Some(at) => {
                    self.input.consume(at + 1);
                    return Ok(());
                }
                None => {
                    let len = available.len();
                    self.input.consume(len);
                }
            }
        }
    }

    fn io_error(&mut self, source: io::Error) -> TraceError {
        // An I/O error usually repeats forever: stop after reporting it once.
        self.done = true;
        TraceError::Io {
            file: self.file.clone(),
            source,
        }
    }

    /// A syntax error on the current line, or the truncation warning when the line is the
    /// unterminated last one and the record was cut off (`cut_short`).
    pub(crate) fn problem(
        &self,
        expected: impl Into<String>,
        found: impl Into<String>,
        cut_short: bool,
    ) -> Problem {
        if cut_short && !self.terminated {
            Problem::Truncated(TraceWarning::TruncatedLastLine {
                file: self.file.clone(),
                line: self.line,
                expected: expected.into(),
            })
        } else {
            Problem::Error(TraceError::Syntax {
                file: self.file.clone(),
                line: self.line,
                expected: expected.into(),
                found: found.into(),
            })
        }
    }
}

/// A line that could not be read: an error, or the warning for a truncated last line.
#[cfg(feature = "analyze")]
pub(crate) enum Problem {
    Error(TraceError),
    Truncated(TraceWarning),
}

/// Quotes a piece of input for an error message, shortened and with non-printing bytes escaped.
#[cfg(feature = "analyze")]
pub(crate) fn quote(bytes: &[u8]) -> String {
    const MAX: usize = 60;
    if bytes.is_empty() {
        return "the end of the line".to_owned();
    }
    let shown = &bytes[..bytes.len().min(MAX)];
    let mut text = String::with_capacity(shown.len() + 2);
    text.push('`');
    text.push_str(&String::from_utf8_lossy(shown).escape_debug().to_string());
    if bytes.len() > MAX {
        text.push('…');
    }
    text.push('`');
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn detects_the_format_from_the_first_byte() {
        let mut json = "\n  {\"type\":\"header\"}".as_bytes();
        assert_eq!(detect_format(&mut json).unwrap(), Some(Format::Jsonl));
        assert_eq!(json.len(), 20, "detection consumes nothing");
        assert_eq!(
            detect_format(&mut "T1|acq(L1)|1".as_bytes()).unwrap(),
            Some(Format::Std)
        );
        assert_eq!(
            detect_format(&mut "\n12|begin|0".as_bytes()).unwrap(),
            Some(Format::Std)
        );
        assert_eq!(
            detect_format(&mut "".as_bytes()).unwrap(),
            Some(Format::Std)
        );
        assert_eq!(
            detect_format(&mut &compact::MAGIC[..]).unwrap(),
            Some(Format::Compact)
        );
    }

    /// `[1,2,3]` in a `.json` file was read as STD and said "expected a thread name".
    #[test]
    fn what_is_no_trace_format_is_not_a_lockscan_trace() {
        for (text, found) in [
            ("[1,2,3]\n", "`[1,2,3]`"),
            ("\n  hello world\n", "`hello world`"),
            ("T1 acq L1\n", "`T1 acq L1`"),
        ] {
            assert_eq!(detect_format(&mut text.as_bytes()).unwrap(), None, "{text}");
            let err = TraceReader::new(text.as_bytes(), "x.json", InputFormat::Auto).unwrap_err();
            assert!(matches!(err, TraceError::NotATrace { .. }), "{err:?}");
            let message = err.to_string();
            assert!(
                message.starts_with("x.json: not a lockscan trace: expected a JSON Lines trace"),
                "{message}"
            );
            assert!(message.ends_with(&format!("; found {found}")), "{message}");
        }
        // Forced, the STD reader reads it all the same, with its own errors.
        assert!(TraceReader::new("[1]".as_bytes(), "x", InputFormat::Std).is_ok());
    }

    #[test]
    fn the_format_can_be_forced() {
        let reader = TraceReader::new("{}".as_bytes(), "x", InputFormat::Std).unwrap();
        assert_eq!(reader.format(), Format::Std);
        let reader = TraceReader::new("T1".as_bytes(), "x", InputFormat::Jsonl).unwrap();
        assert_eq!(reader.format(), Format::Jsonl);
    }

    #[test]
    fn overlong_lines_are_an_error_and_reading_goes_on() {
        let mut text = vec![b'x'; MAX_LINE_BYTES + 10];
        text.extend_from_slice(b"\nnext\n");
        let mut lines = LineSource::new(&text[..], "f".into());
        assert!(matches!(
            lines.next_line(),
            Err(TraceError::Syntax { line: 1, .. })
        ));
        assert!(matches!(lines.next_line(), Ok(LineRead::Line)));
        assert_eq!(lines.buffer, b"next");
        assert_eq!(lines.line, 2);
        assert!(matches!(lines.next_line(), Ok(LineRead::End)));
    }

    #[test]
    fn quoting_escapes_and_shortens() {
        assert_eq!(quote(b"a\tb"), "`a\\tb`");
        assert_eq!(quote(b""), "the end of the line");
        assert!(quote(&[b'y'; 100]).ends_with("…`"));
    }
}
