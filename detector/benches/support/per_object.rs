//! The per-object workload's operations, shared by the `scale` bench and the
//! `prof_per_object` example: every run of either measures the same sequence.

/// Operations per sample of the per-object workload.
pub const OPERATIONS: usize = 50_000;

/// The seed of the per-object workload's operations: every run measures the same sequence.
const SEED: u64 = 0x5ca1_ab1e;

/// One operation of the per-object workload: lock `count` (2 or 3) distinct locks, ascending
/// by index so that no cycle can ever form, then release them in reverse.
#[derive(Debug, Clone, Copy)]
pub struct Operation {
    pub indices: [usize; 3],
    pub count: u8,
}

/// The per-object workload's operations over `locks` locks, drawn before timing starts so that
/// every lock type runs exactly the same sequence and the generator is not timed.
pub fn per_object_operations(locks: usize) -> Vec<Operation> {
    let mut rng = fastrand::Rng::with_seed(SEED ^ locks as u64);
    (0..OPERATIONS)
        .map(|_| {
            let count = rng.usize(2..4);
            let mut indices = [0; 3];
            let mut chosen = 0;
            while chosen < count {
                let index = rng.usize(..locks);
                if !indices[..chosen].contains(&index) {
                    indices[chosen] = index;
                    chosen += 1;
                }
            }
            indices[..count].sort_unstable();
            Operation {
                indices,
                count: count as u8,
            }
        })
        .collect()
}
