//! A progress line for large trace files: bytes read of the file's size, on standard error,
//! only when a person is watching it (a terminal, not a pipe, a file or CI).

use std::cell::{Cell, RefCell};
use std::io::{self, IsTerminal, Read, Write};
use std::rc::Rc;
use std::time::{Duration, Instant};

/// Files smaller than this are read too fast for a progress line to help.
pub(crate) const MIN_BYTES: u64 = 8 << 20;

/// The least time between two redraws, so drawing costs nothing next to reading.
const REDRAW_EVERY: Duration = Duration::from_millis(100);

/// Whether a file of `size` bytes gets a progress line, given whether standard error is a
/// terminal and the environment variable reader `var`.
pub(crate) fn wanted(size: u64, stderr_is_terminal: bool, var: impl Fn(&str) -> bool) -> bool {
    // Some CI runners give their jobs a pseudo-terminal; their logs are no place for `\r`.
    size >= MIN_BYTES && stderr_is_terminal && !var("CI") && !var("LOCKSCAN_NO_PROGRESS")
}

/// The progress of reading one file, when it is wanted for a file of `size` bytes.
pub(crate) fn for_file(name: &str, size: u64) -> Option<Rc<ProgressLine>> {
    let stderr_is_terminal = io::stderr().is_terminal();
    let set = |name: &str| std::env::var_os(name).is_some_and(|v| !v.is_empty());
    let dumb = std::env::var_os("TERM").is_some_and(|term| term == "dumb");
    (!dumb && wanted(size, stderr_is_terminal, set))
        .then(|| Rc::new(ProgressLine::new(name, size, Box::new(io::stderr()))))
}

/// One line, redrawn in place, saying how much of a file was read.
pub(crate) struct ProgressLine {
    name: String,
    total: u64,
    read: Cell<u64>,
    last_draw: Cell<Option<Instant>>,
    shown: Cell<bool>,
    out: RefCell<Box<dyn Write>>,
}

impl ProgressLine {
    pub(crate) fn new(name: &str, total: u64, out: Box<dyn Write>) -> Self {
        ProgressLine {
            name: name.to_owned(),
            total,
            read: Cell::new(0),
            last_draw: Cell::new(None),
            shown: Cell::new(false),
            out: RefCell::new(out),
        }
    }

    /// Counts `bytes` more read, and redraws when the last drawing is old enough.
    fn advance(&self, bytes: usize) {
        self.read.set(self.read.get() + bytes as u64);
        let now = Instant::now();
        if self
            .last_draw
            .get()
            .is_none_or(|last| now.duration_since(last) >= REDRAW_EVERY)
        {
            self.last_draw.set(Some(now));
            self.draw();
        }
    }

    /// The line's text.
    fn text(&self) -> String {
        let read = self.read.get().min(self.total);
        let percent = read * 100 / self.total.max(1);
        format!(
            "lockscan: reading {} {} / {} ({percent}%)",
            self.name,
            mebibytes(read),
            mebibytes(self.total)
        )
    }

    fn draw(&self) {
        let text = self.text();
        // `\x1b[2K` erases the line: a terminal control, not a color, so anstyle has no name
        // for it, and this line is drawn on a terminal only (`wanted`).
        self.write(&format!("\r\x1b[2K{text}"));
        self.shown.set(true);
    }

    /// Erases the line, so that a diagnostic or the next line starts on a clean line.
    pub(crate) fn clear(&self) {
        if self.shown.replace(false) {
            self.write("\r\x1b[2K");
        }
    }

    fn write(&self, text: &str) {
        let mut out = self.out.borrow_mut();
        // A progress line that cannot be drawn is no reason to stop the analysis.
        let _ = out.write_all(text.as_bytes()).and_then(|()| out.flush());
    }
}

impl Drop for ProgressLine {
    fn drop(&mut self) {
        self.clear();
    }
}

fn mebibytes(bytes: u64) -> String {
    format!("{:.1} MiB", bytes as f64 / f64::from(1u32 << 20))
}

/// A reader that reports what it reads to a [`ProgressLine`].
pub(crate) struct ProgressReader<R> {
    inner: R,
    progress: Rc<ProgressLine>,
}

impl<R> ProgressReader<R> {
    pub(crate) fn new(inner: R, progress: Rc<ProgressLine>) -> Self {
        ProgressReader { inner, progress }
    }
}

impl<R: Read> Read for ProgressReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.progress.advance(n);
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A writer whose bytes the test can still see after handing it over.
    #[derive(Clone, Default)]
    struct Shared(Rc<RefCell<Vec<u8>>>);

    impl Write for Shared {
        fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
            self.0.borrow_mut().extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn only_large_files_on_a_terminal_outside_ci_get_a_line() {
        let none = |_: &str| false;
        assert!(wanted(MIN_BYTES, true, none));
        assert!(!wanted(MIN_BYTES - 1, true, none), "a small file");
        assert!(!wanted(MIN_BYTES, false, none), "a pipe or a file");
        assert!(!wanted(MIN_BYTES, true, |v| v == "CI"), "CI");
        assert!(!wanted(MIN_BYTES, true, |v| v == "LOCKSCAN_NO_PROGRESS"));
    }

    #[test]
    fn the_line_counts_bytes_read_and_is_erased_at_the_end() {
        let out = Shared::default();
        let total = 4u64 << 20;
        let progress = Rc::new(ProgressLine::new("t.jsonl", total, Box::new(out.clone())));
        let data = vec![b'x'; (total / 2) as usize];
        let mut reader = ProgressReader::new(data.as_slice(), Rc::clone(&progress));
        io::copy(&mut reader, &mut io::sink()).unwrap();
        assert_eq!(
            progress.text(),
            "lockscan: reading t.jsonl 2.0 MiB / 4.0 MiB (50%)"
        );
        drop(reader);
        drop(progress);
        let written = String::from_utf8(out.0.borrow().clone()).unwrap();
        assert!(
            written.starts_with("\r\x1b[2Klockscan: reading t.jsonl "),
            "{written:?}"
        );
        assert!(written.ends_with("\r\x1b[2K"), "erased: {written:?}");
    }
}
