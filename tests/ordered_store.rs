//! `OrderedStore` (src/ordered/store.rs), the object every facade wraps: the FFI forms of
//! docs/FORMAT.md §9 against tests/conformance/ordered.json, pages and bounds against a
//! `BTreeMap`, batches that stop at an incomparable key, handles given back, host keys ordered
//! by a callback, and the C fast path.

mod common;

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicUsize, Ordering as Mem};
use std::sync::Arc;

use kohakuvault::ordered::fast::*;
use kohakuvault::ordered::wire::{encode_key, HostKey, HostKeyOrder};
use kohakuvault::ordered::{Key, Neighbor, OrderedKind, OrderedRange, OrderedStore};
use kohakuvault::VaultError;

fn enc(k: &Key) -> Vec<u8> {
    let mut out = Vec::new();
    encode_key(&HostKey::Native(k.clone()), &mut out);
    out
}

fn int_page(keys: &[i64]) -> Vec<u8> {
    let mut p = Vec::new();
    p.extend_from_slice(&1u32.to_le_bytes());
    p.extend_from_slice(&(keys.len() as u32).to_le_bytes());
    for k in keys {
        p.extend_from_slice(&k.to_le_bytes());
    }
    p
}

fn mixed_page(keys: &[Key]) -> Vec<u8> {
    let mut p = Vec::new();
    p.extend_from_slice(&0u32.to_le_bytes());
    p.extend_from_slice(&(keys.len() as u32).to_le_bytes());
    for k in keys {
        p.extend_from_slice(&enc(k));
    }
    p
}

fn handles(v: &[u64]) -> Vec<u8> {
    v.iter().flat_map(|x| x.to_le_bytes()).collect()
}

fn u64s(b: &[u8]) -> Vec<u64> {
    b.chunks_exact(8)
        .map(|c| u64::from_le_bytes(c.try_into().unwrap()))
        .collect()
}

/// An entry page decoded: (done, [(key, handle)]).
fn entries(page: &[u8]) -> (bool, Vec<(Key, u64)>) {
    let done = u32::from_le_bytes(page[0..4].try_into().unwrap()) & 1 == 1;
    let n = u32::from_le_bytes(page[4..8].try_into().unwrap()) as usize;
    let vals = u64s(&page[8..8 + 8 * n]);
    let keys = decode_keys(&page[8 + 8 * n..]);
    assert_eq!(keys.len(), n);
    (done, keys.into_iter().zip(vals).collect())
}

/// A key page decoded independently of the library (docs/FORMAT.md §9.2).
fn decode_keys(p: &[u8]) -> Vec<Key> {
    let layout = u32::from_le_bytes(p[0..4].try_into().unwrap());
    let n = u32::from_le_bytes(p[4..8].try_into().unwrap()) as usize;
    let body = &p[8..];
    let word = |i: usize| u64::from_le_bytes(body[8 * i..8 * i + 8].try_into().unwrap());
    match layout {
        1 => (0..n).map(|i| Key::Int(word(i) as i64)).collect(),
        2 => (0..n)
            .map(|i| Key::Float(f64::from_bits(word(i))))
            .collect(),
        3 => {
            let s = std::str::from_utf8(&body[8 * (n + 1)..]).unwrap();
            let chars: Vec<char> = s.chars().collect();
            (0..n)
                .map(|i| {
                    Key::Str(
                        chars[word(i) as usize..word(i + 1) as usize]
                            .iter()
                            .collect(),
                    )
                })
                .collect()
        }
        4 => {
            let blob = &body[8 * (n + 1)..];
            (0..n)
                .map(|i| Key::Bytes(blob[word(i) as usize..word(i + 1) as usize].to_vec()))
                .collect()
        }
        0 => {
            let mut pos = 0;
            (0..n).map(|_| decode_one(body, &mut pos)).collect()
        }
        l => panic!("layout {l}"),
    }
}

fn decode_one(b: &[u8], pos: &mut usize) -> Key {
    let tag = b[*pos];
    *pos += 1;
    let mut take = |n: usize| {
        let s = &b[*pos..*pos + n];
        *pos += n;
        s.to_vec()
    };
    match tag {
        0 => Key::None,
        1 => Key::Bool(false),
        2 => Key::Bool(true),
        3 => Key::Int(i64::from_le_bytes(take(8).try_into().unwrap())),
        4 => Key::Float(f64::from_le_bytes(take(8).try_into().unwrap())),
        5 | 6 => {
            let n = u32::from_le_bytes(take(4).try_into().unwrap()) as usize;
            let d = take(n);
            if tag == 5 {
                Key::Str(String::from_utf8(d).unwrap())
            } else {
                Key::Bytes(d)
            }
        }
        7 => {
            let n = u32::from_le_bytes(take(4).try_into().unwrap()) as usize;
            Key::Tuple((0..n).map(|_| decode_one(b, pos)).collect())
        }
        8 => Key::Tuple(vec![
            Key::Str("host".into()),
            Key::Int(i64::from_le_bytes(take(8).try_into().unwrap())),
        ]),
        t => panic!("tag {t}"),
    }
}

fn json_key(v: &serde_json::Value) -> Key {
    match v {
        serde_json::Value::Null => Key::None,
        serde_json::Value::Bool(b) => Key::Bool(*b),
        serde_json::Value::Number(n) => Key::Int(n.as_i64().expect("i64")),
        serde_json::Value::String(s) => Key::Str(s.clone()),
        serde_json::Value::Object(o) => {
            if let Some(h) = o.get("f64") {
                let bits = u64::from_str_radix(h.as_str().unwrap(), 16).unwrap();
                Key::Float(f64::from_bits(bits))
            } else if let Some(h) = o.get("hex") {
                Key::Bytes(common::hex(h.as_str().unwrap()))
            } else {
                Key::Tuple(
                    o["tuple"]
                        .as_array()
                        .unwrap()
                        .iter()
                        .map(json_key)
                        .collect(),
                )
            }
        }
        serde_json::Value::Array(_) => panic!("array key"),
    }
}

fn store(kind: OrderedKind) -> Arc<OrderedStore> {
    Arc::new(OrderedStore::new(kind, 3, None).expect("store"))
}

const KINDS: [OrderedKind; 2] = [OrderedKind::CsbTree, OrderedKind::SkipList];

fn all(s: &OrderedStore) -> Vec<(Key, u64)> {
    entries(
        &s.range(OrderedRange {
            start_inclusive: true,
            ..Default::default()
        })
        .unwrap(),
    )
    .1
}

#[test]
fn conformance_keys_encode_and_order_as_the_file_says() {
    let doc = common::conformance("ordered.json");
    for case in doc["cases"].as_array().unwrap() {
        let name = case["name"].as_str().unwrap();
        let keys: Vec<Key> = case["keys"]
            .as_array()
            .unwrap()
            .iter()
            .map(json_key)
            .collect();
        for (k, e) in keys.iter().zip(case["encodings"].as_array().unwrap()) {
            assert_eq!(
                common::to_hex(&enc(k)),
                e.as_str().unwrap().to_uppercase(),
                "{name}: {k:?}"
            );
        }
        for kind in KINDS {
            let s = store(kind);
            for (n, i) in case["insert_order"].as_array().unwrap().iter().enumerate() {
                let i = i.as_u64().unwrap() as usize;
                assert_eq!(s.insert(&enc(&keys[i]), n as u64 + 1).unwrap(), 0, "{name}");
            }
            let got: Vec<Key> = all(&s).into_iter().map(|(k, _)| k).collect();
            assert_eq!(got.len(), keys.len(), "{name} {kind:?}");
            for (a, b) in got.iter().zip(&keys) {
                assert!(a.is_identical(b), "{name} {kind:?}: {a:?} vs {b:?}");
            }
            // Neighbours of every key, from the sorted list.
            for (i, k) in keys.iter().enumerate() {
                let e = enc(k);
                let one = |w| {
                    entries(&s.neighbor(w, &e).unwrap())
                        .1
                        .into_iter()
                        .next()
                        .map(|(k, _)| k)
                };
                let at = |j: Option<usize>| j.map(|j| keys[j].clone());
                let same = |a: Option<Key>, b: Option<Key>| match (a, b) {
                    (None, None) => true,
                    (Some(a), Some(b)) => a.is_identical(&b),
                    _ => false,
                };
                assert!(same(one(Neighbor::Floor), at(Some(i))));
                assert!(same(one(Neighbor::Ceiling), at(Some(i))));
                assert!(same(one(Neighbor::Lower), at(i.checked_sub(1))));
                assert!(same(
                    one(Neighbor::Higher),
                    at((i + 1 < keys.len()).then_some(i + 1))
                ));
            }
        }
    }
}

#[test]
fn pages_bounds_limits_and_reverse_match_a_btreemap() {
    let mut rng = 0x1234_5678_u64;
    let mut next = || {
        rng ^= rng << 13;
        rng ^= rng >> 7;
        rng ^= rng << 17;
        rng
    };
    for kind in KINDS {
        let s = store(kind);
        let mut reference = BTreeMap::new();
        for h in 1..=2000u64 {
            let k = (next() % 5000) as i64 - 2500;
            let prev = s.insert(&enc(&Key::Int(k)), h).unwrap();
            match kind {
                OrderedKind::CsbTree => assert_eq!(prev, reference.insert(k, h).unwrap_or(0)),
                OrderedKind::SkipList => {
                    assert_eq!(prev, reference.get(&k).copied().unwrap_or(0));
                    reference.entry(k).or_insert(h);
                }
            }
        }
        assert_eq!(s.len(), reference.len() as u64);
        for _ in 0..300 {
            let a = (next() % 6000) as i64 - 3000;
            let b = a + (next() % 400) as i64;
            let (si, ei) = (next() % 2 == 0, next() % 2 == 0);
            let reverse = next() % 3 == 0;
            let limit = (next() % 40) as u32;
            let want: Vec<(i64, u64)> = {
                use std::ops::Bound::*;
                let lo = if si { Included(a) } else { Excluded(a) };
                let hi = if ei { Included(b) } else { Excluded(b) };
                if a == b && !(si && ei) {
                    vec![]
                } else {
                    let mut v: Vec<_> = reference.range((lo, hi)).map(|(k, v)| (*k, *v)).collect();
                    if reverse {
                        v.reverse();
                    }
                    v
                }
            };
            let r = OrderedRange {
                start: Some(enc(&Key::Int(a))),
                start_inclusive: si,
                end: Some(enc(&Key::Int(b))),
                end_inclusive: ei,
                limit,
                reverse,
            };
            assert_eq!(s.count_range(r.clone()).unwrap(), want.len() as u64);
            let (done, got) = entries(&s.range(r).unwrap());
            let n = if limit == 0 {
                want.len()
            } else {
                want.len().min(limit as usize)
            };
            let got: Vec<(i64, u64)> = got
                .into_iter()
                .map(|(k, v)| match k {
                    Key::Int(k) => (k, v),
                    k => panic!("{k:?}"),
                })
                .collect();
            assert_eq!(
                got,
                want[..n],
                "{kind:?} {a} {b} {si} {ei} {reverse} {limit}"
            );
            assert_eq!(done, n == want.len());
        }
        // get_many / remove_many in one call each.
        let keys: Vec<i64> = (-2600..2600).step_by(7).collect();
        let got = u64s(&s.get_many(&int_page(&keys)).unwrap());
        for (k, h) in keys.iter().zip(&got) {
            assert_eq!(*h, reference.get(k).copied().unwrap_or(0));
        }
        let out = s.remove_many(&int_page(&keys)).unwrap();
        assert!(out.error.is_none());
        assert_eq!(u64s(&out.previous), got);
        for k in &keys {
            reference.remove(k);
        }
        assert_eq!(s.len(), reference.len() as u64);
        // clear hands back exactly the remaining handles.
        let mut back = u64s(&s.clear());
        back.sort();
        let mut want: Vec<u64> = reference.values().copied().collect();
        want.sort();
        assert_eq!(back, want);
        assert_eq!(s.len(), 0);
    }
}

#[test]
fn a_batch_stops_at_the_first_incomparable_key_and_says_how_far_it_went() {
    for kind in KINDS {
        let s = store(kind);
        s.insert(&enc(&Key::Int(5)), 1).unwrap();
        let keys = [
            Key::Int(1),
            Key::Float(2.5),
            Key::Str("x".into()),
            Key::Int(3),
        ];
        let out = s
            .insert_many(&mixed_page(&keys), &handles(&[10, 11, 12, 13]), false)
            .unwrap();
        assert_eq!(u64s(&out.previous), vec![0, 0]);
        let msg = out.error.expect("error");
        assert!(
            msg.contains("item 2") && msg.contains("'<' not supported"),
            "{msg}"
        );
        assert_eq!(s.len(), 3);
        // NaN and bad input change nothing and are InvalidArgument.
        for bad in [enc(&Key::Float(f64::NAN)), vec![42], vec![]] {
            assert!(matches!(
                s.insert(&bad, 99),
                Err(VaultError::InvalidArgument { .. })
            ));
            assert!(matches!(
                s.get(&bad),
                Err(VaultError::InvalidArgument { .. })
            ));
        }
        assert!(matches!(
            s.insert(&enc(&Key::Int(9)), 0),
            Err(VaultError::InvalidArgument { .. })
        ));
        assert!(matches!(
            s.insert_many(&int_page(&[1, 2]), &handles(&[1]), false),
            Err(VaultError::InvalidArgument { .. })
        ));
        assert!(matches!(
            s.get_many(&mixed_page(&[Key::Str("a".into())])),
            Err(VaultError::InvalidArgument { .. })
        ));
        assert_eq!(s.len(), 3);
    }
    assert!(matches!(
        OrderedStore::new(OrderedKind::CsbTree, 1, None),
        Err(VaultError::InvalidArgument { .. })
    ));
}

/// Large batches (applied in key order) give what the same inserts one by one give: repeated
/// keys, entries of floats among int keys, keep or replace; a batch that meets keys it cannot
/// order still stops at the first of them, with the items before it applied.
#[test]
fn large_batches_equal_their_items_one_by_one() {
    let mut x = 7u64;
    let mut next = move || {
        x = x
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (x >> 33) as i64 % 3000
    };
    for kind in KINDS {
        for if_absent in [false, true] {
            for floats in [false, true] {
                let (a, b) = (store(kind), store(kind));
                if floats {
                    for i in 0..200 {
                        let k = enc(&Key::Float(i as f64 * 7.5));
                        a.insert(&k, 1 + i).unwrap();
                        b.insert(&k, 1 + i).unwrap();
                    }
                }
                let keys: Vec<i64> = (0..1000).map(|_| next()).collect();
                let vals: Vec<u64> = (0..1000).map(|i| 10_000 + i).collect();
                let out = a
                    .insert_many(&int_page(&keys), &handles(&vals), if_absent)
                    .unwrap();
                assert!(out.error.is_none());
                let want: Vec<u64> = keys
                    .iter()
                    .zip(&vals)
                    .map(|(&k, &v)| {
                        let k = enc(&Key::Int(k));
                        match if_absent {
                            true => b.insert_if_absent(&k, v).unwrap(),
                            false => b.insert(&k, v).unwrap(),
                        }
                    })
                    .collect();
                assert_eq!(u64s(&out.previous), want, "{kind:?} {if_absent} {floats}");
                assert_eq!(all(&a), all(&b));
                // Removals of as large a batch (repeats and absent keys) equal them one by one.
                let gone: Vec<i64> = (0..1200).map(|_| next() - 100).collect();
                let out = a.remove_many(&int_page(&gone)).unwrap();
                assert!(out.error.is_none());
                let want: Vec<u64> = gone
                    .iter()
                    .map(|&k| b.remove(&enc(&Key::Int(k))).unwrap())
                    .collect();
                assert_eq!(u64s(&out.previous), want, "{kind:?} removals");
                assert_eq!(all(&a), all(&b));
            }
        }
        // Str keys in a container of ints: refused from the first item, nothing applied.
        let s = store(kind);
        s.insert(&enc(&Key::Int(1)), 1).unwrap();
        let strs: Vec<Key> = (0..300).map(|i| Key::Str(format!("s{i}"))).collect();
        let hs: Vec<u64> = (1..=300).collect();
        let out = s
            .insert_many(&mixed_page(&strs), &handles(&hs), false)
            .unwrap();
        assert!(out.error.expect("error").contains("item 0"));
        assert_eq!(s.len(), 1);
        // A str key at item 250 of an int batch: the 250 before it applied.
        let mut mixed: Vec<Key> = (0..300).map(|i| Key::Int(100 + i)).collect();
        mixed[250] = Key::Str("x".into());
        let out = s
            .insert_many(&mixed_page(&mixed), &handles(&hs), false)
            .unwrap();
        assert!(out.error.expect("error").contains("item 250"));
        assert_eq!(u64s(&out.previous).len(), 250);
        assert_eq!(s.len(), 251);
    }
}

#[test]
fn insert_semantics_differ_by_kind_and_if_absent_is_shared() {
    let tree = store(OrderedKind::CsbTree);
    let k = enc(&Key::Int(1));
    assert_eq!(tree.insert(&k, 1).unwrap(), 0);
    assert_eq!(
        tree.insert(&enc(&Key::Float(1.0)), 2).unwrap(),
        1,
        "replaced"
    );
    assert!(
        all(&tree)[0].0.is_identical(&Key::Int(1)),
        "the first key object stays"
    );
    assert_eq!(tree.insert_if_absent(&k, 3).unwrap(), 2);
    assert_eq!(tree.get(&k).unwrap(), 2);
    let skip = store(OrderedKind::SkipList);
    assert_eq!(skip.insert(&k, 1).unwrap(), 0);
    assert_eq!(skip.insert(&k, 2).unwrap(), 1, "kept");
    assert_eq!(skip.get(&k).unwrap(), 1);
    let out = tree
        .insert_many(&int_page(&[1, 7]), &handles(&[8, 9]), true)
        .unwrap();
    assert_eq!(u64s(&out.previous), vec![2, 0]);
    assert_eq!(tree.get(&k).unwrap(), 2);
}

/// Orders host keys (handles) by a table of i64 ranks, native ints by value.
struct Ranks {
    ranks: BTreeMap<u64, i64>,
    calls: AtomicUsize,
}

impl HostKeyOrder for Ranks {
    fn compare(&self, left: u64, right: Vec<u8>) -> i8 {
        self.calls.fetch_add(1, Mem::Relaxed);
        let l = self.ranks[&left];
        let r = match right[0] {
            8 => self.ranks[&u64::from_le_bytes(right[1..9].try_into().unwrap())],
            3 => i64::from_le_bytes(right[1..9].try_into().unwrap()),
            _ => return 2,
        };
        l.cmp(&r) as i8
    }
}

fn host(h: u64) -> Vec<u8> {
    let mut v = vec![8];
    v.extend_from_slice(&h.to_le_bytes());
    v
}

#[test]
fn host_keys_are_ordered_by_the_callback_next_to_native_keys() {
    let ranks: BTreeMap<u64, i64> = (100..140).map(|h| (h, ((h * 37) % 101) as i64)).collect();
    for kind in KINDS {
        let order = Ranks {
            ranks: ranks.clone(),
            calls: AtomicUsize::new(0),
        };
        let s = OrderedStore::new(kind, 4, Some(Box::new(order))).unwrap();
        for (i, h) in (100..140u64).enumerate() {
            assert_eq!(s.insert(&host(h), i as u64 + 1).unwrap(), 0);
        }
        s.insert(&enc(&Key::Int(1000)), 1000).unwrap();
        let got = all(&s);
        let mut want: Vec<(i64, bool)> = ranks.values().map(|r| (*r, true)).collect();
        want.push((1000, false));
        want.sort();
        assert_eq!(got.len(), want.len());
        for ((k, _), (rank, is_host)) in got.iter().zip(&want) {
            match k {
                Key::Int(v) => assert!(!is_host && *v == *rank),
                Key::Tuple(t) => match t.as_slice() {
                    [Key::Str(tag), Key::Int(h)] if tag == "host" => {
                        assert!(*is_host && ranks[&(*h as u64)] == *rank)
                    }
                    other => panic!("{other:?}"),
                },
                other => panic!("{other:?}"),
            }
        }
        // A str key cannot be ordered against the host keys: refused, nothing changed.
        let n = s.len();
        assert!(s.insert(&enc(&Key::Str("x".into())), 77).is_err());
        assert_eq!(s.len(), n);
    }
    // Without a HostKeyOrder, host keys are refused.
    let s = store(OrderedKind::CsbTree);
    assert!(matches!(
        s.insert(&host(1), 1),
        Err(VaultError::InvalidArgument { .. })
    ));
}

#[test]
fn the_fast_path_agrees_with_the_udl_and_refuses_what_it_cannot_do() {
    for kind in KINDS {
        let s = store(kind);
        let h = s.clone().fast_handle() as u32;
        let split = |x: i64| (x as i32, (x >> 32) as i32);
        let keys = [0i64, 1, -1, i64::MAX, i64::MIN, 1 << 40, -(1 << 33) + 5];
        for (i, &k) in keys.iter().enumerate() {
            let (lo, hi) = split(k);
            let v = (i as i64 + 1) << 33 | 7; // a handle above 32 bits
            let (vlo, vhi) = split(v);
            assert_eq!(ord_fast_insert_int(h, lo, hi, vlo, vhi), 0);
            assert_eq!(s.get(&enc(&Key::Int(k))).unwrap(), v as u64);
            assert_eq!(ord_fast_get_int(h, lo, hi), v);
            assert_eq!(ord_fast_contains_int(h, lo, hi), 1);
        }
        // str keys cannot join int keys: refused through the fast path as through the UDL.
        let word = "naïve\u{1F600}";
        let b = word.as_bytes();
        unsafe {
            assert_eq!(ord_fast_insert(h, 1, b.as_ptr(), b.len() as i32, 42, 0), -1);
        }
        let (lo, hi) = split(i64::MIN);
        assert_eq!(ord_fast_remove_int(h, lo, hi), 5 << 33 | 7);
        assert_eq!(ord_fast_remove_int(h, lo, hi), 0);
        drop(s);
        assert_eq!(ord_fast_get_int(h, 0, 0), -1, "stale handle");
        let s = store(kind);
        let h = s.clone().fast_handle() as u32;
        unsafe {
            assert_eq!(ord_fast_insert(h, 1, b.as_ptr(), b.len() as i32, 42, 0), 0);
            assert_eq!(ord_fast_get(h, 1, b.as_ptr(), b.len() as i32), 42);
            let e = enc(&Key::Str(word.into()));
            assert_eq!(ord_fast_get(h, 0, e.as_ptr(), e.len() as i32), 42);
            assert_eq!(
                ord_fast_contains(h, 2, b.as_ptr(), b.len() as i32),
                -1,
                "bytes and str do not compare"
            );
            assert_eq!(ord_fast_remove(h, 1, b.as_ptr(), b.len() as i32), 42);
            assert_eq!(ord_fast_get(h, 1, b.as_ptr(), b.len() as i32), 0);
            // Errors: not UTF-8, unknown kind, NaN, a value handle of 0, a stale handle.
            let bad = [0xffu8, 0xfe];
            assert_eq!(ord_fast_get(h, 1, bad.as_ptr(), 2), -1);
            assert_eq!(ord_fast_get(h, 9, bad.as_ptr(), 2), -1);
            let nan = enc(&Key::Float(f64::NAN));
            assert_eq!(
                ord_fast_insert(h, 0, nan.as_ptr(), nan.len() as i32, 1, 0),
                -1
            );
            assert_eq!(ord_fast_insert(h, 2, bad.as_ptr(), 2, 0, 0), -1);
            assert_eq!(
                ord_fast_insert(h, 1, b.as_ptr(), b.len() as i32, 0, i32::MIN),
                -1,
                "above 2^63"
            );
        }
        assert_eq!(s.len(), 0);
    }
}

#[test]
fn the_fast_range_and_neighbour_pages_equal_the_udl_ones() {
    for kind in KINDS {
        let s = store(kind);
        let h = s.clone().fast_handle() as u32;
        for k in (0..500i64).map(|i| i * 3) {
            s.insert(&enc(&Key::Int(k)), k as u64 + 1).unwrap();
        }
        let page =
            |start: Option<i64>, si: bool, end: Option<i64>, ei: bool, limit: u32, rev: bool| {
                let (a, b) = (
                    start.map(|k| enc(&Key::Int(k))),
                    end.map(|k| enc(&Key::Int(k))),
                );
                let mut out: *const u8 = std::ptr::null();
                let mut n = 0usize;
                let rc = unsafe {
                    ord_fast_range(
                        h,
                        a.as_ref().map_or(std::ptr::null(), |v| v.as_ptr()),
                        a.as_ref().map_or(-1, |v| v.len() as i32),
                        si as i32,
                        b.as_ref().map_or(std::ptr::null(), |v| v.as_ptr()),
                        b.as_ref().map_or(-1, |v| v.len() as i32),
                        ei as i32,
                        limit as i32,
                        rev as i32,
                        &mut out,
                        &mut n,
                    )
                };
                assert_eq!(rc, 0);
                let fast = unsafe { std::slice::from_raw_parts(out, n) }.to_vec();
                let udl = s
                    .range(OrderedRange {
                        start: a,
                        start_inclusive: si,
                        end: b,
                        end_inclusive: ei,
                        limit,
                        reverse: rev,
                    })
                    .unwrap();
                assert_eq!(fast, udl);
                entries(&fast)
            };
        let (done, e) = page(Some(10), true, Some(40), false, 0, false);
        assert!(done);
        assert_eq!(
            e.iter().map(|(_, v)| *v).collect::<Vec<_>>(),
            vec![13, 16, 19, 22, 25, 28, 31, 34, 37, 40]
        );
        let (done, e) = page(None, true, Some(30), true, 3, true);
        assert!(!done);
        assert_eq!(
            e.iter().map(|(_, v)| *v).collect::<Vec<_>>(),
            vec![31, 28, 25]
        );
        let (done, e) = page(Some(1495), false, None, false, 10, false);
        assert!(done && e.len() == 1);
        for (which, want) in [
            (0, Some(1)),
            (1, Some(1498)),
            (2, Some(10)),
            (3, Some(7)),
            (4, Some(10)),
            (5, Some(13)),
        ] {
            let key = enc(&Key::Int(9));
            let mut out: *const u8 = std::ptr::null();
            let mut n = 0usize;
            let rc = unsafe {
                ord_fast_neighbor(h, which, key.as_ptr(), key.len() as i32, &mut out, &mut n)
            };
            assert_eq!(rc, 0);
            let (_, e) = entries(unsafe { std::slice::from_raw_parts(out, n) });
            assert_eq!(e.first().map(|(_, v)| *v), want, "which {which}");
        }
        // Errors: an incomparable bound, a bad neighbour code.
        let bad = enc(&Key::Str("x".into()));
        let mut out: *const u8 = std::ptr::null();
        let mut n = 0usize;
        unsafe {
            assert_eq!(
                ord_fast_neighbor(h, 2, bad.as_ptr(), bad.len() as i32, &mut out, &mut n),
                -1
            );
            assert_eq!(
                ord_fast_neighbor(h, 9, bad.as_ptr(), bad.len() as i32, &mut out, &mut n),
                -1
            );
            assert_eq!(
                ord_fast_range(
                    h,
                    bad.as_ptr(),
                    bad.len() as i32,
                    1,
                    std::ptr::null(),
                    -1,
                    0,
                    0,
                    0,
                    &mut out,
                    &mut n
                ),
                -1
            );
        }
        assert_eq!(
            s.count_range(OrderedRange {
                start: Some(enc(&Key::Int(0))),
                start_inclusive: false,
                end: Some(enc(&Key::Int(300))),
                end_inclusive: true,
                ..Default::default()
            })
            .unwrap(),
            100
        );
    }
}
