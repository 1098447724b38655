//! DUMP / RESTORE / SLOTSRESTORE payloads. The first byte picks the mode: as is (the footer's
//! version and CRC64 are checked first, so most inputs stop there), or with a valid footer
//! appended so the body decoders (ziplist, listpack, intset, zipmap, quicklist, LZF) are reached.
#![no_main]

use compat::rdb::{crc64::crc64, decode_dump_payload};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&mode, body)) = data.split_first() else { return };
    let payload = if mode & 1 == 0 {
        body.to_vec()
    } else {
        let version: u16 = if mode & 2 == 0 { 7 } else { 10 };
        let mut p = body.to_vec();
        p.extend_from_slice(&version.to_le_bytes());
        let crc = crc64(0, &p);
        p.extend_from_slice(&crc.to_le_bytes());
        p
    };
    for max in [7u16, 12] {
        if let Ok(d) = decode_dump_payload(&payload, max) {
            compat_fuzz_check::round_trip(&d.value);
        }
    }
});

mod compat_fuzz_check {
    include!("../src/check.rs");
}
