//! CsbTree and SkipList without any FFI: 100k distinct int keys in random order; insert, get,
//! remove, 1000 ranges of ~100 keys, items; SkipList inserts and gets from 4 threads. Prints
//! ns per operation (median of a few runs). Run: cargo run --release --example bench_ordered
use std::sync::{Arc, Barrier};
use std::thread;
use std::time::Instant;

use kohakuvault::ordered::{CsbTree, Key, SkipList};

const N: usize = 100_000;
const RANGES: usize = 1000;
const RANGE_WIDTH: i64 = 100;
const REPS: usize = 5;

/// SplitMix64.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
}

/// 0..N shuffled (Fisher–Yates).
fn shuffled(seed: u64) -> Vec<i64> {
    let mut r = Rng(seed);
    let mut v: Vec<i64> = (0..N as i64).collect();
    for i in (1..v.len()).rev() {
        let j = (r.next() % (i as u64 + 1)) as usize;
        v.swap(i, j);
    }
    v
}

fn median(mut xs: Vec<f64>) -> f64 {
    xs.sort_by(|a, b| a.partial_cmp(b).unwrap());
    xs[xs.len() / 2]
}

fn report(label: &str, secs: Vec<f64>, ops: usize) {
    let m = median(secs);
    println!(
        "{label:<34} {:>9.2} ms  {:>8.1} ns/op",
        m * 1e3,
        m * 1e9 / ops as f64
    );
}

fn time(f: impl FnOnce()) -> f64 {
    let t = Instant::now();
    f();
    t.elapsed().as_secs_f64()
}

fn bench_tree(order: usize, keys: &[i64], probes: &[i64], starts: &[i64]) {
    let (mut ins, mut get, mut rng, mut items, mut rem) = (vec![], vec![], vec![], vec![], vec![]);
    for _ in 0..REPS {
        let mut t: CsbTree<u64> = CsbTree::new(order).unwrap();
        ins.push(time(|| {
            for &k in keys {
                t.insert(Key::Int(k), k as u64).unwrap();
            }
        }));
        let mut sum = 0u64;
        get.push(time(|| {
            for &k in probes {
                sum = sum.wrapping_add(*t.get(&Key::Int(k)).unwrap().unwrap());
            }
        }));
        let mut count = 0;
        rng.push(time(|| {
            for &s in starts {
                let page: Vec<(Key, u64)> = t
                    .range(&Key::Int(s), &Key::Int(s + RANGE_WIDTH))
                    .unwrap()
                    .map(|(k, v)| (k.clone(), *v))
                    .collect();
                count += page.len();
            }
        }));
        assert_eq!(count, RANGES * RANGE_WIDTH as usize);
        items.push(time(|| {
            let all: Vec<(Key, u64)> = t.iter().map(|(k, v)| (k.clone(), *v)).collect();
            assert_eq!(all.len(), N);
        }));
        rem.push(time(|| {
            for &k in probes {
                t.remove(&Key::Int(k)).unwrap().unwrap();
            }
        }));
        assert!(t.is_empty() && sum > 0);
    }
    let name = format!("CsbTree(order={order})");
    report(&format!("{name} insert"), ins, N);
    report(&format!("{name} get"), get, N);
    report(
        &format!("{name} 1000 ranges of 100 (per range)"),
        rng,
        RANGES,
    );
    report(&format!("{name} items (per item)"), items, N);
    report(&format!("{name} remove"), rem, N);
}

fn bench_list(keys: &[i64], probes: &[i64], starts: &[i64]) {
    let (mut ins, mut get, mut rng, mut items, mut rem) = (vec![], vec![], vec![], vec![], vec![]);
    for _ in 0..REPS {
        let l: SkipList<u64> = SkipList::new();
        ins.push(time(|| {
            for &k in keys {
                l.insert(Key::Int(k), k as u64).unwrap();
            }
        }));
        let mut sum = 0u64;
        get.push(time(|| {
            for &k in probes {
                sum = sum.wrapping_add(l.get(&Key::Int(k)).unwrap().unwrap());
            }
        }));
        let mut count = 0;
        rng.push(time(|| {
            for &s in starts {
                count += l
                    .range(&Key::Int(s), &Key::Int(s + RANGE_WIDTH))
                    .unwrap()
                    .len();
            }
        }));
        assert_eq!(count, RANGES * RANGE_WIDTH as usize);
        items.push(time(|| assert_eq!(l.items().len(), N)));
        rem.push(time(|| {
            for &k in probes {
                l.remove(&Key::Int(k)).unwrap().unwrap();
            }
        }));
        assert!(l.is_empty() && sum > 0);
    }
    report("SkipList insert", ins, N);
    report("SkipList get", get, N);
    report("SkipList 1000 ranges of 100 (per range)", rng, RANGES);
    report("SkipList items (per item)", items, N);
    report("SkipList remove", rem, N);
}

/// 4 threads insert a quarter of the keys each, then all 4 get every key.
fn bench_list_threads(keys: &[i64]) {
    const T: usize = 4;
    let (mut ins, mut get) = (vec![], vec![]);
    for _ in 0..REPS {
        let l: Arc<SkipList<u64>> = Arc::new(SkipList::new());
        let chunks: Vec<Vec<i64>> = keys.chunks(N / T).map(|c| c.to_vec()).collect();
        let run = |work: &(dyn Fn(&SkipList<u64>, usize) -> usize + Sync)| -> f64 {
            let barrier = Barrier::new(T + 1);
            thread::scope(|s| {
                let handles: Vec<_> = (0..T)
                    .map(|t| {
                        let (l, barrier) = (&l, &barrier);
                        s.spawn(move || {
                            barrier.wait();
                            work(l, t)
                        })
                    })
                    .collect();
                let t0 = Instant::now();
                barrier.wait();
                let done: usize = handles.into_iter().map(|h| h.join().unwrap()).sum();
                let secs = t0.elapsed().as_secs_f64();
                assert!(done > 0);
                secs
            })
        };
        ins.push(run(&|l, t| {
            for &k in &chunks[t] {
                l.insert(Key::Int(k), k as u64).unwrap();
            }
            chunks[t].len()
        }));
        assert_eq!(l.len(), N);
        get.push(run(&|l, t| {
            let mut found = 0;
            for i in 0..N {
                let k = keys[(i + t * 7919) % N];
                found += l.get(&Key::Int(k)).unwrap().is_some() as usize;
            }
            assert_eq!(found, N);
            found
        }));
    }
    report("SkipList insert, 4 threads (wall/op)", ins, N);
    report("SkipList get, 4 threads (wall/op)", get, N * T);
}

fn main() {
    let keys = shuffled(1);
    let probes = shuffled(2);
    let mut r = Rng(3);
    let starts: Vec<i64> = (0..RANGES)
        .map(|_| (r.next() % (N as u64 - RANGE_WIDTH as u64)) as i64)
        .collect();
    println!("{N} distinct int keys in random order, median of {REPS} runs");
    for order in [63, 16] {
        bench_tree(order, &keys, &probes, &starts);
    }
    bench_list(&keys, &probes, &starts);
    bench_list_threads(&keys);
    bench_fast_path(&keys, &probes);
}

/// The same single-key operations through `OrderedStore`'s C fast path (what a facade's call
/// costs inside the library: handle lookup, key wrapping, the container).
fn bench_fast_path(keys: &[i64], probes: &[i64]) {
    use kohakuvault::ordered::fast::{ord_fast_get_int, ord_fast_insert_int, ord_fast_range};
    use kohakuvault::ordered::{OrderedKind, OrderedStore};
    for kind in [OrderedKind::CsbTree, OrderedKind::SkipList] {
        let (mut ins, mut get) = (Vec::new(), Vec::new());
        for _ in 0..REPS {
            let s = Arc::new(OrderedStore::new(kind, 63, None).unwrap());
            let h = s.clone().fast_handle() as u32;
            ins.push(time(|| {
                for (i, &k) in keys.iter().enumerate() {
                    ord_fast_insert_int(h, k as i32, (k >> 32) as i32, i as i32 + 1, 0);
                }
            }));
            get.push(time(|| {
                for &k in probes {
                    std::hint::black_box(ord_fast_get_int(h, k as i32, (k >> 32) as i32));
                }
            }));
        }
        report(&format!("{kind:?} fast-path insert"), ins, keys.len());
        report(&format!("{kind:?} fast-path get"), get, probes.len());
        let s = Arc::new(OrderedStore::new(kind, 63, None).unwrap());
        let h = s.clone().fast_handle() as u32;
        for (i, &k) in keys.iter().enumerate() {
            ord_fast_insert_int(h, k as i32, (k >> 32) as i32, i as i32 + 1, 0);
        }
        let (mut ranges, mut items) = (Vec::new(), Vec::new());
        for _ in 0..REPS {
            ranges.push(time(|| {
                for &k in &probes[..RANGES] {
                    let mut a = vec![3u8];
                    a.extend_from_slice(&k.to_le_bytes());
                    let (mut out, mut n) = (std::ptr::null(), 0usize);
                    unsafe {
                        ord_fast_range(
                            h,
                            a.as_ptr(),
                            9,
                            1,
                            std::ptr::null(),
                            -1,
                            0,
                            RANGE_WIDTH as i32,
                            0,
                            &mut out,
                            &mut n,
                        )
                    };
                }
            }));
            items.push(time(|| {
                let (mut out, mut n) = (std::ptr::null(), 0usize);
                unsafe {
                    ord_fast_range(
                        h,
                        std::ptr::null(),
                        -1,
                        1,
                        std::ptr::null(),
                        -1,
                        0,
                        0,
                        0,
                        &mut out,
                        &mut n,
                    )
                };
                std::hint::black_box(n);
            }));
        }
        report(
            &format!("{kind:?} fast-path range page of {RANGE_WIDTH}"),
            ranges,
            RANGES,
        );
        report(
            &format!("{kind:?} fast-path items page (per item)"),
            items,
            keys.len(),
        );
    }
}
