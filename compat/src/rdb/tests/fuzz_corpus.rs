//! Bounded random mutations of the kept fuzz corpus (`fuzz/corpus/<target>/`, minimised by
//! `cargo fuzz cmin`) and of recorded files: the RDB reader and the DUMP payload reader answer
//! with an error, never a panic, and what they decode re-encodes into a payload that decodes.
//! Stable Rust, seeded and bounded, so it runs in CI; the open-ended search is cargo-fuzz's job
//! (docs/fuzzing.md). `RDB_MUTATION_ROUNDS` scales it (default 2000 mutations per target).
//!
//! The dump inputs use the fuzz target's convention: the first byte picks the mode (even: the
//! payload as is; odd: a valid footer, version 7 or 10 by bit 1, is appended after mutating).

use std::path::{Path, PathBuf};

use crate::rdb::crc64::crc64;
use crate::rdb::{decode_dump_payload, dump_payload, RdbReader, RdbValue, RdbVersion};

fn corpus(target: &str) -> Vec<(String, Vec<u8>)> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../fuzz/corpus").join(target);
    let mut out: Vec<(String, Vec<u8>)> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("fuzz corpus {} missing: {e}", dir.display()))
        .map(|e| e.unwrap().path())
        .map(|p| (p.file_name().unwrap().to_string_lossy().into_owned(), std::fs::read(&p).unwrap()))
        .collect();
    out.sort();
    assert!(!out.is_empty(), "empty fuzz corpus in {}", dir.display());
    out
}

fn rounds() -> usize {
    std::env::var("RDB_MUTATION_ROUNDS").ok().and_then(|s| s.parse().ok()).unwrap_or(2000)
}

/// xorshift64: reproducible without a dependency on a particular `rand` version.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

/// One to four edits of the kinds that reach length and type handling: bit flips, interesting
/// bytes (length-encoding prefixes, type ids, 0xff), truncation, insertion, deletion, and a
/// copy of a slice from elsewhere (lengths that point past the data).
fn mutate(rng: &mut Rng, data: &mut Vec<u8>) {
    const INTERESTING: [u8; 12] = [0x00, 0x01, 0x3f, 0x40, 0x7f, 0x80, 0x81, 0xc0, 0xc3, 0xfe, 0xff, 0x0e];
    for _ in 0..1 + rng.below(4) {
        let len = data.len();
        match rng.below(7) {
            0 if len > 0 => {
                let i = rng.below(len);
                data[i] ^= 1 << rng.below(8);
            }
            1 if len > 0 => {
                let i = rng.below(len);
                data[i] = INTERESTING[rng.below(INTERESTING.len())];
            }
            2 => data.truncate(rng.below(len + 1)),
            3 => {
                let i = rng.below(len + 1);
                let b = rng.next() as u8;
                data.insert(i, b);
            }
            4 if len > 0 => {
                let i = rng.below(len);
                let n = 1 + rng.below(8.min(len - i));
                data.drain(i..i + n);
            }
            5 if len > 1 => {
                let from = rng.below(len);
                let n = 1 + rng.below(16.min(len - from));
                let to = rng.below(len);
                let chunk: Vec<u8> = data[from..from + n].to_vec();
                for (k, b) in chunk.into_iter().enumerate() {
                    if to + k < data.len() {
                        data[to + k] = b;
                    }
                }
            }
            _ if len >= 4 => {
                // A 32-bit length written big-endian (RDB_32BITLEN is followed by one).
                let i = rng.below(len - 3);
                let v = [0x00, 0x7f, 0xff, 0x10][rng.below(4)];
                data[i..i + 4].copy_from_slice(&[v, rng.next() as u8, 0xff, 0xff]);
            }
            _ => {}
        }
    }
}

fn round_trip(v: &RdbValue) {
    for version in [RdbVersion::V7, RdbVersion::V10] {
        let p = dump_payload(v, version);
        if let Err(e) = decode_dump_payload(&p, 12) {
            panic!("our own {version:?} payload of a decoded value does not decode: {e}");
        }
    }
}

fn read_rdb(data: &[u8]) {
    for skip in [false, true] {
        let Ok(r) = RdbReader::new(data) else { return };
        let mut r = r.skip_unsupported(skip);
        for _ in 0..100_000 {
            match r.read_item() {
                Ok(Some(crate::rdb::Item::Entry(e))) => round_trip(&e.value),
                Ok(Some(_)) => {}
                Ok(None) | Err(_) => break,
            }
        }
    }
}

/// The dump fuzz target's input convention.
fn read_dump(data: &[u8]) {
    let Some((&mode, body)) = data.split_first() else { return };
    let mut p = body.to_vec();
    if mode & 1 == 1 {
        let version: u16 = if mode & 2 == 0 { 7 } else { 10 };
        p.extend_from_slice(&version.to_le_bytes());
        let crc = crc64(0, &p);
        p.extend_from_slice(&crc.to_le_bytes());
    }
    for max in [7u16, 12] {
        if let Ok(d) = decode_dump_payload(&p, max) {
            round_trip(&d.value);
        }
    }
}

/// Runs `check` on `rounds` mutations of the seeds; a panic saves the input for `cargo fuzz
/// run <target> <file>` and fails with its path.
fn run(target: &str, seeds: &[(String, Vec<u8>)], rounds: usize, seed: u64, check: fn(&[u8])) {
    let mut rng = Rng(seed);
    for (_, s) in seeds {
        check(s);
    }
    for round in 0..rounds {
        let (name, base) = &seeds[rng.below(seeds.len())];
        let mut data = base.clone();
        mutate(&mut rng, &mut data);
        if let Err(e) = std::panic::catch_unwind(|| check(&data)) {
            let path: PathBuf = std::env::temp_dir().join(format!("{target}-mutation-{round}.bin"));
            let _ = std::fs::write(&path, &data);
            let msg = e.downcast_ref::<String>().cloned().or_else(|| e.downcast_ref::<&str>().map(|s| s.to_string()));
            panic!("{target}: mutation {round} of {name} panicked ({msg:?}); input saved to {}", path.display());
        }
    }
}

#[test]
fn rdb_reader_mutations_of_the_corpus_and_recordings_are_errors() {
    let mut seeds = corpus("rdb_reader");
    if let Some(root) = super::reference_dir() {
        for f in [
            "codis-3.2/f1_codis_server_dump.rdb",
            "codis-3.2/wire/3_replication_legacy/w3a_repl_legacy_to_legacy_rdb.rdb",
            "codis-3.2/wire/4_replication_mixed/w4b_repl_redis7_master_legacy_replica_diskless_rdb.rdb",
        ] {
            seeds.push((f.to_string(), std::fs::read(root.join(f)).unwrap()));
        }
    }
    run("rdb_reader", &seeds, rounds(), 0x2545_f491_4f6c_dd1d, read_rdb);
}

#[test]
fn dump_payload_mutations_of_the_corpus_and_recordings_are_errors() {
    let mut seeds = corpus("dump_payload");
    // The recorded codis-server 3.2 DUMP payloads (f1), as-is and with the footer to be redone.
    if let Some(root) = super::reference_dir() {
        let text = std::fs::read_to_string(root.join("codis-3.2/f1_rdb_summary.json")).unwrap();
        let summary: serde_json::Value = serde_json::from_str(&text).unwrap();
        for (key, hex) in summary["dump_payload_hex"].as_object().unwrap() {
            let p = super::hex(hex.as_str().unwrap());
            seeds.push((format!("f1 {key}"), [&[0u8][..], &p].concat()));
            seeds.push((format!("f1 {key} body"), [&[1u8][..], &p[..p.len() - 10]].concat()));
        }
    }
    run("dump_payload", &seeds, rounds(), 0x9e37_79b9_7f4a_7c15, read_dump);
}
