//! A bank: money moves between accounts from several threads.
//!
//! - `locked`: one re-entrant lock over all accounts and a log lock nested inside it; a
//!   transfer re-enters the account lock through withdraw and deposit. Clean.
//! - `transfer`: each account has its own lock and a transfer locks the source, then the
//!   destination. Two threads transfer in opposite directions: a lock-order cycle. By default
//!   they take turns (with a timeout) and do not collide; lockscan still reports the
//!   `potential-deadlock` (`lockscan confirm` makes it happen); with `--collide` they really
//!   deadlock and lockscan reports the `deadlock` and unwinds one thread instead of hanging.
//! - `ordered`: the same transfers through `lockscan::lock_both` / `lock_all`. Clean.
//! - `race`: deposits and withdrawals as an unsynchronized read-modify-write on a tracked
//!   balance: updates get lost, and lockscan reports the data race.

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::process::ExitCode;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Barrier, mpsc};
use std::thread;
use std::time::Duration;

use lockscan::{Mutex, ReentrantMutex, Tracked};
use lockscan_demos::{Command, Outcome, first_line, join, print_findings};

const COMMAND: Command = Command {
    name: "bank",
    about: "bank: transfers between accounts, correct and deadlock-prone",
    modes: &[
        ("locked", "one re-entrant lock over the accounts (clean)"),
        (
            "transfer",
            "lock source then destination, both directions (potential deadlock)",
        ),
        (
            "ordered",
            "the same transfers through lockscan::lock_both/lock_all (clean)",
        ),
        (
            "race",
            "unsynchronized read-modify-write of a balance (lost updates)",
        ),
    ],
    flags: &[(
        "--collide",
        "transfer: make the threads really deadlock (lockscan breaks it)",
    )],
};

fn main() -> ExitCode {
    let args = match COMMAND.start() {
        Ok(args) => args,
        Err(code) => return code,
    };
    match args.mode.as_str() {
        "locked" => locked(),
        "transfer" if args.has("--collide") => transfer_colliding(),
        "transfer" => transfer_one_after_the_other(),
        "ordered" => ordered(),
        "race" => race(),
        _ => unreachable!("the parser accepts only the listed modes"),
    }
    print_findings();
    ExitCode::SUCCESS
}

// ---------------------------------------------------------------------------------------------
// `locked`: one re-entrant lock.

/// All accounts behind one re-entrant lock; every change is logged under a second lock, always
/// taken inside the first.
struct Bank {
    accounts: ReentrantMutex<RefCell<BTreeMap<&'static str, i64>>>,
    log: Mutex<Vec<String>>,
}

impl Bank {
    fn withdraw(&self, account: &'static str, amount: i64) {
        let accounts = self.accounts.lock();
        *accounts.borrow_mut().entry(account).or_default() -= amount;
        self.log
            .lock()
            .push(format!("withdrew {amount} from {account}"));
    }

    fn deposit(&self, account: &'static str, amount: i64) {
        let accounts = self.accounts.lock();
        *accounts.borrow_mut().entry(account).or_default() += amount;
        self.log
            .lock()
            .push(format!("deposited {amount} to {account}"));
    }

    /// Holds the account lock for the whole transfer, so no one sees the money in flight, and
    /// re-enters it in `withdraw` and `deposit`.
    fn transfer(&self, from: &'static str, to: &'static str, amount: i64) {
        let _accounts = self.accounts.lock();
        self.withdraw(from, amount);
        self.deposit(to, amount);
    }
}

fn locked() {
    let bank = Arc::new(Bank {
        accounts: ReentrantMutex::named(
            "bank:accounts",
            RefCell::new(BTreeMap::from([("ACC001", 1_000), ("ACC002", 500)])),
        ),
        log: Mutex::named("bank:log", Vec::new()),
    });
    let directions = [("ACC001", "ACC002", 10), ("ACC002", "ACC001", 7)];
    let threads: Vec<_> = directions
        .into_iter()
        .enumerate()
        .map(|(i, (from, to, amount))| {
            let bank = bank.clone();
            thread::Builder::new()
                .name(format!("transfer-{}", i + 1))
                .spawn(move || {
                    for _ in 0..100 {
                        bank.transfer(from, to, amount);
                    }
                })
                .expect("spawn a thread")
        })
        .collect();
    for handle in threads {
        if let Outcome::Unwound(message) = join(handle) {
            println!("a transfer thread failed: {}", first_line(&message));
        }
    }
    println!("2 threads made 100 transfers each: ACC001 -> ACC002 (10), ACC002 -> ACC001 (7)");
    let accounts = bank.accounts.lock();
    let balances = accounts.borrow();
    for (account, balance) in balances.iter() {
        println!("final balance of {account}: {balance}");
    }
    println!(
        "total: {} (started with 1500)",
        balances.values().sum::<i64>()
    );
    println!("log entries: {}", bank.log.lock().len());
}

// ---------------------------------------------------------------------------------------------
// `transfer`: one lock per account, source first.

fn open_accounts() -> Arc<Vec<Mutex<i64>>> {
    Arc::new(vec![
        Mutex::named("account:ACC001", 1_000),
        Mutex::named("account:ACC002", 500),
    ])
}

/// Locks the source, then the destination: two transfers in opposite directions take the
/// same two locks in opposite orders.
fn transfer(from: &Mutex<i64>, to: &Mutex<i64>, amount: i64) {
    let mut from = from.lock();
    let mut to = to.lock();
    *from -= amount;
    *to += amount;
}

fn print_balances(accounts: &[Mutex<i64>]) {
    let mut total = 0;
    for (i, account) in accounts.iter().enumerate() {
        let balance = *account.lock();
        total += balance;
        println!("final balance of ACC00{}: {balance}", i + 1);
    }
    println!("total: {total} (started with 1500)");
}

/// How long `transfer-2` waits for its turn before it goes ahead anyway.
const TURN_TIMEOUT: Duration = Duration::from_millis(250);

/// Two threads, alive at the same time, transfer in opposite directions; a channel hands the
/// turn from the first to the second so that this run does not collide. The hand-off has a
/// timeout, as a real program's would: `transfer-1` is done in microseconds, but one held up
/// for a quarter second (a busy machine) lets `transfer-2` start while it holds its first
/// account, and the two can deadlock. That is what lockscan predicts from this run, and what
/// `lockscan confirm` makes happen. (lockscan does not see the channel: it is not a lockscan
/// lock.)
fn transfer_one_after_the_other() {
    let accounts = open_accounts();
    let (your_turn, wait_for_turn) = mpsc::channel::<()>();
    let first = {
        let accounts = accounts.clone();
        thread::Builder::new()
            .name("transfer-1".into())
            .spawn(move || {
                for _ in 0..3 {
                    transfer(&accounts[0], &accounts[1], 100);
                }
                // transfer-2 may have stopped waiting.
                let _ = your_turn.send(());
            })
            .expect("spawn a thread")
    };
    let second = {
        let accounts = accounts.clone();
        thread::Builder::new()
            .name("transfer-2".into())
            .spawn(move || {
                // Its turn, or the timeout: either way it goes ahead.
                let _ = wait_for_turn.recv_timeout(TURN_TIMEOUT);
                for _ in 0..2 {
                    transfer(&accounts[1], &accounts[0], 50);
                }
            })
            .expect("spawn a thread")
    };
    let mut unwound = false;
    for (name, handle) in [("transfer-1", first), ("transfer-2", second)] {
        match join(handle) {
            Outcome::Finished(()) => println!("{name} finished its transfers"),
            Outcome::Unwound(message) => {
                unwound = true;
                println!("{name} failed: {}", first_line(&message));
            }
        }
    }
    if unwound {
        println!("the threads collided in this run: lockscan broke the deadlock");
    } else {
        println!(
            "transfer-1 moved 3 x 100 from ACC001 to ACC002, then transfer-2 moved 2 x 50 back"
        );
        println!("the threads never collided in this run");
    }
    print_balances(&accounts);
}

/// Both threads take their first lock, wait for each other, then ask for the second: a real
/// deadlock. lockscan reports it when the second thread is about to block and unwinds that
/// thread, which releases its lock and lets the other one finish.
fn transfer_colliding() {
    if !lockscan::is_active() {
        println!("not running --collide: without detection the threads would hang for good");
        return;
    }
    let accounts = open_accounts();
    let both_hold_their_first_lock = Arc::new(Barrier::new(2));
    let spawn = |name: &str, from: usize, to: usize, amount: i64| {
        let accounts = accounts.clone();
        let barrier = both_hold_their_first_lock.clone();
        thread::Builder::new()
            .name(name.into())
            .spawn(move || {
                let mut source = accounts[from].lock();
                barrier.wait();
                let mut destination = accounts[to].lock();
                *source -= amount;
                *destination += amount;
            })
            .expect("spawn a thread")
    };
    let first = spawn("transfer-1", 0, 1, 100);
    let second = spawn("transfer-2", 1, 0, 50);
    let mut unwound = 0;
    for (name, what, handle) in [
        ("transfer-1", "100 from ACC001 to ACC002", first),
        ("transfer-2", "50 from ACC002 to ACC001", second),
    ] {
        match join(handle) {
            Outcome::Finished(()) => println!("{name} moved {what}"),
            Outcome::Unwound(message) => {
                unwound += 1;
                println!(
                    "{name} was unwound by lockscan instead of deadlocking; its transfer of \
                     {what} did not happen ({})",
                    first_line(&message)
                );
            }
        }
    }
    if unwound == 0 {
        println!("no thread was unwound: the threads did not deadlock");
    }
    print_balances(&accounts);
}

// ---------------------------------------------------------------------------------------------
// `ordered`: the same transfers in lockscan's global order.

/// Locks both accounts in lockscan's global order, whichever direction the money goes.
fn transfer_ordered(from: &Mutex<i64>, to: &Mutex<i64>, amount: i64) {
    let (mut from, mut to) = lockscan::lock_both(from, to);
    *from -= amount;
    *to += amount;
}

/// Moves `amount` from `from` to `to` and a fee to `fees`, all three locked at once.
fn transfer_with_fee(from: &Mutex<i64>, to: &Mutex<i64>, fees: &Mutex<i64>, amount: i64) {
    let [mut from, mut to, mut fees] = lockscan::lock_all([from, to, fees]);
    *from -= amount + 1;
    *to += amount;
    *fees += 1;
}

fn ordered() {
    let accounts = Arc::new(vec![
        Mutex::named("account:ACC001", 1_000),
        Mutex::named("account:ACC002", 500),
        Mutex::named("account:FEES", 0),
    ]);
    // Really concurrent this time: the global order makes every schedule safe.
    let spawn = |name: &str, from: usize, to: usize, amount: i64| {
        let accounts = accounts.clone();
        thread::Builder::new()
            .name(name.into())
            .spawn(move || {
                for _ in 0..1_000 {
                    transfer_ordered(&accounts[from], &accounts[to], amount);
                }
                for _ in 0..100 {
                    transfer_with_fee(&accounts[from], &accounts[to], &accounts[2], amount);
                }
            })
            .expect("spawn a thread")
    };
    let threads = [
        ("transfer-1", spawn("transfer-1", 0, 1, 3)),
        ("transfer-2", spawn("transfer-2", 1, 0, 3)),
    ];
    for (name, handle) in threads {
        match join(handle) {
            Outcome::Finished(()) => println!("{name} finished its transfers"),
            Outcome::Unwound(message) => println!("{name} failed: {}", first_line(&message)),
        }
    }
    println!(
        "transfer-1 moved 1000 x 3 from ACC001 to ACC002 and transfer-2 moved 1000 x 3 back, \
         concurrently; then 100 more each way with a fee of 1 to FEES"
    );
    let mut total = 0;
    for (name, account) in ["ACC001", "ACC002", "FEES"].iter().zip(accounts.iter()) {
        let balance = *account.lock();
        total += balance;
        println!("final balance of {name}: {balance}");
    }
    println!("total: {total} (started with 1500)");
}

// ---------------------------------------------------------------------------------------------
// `race`: lost updates.

/// An account whose deposit and withdraw read the balance, then write it back: two threads
/// can read the same value, and one update is lost. The balance is a `lockscan::Tracked`
/// value: each single read and write is well-defined, the read-modify-write as a whole is
/// unsynchronized, and lockscan reports that data race with both sites.
struct RacyAccount {
    balance: Tracked<i64>,
    /// Writes that replaced another thread's write made since their read: lost updates.
    overwritten: AtomicUsize,
}

/// How long a racy update pauses between its read and its write.
const RACE_WINDOW: Duration = Duration::from_micros(20);

impl RacyAccount {
    fn deposit(&self, amount: i64) {
        let balance = self.balance.get();
        // A pause between the read and the write, as a busy machine would make: the lost updates
        // show up in a short run.
        thread::sleep(RACE_WINDOW);
        self.write_back(balance, balance + amount);
    }

    fn withdraw(&self, amount: i64) {
        let balance = self.balance.get();
        thread::sleep(RACE_WINDOW);
        self.write_back(balance, balance - amount);
    }

    /// Writes `new` whatever happened since `read` was read, as the racy code does. The value
    /// replaced is looked at only to count the lost updates: with deposits and withdrawals of
    /// the same amount, lost updates can cancel out and leave the final balance right.
    fn write_back(&self, read: i64, new: i64) {
        let replaced = self
            .balance
            .update(|balance| std::mem::replace(balance, new));
        if replaced != read {
            self.overwritten.fetch_add(1, Ordering::Relaxed);
        }
    }
}

fn race() {
    const THREADS: usize = 10;
    const ROUNDS: usize = 100;
    let account = Arc::new(RacyAccount {
        balance: Tracked::named("balance:ACC001", 1_000),
        overwritten: AtomicUsize::new(0),
    });
    let start = Arc::new(Barrier::new(THREADS));
    let threads: Vec<_> = (0..THREADS)
        .map(|teller| {
            let (account, start) = (account.clone(), start.clone());
            let builder = lockscan::thread::Builder::new().name(format!("teller-{teller}"));
            builder
                .spawn(move || {
                    start.wait();
                    for _ in 0..ROUNDS {
                        account.deposit(1);
                        account.withdraw(1);
                    }
                })
                .expect("spawn a teller thread")
        })
        .collect();
    for handle in threads {
        if let Outcome::Unwound(message) = join(handle) {
            println!("a thread failed: {}", first_line(&message));
        }
    }
    // The threads were joined through `lockscan::thread`: this read is ordered after theirs.
    let balance = account.balance.get();
    println!(
        "{THREADS} threads each deposited 1 and withdrew 1, {ROUNDS} times, starting from 1000"
    );
    println!("final balance: {balance} (expected 1000)");
    let lost = account.overwritten.load(Ordering::Relaxed);
    let updates = 2 * THREADS * ROUNDS;
    println!("lost updates: {lost} of {updates} writes replaced another thread's update");
    if lost == 0 {
        println!("no update was lost in this run, but the read-modify-write is still a race");
    } else if balance == 1_000 {
        println!("the lost deposits and withdrawals happened to cancel out in the balance");
    }
}
