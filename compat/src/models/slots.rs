//! Slot mappings (coordinator, `/codis3/<product>/slots/slot-%04d`) and the proxy-side slot
//! (`fillslots` body, `/proxy/slots`, `/topom/slots`), from `pkg/models/slots.go`.

use serde::{Deserialize, Serialize};

use super::action::ActionState;
use super::json::{self, is_zero, nullable};

/// Number of slots (`models.MaxSlotNum`).
pub const MAX_SLOT_NUM: usize = 1024;

/// `forward_method` of a proxy-side slot: the proxy migrates a key itself before forwarding.
pub const FORWARD_SYNC: i64 = 0;
/// `forward_method`: the proxy wraps requests in `SLOTSMGRT-EXEC-WRAPPER`.
pub const FORWARD_SEMI_ASYNC: i64 = 1;

/// Go's `ParseForwardMethod`: case-insensitive `sync` / `semi-async`.
pub fn parse_forward_method(s: &str) -> Option<i64> {
    if s.eq_ignore_ascii_case("sync") {
        Some(FORWARD_SYNC)
    } else if s.eq_ignore_ascii_case("semi-async") {
        Some(FORWARD_SEMI_ASYNC)
    } else {
        None
    }
}

/// The stored mapping of one slot to a group, with the migration action if any.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SlotMapping {
    #[serde(default, deserialize_with = "nullable")]
    pub id: i64,
    #[serde(default, deserialize_with = "nullable")]
    pub group_id: i64,
    #[serde(default, deserialize_with = "nullable")]
    pub action: SlotAction,
}

/// `{index, state, target_id}`, every field omitempty.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SlotAction {
    #[serde(default, deserialize_with = "nullable", skip_serializing_if = "is_zero")]
    pub index: i64,
    #[serde(default, skip_serializing_if = "ActionState::is_nothing")]
    pub state: ActionState,
    #[serde(default, deserialize_with = "nullable", skip_serializing_if = "is_zero")]
    pub target_id: i64,
}

impl SlotMapping {
    pub fn new(id: i64, group_id: i64) -> Self {
        SlotMapping { id, group_id, action: SlotAction::default() }
    }

    pub fn encode(&self) -> Vec<u8> {
        json::to_vec_indent(self)
    }

    pub fn decode(b: &[u8]) -> Result<Self, serde_json::Error> {
        json::from_slice(b)
    }
}

/// A slot as the proxy routes it; every field but `id` is omitempty.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Slot {
    #[serde(default, deserialize_with = "nullable")]
    pub id: i64,
    #[serde(default, deserialize_with = "nullable", skip_serializing_if = "is_zero")]
    pub locked: bool,
    #[serde(default, deserialize_with = "nullable", skip_serializing_if = "String::is_empty")]
    pub backend_addr: String,
    #[serde(default, deserialize_with = "nullable", skip_serializing_if = "is_zero")]
    pub backend_addr_group_id: i64,
    #[serde(default, deserialize_with = "nullable", skip_serializing_if = "String::is_empty")]
    pub migrate_from: String,
    #[serde(default, deserialize_with = "nullable", skip_serializing_if = "is_zero")]
    pub migrate_from_group_id: i64,
    #[serde(default, deserialize_with = "nullable", skip_serializing_if = "is_zero")]
    pub forward_method: i64,
    /// Replica addresses grouped by preference (same datacenter first); Go drops the field when
    /// the outer list is empty.
    #[serde(default, deserialize_with = "nullable", skip_serializing_if = "Vec::is_empty")]
    pub replica_groups: Vec<Vec<String>>,
}
