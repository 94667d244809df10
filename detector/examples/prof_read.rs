//! How fast a trace is read, and nothing else: iterates a `TraceReader` over each file (any
//! format) and prints events per second. BENCHMARKS.md quotes it.
//!
//! ```text
//! cargo build --release -p lockscan --example prof_read
//! target/release/examples/prof_read TRACE...
//! ```

use std::time::Instant;

use lockscan::trace::{InputFormat, TraceReader};

fn main() {
    for path in std::env::args().skip(1) {
        let file = std::fs::File::open(&path).expect("open the trace");
        let input = std::io::BufReader::with_capacity(1 << 16, file);
        let reader = TraceReader::new(input, path.as_str(), InputFormat::Auto).expect("a reader");
        let start = Instant::now();
        let mut events = 0_u64;
        let mut errors = 0_u64;
        for event in reader {
            match event {
                Ok(_) => events += 1,
                Err(_) => errors += 1,
            }
        }
        let seconds = start.elapsed().as_secs_f64();
        println!(
            "{path}: {events} events ({errors} errors) in {seconds:.2} s = {:.1} M events/s",
            events as f64 / seconds / 1e6
        );
    }
}
