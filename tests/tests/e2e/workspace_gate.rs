//! The README's CI gate, `lockscan run -- cargo test --workspace`, in a new workspace of two
//! crates outside this one, with a lock-order inversion across them: crate `a` takes its two
//! locks in one order, crate `b` (which depends on `a`) in the other, each in its own test
//! binary. `run` gave the processes a relative folder, so cargo, which runs each test binary in
//! its member's folder, scattered the traces, `run` found none and passed; old runs' traces
//! were counted again by `analyze`; a baseline broke when a line moved. One workspace is built
//! once and reused by every step.

#![cfg(unix)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::Duration;

use serde_json::Value;

use crate::support::{bin_dir, output_within, scratch};

/// The first build compiles lockscan and its dependencies in the new workspace; on this
/// project's shared two-core machine that can take minutes. Later steps only run tests.
const FIRST_BUILD: Duration = Duration::from_secs(20 * 60);
const STEP: Duration = Duration::from_secs(5 * 60);

const A_LOCKS: &str = "\
//! Crate a: two locks, taken accounts first.

use lockscan::Mutex;

/// The accounts.
pub static ACCOUNTS: Mutex<u64> = Mutex::new(0);
/// The ledger.
pub static LEDGER: Mutex<u64> = Mutex::new(0);

/// Posts the accounts to the ledger: accounts, then ledger.
pub fn post() {
    let accounts = ACCOUNTS.lock();
    let mut ledger = LEDGER.lock();
    *ledger += *accounts;
}

#[cfg(test)]
mod tests {
    #[test]
    fn posts() {
        super::post();
    }
}
";

const B_LOCKS: &str = "\
//! Crate b: a's locks, taken ledger first.

/// Audits the ledger against the accounts: ledger, then accounts.
pub fn audit() -> u64 {
    let ledger = a::LEDGER.lock();
    let accounts = a::ACCOUNTS.lock();
    *ledger + *accounts
}

#[cfg(test)]
mod tests {
    #[test]
    fn audits() {
        super::audit();
    }
}
";

/// The same crates without any lock: nothing to record.
const A_PLAIN: &str = "\
//! Crate a, without locks.

/// Nothing to post.
pub fn post() {}

#[cfg(test)]
mod tests {
    #[test]
    fn posts() {
        super::post();
    }
}
";

const B_PLAIN: &str = "\
//! Crate b, without locks.

/// Nothing to audit.
pub fn audit() -> u64 {
    a::post();
    0
}

#[cfg(test)]
mod tests {
    #[test]
    fn audits() {
        assert_eq!(super::audit(), 0);
    }
}
";

fn project() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap()
}

/// Writes the workspace: the root manifest (members, and lockscan compiled optimized as the
/// README recommends), the two crates, and this project's lock file (no network needed).
fn write_workspace(dir: &Path) {
    let detector = project().join("detector").display().to_string();
    let files = [
        (
            "Cargo.toml",
            "[workspace]\nmembers = [\"a\", \"b\"]\nresolver = \"3\"\n\n\
             [profile.dev.package.lockscan]\nopt-level = 3\n"
                .to_owned(),
        ),
        (
            "a/Cargo.toml",
            format!(
                "[package]\nname = \"a\"\nversion = \"0.1.0\"\nedition = \"2024\"\n\n\
                 [dependencies]\nlockscan = {{ path = {detector:?} }}\n"
            ),
        ),
        (
            "b/Cargo.toml",
            format!(
                "[package]\nname = \"b\"\nversion = \"0.1.0\"\nedition = \"2024\"\n\n\
                 [dependencies]\na = {{ path = \"../a\" }}\nlockscan = {{ path = {detector:?} }}\n"
            ),
        ),
        ("a/src/lib.rs", A_LOCKS.to_owned()),
        ("b/src/lib.rs", B_LOCKS.to_owned()),
    ];
    for (path, text) in files {
        let file = dir.join(path);
        std::fs::create_dir_all(file.parent().unwrap()).unwrap();
        std::fs::write(file, text).unwrap();
    }
    std::fs::copy(project().join("Cargo.lock"), dir.join("Cargo.lock")).unwrap();
}

/// A command in the workspace, with nothing of this test run's lockscan settings: cargo's
/// target folder kept between test runs (only the first builds the dependencies).
fn in_workspace(dir: &Path, program: &Path) -> Command {
    let mut command = Command::new(program);
    command
        .current_dir(dir)
        .env(
            "CARGO_TARGET_DIR",
            project().join("target").join("fresh-crate"),
        )
        .env("CARGO", env!("CARGO"))
        .env_remove("LOCKSCAN_TRACE")
        .env_remove("LOCKSCAN_TRACE_FORMAT")
        .env_remove("LOCKSCAN_ON_FINDING")
        .env_remove("RUSTFLAGS")
        .env_remove("CARGO_MANIFEST_DIR");
    command
}

/// `cargo test --workspace`, offline: the lock file has every dependency.
const CARGO_TEST: [&str; 3] = ["test", "--workspace", "--offline"];

/// `lockscan run --format json --output REPORT -- cargo test --workspace --offline`.
fn lockscan_run(dir: &Path, report: &Path, limit: Duration) -> (Output, String) {
    lockscan_run_with(dir, report, limit, &[])
}

/// [`lockscan_run`] with more of `run`'s options (`options`) before the `--`.
fn lockscan_run_with(
    dir: &Path,
    report: &Path,
    limit: Duration,
    options: &[&str],
) -> (Output, String) {
    let mut command = in_workspace(dir, &bin_dir().join("lockscan"));
    command
        .args(["run", "--format", "json", "--output"])
        .arg(report)
        .args(options)
        .arg("--")
        // `cargo` as cargo itself runs it: the toolchain of this test run.
        .arg(env!("CARGO"))
        .args(CARGO_TEST);
    let output = output_within(&mut command, limit);
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    (output, text)
}

fn read_report(path: &Path) -> Value {
    let text = std::fs::read_to_string(path).expect("the report was written");
    serde_json::from_str(&text).expect("a JSON report")
}

/// The sites of every edge of `finding`.
fn edge_sites(finding: &Value) -> Vec<String> {
    finding["edges"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|edge| [&edge["from_site"], &edge["to_site"]])
        .filter_map(|site| site.as_str().map(str::to_owned))
        .collect()
}

/// The one finding of `report`: the inversion, with both crates' sites.
fn the_inversion(report: &Value, text: &str) -> Value {
    let findings = report["findings"].as_array().unwrap();
    assert_eq!(findings.len(), 1, "one finding:\n{report:#}\n{text}");
    let finding = findings[0].clone();
    assert_eq!(finding["kind"], "lock-order-inversion", "{finding:#}");
    let sites = edge_sites(&finding);
    for file in ["a/src/lib.rs", "b/src/lib.rs"] {
        assert!(
            sites.iter().any(|site| site.starts_with(file)),
            "a site in {file}: {sites:?}"
        );
    }
    finding
}

#[test]
fn run_gates_a_workspace_with_an_inversion_across_its_crates() {
    let dir_tmp = scratch("workspace-gate");
    let dir = dir_tmp.path();
    write_workspace(dir);
    let report = dir.join("report.json");

    // 1. The whole workspace under `lockscan run`: both test binaries record into the run's
    //    one folder, and the inversion across them fails the run.
    let (output, text) = lockscan_run(dir, &report, FIRST_BUILD);
    assert!(
        !text.contains("error[E"),
        "the workspace must compile:\n{text}"
    );
    assert_eq!(output.status.code(), Some(1), "{text}");
    let report_value = read_report(&report);
    let finding = the_inversion(&report_value, &text);
    assert!(
        report_value["summary"]["traces"].as_u64().unwrap() >= 2,
        "a trace of each crate's tests: {text}"
    );
    for member in ["a", "b"] {
        assert!(
            !dir.join(member).join("target").exists(),
            "no trace scattered into {member}/: {text}"
        );
    }

    // 2. Again: the second run analyzes its own traces only, and finds the same one finding.
    let (output, text) = lockscan_run(dir, &report, STEP);
    assert_eq!(output.status.code(), Some(1), "{text}");
    let again = the_inversion(&read_report(&report), &text);
    assert_eq!(again["fingerprint"], finding["fingerprint"]);
    // Both runs' folders together: still one finding, seen in the traces of both runs.
    let runs = dir.join("target").join("lockscan");
    let mut analyze = in_workspace(dir, &bin_dir().join("lockscan"));
    analyze.args(["analyze", "--format", "json"]).arg(&runs);
    let analyzed = output_within(&mut analyze, STEP);
    let both: Value = serde_json::from_slice(&analyzed.stdout).expect("a JSON report");
    let merged = the_inversion(&both, &String::from_utf8_lossy(&analyzed.stderr));
    assert_eq!(merged["occurrences"]["traces"], 4, "{merged:#}");
    assert_eq!(merged["occurrences"]["processes"], 4, "{merged:#}");

    // 3. A relative LOCKSCAN_TRACE under plain `cargo test`: every member's traces land in the
    //    workspace root's folder, not in the members'.
    let mut command = in_workspace(dir, Path::new(env!("CARGO")));
    command
        .args(CARGO_TEST)
        .env("LOCKSCAN_TRACE", "target/relative-traces/");
    let output = output_within(&mut command, STEP);
    let text = String::from_utf8_lossy(&output.stderr).into_owned();
    assert!(
        output.status.success(),
        "no single process has a cycle:\n{text}"
    );
    let relative: PathBuf = dir.join("target").join("relative-traces");
    let traces = std::fs::read_dir(&relative)
        .unwrap_or_else(|err| panic!("{}: {err}\n{text}", relative.display()))
        .count();
    assert!(
        traces >= 2,
        "a trace of each crate's tests in {}",
        relative.display()
    );
    for member in ["a", "b"] {
        assert!(
            !dir.join(member).join("target").exists(),
            "{member}: {text}"
        );
    }

    // 4. Accepted in a baseline, the finding stays accepted when lines are inserted above the
    //    locks and their acquisitions (the fingerprint is the lines' text, not their numbers),
    //    and the run passes.
    let (output, text) =
        lockscan_run_with(dir, &report, STEP, &["--write-baseline", "baseline.json"]);
    assert_eq!(output.status.code(), Some(0), "accepted: {text}");
    for (member, source) in [("a", A_LOCKS), ("b", B_LOCKS)] {
        let moved = source
            .replace("pub static", "// Moved down a line.\npub static")
            .replace("    let ", "    // Moved down again.\n    let ");
        assert_ne!(moved, source);
        std::fs::write(dir.join(member).join("src/lib.rs"), moved).unwrap();
    }
    let (output, text) = lockscan_run_with(dir, &report, STEP, &["--baseline", "baseline.json"]);
    assert_eq!(output.status.code(), Some(0), "still accepted: {text}");
    let accepted = read_report(&report);
    assert_eq!(
        accepted["findings"].as_array().map(Vec::len),
        Some(0),
        "known to the baseline: {accepted:#}\n{text}"
    );
    assert!(
        !text.contains("matched no finding"),
        "the baseline entry still matches: {text}"
    );
    // 5. Without any lock use, nothing is recorded: the gate checked nothing and says so with
    //    exit 2 instead of passing.
    std::fs::write(dir.join("a/src/lib.rs"), A_PLAIN).unwrap();
    std::fs::write(dir.join("b/src/lib.rs"), B_PLAIN).unwrap();
    std::fs::remove_file(&report).unwrap();
    let (output, text) = lockscan_run(dir, &report, STEP);
    assert_eq!(output.status.code(), Some(2), "{text}");
    assert!(text.contains("error: nothing was recorded"), "{text}");
    assert!(!report.exists(), "no report of nothing");
}
