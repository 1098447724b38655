//! DUMP / RESTORE payloads (also SLOTSRESTORE and codis async migration `object` payloads).

use super::crc64::crc64;
use super::decode::{self, Src};
use super::encode::{encode_value, EncodeOptions, RdbVersion};
use super::error::{DumpError, RdbError};
use super::value::RdbValue;

/// A decoded payload with its footer information.
#[derive(Clone, Debug, PartialEq)]
pub struct DecodedDump {
    pub value: RdbValue,
    /// RDB type id of the body (e.g. 14 = quicklist).
    pub type_id: u8,
    /// RDB version from the footer.
    pub version: u16,
}

/// `DUMP` of `value` as the given Redis version produces it:
/// type byte, object body, RDB version (u16 LE), CRC64 (u64 LE) of everything before.
pub fn dump_payload(value: &RdbValue, version: RdbVersion) -> Vec<u8> {
    dump_payload_with(value, &EncodeOptions::new(version))
}

/// [`dump_payload`] with explicit encoding limits and compression setting.
pub fn dump_payload_with(value: &RdbValue, opts: &EncodeOptions) -> Vec<u8> {
    let mut out = Vec::with_capacity(32);
    out.push(0);
    let t = encode_value(value, opts, &mut out);
    out[0] = t;
    out.extend_from_slice(&opts.version.number().to_le_bytes());
    let crc = crc64(0, &out);
    out.extend_from_slice(&crc.to_le_bytes());
    out
}

/// Checks the footer as `verifyDumpPayload` does (at least 10 bytes, version <= `max_version`,
/// CRC64) and decodes the value. Legacy codis-server accepts `max_version` 7, Redis 7.0 10.
pub fn parse_dump_payload(payload: &[u8], max_version: u16) -> Result<RdbValue, DumpError> {
    decode_dump_payload(payload, max_version).map(|d| d.value)
}

/// [`parse_dump_payload`], also returning the type id and footer version.
pub fn decode_dump_payload(payload: &[u8], max_version: u16) -> Result<DecodedDump, DumpError> {
    let n = payload.len();
    if n < 10 {
        return Err(DumpError::VersionOrChecksum);
    }
    let version = u16::from_le_bytes([payload[n - 10], payload[n - 9]]);
    if version > max_version {
        return Err(DumpError::VersionOrChecksum);
    }
    let stored = u64::from_le_bytes(payload[n - 8..].try_into().unwrap());
    if crc64(0, &payload[..n - 8]) != stored {
        return Err(DumpError::VersionOrChecksum);
    }
    let body = &payload[..n - 10];
    let mut src = Src::new(body, false);
    let type_id = src.u8().map_err(DumpError::BadData)?;
    if !decode::is_value_type(type_id) {
        return Err(DumpError::BadData(RdbError::UnknownType { type_id, offset: 0, key: None }));
    }
    let value = src.object(type_id).map_err(DumpError::BadData)?;
    Ok(DecodedDump { value, type_id, version })
}
