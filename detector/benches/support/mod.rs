//! What the benches share: the lock types they compare, behind one trait, so that every
//! workload is written once and measured over each of them.

/// A lock a workload can run on.
pub trait BenchLock: Sync + Send + 'static {
    type Guard<'a>;
    /// The name in reports and table headers.
    const NAME: &'static str;
    fn create(value: u64) -> Self;
    fn acquire(&self) -> Self::Guard<'_>;
}

/// The floor: plain parking_lot, no detection.
impl BenchLock for parking_lot::Mutex<u64> {
    type Guard<'a> = parking_lot::MutexGuard<'a, u64>;
    const NAME: &'static str = "parking_lot";
    fn create(value: u64) -> Self {
        parking_lot::Mutex::new(value)
    }
    fn acquire(&self) -> Self::Guard<'_> {
        self.lock()
    }
}

impl BenchLock for lockscan::Mutex<u64> {
    type Guard<'a> = lockscan::MutexGuard<'a, u64>;
    const NAME: &'static str = "lockscan";
    fn create(value: u64) -> Self {
        lockscan::Mutex::new(value)
    }
    fn acquire(&self) -> Self::Guard<'_> {
        self.lock()
    }
}
