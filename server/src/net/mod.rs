//! Networking: listeners and the per-connection loop.

pub mod connection;
pub mod deferred;
pub mod fanout;
pub mod listener;
