//! `codis-admin --dashboard=ADDR ...` (`cmd/admin/dashboard.go`).

use std::collections::BTreeMap;
use std::time::Duration;

use compat::models::SlotMapping;
use compat::rest::{ApiClient, DashboardApi};

use super::{must, must_int, panic_rest, print_json};
use crate::args::Args;
use crate::golog::panic_exit;
use crate::ordered::Json;

/// The environment variable whose value codis-admin sends as the dashboard's `admin_auth`.
pub const ADMIN_AUTH_ENV: &str = "CODIS_ADMIN_AUTH";

async fn client(addr: &str) -> DashboardApi {
    let api = match std::env::var(ADMIN_AUTH_ENV) {
        Ok(secret) if !secret.is_empty() => {
            let mut h = reqwest::header::HeaderMap::new();
            if let Ok(v) = reqwest::header::HeaderValue::from_str(&secret) {
                h.insert(crate::api::ADMIN_AUTH_HEADER, v);
            }
            ApiClient::with_headers(addr.to_string(), h)
        }
        _ => ApiClient::new(addr.to_string()),
    };
    let mut c = DashboardApi::from_api(api);
    tracing::debug!("call rpc model to dashboard {addr}");
    let m = match c.model().await {
        Ok(m) => m,
        Err(e) => panic_rest(&format!("call rpc model to dashboard {addr} failed"), &e).await,
    };
    c.set_xauth(&m.product_name);
    tracing::debug!("call rpc xping to dashboard {addr}");
    if let Err(e) = c.xping().await {
        panic_rest(&format!("call rpc xping to dashboard {addr} failed"), &e).await;
    }
    c
}

async fn stats(c: &DashboardApi, addr: &str) -> Json {
    let path = format!("/api/topom/stats/{}", compat::xauth::dashboard_xauth(&product_of(c, addr).await));
    match c.api().get::<Json>(&path).await {
        Ok(s) => s,
        Err(e) => panic_rest(&format!("call rpc stats to dashboard {addr} failed"), &e).await,
    }
}

async fn product_of(c: &DashboardApi, addr: &str) -> String {
    match c.model().await {
        Ok(m) => m.product_name,
        Err(e) => panic_rest(&format!("call rpc model to dashboard {addr} failed"), &e).await,
    }
}

fn arr(j: Option<&Json>) -> &[Json] {
    j.and_then(Json::as_array).unwrap_or(&[])
}

pub async fn run(a: &Args) -> i32 {
    let addr = must(a, "--dashboard");
    let c = client(addr).await;
    let rpc = |what: &str| format!("call rpc {what} to dashboard {addr} failed");
    macro_rules! call {
        ($what:expr, $e:expr) => {
            if let Err(e) = $e.await {
                panic_rest(&rpc($what), &e).await;
            }
        };
    }
    if a.flag("--shutdown") {
        call!("shutdown", c.shutdown());
    } else if a.flag("--reload") {
        call!("reload", c.reload());
    } else if let Some(level) = a.get("--log-level") {
        if crate::golog::parse_level(level).is_none() {
            panic_exit("dashboard.rs", &format!("option --log-level = {level}"), None);
        }
        call!("loglevel", c.log_level(&level.to_ascii_uppercase()));
    } else if a.flag("--slots-status") {
        match c
            .api()
            .get::<Json>(&format!("/api/topom/slots/{}", compat::xauth::dashboard_xauth(&product_of(&c, addr).await)))
            .await
        {
            Ok(s) => print_json(&s),
            Err(e) => panic_rest(&rpc("slots"), &e).await,
        }
    } else if a.flag("--slots-assign") {
        let (beg, end) = (must_int(a, "--beg"), must_int(a, "--end"));
        let offline = a.flag("--offline");
        let gid = if offline { 0 } else { must_int(a, "--gid") };
        let slots: Vec<SlotMapping> = (beg..=end).map(|i| SlotMapping::new(i, gid)).collect();
        if !a.flag("--confirm") {
            print_json(&slots);
            return 0;
        }
        if offline {
            call!("slots-assign", c.slots_assign_offline(&slots));
        } else {
            call!("slots-assign", c.slots_assign_group(&slots));
        }
    } else if a.flag("--create-proxy") {
        call!("create-proxy", c.create_proxy(must(a, "--addr")));
    } else if a.flag("--online-proxy") {
        call!("online-proxy", c.online_proxy(must(a, "--addr")));
    } else if a.flag("--remove-proxy") {
        for token in proxy_tokens(a, &c, addr).await {
            call!("remove-proxy", c.remove_proxy(&token, a.flag("--force")));
        }
    } else if a.flag("--reinit-proxy") {
        if a.flag("--all") {
            let s = stats(&c, addr).await;
            for p in arr(s.get("proxy").and_then(|p| p.get("models"))) {
                let model: compat::models::Proxy = match serde_json::to_value(p).and_then(serde_json::from_value) {
                    Ok(m) => m,
                    Err(e) => panic_exit("dashboard.rs", "decode proxy failed", Some(&e.to_string())),
                };
                println!("reinit proxy: {}", String::from_utf8_lossy(&model.encode()));
                call!("reinit-proxy", c.reinit_proxy(&model.token));
            }
        } else {
            for token in proxy_tokens(a, &c, addr).await {
                call!("reinit-proxy", c.reinit_proxy(&token));
            }
        }
    } else if a.flag("--proxy-status") {
        proxy_status(&stats(&c, addr).await);
    } else if a.flag("--create-group") {
        call!("create-group", c.create_group(must_int(a, "--gid")));
    } else if a.flag("--remove-group") {
        call!("remove-group", c.remove_group(must_int(a, "--gid")));
    } else if a.flag("--resync-group") {
        if a.flag("--all") {
            let s = stats(&c, addr).await;
            for g in arr(s.get("group").and_then(|g| g.get("models"))) {
                let gid = g.get("id").and_then(Json::as_i64).unwrap_or(0);
                call!("resync-group", c.resync_group(gid));
            }
        } else {
            call!("resync-group", c.resync_group(must_int(a, "--gid")));
        }
    } else if a.flag("--group-add") {
        let (gid, saddr) = (must_int(a, "--gid"), must(a, "--addr"));
        call!("group-add-server", c.group_add_server(gid, a.get("--datacenter").unwrap_or(""), saddr));
    } else if a.flag("--group-del") {
        call!("group-del-server", c.group_del_server(must_int(a, "--gid"), must(a, "--addr")));
    } else if a.flag("--replica-groups") {
        let (gid, saddr) = (must_int(a, "--gid"), must(a, "--addr"));
        call!("replica-groups", c.enable_replica_groups(gid, saddr, a.flag("--enable")));
    } else if a.flag("--promote-server") {
        call!("group-promote-server", c.group_promote_server(must_int(a, "--gid"), must(a, "--addr")));
        group_status(&stats(&c, addr).await);
    } else if a.flag("--group-status") {
        group_status(&stats(&c, addr).await);
    } else if a.flag("--sentinel-add") {
        call!("add-sentinel", c.add_sentinel(must(a, "--addr")));
    } else if a.flag("--sentinel-del") {
        call!("del-sentinel", c.del_sentinel(must(a, "--addr"), a.flag("--force")));
    } else if a.flag("--sentinel-resync") {
        call!("resync-sentinels", c.resync_sentinels());
    } else if a.flag("--sync-action") {
        if a.flag("--create") {
            call!("create-sync-action", c.sync_create_action(must(a, "--addr")));
        } else if a.flag("--remove") {
            call!("remove-sync-action", c.sync_remove_action(must(a, "--addr")));
        }
    } else if a.flag("--slot-action") {
        if a.flag("--create") {
            call!("create-slot-action", c.slot_create_action(must_int(a, "--sid"), must_int(a, "--gid")));
        } else if a.flag("--remove") {
            call!("remove-slot-action", c.slot_remove_action(must_int(a, "--sid")));
        } else if a.flag("--create-some") {
            let (f, t, n) = (must_int(a, "--gid-from"), must_int(a, "--gid-to"), must_int(a, "--num-slots"));
            call!("create-slot-action-some", c.slot_create_action_some(f, t, n));
        } else if a.flag("--create-range") {
            let (b, e, g) = (must_int(a, "--beg"), must_int(a, "--end"), must_int(a, "--gid"));
            call!("create-slot-action-range", c.slot_create_action_range(b, e, g));
        } else if a.get("--interval").is_some() {
            call!("slot-action-interval", c.set_slot_action_interval(must_int(a, "--interval")));
        } else if a.get("--disabled").is_some() {
            call!("slot-action-disabled", c.set_slot_action_disabled(must_int(a, "--disabled") != 0));
        }
    } else if a.flag("--rebalance") {
        let plans = match c.slots_rebalance(a.flag("--confirm")).await {
            Ok(p) => p,
            Err(e) => panic_rest(&rpc("slot-rebalance"), &e).await,
        };
        print_plans(&plans);
    } else {
        let o: Json = match c.api().get("/topom").await {
            Ok(o) => o,
            Err(e) => panic_rest(&rpc("overview"), &e).await,
        };
        let stats = o.get("stats");
        let sub = |k: &str| stats.and_then(|s| s.get(k)).cloned().unwrap_or(Json::Null);
        let obj = if a.flag("--list-group") {
            sub("group").get("models").cloned().unwrap_or(Json::Null)
        } else if a.flag("--list-proxy") {
            sub("proxy").get("models").cloned().unwrap_or(Json::Null)
        } else {
            match ["config", "model", "slots", "stats", "group", "proxy"].into_iter().rfind(|w| a.word(w)) {
                Some("config") => o.get("config").cloned().unwrap_or(Json::Null),
                Some("model") => o.get("model").cloned().unwrap_or(Json::Null),
                Some("stats") => stats.cloned().unwrap_or(Json::Null),
                Some(w) => sub(w),
                None => o,
            }
        };
        print_json(&obj);
    }
    if a.flag("--wait") {
        wait_actions(&c, addr).await;
    }
    0
}

/// Go's `parseProxyTokens`.
async fn proxy_tokens(a: &Args, c: &DashboardApi, addr: &str) -> Vec<String> {
    if let Some(t) = a.get("--token") {
        return vec![t.to_string()];
    }
    let (key, want): (&str, String) = if a.get("--pid").is_some() {
        ("id", must_int(a, "--pid").to_string())
    } else if let Some(x) = a.get("--addr") {
        ("admin_addr", x.to_string())
    } else {
        panic_exit("dashboard.rs", "can't find specific proxy", None)
    };
    let s = stats(c, addr).await;
    let tokens: Vec<String> = arr(s.get("proxy").and_then(|p| p.get("models")))
        .iter()
        .filter(|p| {
            let v = p.get(key);
            v.and_then(Json::as_str).map(String::from).or_else(|| v.and_then(Json::as_i64).map(|n| n.to_string()))
                == Some(want.clone())
        })
        .filter_map(|p| p.get("token").and_then(Json::as_str).map(String::from))
        .collect();
    if tokens.is_empty() && !a.flag("--force") {
        let what = if key == "id" { format!("id = {want}") } else { format!("addr = {want}") };
        panic_exit("dashboard.rs", &format!("can't find specific proxy with {what}"), None);
    }
    tokens
}

fn proxy_status(s: &Json) {
    let models = arr(s.get("proxy").and_then(|p| p.get("models")));
    let st = s.get("proxy").and_then(|p| p.get("stats"));
    let field = |p: &Json, k: &str| p.get(k).and_then(Json::as_str).unwrap_or("").to_string();
    let wpid =
        models.iter().map(|p| p.get("id").and_then(Json::as_i64).unwrap_or(0).to_string().len()).max().unwrap_or(0);
    let wa1 = models.iter().map(|p| field(p, "admin_addr").len()).max().unwrap_or(0);
    let wa2 = models.iter().map(|p| field(p, "proxy_addr").len()).max().unwrap_or(0);
    for p in models {
        let token = field(p, "token");
        let mark = match st.and_then(|m| m.get(&token)) {
            None => "[?]",
            Some(x) if x.get("error").is_some_and(|e| !e.is_null()) => "[E]",
            Some(x)
                if x.get("timeout").and_then(Json::as_bool).unwrap_or(false)
                    || x.get("stats").is_none_or(Json::is_null) =>
            {
                "[T]"
            }
            Some(_) => "[ ]",
        };
        let id = p.get("id").and_then(Json::as_i64).unwrap_or(0);
        println!(
            "{mark} proxy-{id:0wpid$} [T] {token} [A] {:<wa1$} [P] {:<wa2$}",
            field(p, "admin_addr"),
            field(p, "proxy_addr")
        );
    }
}

fn group_status(s: &Json) {
    let models = arr(s.get("group").and_then(|g| g.get("models")));
    let st = s.get("group").and_then(|g| g.get("stats"));
    let servers = |g: &Json| arr(g.get("servers")).to_vec();
    let wgid =
        models.iter().map(|g| g.get("id").and_then(Json::as_i64).unwrap_or(0).to_string().len()).max().unwrap_or(0);
    let widx = models.iter().flat_map(|g| (0..servers(g).len()).map(|i| i.to_string().len())).max().unwrap_or(0);
    let addr_of = |x: &Json| x.get("server").and_then(Json::as_str).unwrap_or("").to_string();
    let waddr = models.iter().flat_map(|g| servers(g).into_iter().map(|x| addr_of(&x).len())).max().unwrap_or(0);
    for g in models {
        let gid = g.get("id").and_then(Json::as_i64).unwrap_or(0);
        let list = servers(g);
        for (i, x) in list.iter().enumerate() {
            let addr = addr_of(x);
            let line = format!("group-{gid:0wgid$} [{i:0widx$}] {addr:<waddr$}");
            match st.and_then(|m| m.get(&addr)) {
                None => println!("[?] {line}"),
                Some(v) if v.get("error").is_some_and(|e| !e.is_null()) => println!("[E] {line}"),
                Some(v)
                    if v.get("timeout").and_then(Json::as_bool).unwrap_or(false)
                        || v.get("stats").is_none_or(Json::is_null) =>
                {
                    println!("[T] {line}")
                }
                Some(v) => {
                    let info = v.get("stats").cloned().unwrap_or_default();
                    let master = match info.get("master_addr").and_then(Json::as_str) {
                        Some(m) => {
                            format!("{m}:{}", info.get("master_link_status").and_then(Json::as_str).unwrap_or(""))
                        }
                        None => "NO:ONE".to_string(),
                    };
                    let expect = if i == 0 { "NO:ONE".to_string() } else { format!("{}:up", addr_of(&list[0])) };
                    let mark = if master == expect { "[ ]" } else { "[X]" };
                    println!("{mark} {line}      ==> {master}");
                }
            }
        }
    }
}

/// `[0000,0511] => 1` lines then `done`, or `nothing changes`.
fn print_plans(plans: &BTreeMap<String, i64>) {
    let mut sorted: Vec<(i64, i64)> = plans.iter().filter_map(|(s, g)| s.parse().ok().map(|s: i64| (s, *g))).collect();
    sorted.sort_unstable();
    if sorted.is_empty() {
        println!("nothing changes");
        return;
    }
    let (mut gid, mut beg, mut end) = (-1, 0, -1);
    for (sid, g) in sorted {
        if beg <= end {
            if sid == end + 1 && g == gid {
                end = sid;
                continue;
            }
            println!("[{beg:04},{end:04}] => {gid}");
        }
        (beg, end, gid) = (sid, sid, g);
    }
    if beg <= end {
        println!("[{beg:04},{end:04}] => {gid}");
    }
    println!("done");
}

/// Beyond Codis (`--wait`): a progress bar over the slots with actions, until none is left.
async fn wait_actions(c: &DashboardApi, addr: &str) {
    let count = |s: &Json| {
        arr(s.get("slots"))
            .iter()
            .filter(|m| m.get("action").and_then(|a| a.get("state")).is_some_and(|x| !x.is_null()))
            .count() as u64
    };
    let total = count(&stats(c, addr).await);
    let bar = indicatif::ProgressBar::new(total);
    bar.set_style(
        indicatif::ProgressStyle::with_template("{bar:40} {pos}/{len} slots migrated ({percent}%) {elapsed} {msg}")
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
    );
    loop {
        let s = stats(c, addr).await;
        let left = count(&s);
        bar.set_position(total.saturating_sub(left));
        if let Some(st) =
            s.get("slot_action").and_then(|a| a.get("progress")).and_then(|p| p.get("status")).and_then(Json::as_str)
        {
            bar.set_message(st.to_string());
        }
        if left == 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    bar.finish();
}
