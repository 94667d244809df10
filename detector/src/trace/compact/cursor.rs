//! Decoding the thread records of a `block` (written by [`crate::trace::format::block`]), one
//! at a time as the merge reaches them.

use super::merge::{Item, Key, Order};
use crate::ids::{CondvarId, Flavour, LockId, Mode, ThreadId, VarId};
use crate::site::Site;
use crate::trace::Event;
use crate::trace::format::block;
use crate::trace::format::fields::{Field, flavour_of, mode_of, site_of};
use crate::trace::format::tags as tag;
use crate::trace::format::varint;

/// A bad record inside a block, found when the merge decodes it.
#[derive(Debug)]
pub(crate) struct BlockError {
    pub(crate) offset: u64,
    pub(crate) expected: String,
    pub(crate) found: String,
}

/// Decodes the thread records of a block from its bytes.
pub(crate) struct BlockCursor<'a> {
    pub(crate) bytes: &'a [u8],
    pub(crate) at: usize,
    /// The file offset of `bytes[0]`.
    pub(crate) offset: u64,
    pub(crate) sites: &'a [Site],
    /// The thread's recent locks; `None` in a detached block.
    pub(crate) recent: Option<&'a mut block::Recent>,
}

impl BlockCursor<'_> {
    fn error(&self, at: usize, expected: &str, found: String) -> BlockError {
        BlockError {
            offset: self.offset + at as u64,
            expected: expected.to_owned(),
            found,
        }
    }

    #[inline]
    fn byte(&mut self, start: usize) -> Result<u8, BlockError> {
        let Some(&byte) = self.bytes.get(self.at) else {
            return Err(self.error(
                start,
                "a record that ends inside its block",
                "the block's end".into(),
            ));
        };
        self.at += 1;
        Ok(byte)
    }

    /// `field` placed at the record starting at `start`.
    fn place<T>(&self, start: usize, field: Result<T, Field>) -> Result<T, BlockError> {
        field.map_err(|error| match error {
            Field::Cut => self.error(
                start,
                "a record that ends inside its block",
                "the block's end".into(),
            ),
            Field::Bad(expected, found) => self.error(start, expected, found),
        })
    }

    #[inline]
    fn varint(&mut self, start: usize) -> Result<u64, BlockError> {
        let (value, len) = self.place(start, varint::read(&self.bytes[self.at..]))?;
        self.at += len;
        Ok(value)
    }

    #[inline]
    fn site(&mut self, start: usize) -> Result<Option<Site>, BlockError> {
        let n = self.varint(start)?;
        self.place(start, site_of(self.sites, n))
    }

    fn mode(&self, tag: u8, start: usize) -> Result<Mode, BlockError> {
        self.place(start, mode_of(tag))
    }

    /// The mode and flavour of a `request` or `acquire` record: in the tag, or in the flavour
    /// byte after it.
    fn mode_and_flavour(&mut self, tag: u8, start: usize) -> Result<(Mode, Flavour), BlockError> {
        if tag & tag::FLAVOURED != tag::FLAVOURED {
            return Ok((self.mode(tag, start)?, Flavour::Plain));
        }
        let byte = self.byte(start)?;
        self.place(start, flavour_of(byte))
    }

    /// One record of a block of thread `tid`, with what orders it.
    pub(crate) fn thread_record(&mut self, tid: u64) -> Result<(Item, Order), BlockError> {
        let start = self.at;
        let t = self.byte(start)?;
        let flag = t & tag::FLAG != 0;
        let thread = ThreadId(tid);
        let record = match t & tag::TYPE_MASK {
            kind @ (tag::ACQUIRE | tag::NEAR_ACQUIRE | tag::RELEASE | tag::NEAR_RELEASE) => {
                let (mode, flavour) = if kind == tag::ACQUIRE || kind == tag::NEAR_ACQUIRE {
                    self.mode_and_flavour(t, start)?
                } else {
                    (self.mode(t, start)?, Flavour::Plain)
                };
                let (lock, seq) = if kind == tag::ACQUIRE || kind == tag::RELEASE {
                    (self.varint(start)?, self.varint(start)?)
                } else {
                    let (slot, step) = block::near_byte(self.byte(start)?);
                    let recent = self.recent.as_deref().and_then(|r| r.slot(slot));
                    let Some((lock, last)) = recent else {
                        return Err(self.error(
                            start,
                            "a near record naming one of the thread's recent locks",
                            format!("slot {slot}"),
                        ));
                    };
                    (lock, last + step)
                };
                if let Some(recent) = self.recent.as_deref_mut() {
                    recent.note(lock, seq);
                }
                let event = if kind == tag::ACQUIRE || kind == tag::NEAR_ACQUIRE {
                    Event::Acquire {
                        tid: thread,
                        lock: LockId(lock),
                        mode,
                        try_lock: flag,
                        flavour,
                        site: self.site(start)?,
                    }
                } else {
                    Event::Release {
                        tid: thread,
                        lock: LockId(lock),
                        mode,
                        site: None,
                    }
                };
                (Item::Event(event), Order::Seq(Key::lock(lock), seq))
            }
            tag::REQUEST => {
                let (mode, flavour) = self.mode_and_flavour(t, start)?;
                let event = Event::Request {
                    tid: thread,
                    lock: LockId(self.varint(start)?),
                    mode,
                    flavour,
                    site: self.site(start)?,
                };
                (Item::Event(event), Order::Free)
            }
            tag::WAIT => {
                let condvar = self.varint(start)?;
                let condvar_seq = self.varint(start)?;
                let lock = self.varint(start)?;
                let lock_seq = self.varint(start)?;
                let event = Event::Wait {
                    tid: thread,
                    condvar: CondvarId(condvar),
                    lock: LockId(lock),
                    site: self.site(start)?,
                };
                let order = Order::Seq2(
                    Key::lock(lock),
                    lock_seq,
                    Key::condvar(condvar),
                    condvar_seq,
                );
                (Item::Event(event), order)
            }
            tag::NOTIFY => {
                let condvar = self.varint(start)?;
                let seq = self.varint(start)?;
                let event = Event::Notify {
                    tid: thread,
                    condvar: CondvarId(condvar),
                    all: flag,
                    site: self.site(start)?,
                };
                (Item::Event(event), Order::Seq(Key::condvar(condvar), seq))
            }
            tag::READ | tag::WRITE => {
                let var = self.varint(start)?;
                let seq = self.varint(start)?;
                let site = self.site(start)?;
                let var_id = VarId(var);
                let event = if t & tag::TYPE_MASK == tag::READ {
                    Event::Read {
                        tid: thread,
                        var: var_id,
                        site,
                    }
                } else {
                    Event::Write {
                        tid: thread,
                        var: var_id,
                        site,
                    }
                };
                (Item::Event(event), Order::Seq(Key::var(var), seq))
            }
            tag::SPAWN => {
                let child = self.varint(start)?;
                let event = Event::Spawn {
                    tid: thread,
                    child: ThreadId(child),
                    site: self.site(start)?,
                };
                (Item::Event(event), Order::Provide(Key::thread(child), 1))
            }
            tag::JOIN => {
                let child = self.varint(start)?;
                let event = Event::Join {
                    tid: thread,
                    child: ThreadId(child),
                    site: self.site(start)?,
                };
                let order = if flag {
                    Order::After(Key::thread(child), 2)
                } else {
                    Order::Free
                };
                (Item::Event(event), order)
            }
            tag::START => {
                let order = if flag {
                    Order::After(Key::thread(tid), 1)
                } else {
                    Order::Free
                };
                (Item::Mark, order)
            }
            tag::EXIT => (Item::Mark, Order::Provide(Key::thread(tid), 2)),
            other => {
                return Err(self.error(
                    start,
                    "a thread record (tag 6 to 14 or 18 to 21)",
                    other.to_string(),
                ));
            }
        };
        Ok(record)
    }
}
