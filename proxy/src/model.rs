//! The proxy-side slot model as `fillslots` sends it (Go's `models.Slot`).
//!
//! Stand-in until the shared `compat::models` module lands; it has the same fields and JSON
//! names so the switch is a change of import.

use serde::{Deserialize, Serialize};

pub const FORWARD_SYNC: i32 = 0;
pub const FORWARD_SEMI_ASYNC: i32 = 1;

fn is_zero(v: &i32) -> bool {
    *v == 0
}

fn is_false(v: &bool) -> bool {
    !*v
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Slot {
    pub id: i32,
    #[serde(default, skip_serializing_if = "is_false")]
    pub locked: bool,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub backend_addr: String,
    #[serde(default, skip_serializing_if = "is_zero")]
    pub backend_addr_group_id: i32,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub migrate_from: String,
    #[serde(default, skip_serializing_if = "is_zero")]
    pub migrate_from_group_id: i32,
    #[serde(default, skip_serializing_if = "is_zero")]
    pub forward_method: i32,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub replica_groups: Vec<Vec<String>>,
}
