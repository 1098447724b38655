//! Formats that cross a process boundary, written once and shared by every rcodis binary.
//!
//! - [`resp`]: the Redis serialization protocol (RESP2 and RESP3), request decoding for servers
//!   and frame parsing/encoding for clients.
//! - [`slot`]: the Codis slot hash (crc32 of the hash tag, modulo 1024).
//! - [`slotsmgrt`]: slot migration messages (SLOTSRESTORE, SLOTSRESTORE-ASYNC and its ACKs).

pub mod rdb;
pub mod resp;
pub mod slot;
pub mod slotsmgrt;
