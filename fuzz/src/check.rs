// Shared by the fuzz targets (included, so each target stays one binary without a lib crate).

use compat::rdb::{decode_dump_payload, dump_payload, RdbValue, RdbVersion};

/// A decoded value re-encodes (as 3.2 and as Redis 7 would) into a payload that decodes again.
pub fn round_trip(v: &RdbValue) {
    for version in [RdbVersion::V7, RdbVersion::V10] {
        let p = dump_payload(v, version);
        if let Err(e) = decode_dump_payload(&p, 12) {
            panic!("our own {version:?} payload of a decoded value does not decode: {e}");
        }
    }
}
