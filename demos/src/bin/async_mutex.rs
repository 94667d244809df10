//! The classic async deadlock with one mutex: a std mutex's guard held across an `.await` on
//! tokio's current-thread runtime, with `lockscan::std_sync::Mutex` (std's API).
//!
//! - `held`: `main` (a `block_on` future) locks the counter and, still holding the guard,
//!   awaits a task that locks the counter too. On a current-thread runtime the task runs on the
//!   runtime's only thread, and its `lock()` blocks that thread: `main` can never be polled
//!   again to let the guard go, and without lockscan the program hangs. lockscan reports the
//!   guard held across the `.await` (a warning), then, at the task's `lock()`, before it
//!   blocks, the `deadlock` (the holder is parked where only this thread can poll it), and
//!   unwinds the task instead of hanging the runtime.
//! - `dropped`: the fix, the guard's scope ends before the `.await`. Clean.

use std::process::ExitCode;
use std::sync::Arc;

use lockscan::std_sync::Mutex;
use lockscan::tokio::Instrument;
use lockscan_demos::{Command, first_line, panic_text, print_findings};

const COMMAND: Command = Command {
    name: "async_mutex",
    about: "async_mutex: a std mutex held across `.await` on a current-thread runtime",
    modes: &[
        (
            "held",
            "the guard held across the `.await` of a task that locks it (deadlock)",
        ),
        ("dropped", "the guard dropped before the `.await` (clean)"),
    ],
    flags: &[],
};

fn main() -> ExitCode {
    let args = match COMMAND.start() {
        Ok(args) => args,
        Err(code) => return code,
    };
    if args.mode == "held" && !lockscan::is_active() {
        println!("not running held: without detection the runtime would hang for good");
        print_findings();
        return ExitCode::SUCCESS;
    }
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("a tokio runtime");
    let counter = Arc::new(Mutex::named("counter", 0));
    let held = args.mode == "held";
    runtime.block_on(count(counter.clone(), held).instrumented_as("main"));
    println!(
        "counter: {}",
        *counter
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    );
    print_findings();
    ExitCode::SUCCESS
}

/// Adds 10 under the lock and awaits a task that adds 1; with `held`, the guard of the 10 is
/// still held while `main` awaits the task.
async fn count(counter: Arc<Mutex<i32>>, held: bool) {
    let increment = lockscan::tokio::spawn_named("increment", {
        let counter = counter.clone();
        async move {
            *counter.lock().unwrap() += 1;
        }
    });
    let outcome = if held {
        let mut guard = counter.lock().unwrap();
        *guard += 10;
        // The mistake: `main` is suspended here with the guard held.
        let outcome = increment.await;
        drop(guard);
        outcome
    } else {
        *counter.lock().unwrap() += 10;
        increment.await
    };
    match outcome {
        Ok(()) => println!("increment added 1"),
        Err(error) if error.is_panic() => println!(
            "increment was unwound by lockscan instead of blocking the runtime's only thread \
             forever ({})",
            first_line(&panic_text(error.into_panic().as_ref()))
        ),
        Err(error) => println!("increment was cancelled: {error}"),
    }
}
