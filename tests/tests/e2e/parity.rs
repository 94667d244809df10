//! API parity of the parking_lot stand-in with parking_lot 0.12.5: a probe that names every
//! public item (`tests/fixtures/parity-probe`) compiles and runs against both, and the two
//! declare the same features.

use std::path::Path;
use std::process::Command;

use crate::support::scratch;

fn workspace() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap()
}

fn probe_copy(test: &str, patched: bool) -> tempfile::TempDir {
    let from = workspace().join("tests/fixtures/parity-probe");
    let dir_tmp = scratch(test);
    let dir = dir_tmp.path();
    std::fs::create_dir_all(dir.join("src")).unwrap();
    std::fs::copy(from.join("src/lib.rs"), dir.join("src/lib.rs")).unwrap();
    let mut manifest = std::fs::read_to_string(from.join("Cargo.toml")).unwrap();
    if patched {
        let shim = workspace().join("shims/parking_lot-0.12");
        manifest.push_str(&format!(
            "\n[patch.crates-io]\nparking_lot = {{ path = {:?} }}\n",
            shim.display().to_string()
        ));
    }
    std::fs::write(dir.join("Cargo.toml"), manifest).unwrap();
    std::fs::copy(workspace().join("Cargo.lock"), dir.join("Cargo.lock")).unwrap();
    dir_tmp
}

/// Runs cargo in `dir`; the real crate's `deadlock_detection` needs crates this workspace does
/// not use, so this may download from the registry.
fn cargo(dir: &Path, args: &[&str]) -> (bool, String) {
    let output = Command::new(env!("CARGO"))
        .args(args)
        .current_dir(dir)
        .env(
            "CARGO_TARGET_DIR",
            workspace().join("target").join("parity-probe"),
        )
        .env_remove("LOCKSCAN_ON_FINDING")
        .env_remove("RUSTFLAGS")
        .output()
        .expect("run cargo in the probe");
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

#[test]
fn every_public_item_of_parking_lot_0_12_compiles_and_runs_against_the_stand_in() {
    let real = probe_copy("parity-real", false);
    let (ok, text) = cargo(real.path(), &["test", "--quiet"]);
    assert!(
        ok,
        "the probe must pass against the real parking_lot:\n{text}"
    );

    let patched = probe_copy("parity-patched", true);
    let (ok, text) = cargo(patched.path(), &["test", "--quiet"]);
    assert!(ok, "the probe must pass against the stand-in:\n{text}");

    assert_eq!(features(patched.path()), features(real.path()));
}
