//! RDB files and DUMP payloads, compatible with codis-server 3.2 (RDB 7) and Redis 7.0 (RDB 10).
//!
//! - [`RdbReader`]: streaming reader for RDB versions 1..=12 over any `io::Read` (files,
//!   replication streams); yields [`Item`]s one at a time, verifies the CRC64 trailer.
//! - [`RdbWriter`]: streaming writer for [`RdbVersion::V7`] (what a legacy 3.2 node loads) and
//!   [`RdbVersion::V10`] (Redis 7.0), choosing each value's encoding as that Redis version does.
//! - [`dump_payload`] / [`parse_dump_payload`]: the `DUMP`/`RESTORE`/`SLOTSRESTORE` format.
//!   For a given value, a V7 payload is byte-identical to what codis-server 3.2 produces
//!   (including LZF compression), provided the value's element order is the one the source
//!   stored (sets, hashes and big zsets are written in model order).
//! - [`RdbValue`]: the neutral value model. Streams, module values and hashes with field
//!   expiration are not modelled: they fail with [`RdbError::Unsupported`] (or are skipped,
//!   see [`RdbReader::skip_unsupported`]).
//! - Building blocks: [`crc64`], [`lzf`], [`ziplist`], [`listpack`], [`intset`], [`zipmap`].

pub mod crc64;
pub mod intset;
pub mod listpack;
pub mod lzf;
pub mod num;
pub mod ziplist;
pub mod zipmap;

mod consts;
mod decode;
mod dump;
mod encode;
mod entry;
mod error;
mod reader;
mod value;
mod writer;

#[cfg(test)]
pub(crate) mod tests;

pub use consts::{opcode, types};
pub use decode::module_name;
pub use dump::{decode_dump_payload, dump_payload, dump_payload_with, parse_dump_payload, DecodedDump};
pub use encode::{encode_value, EncodeOptions, EncodingLimits, RdbVersion};
pub use entry::Elem;
pub use error::{DumpError, FormatError, RdbError};
pub use reader::{Entry, Item, RdbReader, MAX_READ_VERSION, MIN_READ_VERSION};
pub use value::RdbValue;
pub use writer::{RdbWriter, ReplAux, StandardAux};
