//! API parity of the parking_lot stand-ins with their releases: for 0.12.5 and for 0.13.0, a
//! probe that names every public item (`tests/fixtures/parity-probe`,
//! `tests/fixtures/parity-probe-0.13`) compiles and runs against the release and against the
//! stand-in (`shims/parking_lot-0.12`, `shims/parking_lot-0.13`), and the two declare the same
//! features.

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use crate::support::{output_within, scratch};

fn workspace() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap()
}

/// One parking_lot line: its probe and its stand-in.
struct Line {
    probe: &'static str,
    stand_in: &'static str,
}

const LINE_0_12: Line = Line {
    probe: "tests/fixtures/parity-probe",
    stand_in: "shims/parking_lot-0.12",
};

const LINE_0_13: Line = Line {
    probe: "tests/fixtures/parity-probe-0.13",
    stand_in: "shims/parking_lot-0.13",
};

/// A fresh copy of `line`'s probe, with its stand-in patched in if `patched`.
fn probe_copy(test: &str, line: &Line, patched: bool) -> tempfile::TempDir {
    let from = workspace().join(line.probe);
    let dir_tmp = scratch(test);
    let dir = dir_tmp.path();
    std::fs::create_dir_all(dir.join("src")).unwrap();
    std::fs::copy(from.join("src/lib.rs"), dir.join("src/lib.rs")).unwrap();
    let mut manifest = std::fs::read_to_string(from.join("Cargo.toml")).unwrap();
    if patched {
        let shim = workspace().join(line.stand_in);
        manifest.push_str(&format!(
            "\n[patch.crates-io]\nparking_lot = {{ path = {:?} }}\n",
            shim.display().to_string()
        ));
    }
    std::fs::write(dir.join("Cargo.toml"), manifest).unwrap();
    std::fs::copy(workspace().join("Cargo.lock"), dir.join("Cargo.lock")).unwrap();
    dir_tmp
}

/// Runs cargo in `dir`; the real crates' `deadlock_detection` (and parking_lot 0.13 as a whole)
/// needs crates this workspace does not use, so this may download from the registry. A cold
/// build of a probe and its dependencies takes minutes on a busy machine; the limit only keeps
/// a hung build from hanging the test run.
fn cargo(dir: &Path, args: &[&str]) -> (bool, String) {
    let output = output_within(
        Command::new(env!("CARGO"))
            .args(args)
            .current_dir(dir)
            .env(
                "CARGO_TARGET_DIR",
                workspace().join("target").join("parity-probe"),
            )
            .env_remove("LOCKSCAN_ON_FINDING")
            .env_remove("RUSTFLAGS"),
        Duration::from_secs(30 * 60),
    );
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    (output.status.success(), text)
}

/// The names of the features parking_lot declares, as `cargo metadata` resolves them in `dir`.
fn features(dir: &Path) -> Vec<String> {
    let (ok, text) = cargo(dir, &["metadata", "--format-version", "1", "--quiet"]);
    assert!(ok, "{text}");
    let json = text
        .lines()
        .find(|l| l.starts_with('{'))
        .expect("metadata JSON");
    let metadata: serde_json::Value = serde_json::from_str(json).unwrap();
    let package = metadata["packages"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["name"] == "parking_lot")
        .expect("parking_lot in the metadata");
    let mut names: Vec<String> = package["features"]
        .as_object()
        .unwrap()
        .keys()
        .cloned()
        .collect();
    names.sort();
    names
}

/// The probe of `line` passes against the release and against the stand-in, and both declare
/// the same features.
fn check_parity(test: &str, line: &Line) {
    let real = probe_copy(&format!("{test}-real"), line, false);
    let (ok, text) = cargo(real.path(), &["test", "--quiet"]);
    assert!(
        ok,
        "the probe must pass against the real parking_lot:\n{text}"
    );

    let patched = probe_copy(&format!("{test}-patched"), line, true);
    let (ok, text) = cargo(patched.path(), &["test", "--quiet"]);
    assert!(ok, "the probe must pass against the stand-in:\n{text}");

    assert_eq!(features(patched.path()), features(real.path()));
}

#[test]
fn every_public_item_of_parking_lot_0_12_compiles_and_runs_against_the_stand_in() {
    check_parity("parity", &LINE_0_12);
}

#[test]
fn every_public_item_of_parking_lot_0_13_compiles_and_runs_against_the_stand_in() {
    check_parity("parity-013", &LINE_0_13);
}
