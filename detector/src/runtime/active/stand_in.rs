//! The parking_lot stand-in's blind spot, said once at run time: when the stand-in is patched
//! in (`[patch.crates-io]`) but the dependency tree also holds a parking_lot from a registry (a
//! 0.13 release when only the 0.12 stand-in is patched in, or any other), the crates that use
//! that one are not checked, and a run passes without a word. The workspace's `Cargo.lock`
//! says so: the stand-in is a `parking_lot` package without a `source` (a path), the others
//! have one.
//!
//! Checked once per process, at the first acquisition of a lock made from a `const` (the
//! stand-in's locks are), never on a later one. `cargo` sets `CARGO_MANIFEST_DIR` for the
//! processes it runs (`cargo test`, `cargo run`): the lock file is the first one in that folder
//! or above it. Nothing is said without it.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Once;

/// The environment variable cargo sets to the package's folder.
const MANIFEST_DIR_ENV: &str = "CARGO_MANIFEST_DIR";

/// Runs the check once per process; see the module docs.
#[cold]
pub(super) fn check_once() {
    static CHECKED: Once = Once::new();
    CHECKED.call_once(|| {
        if let Some(warning) = std::env::var_os(MANIFEST_DIR_ENV).and_then(|dir| warning(&dir)) {
            // Straight to the process's stderr: libtest captures what `eprintln!` writes in a
            // test, and a passing test's output is never shown.
            let _ = writeln!(std::io::stderr().lock(), "\n{warning}");
        }
    });
}

/// The warning for the lock file found from `manifest_dir`, if it calls for one.
fn warning(manifest_dir: impl AsRef<Path>) -> Option<String> {
    let path = find_lock_file(manifest_dir.as_ref())?;
    let text = std::fs::read_to_string(&path).ok()?;
    let packages = parking_lots(&text);
    let stand_in = packages.iter().any(|p| p.source.is_none());
    let others: Vec<&Package> = packages.iter().filter(|p| p.source.is_some()).collect();
    if !stand_in || others.is_empty() {
        return None;
    }
    let listed = others
        .iter()
        .map(|p| format!("parking_lot {} from {}", p.version, p.origin()))
        .collect::<Vec<_>>()
        .join(" and ");
    Some(format!(
        "lockscan: the parking_lot stand-in is patched in, but {} also has {listed}, which \
         lockscan does not instrument: the locks of the crates that use it are not checked \
         (`cargo tree -i parking_lot@{}` lists them)",
        path.display(),
        others[0].version
    ))
}

/// The first `Cargo.lock` in `dir` or a folder above it: the workspace's.
fn find_lock_file(dir: &Path) -> Option<PathBuf> {
    dir.ancestors()
        .map(|dir| dir.join("Cargo.lock"))
        .find(|path| path.is_file())
}

/// A `parking_lot` package of a lock file.
#[derive(Debug, PartialEq, Eq)]
struct Package {
    version: String,
    /// `None` for a path dependency, such as the patched-in stand-in.
    source: Option<String>,
}

impl Package {
    /// Where it comes from, for a reader: `crates.io`, else the source's kind and place.
    fn origin(&self) -> &str {
        match self.source.as_deref() {
            Some(source) if source.contains("crates.io-index") => "crates.io",
            Some(source) => source,
            None => "a path",
        }
    }
}

/// The `parking_lot` entries of the `[[package]]` tables of a `Cargo.lock`. A line-wise read of
/// the format cargo writes (one `key = "value"` a line), enough for these three keys; anything
/// it does not understand is skipped.
fn parking_lots(lock_file: &str) -> Vec<Package> {
    #[derive(Default)]
    struct Entry<'a> {
        name: Option<&'a str>,
        version: Option<&'a str>,
        source: Option<&'a str>,
    }
    fn finish(entry: Option<Entry<'_>>, found: &mut Vec<Package>) {
        if let Some(Entry {
            name: Some("parking_lot"),
            version: Some(version),
            source,
        }) = entry
        {
            found.push(Package {
                version: version.to_owned(),
                source: source.map(str::to_owned),
            });
        }
    }
    let mut found = Vec::new();
    let mut entry: Option<Entry<'_>> = None;
    for line in lock_file.lines().map(str::trim) {
        if line.starts_with('[') {
            finish(entry.take(), &mut found);
            if line == "[[package]]" {
                entry = Some(Entry::default());
            }
            continue;
        }
        let Some(entry) = entry.as_mut() else {
            continue;
        };
        let Some((key, value)) = line.split_once('=') else {
            continue;
        };
        let value = value.trim();
        let Some(value) = value.strip_prefix('"').and_then(|v| v.strip_suffix('"')) else {
            continue;
        };
        match key.trim() {
            "name" => entry.name = Some(value),
            "version" => entry.version = Some(value),
            "source" => entry.source = Some(value),
            _ => {}
        }
    }
    finish(entry, &mut found);
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    const CRATES_IO: &str = "registry+https://github.com/rust-lang/crates.io-index";

    /// A lock file with the stand-in (a path package) and, when given, a registry parking_lot.
    fn lock_file(registry_version: Option<&str>) -> String {
        let mut text = String::from(
            "# This file is automatically @generated by Cargo.\nversion = 4\n\n\
             [[package]]\nname = \"lock_api\"\nversion = \"0.4.14\"\n\
             source = \"registry+https://github.com/rust-lang/crates.io-index\"\n\
             dependencies = [\n \"scopeguard\",\n]\n\n\
             [[package]]\nname = \"parking_lot\"\nversion = \"0.12.5\"\n\
             dependencies = [\n \"lock_api 0.4.14\",\n \"lockscan\",\n]\n",
        );
        if let Some(version) = registry_version {
            text.push_str(&format!(
                "\n[[package]]\nname = \"parking_lot\"\nversion = \"{version}\"\n\
                 source = \"{CRATES_IO}\"\nchecksum = \"00\"\n"
            ));
        }
        text.push_str("\n[[patch.unused]]\nname = \"parking_lot\"\nversion = \"0.11.0\"\n");
        text
    }

    #[test]
    fn the_stand_in_and_registry_releases_are_told_apart() {
        assert_eq!(
            parking_lots(&lock_file(Some("0.13.0"))),
            [
                Package {
                    version: "0.12.5".into(),
                    source: None
                },
                Package {
                    version: "0.13.0".into(),
                    source: Some(CRATES_IO.into())
                },
            ]
        );
        // An unused patch is no package of the tree.
        assert_eq!(parking_lots(&lock_file(None)).len(), 1);
        assert_eq!(parking_lots("not a lock file [[package]] = ="), []);
    }

    /// Regression: a crate that used parking_lot 0.13 beside the patched-in 0.12 stand-in
    /// passed its tests without a word about the locks lockscan did not see.
    #[test]
    fn a_registry_parking_lot_beside_the_stand_in_is_said() {
        let root = tempfile::tempdir().unwrap();
        let member = root.path().join("member");
        std::fs::create_dir_all(&member).unwrap();
        std::fs::write(root.path().join("Cargo.lock"), lock_file(Some("0.13.0"))).unwrap();
        let text = warning(&member).expect("a warning");
        assert!(text.starts_with("lockscan: the parking_lot stand-in is patched in"));
        assert!(
            text.contains("also has parking_lot 0.13.0 from crates.io"),
            "{text}"
        );
        assert!(
            text.contains("`cargo tree -i parking_lot@0.13.0`"),
            "{text}"
        );
        assert!(!text.contains('\n'), "one line: {text}");

        std::fs::write(root.path().join("Cargo.lock"), lock_file(None)).unwrap();
        assert_eq!(warning(&member), None, "the stand-in alone");
        std::fs::remove_file(root.path().join("Cargo.lock")).unwrap();
        assert_eq!(warning(&member), None, "no lock file");
    }

    #[test]
    fn a_registry_parking_lot_without_the_stand_in_is_not_our_business() {
        let root = tempfile::tempdir().unwrap();
        let text = lock_file(Some("0.12.5")).replace(
            "name = \"parking_lot\"\nversion = \"0.12.5\"\ndependencies",
            "name = \"other\"\nversion = \"0.12.5\"\ndependencies",
        );
        std::fs::write(root.path().join("Cargo.lock"), text).unwrap();
        assert_eq!(warning(root.path()), None);
    }
}
