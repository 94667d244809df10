//! Nothing panics, whatever the input: property tests over random bytes, random lines and
//! random event sequences.

use lockscan::analysis::{Analysis, Replay, ReplayOptions};
use lockscan::ids::{CondvarId, Flavour, LockId, LockKind, Mode, ThreadId};
use lockscan::report::OutputFormat;
use lockscan::report::Summary;
use lockscan::trace::{Event, InputFormat, TraceReader};
use proptest::prelude::*;

fn analyze_bytes(bytes: &[u8], format: InputFormat) -> usize {
    let mut reader = match TraceReader::new(bytes, "prop", format) {
        Ok(reader) => reader,
        // Detection found no trace format: an error, not a panic.
        Err(lockscan::trace::TraceError::NotATrace { .. }) if format == InputFormat::Auto => {
            return 1;
        }
        Err(err) => panic!("reading memory cannot fail: {err}"),
    };
    let mut errors = 0;
    let result = Replay::default().run(&mut reader, |_| errors += 1);
    result.findings.len() + errors
}

/// One STD-like line: valid pieces and junk, to reach deep into the parser.
fn std_line() -> impl Strategy<Value = String> {
    let thread = prop_oneof![Just("T1"), Just("T2"), Just("3"), Just(""), Just("T|")];
    let op = prop_oneof![
        Just("acq"),
        Just("rel"),
        Just("req"),
        Just("tryacq"),
        Just("racq"),
        Just("rrel"),
        Just("wait"),
        Just("notify"),
        Just("notifyAll"),
        Just("fork"),
        Just("join"),
        Just("r"),
        Just("w"),
        Just("begin"),
        Just("ac"),
    ];
    let arg = prop_oneof![
        Just("L1"),
        Just("L2"),
        Just("1"),
        Just("T2"),
        Just(""),
        Just("x y")
    ];
    let tail = prop_oneof![Just("|1"), Just("|"), Just(""), Just("*|2"), Just("|1|2")];
    (thread, op, arg, tail, any::<bool>()).prop_map(|(t, o, a, tail, parens)| {
        if parens {
            format!("{t}|{o}({a}){tail}")
        } else {
            format!("{t}|{o}{tail}")
        }
    })
}

/// One JSONL-like line.
fn jsonl_line() -> impl Strategy<Value = String> {
    let kind = prop_oneof![
        Just("acquire"),
        Just("release"),
        Just("request"),
        Just("wait"),
        Just("notify"),
        Just("spawn"),
        Just("join"),
        Just("lock"),
        Just("end"),
        Just("bogus"),
    ];
    (kind, 0u64..4, 0u64..4, any::<bool>(), 0usize..60).prop_map(|(k, a, b, t, cut)| {
        let line = format!(
            r#"{{"type":"{k}","tid":{a},"lock":{b},"child":{b},"condvar":{b},"kind":"mutex","try":{t}}}"#
        );
        // Sometimes cut short, as a killed writer leaves it.
        if cut < line.len() && cut % 7 == 0 {
            line[..cut].to_owned()
        } else {
            line
        }
    })
}

/// A random event: small id ranges so that threads meet on locks.
pub(super) fn event() -> impl Strategy<Value = Event> {
    let t = (0u64..4).prop_map(ThreadId);
    let l = (0u64..5).prop_map(LockId);
    let mode = prop_oneof![
        Just(Mode::Exclusive),
        Just(Mode::Shared),
        Just(Mode::Upgradable)
    ];
    let kind = prop_oneof![
        Just(LockKind::Mutex),
        Just(LockKind::RwLock),
        Just(LockKind::Reentrant),
        Just(LockKind::Semaphore)
    ];
    prop_oneof![
        (t.clone(), l.clone(), mode.clone(), any::<bool>()).prop_map(
            |(tid, lock, mode, try_lock)| {
                Event::Acquire {
                    tid,
                    lock,
                    mode,
                    try_lock,
                    flavour: Flavour::Plain,
                    site: None,
                }
            }
        ),
        (t.clone(), l.clone(), mode.clone()).prop_map(|(tid, lock, mode)| Event::Release {
            tid,
            lock,
            mode,
            site: None
        }),
        (t.clone(), l.clone(), mode).prop_map(|(tid, lock, mode)| Event::Request {
            tid,
            lock,
            mode,
            flavour: Flavour::Plain,
            site: None
        }),
        (t.clone(), 0u64..2, l.clone()).prop_map(|(tid, c, lock)| Event::Wait {
            tid,
            condvar: CondvarId(c),
            lock,
            site: None
        }),
        (t.clone(), 0u64..2, any::<bool>()).prop_map(|(tid, c, all)| Event::Notify {
            tid,
            condvar: CondvarId(c),
            all,
            site: None
        }),
        (t.clone(), t.clone()).prop_map(|(tid, child)| Event::Spawn {
            tid,
            child,
            site: None
        }),
        (t.clone(), t).prop_map(|(tid, child)| Event::Join {
            tid,
            child,
            site: None
        }),
        (l, kind).prop_map(|(lock, kind)| Event::Lock {
            lock,
            kind,
            name: Some(format!("n{}", lock.0 % 3).into()),
            class: None,
            site: None,
            rank: None
        }),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn random_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..400)) {
        for format in [InputFormat::Auto, InputFormat::Jsonl, InputFormat::Std] {
            analyze_bytes(&bytes, format);
        }
    }

    #[test]
    fn random_std_lines_never_panic(lines in proptest::collection::vec(std_line(), 0..40)) {
        analyze_bytes(lines.join("\n").as_bytes(), InputFormat::Std);
    }

    #[test]
    fn random_jsonl_lines_never_panic(lines in proptest::collection::vec(jsonl_line(), 0..40)) {
        let text = format!(
            "{{\"type\":\"header\",\"format\":\"lockscan-trace\",\"version\":1}}\n{}",
            lines.join("\n")
        );
        analyze_bytes(text.as_bytes(), InputFormat::Jsonl);
    }

    #[test]
    fn random_event_sequences_never_panic_and_render(
        first in proptest::collection::vec(event(), 0..80),
        second in proptest::collection::vec(event(), 0..80),
    ) {
        let mut analysis = Analysis::default();
        for (name, events) in [("a", first), ("b", second)] {
            let mut replay = Replay::new(ReplayOptions::default());
            for event in events {
                replay.event(event);
            }
            analysis.add(name, replay.finish());
        }
        let findings = analysis.finish();
        for format in OutputFormat::ALL {
            let mut out = Vec::new();
            format
                .renderer(true)
                .render(&findings, &Summary::default(), &mut out)
                .expect("rendering to memory cannot fail");
        }
    }
}

/// A compact trace of two sites, `src/a.rs:1:1` and `src/b.rs:2:2`, each used by a lock's
/// declaration.
fn two_sites() -> Vec<u8> {
    use lockscan::trace::{CompactWriter, Header};
    let mut writer = CompactWriter::new(Vec::new(), &Header::default()).unwrap();
    for (lock, site) in [(1, "src/a.rs:1:1"), (2, "src/b.rs:2:2")] {
        writer
            .write(&Event::Lock {
                lock: LockId(lock),
                kind: LockKind::Mutex,
                name: None,
                class: None,
                site: Some(site.into()),
                rank: None,
            })
            .unwrap();
    }
    writer
        .write(&Event::End {
            events: None,
            dropped: Some(0),
        })
        .unwrap();
    std::mem::take(writer.get_mut())
}

fn read_all(bytes: &[u8]) -> (Vec<Event>, Vec<lockscan::trace::TraceWarning>) {
    let mut reader = TraceReader::new(bytes, "t.lstrace", InputFormat::Compact).unwrap();
    let events = reader.by_ref().map(Result::unwrap).collect();
    (events, reader.warnings().to_vec())
}

/// A `site` record repeated shifted every later site by one, silently: the second lock was
/// said to be made at the first lock's line.
#[test]
fn a_repeated_site_record_is_a_warning_at_its_offset() {
    let good = two_sites();
    let (_, warnings) = read_all(&good);
    assert_eq!(warnings, []);
    // Tag 1 (`site`), the text's length, the text.
    let record = b"\x01\x0csrc/a.rs:1:1";
    let at = good
        .windows(record.len())
        .position(|w| w == record)
        .unwrap();
    let end = at + record.len();
    let mut bytes = good[..end].to_vec();
    bytes.extend_from_slice(record);
    bytes.extend_from_slice(&good[end..]);
    let (_, warnings) = read_all(&bytes);
    let repeated: Vec<String> = warnings
        .iter()
        .filter(|w| matches!(w, lockscan::trace::TraceWarning::DuplicateSite { .. }))
        .map(ToString::to_string)
        .collect();
    assert_eq!(repeated.len(), 1, "{warnings:?}");
    assert!(
        repeated[0].starts_with(&format!(
            "t.lstrace: byte {end}: the site `src/a.rs:1:1` is defined a second time (as site 2)"
        )),
        "{}",
        repeated[0]
    );
}

/// A lock declared a mutex and then, with the same id, a read-write lock was taken silently.
#[test]
fn a_lock_declared_again_with_another_kind_is_a_warning_at_its_offset() {
    use lockscan::trace::{CompactWriter, Header};
    let mut writer = CompactWriter::new(Vec::new(), &Header::default()).unwrap();
    let lock = |kind| Event::Lock {
        lock: LockId(7),
        kind,
        name: None,
        class: None,
        site: None,
        rank: None,
    };
    writer.write(&lock(LockKind::Mutex)).unwrap();
    // The same declaration again is no damage.
    writer.write(&lock(LockKind::Mutex)).unwrap();
    let at = writer.get_mut().len();
    writer.write(&lock(LockKind::RwLock)).unwrap();
    writer
        .write(&Event::End {
            events: None,
            dropped: Some(0),
        })
        .unwrap();
    let (_, warnings) = read_all(writer.get_mut());
    let messages: Vec<String> = warnings.iter().map(ToString::to_string).collect();
    assert_eq!(
        messages,
        [format!(
            "t.lstrace: byte {at}: lock 7 is declared again as a rwlock, after being declared a \
             mutex"
        )]
    );
}

/// Recorders before version 4 wrote one `site` record per `Location`, and two `Location`s can
/// have one `file:line:col` (monomorphized copies): a text defined again in such a trace is
/// no damage, and `--fail-on warning` failed on an intact old trace.
#[test]
fn a_site_defined_again_before_version_4_is_no_warning() {
    // The second lock's site made the same text as the first's: sites 1 and 2 are both
    // `src/a.rs:1:1`, each used by one declaration, as an older recorder wrote them.
    let mut bytes = two_sites();
    let second = b"src/b.rs:2:2";
    let at = bytes
        .windows(second.len())
        .position(|w| w == second)
        .unwrap();
    bytes[at..at + second.len()].copy_from_slice(b"src/a.rs:1:1");
    let version_at = lockscan::trace::compact::MAGIC.len();
    assert_eq!(
        u64::from(bytes[version_at]),
        lockscan::trace::compact::COMPACT_VERSION
    );
    let sites = |events: &[Event]| -> Vec<String> {
        events
            .iter()
            .filter_map(|event| match event {
                Event::Lock { site, .. } => site.as_ref().map(ToString::to_string),
                _ => None,
            })
            .collect()
    };
    for version in [1, 2, 3] {
        bytes[version_at] = version;
        let (events, warnings) = read_all(&bytes);
        assert_eq!(warnings, [], "version {version}");
        assert_eq!(sites(&events), ["src/a.rs:1:1", "src/a.rs:1:1"]);
    }
    // From version 4 on, writers define each text once: the same bytes are a repeated record.
    bytes[version_at] = 4;
    let (_, warnings) = read_all(&bytes);
    assert!(
        matches!(
            warnings[..],
            [lockscan::trace::TraceWarning::DuplicateSite { number: 2, .. }]
        ),
        "{warnings:?}"
    );
}

/// The JSONL reader took a lock declared a mutex and then a read-write lock silently, while
/// the compact reader warned: both readers warn now.
#[test]
fn a_lock_declared_again_with_another_kind_in_jsonl_is_a_warning_on_its_line() {
    let text = "{\"type\":\"header\",\"format\":\"lockscan-trace\",\"version\":1}\n\
                {\"type\":\"lock\",\"lock\":7,\"kind\":\"mutex\"}\n\
                {\"type\":\"lock\",\"lock\":7,\"kind\":\"mutex\"}\n\
                {\"type\":\"lock\",\"lock\":7,\"kind\":\"rwlock\"}\n\
                {\"type\":\"end\",\"events\":4,\"dropped\":0}\n";
    let mut reader = TraceReader::new(text.as_bytes(), "t.jsonl", InputFormat::Jsonl).unwrap();
    let events: Vec<Event> = reader.by_ref().map(Result::unwrap).collect();
    assert_eq!(events.len(), 5);
    let messages: Vec<String> = reader.warnings().iter().map(ToString::to_string).collect();
    assert_eq!(
        messages,
        ["t.jsonl:4: lock 7 is declared again as a rwlock, after being declared a mutex"]
    );
}
