//! [`Tracked`]: a shared value whose accesses are checked for data races.

use std::borrow::Cow;
use std::fmt;
use std::panic::Location;

use crate::engine::race::VarState;
use crate::runtime::report;
use crate::runtime::{VarMeta, intern};

/// A value shared between threads whose every read and write is checked for a data race: two
/// accesses from different threads, at least one a write, that the program does not order by
/// a lockscan lock, a `lockscan::thread` spawn or join, or a condition variable.
///
/// Each access is atomic (an internal lock keeps the value memory-safe), but that internal
/// lock deliberately orders nothing: `get` then `set` from two threads is the classic lost
/// update, and lockscan reports it even in a run where no update was lost.
///
/// ```
/// use lockscan::{Mutex, Tracked};
///
/// let balance = Tracked::named("doc:balance", 100_i64);
/// let lock = Mutex::new(());
/// lockscan::thread::scope(|s| {
///     s.spawn(|| {
///         let _guard = lock.lock(); // the program's own synchronization: no race
///         balance.update(|b| *b += 1);
///     });
/// });
/// let _guard = lock.lock();
/// assert_eq!(balance.get(), 101);
/// ```
pub struct Tracked<T> {
    meta: VarMeta,
    slot: crate::raw::Mutex<Slot<T>>,
}

struct Slot<T> {
    value: T,
    state: VarState,
}

impl<T> Tracked<T> {
    /// A tracked value. Reports name it by the caller's location.
    ///
    /// ```
    /// let flag = lockscan::Tracked::new(false);
    /// flag.set(true);
    /// assert!(flag.get());
    /// ```
    #[track_caller]
    pub const fn new(value: T) -> Tracked<T> {
        Tracked {
            meta: VarMeta::new(Location::caller(), None),
            slot: crate::raw::Mutex::new(Slot {
                value,
                state: VarState::new(),
            }),
        }
    }

    /// A tracked value with a name that reports use, such as `"balance:ACC001"`.
    ///
    /// Two threads that read and write it with nothing ordering them race, whichever way
    /// this run's schedule went:
    ///
    /// ```
    /// use lockscan::{FindingKind, Policy, Tracked};
    ///
    /// lockscan::set_policy(Policy::Collect); // the default, `Panic`, fails right there
    /// let hits = Tracked::named("doc:hits", 0);
    /// lockscan::thread::scope(|s| {
    ///     s.spawn(|| hits.set(hits.get() + 1));
    ///     s.spawn(|| hits.set(hits.get() + 1));
    /// });
    /// assert!(hits.get() >= 1); // 2, or 1 when an update was lost
    /// # if lockscan::is_active() {
    /// let race = lockscan::findings().into_iter().find(|f| f.kind == FindingKind::DataRace);
    /// assert!(race.unwrap().vars.iter().any(|access| access.var == "doc:hits"));
    /// # }
    /// ```
    #[track_caller]
    pub fn named(name: impl Into<Cow<'static, str>>, value: T) -> Tracked<T> {
        Tracked {
            meta: VarMeta::new(Location::caller(), Some(intern(name.into()))),
            slot: crate::raw::Mutex::new(Slot {
                value,
                state: VarState::new(),
            }),
        }
    }

    /// Reads the value (a read access).
    #[track_caller]
    pub fn get(&self) -> T
    where
        T: Clone,
    {
        let site = Location::caller();
        let (value, races) = {
            let mut slot = self.slot.lock();
            let Slot { value, state } = &mut *slot;
            let races = self.meta.access(state, false, site);
            (value.clone(), races)
        };
        for race in races {
            report(race);
        }
        value
    }

    /// Replaces the value (a write access).
    #[track_caller]
    pub fn set(&self, value: T) {
        self.update(|slot| *slot = value);
    }

    /// Changes the value in place with `f` (one write access; `f` runs atomically, but
    /// concurrent calls from unordered threads are still a race).
    #[track_caller]
    pub fn update<R>(&self, f: impl FnOnce(&mut T) -> R) -> R {
        let site = Location::caller();
        let (result, races) = {
            let mut slot = self.slot.lock();
            let Slot { value, state } = &mut *slot;
            let races = self.meta.access(state, true, site);
            (f(value), races)
        };
        for race in races {
            report(race);
        }
        result
    }

    /// The value, through exclusive access: no other thread can race with it.
    ///
    /// ```
    /// let mut total = lockscan::Tracked::new(1);
    /// *total.get_mut() += 1;
    /// assert_eq!(total.into_inner(), 2);
    /// ```
    pub fn get_mut(&mut self) -> &mut T {
        &mut self.slot.get_mut().value
    }

    /// Consumes the tracked value and returns the value.
    pub fn into_inner(self) -> T {
        self.slot.into_inner().value
    }
}

impl<T: Default> Default for Tracked<T> {
    #[track_caller]
    fn default() -> Self {
        Tracked::new(T::default())
    }
}

impl<T: fmt::Debug> fmt::Debug for Tracked<T> {
    /// Shows the value without recording an access.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.slot.try_lock() {
            Some(slot) => f.debug_tuple("Tracked").field(&slot.value).finish(),
            None => f.pad("Tracked(<in use>)"),
        }
    }
}
