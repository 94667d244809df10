//! Taking several mutexes at once in one global order, so that no two callers can deadlock on
//! them, whatever order they name the locks in.
//!
//! Two threads that run `transfer(a, b)` and `transfer(b, a)` by locking the source first
//! deadlock when both hold their first lock. [`lock_all`] and [`lock_both`] take the locks in an
//! order that depends only on the locks themselves, never on the arguments, so every caller
//! agrees on it, and hand the guards back in argument order.
//!
//! The order, for every lock:
//!
//! 1. its declared rank ([`Mutex::with_rank`]); unranked locks come before ranked ones, so
//!    ranked locks are taken in rank order, as the rank check expects;
//! 2. its [`Mutex::sequence`]: a number lockscan assigns from a counter on first use;
//! 3. its address, which breaks the remaining ties. When detection is compiled out every
//!    sequence is 0 and ranks are not kept, so the address alone orders the locks: still one
//!    global order, as a lock does not move while it is borrowed.
//!
//! The locks are acquired with [`Mutex::lock`], so lockscan records the edges between them like
//! any other acquisition, and a report points at the caller's line.
//!
//! Passing the same mutex twice is a bug that this module reports with a panic before
//! locking anything: locking a mutex twice on one thread would deadlock, and two guards of the
//! same mutex would give two mutable references to its data.

use crate::sync::{Mutex, MutexGuard};

/// Where a lock stands in the global acquisition order: compared field by field.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
struct OrderKey {
    rank: Option<u32>,
    sequence: u64,
    address: usize,
}

impl OrderKey {
    fn of<T: ?Sized>(lock: &Mutex<T>) -> OrderKey {
        OrderKey {
            rank: lock.rank(),
            sequence: lock.sequence(),
            address: address_of(lock),
        }
    }
}

/// The lock's address: a mutex is never zero-sized, so two distinct live mutexes never share
/// one.
fn address_of<T: ?Sized>(lock: &Mutex<T>) -> usize {
    std::ptr::from_ref(lock).cast::<()>().addr()
}

/// Sorts `order` (argument positions into `locks`) into acquisition order.
///
/// # Panics
///
/// When a mutex appears twice in `locks`.
#[track_caller]
fn sort_into_acquisition_order<T: ?Sized>(locks: &[&Mutex<T>], order: &mut [usize]) {
    order.sort_unstable_by_key(|&position| OrderKey::of(locks[position]));
    // The same lock has the same key, so duplicates end up next to each other.
    for pair in order.windows(2) {
        if address_of(locks[pair[0]]) == address_of(locks[pair[1]]) {
            let (first, second) = (pair[0].min(pair[1]), pair[0].max(pair[1]));
            panic!(
                "lockscan::lock_all: the same mutex is at positions {first} and {second}; a \
                 thread cannot hold a mutex twice, so pass each mutex once"
            );
        }
    }
}

/// Locks every mutex of `locks` in the global order and returns the guards in argument order:
/// `guards[i]` guards `locks[i]`.
///
/// Two threads calling `lock_all([&a, &b])` and `lock_all([&b, &a])` cannot deadlock on `a` and
/// `b`: both take them in the same order. See the [module docs](crate::order) for the order.
///
/// Accepts an array (`[&a, &b]`, giving an array of guards), a slice or a `Vec` of references
/// to mutexes of one type (giving a `Vec` of guards). For two mutexes of different types, use
/// [`lock_both`].
///
/// ```
/// use lockscan::Mutex;
///
/// let checking = Mutex::named("doc:checking", 100);
/// let savings = Mutex::named("doc:savings", 50);
///
/// // Move 30 from savings to checking: the argument order is the caller's, the lock order
/// // is lockscan's.
/// let [mut to, mut from] = lockscan::lock_all([&checking, &savings]);
/// *from -= 30;
/// *to += 30;
/// drop((to, from));
///
/// let accounts: Vec<Mutex<i32>> = (0..4).map(Mutex::new).collect();
/// let picked: Vec<&Mutex<i32>> = vec![&accounts[3], &accounts[0], &accounts[2]];
/// let guards = lockscan::lock_all(picked);
/// assert_eq!(guards.iter().map(|g| **g).collect::<Vec<_>>(), [3, 0, 2]);
/// # drop(guards);
/// # assert_eq!(*checking.lock(), 130);
/// # assert_eq!(*savings.lock(), 20);
/// ```
///
/// # Panics
///
/// When the same mutex is passed twice (before locking anything); and like [`Mutex::lock`],
/// when an acquisition closes a lock-order cycle under the `panic` policy or would complete a
/// deadlock. Guards already taken are released when it unwinds.
///
/// ```should_panic
/// let a = lockscan::Mutex::new(0);
/// let _ = lockscan::lock_all([&a, &a]); // the same mutex twice
/// ```
///
/// Locks with declared ranks of equal value may not be held together; `lock_all` cannot change
/// that, and lockscan reports it as an `order-violation`.
#[track_caller]
pub fn lock_all<'a, L: LockSet<'a>>(locks: L) -> L::Guards {
    locks.lock_in_global_order()
}

/// Locks two mutexes, of any data types, in the global order and returns their guards in
/// argument order.
///
/// ```
/// use lockscan::Mutex;
///
/// let balance = Mutex::named("doc:balance", 100_u64);
/// let history = Mutex::named("doc:history", Vec::<String>::new());
///
/// let (mut balance_guard, mut history_guard) = lockscan::lock_both(&balance, &history);
/// *balance_guard -= 25;
/// history_guard.push("withdrew 25".to_owned());
/// # drop((balance_guard, history_guard));
/// # assert_eq!(*balance.lock(), 75);
/// ```
///
/// # Panics
///
/// When `a` and `b` are the same mutex (before locking anything), and like [`Mutex::lock`].
#[track_caller]
pub fn lock_both<'a, 'b, A: ?Sized, B: ?Sized>(
    a: &'a Mutex<A>,
    b: &'b Mutex<B>,
) -> (MutexGuard<'a, A>, MutexGuard<'b, B>) {
    if address_of(a) == address_of(b) {
        panic!(
            "lockscan::lock_both: both arguments are the same mutex; a thread cannot hold a \
             mutex twice"
        );
    }
    if OrderKey::of(a) < OrderKey::of(b) {
        let a_guard = a.lock();
        (a_guard, b.lock())
    } else {
        let b_guard = b.lock();
        (a.lock(), b_guard)
    }
}

/// A set of same-typed mutexes that [`lock_all`] can lock: an array, a slice or a `Vec` of
/// `&Mutex<T>`.
///
/// ```
/// use lockscan::{LockSet, Mutex};
///
/// let shards: Vec<Mutex<u32>> = (0..3).map(Mutex::new).collect();
/// let all: Vec<&Mutex<u32>> = shards.iter().rev().collect();
/// // The same as `lockscan::lock_all(all)`: guards in the set's order, locked in lockscan's.
/// let guards = all.lock_in_global_order();
/// assert_eq!(guards.iter().map(|g| **g).collect::<Vec<_>>(), [2, 1, 0]);
/// ```
pub trait LockSet<'a> {
    /// The guards, in the order of the mutexes in the set.
    type Guards;

    /// Locks every mutex in the global order; see [`lock_all`].
    #[track_caller]
    fn lock_in_global_order(self) -> Self::Guards;
}

impl<'a, T: ?Sized, const N: usize> LockSet<'a> for [&'a Mutex<T>; N] {
    type Guards = [MutexGuard<'a, T>; N];

    #[track_caller]
    fn lock_in_global_order(self) -> Self::Guards {
        let mut order: [usize; N] = std::array::from_fn(|position| position);
        sort_into_acquisition_order(&self, &mut order);
        let mut guards: [Option<MutexGuard<'a, T>>; N] = [const { None }; N];
        // A loop, not a closure: `#[track_caller]` does not reach into closures, and the
        // edges should point at the caller of `lock_all`.
        for position in order {
            guards[position] = Some(self[position].lock());
        }
        guards.map(|guard| guard.expect("every position was locked"))
    }
}

impl<'a, T: ?Sized> LockSet<'a> for &[&'a Mutex<T>] {
    type Guards = Vec<MutexGuard<'a, T>>;

    #[track_caller]
    fn lock_in_global_order(self) -> Self::Guards {
        let mut order: Vec<usize> = (0..self.len()).collect();
        sort_into_acquisition_order(self, &mut order);
        let mut guards: Vec<Option<MutexGuard<'a, T>>> = self.iter().map(|_| None).collect();
        for position in order {
            guards[position] = Some(self[position].lock());
        }
        guards
            .into_iter()
            .map(|guard| guard.expect("every position was locked"))
            .collect()
    }
}

impl<'a, T: ?Sized> LockSet<'a> for Vec<&'a Mutex<T>> {
    type Guards = Vec<MutexGuard<'a, T>>;

    #[track_caller]
    fn lock_in_global_order(self) -> Self::Guards {
        self.as_slice().lock_in_global_order()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_compare_rank_then_sequence_then_address() {
        let key = |rank, sequence, address| OrderKey {
            rank,
            sequence,
            address,
        };
        assert!(
            key(None, 9, 9) < key(Some(0), 1, 1),
            "unranked locks come first"
        );
        assert!(key(Some(1), 9, 9) < key(Some(2), 1, 1));
        assert!(key(Some(1), 1, 9) < key(Some(1), 2, 1));
        assert!(key(None, 0, 1) < key(None, 0, 2), "the address breaks ties");
    }

    #[test]
    fn the_order_ignores_the_argument_order() {
        let locks: Vec<Mutex<u8>> = (0..5).map(Mutex::new).collect();
        let forward: Vec<&Mutex<u8>> = locks.iter().collect();
        let backward: Vec<&Mutex<u8>> = locks.iter().rev().collect();
        let mut forward_order: Vec<usize> = (0..5).collect();
        let mut backward_order = forward_order.clone();
        sort_into_acquisition_order(&forward, &mut forward_order);
        sort_into_acquisition_order(&backward, &mut backward_order);
        let forward_locks: Vec<usize> = forward_order
            .iter()
            .map(|&i| address_of(forward[i]))
            .collect();
        let backward_locks: Vec<usize> = backward_order
            .iter()
            .map(|&i| address_of(backward[i]))
            .collect();
        assert_eq!(forward_locks, backward_locks);
    }

    #[test]
    fn without_detection_the_address_decides() {
        let locks: Vec<Mutex<()>> = (0..3).map(|_| Mutex::new(())).collect();
        let refs: Vec<&Mutex<()>> = locks.iter().rev().collect();
        let mut order: Vec<usize> = (0..3).collect();
        sort_into_acquisition_order(&refs, &mut order);
        if crate::is_active() {
            // Ids come from a counter on first use: here the order of the sort's first look.
            let sequences: Vec<u64> = order.iter().map(|&i| refs[i].sequence()).collect();
            assert!(sequences.is_sorted(), "{sequences:?}");
        } else {
            let addresses: Vec<usize> = order.iter().map(|&i| address_of(refs[i])).collect();
            assert!(addresses.is_sorted(), "{addresses:?}");
            assert!(refs.iter().all(|lock| lock.sequence() == 0));
        }
    }

    #[test]
    fn empty_and_single_sets_work() {
        let none: [&Mutex<u8>; 0] = [];
        let [] = lock_all(none);
        let one = Mutex::new(7);
        let [guard] = lock_all([&one]);
        assert_eq!(*guard, 7);
        drop(guard);
        assert!(lock_all(&[][..] as &[&Mutex<u8>]).is_empty());
    }

    #[test]
    #[should_panic(expected = "the same mutex is at positions 0 and 2")]
    fn a_duplicate_is_named_by_its_positions() {
        let a = Mutex::new(1);
        let b = Mutex::new(2);
        let _guards = lock_all([&a, &b, &a]);
    }
}
