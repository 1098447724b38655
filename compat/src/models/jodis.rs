//! The Jodis node a proxy registers (ephemeral) for Java clients (`pkg/proxy/jodis.go`).
//!
//! Go builds it from a `map[string]string`, so keys come out sorted: addr, admin, start, state,
//! token. Jodis clients read only `addr` and `state == "online"`.

use serde::{Deserialize, Serialize};

use super::json::{self, nullable};
use super::proxy::Proxy;

/// Field order matches Go's sorted map keys.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct JodisNode {
    #[serde(default, deserialize_with = "nullable")]
    pub addr: String,
    #[serde(default, deserialize_with = "nullable")]
    pub admin: String,
    #[serde(default, deserialize_with = "nullable")]
    pub start: String,
    #[serde(default, deserialize_with = "nullable")]
    pub state: String,
    #[serde(default, deserialize_with = "nullable")]
    pub token: String,
}

impl JodisNode {
    /// The node of an online proxy.
    pub fn online(p: &Proxy) -> Self {
        JodisNode {
            addr: p.proxy_addr.clone(),
            admin: p.admin_addr.clone(),
            start: p.start_time.clone(),
            state: "online".to_string(),
            token: p.token.clone(),
        }
    }

    pub fn encode(&self) -> Vec<u8> {
        json::to_vec_indent(self)
    }

    pub fn decode(b: &[u8]) -> Result<Self, serde_json::Error> {
        json::from_slice(b)
    }
}
