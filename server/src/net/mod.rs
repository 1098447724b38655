//! Networking: listeners and the per-connection loop.

pub mod connection;
pub mod listener;
