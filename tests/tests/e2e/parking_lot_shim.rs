//! The parking_lot stand-in (`shims/parking_lot-0.12`), patched into a crate that uses
//! parking_lot 0.12 and has never heard of lockscan (`tests/fixtures/parking-lot-user`):
//! without the patch its tests pass; with it, the same unedited tests report the lock-order
//! inversion of its transfers.

use std::path::Path;
use std::process::{Command, Output};

use crate::support::scratch;

fn workspace() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap()
}

/// A copy of the fixture in a fresh folder, with the workspace's lock file (the versions this
/// workspace was tested with, and no network needed).
fn fixture_copy(test: &str) -> tempfile::TempDir {
    let from = workspace().join("tests/fixtures/parking-lot-user");
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

fn cargo(dir: &Path, args: &[&str]) -> (Output, String) {
    let output = Command::new(env!("CARGO"))
        .args(args)
        .arg("--offline")
        .current_dir(dir)
        // Kept between runs, so only the first run builds the dependencies.
        .env(
            "CARGO_TARGET_DIR",
            workspace().join("target").join("parking-lot-user"),
        )
        .env_remove("LOCKSCAN_ON_FINDING")
        .env_remove("RUSTFLAGS")
        .output()
        .expect("run cargo in the fixture");
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
