//! A pipeline: producers put items in a bounded queue (a mutex and two condition variables),
//! consumers take them out and record statistics under a second lock.
//!
//! - `clean`: a consumer records an item after letting go of the queue. Clean.
//! - `hold`: a consumer holds the statistics lock for its whole run, including while it waits
//!   on the queue's condition variable: lockscan reports `wait-while-holding`. The other
//!   consumer, which needs that lock, is stuck until the first one is done.
//! - `handoff`: a producer fills a batch, then hands it over to a consumer through a condition
//!   variable. They take the queue and statistics locks in opposite orders, so lockscan
//!   predicts a `potential-deadlock`, but the hand-off rules it out in every schedule:
//!   `lockscan confirm` tries to make it happen and does not confirm it.

use std::collections::VecDeque;
use std::process::ExitCode;
use std::sync::Arc;
use std::thread;

use lockscan::{Condvar, Mutex};
use lockscan_demos::{Command, Outcome, first_line, join, print_findings};

const COMMAND: Command = Command {
    name: "pipeline",
    about: "pipeline: producers and consumers around a bounded queue",
    modes: &[
        (
            "clean",
            "consumers record statistics after leaving the queue (clean)",
        ),
        (
            "hold",
            "a consumer waits on the queue while holding the statistics lock",
        ),
        (
            "handoff",
            "a batch handed over through a condition variable (a cycle that cannot deadlock)",
        ),
    ],
    flags: &[],
};

const PRODUCERS: usize = 2;
const CONSUMERS: usize = 2;
const ITEMS_PER_PRODUCER: u64 = 500;
const CAPACITY: usize = 8;

struct QueueState {
    items: VecDeque<u64>,
    /// Set once every producer is done: consumers stop when the queue is also empty.
    closed: bool,
}

/// A bounded queue: producers wait while it is full, consumers while it is empty.
struct Queue {
    state: Mutex<QueueState>,
    not_empty: Condvar,
    not_full: Condvar,
}

impl Queue {
    fn new() -> Queue {
        Queue {
            state: Mutex::named(
                "pipeline:queue",
                QueueState {
                    items: VecDeque::new(),
                    closed: false,
                },
            ),
            not_empty: Condvar::new(),
            not_full: Condvar::new(),
        }
    }

    fn push(&self, item: u64) {
        let mut state = self.state.lock();
        self.not_full
            .wait_while(&mut state, |state| state.items.len() == CAPACITY);
        state.items.push_back(item);
        drop(state);
        self.not_empty.notify_one();
    }

    /// The next item, or `None` once the queue is closed and empty.
    fn pop(&self) -> Option<u64> {
        let mut state = self.state.lock();
        self.not_empty
            .wait_while(&mut state, |state| state.items.is_empty() && !state.closed);
        let item = state.items.pop_front();
        drop(state);
        if item.is_some() {
            self.not_full.notify_one();
        }
        item
    }

    fn close(&self) {
        self.state.lock().closed = true;
        self.not_empty.notify_all();
    }
}

/// What the consumers recorded: items taken by each, and the sum of the items.
struct Stats {
    taken: [u64; CONSUMERS],
    sum: u64,
}

/// Takes items until the queue is closed, recording each one after leaving the queue: the
/// two locks are never held together.
fn consume(queue: &Queue, stats: &Mutex<Stats>, consumer: usize) {
    while let Some(item) = queue.pop() {
        let mut stats = stats.lock();
        stats.taken[consumer] += 1;
        stats.sum += item;
    }
}

/// Holds the statistics lock from start to finish, so it waits on the queue's condition
/// variable while holding it. The program still finishes, because the producers never need
/// the statistics lock: only the other consumer is held up, and the mistake shows as one
/// consumer doing all the work. Had a producer needed that lock to make progress, this would
/// be a deadlock that no lock-order cycle reveals, which is why lockscan warns about the wait.
fn consume_holding_stats(queue: &Queue, stats: &Mutex<Stats>, consumer: usize) {
    let mut stats = stats.lock();
    loop {
        let mut state = queue.state.lock();
        queue
            .not_empty
            .wait_while(&mut state, |state| state.items.is_empty() && !state.closed);
        let Some(item) = state.items.pop_front() else {
            break;
        };
        drop(state);
        queue.not_full.notify_one();
        stats.taken[consumer] += 1;
        stats.sum += item;
    }
}

fn main() -> ExitCode {
    let args = match COMMAND.start() {
        Ok(args) => args,
        Err(code) => return code,
    };
    let consume: fn(&Queue, &Mutex<Stats>, usize) = match args.mode.as_str() {
        "handoff" => {
            handoff();
            print_findings();
            return ExitCode::SUCCESS;
        }
        "clean" => consume,
        "hold" => consume_holding_stats,
        _ => unreachable!("the parser accepts only the listed modes"),
    };
    let queue = Arc::new(Queue::new());
    let stats = Arc::new(Mutex::named(
        "pipeline:stats",
        Stats {
            taken: [0; CONSUMERS],
            sum: 0,
        },
    ));
    let consumers: Vec<_> = (0..CONSUMERS)
        .map(|consumer| {
            let (queue, stats) = (queue.clone(), stats.clone());
            thread::Builder::new()
                .name(format!("consumer-{}", consumer + 1))
                .spawn(move || consume(&queue, &stats, consumer))
                .expect("spawn a thread")
        })
        .collect();
    let producers: Vec<_> = (0..PRODUCERS as u64)
        .map(|producer| {
            let queue = queue.clone();
            thread::Builder::new()
                .name(format!("producer-{}", producer + 1))
                .spawn(move || {
                    let first = producer * ITEMS_PER_PRODUCER + 1;
                    for item in first..first + ITEMS_PER_PRODUCER {
                        queue.push(item);
                    }
                })
                .expect("spawn a thread")
        })
        .collect();
    for (i, handle) in producers.into_iter().enumerate() {
        if let Outcome::Unwound(message) = join(handle) {
            println!("producer-{} failed: {}", i + 1, first_line(&message));
        }
    }
    queue.close();
    for (i, handle) in consumers.into_iter().enumerate() {
        if let Outcome::Unwound(message) = join(handle) {
            println!("consumer-{} failed: {}", i + 1, first_line(&message));
        }
    }

    let produced = PRODUCERS as u64 * ITEMS_PER_PRODUCER;
    let stats = stats.lock();
    let consumed: u64 = stats.taken.iter().sum();
    println!(
        "{PRODUCERS} producers put {produced} items through a queue of {CAPACITY}; \
         {CONSUMERS} consumers took them"
    );
    for (i, taken) in stats.taken.iter().enumerate() {
        println!("consumer-{} took {taken} items", i + 1);
    }
    println!("consumed {consumed} of {produced} items, sum {}", stats.sum);
    if args.mode == "hold" && stats.taken.contains(&0) {
        println!(
            "one consumer took nothing: it was stuck on the statistics lock, which the other \
             held while waiting for items"
        );
    }
    drop(stats);
    print_findings();
    ExitCode::SUCCESS
}

// ---------------------------------------------------------------------------------------------
// `handoff`: a cycle that a condition variable rules out.

/// How many items the producer of `handoff` puts in its batch.
const BATCH: u64 = 5;

/// What the two sides of the hand-off counted.
#[derive(Default)]
struct Counts {
    produced: u64,
    consumed: u64,
    sum: u64,
}

/// The producer counts each item under the statistics lock and puts it in the queue while
/// holding it (statistics, then queue); then it hands the batch over. The consumer waits for
/// the hand-off (a wait without a timeout, which only the producer's notification ends), then
/// takes each item and counts it while holding the queue (queue, then statistics). The two
/// orders make a lock-order cycle, and lockscan reports a `potential-deadlock`: it does not
/// take a notification as ordering a cycle's edges, since in general it does not. Here it
/// does: the consumer starts only after the producer is done, in every schedule, so no pause
/// can make the two orders overlap, and `lockscan confirm` reports it as not confirmed.
fn handoff() {
    let queue = Arc::new(Mutex::named("pipeline:queue", VecDeque::new()));
    let counts = Arc::new(Mutex::named("pipeline:stats", Counts::default()));
    let handed = Arc::new((Mutex::named("pipeline:handed-over", false), Condvar::new()));
    let producer = {
        let (queue, counts, handed) = (queue.clone(), counts.clone(), handed.clone());
        thread::Builder::new()
            .name("producer-1".into())
            .spawn(move || {
                for item in 1..=BATCH {
                    let mut counts = counts.lock();
                    counts.produced += 1;
                    queue.lock().push_back(item);
                }
                *handed.0.lock() = true;
                handed.1.notify_all();
            })
            .expect("spawn a thread")
    };
    let consumer = {
        let (queue, counts, handed) = (queue.clone(), counts.clone(), handed.clone());
        thread::Builder::new()
            .name("consumer-1".into())
            .spawn(move || {
                let mut ready = handed.0.lock();
                handed.1.wait_while(&mut ready, |ready| !*ready);
                drop(ready);
                loop {
                    let mut items = queue.lock();
                    let Some(item) = items.pop_front() else {
                        break;
                    };
                    let mut counts = counts.lock();
                    counts.consumed += 1;
                    counts.sum += item;
                }
            })
            .expect("spawn a thread")
    };
    for (name, handle) in [("producer-1", producer), ("consumer-1", consumer)] {
        if let Outcome::Unwound(message) = join(handle) {
            println!("{name} failed: {}", first_line(&message));
        }
    }
    let counts = counts.lock();
    println!(
        "producer-1 put a batch of {} items in the queue, then handed it over; consumer-1 took \
         {} items, sum {}",
        counts.produced, counts.consumed, counts.sum
    );
}
