//! Networking: listeners and the per-connection loop.

pub mod connection;
pub mod fanout;
pub mod listener;
