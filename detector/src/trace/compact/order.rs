//! [`BlockOrder`]: a recorder's records (declarations, sites, each thread's blocks) written to
//! any [`TraceWrite`] as events in one replay order, without encoding them as a compact trace
//! first. The recorder's JSONL traces are written through it; the streaming reader restores the
//! same order from a compact trace (`reader.rs`), with the same merge.

use std::io;

use super::merge::Merge;
use crate::site::Site;
use crate::trace::{Event, TraceWrite};

/// Orders the blocks it is given with the other records, and writes them through `out`: each
/// event as soon as everything before it in replay order was written, so that a declaration or
/// finding comes where the reader of the same records as a compact trace would give it out.
#[derive(Debug)]
pub(crate) struct BlockOrder<W> {
    out: W,
    /// The sites defined so far: site number `n` is `sites[n - 1]`.
    sites: Vec<Site>,
    merge: Merge,
    /// Block bytes so far, to place a bad record (which the recorder never writes).
    offset: u64,
}

impl<W: TraceWrite> BlockOrder<W> {
    pub(crate) fn new(out: W) -> Self {
        BlockOrder {
            out,
            sites: Vec::new(),
            merge: Merge::default(),
            offset: 0,
        }
    }

    /// The writer the events go to.
    pub(crate) fn get_mut(&mut self) -> &mut W {
        &mut self.out
    }

    /// Defines the next site number.
    pub(crate) fn site(&mut self, site: Site) {
        self.sites.push(site);
    }

    /// A block of `records` thread records of thread `tid` (`detached`: they neither use nor
    /// change the thread's recent locks); writes the events it lets go.
    pub(crate) fn block(
        &mut self,
        tid: u64,
        bytes: Vec<u8>,
        records: u64,
        detached: bool,
    ) -> io::Result<()> {
        let len = bytes.len() as u64;
        self.merge
            .push_block(tid, bytes, records, self.offset, detached);
        self.offset += len;
        self.drain()
    }

    /// Writes an event that is not a thread's: after everything the blocks so far let go; an
    /// `end` after all of them.
    pub(crate) fn write(&mut self, event: &Event) -> io::Result<()> {
        if let Event::End { .. } = event {
            self.merge.finish();
        }
        self.drain()?;
        self.out.write(event)
    }

    fn drain(&mut self) -> io::Result<()> {
        while let Some(event) = self.merge.next(&self.sites) {
            let event = event.map_err(|error| {
                io::Error::other(format!(
                    "block byte {}: expected {}, found {}",
                    error.offset, error.expected, error.found
                ))
            })?;
            self.out.write(&event)?;
        }
        Ok(())
    }
}
