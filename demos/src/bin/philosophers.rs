//! Dining philosophers: five philosophers around a table, a fork between each two neighbours;
//! a philosopher needs both of their forks to eat.
//!
//! - `naive`: everyone takes the left fork, then the right one. The five orders form a cycle
//!   `fork:0 -> fork:1 -> ... -> fork:4 -> fork:0`, which lockscan reports as a potential
//!   deadlock. If all five hold their left fork at once in this run, the deadlock is real, and
//!   lockscan unwinds one philosopher instead of hanging.
//! - `ordered`: everyone takes the lower-numbered fork first. No cycle. Clean.
//! - `waiter`: a waiter lets at most four philosophers sit at the table, and is held while a
//!   philosopher picks up forks; lockscan reports the fork cycle as a `gated-cycle` note.

use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::thread;

use lockscan::{Condvar, Mutex};
use lockscan_demos::{Command, Outcome, first_line, join, print_findings};

const COMMAND: Command = Command {
    name: "philosophers",
    about: "philosophers: five diners, five forks",
    modes: &[
        (
            "naive",
            "left fork, then right fork (a 5-lock cycle: potential deadlock)",
        ),
        ("ordered", "lower-numbered fork first (clean)"),
        (
            "waiter",
            "a waiter seats at most four and is held while picking up forks (a note)",
        ),
    ],
    flags: &[],
};

const PHILOSOPHERS: usize = 5;
const MEALS: usize = 20;
/// How many philosophers the waiter lets sit at once: with one seat fewer than philosophers,
/// at least one seated philosopher can always get both forks.
const SEATS: usize = PHILOSOPHERS - 1;

/// The forks, each counting how often it was used; and each philosopher's meals so far.
struct Table {
    forks: Vec<Mutex<usize>>,
    meals: Vec<AtomicUsize>,
    waiter: Waiter,
}

/// The waiter's count of seated philosophers, and the signal that a seat came free.
struct Waiter {
    seated: Mutex<usize>,
    seat_free: Condvar,
}

impl Table {
    fn new() -> Table {
        Table {
            forks: (0..PHILOSOPHERS)
                .map(|i| Mutex::named(format!("fork:{i}"), 0))
                .collect(),
            meals: (0..PHILOSOPHERS).map(|_| AtomicUsize::new(0)).collect(),
            waiter: Waiter {
                seated: Mutex::named("waiter", 0),
                seat_free: Condvar::new(),
            },
        }
    }

    fn left(&self, philosopher: usize) -> &Mutex<usize> {
        &self.forks[philosopher]
    }

    fn right(&self, philosopher: usize) -> &Mutex<usize> {
        &self.forks[(philosopher + 1) % PHILOSOPHERS]
    }

    fn eat(&self, philosopher: usize, left: &mut usize, right: &mut usize) {
        *left += 1;
        *right += 1;
        self.meals[philosopher].fetch_add(1, Ordering::Relaxed);
        thread::yield_now();
    }

    /// Left fork, then right fork: philosopher 4 takes fork 4 then fork 0, closing the cycle.
    fn dine_naively(&self, philosopher: usize) {
        for _ in 0..MEALS {
            let mut left = self.left(philosopher).lock();
            let mut right = self.right(philosopher).lock();
            self.eat(philosopher, &mut left, &mut right);
            drop((right, left));
            thread::yield_now(); // think
        }
    }

    /// Lower-numbered fork first: philosopher 4 takes fork 0 then fork 4, so every order agrees.
    fn dine_in_fork_order(&self, philosopher: usize) {
        let (first, second) = {
            let (left, right) = (philosopher, (philosopher + 1) % PHILOSOPHERS);
            (left.min(right), left.max(right))
        };
        for _ in 0..MEALS {
            let mut first_fork = self.forks[first].lock();
            let mut second_fork = self.forks[second].lock();
            self.eat(philosopher, &mut first_fork, &mut second_fork);
            drop((second_fork, first_fork));
            thread::yield_now();
        }
    }

    /// Asks the waiter for a seat, picks up both forks while the waiter is still held, and lets
    /// the waiter go before eating.
    ///
    /// Why the waiter is held while picking up forks: the seat limit alone already makes a
    /// deadlock impossible (four diners cannot close a five-fork cycle), but lockscan judges
    /// lock order, not counters, and would report the fork cycle as a potential deadlock. With
    /// the waiter held during every pick-up, each edge of the cycle is taken under one common
    /// lock, so lockscan reports a `gated-cycle` note: the cycle exists, and the waiter
    /// serializes it. It is safe because the forks are put down before the waiter is asked to
    /// free the seat, so a philosopher waiting for a fork while holding the waiter always gets
    /// it from a neighbour who needs nothing more to finish.
    fn dine_with_waiter(&self, philosopher: usize) {
        let waiter = &self.waiter;
        for _ in 0..MEALS {
            let mut seated = waiter.seated.lock();
            waiter
                .seat_free
                .wait_while(&mut seated, |seated| *seated == SEATS);
            *seated += 1;
            let mut left = self.left(philosopher).lock();
            let mut right = self.right(philosopher).lock();
            drop(seated);
            self.eat(philosopher, &mut left, &mut right);
            drop((right, left));
            *waiter.seated.lock() -= 1;
            waiter.seat_free.notify_one();
            thread::yield_now();
        }
    }
}

fn main() -> ExitCode {
    let args = match COMMAND.start() {
        Ok(args) => args,
        Err(code) => return code,
    };
    let table = Arc::new(Table::new());
    let dine: fn(&Table, usize) = match args.mode.as_str() {
        "naive" => Table::dine_naively,
        "ordered" => Table::dine_in_fork_order,
        "waiter" => Table::dine_with_waiter,
        _ => unreachable!("the parser accepts only the listed modes"),
    };
    let diners: Vec<_> = (0..PHILOSOPHERS)
        .map(|philosopher| {
            let table = table.clone();
            thread::Builder::new()
                .name(format!("philosopher-{philosopher}"))
                .spawn(move || dine(&table, philosopher))
                .expect("spawn a thread")
        })
        .collect();
    let mut total = 0;
    for (philosopher, handle) in diners.into_iter().enumerate() {
        let outcome = join(handle);
        let meals = table.meals[philosopher].load(Ordering::Relaxed);
        total += meals;
        match outcome {
            Outcome::Finished(()) => {
                println!("philosopher-{philosopher} ate {meals} of {MEALS} meals")
            }
            Outcome::Unwound(message) => println!(
                "philosopher-{philosopher} was unwound by lockscan after {meals} of {MEALS} meals: {}",
                first_line(&message)
            ),
        }
    }
    println!("meals eaten: {total} of {}", PHILOSOPHERS * MEALS);
    let uses: Vec<String> = table
        .forks
        .iter()
        .enumerate()
        .map(|(i, fork)| format!("fork:{i} {}", *fork.lock()))
        .collect();
    println!("fork uses: {}", uses.join(", "));
    if args.mode == "waiter" {
        println!(
            "the waiter seated at most {SEATS} at a time and was held while forks were picked up"
        );
    }
    print_findings();
    ExitCode::SUCCESS
}
