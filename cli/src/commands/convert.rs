//! `lockscan convert`: a trace from one encoding to another (JSONL, the compact encoding, or
//! from RAPID STD), record for record.

use std::fs::File;
use std::io::{self, BufReader, Read};
use std::path::Path;

use anyhow::{Context, bail};
use lockscan::trace::compact::{self, CompactWriter};
use lockscan::trace::{Event, Format, Header, JsonlWriter, TraceReader, TraceWrite};

use crate::args::{ConvertArgs, Encoding};
use crate::diagnostics;
use crate::exit::Exit;
use crate::output::open_output;

pub(crate) fn convert(args: &ConvertArgs) -> anyhow::Result<Exit> {
    let encoding = args.to.unwrap_or_else(|| {
        let compact = args
            .output
            .extension()
            .is_some_and(|e| e == compact::EXTENSION);
        if compact {
            Encoding::Compact
        } else {
            Encoding::Jsonl
        }
    });
    let name = args.input.display().to_string();
    let input: Box<dyn Read> = if args.input == Path::new("-") {
        Box::new(io::stdin().lock())
    } else {
        Box::new(File::open(&args.input).with_context(|| format!("cannot open {name}"))?)
    };
    let mut reader = TraceReader::new(
        BufReader::with_capacity(1 << 16, input),
        name.as_str(),
        args.input_format,
    )?;
    let mut sink = None;
    let mut output = Some(open_output(Some(&args.output))?);
    for event in reader.by_ref() {
        let event = event?;
        let sink = match &mut sink {
            Some(sink) => sink,
            None => {
                let out = output.take().expect("opened once");
                // A trace without a header (STD) gets one. Its tool is not the recorder's
                // (`lockscan VERSION`): the replay takes a trace of the recorder's as saying
                // which threads' spawns lockscan saw, and a Java program's threads say nothing.
                let header = match &event {
                    Event::Header(header) => header.clone(),
                    _ => Header {
                        version: lockscan::trace::wire::FORMAT_VERSION,
                        tool: Some(concat!("lockscan-convert ", env!("CARGO_PKG_VERSION")).into()),
                        pid: None,
                        program: None,
                    },
                };
                let new: Box<dyn TraceWrite> = match encoding {
                    Encoding::Jsonl => {
                        let mut writer = JsonlWriter::new(out);
                        writer.write(&Event::Header(header))?;
                        Box::new(writer)
                    }
                    Encoding::Compact => Box::new(CompactWriter::new(out, &header)?),
                };
                sink.insert(new)
            }
        };
        match event {
            Event::Header(_) => {}
            // The count is of the input's records, which another encoding has more or fewer of
            // (a recorded compact trace's thread starts and exits are no JSONL records): the
            // writer counts what it wrote, so the output does not contradict itself.
            Event::End { dropped, .. } => sink.write(&Event::End {
                events: None,
                dropped,
            })?,
            event => sink.write(&event)?,
        }
    }
    for warning in reader.warnings() {
        diagnostics::warning(warning)?;
    }
    let Some(mut sink) = sink else {
        bail!("{name}: no records to convert");
    };
    // An STD trace is complete as it is, but has no `end` record: give it one, so that the
    // converted trace does not look cut short.
    if reader.format() == Format::Std {
        let end = Event::End {
            events: None,
            dropped: None,
        };
        sink.write(&end)?;
    }
    sink.flush()
        .with_context(|| format!("cannot write {}", args.output.display()))?;
    Ok(Exit::Clean)
}
