//! The names of locks made from a `const` (a raw lock's `INIT`: every lock of the parking_lot
//! stand-in, every [`LockHooks`](crate::instrument::LockHooks)): nobody knows where such a lock
//! was made, so it is named after where it was first taken, `lock first taken at
//! src/lib.rs:7:13`. The words say what the site is: a report that reads "acquired `lock first
//! taken at src/lib.rs:7:13` at src/lib.rs:9:5" does not take the name for the acquisition.
//!
//! The site of a first acquisition is the caller's line, passed through `#[track_caller]`. A
//! crate that wraps its locks in a method of its own without `#[track_caller]`
//! (`fn lock(&self) -> Guard { self.0.lock() }`) gives every lock the wrapper's line, and
//! distinct locks share one name: within a process they stay apart (detection is per lock, and
//! a finding numbers them ` #1`, ` #2`), but across traces the offline analysis could only
//! match them by that name (it does not: see `analysis::replay::merge`). So while a recording
//! runs (or `LOCKSCAN_BACKTRACE` asks for stacks), a site that first takes a second distinct
//! lock is examined: the stack of each first acquisition there is captured (with the
//! `backtrace` crate, once per lock, never on an acquisition of a lock that has its name), and
//! the frame outside the function holding the site is found (frames of the standard library
//! skipped: a closure run by an iterator is outside in the function that iterates). When a
//! lock's outer frame differs from the first lock's, the function is called from several places
//! to take several locks: a wrapper. From then on each lock first taken there is named after
//! its own outer frame, `lock first taken at src/shard.rs:40:17`. Locks taken in a loop of one
//! function (`for shard in &shards { shard.lock() }`) have one outer frame: their site is no
//! wrapper and names them all.
//!
//! Not in every run: finding the outer frame reads the program's debug information, which
//! costs about a second and a hundred megabytes once per process for a large test binary, and
//! a plain `cargo test` through the stand-in would pay it in every test binary for names only.
//! A recording pays it because the traces' names are what `lockscan analyze` matches.
//!
//! The first lock at a wrapper's site, and those taken there before a second caller showed it
//! to be one, keep the wrapper's line: they were named (and recorded) before anyone knew. The
//! offline analysis does not match such locks across traces. Without debug information (a site
//! not found in the stack), every lock keeps its site.

use std::panic::Location;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use rustc_hash::FxHashMap;

use super::names::intern_thin;
use crate::finding::identity::FIRST_TAKEN;
use crate::raw::Mutex;
use crate::runtime::recorder;

/// How many frames a first acquisition's stack keeps at most: lockscan's own, lock_api's and a
/// raw lock's frames come first, then the site's function, the standard library's frames of a
/// closure an iterator runs, and the caller.
const FRAMES: usize = 32;

/// How many frames past the first lock's outer frame a later lock's stack keeps: another
/// caller's path through the wrapper is about as deep.
const SLACK: usize = 8;

/// How many locks first taken at a site that is not known to be a wrapper's have their callers
/// checked before the checks thin out (see [`Sites::frames_wanted`]).
const CHECKED: u64 = 16;

/// The name of the lock at address `lock`, first taken at `site`.
pub(super) fn name(site: &'static Location<'static>, lock: usize) -> &'static &'static str {
    name_with(site, lock, recorder::on() || stacks_asked())
}

/// Whether `LOCKSCAN_BACKTRACE` asks for stacks (read once).
fn stacks_asked() -> bool {
    static ASKED: OnceLock<bool> = OnceLock::new();
    *ASKED.get_or_init(|| {
        std::env::var("LOCKSCAN_BACKTRACE").is_ok_and(|v| !v.is_empty() && v != "0")
    })
}

/// [`name`], looking for wrappers when `wrappers` says so.
fn name_with(
    site: &'static Location<'static>,
    lock: usize,
    wrappers: bool,
) -> &'static &'static str {
    let key = std::ptr::from_ref(site).addr();
    // The stack is captured without the table's lock held: unwinding takes microseconds.
    let (site_name, wanted) = SITES
        .lock()
        .get_or_insert_with(Sites::default)
        .frames_wanted(site, key, lock, wrappers);
    if wanted == 0 {
        return site_name;
    }
    let mut frames = [0_usize; FRAMES];
    let depth = capture(&mut frames[..wanted]);
    let outer =
        SITES
            .lock()
            .get_or_insert_with(Sites::default)
            .outer(site, key, lock, &frames[..depth]);
    match outer {
        Some(outer) => intern_thin(format!("{FIRST_TAKEN}{outer}")),
        None => site_name,
    }
}

/// The return addresses of the current stack, innermost first; returns how many it wrote.
fn capture(frames: &mut [usize]) -> usize {
    let mut depth = 0;
    backtrace::trace(|frame| {
        frames[depth] = frame.ip().addr();
        depth += 1;
        depth < frames.len()
    });
    depth
}

static SITES: Mutex<Option<Sites>> = Mutex::new(None);

/// Every site that first took a lock made from a `const`, and the symbols resolved so far.
#[derive(Default)]
struct Sites {
    sites: FxHashMap<usize, SiteUse>,
    symbols: FxHashMap<usize, Vec<Symbol>>,
}

/// What one site has seen.
struct SiteUse {
    /// `lock first taken at <the site>`.
    name: &'static &'static str,
    /// The first lock whose stack was captured here, what the others are compared with.
    first: Option<FirstLock>,
    /// Whether a later lock's outer frame differed from the first's: the site is a wrapper's.
    wrapper: bool,
    /// How many locks were first taken here since the first.
    locks: u64,
}

/// The first lock whose stack a site kept.
struct FirstLock {
    /// Its address then.
    lock: usize,
    frames: Vec<usize>,
    /// Its outer frame, once needed: `Some(None)` when the stack does not show it.
    outer: Option<Option<Outer>>,
}

/// The frame outside the function that holds a site.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Outer {
    /// Its index in the stack.
    depth: usize,
    /// `file:line:col`, the file as the compiler named the site's.
    site: String,
}

/// One symbol of a frame (an inlined function is one more symbol of its frame).
#[derive(Clone, Debug)]
struct Symbol {
    name: String,
    file: Option<PathBuf>,
    line: Option<u32>,
    column: Option<u32>,
}

impl Sites {
    /// The name of the site `key`, and how many frames of the stack of a lock first taken
    /// there are needed (0: none, the site names it).
    ///
    /// A site that is not known to be a wrapper's checks the callers of its first
    /// [`CHECKED`] locks, then of every lock whose number is a power of two: unwinding costs
    /// about a microsecond a frame, and a loop that takes a million locks on one line would
    /// pay it for each. A wrapper is still found when a later caller differs, at the next
    /// check; the locks before it keep the site's name.
    fn frames_wanted(
        &mut self,
        site: &'static Location<'static>,
        key: usize,
        lock: usize,
        wrappers: bool,
    ) -> (&'static &'static str, usize) {
        let used = self.sites.entry(key).or_insert_with(|| SiteUse {
            name: intern_thin(format!(
                "{FIRST_TAKEN}{}:{}:{}",
                site.file(),
                site.line(),
                site.column()
            )),
            first: None,
            wrapper: false,
            locks: 0,
        });
        if !wrappers {
            return (used.name, 0);
        }
        let Some(first) = &used.first else {
            return (used.name, FRAMES);
        };
        if first.lock == lock {
            return (used.name, 0);
        }
        used.locks += 1;
        let checked = used.wrapper || used.locks <= CHECKED || used.locks.is_power_of_two();
        let wanted = match &first.outer {
            _ if !checked => 0,
            Some(None) => 0,
            Some(Some(outer)) => (outer.depth + 1 + SLACK).min(FRAMES),
            None => FRAMES,
        };
        (used.name, wanted)
    }

    /// The outer frame a lock first taken at `site` (`key`) with the stack `frames` is named
    /// after, or `None` when the site names it.
    fn outer(
        &mut self,
        site: &'static Location<'static>,
        key: usize,
        lock: usize,
        frames: &[usize],
    ) -> Option<String> {
        let used = self.sites.get_mut(&key)?;
        let Some(first) = &mut used.first else {
            used.first = Some(FirstLock {
                lock,
                frames: frames.to_vec(),
                outer: None,
            });
            return None;
        };
        // The first lock again: two threads raced to take it first.
        if first.lock == lock {
            return None;
        }
        let first_outer = match &first.outer {
            Some(outer) => outer.clone(),
            None => {
                let outer = outer_frame(&mut self.symbols, &first.frames, site);
                first.outer = Some(outer.clone());
                outer
            }
        };
        // No debug information: every lock keeps the site.
        let first_outer = first_outer?;
        if !used.wrapper {
            // The same return addresses down to the first lock's outer frame: the same caller,
            // without resolving anything.
            let through = first_outer.depth + 1;
            let same_path = frames.len() >= through
                && first.frames.len() >= through
                && frames[..through] == first.frames[..through];
            if same_path {
                return None;
            }
        }
        let outer = outer_frame(&mut self.symbols, frames, site)?;
        if !used.wrapper {
            if outer.site == first_outer.site {
                return None;
            }
            used.wrapper = true;
        }
        Some(outer.site)
    }
}

/// The frame outside the function that holds `site`, skipping the standard library's frames.
fn outer_frame(
    symbols: &mut FxHashMap<usize, Vec<Symbol>>,
    frames: &[usize],
    site: &'static Location<'static>,
) -> Option<Outer> {
    let site_file = Path::new(site.file());
    // What the debug information puts before the compiler's relative paths.
    let mut root: Option<PathBuf> = None;
    let mut past_site = false;
    for (depth, &ip) in frames.iter().enumerate() {
        let frame = symbols.entry(ip).or_insert_with(|| resolve(ip));
        for symbol in frame.iter() {
            let Some(file) = &symbol.file else { continue };
            if !past_site {
                if symbol.line == Some(site.line()) && file.ends_with(site_file) {
                    past_site = true;
                    root = file
                        .to_str()
                        .and_then(|f| f.strip_suffix(site.file()))
                        .filter(|root| !root.is_empty())
                        .map(PathBuf::from);
                }
                continue;
            }
            // The standard library's frames, and the C library's below `main`: no caller.
            if standard_library(symbol, file) || file.extension().is_none_or(|ext| ext != "rs") {
                continue;
            }
            let line = symbol.line?;
            let file = root
                .as_ref()
                .and_then(|root| file.strip_prefix(root).ok())
                .unwrap_or(file);
            let mut text = format!("{}:{line}", file.display());
            if let Some(column) = symbol.column.filter(|&c| c > 0) {
                text.push_str(&format!(":{column}"));
            }
            return Some(Outer { depth, site: text });
        }
    }
    None
}

/// Whether a frame is the standard library's (an iterator adapter, a closure's `call_once`).
fn standard_library(symbol: &Symbol, file: &Path) -> bool {
    let name = symbol.name.trim_start_matches('<');
    ["core::", "std::", "alloc::"]
        .iter()
        .any(|prefix| name.starts_with(prefix))
        || file.starts_with("/rustc/")
}

/// The symbols of the frame that returns to `ip`, innermost first.
fn resolve(ip: usize) -> Vec<Symbol> {
    let mut symbols = Vec::new();
    // The return address is the instruction after the call: look the call itself up.
    let call = ip.saturating_sub(1) as *mut std::ffi::c_void;
    backtrace::resolve(call, |symbol| {
        symbols.push(Symbol {
            name: symbol
                .name()
                .map_or_else(String::new, |name| format!("{name:#}")),
            file: symbol.filename().map(Path::to_path_buf),
            line: symbol.lineno(),
            column: symbol.colno(),
        });
    });
    symbols
}

#[cfg(test)]
mod tests {
    use super::*;

    /// First takes each lock of `locks` in a loop on one line.
    #[inline(never)]
    fn take_each(locks: std::ops::Range<usize>) -> Vec<&'static str> {
        locks
            .map(|lock| *name_with(Location::caller(), lock, true))
            .collect()
    }

    /// A wrapper without `#[track_caller]`: every lock's site is this line.
    #[inline(never)]
    fn wrapper(lock: usize) -> &'static str {
        name_with(Location::caller(), lock, true)
    }

    /// The wrapper, in a run that does not look for wrappers (no recording, no stacks asked).
    #[inline(never)]
    fn wrapper_unexamined(lock: usize) -> &'static str {
        name_with(Location::caller(), lock, false)
    }

    #[test]
    fn without_a_recording_a_wrappers_locks_keep_its_line() {
        let first = wrapper_unexamined(0x300);
        let second = wrapper_unexamined(0x400);
        assert_eq!(first, second);
        assert!(
            first.starts_with(&format!("{FIRST_TAKEN}{}:", file!())),
            "{first}"
        );
    }

    #[test]
    fn a_site_names_the_locks_of_one_caller() {
        let names = take_each(0x2000..0x2005);
        let here = format!("{FIRST_TAKEN}{}:", file!());
        assert!(names[0].starts_with(&here), "{names:?}");
        assert!(names.iter().all(|n| *n == names[0]), "{names:?}");
        // The first lock again (two threads racing to take it first): the same name.
        assert_eq!(take_each(0x2000..0x2001), names[..1]);
    }

    #[test]
    fn a_wrapper_names_its_locks_after_their_callers() {
        let first = wrapper(0x10);
        let second = wrapper(0x20);
        let second_line = line!() - 1;
        let third = wrapper(0x30);
        let third_line = line!() - 1;
        assert!(first.starts_with(FIRST_TAKEN), "{first}");
        let own = format!("{}:{}:", file!(), second_line);
        assert!(second.contains(&own), "named after its caller: {second}");
        assert!(
            third.contains(&format!("{}:{}:", file!(), third_line)),
            "{third}"
        );
        assert_ne!(second, third);
    }
}
