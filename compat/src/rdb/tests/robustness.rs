//! Corrupt and hostile input: typed errors, never a panic or a huge allocation.

use std::io::Read;

use super::require_reference;
use crate::rdb::{
    dump_payload, parse_dump_payload, DumpError, Item, RdbError, RdbReader, RdbValue, RdbVersion, RdbWriter,
};

fn read_all(data: &[u8]) -> Result<usize, RdbError> {
    let mut r = RdbReader::new(data)?;
    let mut n = 0;
    while r.read_item()?.is_some() {
        n += 1;
    }
    Ok(n)
}

fn sample_rdb() -> Vec<u8> {
    let mut w = RdbWriter::new(Vec::new(), RdbVersion::V7).unwrap();
    w.select_db(0).unwrap();
    w.write_entry(b"s", &RdbValue::String("x".repeat(100).into()), Some(1)).unwrap();
    w.write_entry(b"l", &RdbValue::List((0..300).map(|i| format!("item{i}").into()).collect()), None).unwrap();
    w.write_entry(b"z", &RdbValue::ZSet(vec![("a".into(), 1.5), ("b".into(), 2.0)]), None).unwrap();
    w.write_entry(b"h", &RdbValue::Hash(vec![("f".into(), "v".into())]), None).unwrap();
    w.write_entry(b"i", &RdbValue::Set(vec!["1".into(), "70000".into()]), None).unwrap();
    w.finish().unwrap()
}

#[test]
fn every_truncation_is_an_error() {
    let data = sample_rdb();
    assert!(read_all(&data).is_ok());
    for cut in 0..data.len() {
        assert!(read_all(&data[..cut]).is_err(), "prefix of {cut} bytes accepted");
    }
}

#[test]
fn mutations_never_panic() {
    let mut files = vec![sample_rdb()];
    if let Some(root) = super::reference_dir() {
        for f in [
            "codis-3.2/f1_codis_server_dump.rdb",
            "codis-3.2/wire/5_rdb_redis7/r5a_redis7_dump.rdb",
            "codis-2.0/f1_codis_server_2.8_dump.rdb",
        ] {
            files.push(std::fs::read(root.join(f)).unwrap());
        }
    }
    let mut seed = 0x9e3779b97f4a7c15u64;
    let mut rnd = move || {
        seed ^= seed << 7;
        seed ^= seed >> 9;
        seed
    };
    for data in &files {
        for _ in 0..400 {
            let mut d = data.clone();
            for _ in 0..1 + rnd() % 3 {
                let i = (rnd() as usize) % d.len();
                d[i] = match rnd() % 4 {
                    0 => 0xff,
                    1 => 0x80,
                    2 => d[i] ^ (1 << (rnd() % 8)),
                    _ => rnd() as u8,
                };
            }
            let _ = read_all(&d);
            // also with checksum disabled, so values decode from corrupt bytes
            let n = d.len();
            if n > 8 && d[n - 9] == 0xff {
                d[n - 8..].fill(0);
                let _ = read_all(&d);
            }
        }
    }
}

#[test]
fn absurd_lengths_fail_without_allocating() {
    // string key with a 64-bit length of 2^60
    let mut d = b"REDIS0009\xfe\x00\x00\x81".to_vec();
    d.extend_from_slice(&(1u64 << 60).to_be_bytes());
    assert!(matches!(read_all(&d), Err(RdbError::UnexpectedEof { .. })));
    // list claiming 2^32-1 elements
    let d = b"REDIS0007\x01\x01k\x80\xff\xff\xff\xff\x01a".to_vec();
    assert!(matches!(read_all(&d), Err(RdbError::UnexpectedEof { key: Some(_), .. })));
    // LZF string claiming 4 GiB from 3 bytes
    let d = b"REDIS0007\x00\x01k\xc3\x03\x80\xff\xff\xff\xff\x01ab".to_vec();
    let e = read_all(&d).unwrap_err();
    assert!(matches!(e, RdbError::Corrupt { .. }), "{e}");
    assert!(e.to_string().contains("key \"k\""), "{e}");
}

#[test]
fn checksum_is_verified_and_zero_means_disabled() {
    let mut data = sample_rdb();
    let n = data.len();
    data[n - 1] ^= 1;
    assert!(matches!(read_all(&data), Err(RdbError::Checksum { .. })));
    data[n - 8..].fill(0);
    assert!(read_all(&data).is_ok());
    // a flipped value byte is caught by the checksum
    let mut data = sample_rdb();
    let i = data.windows(4).position(|w| w == b"item").unwrap();
    data[i] = b'X';
    assert!(matches!(read_all(&data), Err(RdbError::Checksum { .. })));
}

#[test]
fn header_errors() {
    assert!(matches!(read_all(b"REDIS"), Err(RdbError::BadMagic)));
    assert!(matches!(read_all(b"REDIX0007\xff"), Err(RdbError::BadMagic)));
    assert!(matches!(read_all(b"REDIS0013\xff"), Err(RdbError::UnsupportedVersion(13))));
    assert_eq!(RdbError::UnsupportedVersion(13).to_string(), "can't handle RDB format version 13");
    let e = read_all(b"REDIS0007\x08").unwrap_err();
    assert!(matches!(e, RdbError::UnknownType { type_id: 8, offset: 9, .. }), "{e}");
}

#[test]
fn unsupported_types_name_the_type_and_key() {
    // a stream key (type 21) with an empty body
    let d = b"REDIS0011\xfe\x00\x15\x06events\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\xff".to_vec();
    let e = read_all(&d).unwrap_err();
    assert_eq!(e.to_string(), "unsupported value type 21 (stream) (key \"events\"): not supported by this reader");
    // the same, skipped: the layout is parsed and the reader goes on
    let mut with_key = d.clone();
    with_key.truncate(d.len() - 1);
    with_key.extend_from_slice(b"\x00\x01k\x01v\xff\0\0\0\0\0\0\0\0");
    let mut r = RdbReader::new(&with_key[..]).unwrap().skip_unsupported(true);
    assert_eq!(r.read_item().unwrap(), Some(Item::SelectDb(0)));
    assert!(matches!(r.read_item().unwrap(), Some(Item::Skipped { type_id: 21, what: "stream", .. })));
    assert!(matches!(r.read_item().unwrap(), Some(Item::Entry(e)) if &e.key[..] == b"k"));
    assert_eq!(r.read_item().unwrap(), None);
    // module values in the pre-GA format cannot even be skipped
    let e = read_all(b"REDIS0008\x06\x01m\x00").unwrap_err();
    assert!(matches!(e, RdbError::Unsupported { type_id: 6, .. }));
}

/// A source that hands out one byte per `read` call.
struct Trickle<'a>(&'a [u8]);

impl Read for Trickle<'_> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        if self.0.is_empty() || buf.is_empty() {
            return Ok(0);
        }
        buf[0] = self.0[0];
        self.0 = &self.0[1..];
        Ok(1)
    }
}

#[test]
fn streaming_source_and_no_read_past_the_checksum() {
    let mut data = sample_rdb();
    let rdb_len = data.len();
    data.extend_from_slice(b"0123456789012345678901234567890123456789*1\r\n$4\r\nPING\r\n");
    let mut r = RdbReader::new(Trickle(&data)).unwrap();
    let mut n = 0;
    while r.read_item().unwrap().is_some() {
        n += 1;
    }
    assert_eq!(n, 6);
    assert!(r.is_finished());
    assert_eq!(r.position(), rdb_len as u64);
    let rest = r.into_inner().0;
    assert_eq!(rest, &data[rdb_len..]);
}

#[test]
fn dump_payload_errors_are_typed() {
    let p = dump_payload(&RdbValue::String("hello".into()), RdbVersion::V10);
    assert_eq!(parse_dump_payload(&p, 10).unwrap(), RdbValue::String("hello".into()));
    let e = parse_dump_payload(&p, 7).unwrap_err();
    assert!(matches!(e, DumpError::VersionOrChecksum));
    assert_eq!(e.to_string(), "DUMP payload version or checksum are wrong");
    let mut bad = p.clone();
    bad[1] ^= 1;
    assert!(matches!(parse_dump_payload(&bad, 10), Err(DumpError::VersionOrChecksum)));
    assert!(matches!(parse_dump_payload(&p[..9], 10), Err(DumpError::VersionOrChecksum)));
    // valid footer, broken body
    let mut body = vec![14u8, 1, 5, b'x'];
    body.extend_from_slice(&7u16.to_le_bytes());
    let crc = crate::rdb::crc64::crc64(0, &body);
    body.extend_from_slice(&crc.to_le_bytes());
    let e = parse_dump_payload(&body, 7).unwrap_err();
    assert!(matches!(e, DumpError::BadData(_)));
    assert_eq!(e.to_string(), "Bad data format");
}

#[test]
fn recorded_file_prefixes_are_errors() {
    let root = require_reference!();
    let data = std::fs::read(root.join("codis-3.2/wire/5_rdb_redis7/r5a_redis7_dump.rdb")).unwrap();
    for cut in (0..data.len()).step_by(53) {
        assert!(read_all(&data[..cut]).is_err());
    }
    assert!(read_all(&data).is_ok());
}

/// Found by the `dump_payload` fuzz target: a decoded zset may hold NaN scores (Redis refuses
/// them when it builds the key, the codec does not); re-encoding it must not panic in the sort.
#[test]
fn zset_with_nan_scores_encodes() {
    let mut entries: Vec<(bytes::Bytes, f64)> = (0..200).map(|i| (format!("m{i}").into(), (i % 7) as f64)).collect();
    for i in (0..200).step_by(3) {
        entries[i].1 = f64::NAN;
    }
    entries.push(("neg0".into(), -0.0));
    entries.push(("pos0".into(), 0.0));
    for version in [RdbVersion::V7, RdbVersion::V10] {
        for n in [5, 20, 202] {
            let v = RdbValue::ZSet(entries[entries.len() - n..].to_vec());
            let p = dump_payload(&v, version);
            let back = parse_dump_payload(&p, 10).unwrap();
            let RdbValue::ZSet(z) = back else { panic!("not a zset") };
            assert_eq!(z.len(), n);
        }
    }
}
