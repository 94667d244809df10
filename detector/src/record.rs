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
//!
//! # Where a relative `LOCKSCAN_TRACE` goes
//!
//! Cargo runs each test binary in its own package's folder, so in a workspace a path relative
//! to the current directory would scatter one run's traces over every member
//! (`a/target/lockscan/`, `b/target/lockscan/`, ...). A relative `LOCKSCAN_TRACE` is therefore
//! taken from the root of the cargo workspace when the process runs under cargo (which sets
//! `CARGO_MANIFEST_DIR` for the tests and programs it runs): the nearest folder, from the
//! package's own up, whose `Cargo.toml` has a `[workspace]` table, as cargo finds it (a package
//! in no workspace is its own root). `LOCKSCAN_TRACE=target/lockscan/ cargo test --workspace`
//! thus puts every member's traces in the workspace's `target/lockscan/`. Without
//! `CARGO_MANIFEST_DIR` (a program started directly), the path is taken from the current
//! directory as usual; an absolute path is used as it is (`lockscan run` gives one).

use std::ffi::OsStr;
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

/// Where `LOCKSCAN_TRACE=spec` points: a relative `spec` is taken from the workspace root of
/// the package in `manifest_dir` (the value of `CARGO_MANIFEST_DIR`), when there is one; see
/// the module's docs. The text of `spec` is kept as it is after the root, trailing separator
/// included (it says "a folder").
pub(crate) fn resolve_trace_spec(spec: &OsStr, manifest_dir: Option<&OsStr>) -> PathBuf {
    let path = Path::new(spec);
    match manifest_dir.map(Path::new).filter(|dir| dir.is_absolute()) {
        Some(package) if path.is_relative() => {
            let mut resolved = workspace_root(package).as_os_str().to_owned();
            resolved.push(std::path::MAIN_SEPARATOR_STR);
            resolved.push(spec);
            PathBuf::from(resolved)
        }
        _ => path.to_owned(),
    }
}

/// The root of the cargo workspace `package` (a package's folder) belongs to: the nearest
/// folder from `package` up whose `Cargo.toml` has a `[workspace]` table (as cargo looks for
/// it), else `package` itself.
fn workspace_root(package: &Path) -> &Path {
    package
        .ancestors()
        .find(|dir| declares_workspace(&dir.join("Cargo.toml")))
        .unwrap_or(package)
}

/// Whether the manifest has a `[workspace]` table (`[workspace.dependencies]` and the like
/// imply one). A line scan: the recorder parses no TOML, and a table header is one line.
fn declares_workspace(manifest: &Path) -> bool {
    std::fs::read_to_string(manifest).is_ok_and(|text| {
        text.lines().any(|line| {
            let line = line.trim_start();
            line.starts_with("[workspace]") || line.starts_with("[workspace.")
        })
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `root/Cargo.toml` (a workspace), `root/a/Cargo.toml` (a member), `root/nested/Cargo.toml`
    /// (a workspace of its own inside the folder), under a fresh temporary folder.
    fn workspace_tree(test: &str) -> PathBuf {
        let root = std::env::temp_dir().join(format!("lockscan-{test}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&root);
        for (dir, manifest) in [
            ("", "[workspace]\nmembers = [\"a\"]\n"),
            ("a", "[package]\nname = \"a\"\n"),
            (
                "nested",
                "[package]\nname = \"n\"\n\n[workspace.package]\nversion = \"1.0.0\"\n",
            ),
        ] {
            std::fs::create_dir_all(root.join(dir)).unwrap();
            std::fs::write(root.join(dir).join("Cargo.toml"), manifest).unwrap();
        }
        root
    }

    #[test]
    fn a_relative_trace_path_goes_to_the_workspace_root() {
        let root = workspace_tree("resolve-workspace");
        let member = root.join("a");
        let resolved = resolve_trace_spec(OsStr::new("target/lockscan/"), Some(member.as_os_str()));
        assert_eq!(resolved, root.join("target/lockscan/"));
        // The trailing separator, which says "a folder", is kept.
        assert!(resolved.to_string_lossy().ends_with('/'), "{resolved:?}");
        // A package that is a workspace of its own (a `[workspace.*]` table) is its own root.
        let nested = root.join("nested");
        assert_eq!(
            resolve_trace_spec(OsStr::new("t.json"), Some(nested.as_os_str())),
            nested.join("t.json")
        );
        std::fs::remove_dir_all(&root).unwrap();
    }

    #[test]
    fn absolute_paths_and_processes_outside_cargo_keep_the_path() {
        assert_eq!(
            resolve_trace_spec(OsStr::new("/tmp/traces/"), Some(OsStr::new("/x/a"))),
            Path::new("/tmp/traces/")
        );
        assert_eq!(
            resolve_trace_spec(OsStr::new("traces/"), None),
            Path::new("traces/")
        );
    }
}
