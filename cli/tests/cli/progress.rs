//! The progress line: drawn for a large trace on a terminal's standard error, never into a
//! pipe or a CI log.

use crate::util::*;

/// A trace over the progress line's threshold (8 MiB): one thread taking one lock, often.
fn large_trace(dir: &std::path::Path) -> String {
    let step = concat!(
        r#"{"type":"acquire","tid":1,"lock":1,"site":"src/x.rs:1:1"}"#,
        "\n",
        r#"{"type":"release","tid":1,"lock":1}"#,
        "\n"
    );
    let mut text =
        String::from("{\"type\":\"header\",\"format\":\"lockscan-trace\",\"version\":1}\n");
    while text.len() < 9 << 20 {
        text.push_str(step);
    }
    text.push_str("{\"type\":\"end\"}\n");
    write(dir, "large.jsonl", &text)
}

#[test]
fn nothing_is_drawn_on_a_standard_error_that_is_not_a_terminal() {
    let dir_tmp = scratch("progress_pipe");
    let dir = dir_tmp.path();
    let trace = large_trace(dir);
    // Not in CI as far as lockscan can tell: only the pipe keeps the line away.
    let output = lockscan_command()
        .env_remove("CI")
        .env_remove("LOCKSCAN_NO_PROGRESS")
        .args(["analyze", &trace])
        .output()
        .unwrap();
    let run = Run::from(output);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(run.stderr, "");
    assert!(
        run.stdout.starts_with("lockscan: no findings"),
        "{}",
        run.stdout
    );
}

/// Runs `lockscan analyze TRACE` with a pseudo-terminal as its standard streams (util-linux
/// `script`), returning what the terminal showed; `None` where `script` is missing.
#[cfg(target_os = "linux")]
fn on_a_terminal(trace: &str, ci: bool) -> Option<String> {
    let binary = assert_cmd::cargo::cargo_bin!("lockscan");
    let shell_command = format!("'{}' analyze '{trace}'", binary.display());
    let mut command = std::process::Command::new("script");
    command
        .args(["-qec", &shell_command, "/dev/null"])
        .env_remove("LOCKSCAN_NO_PROGRESS")
        .env("TERM", "xterm");
    if ci {
        command.env("CI", "true");
    } else {
        command.env_remove("CI");
    }
    match command.output() {
        Ok(output) if output.status.success() => Some(String::from_utf8(output.stdout).unwrap()),
        _ => {
            crate::util::skipped(format_args!(
                "no working util-linux `script` for a pseudo-terminal"
            ));
            None
        }
    }
}

#[cfg(target_os = "linux")]
#[test]
fn a_terminal_gets_a_line_that_is_erased_afterwards_unless_in_ci() {
    let dir_tmp = scratch("progress_terminal");
    let dir = dir_tmp.path();
    let trace = large_trace(dir);
    let Some(shown) = on_a_terminal(&trace, false) else {
        return;
    };
    assert!(
        shown.starts_with(&format!("\r\x1b[2Klockscan: reading {trace} ")),
        "{shown:?}"
    );
    assert!(shown.contains(" / 9.0 MiB ("), "{shown:?}");
    assert!(
        shown.contains("\r\x1b[2K\x1b[1mlockscan: no findings"),
        "erased before the report: {shown:?}"
    );
    let Some(in_ci) = on_a_terminal(&trace, true) else {
        return;
    };
    assert!(!in_ci.contains("reading"), "{in_ci:?}");
}
