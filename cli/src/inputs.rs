//! What to read: trace files, directories of them (searched recursively), or standard input.

use std::path::{Path, PathBuf};

use anyhow::{Context, bail};

/// The extensions a directory's trace files have.
pub(crate) const TRACE_EXTENSIONS: [&str; 5] = ["std", "json", "jsonl", "ndjson", "lstrace"];

/// One input: a file, or standard input.
pub(crate) enum Input {
    Stdin,
    File(PathBuf),
}

impl Input {
    pub(crate) fn name(&self) -> String {
        match self {
            Input::Stdin => "<stdin>".to_owned(),
            Input::File(path) => path.display().to_string(),
        }
    }
}

/// Expands the command line's paths: files as they are, directories into their trace files
/// (sorted, so reports are reproducible), `-` into standard input.
pub(crate) fn collect_inputs(paths: &[PathBuf]) -> anyhow::Result<Vec<Input>> {
    let mut inputs = Vec::new();
    let mut stdin_seen = false;
    for path in paths {
        if path == Path::new("-") {
            if stdin_seen {
                bail!("`-` (standard input) can be given only once");
            }
            stdin_seen = true;
            inputs.push(Input::Stdin);
        } else if path.is_dir() {
            let mut found = Vec::new();
            walk(path, &mut found)?;
            if found.is_empty() {
                bail!(
                    "{}: no trace files (*.{}) in this directory",
                    path.display(),
                    TRACE_EXTENSIONS.join(", *.")
                );
            }
            found.sort();
            inputs.extend(found.into_iter().map(Input::File));
        } else {
            // A path that names nothing is a mistake on the command line: said at once, in one
            // line, rather than as an unreadable trace in a report of the others.
            if let Err(err) = std::fs::metadata(path) {
                bail!("cannot open {}: {err}", path.display());
            }
            inputs.push(Input::File(path.clone()));
        }
    }
    Ok(inputs)
}

pub(crate) fn walk(dir: &Path, found: &mut Vec<PathBuf>) -> anyhow::Result<()> {
    let entries =
        std::fs::read_dir(dir).with_context(|| format!("cannot read {}", dir.display()))?;
    for entry in entries {
        let entry = entry.with_context(|| format!("cannot read {}", dir.display()))?;
        let path = entry.path();
        // `file_type` does not follow symbolic links: a linked directory is not entered, so a
        // link loop cannot make the walk endless; a linked file counts like a file.
        let file_type = entry
            .file_type()
            .with_context(|| format!("cannot read {}", path.display()))?;
        if file_type.is_dir() {
            walk(&path, found)?;
        } else if path.is_file()
            && path
                .extension()
                .and_then(|e| e.to_str())
                .is_some_and(|e| TRACE_EXTENSIONS.contains(&e))
        {
            found.push(path);
        }
    }
    Ok(())
}
