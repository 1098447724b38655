//! Action states (`pkg/models/action.go`, plus the `synced`/`synced_failed` results of a group
//! sync action written by `pkg/topom/topom_group.go`).

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// The `state` of a slot action, a group server's sync action or a group's promotion.
///
/// Stored as a plain string; states we do not know (forks add their own) are kept verbatim so a
/// load/save round trip never loses them.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub enum ActionState {
    /// `""`: no action.
    #[default]
    Nothing,
    Pending,
    Preparing,
    Prepared,
    Migrating,
    Finished,
    Syncing,
    Synced,
    SyncedFailed,
    Other(String),
}

impl ActionState {
    pub fn as_str(&self) -> &str {
        match self {
            ActionState::Nothing => "",
            ActionState::Pending => "pending",
            ActionState::Preparing => "preparing",
            ActionState::Prepared => "prepared",
            ActionState::Migrating => "migrating",
            ActionState::Finished => "finished",
            ActionState::Syncing => "syncing",
            ActionState::Synced => "synced",
            ActionState::SyncedFailed => "synced_failed",
            ActionState::Other(s) => s,
        }
    }

    pub fn parse(s: &str) -> ActionState {
        match s {
            "" => ActionState::Nothing,
            "pending" => ActionState::Pending,
            "preparing" => ActionState::Preparing,
            "prepared" => ActionState::Prepared,
            "migrating" => ActionState::Migrating,
            "finished" => ActionState::Finished,
            "syncing" => ActionState::Syncing,
            "synced" => ActionState::Synced,
            "synced_failed" => ActionState::SyncedFailed,
            other => ActionState::Other(other.to_string()),
        }
    }

    /// Go's `omitempty` on the `state` string.
    pub fn is_nothing(&self) -> bool {
        self.as_str().is_empty()
    }
}

impl fmt::Display for ActionState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Serialize for ActionState {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for ActionState {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = Option::<String>::deserialize(d)?.unwrap_or_default();
        Ok(ActionState::parse(&s))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_every_state() {
        for s in [
            "",
            "pending",
            "preparing",
            "prepared",
            "migrating",
            "finished",
            "syncing",
            "synced",
            "synced_failed",
            "recall",
        ] {
            assert_eq!(ActionState::parse(s).as_str(), s);
        }
        assert_eq!(ActionState::parse("recall"), ActionState::Other("recall".into()));
    }
}
