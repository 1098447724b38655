//! Go Codis's REST conventions (`pkg/utils/rpc/api.go`), shared by the dashboard, proxy, admin
//! and fe:
//!
//! - success: HTTP 200, `Content-Type: application/json; charset=utf-8`, body
//!   `json.MarshalIndent(v, "", "    ")` (e.g. `"OK"`);
//! - failure: HTTP **800** (`HTTP/1.1 800 status code 800`), body [`RemoteError`]
//!   `{"Cause": ..., "Stack": [...] | null}`; clients accept 800 and 1500 as errors;
//! - unknown route or method: 404 `text/plain; charset=utf-8` `404 page not found\n`;
//! - xauth in the path (`/api/proxy/xping/<xauth>`), wrong → 800 with
//!   [`INVALID_XAUTH`].
//!
//! [`server`] has the axum pieces, [`client`] the HTTP client, [`ProxyApi`] and
//! [`DashboardApi`] the typed clients of `/api/proxy/...` and `/api/topom/...`.

pub mod client;
mod dashboard_api;
mod proxy_api;
pub mod server;

pub use client::{ApiClient, RestError};
pub use dashboard_api::DashboardApi;
pub use proxy_api::ProxyApi;

use serde::{Deserialize, Serialize};

use crate::models::json;

/// The cause Go answers for a wrong xauth (its `&` goes out as `\u0026`).
pub const INVALID_XAUTH: &str = "invalid xauth, please check product name & auth";

/// Go's error body. `Stack` is `null` for errors without a trace (ours never have one).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RemoteError {
    #[serde(rename = "Cause", default)]
    pub cause: String,
    #[serde(rename = "Stack", default)]
    pub stack: Option<Vec<StackFrame>>,
}

/// One frame of a Go error trace, kept so a Go error can be shown in full.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct StackFrame {
    #[serde(rename = "Name", default)]
    pub name: String,
    #[serde(rename = "File", default)]
    pub file: String,
    #[serde(rename = "Line", default)]
    pub line: i64,
}

impl RemoteError {
    pub fn new(cause: impl Into<String>) -> RemoteError {
        RemoteError { cause: cause.into(), stack: None }
    }

    /// The body bytes Go writes.
    pub fn encode(&self) -> Vec<u8> {
        json::to_vec_indent(self)
    }
}

impl std::fmt::Display for RemoteError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.cause)
    }
}

impl std::error::Error for RemoteError {}

/// Percent-encodes a path like Go's `url.URL{Path: p}.String()` (keeps `/`, `:`, `@` and the
/// other characters a path may hold).
pub fn encode_path(p: &str) -> String {
    let mut out = String::with_capacity(p.len());
    for &b in p.as_bytes() {
        if b.is_ascii_alphanumeric() || b"-._~/:@!$&'()*+,;=".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests;
