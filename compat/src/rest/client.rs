//! The HTTP client side of Go's REST conventions (`rpc.ApiGetJson` / `rpc.ApiPutJson`).

use std::time::Duration;

use serde::de::DeserializeOwned;
use serde::Serialize;

use super::{encode_path, RemoteError};
use crate::models::json;

/// Why a call failed: the remote said so (HTTP 800/1500), or the call itself failed.
#[derive(Debug, thiserror::Error)]
pub enum RestError {
    /// The server's own error (`Cause` of its body).
    #[error("{0}")]
    Remote(RemoteError),
    /// Any other status (e.g. 404 for an unknown route), in Go's wording.
    #[error("[{status}] {text} - {url}")]
    Status { status: u16, text: String, url: String },
    #[error("call {method} {url} failed: {message}")]
    Transport { method: &'static str, url: String, message: String },
    #[error("decode reply of {url} failed: {message}")]
    Decode { url: String, message: String },
}

/// A client of one Go-style REST server (`host:port`). Go's client: 1 s dial timeout, 1 min
/// per call.
#[derive(Clone, Debug)]
pub struct ApiClient {
    addr: String,
    http: reqwest::Client,
}

impl ApiClient {
    pub fn new(addr: impl Into<String>) -> ApiClient {
        let http = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(1))
            .timeout(Duration::from_secs(60))
            .build()
            .unwrap_or_default();
        ApiClient { addr: addr.into(), http }
    }

    /// Like [`ApiClient::new`], sending `headers` with every call (e.g. an admin secret).
    pub fn with_headers(addr: impl Into<String>, headers: reqwest::header::HeaderMap) -> ApiClient {
        let http = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(1))
            .timeout(Duration::from_secs(60))
            .default_headers(headers)
            .build()
            .unwrap_or_default();
        ApiClient { addr: addr.into(), http }
    }

    pub fn addr(&self) -> &str {
        &self.addr
    }

    /// `http://<addr><path>` with the path escaped like Go's `rpc.EncodeURL`.
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{}", self.addr, encode_path(path))
    }

    /// GET, decoding the 200 body as `T`.
    pub async fn get<T: DeserializeOwned>(&self, path: &str) -> Result<T, RestError> {
        let b = self.call("GET", path, None).await?;
        decode(&self.url(path), &b)
    }

    /// GET, ignoring the body (`"OK"`).
    pub async fn get_ok(&self, path: &str) -> Result<(), RestError> {
        self.call("GET", path, None).await.map(|_| ())
    }

    /// PUT with an optional JSON body (encoded like Go: 4-space indent), ignoring the reply.
    pub async fn put<A: Serialize + ?Sized>(&self, path: &str, args: Option<&A>) -> Result<(), RestError> {
        let body = args.map(json::to_vec_indent);
        self.call("PUT", path, body).await.map(|_| ())
    }

    /// PUT and decode the reply as `T`.
    pub async fn put_reply<A: Serialize + ?Sized, T: DeserializeOwned>(
        &self,
        path: &str,
        args: Option<&A>,
    ) -> Result<T, RestError> {
        let body = args.map(json::to_vec_indent);
        let b = self.call("PUT", path, body).await?;
        decode(&self.url(path), &b)
    }

    /// One request; returns the body of a 200.
    pub async fn call(&self, method: &'static str, path: &str, body: Option<Vec<u8>>) -> Result<Vec<u8>, RestError> {
        let url = self.url(path);
        let m = match method {
            "GET" => reqwest::Method::GET,
            "POST" => reqwest::Method::POST,
            _ => reqwest::Method::PUT,
        };
        let mut req = self.http.request(m, &url);
        if let Some(b) = body {
            req = req.header("Content-Type", "application/json").body(b);
        }
        let transport = |e: reqwest::Error| RestError::Transport { method, url: url.clone(), message: e.to_string() };
        let rsp = req.send().await.map_err(transport)?;
        let status = rsp.status().as_u16();
        let bytes = rsp.bytes().await.map_err(transport)?;
        match status {
            200 => Ok(bytes.to_vec()),
            800 | 1500 => {
                if bytes.is_empty() {
                    return Err(RestError::Remote(RemoteError::new("remote error is empty")));
                }
                let e: RemoteError = json::from_slice(&bytes)
                    .map_err(|e| RestError::Decode { url: url.clone(), message: e.to_string() })?;
                Err(RestError::Remote(e))
            }
            s => Err(RestError::Status {
                status: s,
                text: reqwest::StatusCode::from_u16(s)
                    .ok()
                    .and_then(|c| c.canonical_reason())
                    .unwrap_or("")
                    .to_string(),
                url,
            }),
        }
    }
}

fn decode<T: DeserializeOwned>(url: &str, b: &[u8]) -> Result<T, RestError> {
    json::from_slice(b).map_err(|e| RestError::Decode { url: url.to_string(), message: e.to_string() })
}
