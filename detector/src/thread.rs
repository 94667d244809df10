//! Threads that lockscan knows the order of on every platform: `std::thread`'s `spawn`,
//! `Builder` and `scope`, recording that everything before a spawn happens before the new
//! thread, and everything a thread did happens before the join that waits for it.
//!
//! Race detection and the classification of lock-order cycles (an inversion when spawns and
//! joins order its edges) need these edges. On Linux with glibc lockscan sees `std::thread`'s
//! own spawns and joins too (it stands in front of `pthread_create` and `pthread_join`), except
//! the wait at the end of `std::thread::scope`, which this module's [`scope`] has. Elsewhere,
//! lockscan sees every lockscan lock and condition variable with plain `std::thread`s, but not
//! their spawns and joins: a value written before a `std` spawn and read in the new thread is
//! reported as a race, with a reason that says so.
//!
//! ```
//! use lockscan::Tracked;
//!
//! let total = std::sync::Arc::new(Tracked::named("doc:total", 0));
//! total.set(1);
//! let worker = {
//!     let total = total.clone();
//!     lockscan::thread::spawn(move || total.update(|t| *t += 1)) // after the set: ordered
//! };
//! worker.join().unwrap();
//! assert_eq!(total.get(), 2); // after the join: ordered
//! ```

use std::io;
use std::marker::PhantomData;
use std::panic::Location;
use std::sync::Arc;

use crate::raw::Mutex;

use crate::ids::ThreadId;
use crate::runtime::{self, Fork, ThreadClocks};

/// Where a finished thread leaves its clock for the thread that joins it.
type Handoff = Arc<Mutex<Option<ThreadClocks>>>;

/// The threads of a scope, joined when it ends.
type Children = Arc<Mutex<Vec<(ThreadId, Handoff)>>>;

/// Wraps the thread's closure: adopts the parent's clock first, hands its own over last (also
/// when it panics).
fn instrument<F, T>(fork: Fork, handoff: Handoff, f: F) -> impl FnOnce() -> T
where
    F: FnOnce() -> T,
{
    move || {
        runtime::adopt(fork);
        struct HandOver(Handoff);
        impl Drop for HandOver {
            fn drop(&mut self) {
                *self.0.lock() = Some(runtime::final_clock());
            }
        }
        let _hand_over = HandOver(handoff);
        f()
    }
}

/// Spawns a thread, like [`std::thread::spawn`].
///
/// ```
/// let handle = lockscan::thread::spawn(|| 6 * 7);
/// assert_eq!(handle.join().unwrap(), 42);
/// ```
///
/// # Panics
///
/// When the operating system cannot create a thread.
#[track_caller]
pub fn spawn<F, T>(f: F) -> JoinHandle<T>
where
    F: FnOnce() -> T + Send + 'static,
    T: Send + 'static,
{
    Builder::new().spawn(f).expect("failed to spawn thread")
}

/// Thread configuration, like [`std::thread::Builder`].
///
/// ```
/// use lockscan::thread::Builder;
///
/// let worker = Builder::new()
///     .name("doc-worker".to_owned())
///     .stack_size(256 * 1024)
///     .spawn(|| std::thread::current().name().map(str::to_owned))?;
/// assert!(!worker.thread().name().unwrap().is_empty());
/// assert_eq!(worker.join().unwrap().as_deref(), Some("doc-worker"));
/// # Ok::<(), std::io::Error>(())
/// ```
#[derive(Debug)]
pub struct Builder {
    inner: std::thread::Builder,
}

impl Default for Builder {
    fn default() -> Self {
        Builder::new()
    }
}

impl Builder {
    /// A builder with the defaults.
    pub fn new() -> Builder {
        Builder {
            inner: std::thread::Builder::new(),
        }
    }

    /// Names the thread; reports use the name.
    pub fn name(self, name: String) -> Builder {
        Builder {
            inner: self.inner.name(name),
        }
    }

    /// Sets the stack size.
    pub fn stack_size(self, size: usize) -> Builder {
        Builder {
            inner: self.inner.stack_size(size),
        }
    }

    /// Spawns the thread.
    ///
    /// # Errors
    ///
    /// When the operating system cannot create a thread.
    #[track_caller]
    pub fn spawn<F, T>(self, f: F) -> io::Result<JoinHandle<T>>
    where
        F: FnOnce() -> T + Send + 'static,
        T: Send + 'static,
    {
        let fork = runtime::fork(Location::caller());
        let child = runtime::child_id(&fork);
        let handoff = Handoff::default();
        // Ordered here: lockscan's `pthread_create`, where there is one, leaves it alone.
        let inner =
            runtime::untracked_spawn(|| self.inner.spawn(instrument(fork, handoff.clone(), f)))?;
        Ok(JoinHandle {
            inner,
            child,
            handoff,
        })
    }

    /// Spawns a thread in `scope`.
    ///
    /// # Errors
    ///
    /// When the operating system cannot create a thread.
    #[track_caller]
    pub fn spawn_scoped<'scope, 'env, F, T>(
        self,
        scope: &Scope<'scope, 'env>,
        f: F,
    ) -> io::Result<ScopedJoinHandle<'scope, T>>
    where
        F: FnOnce() -> T + Send + 'scope,
        T: Send + 'scope,
    {
        let fork = runtime::fork(Location::caller());
        let child = runtime::child_id(&fork);
        let handoff = Handoff::default();
        scope.children.lock().push((child, handoff.clone()));
        let inner = runtime::untracked_spawn(|| {
            self.inner
                .spawn_scoped(scope.inner, instrument(fork, handoff.clone(), f))
        })?;
        Ok(ScopedJoinHandle {
            inner,
            child,
            handoff,
        })
    }
}

/// The methods both join handles have, over std's handle `inner`: `join` (its docs written at
/// the call site), which records that the thread's `child` id and clock (`handoff`) happen
/// before what follows, `thread` and `is_finished`.
macro_rules! handle_methods {
    ($(#[$join:meta])* fn join;) => {
        $(#[$join])*
        #[track_caller]
        pub fn join(self) -> std::thread::Result<T> {
            let result = self.inner.join();
            runtime::joined(self.child, self.handoff.lock().as_ref(), Location::caller());
            result
        }

        /// The thread.
        pub fn thread(&self) -> &std::thread::Thread {
            self.inner.thread()
        }

        /// Whether the thread has finished.
        pub fn is_finished(&self) -> bool {
            self.inner.is_finished()
        }
    };
}

/// A handle to join a thread, like [`std::thread::JoinHandle`].
#[derive(Debug)]
pub struct JoinHandle<T> {
    inner: std::thread::JoinHandle<T>,
    child: ThreadId,
    handoff: Handoff,
}

impl<T> JoinHandle<T> {
    handle_methods! {
        /// Waits for the thread; what it did happens before what follows.
        ///
        /// # Errors
        ///
        /// The thread's panic payload, when it panicked.
        fn join;
    }
}

/// Runs `f` with a scope for spawning threads that may borrow from the caller, like
/// [`std::thread::scope`]; every thread is joined before it returns, and what they did happens
/// before what follows.
///
/// ```
/// use lockscan::Tracked;
///
/// let parts = [Tracked::new(0), Tracked::new(0)];
/// lockscan::thread::scope(|s| {
///     for (i, part) in parts.iter().enumerate() {
///         s.spawn(move || part.set(i + 1));
///     }
/// });
/// // Each thread's write happens before these reads: no race reported.
/// assert_eq!(parts[0].get() + parts[1].get(), 3);
/// assert!(lockscan::findings().is_empty());
/// ```
///
/// One difference from `std`: the scope reference handed to `f` cannot be moved into the
/// spawned threads, so those threads cannot spawn into the same scope.
#[track_caller]
pub fn scope<'env, F, T>(f: F) -> T
where
    F: for<'scope> FnOnce(&Scope<'scope, 'env>) -> T,
{
    let site = Location::caller();
    let children: Children = Arc::default();
    let result = std::thread::scope(|inner| {
        f(&Scope {
            inner,
            children: children.clone(),
            env: PhantomData,
        })
    });
    for (child, handoff) in children.lock().drain(..) {
        runtime::joined(child, handoff.lock().as_ref(), site);
    }
    result
}

/// A scope to spawn threads in, made by [`scope`].
#[derive(Debug)]
pub struct Scope<'scope, 'env: 'scope> {
    inner: &'scope std::thread::Scope<'scope, 'env>,
    children: Children,
    env: PhantomData<&'env mut &'env ()>,
}

impl<'scope> Scope<'scope, '_> {
    /// Spawns a thread that may borrow from outside the scope.
    ///
    /// # Panics
    ///
    /// When the operating system cannot create a thread.
    #[track_caller]
    pub fn spawn<F, T>(&self, f: F) -> ScopedJoinHandle<'scope, T>
    where
        F: FnOnce() -> T + Send + 'scope,
        T: Send + 'scope,
    {
        Builder::new()
            .spawn_scoped(self, f)
            .expect("failed to spawn thread")
    }
}

/// A handle to join a scoped thread.
#[derive(Debug)]
pub struct ScopedJoinHandle<'scope, T> {
    inner: std::thread::ScopedJoinHandle<'scope, T>,
    child: ThreadId,
    handoff: Handoff,
}

impl<T> ScopedJoinHandle<'_, T> {
    handle_methods! {
        /// Waits for the thread.
        ///
        /// # Errors
        ///
        /// The thread's panic payload, when it panicked.
        fn join;
    }
}
