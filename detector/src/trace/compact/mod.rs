//! The compact trace encoding: the same records as the JSONL format (trace-format.md), in a
//! byte stream of 2 to 5 bytes a lock event instead of about 60, and read an order of magnitude
//! faster. The recorder writes it for `*.lstrace` files and for the traces of a `LOCKSCAN_TRACE`
//! directory (unless `LOCKSCAN_TRACE_FORMAT=jsonl`); every command reads it; `lockscan convert`
//! turns it into JSONL and back.
//!
//! The layout is documented in the repository's `docs/trace-compact.md`. In short: [`MAGIC`],
//! the version (2) as a varint, then records of a tag byte and varint or string fields, each
//! written whole (a killed writer leaves a readable prefix). [`CompactWriter`] writes events in
//! one total order as top-level records. The recorder writes each thread's events in `block`s
//! of thread records that carry operation numbers of the objects they touch instead of a tid
//! (`compact/block.rs`), and [`CompactReader`] restores a replay order from them
//! (`compact/merge.rs`).

mod cursor;
pub(crate) mod merge;
mod order;
mod reader;
mod writer;

pub use crate::trace::format::tags::{COMPACT_VERSION, EXTENSION, MAGIC};
pub(crate) use order::BlockOrder;
pub use reader::CompactReader;
pub use writer::CompactWriter;

#[cfg(test)]
mod tests {
    use std::io::{self, Read};

    use super::*;
    use crate::ids::{CondvarId, Flavour, LockId, LockKind, Mode, ThreadId, VarId};
    use crate::site::Site;
    use crate::trace::format::records::{
        end_record, finding_fields, finding_record, preamble, string,
    };
    use crate::trace::format::tags as tag;
    use crate::trace::format::varint::push as varint;
    use crate::trace::wire::{FORMAT_NAME, FORMAT_VERSION, Record, Text, WireFinding};
    use crate::trace::{Event, Header, TraceError, TraceWarning};

    fn header() -> Header {
        Header {
            version: FORMAT_VERSION,
            tool: Some("lockscan test".into()),
            pid: Some(7),
            program: Some("prog".into()),
        }
    }

    fn sample() -> Vec<Event> {
        let site = Some(Site::from("src/a.rs:1:2"));
        vec![
            Event::Header(header()),
            Event::Thread {
                tid: ThreadId(1),
                name: Some("main".into()),
                parent: None,
            },
            Event::Thread {
                tid: ThreadId(300),
                name: Some("worker".into()),
                parent: Some(ThreadId(1)),
            },
            Event::Lock {
                lock: LockId(70_000),
                kind: LockKind::RwLock,
                name: Some("table".into()),
                class: Some("src/a.rs:9:9".into()),
                site: site.clone(),
                rank: Some(3),
            },
            Event::Condvar {
                condvar: CondvarId(2),
                name: None,
                site: None,
            },
            Event::Var {
                var: VarId(4),
                name: Some("balance".into()),
                site: site.clone(),
            },
            Event::Spawn {
                tid: ThreadId(1),
                child: ThreadId(300),
                site: site.clone(),
            },
            Event::Request {
                tid: ThreadId(300),
                lock: LockId(70_000),
                mode: Mode::Upgradable,
                flavour: Flavour::Plain,
                site: site.clone(),
            },
            Event::Acquire {
                tid: ThreadId(300),
                lock: LockId(70_000),
                mode: Mode::Shared,
                try_lock: true,
                flavour: Flavour::Plain,
                site: Some(Site::from("src/b.rs:3:4")),
            },
            Event::Request {
                tid: ThreadId(300),
                lock: LockId(70_000),
                mode: Mode::Exclusive,
                flavour: Flavour::Upgrade,
                site: site.clone(),
            },
            Event::Acquire {
                tid: ThreadId(300),
                lock: LockId(70_000),
                mode: Mode::Shared,
                try_lock: false,
                flavour: Flavour::Recursive,
                site: None,
            },
            Event::Acquire {
                tid: ThreadId(300),
                lock: LockId(70_000),
                mode: Mode::Upgradable,
                try_lock: true,
                flavour: Flavour::Timed,
                site: site.clone(),
            },
            Event::Acquire {
                tid: ThreadId(300),
                lock: LockId(70_000),
                mode: Mode::Shared,
                try_lock: false,
                flavour: Flavour::Downgrade,
                site: site.clone(),
            },
            Event::Release {
                tid: ThreadId(300),
                lock: LockId(70_000),
                mode: Mode::Shared,
                site: None,
            },
            Event::Wait {
                tid: ThreadId(1),
                condvar: CondvarId(2),
                lock: LockId(70_000),
                site: site.clone(),
            },
            Event::Notify {
                tid: ThreadId(300),
                condvar: CondvarId(2),
                all: true,
                site: None,
            },
            Event::Read {
                tid: ThreadId(1),
                var: VarId(4),
                site: site.clone(),
            },
            Event::Write {
                tid: ThreadId(1),
                var: VarId(4),
                site,
            },
            Event::Join {
                tid: ThreadId(1),
                child: ThreadId(300),
                site: None,
            },
            Event::End {
                events: Some(19),
                dropped: Some(0),
            },
        ]
    }

    fn encode(events: &[Event]) -> Vec<u8> {
        let Event::Header(header) = &events[0] else {
            panic!("a header first");
        };
        let mut writer = CompactWriter::new(Vec::new(), header).unwrap();
        for event in &events[1..] {
            writer.write(event).unwrap();
        }
        writer.out
    }

    fn decode(bytes: &[u8]) -> (Vec<Result<Event, TraceError>>, Vec<TraceWarning>) {
        let mut reader = CompactReader::new(bytes, "t.lstrace");
        let events: Vec<_> = reader.by_ref().collect();
        (events, reader.warnings().to_vec())
    }

    #[test]
    fn every_record_type_round_trips() {
        let events = sample();
        let (read, warnings) = decode(&encode(&events));
        let read: Vec<Event> = read.into_iter().map(Result::unwrap).collect();
        assert_eq!(read, events);
        assert_eq!(warnings, []);
    }

    #[test]
    fn a_plain_acquisition_has_no_flavour_byte_and_a_flavoured_one_has_one() {
        let acquire = |flavour| Event::Acquire {
            tid: ThreadId(1),
            lock: LockId(2),
            mode: Mode::Shared,
            try_lock: false,
            flavour,
            site: None,
        };
        let bytes = |event: &Event| {
            let mut writer = CompactWriter::new(Vec::new(), &header()).unwrap();
            let before = writer.out.len();
            writer.write(event).unwrap();
            writer.out[before..].to_vec()
        };
        assert_eq!(
            bytes(&acquire(Flavour::Plain)),
            [tag::ACQUIRE | 0x20, 1, 2, 0]
        );
        assert_eq!(
            bytes(&acquire(Flavour::Recursive)),
            [tag::ACQUIRE | tag::FLAVOURED, 1 | 1 << 2, 1, 2, 0]
        );
    }

    #[test]
    fn a_trace_of_an_earlier_version_reads_its_shared_acquisitions_as_recursive() {
        let events = sample();
        let mut bytes = encode(&events);
        assert_eq!(bytes[MAGIC.len()], COMPACT_VERSION as u8);
        let read = |bytes: &[u8]| -> Vec<Event> {
            decode(bytes).0.into_iter().map(Result::unwrap).collect()
        };
        assert_eq!(read(&bytes), events, "this version: as written");
        bytes[MAGIC.len()] = 2;
        let expected: Vec<Event> = events
            .iter()
            .cloned()
            .map(|event| match event {
                Event::Acquire {
                    mode: Mode::Shared,
                    flavour: Flavour::Plain,
                    tid,
                    lock,
                    try_lock,
                    site,
                } => Event::Acquire {
                    tid,
                    lock,
                    mode: Mode::Shared,
                    try_lock,
                    flavour: Flavour::Recursive,
                    site,
                },
                other => other,
            })
            .collect();
        assert_ne!(
            expected, events,
            "the sample has a plain shared acquisition"
        );
        assert_eq!(read(&bytes), expected);
    }

    #[test]
    fn a_bad_flavour_is_an_error() {
        let mut writer = CompactWriter::new(Vec::new(), &header()).unwrap();
        let before = writer.out.len();
        writer
            .write(&Event::Acquire {
                tid: ThreadId(1),
                lock: LockId(2),
                mode: Mode::Shared,
                try_lock: false,
                flavour: Flavour::Timed,
                site: None,
            })
            .unwrap();
        let mut bytes = writer.out;
        bytes[before + 1] = 7 << 2; // flavour 7
        let (read, _) = decode(&bytes);
        let error = read.last().unwrap().as_ref().unwrap_err().to_string();
        assert!(error.contains("a flavour 0 to 4"), "{error}");
    }

    #[test]
    fn a_lock_event_takes_a_few_bytes() {
        let mut events = sample();
        events.truncate(4);
        let before = encode(&events).len();
        for _ in 0..1000 {
            events.push(Event::Acquire {
                tid: ThreadId(300),
                lock: LockId(70_000),
                mode: Mode::Exclusive,
                try_lock: false,
                flavour: Flavour::Plain,
                site: Some(Site::from("src/b.rs:3:4")),
            });
            events.push(Event::Release {
                tid: ThreadId(300),
                lock: LockId(70_000),
                mode: Mode::Exclusive,
                site: None,
            });
        }
        let per_event = (encode(&events).len() - before) as f64 / 2000.0;
        // Tag, thread (2 bytes), lock (3 bytes), site: at most 7, usually fewer.
        assert!(per_event <= 7.5, "{per_event} bytes per event");
    }

    /// An input that has part of the bytes, then says "nothing more yet", then has the rest.
    struct Pending<'a> {
        parts: [&'a [u8]; 2],
        given: usize,
    }

    impl Read for Pending<'_> {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            let part = &mut self.parts[self.given.min(1)];
            if part.is_empty() {
                if self.given == 0 {
                    return Err(io::ErrorKind::WouldBlock.into());
                }
                return Ok(0);
            }
            let n = part.len().min(buf.len());
            buf[..n].copy_from_slice(&part[..n]);
            *part = &part[n..];
            Ok(n)
        }
    }

    #[test]
    fn a_reader_told_to_wait_goes_on_where_it_stopped_when_more_comes() {
        let bytes = encode(&sample());
        let (whole, _) = decode(&bytes);
        for cut in 0..bytes.len() {
            let input = Pending {
                parts: [&bytes[..cut], &bytes[cut..]],
                given: 0,
            };
            let mut reader = CompactReader::new(input, "t.lstrace");
            let mut read: Vec<_> = reader.by_ref().collect();
            reader.get_mut().given = 1;
            read.extend(reader.by_ref());
            assert_eq!(format!("{read:?}"), format!("{whole:?}"), "cut at {cut}");
        }
    }

    #[test]
    fn a_cut_off_last_record_is_a_warning_and_the_prefix_is_read() {
        let bytes = encode(&sample());
        for cut in MAGIC.len() + 2..bytes.len() {
            let (read, warnings) = decode(&bytes[..cut]);
            assert!(read.iter().all(Result::is_ok), "cut at {cut}: {read:?}");
            assert!(
                warnings.iter().any(|w| matches!(
                    w,
                    TraceWarning::TruncatedRecord { .. } | TraceWarning::MissingEnd { .. }
                )),
                "cut at {cut}: {warnings:?}"
            );
        }
    }

    /// Findings as a `finding` record keeps them: one with every field, one with the fewest.
    fn findings() -> [crate::Finding; 2] {
        let mut full = crate::Finding::new(crate::FindingKind::PotentialDeadlock, "a \"b\" é");
        full.reason = "why\nand how".into();
        full.help = Some("take them in one order".into());
        full.site = Some(Site::from("src/a.rs:1:2"));
        full.locks = vec!["a".into(), "b".into()];
        full.threads = vec!["t1".into(), "t2".into()];
        let edge = |from: &str, to: &str, thread: &str| crate::FindingEdge {
            from: from.into(),
            to: to.into(),
            thread: thread.into(),
            from_site: None,
            to_site: None,
            from_mode: Mode::Exclusive,
            to_mode: Mode::Exclusive,
            held: Vec::new(),
            blocked: false,
            backtrace: None,
        };
        full.edges = vec![
            crate::FindingEdge {
                from_site: Some(Site::from("src/a.rs:3:4")),
                to_site: Some(Site::from("src/a.rs:5:6")),
                from_mode: Mode::Shared,
                to_mode: Mode::Upgradable,
                held: vec!["c".into(), "d".into()],
                blocked: true,
                ..edge("a", "b", "t1")
            },
            edge("b", "a", "t2"),
        ];
        let mut bare = crate::Finding::new(crate::FindingKind::Deadlock, "m");
        bare.reason.clear();
        [full, bare]
    }

    fn with_findings() -> Vec<Event> {
        let mut events = vec![Event::Header(header())];
        events.extend(findings().map(|f| Event::Finding(Box::new(f))));
        events.push(Event::End {
            events: Some(3),
            dropped: Some(0),
        });
        events
    }

    #[test]
    fn findings_round_trip_field_by_field() {
        let events = with_findings();
        let bytes = encode(&events);
        assert!(
            !bytes.windows(7).any(|w| w == b"\"kind\""),
            "no JSON in a finding record"
        );
        let (read, warnings) = decode(&bytes);
        let read: Vec<Event> = read.into_iter().map(Result::unwrap).collect();
        assert_eq!(read, events);
        assert_eq!(warnings, []);
        for cut in MAGIC.len() + 2..bytes.len() {
            let (read, warnings) = decode(&bytes[..cut]);
            assert!(read.iter().all(Result::is_ok), "cut at {cut}: {read:?}");
            assert!(!warnings.is_empty(), "cut at {cut}");
        }
        // What the recorder writes is what the writer writes.
        let mut recorded = Vec::new();
        finding_record(&mut recorded, &WireFinding::from_finding(&findings()[0]));
        let mut written = CompactWriter::new(Vec::new(), &header()).unwrap();
        let start = written.out.len();
        written
            .write(&Event::Finding(Box::new(findings()[0].clone())))
            .unwrap();
        assert_eq!(written.out[start..], recorded);
    }

    #[test]
    fn fields_a_later_version_adds_to_a_finding_are_skipped() {
        let finding = WireFinding::from_finding(&findings()[0]);
        let mut fields = Vec::new();
        finding_fields(&mut fields, &finding);
        fields.extend_from_slice(b"\x05later");
        let mut bytes = Vec::new();
        preamble(&mut bytes);
        bytes.push(tag::FINDING);
        varint(&mut bytes, fields.len() as u64);
        bytes.extend_from_slice(&fields);
        end_record(&mut bytes, 1, 0);
        let (read, _) = decode(&bytes);
        assert_eq!(
            *read[0].as_ref().unwrap(),
            Event::Finding(Box::new(findings()[0].clone()))
        );
        assert!(matches!(read[1], Ok(Event::End { .. })), "{read:?}");
    }

    #[test]
    fn a_finding_record_of_json_text_is_still_read() {
        // What lockscan wrote before findings had a record of their own fields.
        let wire = WireFinding::from_finding(&findings()[0]);
        let json = serde_json::to_string(&wire).unwrap();
        let mut bytes = CompactWriter::new(Vec::new(), &header()).unwrap().out;
        bytes.push(tag::FINDING_JSON);
        string(&mut bytes, &json);
        end_record(&mut bytes, 2, 0);
        let (read, warnings) = decode(&bytes);
        assert_eq!(
            *read[1].as_ref().unwrap(),
            Event::Finding(Box::new(findings()[0].clone()))
        );
        assert_eq!(warnings, []);
    }

    #[test]
    fn the_header_written_by_hand_is_the_json_serde_writes() {
        let bytes = encode(&sample()[..1]);
        let mut expected = Vec::new();
        preamble(&mut expected);
        let record = Record {
            record_type: "header".into(),
            format: Some(Text(FORMAT_NAME.into())),
            version: Some(FORMAT_VERSION),
            tool: Some(Text("lockscan test".into())),
            pid: Some(7),
            program: Some(Text("prog".into())),
            ..Record::default()
        };
        expected.push(tag::HEADER);
        string(&mut expected, &serde_json::to_string(&record).unwrap());
        assert_eq!(bytes, expected);
    }

    #[test]
    fn bad_bytes_are_errors_with_their_offset_never_panics() {
        let (read, _) = decode(b"{\"type\":\"header\"}\n");
        let error = read[0].as_ref().unwrap_err().to_string();
        assert!(error.contains("t.lstrace: byte 0"), "{error}");
        let mut bytes = encode(&sample());
        let at = bytes.len() - 3;
        bytes[at] = 0x1f; // not a tag
        let (read, _) = decode(&bytes);
        assert!(read.last().unwrap().is_err());
        // Every single-byte corruption: errors or warnings, never a panic.
        let mut good = encode(&sample());
        good.extend_from_slice(&encode(&with_findings())[MAGIC.len() + 1..]);
        for at in 0..good.len() {
            for value in [0x00, 0x7f, 0x80, 0xff] {
                let mut bytes = good.clone();
                bytes[at] = value;
                let _ = decode(&bytes);
            }
        }
    }
}
