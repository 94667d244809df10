//! Identifiers of the things lockscan observes.
//!
//! Ids come from counters, never from addresses: a lock that is freed and whose memory is reused
//! by another lock gets a new id, so nothing learnt about the old lock sticks to the new one.

use std::fmt;

macro_rules! id_type {
    ($(#[$doc:meta])* $name:ident, $prefix:literal) => {
        $(#[$doc])*
        #[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
        pub struct $name(pub u64);

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, concat!($prefix, "{}"), self.0)
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                fmt::Debug::fmt(self, f)
            }
        }
    };
}

id_type!(
    /// A lock: unique within one process (or one trace), never reused.
    LockId,
    "lock#"
);
id_type!(
    /// A thread as lockscan numbers it: unique within one process (or one trace), never reused.
    ThreadId,
    "thread#"
);
id_type!(
    /// A condition variable.
    CondvarId,
    "condvar#"
);
id_type!(
    /// A tracked shared variable.
    VarId,
    "var#"
);

/// How a lock is held or requested.
///
/// ```
/// use lockscan::Mode;
///
/// assert!(Mode::Shared.conflicts_with(Mode::Exclusive));
/// assert!(!Mode::Shared.conflicts_with(Mode::Upgradable));
/// assert!(Mode::Upgradable.conflicts_with(Mode::Upgradable));
/// assert_eq!(Mode::Upgradable.as_str(), "upgradable");
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub enum Mode {
    /// Exclusive (a mutex, or the write side of a read-write lock).
    #[default]
    Exclusive,
    /// Shared (the read side of a read-write lock).
    Shared,
    /// Upgradable read: shared with readers, exclusive against writers and other upgradables.
    Upgradable,
}

impl Mode {
    /// The name used in traces and reports: `exclusive`, `shared` or `upgradable`.
    pub const fn as_str(self) -> &'static str {
        match self {
            Mode::Exclusive => "exclusive",
            Mode::Shared => "shared",
            Mode::Upgradable => "upgradable",
        }
    }

    /// Whether a holder in mode `self` makes a request in mode `other` wait.
    pub const fn conflicts_with(self, other: Mode) -> bool {
        !matches!(
            (self, other),
            (Mode::Shared, Mode::Shared)
                | (Mode::Shared, Mode::Upgradable)
                | (Mode::Upgradable, Mode::Shared)
        )
    }
}

/// How an acquisition was made, beyond its [`Mode`]: what a trace's replay needs to judge it
/// as the live detector did.
///
/// A successful `try_*` acquisition is a plain one with the trace's `try` flag; a timed one
/// (`*_for`, `*_until`) gives up too, so it is recorded with the `try` flag as well, and adds
/// no order edge into the lock.
///
/// ```
/// use lockscan::Flavour;
///
/// assert_eq!(Flavour::default(), Flavour::Plain);
/// assert_eq!(Flavour::Recursive.as_str(), "recursive");
/// assert_eq!(Flavour::parse("upgrade"), Some(Flavour::Upgrade));
/// assert_eq!(Flavour::parse("plain"), Some(Flavour::Plain));
/// assert_eq!(Flavour::parse("sideways"), None);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
pub enum Flavour {
    /// The method of its mode: `lock`, `read`, `write`, `upgradable_read` (or a `try_*`). A
    /// plain `read` while this thread holds the lock shared is misuse: it waits behind a
    /// queued writer, which waits for the first read.
    #[default]
    Plain,
    /// A recursive read (`read_recursive`): granted while this thread holds the lock shared,
    /// so taking it again is no misuse.
    Recursive,
    /// A timed acquisition (`try_lock_for`, `try_read_until`, ...): it gives up, so, like a
    /// try, no order edge goes into the lock.
    Timed,
    /// An upgrade of this thread's upgradable hold to exclusive: the hold changes mode, no new
    /// hold is taken; a blocking upgrade is an exclusive request (order edges from the other
    /// held locks).
    Upgrade,
    /// A downgrade of this thread's hold (to shared or upgradable): the hold changes mode.
    Downgrade,
}

impl Flavour {
    /// The name used in traces: `plain`, `recursive`, `timed`, `upgrade` or `downgrade`.
    pub const fn as_str(self) -> &'static str {
        match self {
            Flavour::Plain => "plain",
            Flavour::Recursive => "recursive",
            Flavour::Timed => "timed",
            Flavour::Upgrade => "upgrade",
            Flavour::Downgrade => "downgrade",
        }
    }

    /// The flavour named `name` ([`as_str`](Self::as_str)'s names).
    pub fn parse(name: &str) -> Option<Flavour> {
        [
            Flavour::Plain,
            Flavour::Recursive,
            Flavour::Timed,
            Flavour::Upgrade,
            Flavour::Downgrade,
        ]
        .into_iter()
        .find(|flavour| flavour.as_str() == name)
    }

    /// Whether the acquisition changes the mode of a hold this thread has rather than taking
    /// a new one.
    pub const fn changes_mode(self) -> bool {
        matches!(self, Flavour::Upgrade | Flavour::Downgrade)
    }
}

/// What kind of lock a lock is.
///
/// ```
/// assert_eq!(lockscan::LockKind::Reentrant.as_str(), "reentrant");
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum LockKind {
    /// A mutual-exclusion lock; re-locking it from the holding thread deadlocks.
    Mutex,
    /// A read-write lock.
    RwLock,
    /// A mutex the holding thread may lock again.
    Reentrant,
    /// A counting semaphore (traces only).
    Semaphore,
}

impl LockKind {
    /// The name used in traces: `mutex`, `rwlock`, `reentrant` or `semaphore`.
    pub const fn as_str(self) -> &'static str {
        match self {
            LockKind::Mutex => "mutex",
            LockKind::RwLock => "rwlock",
            LockKind::Reentrant => "reentrant",
            LockKind::Semaphore => "semaphore",
        }
    }
}
