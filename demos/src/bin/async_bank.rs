//! An async bank: two tokio tasks move money between accounts guarded by
//! `lockscan::tokio::Mutex`, on tokio's multi-thread runtime.
//!
//! - `transfer`: each task locks its source account, then awaits the destination's lock. The
//!   two go in opposite directions and both hold their first lock before either asks for its
//!   second: each task awaits a lock the other holds, forever, and without lockscan the program
//!   hangs with no stack to show where. lockscan reports the `deadlock` (both tasks, both
//!   sites) the moment the wait cycle forms, and the lock future that would close it panics
//!   instead of pending forever: that task's `JoinHandle` gets the panic, its guard drops, and
//!   the other task finishes its transfer.
//! - `ordered`: the same transfers, both locking the accounts in one order. Clean.

use std::process::ExitCode;
use std::sync::Arc;

use lockscan::tokio::Mutex;
use lockscan_demos::{Command, first_line, panic_text, print_findings};

const COMMAND: Command = Command {
    name: "async_bank",
    about: "async_bank: transfers between two tokio tasks on the multi-thread runtime",
    modes: &[
        (
            "transfer",
            "lock source then destination, both directions at once (deadlock)",
        ),
        (
            "ordered",
            "the same transfers, accounts locked in one order (clean)",
        ),
    ],
    flags: &[],
};

fn main() -> ExitCode {
    let args = match COMMAND.start() {
        Ok(args) => args,
        Err(code) => return code,
    };
    if args.mode == "transfer" && !lockscan::is_active() {
        println!("not running transfer: without detection the tasks would hang for good");
        print_findings();
        return ExitCode::SUCCESS;
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .build()
        .expect("a tokio runtime");
    let accounts = Arc::new([
        Mutex::named("account:ACC001", 1_000_i64),
        Mutex::named("account:ACC002", 500),
    ]);
    runtime.block_on(transfers(accounts.clone(), args.mode == "ordered"));
    let mut total = 0;
    for (i, account) in accounts.iter().enumerate() {
        let balance = *account.try_lock().expect("no transfer is running");
        total += balance;
        println!("final balance of ACC00{}: {balance}", i + 1);
    }
    println!("total: {total} (started with 1500)");
    print_findings();
    ExitCode::SUCCESS
}

/// `transfer-1` moves 100 from ACC001 to ACC002 while `transfer-2` moves 50 back; with
/// `ordered`, both lock ACC001 first.
async fn transfers(accounts: Arc<[Mutex<i64>; 2]>, ordered: bool) {
    // Both tasks hold their first lock before either asks for its second.
    let both_hold_their_first_lock = Arc::new(tokio::sync::Barrier::new(2));
    let spawn = |name: &'static str, from: usize, to: usize, amount: i64| {
        let accounts = accounts.clone();
        let barrier = both_hold_their_first_lock.clone();
        lockscan::tokio::spawn_named(name, async move {
            if ordered {
                let (mut first, mut second) = (accounts[0].lock().await, accounts[1].lock().await);
                let (source, destination) = if from == 0 {
                    (&mut first, &mut second)
                } else {
                    (&mut second, &mut first)
                };
                **source -= amount;
                **destination += amount;
                return;
            }
            let mut source = accounts[from].lock().await;
            barrier.wait().await;
            let mut destination = accounts[to].lock().await;
            *source -= amount;
            *destination += amount;
        })
    };
    let transfers =
        [("transfer-1", 0, 1, 100), ("transfer-2", 1, 0, 50)].map(|(name, from, to, amount)| {
            let what = format!("{amount} from ACC00{} to ACC00{}", from + 1, to + 1);
            (name, what, spawn(name, from, to, amount))
        });
    let mut unwound = 0;
    for (name, what, handle) in transfers {
        match handle.await {
            Ok(()) => println!("{name} moved {what}"),
            Err(error) if error.is_panic() => {
                unwound += 1;
                println!(
                    "{name}'s lock future panicked with lockscan's report instead of pending \
                     forever; its transfer of {what} did not happen ({})",
                    first_line(&panic_text(error.into_panic().as_ref()))
                );
            }
            Err(error) => println!("{name} was cancelled: {error}"),
        }
    }
    if unwound == 0 {
        println!("no task was unwound: the tasks did not deadlock");
    }
}
