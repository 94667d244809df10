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
