//! lockscan's JSON Lines traces: the streaming reader (with the feature `analyze`), and the
//! writer, which recording uses and which writes its JSON by hand (`trace::format::json`).

#[cfg(feature = "analyze")]
mod fast;
#[cfg(feature = "analyze")]
mod reader;
mod writer;

#[cfg(feature = "analyze")]
pub use reader::JsonlReader;
pub use writer::JsonlWriter;

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::writer::to_record;
    use super::*;
    use crate::ids::{CondvarId, Flavour, LockId, LockKind, Mode, ThreadId, VarId};
    use crate::site::Site;
    use crate::trace::{Event, Header, TraceError, TraceWarning};

    #[test]
    fn lock_lines_written_directly_are_the_bytes_serde_writes() {
        let sites = [
            None,
            Some(Site::from("src/a \"b\".rs:1:2")),
            Some(Site::caller()),
        ];
        for site in sites {
            for mode in [Mode::Exclusive, Mode::Shared, Mode::Upgradable] {
                for (try_lock, flavour) in [
                    (false, Flavour::Plain),
                    (true, Flavour::Plain),
                    (false, Flavour::Recursive),
                    (true, Flavour::Timed),
                ] {
                    let acquire = Event::Acquire {
                        tid: ThreadId(3),
                        lock: LockId(123_456),
                        mode,
                        try_lock,
                        flavour,
                        site: site.clone(),
                    };
                    let release = Event::Release {
                        tid: ThreadId(3),
                        lock: LockId(9),
                        mode,
                        site: site.clone(),
                    };
                    for event in [acquire, release] {
                        let mut direct = JsonlWriter::new(Vec::new());
                        direct.write(&event).unwrap();
                        let serde = serde_json::to_string(&to_record(&event, 0)).unwrap();
                        assert_eq!(String::from_utf8(direct.out).unwrap(), serde + "\n");
                    }
                }
            }
        }
    }

    /// One event of every kind, each with and without its optional fields, strings that need
    /// escaping, and a site of each kind.
    fn every_kind_of_event() -> Vec<Event> {
        let awkward = "a \"quoted\"\\ name\twith\u{1} é ✓";
        let sites = [
            None,
            Some(Site::from("src/\"x\".rs:1:2")),
            Some(Site::caller()),
        ];
        let name = |named: bool| named.then(|| Arc::from(awkward));
        let mut events = vec![
            Event::Header(Header::default()),
            Event::Header(Header {
                version: 7,
                tool: Some("lockscan 0.1.0".into()),
                pid: Some(4242),
                program: name(true),
            }),
            Event::End {
                events: None,
                dropped: None,
            },
            Event::End {
                events: Some(12),
                dropped: Some(3),
            },
        ];
        for (index, site) in sites.into_iter().enumerate() {
            let named = index != 1;
            let (tid, other) = (ThreadId(index as u64 + 1), ThreadId(99));
            events.extend([
                Event::Thread {
                    tid,
                    name: name(named),
                    parent: named.then_some(other),
                },
                Event::Lock {
                    lock: LockId(5),
                    kind: [LockKind::Mutex, LockKind::RwLock, LockKind::Reentrant][index],
                    name: name(named),
                    class: name(!named),
                    site: site.clone(),
                    rank: named.then_some(3),
                },
                Event::Condvar {
                    condvar: CondvarId(6),
                    name: name(named),
                    site: site.clone(),
                },
                Event::Var {
                    var: VarId(8),
                    name: name(named),
                    site: site.clone(),
                },
                Event::Spawn {
                    tid,
                    child: other,
                    site: site.clone(),
                },
                Event::Join {
                    tid,
                    child: other,
                    site: site.clone(),
                },
                Event::Wait {
                    tid,
                    condvar: CondvarId(6),
                    lock: LockId(5),
                    site: site.clone(),
                },
                Event::Notify {
                    tid,
                    condvar: CondvarId(6),
                    all: named,
                    site: site.clone(),
                },
                Event::Read {
                    tid,
                    var: VarId(8),
                    site: site.clone(),
                },
                Event::Write {
                    tid,
                    var: VarId(8),
                    site: site.clone(),
                },
            ]);
            for mode in [Mode::Exclusive, Mode::Shared, Mode::Upgradable] {
                // A flavour other than plain writes one more field.
                let flavour = if mode == Mode::Shared {
                    Flavour::Recursive
                } else {
                    Flavour::Plain
                };
                events.push(Event::Request {
                    tid,
                    lock: LockId(5),
                    mode,
                    flavour,
                    site: site.clone(),
                });
                for try_lock in [false, true] {
                    events.push(Event::Acquire {
                        tid,
                        lock: LockId(5),
                        mode,
                        try_lock,
                        flavour,
                        site: site.clone(),
                    });
                }
                events.push(Event::Release {
                    tid,
                    lock: LockId(5),
                    mode,
                    site: site.clone(),
                });
            }
        }
        let mut bare = crate::Finding::new(crate::FindingKind::Deadlock, "m");
        bare.reason.clear();
        let mut full = crate::Finding::new(crate::FindingKind::PotentialDeadlock, awkward);
        full.reason = awkward.into();
        full.help = Some("take them in one order".into());
        full.site = Some(Site::caller());
        full.locks = vec!["a".into(), awkward.into()];
        full.threads = vec!["t1".into(), "t2".into()];
        full.edges = vec![
            crate::FindingEdge {
                from: "a".into(),
                to: "b".into(),
                thread: "t1".into(),
                from_site: Some(Site::from("src/a.rs:1:2")),
                to_site: Some(Site::caller()),
                from_mode: Mode::Shared,
                to_mode: Mode::Upgradable,
                held: vec!["c".into()],
                blocked: true,
                backtrace: None,
            },
            crate::FindingEdge {
                from: "b".into(),
                to: "a".into(),
                thread: "t2".into(),
                from_site: None,
                to_site: None,
                from_mode: Mode::Exclusive,
                to_mode: Mode::Exclusive,
                held: Vec::new(),
                blocked: false,
                backtrace: None,
            },
        ];
        events.extend([bare, full].map(|f| Event::Finding(Box::new(f))));
        events
    }

    #[test]
    fn every_record_written_by_hand_is_the_bytes_serde_json_writes() {
        for event in &every_kind_of_event() {
            let mut writer = JsonlWriter::new(Vec::new());
            writer.write(event).unwrap();
            let serde = serde_json::to_string(&to_record(event, 0)).unwrap();
            assert_eq!(String::from_utf8(writer.out).unwrap(), serde + "\n");
        }
    }

    const HEADER: &str = r#"{"type":"header","format":"lockscan-trace","version":1}"#;

    fn read(text: &str) -> (Vec<Result<Event, TraceError>>, Vec<TraceWarning>) {
        let mut reader = JsonlReader::new(text.as_bytes(), "t.jsonl");
        let events: Vec<_> = reader.by_ref().collect();
        (events, reader.warnings().to_vec())
    }

    #[test]
    fn reads_the_spec_example() {
        let text = concat!(
            r#"{"type":"header","format":"lockscan-trace","version":1,"tool":"lockscan 0.1.0","pid":4242,"program":"bank"}"#,
            "\n",
            r#"{"type":"thread","tid":1,"name":"main"}"#,
            "\n",
            r#"{"type":"lock","lock":1,"kind":"mutex","name":"account:ACC001","site":"demos/src/bank.rs:31:19"}"#,
            "\n",
            r#"{"type":"spawn","tid":1,"child":2}"#,
            "\n",
            r#"{"type":"acquire","tid":2,"lock":1,"site":"demos/src/bank.rs:58:21","ts_ns":18230,"future_field":[1,2]}"#,
            "\n",
            r#"{"type":"release","tid":2,"lock":1,"mode":"exclusive"}"#,
            "\n",
            r#"{"type":"end","events":6}"#,
            "\n",
        );
        let (events, warnings) = read(text);
        let events: Vec<Event> = events.into_iter().map(Result::unwrap).collect();
        assert!(warnings.is_empty(), "{warnings:?}");
        assert_eq!(events.len(), 7);
        assert_eq!(
            events[2],
            Event::Lock {
                lock: LockId(1),
                kind: LockKind::Mutex,
                name: Some("account:ACC001".into()),
                class: None,
                site: Some(Site::from("demos/src/bank.rs:31:19")),
                rank: None,
            }
        );
        assert_eq!(
            events[4],
            Event::Acquire {
                tid: ThreadId(2),
                lock: LockId(1),
                mode: Mode::Exclusive,
                try_lock: false,
                flavour: Flavour::Plain,
                site: Some(Site::from("demos/src/bank.rs:58:21")),
            }
        );
    }

    /// The shared acquisitions of `text`'s records after its header, with their flavours.
    fn shared_flavours(text: &str) -> Vec<Flavour> {
        read(text)
            .0
            .into_iter()
            .filter_map(|event| match event.unwrap() {
                Event::Acquire {
                    mode: Mode::Shared,
                    flavour,
                    ..
                }
                | Event::Request {
                    mode: Mode::Shared,
                    flavour,
                    ..
                } => Some(flavour),
                _ => None,
            })
            .collect()
    }

    #[test]
    fn flavours_are_read_and_a_trace_without_them_reads_shared_acquisitions_as_recursive() {
        let records = concat!(
            r#"{"type":"request","tid":1,"lock":1,"mode":"shared"}"#,
            "
",
            r#"{"type":"acquire","tid":1,"lock":1,"mode":"shared"}"#,
            "
",
            r#"{"type":"acquire","tid":1,"lock":1,"mode":"shared","flavour":"recursive"}"#,
            "
",
            r#"{"type":"acquire","tid":1,"lock":1,"mode":"shared","try":true,"flavour":"timed"}"#,
            "
",
        );
        let with = r#"{"type":"header","format":"lockscan-trace","version":1,"flavours":true}"#;
        assert_eq!(
            shared_flavours(&format!(
                "{with}
{records}"
            )),
            [
                Flavour::Plain,
                Flavour::Plain,
                Flavour::Recursive,
                Flavour::Timed
            ]
        );
        // Written before acquisitions said how: a shared one may have been a recursive read.
        assert_eq!(
            shared_flavours(&format!("{HEADER}\n{records}")),
            [
                Flavour::Recursive,
                Flavour::Recursive,
                Flavour::Recursive,
                Flavour::Timed
            ]
        );
        // What this writer writes says so.
        let mut writer = JsonlWriter::new(Vec::new());
        writer.write(&Event::Header(Header::default())).unwrap();
        let written = String::from_utf8(writer.out).unwrap();
        assert!(written.contains(r#""flavours":true"#), "{written}");
        assert_eq!(
            shared_flavours(&format!("{written}{records}"))[..2],
            [Flavour::Plain, Flavour::Plain]
        );
    }

    #[test]
    fn a_missing_field_names_the_field_and_the_line() {
        let text = format!("{HEADER}\n{{\"type\":\"acquire\",\"tid\":1}}\n{{\"type\":\"end\"}}\n");
        let (events, _) = read(&text);
        let err = events[1].as_ref().unwrap_err().to_string();
        assert_eq!(
            err,
            "t.jsonl:2: expected the field `lock` in a `acquire` record, found no such field"
        );
        assert!(events[2].is_ok(), "reading goes on after a bad line");
    }

    #[test]
    fn bad_values_are_errors() {
        for (line, expected) in [
            (
                r#"{"type":"acquire","tid":1,"lock":2,"mode":"both"}"#,
                "`mode`",
            ),
            (
                r#"{"type":"lock","lock":2,"kind":"spinlock"}"#,
                "lock `kind`",
            ),
            (r#"{"type":"frobnicate"}"#, "a record type"),
            (
                r#"{"type":"acquire","tid":1,"lock":2,"flavour":"sideways"}"#,
                "a `flavour` of",
            ),
            (
                r#"{"type":"acquire","tid":"one","lock":2}"#,
                "a valid record",
            ),
            (r#"[1,2]"#, "a valid record"),
            ("not json", "a JSON object"),
        ] {
            let (events, warnings) = read(&format!("{HEADER}\n{line}\n"));
            let err = events[1].as_ref().unwrap_err().to_string();
            assert!(err.starts_with("t.jsonl:2: expected "), "{err}");
            assert!(err.contains(expected), "{line}: {err}");
            assert!(
                warnings
                    .iter()
                    .all(|w| !matches!(w, TraceWarning::TruncatedLastLine { .. }))
            );
        }
    }

    #[test]
    fn a_truncated_last_line_is_a_warning() {
        let text = format!("{HEADER}\n{{\"type\":\"acquire\",\"tid\":1,\"lo");
        let (events, warnings) = read(&text);
        assert_eq!(events.len(), 1);
        assert!(events[0].is_ok());
        assert!(matches!(
            warnings[0],
            TraceWarning::TruncatedLastLine { line: 2, .. }
        ));
        assert!(matches!(warnings[1], TraceWarning::MissingEnd { .. }));
    }

    #[test]
    fn a_cut_off_line_in_the_middle_is_an_error() {
        let text = format!("{HEADER}\n{{\"type\":\"acquire\",\"tid\":1,\"lo\n{{\"type\":\"end\"}}");
        let (events, warnings) = read(&text);
        assert!(events[1].is_err());
        assert!(
            events[2].is_ok(),
            "an unterminated but complete last line is fine"
        );
        assert!(warnings.is_empty(), "{warnings:?}");
    }

    #[test]
    fn header_checks() {
        let (events, _) = read("{\"type\":\"thread\",\"tid\":1}\n");
        assert!(
            events[0]
                .as_ref()
                .unwrap_err()
                .to_string()
                .contains("`header`")
        );
        assert!(
            matches!(events[1], Ok(Event::Thread { .. })),
            "the record is kept: {events:?}"
        );
        let (events, _) =
            read("{\"type\":\"header\",\"format\":\"lockscan-trace\",\"version\":2}\n");
        assert!(
            events[0]
                .as_ref()
                .unwrap_err()
                .to_string()
                .contains("version")
        );
        let (events, _) = read("{\"type\":\"header\",\"format\":\"other\",\"version\":1}\n");
        assert!(events[0].is_err());
    }

    #[test]
    fn the_end_record_count_is_checked() {
        let text = format!("{HEADER}\n{{\"type\":\"thread\",\"tid\":1}}\n\n");
        let (_, warnings) = read(&format!("{text}{{\"type\":\"end\",\"events\":2}}\n"));
        assert!(warnings.is_empty(), "{warnings:?}");
        // One record short: a line was lost.
        let (_, warnings) = read(&format!("{text}{{\"type\":\"end\",\"events\":1}}\n"));
        assert_eq!(warnings.len(), 1);
        let (_, warnings) = read(&format!("{text}{{\"type\":\"end\",\"events\":3}}\n"));
        assert_eq!(
            warnings,
            [TraceWarning::EventCountMismatch {
                file: "t.jsonl".into(),
                written: 3,
                read: 2
            }]
        );
    }

    #[test]
    fn dropped_events_and_a_missing_end_are_warnings() {
        let (_, warnings) = read(&format!("{HEADER}\n{{\"type\":\"end\",\"dropped\":3}}\n"));
        assert_eq!(warnings.len(), 1);
        assert!(matches!(
            warnings[0],
            TraceWarning::DroppedEvents { dropped: 3, .. }
        ));
        let (_, warnings) = read(&format!("{HEADER}\n"));
        assert!(matches!(warnings[0], TraceWarning::MissingEnd { .. }));
    }

    #[test]
    fn escaped_strings_and_blank_lines_are_fine() {
        let text = format!(
            "{HEADER}\n\n{{\"type\":\"lock\",\"lock\":1,\"kind\":\"reentrant\",\"name\":\"a\\\"b\"}}\r\n"
        );
        let (events, _) = read(&text);
        assert_eq!(events.len(), 2);
        match events[1].as_ref().unwrap() {
            Event::Lock { name, kind, .. } => {
                assert_eq!(name.as_deref(), Some("a\"b"));
                assert_eq!(*kind, LockKind::Reentrant);
            }
            other => panic!("{other:?}"),
        }
    }
}
