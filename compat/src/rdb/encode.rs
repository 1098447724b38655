//! Value encoders: the object body Redis writes for a value, per RDB version.

use std::cmp::Ordering;

use super::consts::{container, len, types};
use super::listpack::ListpackBuilder;
use super::num::{self, D2s};
use super::value::RdbValue;
use super::ziplist::ZiplistBuilder;
use super::{intset, lzf};

/// The RDB versions the writer produces.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum RdbVersion {
    /// Redis 3.2 / codis-server 3.2.x: ziplists, quicklist of ziplists, text zset scores.
    V7,
    /// Redis 7.0: listpacks, quicklist of listpacks, binary zset scores.
    V10,
}

impl RdbVersion {
    /// The number in the `REDIS000N` magic and in DUMP footers.
    pub fn number(self) -> u16 {
        match self {
            RdbVersion::V7 => 7,
            RdbVersion::V10 => 10,
        }
    }
}

/// The `*-max-*` thresholds that decide compact encodings (Redis defaults: both 3.2 and 7.0
/// use 512/64 for hashes, 128/64 for zsets, 512 for intsets, -2 (8 KiB nodes) for lists).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct EncodingLimits {
    /// `hash-max-ziplist-entries` / `hash-max-listpack-entries`.
    pub hash_max_entries: usize,
    /// `hash-max-ziplist-value` / `hash-max-listpack-value`.
    pub hash_max_value: usize,
    /// `zset-max-ziplist-entries` / `zset-max-listpack-entries`.
    pub zset_max_entries: usize,
    /// `zset-max-ziplist-value` / `zset-max-listpack-value`.
    pub zset_max_value: usize,
    /// `set-max-intset-entries`.
    pub set_max_intset_entries: usize,
    /// `list-max-ziplist-size` / `list-max-listpack-size` (negative: node byte size class).
    pub list_max_size: i32,
    /// Redis 7 `packed_threshold`: list elements at least this long get a plain node (1 GiB).
    pub list_packed_threshold: usize,
}

impl Default for EncodingLimits {
    fn default() -> Self {
        EncodingLimits {
            hash_max_entries: 512,
            hash_max_value: 64,
            zset_max_entries: 128,
            zset_max_value: 64,
            set_max_intset_entries: 512,
            list_max_size: -2,
            list_packed_threshold: 1 << 30,
        }
    }
}

/// How values are encoded: version, thresholds, `rdbcompression`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct EncodeOptions {
    pub version: RdbVersion,
    pub limits: EncodingLimits,
    /// `rdbcompression yes`: LZF for strings longer than 20 bytes when it saves 4 bytes.
    pub compression: bool,
}

impl EncodeOptions {
    /// Redis defaults for `version`, compression on.
    pub fn new(version: RdbVersion) -> Self {
        EncodeOptions { version, limits: EncodingLimits::default(), compression: true }
    }
}

/// `rdbSaveLen`.
pub(crate) fn put_len(out: &mut Vec<u8>, l: u64) {
    if l < 1 << 6 {
        out.push(l as u8);
    } else if l < 1 << 14 {
        out.push(0x40 | (l >> 8) as u8);
        out.push(l as u8);
    } else if l <= u32::MAX as u64 {
        out.push(len::LEN_32BIT);
        out.extend_from_slice(&(l as u32).to_be_bytes());
    } else {
        out.push(len::LEN_64BIT);
        out.extend_from_slice(&l.to_be_bytes());
    }
}

/// `rdbSaveRawString`: integer encodings for canonical integers of up to 11 characters that
/// fit 32 bits, LZF for longer than 20 bytes when compression saves at least 4 bytes, else raw.
pub(crate) fn put_string(out: &mut Vec<u8>, s: &[u8], compression: bool) {
    if s.len() <= 11 {
        if let Some(v) = num::string_to_i64(s) {
            if let Ok(x) = i8::try_from(v) {
                out.extend_from_slice(&[0xc0 | len::ENC_INT8, x as u8]);
                return;
            } else if let Ok(x) = i16::try_from(v) {
                out.push(0xc0 | len::ENC_INT16);
                out.extend_from_slice(&x.to_le_bytes());
                return;
            } else if let Ok(x) = i32::try_from(v) {
                out.push(0xc0 | len::ENC_INT32);
                out.extend_from_slice(&x.to_le_bytes());
                return;
            }
        }
    }
    if compression && s.len() > 20 {
        if let Some(c) = lzf::compress_for_rdb(s) {
            out.push(0xc0 | len::ENC_LZF);
            put_len(out, c.len() as u64);
            put_len(out, s.len() as u64);
            out.extend_from_slice(&c);
            return;
        }
    }
    put_len(out, s.len() as u64);
    out.extend_from_slice(s);
}

const SIZE_SAFETY_LIMIT: usize = 8192;
const OPTIMIZATION_LEVEL: [usize; 5] = [4096, 8192, 16384, 32768, 65536];

/// Redis 3.2 `_quicklistNodeAllowInsert`.
fn allow_insert_32(node_sz: usize, node_count: usize, sz: usize, fill: i32) -> bool {
    let fill = fill.clamp(-5, (1 << 15) - 1);
    let mut overhead = if sz < 254 { 1 } else { 5 };
    overhead += if sz < 64 {
        1
    } else if sz < 16384 {
        2
    } else {
        5
    };
    let new_sz = node_sz + sz + overhead;
    if fill < 0 && new_sz <= OPTIMIZATION_LEVEL[(-fill - 1) as usize] {
        true
    } else if new_sz > SIZE_SAFETY_LIMIT {
        false
    } else {
        (node_count as i64) < fill as i64
    }
}

/// Redis 7.0 `_quicklistNodeAllowInsert` (`SIZE_ESTIMATE_OVERHEAD` 8, `quicklistNodeLimit`).
fn allow_insert_70(node_sz: usize, node_count: usize, sz: usize, fill: i32) -> bool {
    let new_sz = node_sz + sz + 8;
    if fill >= 0 {
        let count_limit = fill.max(1) as usize;
        new_sz <= SIZE_SAFETY_LIMIT && node_count < count_limit
    } else {
        let offset = ((-(fill as i64)) - 1).min(4) as usize;
        new_sz <= OPTIMIZATION_LEVEL[offset]
    }
}

/// Redis's zset order: score (-0.0 equal to 0.0), then member bytes. NaN scores (Redis refuses
/// them, but a decoded value may hold one) sort after every number so the order stays total.
fn zset_ascending(a: &(bytes::Bytes, f64), b: &(bytes::Bytes, f64)) -> Ordering {
    let by_score = match (a.1.is_nan(), b.1.is_nan()) {
        (false, false) => a.1.partial_cmp(&b.1).unwrap_or(Ordering::Equal),
        (x, y) => x.cmp(&y),
    };
    by_score.then_with(|| a.0.cmp(&b.0))
}

fn all_integers(members: &[bytes::Bytes]) -> Option<Vec<i64>> {
    members.iter().map(|m| num::string_to_i64(m)).collect()
}

/// Appends the object body of `value` to `out` and returns its RDB type id, choosing the
/// encoding the targeted Redis version would use for this value with `opts.limits`.
pub fn encode_value(value: &RdbValue, opts: &EncodeOptions, out: &mut Vec<u8>) -> u8 {
    let c = opts.compression;
    let lim = &opts.limits;
    let v7 = opts.version == RdbVersion::V7;
    match value {
        RdbValue::String(s) => {
            put_string(out, s, c);
            types::STRING
        }
        RdbValue::List(items) => {
            let mut body = Vec::new();
            let mut nodes = 0u64;
            if v7 {
                let mut cur: Option<ZiplistBuilder> = None;
                for it in items {
                    let ok = cur
                        .as_ref()
                        .is_some_and(|b| allow_insert_32(b.blob_len(), b.count(), it.len(), lim.list_max_size));
                    if !ok {
                        if let Some(b) = cur.take() {
                            put_string(&mut body, &b.finish(), c);
                            nodes += 1;
                        }
                        cur = Some(ZiplistBuilder::new());
                    }
                    cur.as_mut().unwrap().push(it);
                }
                if let Some(b) = cur {
                    put_string(&mut body, &b.finish(), c);
                    nodes += 1;
                }
                put_len(out, nodes);
                out.extend_from_slice(&body);
                types::LIST_QUICKLIST
            } else {
                let mut cur: Option<ListpackBuilder> = None;
                for it in items {
                    if it.len() >= lim.list_packed_threshold {
                        if let Some(b) = cur.take() {
                            put_len(&mut body, container::PACKED);
                            put_string(&mut body, &b.finish(), c);
                            nodes += 1;
                        }
                        put_len(&mut body, container::PLAIN);
                        put_string(&mut body, it, c);
                        nodes += 1;
                        continue;
                    }
                    let ok = cur
                        .as_ref()
                        .is_some_and(|b| allow_insert_70(b.blob_len(), b.count(), it.len(), lim.list_max_size));
                    if !ok {
                        if let Some(b) = cur.take() {
                            put_len(&mut body, container::PACKED);
                            put_string(&mut body, &b.finish(), c);
                            nodes += 1;
                        }
                        cur = Some(ListpackBuilder::new());
                    }
                    cur.as_mut().unwrap().push(it);
                }
                if let Some(b) = cur {
                    put_len(&mut body, container::PACKED);
                    put_string(&mut body, &b.finish(), c);
                    nodes += 1;
                }
                put_len(out, nodes);
                out.extend_from_slice(&body);
                types::LIST_QUICKLIST_2
            }
        }
        RdbValue::Set(members) => {
            if members.len() <= lim.set_max_intset_entries {
                if let Some(ints) = all_integers(members) {
                    put_string(out, &intset::encode(&ints), c);
                    return types::SET_INTSET;
                }
            }
            put_len(out, members.len() as u64);
            for m in members {
                put_string(out, m, c);
            }
            types::SET
        }
        RdbValue::Hash(pairs) => {
            let small = pairs.len() <= lim.hash_max_entries
                && pairs.iter().all(|(f, v)| f.len() <= lim.hash_max_value && v.len() <= lim.hash_max_value);
            if small && v7 {
                let mut b = ZiplistBuilder::new();
                for (f, v) in pairs {
                    b.push(f);
                    b.push(v);
                }
                put_string(out, &b.finish(), c);
                types::HASH_ZIPLIST
            } else if small {
                let mut b = ListpackBuilder::new();
                for (f, v) in pairs {
                    b.push(f);
                    b.push(v);
                }
                put_string(out, &b.finish(), c);
                types::HASH_LISTPACK
            } else {
                put_len(out, pairs.len() as u64);
                for (f, v) in pairs {
                    put_string(out, f, c);
                    put_string(out, v, c);
                }
                types::HASH
            }
        }
        RdbValue::ZSet(entries) => {
            let small =
                entries.len() <= lim.zset_max_entries && entries.iter().all(|(m, _)| m.len() <= lim.zset_max_value);
            if small {
                let mut sorted: Vec<&(bytes::Bytes, f64)> = entries.iter().collect();
                sorted.sort_by(|a, b| zset_ascending(a, b));
                if v7 {
                    let mut b = ZiplistBuilder::new();
                    for (m, s) in sorted {
                        b.push(m);
                        b.push(num::d2string(*s, D2s::Redis32).as_bytes());
                    }
                    put_string(out, &b.finish(), c);
                    types::ZSET_ZIPLIST
                } else {
                    let mut b = ListpackBuilder::new();
                    for (m, s) in sorted {
                        b.push(m);
                        b.push(num::d2string(*s, D2s::Redis70).as_bytes());
                    }
                    put_string(out, &b.finish(), c);
                    types::ZSET_LISTPACK
                }
            } else if v7 {
                put_len(out, entries.len() as u64);
                for (m, s) in entries {
                    put_string(out, m, c);
                    num::push_rdb_text_double(out, *s);
                }
                types::ZSET
            } else {
                // Redis 7 walks the skiplist from the highest score down.
                let mut sorted: Vec<&(bytes::Bytes, f64)> = entries.iter().collect();
                sorted.sort_by(|a, b| zset_ascending(b, a));
                put_len(out, entries.len() as u64);
                for (m, s) in sorted {
                    put_string(out, m, c);
                    out.extend_from_slice(&s.to_le_bytes());
                }
                types::ZSET_2
            }
        }
    }
}
