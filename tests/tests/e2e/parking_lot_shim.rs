//! The parking_lot stand-ins, patched into crates that have never heard of lockscan:
//! `shims/parking_lot-0.12` into one that uses parking_lot 0.12
//! (`tests/fixtures/parking-lot-user`), and both `shims/parking_lot-0.12` and
//! `shims/parking_lot-0.13` into one whose tree holds both lines
//! (`tests/fixtures/parking-lot-lines`). Without the patches their tests pass; with them, the
//! same unedited tests report the lock-order inversions of their transfers, through each
//! stand-in and between them.

use std::path::Path;
use std::process::{Command, Output};
use std::time::Duration;

use crate::support::{output_within, scratch};

fn workspace() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap()
}

/// A copy of the fixture in a fresh folder, with the workspace's lock file (the versions this
/// workspace was tested with, and no network needed).
fn fixture_copy(test: &str) -> tempfile::TempDir {
    copy_of("tests/fixtures/parking-lot-user", test)
}

/// A copy of the fixture `from` (relative to the workspace) in a fresh folder, with the
/// workspace's lock file. What the lock file lacks (parking_lot 0.13 and its dependencies) is
/// resolved offline, from the registry's local cache.
fn copy_of(fixture: &str, test: &str) -> tempfile::TempDir {
    let from = workspace().join(fixture);
    let dir_tmp = scratch(test);
    let dir = dir_tmp.path();
    std::fs::create_dir_all(dir.join("src")).unwrap();
    for file in ["Cargo.toml", "src/lib.rs"] {
        std::fs::copy(from.join(file), dir.join(file)).unwrap();
    }
    std::fs::copy(workspace().join("Cargo.lock"), dir.join("Cargo.lock")).unwrap();
    dir_tmp
}

fn patch_in_the_stand_in(dir: &Path) {
    let shim = workspace().join("shims/parking_lot-0.12");
    let mut manifest = std::fs::read_to_string(dir.join("Cargo.toml")).unwrap();
    manifest.push_str(&format!(
        "\n[patch.crates-io]\nparking_lot = {{ path = {:?} }}\n",
        shim.display().to_string()
    ));
    std::fs::write(dir.join("Cargo.toml"), manifest).unwrap();
}

/// The README's recipe for a tree that holds both lines: two patches of the one crate name, the
/// second entry renamed (`package = "parking_lot"`), as cargo's documentation does for patching
/// two semver-incompatible versions of one crate.
fn patch_in_both_stand_ins(dir: &Path) {
    let path_of = |shim: &str| workspace().join(shim).display().to_string();
    let mut manifest = std::fs::read_to_string(dir.join("Cargo.toml")).unwrap();
    manifest.push_str(&format!(
        "\n[patch.crates-io]\nparking_lot = {{ path = {:?} }}\n\
         parking_lot_013 = {{ path = {:?}, package = \"parking_lot\" }}\n",
        path_of("shims/parking_lot-0.12"),
        path_of("shims/parking_lot-0.13"),
    ));
    std::fs::write(dir.join("Cargo.toml"), manifest).unwrap();
}

fn cargo(dir: &Path, args: &[&str]) -> (Output, String) {
    let output = output_within(
        Command::new(env!("CARGO"))
            .args(args)
            .arg("--offline")
            .current_dir(dir)
            // Kept between runs, so only the first run builds the dependencies.
            .env(
                "CARGO_TARGET_DIR",
                workspace().join("target").join("parking-lot-user"),
            )
            .env_remove("LOCKSCAN_ON_FINDING")
            .env_remove("RUSTFLAGS"),
        // A cold build of lockscan and a fixture takes minutes on a busy machine; the limit
        // only keeps a hung build from hanging the test run.
        Duration::from_secs(30 * 60),
    );
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    (output, text)
}

#[test]
fn the_fixture_passes_with_the_real_parking_lot() {
    let dir_tmp = fixture_copy("parking-lot-real");
    let dir = dir_tmp.path();
    let (output, text) = cargo(dir, &["test", "--quiet"]);
    assert!(output.status.success(), "{text}");
    assert!(!text.contains("lockscan"), "{text}");
}

#[test]
fn the_stand_in_patched_into_an_unedited_crate_reports_its_inversion() {
    let dir_tmp = fixture_copy("parking-lot-patched");
    let dir = dir_tmp.path();
    patch_in_the_stand_in(dir);

    // How a user checks that the patch is in use: `cargo tree` shows the stand-in's path.
    let (output, tree) = cargo(dir, &["tree", "-i", "parking_lot", "-e", "normal"]);
    assert!(output.status.success(), "{tree}");
    assert!(tree.contains("shims/parking_lot-0.12"), "{tree}");
    // The README's check.
    let (output, tree) = cargo(dir, &["tree", "-i", "parking_lot@0.12.5", "--all-features"]);
    assert!(output.status.success(), "{tree}");
    assert!(tree.contains("shims/parking_lot-0.12"), "{tree}");

    let (output, text) = cargo(dir, &["test", "--quiet"]);
    assert!(
        !output.status.success(),
        "the inversion must fail the test:\n{text}"
    );
    assert!(
        text.contains("error[lock-order-inversion]: lock-order inversion between"),
        "{text}"
    );
    // The sites are the fixture's own lines, passed through lock_api's `#[track_caller]`.
    let source = std::fs::read_to_string(dir.join("src/lib.rs")).unwrap();
    let line_of = |needle: &str| 1 + source.lines().position(|l| l.contains(needle)).unwrap();
    for needle in ["let mut source", "let mut target"] {
        let line = line_of(needle);
        assert!(
            text.contains(&format!("src/lib.rs:{line}:")),
            "line {line}:\n{text}"
        );
    }
    // And so is the panic's location, which libtest shows: the acquisition that closes the
    // cycle (the second transfer's `target`), not a line of lockscan.
    let closing = line_of("let mut target");
    assert!(
        text.contains(&format!("panicked at src/lib.rs:{closing}:")),
        "{text}"
    );
    // Made from a `const`, the accounts' locks are named after the lines that first took them,
    // in words that do not read as the acquisition the report shows beside them.
    for needle in ["let mut source", "let mut target"] {
        let line = line_of(needle);
        assert!(
            text.contains(&format!("`lock first taken at src/lib.rs:{line}:")),
            "named after line {line}:\n{text}"
        );
    }
    // The other test, which takes the locks in one order and uses the condvar, still passes.
    assert!(text.contains("transfers_both_ways"), "{text}");
    assert!(
        !text.contains("totals_and_handshakes_work' panicked"),
        "{text}"
    );
}

/// The README's check that the patch is used, on a crate whose parking_lot is optional:
/// `cargo tree -i` sees it only with the feature; `cargo pkgid` whatever the features, but
/// only once the lock file was resolved with the patch.
#[test]
fn the_readme_check_of_the_patch_works_for_an_optional_parking_lot() {
    let dir_tmp = scratch("parking-lot-optional");
    let dir = dir_tmp.path();
    std::fs::create_dir_all(dir.join("src")).unwrap();
    std::fs::write(
        dir.join("Cargo.toml"),
        "[package]\nname = \"optional-user\"\nversion = \"0.1.0\"\nedition = \"2021\"\n\n\
         [dependencies]\nparking_lot = { version = \"0.12\", optional = true }\n\n\
         [features]\nlocks = [\"dep:parking_lot\"]\n\n[workspace]\n",
    )
    .unwrap();
    std::fs::write(dir.join("src/lib.rs"), "").unwrap();
    std::fs::copy(workspace().join("Cargo.lock"), dir.join("Cargo.lock")).unwrap();
    patch_in_the_stand_in(dir);

    let (output, tree) = cargo(dir, &["tree", "-i", "parking_lot@0.12.5"]);
    assert!(!output.status.success(), "the feature is off:\n{tree}");
    assert!(tree.contains("did not match any packages"), "{tree}");
    let (output, tree) = cargo(dir, &["tree", "-i", "parking_lot@0.12.5", "--all-features"]);
    assert!(output.status.success(), "{tree}");
    let first = tree.lines().next().unwrap_or_default();
    assert!(
        first.starts_with("parking_lot v0.12.5 (") && first.contains("shims/parking_lot-0.12"),
        "{tree}"
    );
    // The lock file is resolved with the patch now: the id names the stand-in.
    let (output, id) = cargo(dir, &["pkgid", "parking_lot@0.12.5"]);
    assert!(output.status.success(), "{id}");
    assert!(
        id.starts_with("path+file://") && id.contains("shims/parking_lot-0.12#"),
        "{id}"
    );
}

/// The fixture that holds both lines passes its tests with the real crates.
#[test]
fn the_two_line_fixture_passes_with_the_real_parking_lots() {
    let dir_tmp = copy_of("tests/fixtures/parking-lot-lines", "parking-lot-lines-real");
    let dir = dir_tmp.path();
    let (output, text) = cargo(dir, &["test", "--quiet"]);
    assert!(output.status.success(), "{text}");
    assert!(!text.contains("lockscan"), "{text}");
}

/// Both stand-ins patched into a tree that holds both lines: each is the one in use, each
/// reports the inversion of the transfers made through it, and one lockscan sees both, so the
/// transfers between an account of each line report theirs too.
#[test]
fn both_stand_ins_patched_into_a_tree_with_both_lines_report_a_cycle_through_each() {
    let dir_tmp = copy_of(
        "tests/fixtures/parking-lot-lines",
        "parking-lot-lines-patched",
    );
    let dir = dir_tmp.path();
    patch_in_both_stand_ins(dir);

    for (spec, shim) in [
        ("parking_lot@0.12.5", "shims/parking_lot-0.12"),
        ("parking_lot@0.13.0", "shims/parking_lot-0.13"),
    ] {
        let (output, tree) = cargo(dir, &["tree", "-i", spec, "--all-features"]);
        assert!(output.status.success(), "{tree}");
        let first = tree.lines().next().unwrap_or_default();
        assert!(first.contains(shim), "{spec} is the stand-in:\n{tree}");
    }

    let (output, text) = cargo(dir, &["test", "--quiet"]);
    assert!(
        !output.status.success(),
        "the inversions must fail the tests:\n{text}"
    );
    // Each failing test's output, as libtest prints it: `---- NAME stdout ----` then its text.
    let section = |test: &str| -> &str {
        let header = format!("---- tests::{test} stdout ----");
        let start = text
            .find(&header)
            .unwrap_or_else(|| panic!("{test} must fail:\n{text}"));
        let rest = &text[start + header.len()..];
        &rest[..rest.find("\n---- ").unwrap_or(rest.len())]
    };
    // The sites are the fixture's own lines: the first `impl Account` is 0.12's, the second
    // 0.13's, each passed through its lock_api's `#[track_caller]`.
    let source = std::fs::read_to_string(dir.join("src/lib.rs")).unwrap();
    let lines_of = |needle: &str| -> Vec<usize> {
        let lines = source.lines().enumerate();
        let found: Vec<usize> = lines
            .filter(|(_, l)| l.contains(needle))
            .map(|(i, _)| i + 1)
            .collect();
        assert_eq!(found.len(), 2, "one `{needle}` in each impl");
        found
    };
    let (sources, targets) = (lines_of("let mut source"), lines_of("let mut target"));
    let at = |line: usize| format!("src/lib.rs:{line}:");
    for (test, line) in [
        ("transfers_both_ways_on_0_12", 0),
        ("transfers_both_ways_on_0_13", 1),
    ] {
        let report = section(test);
        assert!(
            report.contains("error[lock-order-inversion]: lock-order inversion between"),
            "{test}:\n{report}"
        );
        assert!(report.contains(&at(sources[line])), "{test}:\n{report}");
        assert!(report.contains(&at(targets[line])), "{test}:\n{report}");
        // The acquisition that closes the cycle is the second transfer's `target`.
        assert!(
            report.contains(&format!("panicked at {}", at(targets[line]))),
            "{test}:\n{report}"
        );
    }
    // Between the lines: a lock of each in one cycle, with sites in both impls.
    let report = section("transfers_both_ways_between_the_lines");
    assert!(
        report.contains("error[lock-order-inversion]: lock-order inversion between"),
        "{report}"
    );
    for line in [sources[0], targets[1]] {
        assert!(report.contains(&at(line)), "line {line}:\n{report}");
    }
    // The other test, the condvar handshake and the recursive reads of 0.13, passes; with both
    // lines patched, no registry parking_lot is left for the stand-ins to warn about.
    assert!(
        !text.contains("---- tests::handshakes_work_on_0_13 stdout"),
        "{text}"
    );
    assert!(text.contains("1 passed; 3 failed"), "{text}");
    assert!(!text.contains("also has parking_lot"), "{text}");
}
