//! codis-admin verbs that work on the coordinator directly (`cmd/admin/admin.go`):
//! `--remove-lock`, `--config-dump [-1]`, `--config-convert`, `--config-restore`,
//! `--dashboard-list`.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use compat::coordinator::{Client, Spec};
use compat::models::{paths, ActionState, Group, GroupServer, Proxy, SlotMapping, Topom, MAX_GROUP_ID, MAX_SLOT_NUM};
use compat::store::Store;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::{must, print_json};
use crate::args::Args;
use crate::golog::panic_exit;

/// `--config-dump` / `--config-restore` document (Go's `ConfigV3`).
#[derive(Default, Serialize, Deserialize)]
pub struct ConfigV3 {
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub slots: Vec<SlotMapping>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub group: Vec<Group>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub proxy: Vec<Proxy>,
}

fn fail(msg: &str, e: impl std::fmt::Display) -> ! {
    panic_exit("admin.rs", msg, Some(&e.to_string()))
}

async fn coordinator(a: &Args) -> Arc<dyn Client> {
    let (name, addr, auth) = if let Some(z) = a.get("--zookeeper") {
        ("zookeeper", z, a.get("--zookeeper-auth").unwrap_or(""))
    } else if let Some(e) = a.get("--etcd") {
        ("etcd", e, a.get("--etcd-auth").unwrap_or(""))
    } else if let Some(f) = a.get("--filesystem") {
        ("filesystem", f, "")
    } else {
        panic_exit("admin.rs", "invalid coordinator", None)
    };
    let msg = format!("create '{name}' client to '{addr}' failed");
    let spec = Spec::new(name, addr, auth).unwrap_or_else(|e| fail(&msg, e));
    spec.connect(Duration::from_secs(60)).await.unwrap_or_else(|e| fail(&msg, e))
}

async fn store(a: &Args) -> Store {
    let product = a.get("--product").unwrap_or("");
    if let Err(e) = compat::models::validate_product(product) {
        fail("invalid product name", e);
    }
    Store::new(coordinator(a).await, product)
}

pub async fn run(a: &Args) -> i32 {
    if a.flag("--remove-lock") {
        let s = store(a).await;
        tracing::debug!("force remove-lock");
        if let Err(e) = s.release().await {
            fail("force remove-lock failed", e);
        }
        tracing::debug!("force remove-lock OK");
        let _ = s.close().await;
    } else if a.flag("--config-dump") {
        if a.flag("-1") {
            dump_v1(a).await;
        } else {
            dump_v3(a).await;
        }
    } else if let Some(file) = a.get("--config-convert") {
        convert(file);
    } else if a.get("--config-restore").is_some() {
        restore(a).await;
    } else if a.flag("--dashboard-list") {
        dashboard_list(a).await;
    } else {
        print!("{}", crate::usage::ADMIN);
        return 1;
    }
    0
}

async fn dump_v3(a: &Args) {
    let s = store(a).await;
    let group = s.list_group().await.unwrap_or_else(|e| fail("list group failed", e));
    let proxy = s.list_proxy().await.unwrap_or_else(|e| fail("list proxy failed", e));
    if group.is_empty() && proxy.is_empty() {
        panic_exit("admin.rs", &format!("cann't find product = {} [v3]", s.product()), None);
    }
    let slots = s.slot_mappings().await.unwrap_or_else(|e| fail("list slots failed", e));
    let mut proxy: Vec<Proxy> = proxy.into_values().collect();
    proxy.sort_by_key(|p| p.id);
    print_json(&ConfigV3 { slots, group: group.into_values().collect(), proxy });
    let _ = s.close().await;
}

/// A Codis 2 subtree as nested JSON (Go's `dumpConfigV1Recursively`).
fn dump_node<'a>(c: &'a dyn Client, path: String) -> std::pin::Pin<Box<dyn std::future::Future<Output = Value> + 'a>> {
    Box::pin(async move {
        let files = c.list(&path, false).await.unwrap_or_else(|e| fail(&format!("list path = {path} failed"), e));
        if !files.is_empty() {
            let mut m = serde_json::Map::new();
            for f in files {
                let base = f.rsplit('/').next().unwrap_or(&f).to_string();
                let v = dump_node(c, f).await;
                m.insert(base, v);
            }
            return Value::Object(m);
        }
        let b = c.read(&path, false).await.unwrap_or_else(|e| fail(&format!("read file = {path} failed"), e));
        match b {
            Some(b) if !b.is_empty() => serde_json::from_slice(&b).unwrap_or_else(|e| fail("json unmarshal failed", e)),
            _ => Value::Null,
        }
    })
}

async fn dump_v1(a: &Args) {
    let c = coordinator(a).await;
    let product = a.get("--product").unwrap_or("");
    let v = dump_node(c.as_ref(), format!("/zk/codis/db_{product}")).await;
    if !v.is_object() {
        panic_exit("admin.rs", &format!("cann't find product = {product} [v1]"), None);
    }
    print_json(&v);
    let _ = c.close().await;
}

fn convert_panic(msg: &str) -> ! {
    panic_exit("admin.rs", msg, None)
}

fn convert(file: &str) {
    let b = std::fs::read(file).unwrap_or_else(|e| fail(&format!("read file '{file}' failed"), e));
    let v: Value = serde_json::from_slice(&b).unwrap_or_else(|e| fail("json unmarshal failed", e));
    let Some(cfg1) = v.as_object() else { convert_panic("convert config failed: not an object") };
    let mut out = ConfigV3::default();
    if let Some(slots) = cfg1.get("slots").filter(|s| !s.is_null()) {
        let mut temp: BTreeMap<i64, SlotMapping> = BTreeMap::new();
        for v in slots.as_object().map(|m| m.values().collect::<Vec<_>>()).unwrap_or_default() {
            let sid = v.get("id").and_then(Value::as_f64).unwrap_or_else(|| convert_panic("invalid slot id")) as i64;
            let gid =
                v.get("group_id").and_then(Value::as_f64).unwrap_or_else(|| convert_panic("invalid group id")) as i64;
            let status = v.pointer("/state/status").and_then(Value::as_str).unwrap_or("");
            tracing::debug!("found slot-{sid:04} status = {status}");
            match status {
                "online" => {}
                "offline" => continue,
                _ => convert_panic("invalid slot status"),
            }
            if temp.contains_key(&sid) {
                convert_panic(&format!("slot-{sid:04} already exists"));
            }
            temp.insert(sid, SlotMapping::new(sid, gid));
        }
        out.slots = (0..MAX_SLOT_NUM as i64).filter_map(|i| temp.remove(&i)).collect();
    }
    if let Some(servers) = cfg1.get("servers").filter(|s| !s.is_null()) {
        let mut group: BTreeMap<i64, Group> = BTreeMap::new();
        for g in servers.as_object().map(|m| m.values().collect::<Vec<_>>()).unwrap_or_default() {
            for v in g.as_object().map(|m| m.values().collect::<Vec<_>>()).unwrap_or_default() {
                let addr = v.get("addr").and_then(Value::as_str).unwrap_or("").to_string();
                let gid = v.get("group_id").and_then(Value::as_f64).unwrap_or(0.0) as i64;
                let master = v.get("type").and_then(Value::as_str) == Some("master");
                tracing::debug!("found group-{gid:04} {addr} is master = {master}");
                if gid <= 0 || gid > MAX_GROUP_ID {
                    convert_panic(&format!("invalid group = {gid}"));
                }
                let g = group.entry(gid).or_insert_with(|| Group { id: gid, ..Default::default() });
                if master {
                    g.servers.insert(0, GroupServer::new(addr));
                } else {
                    g.servers.push(GroupServer::new(addr));
                }
            }
        }
        out.group = group.into_values().collect();
    }
    print_json(&out);
}

fn load_v3(file: &str) -> ConfigV3 {
    let b = std::fs::read(file).unwrap_or_else(|e| fail(&format!("read file '{file}' failed"), e));
    let config: ConfigV3 = serde_json::from_slice(&b).unwrap_or_else(|e| fail("json unmarshal failed", e));
    let mut tokens = std::collections::BTreeSet::new();
    for p in &config.proxy {
        if !tokens.insert(p.token.clone()) {
            convert_panic(&format!("proxy-{} already exists", p.token));
        }
    }
    let mut groups: BTreeMap<i64, &Group> = BTreeMap::new();
    let mut addrs = std::collections::BTreeSet::new();
    for g in &config.group {
        if g.id <= 0 || g.id > MAX_GROUP_ID {
            convert_panic(&format!("invalid group id = {}", g.id));
        }
        if groups.insert(g.id, g).is_some() {
            convert_panic(&format!("group-{:04} already exists", g.id));
        }
        if g.promoting.state != ActionState::Nothing {
            convert_panic(&format!("gorup-{:04} is promoting", g.id));
        }
        for x in &g.servers {
            if !addrs.insert(x.addr.clone()) {
                convert_panic(&format!("server {} already exists", x.addr));
            }
        }
    }
    let mut seen = std::collections::BTreeSet::new();
    for s in &config.slots {
        if s.id < 0 || s.id >= MAX_SLOT_NUM as i64 {
            convert_panic(&format!("invalid slot id = {}", s.id));
        }
        if !seen.insert(s.id) {
            convert_panic(&format!("slot-{:04} already exists", s.id));
        }
        if !s.action.state.is_nothing() {
            convert_panic(&format!("slot-{:04} action is not empty", s.id));
        }
        if groups.get(&s.group_id).is_none_or(|g| g.servers.is_empty()) {
            convert_panic(&format!("slot-{:04} with group-{:04} doesn't exist or empty", s.id, s.group_id));
        }
    }
    config
}

async fn restore(a: &Args) {
    let s = store(a).await;
    let config = load_v3(must(a, "--config-restore"));
    if !a.flag("--confirm") {
        print_json(&config);
        return;
    }
    let proxy = s.list_proxy().await.unwrap_or_else(|e| fail("list proxy failed", e));
    let group = s.list_group().await.unwrap_or_else(|e| fail("list group failed", e));
    if !group.is_empty() || !proxy.is_empty() {
        panic_exit("admin.rs", &format!("product {} is not empty", s.product()), None);
    }
    for m in &config.slots {
        s.update_slot_mapping(m).await.unwrap_or_else(|e| fail(&format!("restore slot-{:04} failed", m.id), e));
    }
    for g in &config.group {
        s.update_group(g).await.unwrap_or_else(|e| fail(&format!("restore group-{:04} failed", g.id), e));
    }
    for p in &config.proxy {
        s.update_proxy(p).await.unwrap_or_else(|e| fail(&format!("restore proxy-{} failed", p.token), e));
    }
    let _ = s.close().await;
}

#[derive(Serialize)]
struct Entry {
    name: String,
    dashboard: String,
}

/// `[{"name": product, "dashboard": admin addr or ""}]` for every product in the coordinator.
pub async fn list_dashboards(c: &dyn Client) -> Result<Vec<(String, String)>, String> {
    let list = c.list(paths::CODIS_DIR, false).await.map_err(|e| e.to_string())?;
    let mut out = Vec::new();
    for p in list {
        let name = p.rsplit('/').next().unwrap_or(&p).to_string();
        let dashboard = match c.read(&paths::lock_path(&name), false).await.map_err(|e| e.to_string())? {
            Some(b) => Topom::decode(&b).map_err(|e| e.to_string())?.admin_addr,
            None => String::new(),
        };
        out.push((name, dashboard));
    }
    Ok(out)
}

async fn dashboard_list(a: &Args) {
    let c = coordinator(a).await;
    let list = list_dashboards(c.as_ref()).await.unwrap_or_else(|e| fail("list products failed", e));
    let nodes: Vec<Entry> = list.into_iter().map(|(name, dashboard)| Entry { name, dashboard }).collect();
    print_json(&nodes);
    let _ = c.close().await;
}
