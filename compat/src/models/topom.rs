//! The dashboard's model, stored at `/codis3/<product>/topom` (`pkg/models/topom.go`).

use serde::{Deserialize, Serialize};

use super::json::{self, nullable};

/// The dashboard lock and model. Its presence means a dashboard owns the product.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Topom {
    #[serde(default, deserialize_with = "nullable")]
    pub token: String,
    #[serde(default, deserialize_with = "nullable")]
    pub start_time: String,
    #[serde(default, deserialize_with = "nullable")]
    pub admin_addr: String,
    #[serde(default, deserialize_with = "nullable")]
    pub product_name: String,
    #[serde(default, deserialize_with = "nullable")]
    pub pid: i64,
    #[serde(default, deserialize_with = "nullable")]
    pub pwd: String,
    #[serde(default, deserialize_with = "nullable")]
    pub sys: String,
}

impl Topom {
    /// The bytes Go stores in the coordinator.
    pub fn encode(&self) -> Vec<u8> {
        json::to_vec_indent(self)
    }

    pub fn decode(b: &[u8]) -> Result<Self, serde_json::Error> {
        json::from_slice(b)
    }
}
