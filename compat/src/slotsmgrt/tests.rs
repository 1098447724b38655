//! Byte checks against codis-server 3.2.11 recordings (`e1_codis_server_slots_commands.txt`
//! lines "SLOTSMGRTONE-ASYNC-DUMP ... list2" and the SLOTSRESTORE-ASYNC replies; wire README).

use bytes::Bytes;

use super::*;
use crate::resp::parse_frame;

fn args(v: &[&[u8]]) -> Vec<Bytes> {
    v.iter().map(|a| Bytes::copy_from_slice(a)).collect()
}

#[test]
fn messages_match_the_recorded_dump_reply() {
    // `RPUSH list2 a b c d e`, SLOTSMGRTONE-ASYNC-DUMP 1000 2 list2: delete, three chunks, expire.
    let mut out = Vec::new();
    msg::delete(&mut out, b"list2");
    for part in [&[b"a" as &[u8], b"b"][..], &[b"c", b"d"], &[b"e"]] {
        let mut w = ChunkWriter::new(ChunkKind::List);
        for e in part {
            w.push(e);
        }
        w.finish(&mut out, b"list2", 3000, 5);
    }
    msg::expire(&mut out, b"list2", 0);
    let expected = "*3\r\n$18\r\nSLOTSRESTORE-ASYNC\r\n$6\r\ndelete\r\n$5\r\nlist2\r\n\
        *7\r\n$18\r\nSLOTSRESTORE-ASYNC\r\n$4\r\nlist\r\n$5\r\nlist2\r\n$4\r\n3000\r\n$1\r\n5\r\n$1\r\na\r\n$1\r\nb\r\n\
        *7\r\n$18\r\nSLOTSRESTORE-ASYNC\r\n$4\r\nlist\r\n$5\r\nlist2\r\n$4\r\n3000\r\n$1\r\n5\r\n$1\r\nc\r\n$1\r\nd\r\n\
        *6\r\n$18\r\nSLOTSRESTORE-ASYNC\r\n$4\r\nlist\r\n$5\r\nlist2\r\n$4\r\n3000\r\n$1\r\n5\r\n$1\r\ne\r\n\
        *4\r\n$18\r\nSLOTSRESTORE-ASYNC\r\n$6\r\nexpire\r\n$5\r\nlist2\r\n$1\r\n0\r\n";
    assert_eq!(String::from_utf8_lossy(&out), expected);

    let mut out = Vec::new();
    msg::string(&mut out, b"ttlkey", 599974, b"v");
    assert_eq!(out, b"*5\r\n$18\r\nSLOTSRESTORE-ASYNC\r\n$6\r\nstring\r\n$6\r\nttlkey\r\n$6\r\n599974\r\n$1\r\nv\r\n");
    let mut out = Vec::new();
    msg::auth(&mut out, b"wirepass");
    msg::select(&mut out, 0);
    assert_eq!(out, b"*2\r\n$23\r\nSLOTSRESTORE-ASYNC-AUTH\r\n$8\r\nwirepass\r\n*2\r\n$25\r\nSLOTSRESTORE-ASYNC-SELECT\r\n$1\r\n0\r\n");
}

#[test]
fn zset_scores_are_little_endian_doubles() {
    // wire README: 1899.5 = 0000000000ae9d40
    assert_eq!(score_bits(1899.5), [0, 0, 0, 0, 0, 0xae, 0x9d, 0x40]);
    assert_eq!(score_from_bits(&score_bits(-3.25)), Some(-3.25));
    assert_eq!(score_from_bits(b"1234567"), None);
}

#[test]
fn acks_round_trip_and_errors_are_kept_apart() {
    let mut out = Vec::new();
    encode_ack(&mut out, 0, b"1");
    assert_eq!(out, b"*3\r\n$22\r\nSLOTSRESTORE-ASYNC-ACK\r\n$1\r\n0\r\n$1\r\n1\r\n");
    let (f, n) = parse_frame(&out).unwrap().unwrap();
    assert_eq!(n, out.len());
    assert_eq!(parse_ack(&f).unwrap(), Bytes::from_static(b"1"));

    let mut out = Vec::new();
    encode_ack(&mut out, -1, b"invalid password");
    let (f, _) = parse_frame(&out).unwrap().unwrap();
    assert_eq!(parse_ack(&f), Err(AckError::Refused { errno: -1, message: "invalid password".into() }));
    let (f, _) = parse_frame(b"-NOAUTH Authentication required.\r\n").unwrap().unwrap();
    assert!(matches!(parse_ack(&f), Err(AckError::Error(_))));
    let (f, _) = parse_frame(b"+OK\r\n").unwrap().unwrap();
    assert!(matches!(parse_ack(&f), Err(AckError::Malformed(_))));
}

#[test]
fn restore_async_parsing_follows_codis_checks() {
    let a = args(&[b"SLOTSRESTORE-ASYNC", b"bogus", b"k"]);
    assert_eq!(RestoreAsync::parse(&a).unwrap_err(), "wrong number of arguments (argc=3,cmd=bogus)");
    let a = args(&[b"SLOTSRESTORE-ASYNC", b"bogus", b"k", b"0", b"1"]);
    assert_eq!(RestoreAsync::parse(&a).unwrap_err(), "unknown command (argc=5,cmd=bogus)");
    let a = args(&[b"SLOTSRESTORE-ASYNC", b"string", b"k", b"-1", b"v"]);
    assert_eq!(RestoreAsync::parse(&a).unwrap_err(), "invalid TTL value (TTL=-1)");
    let a = args(&[b"SLOTSRESTORE-ASYNC", b"list", b"k", b"0", b"x"]);
    assert_eq!(RestoreAsync::parse(&a).unwrap_err(), "invalid Hint value (Hint=x)");
    let a = args(&[b"SLOTSRESTORE-ASYNC", b"hash", b"k", b"0", b"1", b"f"]);
    assert_eq!(RestoreAsync::parse(&a).unwrap_err(), "wrong number of arguments (argc=6,cmd=hash)");
    let a = args(&[b"SLOTSRESTORE-ASYNC", b"zset", b"k", b"0", b"1", b"m", b"1.5"]);
    assert_eq!(RestoreAsync::parse(&a).unwrap_err(), "invalid zset score ([0]), bad raw bits");
    let a = args(&[b"SLOTSRESTORE-ASYNC", b"DELETE", b"k"]);
    assert_eq!(RestoreAsync::parse(&a).unwrap(), RestoreAsync::Delete { key: b"k" });
    let a = args(&[b"SLOTSRESTORE-ASYNC", b"list", b"ra2", b"0", b"3", b"x", b"y", b"z"]);
    match RestoreAsync::parse(&a).unwrap() {
        RestoreAsync::Chunk { kind: ChunkKind::List, key, ttl_ms: 0, hint: 3, elems } => {
            assert_eq!(key, b"ra2");
            assert_eq!(elems.len(), 3);
        }
        other => panic!("{other:?}"),
    }
    let a = args(&[b"SLOTSRESTORE-ASYNC", b"expire", b"k", b"007"]);
    assert!(RestoreAsync::parse(&a).is_err(), "codis reads integers strictly");
}

#[test]
fn slotsrestore_request() {
    let mut out = Vec::new();
    slotsrestore(&mut out, &[(b"k" as &[u8], 0i64, b"p" as &[u8])]);
    assert_eq!(out, b"*4\r\n$12\r\nSLOTSRESTORE\r\n$1\r\nk\r\n$1\r\n0\r\n$1\r\np\r\n");
}
