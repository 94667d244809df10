//! Helpers: running the binary, locating the corpus, writing fixtures.

use std::path::{Path, PathBuf};
use std::process::Output;

use assert_cmd::cargo::cargo_bin_cmd;

/// The result of one run.
pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl From<Output> for Run {
    fn from(output: Output) -> Self {
        Run {
            code: output.status.code().expect("exited, not killed"),
            stdout: String::from_utf8(output.stdout).expect("UTF-8 stdout"),
            stderr: String::from_utf8(output.stderr).expect("UTF-8 stderr"),
        }
    }
}

/// Runs `lockscan` with `args`, with the color variables unset.
pub fn lockscan(args: &[&str]) -> Run {
    lockscan_with_stdin(args, "")
}

/// Runs `lockscan` with `args` and `stdin`.
pub fn lockscan_with_stdin(args: &[&str], stdin: &str) -> Run {
    let mut command = cargo_bin_cmd!("lockscan");
    command
        .env_remove("NO_COLOR")
        .env_remove("CLICOLOR_FORCE")
        .args(args)
        .write_stdin(stdin);
    command.output().expect("lockscan runs").into()
}

/// A file of the shared corpus, or `None` (with a message) when the corpus is absent.
pub fn corpus(relative: &str) -> Option<String> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../shared/corpus")
        .join(relative);
    if path.exists() {
        Some(path.display().to_string())
    } else {
        // CI has the corpus beside its clone: there, a missing corpus is a failure.
        assert!(
            std::env::var_os("CI").is_none(),
            "the corpus is not at {}",
            path.display()
        );
        eprintln!("skipped: the corpus is not at {}", path.display());
        None
    }
}

/// A fresh directory for one test's files.
pub fn scratch(test: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join(test);
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("scratch directory");
    dir
}

/// Writes `text` to `dir/name` and returns the path.
pub fn write(dir: &Path, name: &str, text: &str) -> String {
    let path = dir.join(name);
    std::fs::write(&path, text).expect("fixture written");
    path.display().to_string()
}

const HEADER: &str = r#"{"type":"header","format":"lockscan-trace","version":1}"#;

/// A JSONL trace of `lines` with header and end.
pub fn jsonl(lines: &[&str]) -> String {
    let mut text = format!("{HEADER}\n");
    for line in lines {
        text.push_str(line);
        text.push('\n');
    }
    text.push_str("{\"type\":\"end\"}\n");
    text
}

/// Two threads taking two named locks in opposite orders: one potential deadlock.
pub fn ab_ba() -> String {
    jsonl(&[
        r#"{"type":"lock","lock":1,"kind":"mutex","name":"a"}"#,
        r#"{"type":"lock","lock":2,"kind":"mutex","name":"b"}"#,
        r#"{"type":"acquire","tid":1,"lock":1,"site":"src/x.rs:1:1"}"#,
        r#"{"type":"acquire","tid":1,"lock":2,"site":"src/x.rs:2:1"}"#,
        r#"{"type":"release","tid":1,"lock":2}"#,
        r#"{"type":"release","tid":1,"lock":1}"#,
        r#"{"type":"acquire","tid":2,"lock":2,"site":"src/x.rs:3:1"}"#,
        r#"{"type":"acquire","tid":2,"lock":1,"site":"src/x.rs:4:1"}"#,
    ])
}

/// A condition-variable wait while holding another lock: one warning.
pub fn wait_holding() -> String {
    jsonl(&[
        r#"{"type":"acquire","tid":1,"lock":1}"#,
        r#"{"type":"acquire","tid":1,"lock":2}"#,
        r#"{"type":"wait","tid":1,"condvar":1,"lock":2}"#,
    ])
}

/// A cycle serialized by a gate lock: one note.
pub fn gated() -> String {
    jsonl(&[
        r#"{"type":"acquire","tid":1,"lock":9}"#,
        r#"{"type":"acquire","tid":1,"lock":1}"#,
        r#"{"type":"acquire","tid":1,"lock":2}"#,
        r#"{"type":"release","tid":1,"lock":2}"#,
        r#"{"type":"release","tid":1,"lock":1}"#,
        r#"{"type":"release","tid":1,"lock":9}"#,
        r#"{"type":"acquire","tid":2,"lock":9}"#,
        r#"{"type":"acquire","tid":2,"lock":2}"#,
        r#"{"type":"acquire","tid":2,"lock":1}"#,
    ])
}
