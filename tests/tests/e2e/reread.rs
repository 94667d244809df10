//! A read lock taken again with `read()` while the same thread's read guard is alive (it can
//! wait behind a queued writer, which waits for the first read): `cargo test` in a new crate
//! fails on it, and `lockscan run -- cargo test`, under which the policy only collects, reports
//! it too, from the trace, with both acquisition sites, and exits 1.

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use crate::support::{bin_dir, output_within, scratch};

const LIB: &str = "\
use lockscan::RwLock;

pub struct Shard {
    pub items: RwLock<Vec<u32>>,
}

impl Shard {
    pub fn len(&self) -> usize {
        self.items.read().len()
    }

    pub fn total(&self) -> usize {
        let items = self.items.read();
        items.iter().sum::<u32>() as usize + self.len()
    }
}

#[test]
fn total_reads_the_shard_twice() {
    let shard = Shard { items: RwLock::new(vec![1, 2]) };
    assert_eq!(shard.total(), 5);
}
";

/// Building a crate and lockscan's dependencies on a loaded machine takes minutes, not more.
const LIMIT: Duration = Duration::from_secs(900);

#[test]
fn lockscan_run_reports_a_read_taken_again_as_cargo_test_does() {
    let workspace = Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap();
    let dir_tmp = scratch("reread");
    let dir = dir_tmp.path();
    let detector = workspace.join("detector").display().to_string();
    std::fs::write(
        dir.join("Cargo.toml"),
        format!(
            "[package]\nname = \"reread\"\nversion = \"0.1.0\"\nedition = \"2024\"\n\n\
             [dependencies]\nlockscan = {{ path = {detector:?} }}\n\n[workspace]\n"
        ),
    )
    .unwrap();
    std::fs::create_dir(dir.join("src")).unwrap();
    std::fs::write(dir.join("src/lib.rs"), LIB).unwrap();
    // The workspace's lock file pins the versions it was tested with, and needs no network.
    std::fs::copy(workspace.join("Cargo.lock"), dir.join("Cargo.lock")).unwrap();
    let line_of = |needle: &str| 1 + LIB.lines().position(|l| l.contains(needle)).unwrap();
    let (first, again) = (line_of("let items"), line_of("self.items.read().len()"));

    let in_crate = |command: &mut Command| {
        command
            .current_dir(dir)
            // Shared with the README's fresh crate: lockscan's dependencies are built once.
            .env(
                "CARGO_TARGET_DIR",
                workspace.join("target").join("fresh-crate"),
            )
            // As a user's shell has it: `lockscan run` chooses the policy (`collect`).
            .env_remove("LOCKSCAN_ON_FINDING")
            .env_remove("LOCKSCAN_TRACE")
            .env_remove("LOCKSCAN_TRACE_FORMAT")
            .env_remove("RUSTFLAGS");
    };
    let text = |output: &std::process::Output| {
        format!(
            "{}{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        )
    };

    // Plain `cargo test`: the default policy panics in the test, at the second read.
    let mut cargo_test = Command::new(env!("CARGO"));
    cargo_test.args(["test", "--offline", "--quiet"]);
    in_crate(&mut cargo_test);
    let output = output_within(&mut cargo_test, LIMIT);
    let plain = text(&output);
    assert!(!output.status.success(), "cargo test must fail:\n{plain}");
    assert!(
        !plain.contains("error[E"),
        "the crate must compile:\n{plain}"
    );
    assert!(plain.contains("error[api-misuse]"), "{plain}");

    // Under `lockscan run`: nothing panics, the analysis of the traces reports it.
    let mut run = Command::new(bin_dir().join("lockscan"));
    run.args(["run", "--", env!("CARGO"), "test", "--offline", "--quiet"]);
    in_crate(&mut run);
    let output = output_within(&mut run, LIMIT);
    let report = text(&output);
    assert_eq!(output.status.code(), Some(1), "{report}");
    assert_eq!(
        report.matches("error[api-misuse]").count(),
        1,
        "reported once:\n{report}"
    );
    // Both sites: the report points at the second read and draws the first on the source.
    assert!(
        report.contains(&format!("--> src/lib.rs:{again}:")),
        "{report}"
    );
    for line in [first, again] {
        let source = LIB.lines().nth(line - 1).unwrap();
        assert!(
            report
                .lines()
                .any(|l| l.trim_start() == format!("{line} | {source}").trim_end()),
            "the site on line {line}:\n{report}"
        );
    }
    assert!(report.contains("read_recursive"), "{report}");
}
