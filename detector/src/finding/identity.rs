//! The identities fingerprints are made of: lock and variable names with their source sites
//! replaced by what is written there, so that an edit elsewhere in the file changes nothing.
//!
//! An unnamed lock or variable is named after a source line: where it was made
//! (`src/bank.rs:10:49`), or, for a lock made from a `const`, where it was first taken
//! (`lock first taken at src/bank.rs:21:31`). A line number moves whenever a line is inserted
//! above. So in a name's identity each word that is a site of a Rust file (`path.rs:line:col`)
//! becomes `path.rs@HASH.ORDINAL.COLUMN`:
//!
//! - `HASH`: FNV-1a of the line's text with every whitespace character removed;
//! - `ORDINAL`: which of the file's lines with that same text it is (0 for the first), so that
//!   two identical lines (`let _g = self.lock.lock();` in two methods) stay apart;
//! - `COLUMN`: how many non-whitespace characters come before the site's column on the line,
//!   so that two locks made on one line stay apart and re-indenting changes nothing.
//!
//! Inserting, deleting or reformatting other lines keeps an identity; changing the line itself,
//! or inserting a copy of it above, changes it (the way SARIF's `partialFingerprints` and
//! GitHub code scanning's line hashes behave). Other words of a name are kept as they are, so a
//! name without a site (a lock given a name) is its own identity, and a name's ` #2` (the second
//! of a cycle's locks made on one line) stays part of it.
//!
//! The file is read where the site says, or, for a relative path, from the current folder and
//! the folders above it (a site's path is relative to the workspace's root, a test runs in its
//! package's folder): the place the text report reads snippets from. When it cannot be read
//! (the analysis runs somewhere the sources are not, or the line is gone), the word stays as
//! written and the identity depends on the line number, as every identity did before.
//!
//! Files are read once and kept, keyed by path and checked against their length and
//! modification time on every use, so a file that changes is read again. Nothing here runs per
//! lock operation: only when a finding's fingerprint is taken.

use std::borrow::Cow;
use std::collections::HashMap;
use std::path::{Path, PathBuf};

use std::sync::Arc;
use std::time::SystemTime;

use super::Fnv64;
use crate::raw::Mutex;

/// What the name of a lock made from a `const` begins with: the rest is the site where it was
/// first taken (past a wrapper, when the lock was taken through one). The runtime names such
/// locks, the offline merge reads the names: neither is built without detection or `analyze`.
#[cfg_attr(not(any(lockscan_active, feature = "analyze")), allow(dead_code))]
pub(crate) const FIRST_TAKEN: &str = "lock first taken at ";

/// The identity of a lock or variable name: the name with each site of a readable Rust file
/// replaced by its line's identity.
pub(crate) fn stable_name(name: &str) -> Cow<'_, str> {
    if !name.contains(".rs:") {
        return Cow::Borrowed(name);
    }
    let mut out = String::with_capacity(name.len() + 16);
    let mut changed = false;
    for (i, word) in name.split(' ').enumerate() {
        if i > 0 {
            out.push(' ');
        }
        match site_identity(word) {
            Some(identity) => {
                out.push_str(&identity);
                changed = true;
            }
            None => out.push_str(word),
        }
    }
    if changed {
        Cow::Owned(out)
    } else {
        Cow::Borrowed(name)
    }
}

/// `path.rs@HASH.ORDINAL.COLUMN` for a word that is the site of a line of a readable file.
fn site_identity(word: &str) -> Option<String> {
    let (file, line, column) = crate::site::split_site(word)?;
    if !file.ends_with(".rs") {
        return None;
    }
    let source = source(file)?;
    let key = source.key(line, column)?;
    Some(format!(
        "{}@{:016x}.{}.{}",
        portable_path(file),
        key.hash,
        key.ordinal,
        key.column
    ))
}

/// The part of a path that is the same on every machine: a crate from the registry is named
/// from its `name-version` folder on (the registry's folder is per user), a file below the
/// current folder relative to it.
fn portable_path(file: &str) -> Cow<'_, str> {
    let slashed = file.replace('\\', "/");
    if let Some(at) = slashed.find("/registry/src/") {
        let rest = &slashed[at + "/registry/src/".len()..];
        // `index.crates.io-<hash>/name-version/src/lib.rs` -> `name-version/src/lib.rs`
        if let Some((_, krate)) = rest.split_once('/') {
            return Cow::Owned(krate.to_owned());
        }
    }
    let path = Path::new(file);
    if path.is_absolute()
        && let Some(relative) = std::env::current_dir()
            .ok()
            .and_then(|here| path.strip_prefix(here).ok().map(Path::to_path_buf))
    {
        return Cow::Owned(relative.to_string_lossy().replace('\\', "/"));
    }
    if slashed == file {
        Cow::Borrowed(file)
    } else {
        Cow::Owned(slashed)
    }
}

/// What identifies one line of a file.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct LineKey {
    hash: u64,
    ordinal: u32,
    /// Non-whitespace characters before the site's column (0 without a column).
    column: u32,
}

/// A source file, line by line.
#[derive(Debug)]
struct SourceLines {
    /// Each line's text, its hash and its ordinal among the lines with the same hash.
    lines: Vec<(Box<str>, u64, u32)>,
}

impl SourceLines {
    fn new(text: &str) -> SourceLines {
        let mut seen: HashMap<u64, u32> = HashMap::new();
        let lines = text
            .lines()
            .map(|line| {
                let mut hash = Fnv64::new();
                let mut bytes = [0; 4];
                for c in line.chars().filter(|c| !c.is_whitespace()) {
                    hash.write(c.encode_utf8(&mut bytes));
                }
                let hash = hash.finish();
                let ordinal = seen.entry(hash).or_default();
                let this = *ordinal;
                *ordinal += 1;
                (Box::from(line), hash, this)
            })
            .collect();
        SourceLines { lines }
    }

    /// The key of `line` (from 1), at `column` (from 1, in characters) when given.
    fn key(&self, line: u32, column: Option<u32>) -> Option<LineKey> {
        let (text, hash, ordinal) = self.lines.get((line as usize).checked_sub(1)?)?;
        let before = column.map_or(0, |c| c.saturating_sub(1) as usize);
        let column = text
            .chars()
            .take(before)
            .filter(|c| !c.is_whitespace())
            .count();
        Some(LineKey {
            hash: *hash,
            ordinal: *ordinal,
            column: u32::try_from(column).unwrap_or(u32::MAX),
        })
    }
}

/// A file's length and modification time: when either changes, the file is read again.
type Stamp = (u64, Option<SystemTime>);

struct Cached {
    /// Where the file was found; `None` when it was not.
    found: Option<(PathBuf, Stamp, Arc<SourceLines>)>,
}

static SOURCES: Mutex<Option<HashMap<String, Cached>>> = Mutex::new(None);

fn stamp(path: &Path) -> Option<Stamp> {
    let meta = std::fs::metadata(path).ok()?;
    Some((meta.len(), meta.modified().ok()))
}

/// The lines of the file a site names, read once (again when it changed).
fn source(file: &str) -> Option<Arc<SourceLines>> {
    let mut sources = SOURCES.lock();
    let sources = sources.get_or_insert_with(HashMap::new);
    if let Some(cached) = sources.get(file) {
        match &cached.found {
            None => return None,
            Some((path, was, lines)) if stamp(path).as_ref() == Some(was) => {
                return Some(lines.clone());
            }
            Some(_) => {}
        }
    }
    let found = super::sources::locate(file).and_then(|path| {
        let was = stamp(&path)?;
        let text = std::fs::read_to_string(&path).ok()?;
        Some((path, was, Arc::new(SourceLines::new(&text))))
    });
    let lines = found.as_ref().map(|(_, _, lines)| lines.clone());
    sources.insert(file.to_owned(), Cached { found });
    lines
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_line_keeps_its_key_when_lines_are_inserted_around_it() {
        let before = SourceLines::new("fn a() {\n    let g = m.lock();\n}\n");
        let after = SourceLines::new("// new\n\nfn a() {\n        let g = m.lock();\n}\n// end\n");
        assert_eq!(before.key(2, Some(13)), after.key(4, Some(17)));
        let changed = SourceLines::new("fn a() {\n    let h = m.lock();\n}\n");
        assert_ne!(before.key(2, Some(13)), changed.key(2, Some(13)));
    }

    #[test]
    fn identical_lines_and_columns_stay_apart() {
        let lines = SourceLines::new("let g = m.lock();\nx();\nlet g = m.lock();\n");
        let (first, second) = (
            lines.key(1, Some(9)).unwrap(),
            lines.key(3, Some(9)).unwrap(),
        );
        assert_eq!(first.hash, second.hash);
        assert_ne!(first, second);
        assert_ne!(lines.key(1, Some(9)), lines.key(1, Some(1)));
        assert_eq!(lines.key(4, None), None, "no such line");
    }

    #[test]
    fn names_without_a_readable_site_are_their_own_identity() {
        assert_eq!(stable_name("accounts"), "accounts");
        assert_eq!(
            stable_name("no/such/file.rs:3:9 #2"),
            "no/such/file.rs:3:9 #2"
        );
        // This file is readable from the package's folder (the site's path is the root's).
        let site = format!("{}:{}:9", file!(), line!());
        let name = format!("{FIRST_TAKEN}{site} #2");
        let identity = stable_name(&name);
        assert!(identity.starts_with(FIRST_TAKEN), "{identity}");
        assert!(identity.ends_with(" #2"), "{identity}");
        assert!(!identity.contains(&site), "{identity}");
    }

    #[test]
    fn registry_paths_lose_the_users_folder() {
        assert_eq!(
            portable_path(
                "/home/u/.cargo/registry/src/index.crates.io-1949cf8c6b5b557f/tokio-1.0.0/src/lib.rs"
            ),
            "tokio-1.0.0/src/lib.rs"
        );
        assert_eq!(portable_path("src/lib.rs"), "src/lib.rs");
    }
}
