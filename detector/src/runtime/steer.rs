//! Steering points: the pause before a blocking acquisition that may close a predicted cycle
//! (the public side, the format and the options: `crate::steer`).
//!
//! `LockMeta::lock` calls [`point`] before it does anything else. With nothing to steer towards
//! that is one relaxed load of [`STATE`]. Otherwise the acquisition is compared with every
//! installed cycle's edges (the lock taken and the site, then a held lock as the edge's
//! `from`); on a match the thread *arrives* at the edge, and waits — bounded — until arrivals
//! at every edge of the cycle, by distinct threads, line up: each one wants the lock the next
//! one holds. Those threads are let go together; each then requests its lock and the wait
//! cycle forms, which `waits` reports and breaks. Nothing here changes what a thread does
//! next, only when.

use std::panic::Location;
use std::sync::Arc;
use std::sync::atomic::{AtomicU8, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use super::LockMeta;
use super::state;
use super::switches;
use crate::ids::{LockId, ThreadId};
use crate::raw::{Condvar, Mutex, RwLock};
use crate::steer::{
    Cycle, LockMatcher, Options, STATS_LINE_PREFIX, STEER_BUDGET_ENV, STEER_ENV, STEER_PAUSE_ENV,
    SiteMatcher, Stats,
};

const UNKNOWN: u8 = 0;
const OFF: u8 = 1;
const ON: u8 = 2;

/// Whether any cycle is steered towards: `UNKNOWN` until the environment was read.
static STATE: AtomicU8 = AtomicU8::new(UNKNOWN);

/// The cycles steered towards. Read at every acquisition while steering is on (a shared lock:
/// steering is for confirming runs, not for speed), written when a cycle comes or goes.
static CYCLES: RwLock<Vec<Arc<Steered>>> = RwLock::new(Vec::new());

/// The steering point of a blocking acquisition of `meta` at `site`. A single relaxed load
/// when nothing is steered.
#[inline(always)]
pub(crate) fn point(meta: &LockMeta, site: &'static Location<'static>) {
    if STATE.load(Ordering::Relaxed) != OFF {
        arrive(meta, site);
    }
}

#[cold]
#[inline(never)]
fn arrive(meta: &LockMeta, site: &'static Location<'static>) {
    if STATE.load(Ordering::Relaxed) == UNKNOWN {
        start_from_env();
    }
    let Some((steered, thread, fits)) = arrival_at(meta, site) else {
        return;
    };
    steered.meet(thread, meta.id(), fits);
}

/// The edges of a cycle a thread is at, each with the held lock that is the edge's `from`.
type Fits = Vec<(usize, LockId)>;

/// The first steered cycle with an edge this acquisition is at: the lock taken and the site are
/// the edge's `to` and site, and the thread holds its `from`. With the thread and, per edge it
/// is at, the held lock.
fn arrival_at(
    meta: &LockMeta,
    site: &'static Location<'static>,
) -> Option<(Arc<Steered>, ThreadId, Fits)> {
    let cycles = CYCLES.read();
    let info = meta.info();
    let class = (info.class.file(), info.class.line(), info.class.column());
    let here = (site.file(), site.line(), site.column());
    for steered in cycles.iter() {
        let mut edges = steered
            .edges
            .iter()
            .enumerate()
            .filter(|(_, e)| e.site.matches(here) && e.to.matches(info.name, class))
            .peekable();
        if edges.peek().is_none() {
            continue;
        }
        // The innermost hold of each edge's `from`.
        let (thread, fits) = state::with(|st| {
            let fits: Fits = edges
                .filter_map(|(index, edge)| {
                    let held = st.held.iter().rev().find(|h| {
                        let c = h.info.class;
                        edge.from
                            .matches(h.info.name, (c.file(), c.line(), c.column()))
                    })?;
                    Some((index, held.id))
                })
                .collect();
            (st.id(), fits)
        })?;
        if !fits.is_empty() {
            return Some((Arc::clone(steered), thread, fits));
        }
    }
    None
}

/// Reads [`STEER_ENV`] once; a malformed value is said on standard error and steers nothing.
#[cold]
fn start_from_env() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        let cycles = std::env::var(STEER_ENV)
            .ok()
            .filter(|s| !s.trim().is_empty());
        let Some(spec) = cycles else {
            known_off();
            return;
        };
        let options = Options::from_env_values(
            std::env::var(STEER_PAUSE_ENV).ok().as_deref(),
            std::env::var(STEER_BUDGET_ENV).ok().as_deref(),
        );
        let parsed = options.and_then(|options| Ok((Cycle::parse_all(&spec)?, options)));
        match parsed {
            Ok((cycles, options)) => {
                let mut installed = CYCLES.write();
                for cycle in cycles {
                    installed.push(Arc::new(Steered::new(cycle, options, true)));
                }
                STATE.store(ON, Ordering::SeqCst);
                switches::turned_on(switches::STEER);
                // SAFETY: `say_stats_at_exit` is an `extern "C" fn()` that does not unwind (it
                // catches panics) and only touches statics that live for the whole process.
                unsafe { libc::atexit(say_stats_at_exit) };
            }
            Err(err) => {
                eprintln!("lockscan: {STEER_ENV} ignored: {err}");
                known_off();
            }
        }
    });
}

/// The environment steers nothing: off, unless a cycle was installed meanwhile.
fn known_off() {
    if STATE
        .compare_exchange(UNKNOWN, OFF, Ordering::SeqCst, Ordering::Relaxed)
        .is_ok()
    {
        switches::turned_off(switches::STEER, || STATE.load(Ordering::SeqCst) != OFF);
    }
}

/// At exit, one line per cycle the environment named: what steering did, for
/// `lockscan confirm` to say what was tried. Only processes that reached a steering point say
/// it (a test binary that never took the cycle's locks stays quiet).
extern "C" fn say_stats_at_exit() {
    let _ = std::panic::catch_unwind(|| {
        use std::io::Write;
        let cycles = CYCLES.read();
        let mut err = std::io::stderr().lock();
        for steered in cycles.iter().filter(|s| s.from_env) {
            let stats = steered.stats();
            if stats.points > 0 {
                let _ = writeln!(err, "{STATS_LINE_PREFIX} {stats}");
            }
        }
    });
}

/// Starts steering towards `cycle`.
pub(crate) fn install(cycle: Cycle, options: Options) -> Arc<Steered> {
    if STATE.load(Ordering::Relaxed) == UNKNOWN {
        start_from_env();
    }
    let steered = Arc::new(Steered::new(cycle, options, false));
    CYCLES.write().push(Arc::clone(&steered));
    STATE.store(ON, Ordering::SeqCst);
    switches::turned_on(switches::STEER);
    steered
}

/// Stops steering towards a cycle [`install`] returned; the threads paused at its points go on.
/// With `wait`, returns once none of them is paused any more (each pause is bounded).
pub(crate) fn remove(steered: &Arc<Steered>, wait: bool) {
    let mut cycles = CYCLES.write();
    cycles.retain(|c| !Arc::ptr_eq(c, steered));
    if cycles.is_empty() {
        STATE.store(OFF, Ordering::SeqCst);
        switches::turned_off(switches::STEER, || STATE.load(Ordering::SeqCst) != OFF);
    }
    drop(cycles);
    let mut meeting = steered.meeting.lock();
    meeting.removed = true;
    for arrival in &mut meeting.arrivals {
        arrival.released = true;
    }
    steered.wake.notify_all();
    while wait && meeting.paused > 0 {
        steered.wake.wait(&mut meeting);
    }
}

/// One edge, ready to compare with acquisitions.
#[derive(Debug)]
struct EdgeMatcher {
    from: LockMatcher,
    to: LockMatcher,
    site: SiteMatcher,
    pause: bool,
}

/// A cycle steered towards, with the threads at its points.
#[derive(Debug)]
pub(crate) struct Steered {
    edges: Vec<EdgeMatcher>,
    pause: Duration,
    /// The pause time left, in nanoseconds.
    budget_left: AtomicU64,
    /// Whether the environment named it (its statistics are said at exit).
    from_env: bool,
    meeting: Mutex<Meeting>,
    wake: Condvar,
    stats: Mutex<Stats>,
}

#[derive(Debug, Default)]
struct Meeting {
    arrivals: Vec<Arrival>,
    next_ticket: u64,
    /// Threads paused now.
    paused: usize,
    /// A meeting happened: the cycle's points pause no more.
    met: bool,
    /// The cycle is no longer steered: nobody waits any more.
    removed: bool,
}

/// A thread at a steering point of the cycle.
#[derive(Debug)]
struct Arrival {
    ticket: u64,
    thread: ThreadId,
    /// The lock it is about to request.
    wants: LockId,
    fits: Fits,
    /// Let go by a meeting (or by the end of steering).
    released: bool,
}

impl Steered {
    fn new(cycle: Cycle, options: Options, from_env: bool) -> Steered {
        let edges = cycle
            .edges
            .iter()
            .map(|edge| EdgeMatcher {
                from: LockMatcher::new(&edge.from),
                to: LockMatcher::new(&edge.to),
                // `Cycle::new` checked every site.
                site: SiteMatcher::parse(&edge.site).expect("a checked site"),
                pause: edge.pause,
            })
            .collect();
        Steered {
            edges,
            pause: options.pause,
            budget_left: AtomicU64::new(nanos(options.budget)),
            from_env,
            meeting: Mutex::new(Meeting::default()),
            wake: Condvar::new(),
            stats: Mutex::new(Stats::default()),
        }
    }

    pub(crate) fn stats(&self) -> Stats {
        *self.stats.lock()
    }

    /// `thread`, about to request `wants`, is at the edges `fits`: completes a meeting, or
    /// waits for one up to the pause bound (when one of its edges pauses and the budget
    /// allows), or passes.
    fn meet(&self, thread: ThreadId, wants: LockId, fits: Fits) {
        let pauses = fits.iter().any(|&(edge, _)| self.edges[edge].pause);
        let mut meeting = self.meeting.lock();
        if meeting.removed {
            return;
        }
        // Counted under the meeting's lock: whoever sees it also sees the thread paused, or
        // about to be (`Steering::stop` relies on it).
        self.stats.lock().points += 1;
        if meeting.met {
            // The cycle's threads met once, and its wait cycle formed: pausing the threads
            // that go on would only slow the run down.
            return;
        }
        let now = Instant::now();
        let ticket = meeting.next_ticket;
        meeting.next_ticket += 1;
        meeting.arrivals.push(Arrival {
            ticket,
            thread,
            wants,
            fits,
            released: false,
        });
        if let Some(met) = find_meeting(&meeting.arrivals, self.edges.len()) {
            for &index in &met {
                meeting.arrivals[index].released = true;
            }
            // The paused threads remove their own arrival when they wake.
            meeting.arrivals.retain(|a| a.ticket != ticket);
            meeting.met = true;
            drop(meeting);
            self.stats.lock().meetings += 1;
            self.wake.notify_all();
            return;
        }
        let budget = self.budget_left.load(Ordering::Relaxed);
        if !pauses || budget == 0 {
            // It goes on at once: it is at its point only now, so only now can it complete a
            // meeting (it may block on a paused thread's lock next; that thread's pause ends
            // at its bound and the wait cycle forms then).
            meeting.arrivals.retain(|a| a.ticket != ticket);
            drop(meeting);
            if pauses {
                self.stats.lock().over_budget += 1;
            }
            return;
        }
        let bound = self.pause.min(Duration::from_nanos(budget));
        let deadline = now + bound;
        meeting.paused += 1;
        let released = loop {
            let Some(index) = meeting.arrivals.iter().position(|a| a.ticket == ticket) else {
                break true;
            };
            if meeting.arrivals[index].released {
                meeting.arrivals.swap_remove(index);
                break true;
            }
            if Instant::now() >= deadline {
                meeting.arrivals.swap_remove(index);
                break false;
            }
            self.wake.wait_until(&mut meeting, deadline);
        };
        let paused = now.elapsed();
        let _ = self
            .budget_left
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |left| {
                Some(left.saturating_sub(nanos(paused)))
            });
        // Counted before the pause ends for `remove`, which waits for the paused threads.
        let mut stats = self.stats.lock();
        stats.pauses += 1;
        stats.paused_ms += u64::try_from(paused.as_millis()).unwrap_or(u64::MAX);
        if released {
            stats.released += 1;
        } else {
            stats.timeouts += 1;
        }
        drop(stats);
        meeting.paused -= 1;
        if meeting.removed {
            self.wake.notify_all();
        }
    }
}

fn nanos(duration: Duration) -> u64 {
    u64::try_from(duration.as_nanos()).unwrap_or(u64::MAX)
}

/// Arrivals (by index), one per edge of a cycle of `edges` edges, by distinct threads, still
/// waiting, each wanting the lock the next one holds as that edge's `from`. Depth first: a
/// cycle has a handful of edges and a meeting a handful of threads.
fn find_meeting(arrivals: &[Arrival], edges: usize) -> Option<Vec<usize>> {
    // Per edge: the arrival chosen for it and the lock it holds there.
    let mut chosen: Vec<(usize, LockId)> = Vec::with_capacity(edges);
    // Per depth: the next arrival to try.
    let mut next: Vec<usize> = vec![0];
    loop {
        let depth = chosen.len();
        if depth == edges {
            let (last, _) = chosen[depth - 1];
            if arrivals[last].wants == chosen[0].1 {
                return Some(chosen.iter().map(|&(index, _)| index).collect());
            }
            chosen.pop();
            next.pop();
            continue;
        }
        let candidate = next[depth];
        if candidate >= arrivals.len() {
            chosen.pop()?;
            next.pop();
            continue;
        }
        next[depth] += 1;
        let arrival = &arrivals[candidate];
        if arrival.released
            || chosen
                .iter()
                .any(|&(i, _)| arrivals[i].thread == arrival.thread)
        {
            continue;
        }
        let Some(&(_, holds)) = arrival.fits.iter().find(|&&(edge, _)| edge == depth) else {
            continue;
        };
        if let Some(&(before, _)) = chosen.last()
            && arrivals[before].wants != holds
        {
            continue;
        }
        chosen.push((candidate, holds));
        next.push(0);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn arrival(ticket: u64, thread: u64, wants: u64, fits: &[(usize, u64)]) -> Arrival {
        Arrival {
            ticket,
            thread: ThreadId(thread),
            wants: LockId(wants),
            fits: fits.iter().map(|&(e, l)| (e, LockId(l))).collect(),
            released: false,
        }
    }

    #[test]
    fn a_meeting_needs_every_edge_by_distinct_threads_on_the_same_locks() {
        // Thread 1 holds lock 10 and wants 20 (edge 0); thread 2 holds 20 and wants 10 (edge 1).
        let both = [arrival(0, 1, 20, &[(0, 10)]), arrival(1, 2, 10, &[(1, 20)])];
        assert_eq!(find_meeting(&both, 2), Some(vec![0, 1]));
        // One thread alone is no meeting.
        assert_eq!(find_meeting(&both[..1], 2), None);
        // Other instances of the locks' classes: thread 2 holds 30, not what thread 1 wants.
        let elsewhere = [arrival(0, 1, 20, &[(0, 10)]), arrival(1, 2, 10, &[(1, 30)])];
        assert_eq!(find_meeting(&elsewhere, 2), None);
        // The same thread cannot be at both edges.
        let alone = [arrival(0, 1, 20, &[(0, 10)]), arrival(1, 1, 10, &[(1, 20)])];
        assert_eq!(find_meeting(&alone, 2), None);
    }

    #[test]
    fn locks_of_one_class_meet_in_either_role() {
        // Both edges have the same pattern (one class, one site): each arrival fits both.
        let arrivals = [
            arrival(0, 1, 20, &[(0, 10), (1, 10)]),
            arrival(1, 2, 10, &[(0, 20), (1, 20)]),
        ];
        assert_eq!(find_meeting(&arrivals, 2), Some(vec![0, 1]));
    }

    #[test]
    fn three_threads_meet_in_cycle_order() {
        // 1 holds 10 wants 20, 2 holds 20 wants 30, 3 holds 30 wants 10; arrived out of order.
        let arrivals = [
            arrival(0, 3, 10, &[(2, 30)]),
            arrival(1, 1, 20, &[(0, 10)]),
            arrival(2, 2, 30, &[(1, 20)]),
        ];
        assert_eq!(find_meeting(&arrivals, 3), Some(vec![1, 2, 0]));
        let mut released = arrivals;
        released[0].released = true;
        assert_eq!(find_meeting(&released, 3), None);
    }
}
