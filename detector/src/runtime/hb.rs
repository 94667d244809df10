//! Happens-before for race detection: thread clocks handed over at spawn and join, and the
//! check of every access to a tracked variable.

use std::panic::Location;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use crate::raw::Mutex;

use super::lazy_id::LazyId;
use super::recorder::{self, Rec, RecordSeq};
use super::state::{self, ThreadClocks};
use crate::engine::clock::VectorClock;
use crate::engine::race::note_unseen_spawns;
use crate::engine::race::{VarState, race_finding};
use crate::finding::Finding;
use crate::ids::{ThreadId, VarId};
use crate::site::Site;

/// Set when a tracked variable is first accessed: from then on, lock operations also maintain
/// clocks. A program without tracked values never pays for them.
static RACES: AtomicBool = AtomicBool::new(false);

#[inline]
pub(crate) fn races_on() -> bool {
    RACES.load(Ordering::Relaxed)
}

/// What a parent hands to the thread it spawns.
#[derive(Debug)]
pub(crate) struct Fork {
    child: ThreadId,
    /// The spawning thread; `ThreadId(0)` when it had no state any more (a spawn from a
    /// thread-local destructor).
    parent: ThreadId,
    clocks: ThreadClocks,
    /// The recording in which the spawn was recorded (0: none): the child's events come after
    /// it in that recording's trace.
    recorded_spawn: u64,
}

/// The parent side of a `lockscan::thread` spawn: picks the child's id, and everything the
/// parent did so far happens before the child. Like any lockscan operation, it starts the
/// recording `LOCKSCAN_TRACE` asks for.
pub(crate) fn fork(site: &'static Location<'static>) -> Fork {
    fork_recorded_if(site, recorder::on)
}

/// The parent side of any spawn; `recording` says whether to record it (and may start the
/// recording).
pub(super) fn fork_recorded_if(
    site: &'static Location<'static>,
    recording: impl FnOnce() -> bool,
) -> Fork {
    let child = state::new_thread_id();
    let (parent, clocks) = state::with(|st| {
        let parent = st.id();
        let clocks = st.clocks();
        st.tick();
        (Some(parent), clocks)
    })
    .unwrap_or_default();
    let mut recorded_spawn = 0;
    if let Some(parent) = parent
        && recording()
    {
        recorded_spawn = recorder::epoch();
        recorder::record(parent, Rec::Spawn { child, site });
    }
    Fork {
        child,
        parent: parent.unwrap_or(ThreadId(0)),
        clocks,
        recorded_spawn,
    }
}

/// The child side of a `lockscan::thread` spawn, first thing in the new thread.
pub(crate) fn adopt(fork: Fork) {
    state::with(|st| adopt_into(st, fork));
}

/// Makes `st`, the current thread's fresh state, the thread `fork` spawned: eagerly for
/// `lockscan::thread`, at the thread's first step lockscan sees for a `std::thread`
/// (`ThreadState::id`).
pub(super) fn adopt_into(st: &mut state::ThreadState, fork: Fork) {
    st.adopt(fork.child, &fork.clocks);
    state::set_spawned_by(fork.parent);
    // Its first record: the trace puts it after the parent's spawn.
    if recorder::running() && fork.recorded_spawn == recorder::epoch() {
        recorder::record(fork.child, Rec::Start);
    }
}

/// The spawn of the current thread, when a `pthread_create` lockscan stands in front of
/// started it and the thread has not taken it yet.
#[inline]
pub(super) fn take_started_fork() -> Option<Fork> {
    #[cfg(lockscan_std_threads)]
    return super::std_threads::take_started_fork();
    #[cfg(not(lockscan_std_threads))]
    None
}

/// The clocks of the current thread, handed to whoever joins it, last thing in the thread.
pub(crate) fn final_clock() -> ThreadClocks {
    let Some((thread, mut clocks)) = state::with(|st| (st.id(), st.final_clocks())) else {
        return ThreadClocks::default();
    };
    if recorder::running() {
        // Its join comes after all of its events in the trace.
        clocks.recorded_exit = recorder::epoch();
        recorder::record(thread, Rec::Exit);
    }
    clocks
}

/// The parent side of a join: it learns everything the child did.
pub(crate) fn joined(
    child: ThreadId,
    clocks: Option<&ThreadClocks>,
    site: &'static Location<'static>,
) {
    let parent = state::with(|st| {
        if let Some(clocks) = clocks {
            st.join(clocks);
        }
        st.id()
    });
    if let Some(parent) = parent
        && recorder::running()
    {
        let after_exit = clocks.is_some_and(|c| c.recorded_exit == recorder::epoch());
        recorder::record(
            parent,
            Rec::Join {
                child,
                site,
                after_exit,
            },
        );
    }
}

/// The child's id, for a join record.
pub(crate) fn child_id(fork: &Fork) -> ThreadId {
    fork.child
}

static NEXT_VAR: AtomicU64 = AtomicU64::new(1);

/// What a tracked variable knows about itself.
#[derive(Debug)]
pub(crate) struct VarMeta {
    id: LazyId,
    /// Its accesses in the running recording, numbered for the trace's reader.
    recorded: RecordSeq,
    class: &'static Location<'static>,
    name: Option<&'static str>,
}

impl VarMeta {
    pub(crate) const fn new(class: &'static Location<'static>, name: Option<&'static str>) -> Self {
        VarMeta {
            id: LazyId::new(),
            recorded: RecordSeq::new(),
            class,
            name,
        }
    }

    fn id(&self) -> VarId {
        VarId(
            self.id
                .get_or_assign(|| NEXT_VAR.fetch_add(1, Ordering::Relaxed)),
        )
    }

    fn display_name(&self) -> String {
        match self.name {
            Some(name) => name.to_owned(),
            None => Site::Caller(self.class).to_string(),
        }
    }

    /// Checks and records an access; `state` is the variable's, under its internal lock. The
    /// race, if any, is returned to be reported once that lock is released (a policy may panic
    /// or run a hook that reads the variable).
    pub(crate) fn access(
        &self,
        state: &mut VarState,
        write: bool,
        site: &'static Location<'static>,
    ) -> Vec<Finding> {
        if !RACES.load(Ordering::Relaxed) {
            RACES.store(true, Ordering::SeqCst);
            super::switches::turned_on(super::switches::RACES);
        }
        let Some((thread, races)) = state::with(|st| {
            let thread = st.id();
            st.accessed = true;
            if !st.registered {
                st.registered = true;
                super::order_graph::register_thread(thread, state::current_thread_name(thread));
            }
            let now = &st.clock;
            let site = Some(Site::Caller(site));
            let race = if write {
                state.write(thread, now, site)
            } else {
                state.read(thread, now, site)
            };
            (thread, race)
        }) else {
            return Vec::new();
        };
        if recorder::on() {
            let var = self.id();
            // Under the variable's internal lock, but numbered atomically all the same: the
            // lock is not this one's to rely on.
            let seq = self.recorded.next_shared(recorder::epoch());
            if seq == 0 {
                recorder::declare_var(var, self.name, self.class);
            }
            recorder::record(
                thread,
                Rec::Access {
                    write,
                    var,
                    seq,
                    site,
                },
            );
        }
        races
            .iter()
            .map(|race| {
                let mut finding = race_finding(&self.display_name(), race, thread_name);
                let unseen: Vec<String> = super::order_graph::names(|names| {
                    [race.earlier.thread, race.later.thread]
                        .into_iter()
                        .filter(|&t| names.spawn_unseen(t))
                        .map(|t| names.thread_name(t))
                        .collect()
                });
                note_unseen_spawns(&mut finding, &unseen);
                finding
            })
            .collect()
    }
}

/// A thread's name for reports: the registered one, else its id.
fn thread_name(thread: ThreadId) -> String {
    super::order_graph::names(|names| names.thread_name(thread))
}

/// Lock clocks: what the last release of a lock knew, for the next acquirer.
#[derive(Debug)]
pub(crate) struct LockClock(Mutex<VectorClock>);

impl LockClock {
    pub(crate) const fn new() -> Self {
        LockClock(Mutex::new(VectorClock::new()))
    }

    /// After acquiring: the thread learns what the releasers knew.
    pub(crate) fn acquired(&self) {
        let released = self.0.lock();
        state::with(|st| st.clock.join(&released));
    }

    /// Before releasing, with the thread's state at hand.
    pub(super) fn releasing(&self, thread: ThreadId, clock: &mut VectorClock) {
        self.0.lock().join(clock);
        clock.tick(thread);
    }
}
