//! Server groups, stored at `/codis3/<product>/group/group-%04d` (`pkg/models/group.go`).

use serde::{Deserialize, Serialize};

use super::action::ActionState;
use super::json::{self, is_zero, nullable};

/// Largest group id; valid ids are `1..=MAX_GROUP_ID`.
pub const MAX_GROUP_ID: i64 = 9999;

/// A group: `servers[0]` is the master.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Group {
    #[serde(default, deserialize_with = "nullable")]
    pub id: i64,
    /// Go creates groups with an empty (non-nil) list, so this is always written as an array.
    #[serde(default, deserialize_with = "nullable")]
    pub servers: Vec<GroupServer>,
    #[serde(default, deserialize_with = "nullable")]
    pub promoting: Action,
    #[serde(default, deserialize_with = "nullable")]
    pub out_of_sync: bool,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct GroupServer {
    #[serde(rename = "server", default, deserialize_with = "nullable")]
    pub addr: String,
    #[serde(default, deserialize_with = "nullable")]
    pub datacenter: String,
    #[serde(default, deserialize_with = "nullable")]
    pub action: Action,
    #[serde(default, deserialize_with = "nullable")]
    pub replica_group: bool,
}

/// `{index, state}` of a group server's sync action or of a group's promotion; both omitempty.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Action {
    #[serde(default, deserialize_with = "nullable", skip_serializing_if = "is_zero")]
    pub index: i64,
    #[serde(default, skip_serializing_if = "ActionState::is_nothing")]
    pub state: ActionState,
}

impl Group {
    pub fn encode(&self) -> Vec<u8> {
        json::to_vec_indent(self)
    }

    pub fn decode(b: &[u8]) -> Result<Self, serde_json::Error> {
        json::from_slice(b)
    }

    /// The master's address (`servers[0]`), or "" for an empty group, as Go's topom does.
    pub fn master_addr(&self) -> &str {
        self.servers.first().map(|s| s.addr.as_str()).unwrap_or("")
    }
}

impl GroupServer {
    pub fn new(addr: impl Into<String>) -> Self {
        GroupServer { addr: addr.into(), ..Default::default() }
    }
}
