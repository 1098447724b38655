//! The sentinel list, stored at `/codis3/<product>/sentinel` (`pkg/models/sentinel.go`).

use serde::{Deserialize, Serialize};

use super::json::{self, nullable};

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Sentinel {
    #[serde(default, deserialize_with = "nullable", skip_serializing_if = "Vec::is_empty")]
    pub servers: Vec<String>,
    #[serde(default, deserialize_with = "nullable")]
    pub out_of_sync: bool,
}

impl Sentinel {
    pub fn encode(&self) -> Vec<u8> {
        json::to_vec_indent(self)
    }

    pub fn decode(b: &[u8]) -> Result<Self, serde_json::Error> {
        json::from_slice(b)
    }
}
