//! Re-entrant locking.
//!
//! - `recursive`: the price of an assembly is computed recursively, each level locking the
//!   parts catalog again (a `lockscan::ReentrantMutex`) while outer levels still hold it, and
//!   counting the lookup under a second lock always taken inside the first. Two threads do it
//!   at once. Clean: re-entering a re-entrant lock is not a cycle.

use std::cell::RefCell;
use std::process::ExitCode;
use std::sync::Arc;
use std::thread;

use lockscan::{Mutex, ReentrantMutex};
use lockscan_demos::{Command, Outcome, first_line, join, print_findings};

const COMMAND: Command = Command {
    name: "reentrant",
    about: "reentrant: recursion through a re-entrant lock",
    modes: &[(
        "recursive",
        "price an assembly by recursion, re-locking at each level (clean)",
    )],
    flags: &[],
};

struct Part {
    name: &'static str,
    price: u64,
    parts: Vec<usize>,
}

/// The parts, behind a re-entrant lock so that a lookup can call another while holding it;
/// and a count of lookups, under a lock of its own.
struct Catalog {
    parts: ReentrantMutex<RefCell<Vec<Part>>>,
    lookups: Mutex<u64>,
}

impl Catalog {
    fn bicycle() -> (Catalog, usize) {
        let mut parts = Vec::new();
        let mut add = |name, price, sub: Vec<usize>| {
            parts.push(Part {
                name,
                price,
                parts: sub,
            });
            parts.len() - 1
        };
        let wheel = |add: &mut dyn FnMut(&'static str, u64, Vec<usize>) -> usize| {
            let rim = add("rim", 20, vec![]);
            let hub = add("hub", 15, vec![]);
            let spokes = add("spokes", 10, vec![]);
            add("wheel", 30, vec![rim, hub, spokes])
        };
        let front = wheel(&mut add);
        let rear = wheel(&mut add);
        let frame = add("frame", 120, vec![]);
        let pedals = [add("pedal", 8, vec![]), add("pedal", 8, vec![])];
        let crank = add("crank", 35, pedals.to_vec());
        let chain = add("chain", 12, vec![]);
        let drivetrain = add("drivetrain", 25, vec![chain, crank]);
        let bicycle = add("bicycle", 50, vec![frame, front, rear, drivetrain]);
        let catalog = Catalog {
            parts: ReentrantMutex::named("catalog", RefCell::new(parts)),
            lookups: Mutex::named("catalog:lookups", 0),
        };
        (catalog, bicycle)
    }

    /// The price of `part` with everything in it, and the depth of the deepest level. Locks
    /// the catalog at every level: the outer levels still hold it, so the lock is re-entered.
    fn total_price(&self, part: usize) -> (u64, usize) {
        let parts = self.parts.lock();
        // The borrow ends before the recursion, which borrows again.
        let (price, sub_parts) = {
            let parts = parts.borrow();
            (parts[part].price, parts[part].parts.clone())
        };
        *self.lookups.lock() += 1;
        let mut total = price;
        let mut depth = 0;
        for sub_part in sub_parts {
            let (sub_total, sub_depth) = self.total_price(sub_part);
            total += sub_total;
            depth = depth.max(sub_depth);
        }
        (total, depth + 1)
    }

    fn name(&self, part: usize) -> &'static str {
        self.parts.lock().borrow()[part].name
    }
}

fn main() -> ExitCode {
    let args = match COMMAND.start() {
        Ok(args) => args,
        Err(code) => return code,
    };
    assert_eq!(args.mode, "recursive", "the parser accepts only this mode");
    const THREADS: usize = 2;
    let (catalog, bicycle) = Catalog::bicycle();
    let catalog = Arc::new(catalog);
    let threads: Vec<_> = (0..THREADS)
        .map(|i| {
            let catalog = catalog.clone();
            thread::Builder::new()
                .name(format!("pricer-{}", i + 1))
                .spawn(move || catalog.total_price(bicycle))
                .expect("spawn a thread")
        })
        .collect();
    let name = catalog.name(bicycle);
    for (i, handle) in threads.into_iter().enumerate() {
        match join(handle) {
            Outcome::Finished((total, depth)) => println!(
                "pricer-{} priced the {name} at {total}, holding the catalog lock {depth} levels deep",
                i + 1
            ),
            Outcome::Unwound(message) => {
                println!("pricer-{} failed: {}", i + 1, first_line(&message))
            }
        }
    }
    let parts = catalog.parts.lock().borrow().len() as u64;
    println!(
        "catalog lookups: {} ({THREADS} threads x {parts} parts)",
        *catalog.lookups.lock()
    );
    print_findings();
    ExitCode::SUCCESS
}
