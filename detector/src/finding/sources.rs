//! Where a finding's report gets the text of the source files its sites name, as rustc's
//! emitter takes a source map: the caller hands a [`SourceProvider`] to
//! [`Finding::display_with`](crate::Finding::display_with). [`FileSystemSources`] reads them
//! from disk, looking in the folders above for a path relative to the workspace's root; it is
//! what `Display` and `lockscan analyze`'s text report use.

use std::path::{Path, PathBuf};

/// The text of source files, by the path a site gives (as the compiler named the file).
///
/// ```
/// use lockscan::finding::SourceProvider;
/// use lockscan::{Finding, FindingKind, Site};
///
/// /// Sources held in memory: a report drawn where the files are not.
/// struct InMemory;
/// impl SourceProvider for InMemory {
///     fn source(&self, path: &str) -> Option<String> {
///         (path == "src/bank.rs").then(|| "fn transfer() {\n    let a = from.lock();\n}\n".into())
///     }
/// }
///
/// let mut finding = Finding::new(FindingKind::ApiMisuse, "re-locked");
/// finding.site = Some(Site::from("src/bank.rs:2:13"));
/// let report = finding.display_with(&InMemory).to_string();
/// assert!(report.contains("let a = from.lock();"));
/// ```
pub trait SourceProvider {
    /// The text of the file `path` names, or `None` when there is none to show.
    fn source(&self, path: &str) -> Option<String>;
}

/// Source files read from disk: `path` itself, or for a relative path not found from the
/// current folder, the first of the (up to eight) folders above it that has it, since a site's
/// path is relative to where the compiler ran (the workspace's root) while a test runs in its
/// package's folder below it.
#[derive(Clone, Copy, Debug, Default)]
pub struct FileSystemSources;

impl SourceProvider for FileSystemSources {
    fn source(&self, path: &str) -> Option<String> {
        read_source(path)
    }
}

/// No sources: every site is said as a location, not drawn.
#[derive(Clone, Copy, Debug, Default)]
pub struct NoSources;

impl SourceProvider for NoSources {
    fn source(&self, _path: &str) -> Option<String> {
        None
    }
}

/// Where [`FileSystemSources`] looks for `path`, in order.
fn candidates(path: &str) -> impl Iterator<Item = PathBuf> + '_ {
    let relative = Path::new(path);
    let above = (!relative.is_absolute())
        .then(|| std::env::current_dir().ok())
        .flatten()
        .into_iter()
        .flat_map(move |here| {
            here.ancestors()
                .skip(1)
                .take(8)
                .map(|dir| dir.join(relative))
                .collect::<Vec<_>>()
        });
    std::iter::once(relative.to_path_buf()).chain(above)
}

/// The text of the source file `path` names.
fn read_source(path: &str) -> Option<String> {
    candidates(path).find_map(|candidate| std::fs::read_to_string(candidate).ok())
}

/// Where the file `path` names is (the fingerprints read it themselves, to keep it).
pub(crate) fn locate(path: &str) -> Option<PathBuf> {
    candidates(path).find(|candidate| candidate.is_file())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Regression: a live report in a workspace's test showed no source, because the test runs
    /// in its package's folder and the site's path is relative to the workspace's root.
    #[test]
    fn a_path_relative_to_the_workspace_root_is_found_from_a_package_folder() {
        // `cargo test` runs this in `detector/`; the compiler named the file from the root.
        let text = read_source(file!()).expect("found from a folder above");
        assert!(text.contains("fn read_source"));
        assert_eq!(read_source("no/such/file.rs"), None);
        assert_eq!(read_source("/no/such/file.rs"), None);
    }
}
