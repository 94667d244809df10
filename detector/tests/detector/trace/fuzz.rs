//! The fuzz target: valid traces in both encodings (JSON Lines and compact), written from
//! random events with sites, then mutated byte by byte (flips, insertions, deletions, copied and
//! repeated spans, truncation) and fed to the readers and the replay. Nothing may panic and
//! nothing may hang, whatever the bytes.
//!
//! Proptest-driven, so it runs on stable in `cargo test`, with a modest number of cases; set
//! `LOCKSCAN_FUZZ_CASES` to run more:
//!
//! ```text
//! LOCKSCAN_FUZZ_CASES=100000 cargo test -p lockscan --test detector fuzz --release
//! ```

use std::sync::mpsc;
use std::time::Duration;

use lockscan::Site;
use lockscan::analysis::Replay;
use lockscan::trace::{CompactWriter, Event, Header, InputFormat, JsonlWriter, TraceReader};
use proptest::prelude::*;
use proptest::strategy::ValueTree;

use super::robust::event;

/// How long one mutated trace may take to read and replay before it counts as a hang: far
/// more than a few hundred events need, even in a debug build on a loaded machine.
const HANG: Duration = Duration::from_secs(60);

fn cases() -> u32 {
    std::env::var("LOCKSCAN_FUZZ_CASES")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(64)
}

/// `event` with a site, as recorded traces have them (the compact encoding declares each).
fn with_site(event: Event, line: u32) -> Event {
    let site = Some(Site::from(format!("src/fuzz.rs:{line}:9").as_str()));
    match event {
        Event::Acquire {
            tid,
            lock,
            mode,
            try_lock,
            flavour,
            ..
        } => Event::Acquire {
            tid,
            lock,
            mode,
            try_lock,
            flavour,
            site,
        },
        Event::Release {
            tid, lock, mode, ..
        } => Event::Release {
            tid,
            lock,
            mode,
            site,
        },
        Event::Wait {
            tid, condvar, lock, ..
        } => Event::Wait {
            tid,
            condvar,
            lock,
            site,
        },
        other => other,
    }
}

/// The trace of `events` in `format`: the header first and an `end` record last. Events a
/// writer refuses (the encodings differ in what they carry) are left out.
fn encode(events: &[Event], format: InputFormat) -> Vec<u8> {
    let header = Header {
        version: 1,
        tool: Some("fuzz".into()),
        pid: Some(7),
        program: Some("fuzz".into()),
    };
    let end = Event::End {
        events: None,
        dropped: Some(0),
    };
    if format == InputFormat::Compact {
        let mut writer = CompactWriter::new(Vec::new(), &header).expect("writing to memory");
        for event in events.iter().chain([&end]) {
            let _ = writer.write(event);
        }
        std::mem::take(writer.get_mut())
    } else {
        let mut writer = JsonlWriter::new(Vec::new());
        for event in std::iter::once(&Event::Header(header))
            .chain(events)
            .chain([&end])
        {
            let _ = writer.write(event);
        }
        std::mem::take(writer.get_mut())
    }
}

#[derive(Clone, Debug)]
enum Mutation {
    Flip(usize, u8),
    Insert(usize, Vec<u8>),
    Delete(usize, usize),
    /// A span copied to another place: a record duplicated or moved.
    Copy(usize, usize, usize),
    Truncate(usize),
}

fn mutation() -> impl Strategy<Value = Mutation> {
    let at = any::<usize>();
    prop_oneof![
        4 => (at, any::<u8>()).prop_map(|(at, byte)| Mutation::Flip(at, byte)),
        2 => (at, proptest::collection::vec(any::<u8>(), 1..6))
            .prop_map(|(at, bytes)| Mutation::Insert(at, bytes)),
        2 => (at, 1..12_usize).prop_map(|(at, len)| Mutation::Delete(at, len)),
        2 => (at, 1..64_usize, at)
            .prop_map(|(from, len, to)| Mutation::Copy(from, len, to)),
        1 => at.prop_map(Mutation::Truncate),
    ]
}

fn mutate(bytes: &mut Vec<u8>, mutation: &Mutation) {
    let place = |at: usize, len: usize| if len == 0 { 0 } else { at % len };
    match *mutation {
        Mutation::Flip(at, byte) if !bytes.is_empty() => {
            let at = place(at, bytes.len());
            bytes[at] ^= byte | 1;
        }
        Mutation::Insert(at, ref new) => {
            let at = place(at, bytes.len() + 1);
            bytes.splice(at..at, new.iter().copied());
        }
        Mutation::Delete(at, len) if !bytes.is_empty() => {
            let at = place(at, bytes.len());
            bytes.drain(at..(at + len).min(bytes.len()));
        }
        Mutation::Copy(from, len, to) if !bytes.is_empty() => {
            let from = place(from, bytes.len());
            let span: Vec<u8> = bytes[from..(from + len).min(bytes.len())].to_vec();
            let to = place(to, bytes.len() + 1);
            bytes.splice(to..to, span);
        }
        Mutation::Truncate(at) => bytes.truncate(place(at, bytes.len() + 1)),
        _ => {}
    }
}

/// Reads and replays `bytes` as `format` on a thread of its own, failing on a panic there or
/// when it takes longer than [`HANG`].
fn read_and_replay(bytes: Vec<u8>, format: InputFormat) {
    let (done, finished) = mpsc::channel();
    let worker = std::thread::spawn(move || {
        if let Ok(mut reader) = TraceReader::new(bytes.as_slice(), "fuzz", format) {
            let result = Replay::default().run(&mut reader, |_| {});
            // Render what was found, as `lockscan analyze` does.
            for finding in &result.findings {
                let _ = finding.to_string();
            }
        }
        let _ = done.send(());
    });
    match finished.recv_timeout(HANG) {
        Ok(()) => worker.join().expect("the replay does not panic"),
        Err(mpsc::RecvTimeoutError::Disconnected) => {
            if let Err(panic) = worker.join() {
                std::panic::resume_unwind(panic);
            }
        }
        Err(mpsc::RecvTimeoutError::Timeout) => {
            panic!("reading and replaying a mutated trace took over {HANG:?}: a hang")
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(cases()))]

    /// Mutated JSON Lines and compact traces, read as what they are and as detected.
    #[test]
    fn mutated_traces_in_both_encodings_never_panic_or_hang(
        events in proptest::collection::vec(event(), 0..60),
        mutations in proptest::collection::vec(mutation(), 1..6),
    ) {
        let events: Vec<Event> = events
            .into_iter()
            .enumerate()
            .map(|(line, event)| with_site(event, line as u32 % 5 + 1))
            .collect();
        for format in [InputFormat::Jsonl, InputFormat::Compact] {
            let mut bytes = encode(&events, format);
            for mutation in &mutations {
                mutate(&mut bytes, mutation);
            }
            read_and_replay(bytes.clone(), format);
            read_and_replay(bytes, InputFormat::Auto);
        }
    }
}

/// The seeds are whole traces: unmutated, both encodings read back every event written.
#[test]
fn the_fuzz_seeds_read_back_whole_in_both_encodings() {
    let mut runner = proptest::test_runner::TestRunner::deterministic();
    let events: Vec<Event> = (0..200)
        .map(|line| {
            let event = event().new_tree(&mut runner).expect("a value").current();
            with_site(event, line % 5 + 1)
        })
        .collect();
    for format in [InputFormat::Jsonl, InputFormat::Compact] {
        let bytes = encode(&events, format);
        let mut reader = TraceReader::new(bytes.as_slice(), "seed", format).expect("a trace");
        let mut errors = Vec::new();
        let result = Replay::default().run(&mut reader, |error| errors.push(error.to_string()));
        assert!(errors.is_empty(), "{format:?}: {errors:?}");
        assert!(result.events >= 200, "{format:?}: {} events", result.events);
    }
}
