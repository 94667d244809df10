//! Throughput of reading and replaying traces: `cargo bench -p lockscan --bench replay`.
//!
//! The target is at least 2 million events a second on one core for read + replay.

use std::hint::black_box;
use std::path::Path;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use lockscan::analysis::{Replay, ReplayOptions};
use lockscan::trace::{InputFormat, TraceReader};

/// A synthetic STD trace: `threads` threads each taking two of 64 locks in ascending order,
/// with a read and a write inside, `rounds` times.
fn synthetic(rounds: usize) -> Vec<u8> {
    let mut text = String::new();
    let mut state = 0x2545_f491_4f6c_dd1du64;
    for round in 0..rounds {
        // xorshift: reproducible lock choices without a dependency.
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        let a = state % 63;
        let b = a + 1 + (state >> 8) % (63 - a);
        let t = round % 8;
        text.push_str(&format!(
            "T{t}|req(L{a})|{a}\nT{t}|acq(L{a})|{a}\nT{t}|r(V{a})|1{a}\nT{t}|req(L{b})|{b}\n\
             T{t}|acq(L{b})|{b}\nT{t}|w(V{b})|2{b}\nT{t}|rel(L{b})|3{b}\nT{t}|rel(L{a})|3{a}\n"
        ));
    }
    text.into_bytes()
}

fn replay(bytes: &[u8]) -> usize {
    let mut reader = TraceReader::new(bytes, "bench", InputFormat::Auto).expect("reader");
    let result = Replay::new(ReplayOptions::default()).run(&mut reader, |_| {});
    result.findings.len()
}

fn bench(c: &mut Criterion) {
    let mut group = c.benchmark_group("read+replay");
    let synthetic = synthetic(25_000);
    group.throughput(Throughput::Elements(25_000 * 8));
    group.bench_function("synthetic-200k", |b| {
        b.iter(|| replay(black_box(&synthetic)))
    });
    let jigsaw = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/corpus/std/jigsaw.std");
    if let Ok(bytes) = std::fs::read(&jigsaw) {
        group.throughput(Throughput::Elements(143_021));
        group.bench_function("jigsaw.std", |b| b.iter(|| replay(black_box(&bytes))));
    } else {
        eprintln!(
            "skipped jigsaw.std: the corpus is not at {}",
            jigsaw.display()
        );
    }
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
