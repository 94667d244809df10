//! Helpers: running the binary, locating the corpus, writing fixtures.

use std::path::Path;
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

/// Checks what insta's comparison leaves out and returns `text` for `insta::assert_snapshot!`.
/// insta compares snapshots with their trailing whitespace trimmed and CRLF read as LF, so a
/// snapshot pins `text` byte for byte only together with these checks: one final newline and
/// no carriage return.
pub fn exact_for_snapshot<'t>(name: &str, text: &'t str) -> &'t str {
    assert!(
        text.ends_with('\n') && text.trim_end().len() + 1 == text.len(),
        "{name}: does not end in exactly one newline: {:?}",
        &text[text.trim_end().len()..]
    );
    assert!(!text.contains('\r'), "{name}: has a carriage return");
    text
}

/// Runs `lockscan` with `args`, with the color variables unset.
pub fn lockscan(args: &[&str]) -> Run {
    lockscan_with_stdin(args, "")
}

/// Runs `lockscan` with `args` and `stdin`.
pub fn lockscan_with_stdin(args: &[&str], stdin: &str) -> Run {
    let mut command = lockscan_command();
    command.args(args).write_stdin(stdin);
    command.output().expect("lockscan runs").into()
}

/// Runs `lockscan` with `args` in the directory `dir` (where it looks for `lockscan.toml`).
pub fn lockscan_in(dir: &Path, args: &[&str]) -> Run {
    let mut command = lockscan_command();
    command.current_dir(dir).args(args);
    command.output().expect("lockscan runs").into()
}

/// The `lockscan` command, with the color and GitHub variables unset.
pub fn lockscan_command() -> assert_cmd::Command {
    let mut command = cargo_bin_cmd!("lockscan");
    command
        .env_remove("NO_COLOR")
        .env_remove("CLICOLOR")
        .env_remove("CLICOLOR_FORCE")
        .env_remove("GITHUB_STEP_SUMMARY");
    command
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
        skipped(format_args!("the corpus is not at {}", path.display()));
        None
    }
}

/// A fresh directory for one test's files, under the target directory; removed when dropped.
pub fn scratch(test: &str) -> tempfile::TempDir {
    tempfile::Builder::new()
        .prefix(&format!("{test}-"))
        .tempdir_in(env!("CARGO_TARGET_TMPDIR"))
        .expect("a scratch directory")
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

/// Two threads each holding one lock and requesting the other when the trace ends: a deadlock.
pub fn deadlock() -> String {
    jsonl(&[
        r#"{"type":"lock","lock":1,"kind":"mutex","name":"from"}"#,
        r#"{"type":"lock","lock":2,"kind":"mutex","name":"to"}"#,
        r#"{"type":"acquire","tid":1,"lock":1,"site":"src/transfer.rs:10:5"}"#,
        r#"{"type":"acquire","tid":2,"lock":2,"site":"src/transfer.rs:20:5"}"#,
        r#"{"type":"request","tid":1,"lock":2,"site":"src/transfer.rs:11:5"}"#,
        r#"{"type":"request","tid":2,"lock":1,"site":"src/transfer.rs:21:5"}"#,
    ])
}

/// Two threads writing a tracked variable with nothing ordering them: a data race.
pub fn race() -> String {
    jsonl(&[
        r#"{"type":"var","var":1,"name":"balance","site":"src/bank.rs:5:9"}"#,
        r#"{"type":"write","tid":1,"var":1,"site":"src/bank.rs:20:9"}"#,
        r#"{"type":"write","tid":2,"var":1,"site":"src/bank.rs:30:9"}"#,
    ])
}

/// Says that a check was skipped, on the process's stderr itself: libtest captures what
/// `eprintln!` writes in a passing test, and a skip nobody sees looks like a pass.
pub fn skipped(reason: std::fmt::Arguments<'_>) {
    use std::io::Write;
    let _ = writeln!(std::io::stderr().lock(), "skipped: {reason}");
}
