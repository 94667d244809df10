//! The names a steered run may give the cycle's locks. A lock made without its maker's site (in
//! a `const`, or by the parking_lot stand-in) is named after its first acquisition, and which
//! acquisition comes first depends on the schedule, so steering names such a lock by every
//! site the trace saw it taken at (`A | B`, see `lockscan::steer`).

use std::collections::{BTreeSet, HashMap};
use std::fs::File;
use std::io::BufReader;
use std::path::Path;

use lockscan::LockId;
use lockscan::steer::{Cycle, Edge};
use lockscan::trace::{Event, InputFormat, TraceReader};

use super::attempt::base_name;

/// `cycle` with each lock that `trace` shows named after one of its own acquisition sites
/// named by all of them. The cycle unchanged when the trace cannot be read.
pub(crate) fn with_every_first_site(cycle: Cycle, trace: Option<&Path>) -> Cycle {
    let Some(sites) = trace.and_then(first_use_names) else {
        return cycle;
    };
    let rename = |name: &str| match sites.get(base_name(name)) {
        Some(others) => {
            let mut names = vec![name.to_owned()];
            names.extend(others.iter().filter(|s| *s != base_name(name)).cloned());
            names.join(" | ")
        }
        None => name.to_owned(),
    };
    let edges = cycle
        .edges
        .iter()
        .map(|edge| Edge {
            from: rename(&edge.from),
            to: rename(&edge.to),
            ..edge.clone()
        })
        .collect();
    // Renamed alike on both sides of every lock, so still a cycle.
    Cycle::new(edges).unwrap_or(cycle)
}

/// Per class of the locks named after one of their acquisition sites (unnamed, their class one
/// of the sites they were taken at): every site they were taken at.
fn first_use_names(trace: &Path) -> Option<HashMap<String, BTreeSet<String>>> {
    let file = File::open(trace).ok()?;
    let name = trace.display().to_string();
    let reader = TraceReader::new(BufReader::new(file), name, InputFormat::Auto).ok()?;
    let mut classes: HashMap<LockId, String> = HashMap::new();
    let mut taken_at: HashMap<LockId, BTreeSet<String>> = HashMap::new();
    for event in reader.flatten() {
        match event {
            Event::Lock {
                lock,
                name: None,
                class: Some(class),
                ..
            } => {
                classes.insert(lock, class.to_string());
            }
            Event::Acquire {
                lock,
                site: Some(site),
                ..
            }
            | Event::Request {
                lock,
                site: Some(site),
                ..
            } => {
                taken_at.entry(lock).or_default().insert(site.to_string());
            }
            _ => {}
        }
    }
    let mut names: HashMap<String, BTreeSet<String>> = HashMap::new();
    for (lock, class) in classes {
        let Some(sites) = taken_at.remove(&lock) else {
            continue;
        };
        if sites.contains(&class) {
            names.entry(class).or_default().extend(sites);
        }
    }
    Some(names)
}
