//! How two replies are compared: exactly, or normalised where Redis itself leaves the answer
//! unordered or random.

use std::collections::{BTreeMap, BTreeSet};

use compat::resp::Frame;

/// The comparison a generated command needs.
#[derive(Debug, Clone)]
pub enum Check {
    /// Byte-for-byte equal replies.
    Exact,
    /// The elements of the top-level array (or RESP3 set) compared as a multiset: SMEMBERS,
    /// SINTER/SUNION/SDIFF, KEYS.
    Unordered,
    /// Field/value pairs compared as a set (CONFIG GET with a glob).
    UnorderedPairs,
    /// HKEYS/HVALS/HGETALL: in order while the hash is listpack-encoded on the reference server,
    /// as a multiset once it is a hashtable.
    Hash { key: Vec<u8>, pairs: bool },
    /// Integer replies that depend on when the command ran (TTL, PTTL, EXPIRETIME,
    /// PEXPIRETIME): negative values exactly, others within `tol`.
    Ttl { tol: i64 },
    /// A SCAN-family command with cursor "0" at `cursor_at`: each server is scanned until its
    /// cursor is 0 again and the sets of returned items are compared.
    Scan { cursor_at: usize, pairs: bool },
    /// A command whose reply is random: checked against properties on each server.
    Random(RandomKind),
    /// SPOP: popped members must come from the set as it was before (`pre`, read from the
    /// reference); afterwards both servers get the same deterministic remainder.
    SPop { key: Vec<u8>, count: Option<i64>, pre: Option<Vec<Vec<u8>>> },
    /// HELLO: equal except the `version` and `id` fields.
    Hello,
    /// SORT ... BY nosort: on a set the order is the set's iteration order (compared as a
    /// multiset; with LIMIT only the length is compared).
    SortNoSort { key: Vec<u8>, limit: bool },
}

#[derive(Debug, Clone)]
pub enum RandomKind {
    SRandMember { key: Vec<u8>, count: Option<i64> },
    HRandField { key: Vec<u8>, count: Option<i64>, values: bool },
    ZRandMember { key: Vec<u8>, count: Option<i64>, scores: bool },
    RandomKey,
}

impl Check {
    /// A short name for statistics.
    pub fn kind(&self) -> &'static str {
        match self {
            Check::Exact => "exact",
            Check::Unordered | Check::UnorderedPairs => "unordered",
            Check::Hash { .. } => "hash-order",
            Check::Ttl { .. } => "ttl-range",
            Check::Scan { .. } => "scan-drain",
            Check::Random(_) | Check::SPop { .. } => "properties",
            Check::Hello => "hello",
            Check::SortNoSort { .. } => "sort-nosort",
        }
    }
}

/// The bytes of a frame that holds a string-like value.
pub fn bytes_of(f: &Frame) -> Option<Vec<u8>> {
    match f {
        Frame::Bulk(b) | Frame::Simple(b) | Frame::Double(b) | Frame::BigNumber(b) => Some(b.to_vec()),
        Frame::Verbatim(_, b) => Some(b.to_vec()),
        Frame::Integer(i) => Some(i.to_string().into_bytes()),
        _ => None,
    }
}

/// The elements of an array-like frame.
pub fn items(f: &Frame) -> Option<&[Frame]> {
    match f {
        Frame::Array(v) | Frame::Set(v) | Frame::Push(v) => Some(v),
        _ => None,
    }
}

/// Field/value pairs of a RESP2 flat array, a RESP3 map, or an array of 2-element arrays.
pub fn pairs(f: &Frame) -> Option<Vec<(Frame, Frame)>> {
    match f {
        Frame::Map(p) => Some(p.clone()),
        Frame::Array(v) => {
            if v.iter().all(|e| matches!(e, Frame::Array(x) if x.len() == 2)) && !v.is_empty() {
                Some(
                    v.iter()
                        .map(|e| match e {
                            Frame::Array(x) => (x[0].clone(), x[1].clone()),
                            _ => unreachable!(),
                        })
                        .collect(),
                )
            } else if v.len() % 2 == 0 {
                Some(v.chunks(2).map(|c| (c[0].clone(), c[1].clone())).collect())
            } else {
                None
            }
        }
        _ => None,
    }
}

fn enc(f: &Frame) -> Vec<u8> {
    f.to_bytes().to_vec()
}

/// The frame with its top-level elements sorted (same frame kind).
pub fn sorted(f: &Frame) -> Frame {
    let sort = |v: &Vec<Frame>| {
        let mut v = v.clone();
        v.sort_by_key(enc);
        v
    };
    match f {
        Frame::Array(v) => Frame::Array(sort(v)),
        Frame::Set(v) => Frame::Set(sort(v)),
        other => other.clone(),
    }
}

/// The frame with its pairs sorted (flat RESP2 arrays, maps, or arrays of pairs).
pub fn sorted_pairs(f: &Frame) -> Frame {
    match f {
        Frame::Map(p) => {
            let mut p = p.clone();
            p.sort_by_key(|(k, v)| (enc(k), enc(v)));
            Frame::Map(p)
        }
        Frame::Array(v) if v.iter().all(|e| matches!(e, Frame::Array(x) if x.len() == 2)) => sorted(f),
        Frame::Array(v) if v.len() % 2 == 0 => {
            let mut p: Vec<(Frame, Frame)> = v.chunks(2).map(|c| (c[0].clone(), c[1].clone())).collect();
            p.sort_by_key(|(k, v)| (enc(k), enc(v)));
            Frame::Array(p.into_iter().flat_map(|(k, v)| [k, v]).collect())
        }
        other => other.clone(),
    }
}

/// Compares two normalised frames; on a difference says so.
pub fn same(a: &Frame, b: &Frame, what: &str) -> Result<(), String> {
    if a == b {
        Ok(())
    } else {
        Err(format!("{what}: {} != {}", crate::render::frame(a), crate::render::frame(b)))
    }
}

/// TTL-like integers: equal when negative, within `tol` otherwise.
pub fn ttl_close(a: &Frame, b: &Frame, tol: i64) -> Result<(), String> {
    match (a, b) {
        (Frame::Integer(x), Frame::Integer(y)) if *x >= 0 && *y >= 0 => {
            if (x - y).abs() <= tol {
                Ok(())
            } else {
                Err(format!("times differ by more than {tol}: {x} vs {y}"))
            }
        }
        _ => same(a, b, "reply"),
    }
}

/// HELLO replies without `version` and `id`.
pub fn hello_normalised(f: &Frame) -> Frame {
    let keep = |k: &Frame| !matches!(bytes_of(k).as_deref(), Some(b"version") | Some(b"id"));
    match f {
        Frame::Map(p) => Frame::Map(p.iter().filter(|(k, _)| keep(k)).cloned().collect()),
        Frame::Array(v) if v.len() % 2 == 0 => {
            Frame::Array(v.chunks(2).filter(|c| keep(&c[0])).flat_map(|c| [c[0].clone(), c[1].clone()]).collect())
        }
        other => other.clone(),
    }
}

/// The "shape" of a random reply, which both servers must share: nil, one bulk, or an array of
/// some length.
fn shape(f: &Frame) -> String {
    match f {
        Frame::NullBulk | Frame::Null | Frame::NullArray => "nil".into(),
        Frame::Bulk(_) => "bulk".into(),
        Frame::Array(v) => format!("array of {}", v.len()),
        Frame::Set(v) => format!("set of {}", v.len()),
        Frame::Error(e) => format!("error {}", String::from_utf8_lossy(e)),
        other => crate::render::frame(other),
    }
}

/// Checks a random reply against the collection it was drawn from (`universe`: member →
/// value/score, or member → empty for sets and keys) on the same server.
pub fn check_random(kind: &RandomKind, reply: &Frame, universe: &BTreeMap<Vec<u8>, Vec<u8>>) -> Result<(), String> {
    let (count, with) = match kind {
        RandomKind::SRandMember { count, .. } => (*count, false),
        RandomKind::HRandField { count, values, .. } => (*count, *values),
        RandomKind::ZRandMember { count, scores, .. } => (*count, *scores),
        RandomKind::RandomKey => (None, false),
    };
    if let Frame::Error(_) = reply {
        return Ok(()); // compared exactly by the caller
    }
    let n = universe.len() as i64;
    match count {
        None => match reply {
            Frame::NullBulk | Frame::Null if n == 0 => Ok(()),
            Frame::Bulk(b) if universe.contains_key(&b.to_vec()) => Ok(()),
            other => Err(format!("{} is not one of {n} members", crate::render::frame(other))),
        },
        Some(c) => {
            let elems: Vec<(Vec<u8>, Option<Vec<u8>>)> = if with {
                let p = pairs(reply).or_else(|| {
                    if items(reply).is_some_and(|v| v.is_empty()) {
                        Some(Vec::new())
                    } else {
                        None
                    }
                });
                let p = p.ok_or_else(|| format!("not pairs: {}", crate::render::frame(reply)))?;
                p.iter().map(|(k, v)| (bytes_of(k).unwrap_or_default(), bytes_of(v))).collect()
            } else {
                let v = items(reply).ok_or_else(|| format!("not an array: {}", crate::render::frame(reply)))?;
                v.iter().map(|e| (bytes_of(e).unwrap_or_default(), None)).collect()
            };
            let want = if c >= 0 {
                c.min(n)
            } else if n == 0 {
                0
            } else {
                -c
            };
            if elems.len() as i64 != want {
                return Err(format!("{} elements, expected {want} (count {c}, {n} members)", elems.len()));
            }
            for (m, v) in &elems {
                match universe.get(m) {
                    None => return Err(format!("{} is not a member", crate::render::quote(m))),
                    Some(val) => {
                        if let Some(v) = v {
                            if !same_number_or_bytes(v, val) {
                                return Err(format!(
                                    "value of {} is {} but the collection has {}",
                                    crate::render::quote(m),
                                    crate::render::quote(v),
                                    crate::render::quote(val)
                                ));
                            }
                        }
                    }
                }
            }
            if c >= 0 {
                let distinct: BTreeSet<&Vec<u8>> = elems.iter().map(|(m, _)| m).collect();
                if distinct.len() != elems.len() {
                    return Err("repeated members with a positive count".into());
                }
            }
            Ok(())
        }
    }
}

fn same_number_or_bytes(a: &[u8], b: &[u8]) -> bool {
    if a == b {
        return true;
    }
    let p = |x: &[u8]| std::str::from_utf8(x).ok().and_then(|s| s.parse::<f64>().ok());
    matches!((p(a), p(b)), (Some(x), Some(y)) if x == y)
}

/// The pub/sub frames one connection received after one command, normalised where Redis's order
/// is the order of a dict: runs of consecutive `pmessage` frames are sorted (a PUBLISH reaches a
/// client once per matching pattern, in the order of the server's pattern dict); with
/// `unsub_all` (UNSUBSCRIBE/PUNSUBSCRIBE without arguments, in the order of the client's dict)
/// the channel names are taken out of the confirmations and returned sorted, while the
/// confirmations themselves (kind, remaining count) stay in order.
pub fn normalise_pushes(frames: &[Frame], unsub_all: bool) -> (Vec<Frame>, Vec<Vec<u8>>) {
    let kind = |f: &Frame| items(f).and_then(|v| v.first()).and_then(bytes_of);
    let mut out: Vec<Frame> = Vec::with_capacity(frames.len());
    let mut names = Vec::new();
    let mut i = 0;
    while i < frames.len() {
        let f = &frames[i];
        let k = kind(f);
        if k.as_deref() == Some(b"pmessage") {
            let mut j = i;
            while j < frames.len() && kind(&frames[j]).as_deref() == Some(b"pmessage") {
                j += 1;
            }
            let mut run = frames[i..j].to_vec();
            run.sort_by_key(enc);
            out.extend(run);
            i = j;
            continue;
        }
        if unsub_all && matches!(k.as_deref(), Some(b"unsubscribe") | Some(b"punsubscribe")) {
            let mut v = items(f).map(<[Frame]>::to_vec).unwrap_or_default();
            if v.len() == 3 {
                names.push(bytes_of(&v[1]).unwrap_or_default());
                v[1] = Frame::NullBulk;
            }
            out.push(match f {
                Frame::Push(_) => Frame::Push(v),
                _ => Frame::Array(v),
            });
        } else {
            out.push(f.clone());
        }
        i += 1;
    }
    names.sort();
    (out, names)
}

/// Both random replies must have the same shape (nil / bulk / array length / error text).
pub fn same_shape(a: &Frame, b: &Frame) -> Result<(), String> {
    let (sa, sb) = (shape(a), shape(b));
    if sa == sb {
        Ok(())
    } else {
        Err(format!("reply shapes differ: {sa} vs {sb}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::Bytes;

    fn bulk(s: &str) -> Frame {
        Frame::Bulk(Bytes::copy_from_slice(s.as_bytes()))
    }

    #[test]
    fn sorting_keeps_the_frame_kind() {
        let a = Frame::Set(vec![bulk("b"), bulk("a")]);
        assert_eq!(sorted(&a), Frame::Set(vec![bulk("a"), bulk("b")]));
        assert_ne!(sorted(&a), sorted(&Frame::Array(vec![bulk("a"), bulk("b")])));
    }

    #[test]
    fn pairs_of_flat_map_and_nested_replies() {
        let flat = Frame::Array(vec![bulk("f2"), bulk("2"), bulk("f1"), bulk("1")]);
        let map = Frame::Map(vec![(bulk("f1"), bulk("1")), (bulk("f2"), bulk("2"))]);
        let nested = Frame::Array(vec![Frame::Array(vec![bulk("f1"), bulk("1")])]);
        assert_eq!(pairs(&flat).unwrap().len(), 2);
        assert_eq!(pairs(&map).unwrap().len(), 2);
        assert_eq!(pairs(&nested).unwrap(), vec![(bulk("f1"), bulk("1"))]);
        assert_eq!(sorted_pairs(&flat), Frame::Array(vec![bulk("f1"), bulk("1"), bulk("f2"), bulk("2")]));
    }

    #[test]
    fn ttl_tolerance() {
        assert!(ttl_close(&Frame::Integer(1000), &Frame::Integer(999), 1).is_ok());
        assert!(ttl_close(&Frame::Integer(1000), &Frame::Integer(990), 1).is_err());
        assert!(ttl_close(&Frame::Integer(-1), &Frame::Integer(-2), 1000).is_err());
    }

    #[test]
    fn hello_ignores_version_and_id() {
        let a = Frame::Map(vec![
            (bulk("server"), bulk("redis")),
            (bulk("version"), bulk("7.0.15")),
            (bulk("id"), Frame::Integer(3)),
        ]);
        let b = Frame::Map(vec![
            (bulk("server"), bulk("redis")),
            (bulk("version"), bulk("3.2.11")),
            (bulk("id"), Frame::Integer(9)),
        ]);
        assert_eq!(hello_normalised(&a), hello_normalised(&b));
    }

    #[test]
    fn push_normalisation() {
        let msg = |k: &str, p: &str| Frame::Push(vec![bulk(k), bulk(p), bulk("ch"), bulk("m")]);
        let a = vec![
            Frame::Push(vec![bulk("message"), bulk("ch"), bulk("m")]),
            msg("pmessage", "*"),
            msg("pmessage", "c*"),
            Frame::Integer(2),
        ];
        let b = vec![a[0].clone(), a[2].clone(), a[1].clone(), a[3].clone()];
        assert_eq!(normalise_pushes(&a, false), normalise_pushes(&b, false));
        let c = vec![a[1].clone(), a[0].clone(), a[2].clone(), a[3].clone()];
        assert_ne!(normalise_pushes(&a, false), normalise_pushes(&c, false));
        let un = |ch: &str, n| Frame::Array(vec![bulk("unsubscribe"), bulk(ch), Frame::Integer(n)]);
        let x = vec![un("a", 1), un("b", 0)];
        let y = vec![un("b", 1), un("a", 0)];
        assert_eq!(normalise_pushes(&x, true), normalise_pushes(&y, true));
        assert_ne!(normalise_pushes(&x, false), normalise_pushes(&y, false));
        assert_ne!(normalise_pushes(&x, true), normalise_pushes(&[un("a", 0), un("b", 1)], true));
    }

    #[test]
    fn random_properties() {
        let mut u = BTreeMap::new();
        u.insert(b"a".to_vec(), Vec::new());
        u.insert(b"b".to_vec(), Vec::new());
        let k = |count| RandomKind::SRandMember { key: b"k".to_vec(), count };
        assert!(check_random(&k(None), &bulk("a"), &u).is_ok());
        assert!(check_random(&k(None), &bulk("z"), &u).is_err());
        assert!(check_random(&k(Some(5)), &Frame::Array(vec![bulk("a"), bulk("b")]), &u).is_ok());
        assert!(check_random(&k(Some(2)), &Frame::Array(vec![bulk("a"), bulk("a")]), &u).is_err());
        assert!(check_random(&k(Some(-3)), &Frame::Array(vec![bulk("a"), bulk("a"), bulk("b")]), &u).is_ok());
    }
}
