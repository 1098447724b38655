//! RDB files and replication payloads: `RdbReader` over arbitrary bytes must end in an item
//! stream or a typed error, never a panic, an abort or an unbounded allocation. A value it
//! returns must survive a DUMP payload round trip.
#![no_main]

use compat::rdb::{Item, RdbReader};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    for skip in [false, true] {
        let Ok(reader) = RdbReader::new(data) else { return };
        let mut reader = reader.skip_unsupported(skip);
        // A bound on the items keeps a pathological input from running for long.
        for _ in 0..100_000 {
            match reader.read_item() {
                Ok(Some(Item::Entry(e))) => compat_fuzz_check::round_trip(&e.value),
                Ok(Some(_)) => {}
                Ok(None) | Err(_) => break,
            }
        }
    }
});

mod compat_fuzz_check {
    include!("../src/check.rs");
}
