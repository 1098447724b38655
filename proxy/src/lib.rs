//! codis-proxy: the data path of the Codis proxy.
//!
//! - [`session`]: one client connection, in-order replies, commands the proxy answers itself;
//! - [`mapper`]: the command table (refused commands, master-only commands, routing key);
//! - [`multikey`]: MGET, MSET, DEL, EXISTS, TOUCH, UNLINK over several backends, and merging
//!   the parts of any split request;
//! - [`router`]: the 1024-slot table and slot refills;
//! - [`forward`]: sending a request for a slot, with the sync and semi-async migration methods;
//! - [`backend`]: pipelined connections to the servers;
//! - [`listener`]: the client listener (TCP, or a Unix stream/seqpacket socket);
//! - [`percore`]: one single-threaded runtime per worker (`--ncpu`);
//! - [`resp3`]: replies for clients that switched to RESP3 with HELLO;
//! - [`proxy`]: the listeners, the model, the online/closed lifecycle and the calls the admin
//!   API makes;
//! - [`pubsub`], [`txn`], [`fanout`], [`dedicated`], [`hold`]: the extensions beyond Codis
//!   ([`features`], docs/proxy-features.md);
//! - [`admin`]: the admin REST API (Go-compatible) and `/metrics`;
//! - [`stats`]: counters per command and per proxy, CPU and memory samples;
//! - [`sentinel`]: watching sentinels and switching group masters;
//! - [`jodis`]: the ephemeral node Java clients discover proxies by;
//! - [`report`]: pushing stats to statsd, influxdb or an HTTP endpoint.

pub mod admin;
pub mod backend;
pub mod config;
pub mod dedicated;
pub mod error;
pub mod fanout;
pub mod features;
pub mod forward;
pub mod hold;
pub mod jodis;
pub mod listener;
pub mod mapper;
pub mod multikey;
pub mod percore;
pub mod proxy;
pub mod pubsub;
pub mod report;
pub mod resp3;
pub mod router;
pub mod sentinel;
pub mod session;
pub mod sink;
pub mod stats;
pub mod txn;

pub use compat::models::Slot;
pub use config::Config;
pub use proxy::Proxy;

/// The server version HELLO reports: the Redis release Codis 3.2's servers are built on.
pub const REDIS_VERSION: &str = "3.2.11";
