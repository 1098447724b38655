//! Typed client of the dashboard API (`pkg/topom/topom_api.go: ApiClient`), as codis-admin,
//! codis-fe and codis-ha use it.

use std::collections::BTreeMap;

use serde_json::Value;

use super::client::{ApiClient, RestError};
use crate::models::{Slot, SlotMapping, Topom};
use crate::xauth;

#[derive(Clone, Debug)]
pub struct DashboardApi {
    api: ApiClient,
    xauth: String,
}

impl DashboardApi {
    pub fn new(addr: impl Into<String>) -> DashboardApi {
        DashboardApi { api: ApiClient::new(addr), xauth: String::new() }
    }

    /// A client over a prepared [`ApiClient`] (e.g. one that sends extra headers).
    pub fn from_api(api: ApiClient) -> DashboardApi {
        DashboardApi { api, xauth: String::new() }
    }

    /// Go's `SetXAuth(product)`.
    pub fn set_xauth(&mut self, product: &str) {
        self.xauth = xauth::dashboard_xauth(product);
    }

    pub fn api(&self) -> &ApiClient {
        &self.api
    }

    async fn put(&self, path: String) -> Result<(), RestError> {
        self.api.put::<()>(&path, None).await
    }

    /// `GET /topom`: version, compile, config, model, stats (not modelled here).
    pub async fn overview(&self) -> Result<Value, RestError> {
        self.api.get("/topom").await
    }

    pub async fn model(&self) -> Result<Topom, RestError> {
        self.api.get("/api/topom/model").await
    }

    pub async fn xping(&self) -> Result<(), RestError> {
        self.api.get_ok(&format!("/api/topom/xping/{}", self.xauth)).await
    }

    pub async fn stats(&self) -> Result<Value, RestError> {
        self.api.get(&format!("/api/topom/stats/{}", self.xauth)).await
    }

    pub async fn slots(&self) -> Result<Vec<Slot>, RestError> {
        self.api.get(&format!("/api/topom/slots/{}", self.xauth)).await
    }

    pub async fn reload(&self) -> Result<(), RestError> {
        self.put(format!("/api/topom/reload/{}", self.xauth)).await
    }

    pub async fn log_level(&self, level: &str) -> Result<(), RestError> {
        self.put(format!("/api/topom/loglevel/{}/{level}", self.xauth)).await
    }

    pub async fn shutdown(&self) -> Result<(), RestError> {
        self.put(format!("/api/topom/shutdown/{}", self.xauth)).await
    }

    pub async fn create_proxy(&self, addr: &str) -> Result<(), RestError> {
        self.put(format!("/api/topom/proxy/create/{}/{addr}", self.xauth)).await
    }

    pub async fn online_proxy(&self, addr: &str) -> Result<(), RestError> {
        self.put(format!("/api/topom/proxy/online/{}/{addr}", self.xauth)).await
    }

    pub async fn reinit_proxy(&self, token: &str) -> Result<(), RestError> {
        self.put(format!("/api/topom/proxy/reinit/{}/{token}", self.xauth)).await
    }

    pub async fn remove_proxy(&self, token: &str, force: bool) -> Result<(), RestError> {
        self.put(format!("/api/topom/proxy/remove/{}/{token}/{}", self.xauth, u8::from(force))).await
    }

    pub async fn create_group(&self, gid: i64) -> Result<(), RestError> {
        self.put(format!("/api/topom/group/create/{}/{gid}", self.xauth)).await
    }

    pub async fn remove_group(&self, gid: i64) -> Result<(), RestError> {
        self.put(format!("/api/topom/group/remove/{}/{gid}", self.xauth)).await
    }

    pub async fn resync_group(&self, gid: i64) -> Result<(), RestError> {
        self.put(format!("/api/topom/group/resync/{}/{gid}", self.xauth)).await
    }

    pub async fn resync_group_all(&self) -> Result<(), RestError> {
        self.put(format!("/api/topom/group/resync-all/{}", self.xauth)).await
    }

    /// With a datacenter Go adds it as a last path segment.
    pub async fn group_add_server(&self, gid: i64, datacenter: &str, addr: &str) -> Result<(), RestError> {
        if datacenter.is_empty() {
            self.put(format!("/api/topom/group/add/{}/{gid}/{addr}", self.xauth)).await
        } else {
            self.put(format!("/api/topom/group/add/{}/{gid}/{addr}/{datacenter}", self.xauth)).await
        }
    }

    pub async fn group_del_server(&self, gid: i64, addr: &str) -> Result<(), RestError> {
        self.put(format!("/api/topom/group/del/{}/{gid}/{addr}", self.xauth)).await
    }

    pub async fn group_promote_server(&self, gid: i64, addr: &str) -> Result<(), RestError> {
        self.put(format!("/api/topom/group/promote/{}/{gid}/{addr}", self.xauth)).await
    }

    pub async fn enable_replica_groups(&self, gid: i64, addr: &str, value: bool) -> Result<(), RestError> {
        self.put(format!("/api/topom/group/replica-groups/{}/{gid}/{addr}/{}", self.xauth, u8::from(value))).await
    }

    pub async fn enable_replica_groups_all(&self, value: bool) -> Result<(), RestError> {
        self.put(format!("/api/topom/group/replica-groups-all/{}/{}", self.xauth, u8::from(value))).await
    }

    /// `GET /api/topom/group/info/<addr>`: the server's INFO as a map (no xauth).
    pub async fn info_server(&self, addr: &str) -> Result<BTreeMap<String, String>, RestError> {
        self.api.get(&format!("/api/topom/group/info/{addr}")).await
    }

    pub async fn add_sentinel(&self, addr: &str) -> Result<(), RestError> {
        self.put(format!("/api/topom/sentinels/add/{}/{addr}", self.xauth)).await
    }

    pub async fn del_sentinel(&self, addr: &str, force: bool) -> Result<(), RestError> {
        self.put(format!("/api/topom/sentinels/del/{}/{addr}/{}", self.xauth, u8::from(force))).await
    }

    pub async fn resync_sentinels(&self) -> Result<(), RestError> {
        self.put(format!("/api/topom/sentinels/resync-all/{}", self.xauth)).await
    }

    pub async fn sync_create_action(&self, addr: &str) -> Result<(), RestError> {
        self.put(format!("/api/topom/group/action/create/{}/{addr}", self.xauth)).await
    }

    pub async fn sync_remove_action(&self, addr: &str) -> Result<(), RestError> {
        self.put(format!("/api/topom/group/action/remove/{}/{addr}", self.xauth)).await
    }

    pub async fn slot_create_action(&self, sid: i64, gid: i64) -> Result<(), RestError> {
        self.put(format!("/api/topom/slots/action/create/{}/{sid}/{gid}", self.xauth)).await
    }

    pub async fn slot_create_action_some(&self, from: i64, to: i64, num: i64) -> Result<(), RestError> {
        self.put(format!("/api/topom/slots/action/create-some/{}/{from}/{to}/{num}", self.xauth)).await
    }

    pub async fn slot_create_action_range(&self, beg: i64, end: i64, gid: i64) -> Result<(), RestError> {
        self.put(format!("/api/topom/slots/action/create-range/{}/{beg}/{end}/{gid}", self.xauth)).await
    }

    pub async fn slot_remove_action(&self, sid: i64) -> Result<(), RestError> {
        self.put(format!("/api/topom/slots/action/remove/{}/{sid}", self.xauth)).await
    }

    pub async fn set_slot_action_interval(&self, usecs: i64) -> Result<(), RestError> {
        self.put(format!("/api/topom/slots/action/interval/{}/{usecs}", self.xauth)).await
    }

    pub async fn set_slot_action_disabled(&self, disabled: bool) -> Result<(), RestError> {
        self.put(format!("/api/topom/slots/action/disabled/{}/{}", self.xauth, u8::from(disabled))).await
    }

    pub async fn slots_assign_group(&self, slots: &[SlotMapping]) -> Result<(), RestError> {
        self.api.put(&format!("/api/topom/slots/assign/{}", self.xauth), Some(slots)).await
    }

    pub async fn slots_assign_offline(&self, slots: &[SlotMapping]) -> Result<(), RestError> {
        self.api.put(&format!("/api/topom/slots/assign/{}/offline", self.xauth), Some(slots)).await
    }

    /// The plan `{slot: group}` (applied when `confirm`).
    pub async fn slots_rebalance(&self, confirm: bool) -> Result<BTreeMap<String, i64>, RestError> {
        self.api
            .put_reply::<(), _>(&format!("/api/topom/slots/rebalance/{}/{}", self.xauth, u8::from(confirm)), None)
            .await
    }
}
