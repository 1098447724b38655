//! Random datasets written as RDB 7 and 10 (and as DUMP payloads) read back equal.

use bytes::Bytes;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use super::norm;
use crate::rdb::{decode_dump_payload, dump_payload, types, Item, RdbReader, RdbValue, RdbVersion, RdbWriter};

pub(crate) const BOUNDARY_INTS: [i64; 28] = [
    0,
    1,
    -1,
    12,
    13,
    127,
    128,
    -128,
    -129,
    255,
    256,
    4095,
    4096,
    -4096,
    -4097,
    32767,
    32768,
    -32768,
    -32769,
    8388607,
    8388608,
    -8388609,
    i32::MAX as i64,
    i32::MIN as i64,
    i32::MAX as i64 + 1,
    1234567890123,
    i64::MAX,
    i64::MIN,
];

pub(crate) const SCORES: [f64; 17] = [
    0.0,
    -0.0,
    1.0,
    -1.0,
    2.5,
    0.1,
    -3.0,
    1e17,
    -1e17,
    1e300,
    5e-324,
    f64::INFINITY,
    f64::NEG_INFINITY,
    4503599627370496.0,
    4503599627370495.5,
    1e15 + 0.25,
    4611686018427387904.0,
];

pub(crate) fn gen_bytes(rng: &mut StdRng, max_kind: u32) -> Bytes {
    match rng.random_range(0..max_kind) {
        0 => Bytes::new(),
        1 => BOUNDARY_INTS[rng.random_range(0..BOUNDARY_INTS.len())].to_string().into(),
        2 => ["007", "-0", "+1", " 1", "1.5", "9223372036854775808", "-", "00"][rng.random_range(0..8)].into(),
        3 => (0..rng.random_range(1..30)).map(|_| rng.random::<u8>()).collect::<Vec<u8>>().into(),
        4 => format!("w{}", rng.random_range(0..100000u32)).into(),
        5 => (0..rng.random_range(21..300)).map(|_| rng.random::<u8>()).collect::<Vec<u8>>().into(),
        6 => {
            let unit = format!("ab{}", rng.random_range(0..10u8));
            unit.repeat(rng.random_range(7..1500)).into()
        }
        _ => (0..rng.random_range(254..20000)).map(|i| b'a' + ((i / 7) % 26) as u8).collect::<Vec<u8>>().into(),
    }
}

fn unique(rng: &mut StdRng, n: usize, mut f: impl FnMut(&mut StdRng, usize) -> Bytes) -> Vec<Bytes> {
    let mut seen = std::collections::HashSet::new();
    let mut out = Vec::with_capacity(n);
    let mut i = 0;
    while out.len() < n {
        let b = f(rng, i);
        i += 1;
        if seen.insert(b.clone()) {
            out.push(b);
        }
    }
    out
}

fn gen_score(rng: &mut StdRng) -> f64 {
    if rng.random_bool(0.5) {
        SCORES[rng.random_range(0..SCORES.len())]
    } else {
        loop {
            let f = f64::from_bits(rng.random());
            if !f.is_nan() {
                return f;
            }
        }
    }
}

/// A value of every kind, sizes around each encoding threshold.
pub(crate) fn gen_value(rng: &mut StdRng, kind: u32, small_only: bool) -> RdbValue {
    let sizes = [1usize, 3, 64, 128, 129, 512, 513, 700];
    let pick = |rng: &mut StdRng| sizes[rng.random_range(0..sizes.len())];
    match kind {
        0 => RdbValue::String(gen_bytes(rng, if small_only { 7 } else { 8 })),
        1 => {
            let n = [1usize, 5, 100, 1200, 3000][rng.random_range(0..5)];
            let big = !small_only && rng.random_bool(0.2);
            RdbValue::List((0..n).map(|_| gen_bytes(rng, if big { 8 } else { 6 })).collect())
        }
        2 => {
            let n = pick(rng);
            match rng.random_range(0..3) {
                0 => RdbValue::Set(unique(rng, n, |rng, _| rng.random_range(-100000i64..100000).to_string().into())),
                1 => RdbValue::Set(unique(rng, n, |rng, i| {
                    if i % 2 == 0 {
                        BOUNDARY_INTS[rng.random_range(0..BOUNDARY_INTS.len())].to_string().into()
                    } else {
                        rng.random::<i64>().to_string().into()
                    }
                })),
                _ => RdbValue::Set(unique(rng, n, |rng, _| gen_bytes(rng, 7))),
            }
        }
        3 => {
            let n = pick(rng);
            let long_value = rng.random_bool(0.2);
            let fields = unique(rng, n, |rng, _| gen_bytes(rng, 5));
            RdbValue::Hash(
                fields
                    .into_iter()
                    .enumerate()
                    .map(|(i, f)| {
                        let v = if long_value && i == n / 2 { Bytes::from(vec![b'v'; 65]) } else { gen_bytes(rng, 5) };
                        (f, v)
                    })
                    .collect(),
            )
        }
        _ => {
            let n = pick(rng);
            let long_member = rng.random_bool(0.2);
            let members =
                unique(
                    rng,
                    n,
                    |rng, i| {
                        if long_member && i == 0 {
                            Bytes::from(vec![b'm'; 65])
                        } else {
                            gen_bytes(rng, 5)
                        }
                    },
                );
            RdbValue::ZSet(members.into_iter().map(|m| (m, gen_score(rng))).collect())
        }
    }
}

fn check_same(ours: &RdbValue, back: &RdbValue, what: &str) {
    match (ours, back) {
        (RdbValue::String(_), _) | (RdbValue::List(_), _) | (RdbValue::Hash(_), _) => assert_eq!(ours, back, "{what}"),
        _ => assert_eq!(norm(ours), norm(back), "{what}"),
    }
}

#[test]
fn random_datasets_round_trip_through_rdb_and_dump() {
    for seed in 0..3u64 {
        let mut rng = StdRng::seed_from_u64(seed);
        let mut keys: Vec<(u64, Bytes, RdbValue, Option<i64>)> = Vec::new();
        for i in 0..60 {
            let v = gen_value(&mut rng, i % 5, false);
            let exp = if rng.random_bool(0.2) { Some(rng.random_range(0..5_000_000_000_000i64)) } else { None };
            let key = Bytes::from(format!("k{i}:{}", "x".repeat(i as usize % 3 * 10)));
            keys.push(((i % 3) as u64, key, v, exp));
        }
        keys.sort_by_key(|k| k.0);
        for version in [RdbVersion::V7, RdbVersion::V10] {
            let mut w = RdbWriter::new(Vec::new(), version).unwrap();
            let mut db = None;
            for (d, k, v, e) in &keys {
                if db != Some(*d) {
                    w.select_db(*d).unwrap();
                    db = Some(*d);
                }
                w.write_entry(k, v, *e).unwrap();
            }
            let data = w.finish().unwrap();
            let mut back = Vec::new();
            for item in RdbReader::new(&data[..]).unwrap() {
                if let Item::Entry(e) = item.unwrap() {
                    back.push(e);
                }
            }
            assert_eq!(back.len(), keys.len());
            for ((d, k, v, exp), e) in keys.iter().zip(&back) {
                let what = format!("seed {seed} {version:?} key {k:?}");
                assert_eq!((e.db, &e.key, e.expire_ms), (*d, k, *exp), "{what}");
                check_same(v, &e.value, &what);
                let p = dump_payload(v, version);
                let dd = decode_dump_payload(&p, version.number()).unwrap();
                assert_eq!(dd.type_id, e.type_id, "{what}");
                check_same(v, &dd.value, &what);
            }
        }
    }
}

#[test]
fn encodings_switch_at_the_thresholds() {
    let ints = |n: usize| RdbValue::Set((0..n).map(|i| Bytes::from(i.to_string())).collect());
    let hash = |n: usize, vlen: usize| {
        RdbValue::Hash((0..n).map(|i| (Bytes::from(format!("f{i}")), Bytes::from("v".repeat(vlen)))).collect())
    };
    let zset = |n: usize, mlen: usize| {
        RdbValue::ZSet((0..n).map(|i| (Bytes::from(format!("{i:0>mlen$}")), i as f64)).collect())
    };
    let t = |v: &RdbValue, ver: RdbVersion| dump_payload(v, ver)[0];
    use types::*;
    for (v, t7, t10) in [
        (ints(512), SET_INTSET, SET_INTSET),
        (ints(513), SET, SET),
        (RdbValue::Set(vec!["1".into(), "a".into()]), SET, SET),
        (hash(512, 64), HASH_ZIPLIST, HASH_LISTPACK),
        (hash(513, 1), HASH, HASH),
        (hash(3, 65), HASH, HASH),
        (zset(128, 64), ZSET_ZIPLIST, ZSET_LISTPACK),
        (zset(129, 3), ZSET, ZSET_2),
        (zset(2, 65), ZSET, ZSET_2),
        (RdbValue::List(vec!["a".into()]), LIST_QUICKLIST, LIST_QUICKLIST_2),
    ] {
        assert_eq!((t(&v, RdbVersion::V7), t(&v, RdbVersion::V10)), (t7, t10), "{} of {}", v.type_name(), v.len());
    }
}

#[test]
fn quicklist_node_sizes_follow_each_version() {
    // 13-byte elements: 3.2 and 7.0 both split after 545 (wire/5 list:big)
    let items: Vec<Bytes> = (0..1000).map(|i| Bytes::from(format!("element-{i:05}"))).collect();
    for ver in [RdbVersion::V7, RdbVersion::V10] {
        let p = dump_payload(&RdbValue::List(items.clone()), ver);
        assert_eq!(p[1], 2, "{ver:?}: two nodes");
    }
    // 8-byte elements: 3.2 packs 818 per node, 7.0.15 only 817 (observed on redis-server 7.0.15)
    let items: Vec<Bytes> = (0..818).map(|i| Bytes::from(format!("e{i:07}"))).collect();
    assert_eq!(dump_payload(&RdbValue::List(items.clone()), RdbVersion::V7)[1], 1);
    assert_eq!(dump_payload(&RdbValue::List(items), RdbVersion::V10)[1], 2);
}
