//! Making tasks visible: [`spawn`], and [`Instrument`] for any future. A wrapped future keeps
//! lockscan's state of its task (see `runtime::task`) and swaps it in around each poll.

use std::borrow::Cow;
use std::fmt;
use std::future::Future;
use std::mem::ManuallyDrop;
use std::panic::Location;
use std::pin::Pin;
use std::task::{Context, Poll};

/// A future whose polls lockscan sees as one task's: see [`Instrument`].
#[must_use = "futures do nothing unless polled"]
pub struct Instrumented<F> {
    /// Dropped in place by `Drop`, with the task's state swapped in.
    future: ManuallyDrop<F>,
    #[cfg(lockscan_active)]
    task: crate::runtime::task::TaskState,
}

impl<F> fmt::Debug for Instrumented<F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut d = f.debug_struct("Instrumented");
        #[cfg(lockscan_active)]
        d.field("task", &self.task);
        d.finish_non_exhaustive()
    }
}

impl<F: Future> Future for Instrumented<F> {
    type Output = F::Output;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
        // SAFETY: `future` is pinned structurally (never moved out, no `Unpin` impl of our own,
        // and `Drop` drops it in place); the task state is not pinned and only borrowed.
        let this = unsafe { self.get_unchecked_mut() };
        // SAFETY: see above.
        let future = unsafe { Pin::new_unchecked(&mut *this.future) };
        #[cfg(lockscan_active)]
        return this.task.poll(|| future.poll(cx));
        #[cfg(not(lockscan_active))]
        future.poll(cx)
    }
}

impl<F> Drop for Instrumented<F> {
    fn drop(&mut self) {
        #[cfg(lockscan_active)]
        {
            let future = &mut self.future;
            // SAFETY: dropped once, here, in place (it may be pinned), and never used again.
            self.task.dropping(|| unsafe { ManuallyDrop::drop(future) });
        }
        // SAFETY: as above.
        #[cfg(not(lockscan_active))]
        unsafe {
            ManuallyDrop::drop(&mut self.future)
        };
    }
}

impl<F> Instrumented<F> {
    /// `future` as a task named `name`, made at `site` (its spawn in a trace).
    #[cfg_attr(not(lockscan_active), allow(unused_variables))]
    fn new(
        future: F,
        name: impl FnOnce() -> Cow<'static, str>,
        site: &'static Location<'static>,
    ) -> Self {
        Instrumented {
            future: ManuallyDrop::new(future),
            #[cfg(lockscan_active)]
            task: crate::runtime::task::TaskState::new(crate::runtime::intern(name()), site),
        }
    }
}

/// The name of a task made at `site`.
fn spawned_at(site: &'static Location<'static>) -> Cow<'static, str> {
    Cow::Owned(format!(
        "task spawned at {}:{}:{}",
        site.file(),
        site.line(),
        site.column()
    ))
}

/// Makes a future a task lockscan sees: its held async locks travel with it across polls
/// and worker threads, and a blocking lock it holds when a poll returns `Pending` is
/// reported. One line per spawn or test:
///
/// ```
/// use lockscan::tokio::{Instrument, Mutex};
///
/// #[tokio::test]
/// # async fn doc() {}
/// async fn transfers() {
///     async {
///         let ledger = Mutex::new(0);
///         *ledger.lock().await += 1;
///     }
///     .instrumented() // the test's body, a task of its own
///     .await
/// }
/// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(transfers());
/// ```
pub trait Instrument: Future + Sized {
    /// The future as a task named after the caller's location (`task spawned at
    /// src/lib.rs:7:13`).
    #[track_caller]
    fn instrumented(self) -> Instrumented<Self> {
        let site = Location::caller();
        Instrumented::new(self, || spawned_at(site), site)
    }

    /// The future as a task named `name` in reports.
    #[track_caller]
    fn instrumented_as(self, name: impl Into<Cow<'static, str>>) -> Instrumented<Self> {
        Instrumented::new(self, || name.into(), Location::caller())
    }
}

impl<F: Future> Instrument for F {}

/// `tokio::spawn` of a task lockscan sees, named after the caller's location: the one-line
/// switch from `tokio::spawn`.
///
/// # Panics
///
/// As `tokio::spawn`: outside a tokio runtime.
#[track_caller]
pub fn spawn<F>(future: F) -> tokio::task::JoinHandle<F::Output>
where
    F: Future + Send + 'static,
    F::Output: Send + 'static,
{
    tokio::spawn(future.instrumented())
}

/// [`spawn`] with a name for reports.
///
/// # Panics
///
/// As `tokio::spawn`: outside a tokio runtime.
#[track_caller]
pub fn spawn_named<F>(
    name: impl Into<Cow<'static, str>>,
    future: F,
) -> tokio::task::JoinHandle<F::Output>
where
    F: Future + Send + 'static,
    F::Output: Send + 'static,
{
    tokio::spawn(future.instrumented_as(name))
}
