//! Logs in Go Codis's layout, `2026/11/22 01:47:54 topom_slots.rs:240: [WARN] message`, to
//! stderr or the daily rolling `--log` file, with a level that `PUT /api/topom/loglevel` changes
//! at run time. One implementation for every binary: [`compat::golog`].

pub use compat::golog::*;
