//! The common path allocates nothing: counted by a global allocator that counts, per thread,
//! the allocations of the thread that makes them (tests run in parallel).

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;

use lockscan::analysis::Replay;
use lockscan::trace::{InputFormat, TraceReader};

struct CountingAllocator;

thread_local! {
    // `const` and without destructor: touching it cannot allocate or fail in the allocator.
    static ALLOCATIONS: Cell<u64> = const { Cell::new(0) };
}

fn count() {
    let _ = ALLOCATIONS.try_with(|n| n.set(n.get() + 1));
}

// SAFETY: every method forwards to `System` with the caller's arguments unchanged, so the
// `GlobalAlloc` contract holds exactly as it does for `System`; counting touches no memory
// that the allocator hands out.
unsafe impl GlobalAlloc for CountingAllocator {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        count();
        // SAFETY: forwarded unchanged; the caller upholds `alloc`'s contract.
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: forwarded unchanged; `ptr` came from `System` through this allocator.
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        count();
        // SAFETY: forwarded unchanged; `ptr` came from `System` through this allocator.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static ALLOCATOR: CountingAllocator = CountingAllocator;

fn allocations() -> u64 {
    ALLOCATIONS.with(Cell::get)
}

/// Allocations per event while reading and replaying `text` (the events, not `finish`).
fn allocations_per_event(text: &str) -> f64 {
    // The counter must see allocations, or every assertion below would pass vacuously.
    let probe = allocations();
    drop(std::hint::black_box(Vec::<u8>::with_capacity(16)));
    assert_eq!(allocations(), probe + 1, "the counting allocator counts");
    let mut reader = TraceReader::new(text.as_bytes(), "t", InputFormat::Auto).unwrap();
    let mut replay = Replay::default();
    let before = allocations();
    let mut events = 0u64;
    for event in reader.by_ref() {
        replay.event(event.expect("valid trace"));
        events += 1;
    }
    let per_event = (allocations() - before) as f64 / events as f64;
    drop(replay.finish());
    per_event
}

#[test]
fn replaying_a_repetitive_std_trace_does_not_allocate_per_event() {
    let mut text = String::new();
    for i in 0..20_000 {
        let t = i % 4;
        let (a, b) = (i % 7, 7 + i % 5);
        text.push_str(&format!(
            "T{t}|req(L{a})|{a}\nT{t}|acq(L{a})|{a}\nT{t}|r(V1)|9\nT{t}|req(L{b})|{b}\n\
             T{t}|acq(L{b})|{b}\nT{t}|rel(L{b})|{b}\nT{t}|rel(L{a})|{a}\n"
        ));
    }
    let per_event = allocations_per_event(&text);
    assert!(per_event < 0.01, "{per_event} allocations per event");
}

#[test]
fn replaying_a_repetitive_jsonl_trace_does_not_allocate_per_event() {
    let mut text =
        String::from("{\"type\":\"header\",\"format\":\"lockscan-trace\",\"version\":1}\n");
    for i in 0..20_000 {
        let t = i % 4;
        text.push_str(&format!(
            "{{\"type\":\"acquire\",\"tid\":{t},\"lock\":1,\"site\":\"src/a.rs:1:1\"}}\n\
             {{\"type\":\"request\",\"tid\":{t},\"lock\":2,\"mode\":\"exclusive\",\"site\":\"src/a.rs:2:1\"}}\n\
             {{\"type\":\"acquire\",\"tid\":{t},\"lock\":2,\"site\":\"src/a.rs:2:1\"}}\n\
             {{\"type\":\"release\",\"tid\":{t},\"lock\":2}}\n\
             {{\"type\":\"release\",\"tid\":{t},\"lock\":1}}\n"
        ));
    }
    let per_event = allocations_per_event(&text);
    assert!(per_event < 0.01, "{per_event} allocations per event");
}
