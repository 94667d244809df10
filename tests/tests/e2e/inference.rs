//! Swapping lockscan in changes nothing else in the user's build: a crate whose code relies on
//! type inference that any new trait impl on a primitive type would make ambiguous
//! (`x == y as _`, `assert_eq!(v, vec![])`: `serde_json`'s `PartialEq<Value>` impls for the
//! integers did, E0283) still compiles when it depends on lockscan, and when lockscan comes in
//! through the parking_lot stand-in.

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use crate::support::{output_within, scratch};

/// Code that compiles with the standard library alone, and stops compiling when a dependency
/// adds `impl PartialEq<Its> for u32` (or for the other integers). One case a function: rustc
/// reports one ambiguity a function body.
const INFERENCE_SENSITIVE_TESTS: &str = r#"
#[cfg(test)]
mod inference {
    #[test]
    fn an_integer_compared_with_an_inferred_cast() {
        let n = 3;
        assert_eq!(n, 3u32 as _);
    }

    #[test]
    fn a_typed_integer_compared_with_an_inferred_cast() {
        let x: u64 = 7;
        let y: u8 = 7;
        assert!(x == y as _);
    }

    #[test]
    fn a_vec_compared_with_an_empty_literal() {
        let v: Vec<u32> = Vec::new();
        assert_eq!(v, vec![]);
    }
}
"#;

/// A crate that uses lockscan's locks, and one that uses parking_lot's (the stand-in, patched
/// in): both use the locks, so that lockscan is loaded when their tests are checked.
const DIRECT_LIB: &str = "\
pub fn counted() -> u32 {
    let m = lockscan::Mutex::new(1u32);
    let n = *m.lock();
    n
}
";
/// `lockscan_is_active` is the stand-in's alone: the crate compiles only with the patch in use.
const PATCHED_LIB: &str = "\
pub fn counted() -> u32 {
    let m = parking_lot::Mutex::new(1u32);
    let n = *m.lock();
    n
}

pub const THE_STAND_IN_IS_USED: () = { parking_lot::lockscan_is_active(); };
";

fn write(path: &Path, text: &str) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, text).unwrap();
}

fn manifest(name: &str, dependency: &str) -> String {
    format!(
        "[package]\nname = \"{name}\"\nversion = \"0.1.0\"\nedition = \"2024\"\npublish = false\n\n\
         [dependencies]\n{dependency}\n"
    )
}

#[test]
fn inference_sensitive_code_compiles_with_lockscan_and_through_the_stand_in() {
    let workspace = Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap();
    let path_of = |relative: &str| {
        workspace
            .join(relative)
            .display()
            .to_string()
            .replace('\\', "/")
    };
    let dir_tmp = scratch("inference");
    let dir = dir_tmp.path();
    write(
        &dir.join("Cargo.toml"),
        &format!(
            "[workspace]\nmembers = [\"direct\", \"patched\"]\nresolver = \"3\"\n\n\
             [patch.crates-io]\nparking_lot = {{ path = \"{}\" }}\n",
            path_of("shims/parking_lot-0.12")
        ),
    );
    write(
        &dir.join("direct/Cargo.toml"),
        &manifest(
            "direct",
            &format!("lockscan = {{ path = \"{}\" }}", path_of("detector")),
        ),
    );
    write(
        &dir.join("direct/src/lib.rs"),
        &format!("{DIRECT_LIB}{INFERENCE_SENSITIVE_TESTS}"),
    );
    write(
        &dir.join("patched/Cargo.toml"),
        &manifest("patched", "parking_lot = \"0.12\""),
    );
    write(
        &dir.join("patched/src/lib.rs"),
        &format!("{PATCHED_LIB}{INFERENCE_SENSITIVE_TESTS}"),
    );
    // The workspace's lock file pins the versions it was tested with, and needs no network.
    std::fs::copy(workspace.join("Cargo.lock"), dir.join("Cargo.lock")).unwrap();

    // Type checking is where inference fails: `cargo check` of the tests, no code generated.
    let mut command = Command::new(env!("CARGO"));
    command
        .args(["check", "--offline", "--workspace", "--tests", "--quiet"])
        .current_dir(dir)
        // Kept between runs, so only the first run checks lockscan's dependencies.
        .env(
            "CARGO_TARGET_DIR",
            workspace.join("target").join("fresh-crate"),
        )
        .env_remove("RUSTFLAGS");
    let output = output_within(&mut command, Duration::from_secs(20 * 60));
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(
        output.status.success(),
        "the crates must compile as they do without lockscan:\n{text}"
    );
}
