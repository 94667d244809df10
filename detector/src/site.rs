//! Source locations of lock operations.

use std::fmt;
use std::panic::Location;
use std::sync::{Arc, OnceLock};

use crate::raw::Mutex;

/// Where something happened in the program: a `file:line:col` captured by `#[track_caller]` when
/// running live, or the text a trace recorded.
///
/// Cloning is cheap (a pointer copy or a reference-count increment).
///
/// ```
/// use lockscan::Site;
///
/// let here = Site::caller();
/// assert_eq!(here.file(), Some(file!()));
/// assert!(here.line().is_some() && here.column().is_some());
/// ```
#[derive(Clone, PartialEq, Eq, Hash)]
pub enum Site {
    /// A call site captured live.
    Caller(&'static Location<'static>),
    /// A site read from a trace, as written there. A thin pointer (not `Arc<str>`), so that a
    /// `Site` is two words and an `Option<Site>` too: every order edge keeps two of them.
    Text(Arc<Box<str>>),
}

impl Site {
    /// The site of the caller of the function that calls this (through `#[track_caller]`).
    #[track_caller]
    pub fn caller() -> Site {
        Site::Caller(Location::caller())
    }

    /// The file part of the site, if the site has the `file:line[:col]` shape.
    pub fn file(&self) -> Option<&str> {
        match self {
            Site::Caller(loc) => Some(loc.file()),
            Site::Text(text) => split_site(text).map(|(file, _, _)| file),
        }
    }

    /// The line number, if the site has one.
    pub fn line(&self) -> Option<u32> {
        match self {
            Site::Caller(loc) => Some(loc.line()),
            Site::Text(text) => split_site(text).map(|(_, line, _)| line),
        }
    }

    /// The column, if the site has one.
    pub fn column(&self) -> Option<u32> {
        match self {
            Site::Caller(loc) => Some(loc.column()),
            Site::Text(text) => split_site(text).and_then(|(_, _, col)| col),
        }
    }
}

/// Splits `file:line` or `file:line:col`; `None` for anything else (an STD trace's bare number).
pub(crate) fn split_site(text: &str) -> Option<(&str, u32, Option<u32>)> {
    let (rest, last) = text.rsplit_once(':')?;
    let last: u32 = last.parse().ok()?;
    match rest.rsplit_once(':') {
        Some((file, line)) if !file.is_empty() => match line.parse() {
            Ok(line) => Some((file, line, Some(last))),
            Err(_) => Some((rest, last, None)),
        },
        _ if !rest.is_empty() => Some((rest, last, None)),
        _ => None,
    }
}

impl fmt::Display for Site {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Site::Caller(loc) => write!(f, "{}:{}:{}", loc.file(), loc.line(), loc.column()),
            Site::Text(text) => f.write_str(text),
        }
    }
}

impl fmt::Debug for Site {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{self}")
    }
}

impl From<&'static Location<'static>> for Site {
    fn from(loc: &'static Location<'static>) -> Self {
        Site::Caller(loc)
    }
}

impl From<&str> for Site {
    fn from(text: &str) -> Self {
        Site::Text(Arc::new(text.into()))
    }
}

/// A stack captured when an order edge was first seen. Capturing only walks the frames;
/// symbols are resolved the first time the text is needed, which is rare (a finding uses the
/// edge), because resolving costs far more than capturing.
pub struct Stack {
    frames: Mutex<Option<backtrace::Backtrace>>,
    text: OnceLock<String>,
}

impl Stack {
    /// Captures the current thread's stack, unresolved.
    pub fn capture() -> Stack {
        Stack {
            frames: Mutex::new(Some(backtrace::Backtrace::new_unresolved())),
            text: OnceLock::new(),
        }
    }

    /// A stack known only as text (read from a trace).
    pub fn from_text(text: String) -> Stack {
        Stack {
            frames: Mutex::new(None),
            text: OnceLock::from(text),
        }
    }

    /// The stack as text, resolving symbols the first time: one line per frame of the
    /// program's own code, from the acquisition outwards, without lockscan's frames above it
    /// or the thread-start frames of the standard library below.
    pub fn text(&self) -> &str {
        self.text.get_or_init(|| match self.frames.lock().take() {
            Some(mut frames) => {
                frames.resolve();
                user_frames(&frames)
            }
            None => String::new(),
        })
    }
}

/// The frames of `backtrace` that belong to the program, one per line: `name at file:line`.
fn user_frames(backtrace: &backtrace::Backtrace) -> String {
    /// Frames above the acquisition: the capture, lockscan's runtime, closures of `core`.
    fn internal(name: &str) -> bool {
        let name = name.trim_start_matches('<');
        ["lockscan::", "core::", "backtrace::", "std::", "alloc::"]
            .iter()
            .any(|prefix| name.starts_with(prefix))
    }
    let mut lines = Vec::new();
    let mut in_user_code = false;
    for frame in backtrace.frames() {
        for symbol in frame.symbols() {
            let name = symbol
                .name()
                .map_or_else(|| "<unknown>".to_owned(), |n| format!("{n:#}"));
            // The standard library marks where a thread's (or `main`'s) own frames end.
            if name.contains("__rust_begin_short_backtrace") {
                return lines.join("\n");
            }
            if !in_user_code && internal(&name) {
                continue;
            }
            in_user_code = true;
            let line = match (symbol.filename(), symbol.lineno()) {
                (Some(file), Some(line)) => format!("{name} at {}:{line}", file.display()),
                _ => name,
            };
            lines.push(line);
        }
    }
    lines.join("\n")
}

impl fmt::Debug for Stack {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad("Stack { .. }")
    }
}

impl PartialEq for Stack {
    fn eq(&self, other: &Stack) -> bool {
        std::ptr::eq(self, other) || self.text() == other.text()
    }
}

impl Eq for Stack {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_site_is_two_words() {
        assert_eq!(
            std::mem::size_of::<Option<Site>>(),
            2 * std::mem::size_of::<usize>()
        );
    }

    #[test]
    fn text_sites_split_into_parts() {
        let site = Site::from("demos/src/bank.rs:58:21");
        assert_eq!(site.file(), Some("demos/src/bank.rs"));
        assert_eq!(site.line(), Some(58));
        assert_eq!(site.column(), Some(21));
        let site = Site::from("src/x.rs:7");
        assert_eq!(
            (site.file(), site.line(), site.column()),
            (Some("src/x.rs"), Some(7), None)
        );
        // An STD trace's location is a bare number: no file to show a snippet from.
        assert_eq!(Site::from("17").file(), None);
    }

    #[test]
    fn caller_sites_point_at_the_caller() {
        let site = Site::caller();
        assert_eq!(site.file(), Some(file!()));
        assert_eq!(site.line(), Some(line!() - 2));
    }
}
