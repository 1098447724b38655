//! A proxy's model, stored at `/codis3/<product>/proxy/proxy-<token>` (`pkg/models/proxy.go`).

use serde::{Deserialize, Serialize};

use super::json::{self, is_zero, nullable};

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Proxy {
    /// Assigned by the dashboard; 0 (omitted) until the proxy is registered.
    #[serde(default, deserialize_with = "nullable", skip_serializing_if = "is_zero")]
    pub id: i64,
    #[serde(default, deserialize_with = "nullable")]
    pub token: String,
    #[serde(default, deserialize_with = "nullable")]
    pub start_time: String,
    #[serde(default, deserialize_with = "nullable")]
    pub admin_addr: String,
    #[serde(default, deserialize_with = "nullable")]
    pub proto_type: String,
    #[serde(default, deserialize_with = "nullable")]
    pub proxy_addr: String,
    #[serde(default, deserialize_with = "nullable", skip_serializing_if = "String::is_empty")]
    pub jodis_path: String,
    #[serde(default, deserialize_with = "nullable")]
    pub product_name: String,
    #[serde(default, deserialize_with = "nullable")]
    pub pid: i64,
    #[serde(default, deserialize_with = "nullable")]
    pub pwd: String,
    #[serde(default, deserialize_with = "nullable")]
    pub sys: String,
    #[serde(default, deserialize_with = "nullable")]
    pub hostname: String,
    #[serde(default, deserialize_with = "nullable")]
    pub datacenter: String,
}

impl Proxy {
    pub fn encode(&self) -> Vec<u8> {
        json::to_vec_indent(self)
    }

    pub fn decode(b: &[u8]) -> Result<Self, serde_json::Error> {
        json::from_slice(b)
    }
}
