//! Recording a trace of this process's lock operations, for `lockscan analyze`.
//!
//! Either set `LOCKSCAN_TRACE=PATH` in the environment (a file, `%p` standing for the pid; or
//! a directory, where each process writes `PROGRAM-PID.lstrace`, so a `cargo test` run with
//! many test binaries leaves one trace per process), or call [`start`] and keep the returned
//! [`Recording`] alive.
//!
//! Traces come in two encodings of the same records: the compact one
//! ([`crate::trace::compact`]), and JSON Lines (described in the project's `trace-format.md`,
//! about ten times the size and slower to write). A directory's traces are compact unless
//! `LOCKSCAN_TRACE_FORMAT=jsonl`; a file named explicitly is compact when its name ends in
//! `.lstrace`, JSON Lines otherwise (`.json`).
//!
//! ```no_run
//! let recording = lockscan::record::start("target/lockscan/demo.json")?;
//! let m = lockscan::Mutex::named("demo", 0);
//! *m.lock() += 1;
//! let path = recording.finish()?; // writes the `end` line
//! # Ok::<(), lockscan::record::RecordError>(())
//! ```
//!
//! A process that exits normally, or whose `main` panics, ends its trace with an `end` line
//! (for `LOCKSCAN_TRACE`, through an exit handler); one that is killed leaves every line written
//! before that, and a reader treats the missing `end` as a truncated trace.

use std::path::{Path, PathBuf};

pub use crate::runtime::recorder::{RecordError, TRACE_ENV, TRACE_FORMAT_ENV};
use crate::runtime::{is_active, recorder};

/// A running recording. Dropping it finishes the trace like [`Recording::finish`], reporting
/// an error on stderr.
#[must_use = "the recording stops when this is dropped"]
#[derive(Debug)]
pub struct Recording {
    finished: bool,
}

/// Starts recording every lock operation of this process to `path` (created, with its parent
/// folders; truncated if it exists).
///
/// # Errors
///
/// When a recording is already running, when detection is compiled out (there is nothing to
/// record), or when the file cannot be created.
///
/// ```
/// use lockscan::record::{self, RecordError};
///
/// let path = std::env::temp_dir().join(format!("lockscan-doc-{}.json", std::process::id()));
/// match record::start(&path) {
///     Ok(recording) => {
///         assert!(record::is_recording());
///         let jobs = lockscan::Mutex::named("doc:recorded", 0);
///         *jobs.lock() += 1;
///         let written = recording.finish()?;
///         assert!(!record::is_recording());
///         assert!(std::fs::read_to_string(&written)?.contains("doc:recorded"));
///         std::fs::remove_file(written)?;
///     }
///     // Detection compiled out (a release build): there is nothing to record.
///     Err(RecordError::Inactive) => assert!(!lockscan::is_active()),
///     Err(other) => return Err(other.into()),
/// }
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn start(path: impl AsRef<Path>) -> Result<Recording, RecordError> {
    if !is_active() {
        return Err(RecordError::Inactive);
    }
    recorder::start(path.as_ref())?;
    if cfg!(lockscan_unoptimized) {
        recorder::say_unoptimized(None);
    }
    Ok(Recording { finished: false })
}

/// Whether a recording is running.
pub fn is_recording() -> bool {
    is_active() && recorder::on()
}

impl Recording {
    /// Stops recording, writes the rest of the trace and its `end` line, and returns its path.
    ///
    /// # Errors
    ///
    /// When writing the trace failed at some point.
    pub fn finish(mut self) -> Result<PathBuf, RecordError> {
        self.finished = true;
        recorder::finish()?.ok_or(RecordError::NotRecording)
    }
}

impl Drop for Recording {
    fn drop(&mut self) {
        if !self.finished
            && let Err(err) = recorder::finish()
        {
            eprintln!("lockscan: {err}");
        }
    }
}
