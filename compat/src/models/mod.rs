//! The cluster models Codis keeps in its coordinator and sends over its admin APIs, encoded
//! byte for byte like Go's `encoding/json` (`pkg/models/*.go`).
//!
//! - [`Topom`] (dashboard lock), [`Proxy`], [`Group`]/[`GroupServer`], [`SlotMapping`],
//!   [`Sentinel`]: the coordinator nodes, 4-space indented ([`Topom::encode`] etc.).
//! - [`Slot`]: a slot as the proxy routes it (`fillslots`, `/proxy/slots`).
//! - [`JodisNode`]: the ephemeral node Java clients discover proxies by.
//! - [`paths`]: `/codis3/<product>/...` and `/jodis/<product>/...`.
//! - [`json`]: the Go-compatible JSON encoder the models and REST bodies share.
//! - [`gotime`]: Go's `time.Now().String()` for `start_time`.
//!
//! Decoding follows Go's `json.Unmarshal`: unknown fields are ignored, missing or `null` fields
//! get their zero value. (Go also matches keys case-insensitively; we match them exactly, which
//! is what every Codis writer produces.)

pub mod action;
pub mod gotime;
pub mod group;
pub mod jodis;
pub mod json;
pub mod paths;
pub mod proxy;
pub mod sentinel;
pub mod slots;
pub mod topom;

pub use action::ActionState;
pub use group::{Action, Group, GroupServer, MAX_GROUP_ID};
pub use jodis::JodisNode;
pub use paths::validate_product;
pub use proxy::Proxy;
pub use sentinel::Sentinel;
pub use slots::{parse_forward_method, Slot, SlotAction, SlotMapping, FORWARD_SEMI_ASYNC, FORWARD_SYNC, MAX_SLOT_NUM};
pub use topom::Topom;

#[cfg(test)]
mod tests;
