//! Tests against the recordings of real servers, round trips, robustness, and interop with a
//! real Redis 7 (`redis-server` on PATH).

mod fuzz_corpus;
mod recordings;
mod redis_interop;
mod robustness;
mod roundtrip;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use super::{Item, RdbReader, RdbValue, RdbVersion, RdbWriter};

/// `shared/reference` beside some ancestor of this crate (or `$RCODIS_REFERENCE_DIR`).
pub(crate) fn reference_dir() -> Option<PathBuf> {
    if let Ok(p) = std::env::var("RCODIS_REFERENCE_DIR") {
        return Some(PathBuf::from(p));
    }
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR"));
    manifest.ancestors().map(|a| a.join("shared/reference")).find(|c| c.is_dir())
}

/// Returns the reference directory, or prints why the test is skipped and returns from it.
macro_rules! require_reference {
    () => {
        match crate::rdb::tests::reference_dir() {
            Some(d) => d,
            None => {
                eprintln!("SKIPPED: shared/reference recordings not found (set RCODIS_REFERENCE_DIR)");
                return;
            }
        }
    };
}
pub(crate) use require_reference;

pub(crate) fn hex(s: &str) -> Vec<u8> {
    assert!(s.len().is_multiple_of(2), "odd hex length");
    (0..s.len()).step_by(2).map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap()).collect()
}

/// Panics with the first differing offset and some context.
pub(crate) fn assert_bytes_eq(ours: &[u8], theirs: &[u8], what: &str) {
    if ours == theirs {
        return;
    }
    let i = ours.iter().zip(theirs).position(|(a, b)| a != b).unwrap_or(ours.len().min(theirs.len()));
    let lo = i.saturating_sub(16);
    let show =
        |b: &[u8]| -> String { b[lo.min(b.len())..(i + 24).min(b.len())].iter().map(|x| format!("{x:02x}")).collect() };
    panic!(
        "{what}: bytes differ at offset {i} (ours {} bytes, theirs {} bytes)\n ours  @{lo}: {}\n theirs@{lo}: {}",
        ours.len(),
        theirs.len(),
        show(ours),
        show(theirs)
    );
}

/// A value compared by content: sets sorted, hashes and zsets as maps.
#[derive(Debug, PartialEq)]
pub(crate) enum Norm {
    Str(Vec<u8>),
    List(Vec<Vec<u8>>),
    Set(Vec<Vec<u8>>),
    Hash(BTreeMap<Vec<u8>, Vec<u8>>),
    ZSet(BTreeMap<Vec<u8>, f64>),
}

pub(crate) fn norm(v: &RdbValue) -> Norm {
    match v {
        RdbValue::String(s) => Norm::Str(s.to_vec()),
        RdbValue::List(l) => Norm::List(l.iter().map(|x| x.to_vec()).collect()),
        RdbValue::Set(s) => {
            let mut v: Vec<Vec<u8>> = s.iter().map(|x| x.to_vec()).collect();
            v.sort();
            Norm::Set(v)
        }
        RdbValue::Hash(h) => Norm::Hash(h.iter().map(|(f, v)| (f.to_vec(), v.to_vec())).collect()),
        RdbValue::ZSet(z) => Norm::ZSet(z.iter().map(|(m, s)| (m.to_vec(), *s)).collect()),
    }
}

/// Reads a whole RDB, re-writes every item with our writer at `version`, returns our bytes.
pub(crate) fn rewrite(data: &[u8], version: RdbVersion) -> Vec<u8> {
    let r = RdbReader::new(data).expect("magic");
    let mut w = RdbWriter::new(Vec::new(), version).unwrap();
    for item in r {
        match item.expect("read item") {
            Item::Aux { key, value } => w.write_aux(&key, &value).unwrap(),
            Item::SelectDb(db) => w.select_db(db).unwrap(),
            Item::ResizeDb { db_size, expires_size } => w.resize_db(db_size, expires_size).unwrap(),
            Item::Entry(e) => w.write_entry(&e.key, &e.value, e.expire_ms).unwrap(),
            Item::Function(code) => w.write_function(&code).unwrap(),
            other => panic!("unexpected item {other:?}"),
        }
    }
    w.finish().unwrap()
}

/// (db, key) -> (value, expire, type id).
pub(crate) type EntryMap = BTreeMap<(u64, Vec<u8>), (RdbValue, Option<i64>, u8)>;

/// All entries of an RDB.
pub(crate) fn read_entries(data: &[u8]) -> EntryMap {
    let mut out = BTreeMap::new();
    for item in RdbReader::new(data).expect("magic") {
        if let Item::Entry(e) = item.expect("read item") {
            out.insert((e.db, e.key.to_vec()), (e.value, e.expire_ms, e.type_id));
        }
    }
    out
}
