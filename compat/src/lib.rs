//! Formats that cross a process boundary, written once and shared by every rcodis binary.
//!
//! - [`resp`]: the Redis serialization protocol (RESP2 and RESP3), request decoding for servers
//!   and frame parsing/encoding for clients.
//! - [`slot`]: the Codis slot hash (crc32 of the hash tag, modulo 1024).
//! - [`slotsmgrt`]: slot migration messages (SLOTSRESTORE, SLOTSRESTORE-ASYNC and its ACKs).
//!
//! With feature `cluster`: [`models`] (coordinator models, paths, Go-compatible JSON), [`xauth`]
//! (tokens and admin API secrets), [`config`] (proxy.toml and dashboard.toml). With feature
//! `coordinator`: [`coordinator`] (ZooKeeper, etcd, filesystem clients) and [`store`]. With
//! feature `rest`: [`rest`] (Go's REST conventions and typed admin API clients). With feature
//! `golog`: [`golog`] (Go's log line layout and daily rolling log file).

pub mod rdb;
pub mod resp;
pub mod slot;
pub mod slotsmgrt;

#[cfg(feature = "cluster")]
pub mod config;
#[cfg(feature = "coordinator")]
pub mod coordinator;
#[cfg(feature = "golog")]
pub mod golog;
#[cfg(feature = "cluster")]
pub mod models;
#[cfg(feature = "rest")]
pub mod rest;
#[cfg(feature = "coordinator")]
pub mod store;
#[cfg(feature = "cluster")]
pub mod xauth;
