//! Cross-process test support: start `redis-server` and our `codis-server` on free loopback
//! ports ([`server`]), talk RESP to them ([`client`]), render replies for reports ([`render`]),
//! and the differential engine with its command generator ([`diff`]).

pub mod client;
pub mod diff;
pub mod logfiles;
pub mod render;
pub mod server;

pub use client::{Conn, ConnError, Reply};
pub use server::{Kind, Server};

/// Reads a number from the environment, with a default.
pub fn env_num<T: std::str::FromStr>(name: &str, default: T) -> T {
    std::env::var(name).ok().and_then(|v| v.trim().parse().ok()).unwrap_or(default)
}

/// `CONFORMANCE_STRICT=1`: every difference fails and no test part is skipped because the
/// server does not know a command yet (for use once every command family has landed).
pub fn strict() -> bool {
    matches!(std::env::var("CONFORMANCE_STRICT").as_deref(), Ok("1") | Ok("true") | Ok("yes"))
}
