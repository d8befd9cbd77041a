//! The ordered containers (src/ordered/): the key model against Python's ordering, CsbTree and
//! SkipList against `std::collections::BTreeMap` over random operation sequences, refused keys,
//! concurrency (8 threads) and memory reclamation.

use std::cmp::Ordering;
use std::collections::{BTreeMap, BTreeSet};
use std::ops::Bound;
use std::sync::atomic::{AtomicBool, AtomicIsize, AtomicUsize, Ordering as Mem};
use std::sync::{Arc, Barrier};
use std::thread;

use kohakuvault::ordered::{CsbTree, Incomparable, Key, SharedCsbTree, SkipList};

// ---- helpers ---------------------------------------------------------------------------------

/// SplitMix64: a small deterministic generator.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
    fn range(&mut self, lo: i64, hi: i64) -> i64 {
        lo + self.below((hi - lo) as u64) as i64
    }
    fn pick<'a, T>(&mut self, xs: &'a [T]) -> &'a T {
        &xs[self.below(xs.len() as u64) as usize]
    }
}

fn int(i: i64) -> Key {
    Key::Int(i)
}
fn flt(f: f64) -> Key {
    Key::Float(f)
}
fn s(x: &str) -> Key {
    Key::Str(x.into())
}
fn b(x: &[u8]) -> Key {
    Key::Bytes(x.to_vec())
}
fn tup(xs: Vec<Key>) -> Key {
    Key::Tuple(xs)
}

/// A key usable in a BTreeMap (the key sets of a run are mutually comparable).
#[derive(Clone, Debug)]
struct M(Key);

impl PartialEq for M {
    fn eq(&self, o: &M) -> bool {
        self.cmp(o) == Ordering::Equal
    }
}
impl Eq for M {}
impl PartialOrd for M {
    fn partial_cmp(&self, o: &M) -> Option<Ordering> {
        Some(self.cmp(o))
    }
}
impl Ord for M {
    fn cmp(&self, o: &M) -> Ordering {
        self.0.try_cmp(&o.0).expect("model keys are comparable")
    }
}

/// Key classes, each a set of mutually comparable keys with many equal pairs.
#[derive(Clone, Copy, Debug)]
enum Class {
    /// bool, int and float mixed, with equal ints and floats, and big values near 2^53 and 2^63.
    Numbers,
    Strings,
    Bytes,
    /// Tuples of (number, str, (number, bytes)) prefixes.
    Tuples,
}

fn number(r: &mut Rng) -> Key {
    const BIG: [i64; 8] = [
        9_007_199_254_740_992, // 2^53
        9_007_199_254_740_993,
        -9_007_199_254_740_993,
        i64::MAX,
        i64::MAX - 1,
        i64::MIN,
        i64::MIN + 1,
        4_611_686_018_427_387_904, // 2^62
    ];
    match r.below(20) {
        0..=7 => int(r.range(-400, 400)),
        8..=11 => flt(r.range(-400, 400) as f64),
        12..=14 => flt(r.range(-400, 400) as f64 + 0.5),
        15 => Key::Bool(r.below(2) == 1),
        16 => int(*r.pick(&BIG)),
        17 => flt(*r.pick(&BIG) as f64),
        18 => flt(*r.pick(&[f64::INFINITY, f64::NEG_INFINITY, -0.0, 1e300, -1e300, 0.25])),
        _ => flt(*r.pick(&BIG) as f64 + *r.pick(&[-4096.0, 2048.0, 0.0])),
    }
}

fn string(r: &mut Rng) -> Key {
    const ALPHA: [&str; 9] = ["a", "b", "c", "Z", "é", "中", "😀", "\u{0}", "\u{ffff}"];
    let n = r.below(5) as usize;
    s(&(0..n).map(|_| *r.pick(&ALPHA)).collect::<String>())
}

fn bytes(r: &mut Rng) -> Key {
    const ALPHA: [u8; 6] = [0x00, 0x01, 0x7f, 0x80, 0xfe, 0xff];
    let n = r.below(5) as usize;
    b(&(0..n).map(|_| *r.pick(&ALPHA)).collect::<Vec<u8>>())
}

fn tuple(r: &mut Rng) -> Key {
    let n = r.below(4) as usize;
    let mut items = Vec::new();
    if n > 0 {
        items.push(match r.below(3) {
            0 => flt(r.range(0, 12) as f64),
            _ => int(r.range(0, 12)),
        });
    }
    if n > 1 {
        items.push(s(["", "a", "b", "ab"][r.below(4) as usize]));
    }
    if n > 2 {
        let inner_len = r.below(3) as usize;
        let mut inner = Vec::new();
        if inner_len > 0 {
            inner.push(if r.below(2) == 0 {
                Key::Bool(r.below(2) == 1)
            } else {
                int(r.range(0, 3))
            });
        }
        if inner_len > 1 {
            inner.push(b(&[r.below(3) as u8]));
        }
        items.push(tup(inner));
    }
    tup(items)
}

fn gen(class: Class, r: &mut Rng) -> Key {
    match class {
        Class::Numbers => number(r),
        Class::Strings => string(r),
        Class::Bytes => bytes(r),
        Class::Tuples => tuple(r),
    }
}

fn same_entry(got: Option<(&Key, &u64)>, want: Option<(&M, &u64)>, what: &str) {
    match (got, want) {
        (None, None) => {}
        (Some((gk, gv)), Some((wk, wv))) => {
            assert!(
                gk.is_identical(&wk.0),
                "{what}: key {gk:?}, expected {:?}",
                wk.0
            );
            assert_eq!(gv, wv, "{what}: value of {gk:?}");
        }
        _ => panic!("{what}: got {got:?}, expected {want:?}"),
    }
}

fn same_entries<'a>(
    got: impl Iterator<Item = (&'a Key, &'a u64)>,
    want: impl Iterator<Item = (&'a M, &'a u64)>,
    what: &str,
) {
    let got: Vec<_> = got.collect();
    let want: Vec<_> = want.collect();
    assert_eq!(got.len(), want.len(), "{what}: entry count");
    for (g, w) in got.into_iter().zip(want) {
        same_entry(Some(g), Some(w), what);
    }
}

/// The model's entries between two bounds, with the containers' rule for empty ranges.
fn model_range<'a>(
    model: &'a BTreeMap<M, u64>,
    lo: &Bound<Key>,
    hi: &Bound<Key>,
) -> Vec<(&'a M, &'a u64)> {
    let key = |b: &Bound<Key>| match b {
        Bound::Included(k) | Bound::Excluded(k) => Some(k.clone()),
        Bound::Unbounded => None,
    };
    if let (Some(a), Some(c)) = (key(lo), key(hi)) {
        match a.try_cmp(&c).unwrap() {
            Ordering::Greater => return Vec::new(),
            Ordering::Equal if !matches!((lo, hi), (Bound::Included(_), Bound::Included(_))) => {
                return Vec::new()
            }
            _ => {}
        }
    }
    let conv = |b: &Bound<Key>| match b {
        Bound::Included(k) => Bound::Included(M(k.clone())),
        Bound::Excluded(k) => Bound::Excluded(M(k.clone())),
        Bound::Unbounded => Bound::Unbounded,
    };
    model.range((conv(lo), conv(hi))).collect()
}

fn random_bound(class: Class, r: &mut Rng) -> Bound<Key> {
    match r.below(5) {
        0 => Bound::Unbounded,
        1 | 2 => Bound::Included(gen(class, r)),
        _ => Bound::Excluded(gen(class, r)),
    }
}

fn as_ref(b: &Bound<Key>) -> Bound<&Key> {
    match b {
        Bound::Included(k) => Bound::Included(k),
        Bound::Excluded(k) => Bound::Excluded(k),
        Bound::Unbounded => Bound::Unbounded,
    }
}

const OPS: usize = 100_000;
const SEEDS: [u64; 3] = [1, 0xC0FFEE, 0x5EED_F00D];

// ---- the key model ---------------------------------------------------------------------------

#[test]
fn key_order_matches_python() {
    use Ordering::*;
    let cases: Vec<(Key, Key, Ordering)> = vec![
        (int(1), flt(1.0), Equal),
        (Key::Bool(true), int(1), Equal),
        (Key::Bool(true), flt(1.0), Equal),
        (Key::Bool(false), flt(-0.0), Equal),
        (Key::Bool(false), Key::Bool(true), Less),
        (int(2), flt(1.5), Greater),
        (int(-2), flt(-1.5), Less),
        (
            int(9_007_199_254_740_993),
            flt(9_007_199_254_740_992.0),
            Greater,
        ),
        (
            int(9_007_199_254_740_992),
            flt(9_007_199_254_740_992.0),
            Equal,
        ),
        (int(i64::MAX), flt(9_223_372_036_854_775_808.0), Less),
        (int(i64::MIN), flt(-9_223_372_036_854_775_808.0), Equal),
        (int(i64::MIN), flt(-9_223_372_036_854_777_856.0), Greater),
        (int(i64::MAX), flt(f64::INFINITY), Less),
        (int(i64::MIN), flt(f64::NEG_INFINITY), Greater),
        (flt(-0.0), flt(0.0), Equal),
        (flt(0.1), flt(0.2), Less),
        (s("a"), s("b"), Less),
        (s("ab"), s("a"), Greater),
        (s(""), s("a"), Less),
        (s("Z"), s("a"), Less),
        (s("\u{ffff}"), s("😀"), Less), // code points, not UTF-16 units
        (s("é"), s("z"), Greater),
        (b(b"\x80"), b(b"\x7f"), Greater), // unsigned
        (b(b""), b(b"\x00"), Less),
        (b(b"ab"), b(b"abc"), Less),
        (tup(vec![]), tup(vec![int(0)]), Less),
        (
            tup(vec![int(1), s("b")]),
            tup(vec![flt(1.0), s("a")]),
            Greater,
        ),
        (tup(vec![int(1), s("a")]), tup(vec![int(2), int(0)]), Less), // decided before the str
        (tup(vec![int(1)]), tup(vec![int(1), s("x")]), Less),
        (
            tup(vec![Key::None, int(1)]),
            tup(vec![Key::None, int(2)]),
            Less,
        ),
        (Key::None, Key::None, Equal),
        (
            tup(vec![tup(vec![int(1)]), b(b"a")]),
            tup(vec![tup(vec![int(1)]), b(b"b")]),
            Less,
        ),
    ];
    for (a, c, want) in cases {
        assert_eq!(a.try_cmp(&c), Ok(want), "{a:?} vs {c:?}");
        assert_eq!(c.try_cmp(&a), Ok(want.reverse()), "{c:?} vs {a:?}");
        assert_eq!(a == c, want == Equal);
    }
}

#[test]
fn key_incomparable_pairs_name_python_types() {
    let cases: Vec<(Key, Key, &str, &str)> = vec![
        (s("a"), int(1), "str", "int"),
        (int(1), s("a"), "int", "str"),
        (Key::None, int(0), "NoneType", "int"),
        (Key::Bool(true), Key::None, "bool", "NoneType"),
        (b(b"a"), s("a"), "bytes", "str"),
        (tup(vec![int(1)]), int(1), "tuple", "int"),
        (flt(1.5), b(b""), "float", "bytes"),
        // Inside tuples the first unequal pair decides, as in Python.
        (
            tup(vec![int(1), s("a")]),
            tup(vec![int(1), int(2)]),
            "str",
            "int",
        ),
    ];
    for (a, c, l, r) in cases {
        let e = a.try_cmp(&c).unwrap_err();
        assert_eq!(e, Incomparable::Types { left: l, right: r });
        assert_eq!(
            e.to_string(),
            format!("'<' not supported between instances of '{l}' and '{r}'")
        );
        assert!(a != c);
        assert_eq!(a.partial_cmp(&c), None);
    }
    // Equal prefixes never compare the incomparable tail.
    assert!(tup(vec![s("x")]) != tup(vec![int(1)]));
    // NaN is refused.
    let nan = flt(f64::NAN);
    assert_eq!(nan.try_cmp(&flt(1.0)), Err(Incomparable::NaN));
    assert_eq!(int(1).try_cmp(&nan), Err(Incomparable::NaN));
    assert_eq!(
        tup(vec![nan.clone()]).try_cmp(&tup(vec![int(1)])),
        Err(Incomparable::NaN)
    );
    assert!(nan != nan);
    assert!(tup(vec![int(1), nan]).contains_nan());
}

/// Exact int/float comparison against an independent oracle (i128 arithmetic).
#[test]
fn key_int_float_comparison_is_exact() {
    fn oracle(i: i64, f: f64) -> Ordering {
        if f.is_infinite() {
            return if f > 0.0 {
                Ordering::Less
            } else {
                Ordering::Greater
            };
        }
        let fl = f.floor();
        if fl.abs() >= 1e30 {
            return if f > 0.0 {
                Ordering::Less
            } else {
                Ordering::Greater
            };
        }
        let fl_i = fl as i128; // exact: integral and far inside i128
        let i = i as i128;
        if f == fl {
            i.cmp(&fl_i)
        } else if i <= fl_i {
            Ordering::Less
        } else {
            Ordering::Greater
        }
    }
    let mut r = Rng(42);
    for n in 0..300_000u64 {
        let i = match n % 4 {
            0 => r.next() as i64,
            1 => r.range(-1 << 20, 1 << 20),
            2 => (r.next() as i64) >> r.below(63),
            _ => *r.pick(&[i64::MAX, i64::MIN, 0, 1, -1, 1 << 53, (1 << 53) + 1]),
        };
        let f = match n % 5 {
            0 => i as f64,
            1 => i as f64 + *r.pick(&[0.5, -0.5, 1.0, -1.0, 1024.0, -2048.0]),
            2 => f64::from_bits(r.next()),
            3 => (r.next() as i64 >> r.below(63)) as f64 / *r.pick(&[1.0, 2.0, 3.0, 1024.0]),
            _ => *r.pick(&[
                0.0,
                -0.0,
                9.223372036854776e18,
                -9.223372036854776e18,
                1e19,
                -1e19,
                f64::INFINITY,
            ]),
        };
        if f.is_nan() {
            continue;
        }
        let want = oracle(i, f);
        assert_eq!(int(i).try_cmp(&flt(f)), Ok(want), "{i} vs {f:e}");
        assert_eq!(flt(f).try_cmp(&int(i)), Ok(want.reverse()), "{f:e} vs {i}");
    }
}

// ---- CsbTree -----------------------------------------------------------------------------------

#[test]
fn csbtree_order_is_validated() {
    for bad in [0, 1] {
        let e = CsbTree::<u64>::new(bad).unwrap_err();
        let msg = e.to_string();
        assert!(
            matches!(e, kohakuvault::error::Error::InvalidArgument(_)),
            "{bad}: {msg}"
        );
        assert!(msg.contains("order must be at least 2"), "{msg}");
        assert!(SharedCsbTree::<u64>::new(bad).is_err());
    }
    for good in [2, 3, 63, 1000] {
        assert_eq!(CsbTree::<u64>::new(good).unwrap().order(), good);
    }
    assert_eq!(CsbTree::<u64>::default().order(), 63);
}

fn run_tree(order: usize, class: Class, seed: u64) {
    let what = format!("order {order}, {class:?}, seed {seed}");
    let mut r = Rng(seed);
    let mut t: CsbTree<u64> = CsbTree::new(order).unwrap();
    let mut model: BTreeMap<M, u64> = BTreeMap::new();
    let mut max_len = 0;
    for op in 0..OPS {
        let k = gen(class, &mut r);
        let v = op as u64;
        match r.below(100) {
            0..=39 => {
                let got = t.insert(k.clone(), v).unwrap();
                assert_eq!(got, model.insert(M(k.clone()), v), "{what}: insert {k:?}");
            }
            40..=64 => {
                let got = t.remove_entry(&k).unwrap();
                let want = model.remove_entry(&M(k.clone()));
                match (&got, &want) {
                    (Some((gk, gv)), Some((wk, wv))) => {
                        assert!(
                            gk.is_identical(&wk.0),
                            "{what}: removed key {gk:?} vs {:?}",
                            wk.0
                        );
                        assert_eq!(gv, wv);
                    }
                    (None, None) => {}
                    _ => panic!("{what}: remove {k:?}: {got:?} vs {want:?}"),
                }
            }
            65..=79 => {
                same_entry(
                    t.get_key_value(&k).unwrap(),
                    model.get_key_value(&M(k.clone())),
                    &what,
                );
                assert_eq!(
                    t.contains_key(&k).unwrap(),
                    model.contains_key(&M(k.clone()))
                );
            }
            80..=82 => {
                let got = *t.setdefault(k.clone(), v).unwrap();
                assert_eq!(
                    got,
                    *model.entry(M(k.clone())).or_insert(v),
                    "{what}: setdefault"
                );
            }
            83..=86 => {
                let (lo, hi) = (random_bound(class, &mut r), random_bound(class, &mut r));
                let got = t.range_bounds(as_ref(&lo), as_ref(&hi)).unwrap();
                same_entries(
                    got,
                    model_range(&model, &lo, &hi).into_iter(),
                    &format!("{what}: range {lo:?} {hi:?}"),
                );
                let k2 = gen(class, &mut r);
                let got = t.range(&k, &k2).unwrap();
                let want = model_range(
                    &model,
                    &Bound::Included(k.clone()),
                    &Bound::Excluded(k2.clone()),
                );
                same_entries(
                    got,
                    want.into_iter(),
                    &format!("{what}: range({k:?}, {k2:?})"),
                );
            }
            87..=95 => {
                let mk = M(k.clone());
                same_entry(
                    t.floor(&k).unwrap(),
                    model.range(..=mk.clone()).next_back(),
                    &format!("{what}: floor {k:?}"),
                );
                same_entry(
                    t.lower(&k).unwrap(),
                    model.range(..mk.clone()).next_back(),
                    &format!("{what}: lower {k:?}"),
                );
                same_entry(
                    t.ceiling(&k).unwrap(),
                    model.range(mk.clone()..).next(),
                    &format!("{what}: ceiling {k:?}"),
                );
                same_entry(
                    t.higher(&k).unwrap(),
                    model.range((Bound::Excluded(mk), Bound::Unbounded)).next(),
                    &format!("{what}: higher {k:?}"),
                );
            }
            96..=97 => {
                same_entry(t.first(), model.iter().next(), &what);
                same_entry(t.last(), model.iter().next_back(), &what);
            }
            98 => {
                if r.below(40) == 0 {
                    t.clear();
                    model.clear();
                }
            }
            _ => {
                same_entries(t.iter(), model.iter(), &what);
                let runs: Vec<u64> = t.value_runs().flatten().copied().collect();
                assert!(runs.iter().eq(model.values()), "{what}: value runs");
            }
        }
        assert_eq!(t.len(), model.len(), "{what}: len after op {op}");
        max_len = max_len.max(model.len());
        if op % 10_000 == 0 || op == OPS - 1 {
            t.check_invariants()
                .unwrap_or_else(|e| panic!("{what}: op {op}: {e}"));
        }
    }
    same_entries(t.iter(), model.iter(), &what);
    assert!(t.iter().size_hint() == (model.len(), Some(model.len())));
    // Drain through removals, checking the structure on the way down.
    let keys: Vec<Key> = model.keys().map(|m| m.0.clone()).collect();
    for (i, k) in keys.iter().enumerate() {
        assert!(t.remove(k).unwrap().is_some(), "{what}: drain {k:?}");
        if i % 97 == 0 {
            t.check_invariants()
                .unwrap_or_else(|e| panic!("{what}: drain: {e}"));
        }
    }
    assert!(t.is_empty() && t.iter().next().is_none() && t.height() == 0);
    t.check_invariants().unwrap();
    assert!(
        max_len > 50,
        "{what}: the run exercised a real tree ({max_len})"
    );
}

#[test]
fn csbtree_matches_btreemap_numbers() {
    for order in [2, 3, 63] {
        for seed in SEEDS {
            run_tree(order, Class::Numbers, seed);
        }
    }
}

#[test]
fn csbtree_matches_btreemap_strings() {
    for order in [2, 3, 63] {
        for seed in SEEDS {
            run_tree(order, Class::Strings, seed);
        }
    }
}

#[test]
fn csbtree_matches_btreemap_bytes_and_tuples() {
    for order in [2, 3, 63] {
        for seed in SEEDS {
            run_tree(order, Class::Bytes, seed);
            run_tree(order, Class::Tuples, seed);
        }
    }
}

/// Sequential, reverse and large workloads (deep trees, every split and merge path).
#[test]
fn csbtree_bulk_orders() {
    for order in [2, 3, 4, 5, 16, 63, 64] {
        let mut t: CsbTree<u64> = CsbTree::new(order).unwrap();
        let n = 20_000i64;
        for i in 0..n {
            assert_eq!(t.insert(int(i), i as u64).unwrap(), None);
        }
        for i in (n..2 * n).rev() {
            assert_eq!(t.insert(int(i), i as u64).unwrap(), None);
        }
        t.check_invariants().unwrap();
        assert_eq!(t.len(), 2 * n as usize);
        assert!(t.iter().map(|(k, _)| k.clone()).eq((0..2 * n).map(int)));
        // Remove every other key, then the rest from the top.
        for i in (0..2 * n).step_by(2) {
            assert_eq!(t.remove(&int(i)).unwrap(), Some(i as u64));
        }
        t.check_invariants().unwrap();
        assert!(t
            .iter()
            .map(|(k, _)| k.clone())
            .eq((1..2 * n).step_by(2).map(int)));
        for i in (0..n).rev().map(|j| 2 * j + 1) {
            assert_eq!(t.remove(&flt(i as f64)).unwrap(), Some(i as u64));
            if i % 1001 == 1 {
                t.check_invariants().unwrap();
            }
        }
        assert!(t.is_empty());
        assert_eq!(t.height(), 0);
    }
}

/// An int key, or a str key of the same order.
fn int_or_str(strings: bool, x: i64) -> Key {
    if strings {
        s(&format!("k{x:06}"))
    } else {
        int(x)
    }
}

/// Two trees of one order holding the same `n` random keys below `below`.
fn twin_trees(
    order: usize,
    n: usize,
    below: i64,
    strings: bool,
    r: &mut Rng,
) -> (CsbTree<u64>, CsbTree<u64>) {
    let mut a: CsbTree<u64> = CsbTree::new(order).unwrap();
    let mut b: CsbTree<u64> = CsbTree::new(order).unwrap();
    for _ in 0..n {
        let k = r.range(0, below);
        a.insert(int_or_str(strings, k), k as u64).unwrap();
        b.insert(int_or_str(strings, k), k as u64).unwrap();
    }
    (a, b)
}

/// A batch's results and tree (`a`, checked) equal the ones of its items one by one (`b`).
fn same_trees(
    a: &CsbTree<u64>,
    b: &CsbTree<u64>,
    got: Vec<Option<u64>>,
    want: Vec<Option<u64>>,
    what: &str,
) {
    assert_eq!(got, want, "{what}");
    a.check_invariants()
        .unwrap_or_else(|e| panic!("{what}: {e}"));
    assert_eq!(a.len(), b.len(), "{what}");
    assert!(a.iter().eq(b.iter()), "{what}");
}

/// Ascending batches (the finger inserts of `insert_many`) do what the same inserts one by
/// one do: into empty and filled trees of every order, int and str keys, with repeated keys,
/// replacing or keeping present values; the structure stays valid.
#[test]
fn csbtree_insert_ascending_matches_single_inserts() {
    let mut r = Rng(2024);
    for order in [2, 3, 4, 5, 16, 63] {
        for strings in [false, true] {
            for if_absent in [false, true] {
                for prefill in [0, 300, 5000] {
                    let key = |x: i64| int_or_str(strings, x);
                    let (mut a, mut b) = twin_trees(order, prefill, 20_000, strings, &mut r);
                    let mut batch: Vec<(i64, u64)> = (0..3000)
                        .map(|i| (r.range(0, 20_000), 100_000 + i))
                        .collect();
                    batch.sort_by_key(|&(k, _)| k); // stable: repeats keep their order
                    let want: Vec<Option<u64>> = batch
                        .iter()
                        .map(|&(k, v)| match if_absent {
                            true => b.insert_if_absent(key(k), v).unwrap().copied(),
                            false => b.insert(key(k), v).unwrap(),
                        })
                        .collect();
                    let mut got = Vec::new();
                    a.insert_ascending(batch.iter().map(|&(k, v)| (key(k), v)), if_absent, |p| {
                        got.push(p)
                    })
                    .unwrap();
                    let what = format!("order {order} str {strings} absent {if_absent} {prefill}");
                    same_trees(&a, &b, got, want, &what);
                }
            }
        }
    }
}

/// Descending batches of removals (the finger removals of `remove_many`) do what the same
/// removals one by one do: trees of every order, int and str keys, repeated and absent keys,
/// down to an empty tree; the structure stays valid.
#[test]
fn csbtree_remove_descending_matches_single_removals() {
    let mut r = Rng(4048);
    for order in [2, 3, 4, 5, 16, 63] {
        for strings in [false, true] {
            for fill in [100, 5000] {
                let key = |x: i64| int_or_str(strings, x);
                let (mut a, mut b) = twin_trees(order, fill, 8000, strings, &mut r);
                for round in 0..3 {
                    let n = if round == 2 { 9000 } else { 2000 };
                    let mut batch: Vec<i64> = (0..n).map(|_| r.range(-5, 8005)).collect();
                    if round == 2 {
                        batch.extend(0..8000); // everything left
                    }
                    batch.sort_by(|x, y| y.cmp(x));
                    let want: Vec<Option<u64>> =
                        batch.iter().map(|&k| b.remove(&key(k)).unwrap()).collect();
                    let keys: Vec<Key> = batch.iter().map(|&k| key(k)).collect();
                    let mut got = Vec::new();
                    a.remove_descending(keys.iter(), |p| got.push(p)).unwrap();
                    let what = format!("order {order} str {strings} fill {fill} round {round}");
                    same_trees(&a, &b, got, want, &what);
                }
                assert!(a.is_empty(), "order {order}");
            }
        }
    }
}

#[test]
fn csbtree_semantics() {
    let mut t: CsbTree<&str> = CsbTree::new(2).unwrap();
    assert_eq!(t.insert(int(1), "a").unwrap(), None);
    assert_eq!(t.insert(flt(1.0), "b").unwrap(), Some("a"));
    assert_eq!(t.insert(Key::Bool(true), "c").unwrap(), Some("b"));
    let (k, v) = t.get_key_value(&flt(1.0)).unwrap().unwrap();
    assert!(k.is_identical(&int(1)), "the original key is kept: {k:?}");
    assert_eq!(*v, "c");
    assert_eq!(t.len(), 1);
    for i in 2..50 {
        t.insert(int(i), "x").unwrap();
    }
    assert_eq!(t.range(&int(42), &int(42)).unwrap().count(), 0);
    assert_eq!(t.range(&int(43), &int(42)).unwrap().count(), 0);
    let r: Vec<i64> = t
        .range(&flt(9.5), &int(13))
        .unwrap()
        .map(|(k, _)| match k {
            Key::Int(i) => *i,
            _ => unreachable!(),
        })
        .collect();
    assert_eq!(r, vec![10, 11, 12]);
    assert_eq!(*t.setdefault(int(7), "new").unwrap(), "x");
    assert_eq!(*t.setdefault(int(100), "new").unwrap(), "new");
    assert_eq!(t.get(&int(100)).unwrap(), Some(&"new"));
    assert_eq!(t.remove(&int(100)).unwrap(), Some("new"));
    assert_eq!(t.remove(&int(100)).unwrap(), None);
    assert_eq!(t.get(&int(100)).unwrap(), None);
    assert_eq!(format!("{t:?}"), "CsbTree(len=49)");
    // Batches: previous values in order; an error stops at its index.
    let mut prev = Vec::new();
    t.insert_many(vec![(int(1), "m"), (int(200), "n")], &mut prev)
        .unwrap();
    assert_eq!(prev, vec![Some("c"), None]);
    prev.clear();
    let e = t
        .insert_many(
            vec![(int(201), "p"), (s("bad"), "q"), (int(202), "r")],
            &mut prev,
        )
        .unwrap_err();
    assert_eq!(e.index, 1);
    assert_eq!(prev, vec![None]);
    assert!(t.contains_key(&int(201)).unwrap() && !t.contains_key(&int(202)).unwrap());
    assert_eq!(
        t.get_many(&[int(1), int(999), int(2)]).unwrap(),
        vec![Some(&"m"), None, Some(&"x")]
    );
    assert_eq!(t.get_many(&[int(1), s("x")]).unwrap_err().index, 1);
    t.clear();
    assert!(t.is_empty() && t.first().is_none() && t.last().is_none());
    assert_eq!(t.floor(&int(3)).unwrap(), None);
    t.check_invariants().unwrap();
    // None is a key (equal only to itself).
    assert_eq!(t.insert(Key::None, "none").unwrap(), None);
    assert_eq!(t.insert(Key::None, "none2").unwrap(), Some("none"));
    assert_eq!(
        t.insert(int(1), "x").unwrap_err().to_string(),
        "'<' not supported between instances of 'int' and 'NoneType'"
    );
}

// ---- refused keys change nothing --------------------------------------------------------------

fn mixed_pool() -> Vec<Key> {
    vec![
        int(0),
        int(1),
        flt(1.0),
        flt(2.5),
        Key::Bool(true),
        int(3),
        s("a"),
        s("b"),
        b(b"x"),
        b(b""),
        Key::None,
        tup(vec![]),
        tup(vec![int(1), s("a")]),
        tup(vec![int(1), int(2)]),
        tup(vec![int(1), int(3)]),
        tup(vec![int(2)]),
        tup(vec![flt(0.5), s("z")]),
        tup(vec![Key::None, int(1)]),
        tup(vec![Key::None, s("q")]),
        tup(vec![int(1), s("a"), b(b"k")]),
    ]
}

/// A brute-force model: an operation must fail exactly when its key is incomparable with a
/// live key, and a failed operation changes nothing.
#[derive(Default)]
struct Brute {
    entries: Vec<(Key, u64)>,
}

impl Brute {
    fn refuses(&self, k: &Key) -> bool {
        self.entries.iter().any(|(e, _)| k.try_cmp(e).is_err())
    }
    fn find(&self, k: &Key) -> Option<usize> {
        self.entries
            .iter()
            .position(|(e, _)| k.try_cmp(e) == Ok(Ordering::Equal))
    }
    fn sorted(&self) -> Vec<(Key, u64)> {
        let mut v = self.entries.clone();
        v.sort_by(|a, c| a.0.try_cmp(&c.0).unwrap());
        v
    }
}

fn assert_same_items(got: Vec<(Key, u64)>, want: Vec<(Key, u64)>, what: &str) {
    assert_eq!(got.len(), want.len(), "{what}: {got:?} vs {want:?}");
    for ((gk, gv), (wk, wv)) in got.iter().zip(&want) {
        assert!(
            gk.is_identical(wk) && gv == wv,
            "{what}: {got:?} vs {want:?}"
        );
    }
}

#[test]
fn refused_keys_change_nothing() {
    let pool = mixed_pool();
    for seed in SEEDS {
        let mut r = Rng(seed);
        let mut trees: Vec<CsbTree<u64>> = [2, 3, 63]
            .iter()
            .map(|&o| CsbTree::new(o).unwrap())
            .collect();
        let list: SkipList<u64> = SkipList::new();
        let mut tree_model = Brute::default();
        let mut list_model = Brute::default();
        let mut refused = 0;
        for op in 0..20_000u64 {
            let k = r.pick(&pool).clone();
            let what = format!("seed {seed} op {op} key {k:?}");
            match r.below(4) {
                0 | 1 => {
                    let want_err = tree_model.refuses(&k);
                    for t in &mut trees {
                        let got = t.insert(k.clone(), op);
                        assert_eq!(got.is_err(), want_err, "tree insert {what}");
                    }
                    if !want_err {
                        match tree_model.find(&k) {
                            Some(i) => tree_model.entries[i].1 = op,
                            None => tree_model.entries.push((k.clone(), op)),
                        }
                    } else {
                        refused += 1;
                    }
                    let want_err = list_model.refuses(&k);
                    assert_eq!(
                        list.insert(k.clone(), op).is_err(),
                        want_err,
                        "list insert {what}"
                    );
                    if !want_err && list_model.find(&k).is_none() {
                        list_model.entries.push((k.clone(), op));
                    }
                }
                2 => {
                    let want_err = tree_model.refuses(&k);
                    for t in &mut trees {
                        assert_eq!(t.remove(&k).is_err(), want_err, "tree remove {what}");
                    }
                    if !want_err {
                        if let Some(i) = tree_model.find(&k) {
                            tree_model.entries.swap_remove(i);
                        }
                    }
                    let want_err = list_model.refuses(&k);
                    assert_eq!(list.remove(&k).is_err(), want_err, "list remove {what}");
                    if !want_err {
                        if let Some(i) = list_model.find(&k) {
                            list_model.entries.swap_remove(i);
                        }
                    }
                }
                _ => {
                    let want_err = tree_model.refuses(&k);
                    for t in &trees {
                        assert_eq!(t.get(&k).is_err(), want_err, "tree get {what}");
                        assert_eq!(t.floor(&k).is_err(), want_err, "tree floor {what}");
                        assert_eq!(t.ceiling(&k).is_err(), want_err, "tree ceiling {what}");
                    }
                    let want_err = list_model.refuses(&k);
                    assert_eq!(list.get(&k).is_err(), want_err, "list get {what}");
                    assert_eq!(list.ceiling(&k).is_err(), want_err, "list ceiling {what}");
                    assert_eq!(list.floor(&k).is_err(), want_err, "list floor {what}");
                }
            }
            if op % 64 == 0 {
                let want = tree_model.sorted();
                for t in &trees {
                    t.check_invariants().unwrap();
                    let got = t.iter().map(|(k, v)| (k.clone(), *v)).collect();
                    assert_same_items(got, want.clone(), &what);
                }
                assert_same_items(list.items(), list_model.sorted(), &what);
            }
        }
        assert!(refused > 1000, "the pool produced refusals ({refused})");
    }
}

#[test]
fn incomparable_and_nan_errors() {
    let mut t: CsbTree<u64> = CsbTree::new(3).unwrap();
    let l: SkipList<u64> = SkipList::new();
    // NaN is refused even by an empty container.
    let nan = flt(f64::NAN);
    assert_eq!(t.insert(nan.clone(), 1), Err(Incomparable::NaN));
    assert_eq!(l.insert(nan.clone(), 1), Err(Incomparable::NaN));
    assert_eq!(
        t.get(&tup(vec![int(1), nan.clone()])),
        Err(Incomparable::NaN)
    );
    assert_eq!(l.remove(&nan), Err(Incomparable::NaN));
    assert!(t.range(&int(0), &nan).is_err() && l.range(&nan, &int(0)).is_err());
    assert!(t.is_empty() && l.is_empty());
    for i in 0..100 {
        t.insert(int(i), i as u64).unwrap();
        l.insert(int(i), i as u64).unwrap();
    }
    let msg = "'<' not supported between instances of 'str' and 'int'";
    assert_eq!(t.insert(s("a"), 0).unwrap_err().to_string(), msg);
    assert_eq!(l.insert(s("a"), 0).unwrap_err().to_string(), msg);
    assert_eq!(t.get(&s("a")).unwrap_err().to_string(), msg);
    assert_eq!(l.get(&s("a")).unwrap_err().to_string(), msg);
    assert!(t.remove(&s("a")).is_err() && l.remove(&s("a")).is_err());
    assert!(t.range(&int(1), &s("a")).is_err() && l.range(&int(1), &s("a")).is_err());
    assert!(t.floor(&Key::None).is_err() && l.higher(&Key::None).is_err());
    assert_eq!(t.len(), 100);
    assert_eq!(l.len(), 100);
    t.check_invariants().unwrap();
    assert!(t.iter().map(|(k, _)| k.clone()).eq((0..100).map(int)));
    assert!(l.keys().into_iter().eq((0..100).map(int)));
}

// ---- SkipList ----------------------------------------------------------------------------------

fn run_list(class: Class, seed: u64) {
    let what = format!("skiplist {class:?}, seed {seed}");
    let mut r = Rng(seed);
    let l: SkipList<u64> = SkipList::new();
    let mut model: BTreeMap<M, u64> = BTreeMap::new();
    let own = |e: Option<(Key, u64)>| e;
    for op in 0..OPS {
        let k = gen(class, &mut r);
        let v = op as u64;
        match r.below(100) {
            0..=39 => {
                let got = l.insert(k.clone(), v).unwrap();
                let want = match model.get(&M(k.clone())) {
                    Some(old) => Some(*old),
                    None => {
                        model.insert(M(k.clone()), v);
                        None
                    }
                };
                assert_eq!(got, want, "{what}: insert {k:?}");
            }
            40..=64 => {
                let got = own(l.remove_entry(&k).unwrap());
                let want = model.remove_entry(&M(k.clone()));
                same_entry(
                    got.as_ref().map(|(k, v)| (k, v)),
                    want.as_ref().map(|(k, v)| (k, v)),
                    &format!("{what}: remove {k:?}"),
                );
            }
            65..=79 => {
                let got = l.get_key_value(&k).unwrap();
                same_entry(
                    got.as_ref().map(|(k, v)| (k, v)),
                    model.get_key_value(&M(k.clone())),
                    &what,
                );
                assert_eq!(l.get(&k).unwrap(), model.get(&M(k.clone())).copied());
                assert_eq!(
                    l.contains_key(&k).unwrap(),
                    model.contains_key(&M(k.clone()))
                );
            }
            80..=85 => {
                let (lo, hi) = (random_bound(class, &mut r), random_bound(class, &mut r));
                let limit = if r.below(3) == 0 {
                    r.below(8) as usize
                } else {
                    usize::MAX
                };
                let got = l.range_page(as_ref(&lo), as_ref(&hi), limit).unwrap();
                let want = model_range(&model, &lo, &hi);
                same_entries(
                    got.iter().map(|(k, v)| (k, v)),
                    want.into_iter().take(limit),
                    &format!("{what}: range {lo:?} {hi:?}"),
                );
                let k2 = gen(class, &mut r);
                let got = l.range(&k, &k2).unwrap();
                let want = model_range(
                    &model,
                    &Bound::Included(k.clone()),
                    &Bound::Excluded(k2.clone()),
                );
                same_entries(
                    got.iter().map(|(k, v)| (k, v)),
                    want.into_iter(),
                    &format!("{what}: range({k:?}, {k2:?})"),
                );
            }
            86..=95 => {
                let mk = M(k.clone());
                let e = |x: Option<(Key, u64)>| x;
                let f = e(l.floor(&k).unwrap());
                same_entry(
                    f.as_ref().map(|(k, v)| (k, v)),
                    model.range(..=mk.clone()).next_back(),
                    &format!("{what}: floor {k:?}"),
                );
                let f = e(l.lower(&k).unwrap());
                same_entry(
                    f.as_ref().map(|(k, v)| (k, v)),
                    model.range(..mk.clone()).next_back(),
                    &format!("{what}: lower {k:?}"),
                );
                let f = e(l.ceiling(&k).unwrap());
                same_entry(
                    f.as_ref().map(|(k, v)| (k, v)),
                    model.range(mk.clone()..).next(),
                    &format!("{what}: ceiling {k:?}"),
                );
                let f = e(l.higher(&k).unwrap());
                same_entry(
                    f.as_ref().map(|(k, v)| (k, v)),
                    model.range((Bound::Excluded(mk), Bound::Unbounded)).next(),
                    &format!("{what}: higher {k:?}"),
                );
            }
            96..=97 => {
                let f = l.first();
                same_entry(f.as_ref().map(|(k, v)| (k, v)), model.iter().next(), &what);
                let f = l.last();
                same_entry(
                    f.as_ref().map(|(k, v)| (k, v)),
                    model.iter().next_back(),
                    &what,
                );
            }
            98 => {
                if r.below(40) == 0 {
                    l.clear();
                    model.clear();
                }
            }
            _ => {
                let items = l.items();
                same_entries(items.iter().map(|(k, v)| (k, v)), model.iter(), &what);
                let iterated: Vec<(Key, u64)> = l.iter().collect();
                same_entries(iterated.iter().map(|(k, v)| (k, v)), model.iter(), &what);
            }
        }
        assert_eq!(l.len(), model.len(), "{what}: len after op {op}");
    }
    let items = l.items();
    same_entries(items.iter().map(|(k, v)| (k, v)), model.iter(), &what);
}

#[test]
fn skiplist_matches_btreemap_numbers_and_strings() {
    for seed in SEEDS {
        run_list(Class::Numbers, seed);
        run_list(Class::Strings, seed);
    }
}

#[test]
fn skiplist_matches_btreemap_bytes_and_tuples() {
    for seed in SEEDS {
        run_list(Class::Bytes, seed);
        run_list(Class::Tuples, seed);
    }
}

#[test]
fn skiplist_semantics() {
    let l: SkipList<&str> = SkipList::new();
    assert_eq!(l.insert(int(1), "a").unwrap(), None);
    // Insert-if-absent: the existing value stays and is returned.
    assert_eq!(l.insert(int(1), "b").unwrap(), Some("a"));
    assert_eq!(l.insert(flt(1.0), "c").unwrap(), Some("a"));
    assert_eq!(l.get(&Key::Bool(true)).unwrap(), Some("a"));
    assert!(l
        .get_key_value(&flt(1.0))
        .unwrap()
        .unwrap()
        .0
        .is_identical(&int(1)));
    assert_eq!(l.remove(&int(1)).unwrap(), Some("a"));
    assert_eq!(l.remove(&int(1)).unwrap(), None);
    assert_eq!(l.insert(int(1), "b").unwrap(), None);
    assert_eq!(l.get(&int(1)).unwrap(), Some("b"));
    for i in 2..50 {
        l.insert(int(i), "x").unwrap();
    }
    assert!(l.range(&int(42), &int(42)).unwrap().is_empty());
    assert!(l.range(&int(43), &int(42)).unwrap().is_empty());
    let r: Vec<Key> = l
        .range(&flt(9.5), &int(13))
        .unwrap()
        .into_iter()
        .map(|(k, _)| k)
        .collect();
    assert_eq!(r, vec![int(10), int(11), int(12)]);
    assert_eq!(l.first().unwrap().0, int(1));
    assert_eq!(l.last().unwrap().0, int(49));
    assert_eq!(format!("{l:?}"), "SkipList(len=49)");
    let mut prev = Vec::new();
    l.insert_many(vec![(int(1), "m"), (int(200), "n")], &mut prev)
        .unwrap();
    assert_eq!(prev, vec![Some("b"), None]);
    assert_eq!(l.get(&int(1)).unwrap(), Some("b"));
    prev.clear();
    let e = l
        .insert_many(
            vec![(int(201), "p"), (b(b"x"), "q"), (int(202), "r")],
            &mut prev,
        )
        .unwrap_err();
    assert_eq!((e.index, prev.len()), (1, 1));
    assert_eq!(
        l.get_many(&[int(1), int(999)]).unwrap(),
        vec![Some("b"), None]
    );
    assert_eq!(l.get_many(&[int(1), s("x")]).unwrap_err().index, 1);
    l.clear();
    assert!(l.is_empty() && l.first().is_none() && l.last().is_none() && l.items().is_empty());
    assert_eq!(l.insert(int(5), "after clear").unwrap(), None);
    assert_eq!(l.len(), 1);
}

/// `iter()` fetches pages: more than one page, in order, each key once.
#[test]
fn skiplist_paged_iteration() {
    let l: SkipList<u64, i64> = SkipList::new();
    let mut r = Rng(7);
    let mut want = BTreeSet::new();
    for _ in 0..5000 {
        let k = r.range(-100_000, 100_000);
        if l.insert(k, k as u64).unwrap().is_none() {
            want.insert(k);
        }
    }
    let got: Vec<i64> = l.iter().map(|(k, _)| k).collect();
    assert!(got.iter().copied().eq(want.iter().copied()));
    assert_eq!(l.keys(), got);
}

/// Long walks (read in runs side by side) give what one node after another gives: pages of
/// every size around the run and group lengths, from every kind of bound; and while other
/// threads insert and remove odd keys, every page is strictly ascending and holds every even
/// key (never touched) between its bounds, up to its last entry.
#[test]
fn skiplist_long_walks_match_the_model() {
    let list: Arc<SkipList<u64, Key>> = Arc::new(SkipList::new());
    let mut model = BTreeMap::new();
    let mut r = Rng(123);
    for _ in 0..20_000 {
        let k = r.range(0, 40_000);
        list.insert(int(k), k as u64).unwrap();
        model.insert(k, k as u64);
    }
    let limits = [33, 40, 100, 127, 128, 129, 257, 1000, 5000, usize::MAX];
    let bound = |r: &mut Rng| match r.below(3) {
        0 => Bound::Unbounded,
        1 => Bound::Included(r.range(-10, 40_010)),
        _ => Bound::Excluded(r.range(-10, 40_010)),
    };
    let key_bound = |b: Bound<i64>| b.map(int);
    for i in 0..600 {
        let (lo, hi) = (bound(&mut r), bound(&mut r));
        let limit = limits[i % limits.len()];
        let (klo, khi) = (key_bound(lo), key_bound(hi));
        let got = list.range_page(as_ref(&klo), as_ref(&khi), limit).unwrap();
        let empty = match (lo, hi) {
            (Bound::Included(a) | Bound::Excluded(a), Bound::Included(b) | Bound::Excluded(b)) => {
                a > b || (a == b && !matches!((lo, hi), (Bound::Included(_), Bound::Included(_))))
            }
            _ => false,
        };
        let want: Vec<(Key, u64)> = if empty {
            Vec::new()
        } else {
            model
                .range((lo, hi))
                .take(limit)
                .map(|(&k, &v)| (int(k), v))
                .collect()
        };
        assert_eq!(got, want, "range {lo:?} {hi:?} limit {limit}");
    }
    let all: Vec<(Key, u64)> = model.iter().map(|(&k, &v)| (int(k), v)).collect();
    assert_eq!(list.items(), all);

    for k in (0..40_000).step_by(2) {
        list.insert(int(k), k as u64).unwrap();
    }
    let (stop, churn) = churn_odd_keys(&list, 900);
    for i in 0..300 {
        let a = r.range(0, 40_000);
        let b = a + r.range(0, 10_000);
        let limit = limits[i % limits.len()];
        let page = list
            .range_page(Bound::Included(&int(a)), Bound::Excluded(&int(b)), limit)
            .unwrap();
        let keys: Vec<i64> = page
            .iter()
            .map(|(k, v)| match k {
                Key::Int(k) => {
                    assert_eq!(*v, *k as u64);
                    *k
                }
                other => panic!("unexpected key {other:?}"),
            })
            .collect();
        assert!(keys.windows(2).all(|w| w[0] < w[1]), "not ascending");
        assert!(keys.iter().all(|&k| a <= k && k < b), "outside [{a}, {b})");
        let end = if keys.len() == limit {
            *keys.last().unwrap() + 1
        } else {
            b
        };
        let evens: Vec<i64> = keys.iter().copied().filter(|k| k % 2 == 0).collect();
        let want: Vec<i64> = ((a + a.rem_euclid(2))..end.min(40_000))
            .step_by(2)
            .collect();
        assert_eq!(evens, want, "even keys of [{a}, {b}) limit {limit}");
    }
    let items = list.items();
    assert!(items.windows(2).all(|w| w[0].0 < w[1].0));
    stop_churn(stop, churn);
}

/// 8 threads insert, remove and iterate concurrently; afterwards no key is lost or duplicated,
/// and every iteration seen was strictly ascending.
/// Two threads inserting and removing odd keys below 40,000 until told to stop.
fn churn_odd_keys(
    list: &Arc<SkipList<u64, Key>>,
    seed: u64,
) -> (Arc<AtomicBool>, Vec<thread::JoinHandle<()>>) {
    let stop = Arc::new(AtomicBool::new(false));
    let churn = (0..2)
        .map(|t| {
            let (list, stop) = (list.clone(), stop.clone());
            thread::spawn(move || {
                let mut r = Rng(seed + t);
                while !stop.load(Mem::Relaxed) {
                    let k = r.range(0, 20_000) * 2 + 1;
                    if r.below(2) == 0 {
                        list.insert(int(k), k as u64).unwrap();
                    } else {
                        list.remove(&int(k)).unwrap();
                    }
                }
            })
        })
        .collect();
    (stop, churn)
}

fn stop_churn(stop: Arc<AtomicBool>, churn: Vec<thread::JoinHandle<()>>) {
    stop.store(true, Mem::Relaxed);
    for h in churn {
        h.join().unwrap();
    }
}

/// Batch gets in any order of the keys (ascending, descending, random, with repeats and
/// absent keys) find what single gets find; while other threads insert and remove odd keys,
/// every even key (never touched) is found with its value.
#[test]
fn skiplist_get_many_ordered_matches_get() {
    let list: Arc<SkipList<u64, Key>> = Arc::new(SkipList::new());
    let mut r = Rng(77);
    for _ in 0..20_000 {
        let k = r.range(0, 40_000);
        list.insert(int(k), k as u64).unwrap();
    }
    let keys: Vec<Key> = (0..30_000).map(|_| int(r.range(-10, 40_010))).collect();
    let want: Vec<Option<u64>> = keys.iter().map(|k| list.get(k).unwrap()).collect();
    let n = keys.len() as u32;
    let mut ascending: Vec<u32> = (0..n).collect();
    ascending.sort_by(|&a, &b| keys[a as usize].partial_cmp(&keys[b as usize]).unwrap());
    let descending: Vec<u32> = ascending.iter().rev().copied().collect();
    let mut random: Vec<u32> = (0..n).collect();
    for i in (1..random.len()).rev() {
        random.swap(i, r.below(i as u64 + 1) as usize);
    }
    for order in [&ascending, &descending, &random] {
        assert_eq!(list.get_many_ordered(&keys, order).unwrap(), want);
    }
    // A refused key is an error.
    let mixed = vec![int(1), s("x")];
    assert!(list.get_many_ordered(&mixed, &[0, 1]).is_err());

    for k in (0..40_000).step_by(2) {
        list.insert(int(k), k as u64).unwrap();
    }
    let evens: Vec<Key> = (0..40_000).step_by(2).map(int).collect();
    let order: Vec<u32> = (0..evens.len() as u32).collect();
    let (stop, churn) = churn_odd_keys(&list, 500);
    for _ in 0..20 {
        let found = list.get_many_ordered(&evens, &order).unwrap();
        for (i, v) in found.iter().enumerate() {
            assert_eq!(*v, Some(2 * i as u64), "even key {}", 2 * i);
        }
    }
    stop_churn(stop, churn);
}

/// Batch removals in any order of the keys (with repeats and absent keys) remove what single
/// removals remove; while other threads insert and remove odd keys, removing every even key
/// in key order returns each value exactly once and leaves no even key behind.
#[test]
fn skiplist_remove_many_ordered_matches_remove() {
    let mut r = Rng(91);
    for round in 0..3 {
        let a: SkipList<u64, Key> = SkipList::new();
        let b: SkipList<u64, Key> = SkipList::new();
        for _ in 0..20_000 {
            let k = r.range(0, 30_000);
            a.insert(int(k), k as u64).unwrap();
            b.insert(int(k), k as u64).unwrap();
        }
        let keys: Vec<Key> = (0..15_000).map(|_| int(r.range(-10, 30_010))).collect();
        let want: Vec<Option<u64>> = keys.iter().map(|k| b.remove(k).unwrap()).collect();
        let mut order: Vec<u32> = (0..keys.len() as u32).collect();
        match round {
            0 => order.sort_by(|&x, &y| keys[x as usize].partial_cmp(&keys[y as usize]).unwrap()),
            1 => order.reverse(),
            _ => {
                for i in (1..order.len()).rev() {
                    order.swap(i, r.below(i as u64 + 1) as usize);
                }
            }
        }
        // Equal keys: the first in batch order gets the value, as one by one.
        let mut sorted = order.clone();
        sorted.sort_by(|&x, &y| {
            keys[x as usize]
                .partial_cmp(&keys[y as usize])
                .unwrap()
                .then(x.cmp(&y))
        });
        let order = if round == 0 { sorted } else { order };
        let got = a.remove_many_ordered(&keys, &order);
        if round == 0 {
            assert_eq!(got, want);
        } else {
            let count = |v: &[Option<u64>]| v.iter().flatten().count();
            assert_eq!(count(&got), count(&want));
        }
        assert_eq!(a.items(), b.items());
    }

    let list: Arc<SkipList<u64, Key>> = Arc::new(SkipList::new());
    for k in 0..40_000 {
        list.insert(int(k), k as u64).unwrap();
    }
    let evens: Vec<Key> = (0..40_000).step_by(2).map(int).collect();
    let order: Vec<u32> = (0..evens.len() as u32).collect();
    let (stop, churn) = churn_odd_keys(&list, 700);
    let got = list.remove_many_ordered(&evens, &order);
    stop_churn(stop, churn);
    for (i, v) in got.iter().enumerate() {
        assert_eq!(*v, Some(2 * i as u64), "even key {}", 2 * i);
    }
    let items = list.items();
    assert!(items
        .iter()
        .all(|(k, _)| matches!(k, Key::Int(x) if x % 2 == 1)));
    assert!(items
        .windows(2)
        .all(|w| w[0].0.partial_cmp(&w[1].0) == Some(Ordering::Less)));
}

#[test]
fn skiplist_concurrent_stress() {
    const THREADS: u64 = 8;
    const OPS_PER_THREAD: u64 = 150_000;
    const SHARED_KEYS: i64 = 128;
    let list: Arc<SkipList<u64, Key>> = Arc::new(SkipList::new());
    // Net successful inserts minus removes per shared key (must end at 0 or 1).
    let net: Arc<Vec<AtomicIsize>> =
        Arc::new((0..SHARED_KEYS).map(|_| AtomicIsize::new(0)).collect());
    let stop = Arc::new(AtomicBool::new(false));
    let scans = Arc::new(AtomicUsize::new(0));
    let barrier = Arc::new(Barrier::new(THREADS as usize + 3));
    let mut writers = Vec::new();
    for t in 0..THREADS {
        let (list, net, barrier) = (list.clone(), net.clone(), barrier.clone());
        writers.push(thread::spawn(move || {
            let mut r = Rng(1000 + t);
            // Private keys: 1_000_000 * (t + 1) + i, known exactly by this thread.
            let mut mine = BTreeSet::new();
            barrier.wait();
            for op in 0..OPS_PER_THREAD {
                if op % 2 == 0 {
                    let k = r.range(0, SHARED_KEYS);
                    // Numbers mixing int and float spellings of the same key.
                    let key = if r.below(2) == 0 {
                        int(k)
                    } else {
                        flt(k as f64)
                    };
                    if r.below(2) == 0 {
                        if list.insert(key, (t << 32) | op).unwrap().is_none() {
                            net[k as usize].fetch_add(1, Mem::SeqCst);
                        }
                    } else if list.remove(&key).unwrap().is_some() {
                        net[k as usize].fetch_sub(1, Mem::SeqCst);
                    }
                } else {
                    let k = 1_000_000 * (t as i64 + 1) + r.range(0, 2000);
                    if r.below(3) != 0 {
                        let fresh = list.insert(int(k), k as u64).unwrap().is_none();
                        assert_eq!(fresh, mine.insert(k), "private insert {k}");
                    } else {
                        let gone = list.remove(&int(k)).unwrap();
                        assert_eq!(gone.is_some(), mine.remove(&k), "private remove {k}");
                        if let Some(v) = gone {
                            assert_eq!(v, k as u64);
                        }
                    }
                    assert_eq!(list.get(&int(k)).unwrap().is_some(), mine.contains(&k));
                }
            }
            mine
        }));
    }
    let mut readers = Vec::new();
    for kind in 0..2 {
        let (list, stop, scans, barrier) =
            (list.clone(), stop.clone(), scans.clone(), barrier.clone());
        readers.push(thread::spawn(move || {
            barrier.wait();
            while !stop.load(Mem::SeqCst) {
                let keys: Vec<Key> = if kind == 0 {
                    list.items().into_iter().map(|(k, _)| k).collect()
                } else {
                    list.iter().map(|(k, _)| k).collect()
                };
                for w in keys.windows(2) {
                    assert_eq!(
                        w[0].try_cmp(&w[1]),
                        Ok(Ordering::Less),
                        "iteration not strictly ascending"
                    );
                }
                let page = list.range(&int(100), &int(300)).unwrap();
                for w in page.windows(2) {
                    assert_eq!(w[0].0.try_cmp(&w[1].0), Ok(Ordering::Less));
                }
                assert!(page.iter().all(|(k, _)| *k >= int(100) && *k < int(300)));
                scans.fetch_add(1, Mem::Relaxed);
            }
        }));
    }
    barrier.wait();
    let mut expected: BTreeSet<M> = BTreeSet::new();
    for w in writers {
        for k in w.join().unwrap() {
            expected.insert(M(int(k)));
        }
    }
    stop.store(true, Mem::SeqCst);
    for r in readers {
        r.join().unwrap();
    }
    for (k, n) in net.iter().enumerate() {
        let n = n.load(Mem::SeqCst);
        assert!(n == 0 || n == 1, "shared key {k}: net inserts {n}");
        let present = list.get(&int(k as i64)).unwrap().is_some();
        assert_eq!(
            present,
            n == 1,
            "shared key {k}: present {present}, net {n}"
        );
        if present {
            expected.insert(M(int(k as i64)));
        }
    }
    let keys: Vec<Key> = list.keys();
    assert_eq!(keys.len(), expected.len(), "lost or duplicated keys");
    assert!(keys
        .iter()
        .zip(&expected)
        .all(|(a, e)| a.try_cmp(&e.0) == Ok(Ordering::Equal)));
    assert_eq!(list.len(), expected.len());
    assert!(scans.load(Mem::Relaxed) > 0);
}

/// Several threads fight over the same few keys with insert-if-absent: exactly one insert per
/// absent period wins, and values are never replaced.
#[test]
fn skiplist_concurrent_insert_if_absent() {
    let list: Arc<SkipList<u64, i64>> = Arc::new(SkipList::new());
    let barrier = Arc::new(Barrier::new(8));
    let handles: Vec<_> = (0..8u64)
        .map(|t| {
            let (list, barrier) = (list.clone(), barrier.clone());
            thread::spawn(move || {
                barrier.wait();
                let mut won = 0;
                for k in 0..20_000i64 {
                    match list.insert(k, t) {
                        Ok(None) => won += 1,
                        Ok(Some(v)) => assert!(v < 8),
                        Err(e) => panic!("{e}"),
                    }
                }
                won
            })
        })
        .collect();
    let total: usize = handles.into_iter().map(|h| h.join().unwrap()).sum();
    assert_eq!(total, 20_000, "every key inserted exactly once");
    assert_eq!(list.len(), 20_000);
    let items = list.items();
    assert!(items.iter().map(|(k, _)| *k).eq(0..20_000));
}

/// Values dropped exactly once: by removal (after the epoch advances), by clear, by drop.
#[test]
fn skiplist_reclaims_memory() {
    struct Tracked(Arc<AtomicIsize>);
    impl Tracked {
        fn new(live: &Arc<AtomicIsize>) -> Self {
            live.fetch_add(1, Mem::SeqCst);
            Tracked(live.clone())
        }
    }
    // A clone is one more live value (the list hands out clones).
    impl Clone for Tracked {
        fn clone(&self) -> Self {
            Tracked::new(&self.0)
        }
    }
    impl Drop for Tracked {
        fn drop(&mut self) {
            self.0.fetch_sub(1, Mem::SeqCst);
        }
    }
    let live = Arc::new(AtomicIsize::new(0));
    {
        let list: Arc<SkipList<Tracked, i64>> = Arc::new(SkipList::new());
        let handles: Vec<_> = (0..4i64)
            .map(|t| {
                let (list, live) = (list.clone(), live.clone());
                thread::spawn(move || {
                    let mut r = Rng(t as u64 + 99);
                    for _ in 0..40_000 {
                        let k = r.range(0, 3000);
                        if r.below(2) == 0 {
                            let _ = list.insert(k, Tracked::new(&live)).unwrap();
                        } else {
                            let _ = list.remove(&k).unwrap();
                        }
                    }
                })
            })
            .collect();
        // Meanwhile, clear() runs repeatedly.
        let clearing = {
            let list = list.clone();
            thread::spawn(move || {
                for _ in 0..40 {
                    list.clear();
                    thread::yield_now();
                }
            })
        };
        for h in handles {
            h.join().unwrap();
        }
        clearing.join().unwrap();
        // Quiescent: the counter is exact and the entries are sorted.
        let items = list.items();
        assert_eq!(list.len(), items.len());
        assert!(items.windows(2).all(|w| w[0].0 < w[1].0));
        drop(items);
        let half = list.len() / 2;
        for (i, (k, _)) in list.items().into_iter().enumerate() {
            if i < half {
                list.remove(&k).unwrap();
            }
        }
        list.clear();
        for i in 0..500 {
            list.insert(i, Tracked::new(&live)).unwrap();
        }
    } // the list drops here with 500 entries
    for _ in 0..10_000 {
        if live.load(Mem::SeqCst) == 0 {
            break;
        }
        crossbeam_epoch_flush();
    }
    assert_eq!(live.load(Mem::SeqCst), 0, "values leaked or pending");
}

/// Lets the global epoch advance and runs deferred destructions.
fn crossbeam_epoch_flush() {
    crossbeam_epoch::pin().flush();
    thread::yield_now();
}

// ---- CsbTree from 8 threads -------------------------------------------------------------------

#[test]
fn shared_csbtree_from_8_threads() {
    let tree: Arc<SharedCsbTree<u64>> = Arc::new(SharedCsbTree::new(16).unwrap());
    let barrier = Arc::new(Barrier::new(8));
    let handles: Vec<_> = (0..8u64)
        .map(|t| {
            let (tree, barrier) = (tree.clone(), barrier.clone());
            thread::spawn(move || {
                let mut r = Rng(t + 5);
                let mut mine = BTreeMap::new();
                barrier.wait();
                for op in 0..20_000u64 {
                    match r.below(10) {
                        0..=4 => {
                            let k = (t * 100_000 + r.below(3000)) as i64;
                            let old = tree.insert(int(k), op).unwrap();
                            assert_eq!(old, mine.insert(k, op));
                        }
                        5..=6 => {
                            let k = (t * 100_000 + r.below(3000)) as i64;
                            assert_eq!(tree.remove(&int(k)).unwrap(), mine.remove(&k));
                        }
                        7 => {
                            let k = (t * 100_000 + r.below(3000)) as i64;
                            assert_eq!(tree.get(&int(k)).unwrap(), mine.get(&k).copied());
                        }
                        8 => {
                            let lo = (t * 100_000) as i64;
                            let got = tree.range(&int(lo + 100), &int(lo + 200)).unwrap();
                            let want: Vec<_> = mine
                                .range(lo + 100..lo + 200)
                                .map(|(k, v)| (int(*k), *v))
                                .collect();
                            assert_same_items(got, want, "range");
                        }
                        _ if r.below(30) == 0 => {
                            let items = tree.items();
                            for w in items.windows(2) {
                                assert_eq!(w[0].0.try_cmp(&w[1].0), Ok(Ordering::Less));
                            }
                        }
                        _ => {
                            // Another thread's keys: concurrent reads while it writes.
                            let other = (r.below(8) * 100_000 + r.below(3000)) as i64;
                            let _ = tree.get(&int(other)).unwrap();
                            let _ = tree.ceiling(&flt(other as f64 + 0.5)).unwrap();
                        }
                    }
                }
                mine
            })
        })
        .collect();
    let mut want = Vec::new();
    for h in handles {
        want.extend(h.join().unwrap().into_iter().map(|(k, v)| (int(k), v)));
    }
    want.sort_by(|a, c| a.0.try_cmp(&c.0).unwrap());
    assert_same_items(tree.items(), want.clone(), "final");
    assert_eq!(tree.len(), want.len());
    tree.read(|t| t.check_invariants()).unwrap();
    assert_eq!(tree.setdefault(int(-1), 7).unwrap(), 7);
    assert_eq!(tree.setdefault(int(-1), 8).unwrap(), 7);
    assert_eq!(tree.first().unwrap().0, int(-1));
    assert_eq!(tree.floor(&flt(-0.5)).unwrap().unwrap().0, int(-1));
    tree.clear();
    assert!(tree.is_empty());
}

/// The tree drops every value exactly once (replace, remove, clear, drop).
#[test]
fn csbtree_drops_values_once() {
    let live = Arc::new(AtomicIsize::new(0));
    struct Tracked(Arc<AtomicIsize>);
    impl Drop for Tracked {
        fn drop(&mut self) {
            self.0.fetch_sub(1, Mem::SeqCst);
        }
    }
    let new = |live: &Arc<AtomicIsize>| {
        live.fetch_add(1, Mem::SeqCst);
        Tracked(live.clone())
    };
    {
        let mut t: CsbTree<Tracked> = CsbTree::new(3).unwrap();
        let mut r = Rng(3);
        for _ in 0..20_000 {
            let k = int(r.range(0, 1500));
            if r.below(3) == 0 {
                drop(t.remove(&k).unwrap());
            } else {
                drop(t.insert(k, new(&live)).unwrap());
            }
        }
        assert_eq!(live.load(Mem::SeqCst), t.len() as isize);
        t.clear();
        assert_eq!(live.load(Mem::SeqCst), 0);
        for i in 0..700 {
            t.insert(int(i), new(&live)).unwrap();
        }
    }
    assert_eq!(live.load(Mem::SeqCst), 0);
}

/// The typed keys (`i64`, `String`, `Vec<u8>`, `f64`) work as the containers' keys.
#[test]
fn typed_keys() {
    let mut t: CsbTree<u32, String> = CsbTree::new(4).unwrap();
    for (i, w) in ["pear", "apple", "fig", "Zebra", "éclair"]
        .iter()
        .enumerate()
    {
        t.insert(w.to_string(), i as u32).unwrap();
    }
    let keys: Vec<&str> = t.keys().map(|k| k.as_str()).collect();
    assert_eq!(keys, vec!["Zebra", "apple", "fig", "pear", "éclair"]);
    let l: SkipList<u8, Vec<u8>> = SkipList::new();
    for k in [vec![0xff], vec![0x00, 0x01], vec![0x80], vec![]] {
        l.insert(k, 0).unwrap();
    }
    assert_eq!(
        l.keys(),
        vec![vec![], vec![0x00, 0x01], vec![0x80], vec![0xff]]
    );
    let mut f: CsbTree<u8, f64> = CsbTree::new(2).unwrap();
    assert_eq!(f.insert(f64::NAN, 0), Err(Incomparable::NaN));
    f.insert(-0.0, 1).unwrap();
    assert_eq!(f.insert(0.0, 2).unwrap(), Some(1));
    assert_eq!(f.len(), 1);
}
