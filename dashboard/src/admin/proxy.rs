//! `codis-admin --proxy=ADDR ...` (`cmd/admin/proxy.go`).

use compat::models::{Slot, MAX_SLOT_NUM};
use compat::rest::ProxyApi;

use super::{must, panic_rest, print_json};
use crate::args::Args;
use crate::golog::panic_exit;
use crate::ordered::Json;

async fn client(addr: &str, auth: &str) -> ProxyApi {
    let mut c = ProxyApi::new(addr.to_string());
    tracing::debug!("call rpc model to proxy {addr}");
    let p = match c.model().await {
        Ok(p) => p,
        Err(e) => panic_rest(&format!("call rpc model to proxy {addr} failed"), &e).await,
    };
    c.set_xauth(&p.product_name, auth, &p.token);
    tracing::debug!("call rpc xping to proxy {addr}");
    if let Err(e) = c.xping().await {
        panic_rest("call rpc xping failed", &e).await;
    }
    c
}

pub async fn run(a: &Args) -> i32 {
    let addr = must(a, "--proxy");
    let auth = a.get("--auth").unwrap_or("");
    let rpc = |what: &str| format!("call rpc {what} to proxy {addr} failed");
    if a.flag("--start") {
        if let Err(e) = client(addr, auth).await.start().await {
            panic_rest(&rpc("start"), &e).await;
        }
    } else if a.flag("--shutdown") {
        if let Err(e) = client(addr, auth).await.shutdown().await {
            panic_rest(&rpc("shutdown"), &e).await;
        }
    } else if let Some(level) = a.get("--log-level") {
        let c = client(addr, auth).await;
        if crate::golog::parse_level(level).is_none() {
            panic_exit("proxy.rs", &format!("option --log-level = {level}"), None);
        }
        if let Err(e) = c.log_level(&level.to_ascii_uppercase()).await {
            panic_rest(&rpc("loglevel"), &e).await;
        }
    } else if let Some(file) = a.get("--fillslots") {
        let c = client(addr, auth).await;
        let b = match std::fs::read(file) {
            Ok(b) => b,
            Err(e) => panic_exit("proxy.rs", "load slots from file failed", Some(&e.to_string())),
        };
        let mut slots: Vec<Slot> = match serde_json::from_slice(&b) {
            Ok(s) => s,
            Err(e) => panic_exit("proxy.rs", "decode slots from json failed", Some(&e.to_string())),
        };
        for m in &mut slots {
            if m.id < 0 || m.id >= MAX_SLOT_NUM as i64 {
                panic_exit("proxy.rs", &format!("invalid slot id = {}", m.id), None);
            }
            if a.flag("--locked") {
                m.locked = true;
            }
        }
        if let Err(e) = c.fill_slots(&slots).await {
            panic_rest(&rpc("fillslots"), &e).await;
        }
    } else if a.flag("--reset-stats") {
        if let Err(e) = client(addr, auth).await.reset_stats().await {
            panic_rest(&rpc("resetstats"), &e).await;
        }
    } else if a.flag("--forcegc") {
        if let Err(e) = client(addr, auth).await.force_gc().await {
            panic_rest(&rpc("forcegc"), &e).await;
        }
    } else {
        let c = ProxyApi::new(addr.to_string());
        let o: Json = match c.api().get("/proxy").await {
            Ok(o) => o,
            Err(e) => panic_rest(&rpc("overview"), &e).await,
        };
        let pick = ["config", "model", "slots", "stats"].into_iter().rfind(|w| a.word(w));
        match pick {
            Some(w) => print_json(o.get(w).unwrap_or(&Json::Null)),
            None => print_json(&o),
        }
    }
    0
}
