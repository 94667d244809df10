use std::hint::black_box;
use std::time::Instant;
fn main() {
    lockscan::set_policy(lockscan::Policy::Collect);
    let n: usize = std::env::args()
        .nth(1)
        .map(|s| s.parse().unwrap())
        .unwrap_or(1000);
    let reps: usize = std::env::args()
        .nth(2)
        .map(|s| s.parse().unwrap())
        .unwrap_or(5);
    let mut rng = fastrand::Rng::with_seed(5);
    let ops: Vec<[usize; 3]> = (0..50_000)
        .map(|_| {
            let mut v = vec![];
            let c = rng.usize(2..4);
            while v.len() < c {
                let i = rng.usize(..n);
                if !v.contains(&i) {
                    v.push(i);
                }
            }
            v.sort();
            while v.len() < 3 {
                v.push(usize::MAX);
            }
            [v[0], v[1], v[2]]
        })
        .collect();
    for _ in 0..reps {
        let locks: Vec<lockscan::Mutex<u64>> = (0..n as u64).map(lockscan::Mutex::new).collect();
        let t = Instant::now();
        for op in &ops {
            let a = locks[op[0]].lock();
            let b = locks[op[1]].lock();
            if op[2] != usize::MAX {
                let c = locks[op[2]].lock();
                black_box((&a, &b, &c));
            } else {
                black_box((&a, &b));
            }
        }
        eprintln!("{:?}", t.elapsed());
        if std::env::var("FORGET").is_ok() {
            std::mem::forget(locks)
        } else {
            drop(locks)
        }
    }
}
