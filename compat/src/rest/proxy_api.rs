//! Typed client of a proxy's admin API (`pkg/proxy/proxy_api.go: ApiClient`), as the dashboard
//! and codis-admin use it.

use serde_json::Value;

use super::client::{ApiClient, RestError};
use crate::models::{Proxy, Sentinel, Slot};
use crate::xauth;

#[derive(Clone, Debug)]
pub struct ProxyApi {
    api: ApiClient,
    xauth: String,
}

impl ProxyApi {
    /// A client of the proxy admin server at `addr`; call [`ProxyApi::set_xauth`] before the
    /// calls that need it.
    pub fn new(addr: impl Into<String>) -> ProxyApi {
        ProxyApi { api: ApiClient::new(addr), xauth: String::new() }
    }

    /// Go's `SetXAuth(product, auth, token)`.
    pub fn set_xauth(&mut self, product: &str, product_auth: &str, token: &str) {
        self.xauth = xauth::proxy_xauth(product, product_auth, token);
    }

    pub fn api(&self) -> &ApiClient {
        &self.api
    }

    /// `GET /proxy`: version, compile, config, model, stats (not modelled here).
    pub async fn overview(&self) -> Result<Value, RestError> {
        self.api.get("/proxy").await
    }

    pub async fn model(&self) -> Result<Proxy, RestError> {
        self.api.get("/api/proxy/model").await
    }

    pub async fn xping(&self) -> Result<(), RestError> {
        self.api.get_ok(&format!("/api/proxy/xping/{}", self.xauth)).await
    }

    /// `flags`: 1 = commands, 2 = slots, 4 = runtime (Go's `StatsFlags`); 0 = the short form.
    pub async fn stats(&self, flags: u32) -> Result<Value, RestError> {
        if flags == 0 {
            self.api.get(&format!("/api/proxy/stats/{}", self.xauth)).await
        } else {
            self.api.get(&format!("/api/proxy/stats/{}/{flags}", self.xauth)).await
        }
    }

    pub async fn slots(&self) -> Result<Vec<Slot>, RestError> {
        self.api.get(&format!("/api/proxy/slots/{}", self.xauth)).await
    }

    pub async fn start(&self) -> Result<(), RestError> {
        self.api.put::<()>(&format!("/api/proxy/start/{}", self.xauth), None).await
    }

    pub async fn reset_stats(&self) -> Result<(), RestError> {
        self.api.put::<()>(&format!("/api/proxy/stats/reset/{}", self.xauth), None).await
    }

    pub async fn force_gc(&self) -> Result<(), RestError> {
        self.api.put::<()>(&format!("/api/proxy/forcegc/{}", self.xauth), None).await
    }

    pub async fn shutdown(&self) -> Result<(), RestError> {
        self.api.put::<()>(&format!("/api/proxy/shutdown/{}", self.xauth), None).await
    }

    pub async fn log_level(&self, level: &str) -> Result<(), RestError> {
        self.api.put::<()>(&format!("/api/proxy/loglevel/{}/{level}", self.xauth), None).await
    }

    pub async fn fill_slots(&self, slots: &[Slot]) -> Result<(), RestError> {
        self.api.put(&format!("/api/proxy/fillslots/{}", self.xauth), Some(slots)).await
    }

    pub async fn set_sentinels(&self, sentinel: &Sentinel) -> Result<(), RestError> {
        self.api.put(&format!("/api/proxy/sentinels/{}", self.xauth), Some(sentinel)).await
    }

    pub async fn rewatch_sentinels(&self) -> Result<(), RestError> {
        self.api.put::<()>(&format!("/api/proxy/sentinels/{}/rewatch", self.xauth), None).await
    }
}
