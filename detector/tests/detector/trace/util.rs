//! Helpers shared by the integration tests.

use std::fs::File;
use std::io::BufReader;
use std::path::{Path, PathBuf};

use lockscan::analysis::{Replay, ReplayOptions, TraceResult};
use lockscan::trace::{Event, InputFormat, TraceError, TraceReader, TraceWarning};
use lockscan::{Finding, FindingKind};

/// The shared corpus: `shared/` is a sibling of the repository root.
pub fn corpus_dir() -> Option<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/corpus");
    if dir.is_dir() {
        Some(dir)
    } else {
        // CI has the corpus beside its clone: there, a missing corpus is a failure, not a skip.
        assert!(
            std::env::var_os("CI").is_none(),
            "the trace corpus is not at {} (it lives beside the repository)",
            dir.display()
        );
        skipped(format_args!(
            "the trace corpus is not at {} (it lives beside the repository)",
            dir.display()
        ));
        None
    }
}

/// Every file of a corpus subfolder, sorted; `None` when the corpus is absent.
pub fn corpus_files(sub: &str) -> Option<Vec<PathBuf>> {
    let dir = corpus_dir()?;
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir.join(sub))
        .expect("readable corpus folder")
        .map(|entry| entry.expect("readable entry").path())
        .filter(|path| path.is_file())
        .collect();
    files.sort();
    assert!(!files.is_empty(), "{sub} is empty");
    Some(files)
}

/// What reading and replaying one trace gave.
pub struct Outcome {
    pub result: TraceResult,
    pub errors: Vec<TraceError>,
    pub warnings: Vec<TraceWarning>,
}

impl Outcome {
    /// The findings of one kind.
    pub fn of(&self, kind: FindingKind) -> Vec<&Finding> {
        self.result
            .findings
            .iter()
            .filter(|f| f.kind == kind)
            .collect()
    }

    /// How many findings of each kind, as `kind:count` in contract order, for compact asserts.
    pub fn verdict(&self) -> String {
        FindingKind::ALL
            .iter()
            .filter_map(|&kind| {
                let n = self.of(kind).len();
                (n > 0).then(|| format!("{kind}:{n}"))
            })
            .collect::<Vec<_>>()
            .join(" ")
    }
}

/// Reads and replays a trace file.
pub fn analyze_file(path: &Path) -> Outcome {
    let file = File::open(path).expect("readable trace");
    let mut reader = TraceReader::new(
        BufReader::new(file),
        path.display().to_string(),
        InputFormat::Auto,
    )
    .expect("reader");
    let mut errors = Vec::new();
    let result = Replay::new(ReplayOptions::default()).run(&mut reader, |e| errors.push(e));
    Outcome {
        result,
        errors,
        warnings: reader.warnings().to_vec(),
    }
}

/// Reads and replays a trace held in memory.
pub fn analyze_text(text: &str) -> Outcome {
    let mut reader = TraceReader::new(text.as_bytes(), "test", InputFormat::Auto).expect("reader");
    let mut errors = Vec::new();
    let result = Replay::new(ReplayOptions::default()).run(&mut reader, |e| errors.push(e));
    Outcome {
        result,
        errors,
        warnings: reader.warnings().to_vec(),
    }
}

/// Reads every event of a trace file, with the errors, the warnings and the line count.
pub fn read_events(path: &Path) -> (Vec<Event>, Vec<TraceError>, Vec<TraceWarning>, u64) {
    let file = File::open(path).expect("readable trace");
    let mut reader = TraceReader::new(
        BufReader::new(file),
        path.display().to_string(),
        InputFormat::Auto,
    )
    .expect("reader");
    let mut events = Vec::new();
    let mut errors = Vec::new();
    for item in reader.by_ref() {
        match item {
            Ok(event) => events.push(event),
            Err(err) => errors.push(err),
        }
    }
    let lines = reader.line();
    (events, errors, reader.warnings().to_vec(), lines)
}

/// Says that a check was skipped, on the process's stderr itself: libtest captures what
/// `eprintln!` writes in a passing test, and a skip nobody sees looks like a pass.
pub fn skipped(reason: std::fmt::Arguments<'_>) {
    use std::io::Write;
    let _ = writeln!(std::io::stderr().lock(), "skipped: {reason}");
}
