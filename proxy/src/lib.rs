//! codis-proxy: the data path of the Codis proxy.
//!
//! - [`session`]: one client connection, in-order replies, commands the proxy answers itself;
//! - [`mapper`]: the command table (refused commands, master-only commands, routing key);
//! - [`router`]: the 1024-slot table and slot refills;
//! - [`forward`]: sending a request for a slot, with the sync and semi-async migration methods;
//! - [`backend`]: pipelined connections to the servers;
//! - [`resp3`]: replies for clients that switched to RESP3 with HELLO;
//! - [`pubsub`], [`txn`], [`fanout`], [`dedicated`]: the extensions beyond Codis
//!   ([`features`], docs/proxy-features.md);
//! - [`proxy`]: the listener and the calls the admin API makes.

pub mod backend;
pub mod config;
pub mod dedicated;
pub mod error;
pub mod fanout;
pub mod features;
pub mod forward;
pub mod hold;
pub mod mapper;
pub mod percore;
pub mod proxy;
pub mod pubsub;
pub mod resp3;
pub mod router;
pub mod session;
pub mod sink;
pub mod stats;
pub mod txn;

pub use compat::models::Slot;
pub use config::Config;
pub use proxy::Proxy;

/// The server version HELLO reports: the Redis release Codis 3.2's servers are built on.
pub const REDIS_VERSION: &str = "3.2.11";
