//! The project's map of its code, docs/architecture.md, names every source file and no file
//! that is gone.

use std::path::{Path, PathBuf};

/// The repository's root.
fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("tests/ is in the repository")
        .to_path_buf()
}

/// The `.rs` files below `dir` (relative to the root), sorted.
fn sources(dir: &str) -> Vec<String> {
    let mut found = Vec::new();
    let mut pending = vec![root().join(dir)];
    while let Some(dir) = pending.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                pending.push(path);
            } else if path.extension().is_some_and(|e| e == "rs") {
                let relative = path.strip_prefix(root()).unwrap();
                found.push(relative.to_string_lossy().replace('\\', "/"));
            }
        }
    }
    found.sort();
    found
}

#[test]
fn the_architecture_map_names_every_source_file_and_no_missing_one() {
    let map = std::fs::read_to_string(root().join("docs/architecture.md")).unwrap();
    let dirs = [
        "detector/src",
        "cli/src",
        "demos/src",
        "shims/parking_lot-0.12/src",
        "shims/parking_lot-0.13/src",
        "tests/src",
    ];
    let files: Vec<String> = dirs.iter().flat_map(|d| sources(d)).collect();
    assert!(files.len() > 50, "the source files: {files:?}");
    let missing: Vec<&String> = files
        .iter()
        .filter(|f| !map.contains(&format!("`{f}`")))
        .collect();
    assert!(
        missing.is_empty(),
        "docs/architecture.md does not name {missing:?}"
    );
    // Every file the map names in its tables exists.
    let named: Vec<&str> = map
        .split('`')
        .skip(1)
        .step_by(2)
        .filter(|s| s.ends_with(".rs") && s.contains('/'))
        .collect();
    let gone: Vec<&&str> = named
        .iter()
        .filter(|f| !f.starts_with("../") && !root().join(f).is_file())
        .collect();
    assert!(
        gone.is_empty(),
        "docs/architecture.md names files that are gone: {gone:?}"
    );
}
