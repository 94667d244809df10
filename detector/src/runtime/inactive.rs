//! The runtime when detection is off: nothing, inlined away.

use std::borrow::Cow;
use std::panic::Location;

use crate::engine::race::VarState;
use crate::finding::Finding;
use crate::ids::{Flavour, LockKind, Mode, ThreadId};

/// Empty: an inactive lock carries no metadata, so it has parking_lot's exact size.
#[derive(Debug)]
pub(crate) struct LockMeta;

impl LockMeta {
    #[inline(always)]
    pub(crate) const fn new(_kind: LockKind, _class: &'static Location<'static>) -> Self {
        LockMeta
    }

    #[inline(always)]
    pub(crate) const fn unclassified(_kind: LockKind) -> Self {
        LockMeta
    }

    #[inline(always)]
    pub(crate) fn named(
        _kind: LockKind,
        _class: &'static Location<'static>,
        _name: Cow<'static, str>,
    ) -> Self {
        LockMeta
    }

    #[inline(always)]
    pub(crate) const fn set_rank(&mut self, _rank: u32) {}

    /// Ranks are kept only for detection.
    #[inline(always)]
    pub(crate) fn rank(&self) -> Option<u32> {
        None
    }

    /// Without ids, nothing orders inactive locks: callers fall back to addresses.
    #[inline(always)]
    pub(crate) fn sequence(&self) -> u64 {
        0
    }

    #[inline(always)]
    pub(crate) fn lock<G>(
        &self,
        _mode: Mode,
        _recursive: bool,
        _site: &'static Location<'static>,
        _attempt: impl FnOnce() -> Option<G>,
        block: impl FnOnce() -> G,
    ) -> G {
        block()
    }

    #[inline(always)]
    pub(crate) fn try_lock<G>(
        &self,
        _mode: Mode,
        _flavour: Flavour,
        _site: &'static Location<'static>,
        attempt: impl FnOnce() -> Option<G>,
    ) -> Option<G> {
        attempt()
    }

    #[inline(always)]
    pub(crate) fn release(&self, _mode: Mode) {}

    #[inline(always)]
    pub(crate) fn release_for_wait(
        &self,
        _condvar: &CondvarMeta,
        _site: &'static Location<'static>,
    ) {
    }

    #[inline(always)]
    pub(crate) fn relocked(&self, _mode: Mode, _site: &'static Location<'static>) {}

    #[inline(always)]
    pub(crate) fn upgrade<G, W>(
        &self,
        _site: &'static Location<'static>,
        guard: G,
        _attempt: impl FnOnce(G) -> Result<W, G>,
        block: impl FnOnce(G) -> W,
    ) -> W {
        block(guard)
    }

    #[inline(always)]
    pub(crate) fn relock_on_drop(&self, _mode: Mode, _site: &'static Location<'static>) -> Relock {
        Relock
    }

    #[inline(always)]
    pub(crate) fn change_mode(&self, _from: Mode, _to: Mode, _site: &'static Location<'static>) {}

    #[inline(always)]
    pub(crate) fn before_wait(&self, _site: &'static Location<'static>) {}
}

/// Empty: an inactive condition variable is parking_lot's.
#[derive(Debug)]
pub(crate) struct CondvarMeta;

impl CondvarMeta {
    #[inline(always)]
    pub(crate) const fn new(_site: &'static Location<'static>) -> Self {
        CondvarMeta
    }

    #[inline(always)]
    pub(crate) fn notified(&self, _all: bool, _site: &'static Location<'static>) {}
}

/// Nothing to hand over: without detection, threads carry no clocks.
#[derive(Debug)]
pub(crate) struct Fork;

#[inline(always)]
pub(crate) fn fork(_site: &'static Location<'static>) -> Fork {
    Fork
}

#[inline(always)]
pub(crate) fn adopt(_fork: Fork) {}

/// Nothing: without detection, threads carry no clocks.
#[derive(Clone, Debug, Default)]
pub(crate) struct ThreadClocks;

#[inline(always)]
pub(crate) fn final_clock() -> ThreadClocks {
    ThreadClocks
}

#[inline(always)]
pub(crate) fn joined(
    _child: ThreadId,
    _clocks: Option<&ThreadClocks>,
    _site: &'static Location<'static>,
) {
}

#[inline(always)]
pub(crate) fn child_id(_fork: &Fork) -> ThreadId {
    ThreadId(0)
}

/// No thread's spawn is seen without detection (only the recorder asks, which never runs).
#[inline(always)]
pub(crate) fn spawned_by() -> Option<ThreadId> {
    None
}

/// Runs `spawn`: without detection, nothing stands in front of `pthread_create`.
#[inline(always)]
pub(crate) fn untracked_spawn<R>(spawn: impl FnOnce() -> R) -> R {
    spawn()
}

/// Empty: without detection, a tracked value is a value behind a mutex.
#[derive(Debug)]
pub(crate) struct VarMeta;

impl VarMeta {
    #[inline(always)]
    pub(crate) const fn new(
        _class: &'static Location<'static>,
        _name: Option<&'static str>,
    ) -> Self {
        VarMeta
    }

    #[inline(always)]
    pub(crate) fn access(
        &self,
        _state: &mut VarState,
        _write: bool,
        _site: &'static Location<'static>,
    ) -> Vec<Finding> {
        Vec::new()
    }
}

/// Names are kept only for reports, which an inactive build has none of.
pub(crate) fn intern(name: Cow<'static, str>) -> &'static str {
    match name {
        Cow::Borrowed(name) => name,
        Cow::Owned(_) => "",
    }
}

/// Nothing to record when detection is off.
#[derive(Debug)]
pub(crate) struct Relock;

/// Nothing records without detection.
#[inline(always)]
pub(crate) fn record_finding(_finding: &Finding) {}

/// No stacks without detection: it finds nothing to add them to.
#[inline(always)]
pub(crate) fn add_stack(_finding: &mut Finding) {}
