//! The codec against recordings of real codis-server 3.2.11, codis-server 2.8 and Redis 7.0.15.

use std::collections::BTreeMap;
use std::path::Path;

use bytes::Bytes;
use serde_json::Value;

use super::{assert_bytes_eq, hex, norm, read_entries, require_reference, rewrite, Norm};
use crate::rdb::{decode_dump_payload, dump_payload, num, Item, RdbReader, RdbVersion};
use crate::resp::{parse_frame, Frame};

fn load_json(p: &Path) -> Value {
    serde_json::from_slice(&std::fs::read(p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))).unwrap()
}

fn json_bytes(v: &Value) -> Vec<u8> {
    match v {
        Value::String(s) => s.as_bytes().to_vec(),
        Value::Number(n) => n.to_string().into_bytes(),
        Value::Object(o) if o.contains_key("hex") => hex(o["hex"].as_str().unwrap()),
        other => panic!("not a byte string in the model: {other}"),
    }
}

fn json_score(v: &Value) -> f64 {
    match v {
        Value::Number(n) => n.as_f64().unwrap(),
        Value::String(s) => num::parse_f64(s.as_bytes()).unwrap(),
        other => panic!("not a score: {other}"),
    }
}

fn model_norm(ty: &str, v: &Value) -> Norm {
    match ty {
        "string" => Norm::Str(json_bytes(v)),
        "list" => Norm::List(v.as_array().unwrap().iter().map(json_bytes).collect()),
        "set" => {
            let mut s: Vec<Vec<u8>> = v.as_array().unwrap().iter().map(json_bytes).collect();
            s.sort();
            Norm::Set(s)
        }
        "hash" => {
            Norm::Hash(v.as_object().unwrap().iter().map(|(f, x)| (f.as_bytes().to_vec(), json_bytes(x))).collect())
        }
        "zset" => Norm::ZSet(
            v.as_array().unwrap().iter().map(|p| (json_bytes(&p[0]), json_score(&p[1]))).collect::<BTreeMap<_, _>>(),
        ),
        other => panic!("unknown model type {other}"),
    }
}

fn aux_of(data: &[u8]) -> Vec<(String, String)> {
    let mut r = RdbReader::new(data).unwrap();
    while r.read_item().unwrap().is_some() {}
    r.aux().iter().map(|(k, v)| (String::from_utf8_lossy(k).into(), String::from_utf8_lossy(v).into())).collect()
}

#[test]
fn codis32_f1_rdb_matches_its_model() {
    let dir = require_reference!().join("codis-3.2");
    let data = std::fs::read(dir.join("f1_codis_server_dump.rdb")).unwrap();
    let model = load_json(&dir.join("f1_rdb_summary.json"));
    let r = RdbReader::new(&data[..]).unwrap();
    assert_eq!(r.version(), 7);
    let entries = read_entries(&data);
    let keys = model["keys"].as_object().unwrap();
    assert_eq!(entries.len(), keys.len());
    for (k, m) in keys {
        let (v, exp, _) = &entries[&(0, k.as_bytes().to_vec())];
        assert_eq!(norm(v), model_norm(m["type"].as_str().unwrap(), &m["value"]), "key {k}");
        assert_eq!(*exp, m.get("pexpireat_ms").and_then(Value::as_i64), "expiry of {k}");
    }
    assert_eq!(
        aux_of(&data),
        [("redis-ver", "3.2.11"), ("redis-bits", "64"), ("ctime", "1795312198"), ("used-mem", "2572304")]
            .map(|(a, b)| (a.to_string(), b.to_string()))
    );
    let mut r = RdbReader::new(&data[..]).unwrap();
    while r.read_item().unwrap().is_some() {}
    assert_eq!(r.checksum(), Some(u64::from_le_bytes(data[data.len() - 8..].try_into().unwrap())));
    assert_eq!(r.position(), data.len() as u64);
}

#[test]
fn codis32_f1_dump_payloads_are_byte_equal() {
    let dir = require_reference!().join("codis-3.2");
    let model = load_json(&dir.join("f1_rdb_summary.json"));
    let payloads = model["dump_payload_hex"].as_object().unwrap();
    assert_eq!(payloads.len(), 8);
    for (k, h) in payloads {
        let recorded = hex(h.as_str().unwrap());
        let d = decode_dump_payload(&recorded, 7).unwrap_or_else(|e| panic!("{k}: {e}"));
        assert_eq!(d.version, 7);
        let m = &model["keys"][k];
        assert_eq!(norm(&d.value), model_norm(m["type"].as_str().unwrap(), &m["value"]), "key {k}");
        assert_bytes_eq(&dump_payload(&d.value, RdbVersion::V7), &recorded, k);
    }
}

/// Model `encoding` (OBJECT ENCODING) -> the RDB type id that encoding is saved with.
fn type_for_encoding(ty: &str, enc: &str, v7: bool) -> u8 {
    match (ty, enc) {
        ("string", _) => 0,
        ("list", "quicklist") => {
            if v7 {
                14
            } else {
                18
            }
        }
        ("hash", "ziplist") => 13,
        ("hash", "listpack") => 16,
        ("hash", "hashtable") => 4,
        ("set", "intset") => 11,
        ("set", "hashtable") => 2,
        ("set", "listpack") => 20,
        ("zset", "ziplist") => 12,
        ("zset", "listpack") => 17,
        ("zset", "skiplist") => {
            if v7 {
                3
            } else {
                5
            }
        }
        other => panic!("unexpected encoding {other:?}"),
    }
}

fn check_wire5(file: &str, model: &str, version: u32) {
    let dir = require_reference!().join("codis-3.2/wire/5_rdb_redis7");
    let data = std::fs::read(dir.join(file)).unwrap();
    let model = load_json(&dir.join(model));
    assert_eq!(RdbReader::new(&data[..]).unwrap().version(), version);
    let entries = read_entries(&data);
    let mut n = 0;
    for (db, keys) in model["dbs"].as_object().unwrap() {
        let db: u64 = db.parse().unwrap();
        for (k, m) in keys.as_object().unwrap() {
            n += 1;
            let ty = m["type"].as_str().unwrap();
            let (v, exp, t) = entries.get(&(db, k.as_bytes().to_vec())).unwrap_or_else(|| panic!("missing {db}/{k}"));
            assert_eq!(norm(v), model_norm(ty, &m["value"]), "{file} key {k}");
            assert_eq!(*exp, m.get("expire_at_ms").and_then(Value::as_i64), "{file} expiry of {k}");
            assert_eq!(*t, type_for_encoding(ty, m["encoding"].as_str().unwrap(), version == 7), "{file} type of {k}");
        }
    }
    assert_eq!(entries.len(), n);
}

#[test]
fn wire5_redis7_rdb_v10_matches_its_model() {
    check_wire5("r5a_redis7_dump.rdb", "r5a_redis7_dump_model.json", 10);
}

#[test]
fn wire5_codis32_rdb_v7_matches_its_model() {
    check_wire5("r5b_codis32_dump.rdb", "r5b_codis32_dump_model.json", 7);
}

#[test]
fn codis20_rdb_v6_and_payloads_match_the_model() {
    let dir = require_reference!().join("codis-2.0");
    let data = std::fs::read(dir.join("f1_codis_server_2.8_dump.rdb")).unwrap();
    let model = load_json(&dir.join("f1_rdb_summary.json"));
    assert_eq!(RdbReader::new(&data[..]).unwrap().version(), 6);
    let entries = read_entries(&data);
    let keys = model["keys"].as_object().unwrap();
    assert_eq!(entries.len(), keys.len());
    let mut types_seen = std::collections::BTreeSet::new();
    for (k, m) in keys {
        let (v, exp, t) = &entries[&(0, k.as_bytes().to_vec())];
        types_seen.insert(*t);
        let want = model_norm(m["type"].as_str().unwrap(), &m["value"]);
        assert_eq!(norm(v), want, "key {k}");
        assert_eq!(*exp, m.get("pexpireat_ms").and_then(Value::as_i64), "expiry of {k}");
        let payload = hex(model["dump_payload_hex"][k].as_str().unwrap());
        let d = decode_dump_payload(&payload, 7).unwrap_or_else(|e| panic!("{k}: {e}"));
        assert_eq!(d.version, 6);
        assert_eq!(norm(&d.value), want, "payload of {k}");
    }
    // linked list (1), set, zset text scores, hash, ziplist list, intset, zset/hash ziplists
    for t in [0u8, 1, 2, 3, 4, 10, 11, 12, 13] {
        assert!(types_seen.contains(&t), "type {t} not exercised");
    }
}

#[test]
fn recorded_rdbs_are_rewritten_byte_for_byte() {
    let root = require_reference!();
    let v7 = [
        "codis-3.2/f1_codis_server_dump.rdb",
        "codis-3.2/wire/5_rdb_redis7/r5b_codis32_dump.rdb",
        "codis-3.2/wire/3_replication_legacy/w3a_repl_legacy_to_legacy_rdb.rdb",
        "codis-3.2/wire/3_replication_legacy/w3b_repl_legacy_diskless_auth_rdb.rdb",
        "codis-3.2/wire/4_replication_mixed/w4a_repl_legacy_master_redis7_replica_rdb.rdb",
    ];
    let v10 = [
        "codis-3.2/wire/5_rdb_redis7/r5a_redis7_dump.rdb",
        "codis-3.2/wire/4_replication_mixed/w4b_repl_redis7_master_legacy_replica_diskless_rdb.rdb",
        "codis-3.2/wire/4_replication_mixed/w4c_repl_redis7_master_legacy_replica_disk_rdb.rdb",
    ];
    for (files, version) in [(&v7[..], RdbVersion::V7), (&v10[..], RdbVersion::V10)] {
        for f in files {
            let data = std::fs::read(root.join(f)).unwrap();
            assert_bytes_eq(&rewrite(&data, version), &data, f);
        }
    }
}

/// Every `SLOTSRESTORE` payload and `SLOTSRESTORE-ASYNC ... object` payload in a RESP stream.
fn restore_payloads(frame: &Frame, out: &mut Vec<Bytes>) {
    let Frame::Array(items) = frame else { return };
    let arg = |i: usize| match items.get(i) {
        Some(Frame::Bulk(b)) => Some(b.clone()),
        _ => None,
    };
    match arg(0).as_deref().map(|c| c.to_ascii_uppercase()) {
        Some(c) if c == b"SLOTSRESTORE" => {
            for i in (3..items.len()).step_by(3) {
                out.push(arg(i).expect("payload"));
            }
        }
        Some(c) if c == b"SLOTSRESTORE-ASYNC" && arg(1).as_deref() == Some(b"object") => {
            out.push(arg(4).expect("payload"))
        }
        _ => items.iter().for_each(|f| restore_payloads(f, out)),
    }
}

#[test]
fn migration_payloads_are_byte_equal() {
    let wire = require_reference!().join("codis-3.2/wire");
    let mut payloads = Vec::new();
    for sub in ["1_sync_migration", "2_async_migration"] {
        let mut files: Vec<_> = std::fs::read_dir(wire.join(sub)).unwrap().map(|e| e.unwrap().path()).collect();
        files.sort();
        for p in files {
            let name = p.file_name().unwrap().to_string_lossy().to_string();
            if !(name.ends_with("_S_to_T.bin") || name.contains("_reply_")) {
                continue;
            }
            let data = std::fs::read(&p).unwrap();
            let mut at = 0;
            // streams may end in a truncated frame or in non-RESP noise (w2f2): stop there
            while let Ok(Some((frame, used))) = parse_frame(&data[at..]) {
                restore_payloads(&frame, &mut payloads);
                at += used;
            }
        }
    }
    let mut types = std::collections::BTreeSet::new();
    for (i, p) in payloads.iter().enumerate() {
        let d = decode_dump_payload(p, 7).unwrap_or_else(|e| panic!("payload {i}: {e}"));
        assert_eq!(d.version, 7);
        types.insert(d.type_id);
        assert_bytes_eq(&dump_payload(&d.value, RdbVersion::V7), p, &format!("payload {i} (type {})", d.type_id));
    }
    // w1a alone has 26 payloads and w2a 10 object payloads
    assert!(payloads.len() >= 36, "only {} payloads found", payloads.len());
    assert_eq!(types.into_iter().collect::<Vec<_>>(), vec![0, 2, 3, 4, 11, 12, 13, 14]);
}

#[test]
fn big_list_payload_uses_lzf_nodes_like_codis() {
    // w1a {wire}biglist: two ziplist nodes of 1168 + 832 elements, LZF-compressed (4516 and
    // 3353 bytes) as recorded in w1a_sync_noauth_payloads_decoded.txt.
    let items: Vec<Bytes> = (0..2000).map(|i| Bytes::from(format!("i{i:04}"))).collect();
    let p = dump_payload(&crate::rdb::RdbValue::List(items), RdbVersion::V7);
    assert_eq!(p.len(), 7891);
    assert_eq!(&p[..2], &[14, 2]);
    let dir = require_reference!().join("codis-3.2/wire/1_sync_migration");
    let bin = std::fs::read(dir.join("w1a_sync_noauth_conn1_S_to_T.bin")).unwrap();
    assert_bytes_eq(&p, &bin[24206..32097], "{wire}biglist");
}

#[test]
fn items_of_a_redis7_replication_rdb() {
    let root = require_reference!();
    let data = std::fs::read(
        root.join("codis-3.2/wire/4_replication_mixed/w4b_repl_redis7_master_legacy_replica_diskless_rdb.rdb"),
    )
    .unwrap();
    let items: Vec<Item> = RdbReader::new(&data[..]).unwrap().map(Result::unwrap).collect();
    let aux: Vec<&[u8]> =
        items.iter().filter_map(|i| if let Item::Aux { key, .. } = i { Some(&key[..]) } else { None }).collect();
    assert_eq!(
        aux,
        [
            &b"redis-ver"[..],
            b"redis-bits",
            b"ctime",
            b"used-mem",
            b"repl-stream-db",
            b"repl-id",
            b"repl-offset",
            b"aof-base"
        ]
    );
    assert!(items.contains(&Item::SelectDb(5)));
}
