//! The dashboard's REST API (`topom_api.go`): the same routes, bodies, HTTP 800 errors and 404s
//! as Go's martini server, plus `/topom/progress`, `/metrics`, a cancel route and the optional
//! `admin_auth` check on mutating calls (all beyond Codis, none changes a Go route).

use std::sync::Arc;
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::{Path, Request, State};
use axum::http::Method;
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, put};
use axum::Router;
use compat::models::SlotMapping;
use compat::rest::server::{error, json_ok, ok, redirect, with_go_fallbacks};
use compat::rest::INVALID_XAUTH;
use serde::Serialize;

use crate::redis::Client;
use crate::sentinel::SentinelClient;
use crate::topom::{Topom, ERR_CLOSED};
use crate::version;

type S = State<Arc<Topom>>;

/// The header that carries `admin_auth` when it is configured.
pub const ADMIN_AUTH_HEADER: &str = "X-Codis-Admin-Auth";

pub fn router(t: Arc<Topom>) -> Router {
    let api = Router::new()
        .route("/model", get(model))
        .route("/xping/{xauth}", get(xping))
        .route("/stats/{xauth}", get(stats_x))
        .route("/slots/{xauth}", get(slots_x))
        .route("/reload/{xauth}", put(reload))
        .route("/shutdown/{xauth}", put(shutdown))
        .route("/loglevel/{xauth}/{value}", put(loglevel))
        .route("/proxy/create/{xauth}/{addr}", put(proxy_create))
        .route("/proxy/online/{xauth}/{addr}", put(proxy_online))
        .route("/proxy/reinit/{xauth}/{token}", put(proxy_reinit))
        .route("/proxy/remove/{xauth}/{token}/{force}", put(proxy_remove))
        .route("/group/create/{xauth}/{gid}", put(group_create))
        .route("/group/remove/{xauth}/{gid}", put(group_remove))
        .route("/group/resync/{xauth}/{gid}", put(group_resync))
        .route("/group/resync-all/{xauth}", put(group_resync_all))
        .route("/group/add/{xauth}/{gid}/{addr}", put(group_add))
        .route("/group/add/{xauth}/{gid}/{addr}/{datacenter}", put(group_add_dc))
        .route("/group/del/{xauth}/{gid}/{addr}", put(group_del))
        .route("/group/promote/{xauth}/{gid}/{addr}", put(group_promote))
        .route("/group/replica-groups/{xauth}/{gid}/{addr}/{value}", put(replica_groups))
        .route("/group/replica-groups-all/{xauth}/{value}", put(replica_groups_all))
        .route("/group/action/create/{xauth}/{addr}", put(sync_create))
        .route("/group/action/remove/{xauth}/{addr}", put(sync_remove))
        .route("/group/info/{addr}", get(info_server))
        .route("/slots/action/create/{xauth}/{sid}/{gid}", put(slot_create))
        .route("/slots/action/create-some/{xauth}/{src}/{dst}/{num}", put(slot_create_some))
        .route("/slots/action/create-range/{xauth}/{beg}/{end}/{gid}", put(slot_create_range))
        .route("/slots/action/remove/{xauth}/{sid}", put(slot_remove))
        .route("/slots/action/interval/{xauth}/{value}", put(slot_interval))
        .route("/slots/action/disabled/{xauth}/{value}", put(slot_disabled))
        .route("/slots/action/cancel/{xauth}", put(slot_cancel))
        .route("/slots/assign/{xauth}", put(slots_assign))
        .route("/slots/assign/{xauth}/offline", put(slots_assign_offline))
        .route("/slots/rebalance/{xauth}/{confirm}", put(slots_rebalance))
        .route("/sentinels/add/{xauth}/{addr}", put(sentinel_add))
        .route("/sentinels/del/{xauth}/{addr}/{force}", put(sentinel_del))
        .route("/sentinels/resync-all/{xauth}", put(sentinel_resync))
        .route("/sentinels/info/{addr}", get(sentinel_info))
        .route("/sentinels/info/{addr}/monitored", get(sentinel_monitored));
    let r = Router::new()
        .route("/", get(|| async { redirect("/topom") }))
        .route("/topom", get(overview))
        .route("/topom/model", get(model))
        .route("/topom/stats", get(stats))
        .route("/topom/slots", get(slots))
        .route("/topom/progress", get(progress))
        .route("/metrics", get(metrics))
        .nest("/api/topom", api)
        .layer(middleware::from_fn_with_state(t.clone(), guard))
        .with_state(t);
    with_go_fallbacks(r)
}

/// Logs mutating API calls as Go does, and checks `admin_auth` when configured.
async fn guard(State(t): S, req: Request, next: Next) -> Response {
    let path = req.uri().path().to_string();
    if req.method() != Method::GET && path.starts_with("/api/") {
        let header_addr = ["X-Real-IP", "X-Forwarded-For"]
            .iter()
            .find_map(|k| req.headers().get(*k).and_then(|v| v.to_str().ok()))
            .unwrap_or("")
            .to_string();
        tracing::warn!("API call {path} [{header_addr}]");
        if !t.admin_auth.is_empty() {
            match req.headers().get(ADMIN_AUTH_HEADER).and_then(|v| v.to_str().ok()) {
                None => return error("admin auth required"),
                Some(v) if v != t.admin_auth => return error("invalid admin auth"),
                Some(_) => {}
            }
        }
    }
    next.run(req).await
}

fn verify(t: &Topom, xauth: &str) -> Option<Response> {
    if t.is_closed() {
        return Some(error(ERR_CLOSED));
    }
    if xauth.is_empty() {
        return Some(error("missing xauth, please check product name & auth"));
    }
    (xauth != t.xauth()).then(|| error(INVALID_XAUTH))
}

/// Go's `parseInteger`: `strconv.Atoi` or `invalid <name>`.
#[allow(clippy::result_large_err)]
fn int(v: &str, name: &str) -> Result<i64, Response> {
    if v.is_empty() {
        return Err(error(format!("missing {name}")));
    }
    v.parse::<i64>().map_err(|_| error(format!("invalid {name}")))
}

fn done<T: Serialize>(r: crate::topom::Result<T>) -> Response {
    match r {
        Ok(v) => json_ok(&v),
        Err(e) => error(e),
    }
}

fn done_ok(r: crate::topom::Result<()>) -> Response {
    match r {
        Ok(()) => ok(),
        Err(e) => error(e),
    }
}

macro_rules! xauth {
    ($t:expr, $x:expr) => {
        if let Some(r) = verify(&$t, $x) {
            return r;
        }
    };
}

macro_rules! int {
    ($v:expr, $name:expr) => {
        match int($v, $name) {
            Ok(n) => n,
            Err(r) => return r,
        }
    };
}

#[derive(Serialize)]
struct Overview<'a> {
    version: &'a str,
    compile: &'a str,
    config: &'a compat::config::DashboardConfig,
    model: &'a compat::models::Topom,
    stats: crate::topom::Stats,
}

async fn overview(State(t): S) -> Response {
    match t.stats().await {
        Ok(stats) => json_ok(&Overview {
            version: version::VERSION,
            compile: &version::compile(),
            config: &t.config,
            model: t.model(),
            stats,
        }),
        Err(e) => error(e),
    }
}

async fn model(State(t): S) -> Response {
    json_ok(t.model())
}

async fn stats(State(t): S) -> Response {
    done(t.stats().await)
}

async fn slots(State(t): S) -> Response {
    done(t.slots().await)
}

async fn progress(State(t): S) -> Response {
    done(t.progress_report().await)
}

async fn metrics(State(t): S) -> Response {
    let body = crate::metrics::render(&t).await;
    ([("Content-Type", "text/plain; version=0.0.4; charset=utf-8")], body).into_response()
}

async fn xping(State(t): S, Path(x): Path<String>) -> Response {
    xauth!(t, &x);
    ok()
}

async fn stats_x(State(t): S, Path(x): Path<String>) -> Response {
    xauth!(t, &x);
    done(t.stats().await)
}

async fn slots_x(State(t): S, Path(x): Path<String>) -> Response {
    xauth!(t, &x);
    done(t.slots().await)
}

async fn reload(State(t): S, Path(x): Path<String>) -> Response {
    xauth!(t, &x);
    done_ok(t.reload().await)
}

async fn shutdown(State(t): S, Path(x): Path<String>) -> Response {
    xauth!(t, &x);
    done_ok(t.close().await)
}

async fn loglevel(State(t): S, Path((x, v)): Path<(String, String)>) -> Response {
    xauth!(t, &x);
    if !crate::golog::set_level(&v) {
        return error("invalid loglevel");
    }
    tracing::warn!("set loglevel to {v}");
    ok()
}

async fn proxy_create(State(t): S, Path((x, addr)): Path<(String, String)>) -> Response {
    xauth!(t, &x);
    done_ok(t.create_proxy(&addr).await)
}

async fn proxy_online(State(t): S, Path((x, addr)): Path<(String, String)>) -> Response {
    xauth!(t, &x);
    done_ok(t.online_proxy(&addr).await)
}

async fn proxy_reinit(State(t): S, Path((x, token)): Path<(String, String)>) -> Response {
    xauth!(t, &x);
    done_ok(t.reinit_proxy(&token).await)
}

async fn proxy_remove(State(t): S, Path((x, token, force)): Path<(String, String, String)>) -> Response {
    xauth!(t, &x);
    let force = int!(&force, "force");
    done_ok(t.remove_proxy(&token, force != 0).await)
}

async fn group_create(State(t): S, Path((x, gid)): Path<(String, String)>) -> Response {
    xauth!(t, &x);
    let gid = int!(&gid, "gid");
    done_ok(t.create_group(gid).await)
}

async fn group_remove(State(t): S, Path((x, gid)): Path<(String, String)>) -> Response {
    xauth!(t, &x);
    let gid = int!(&gid, "gid");
    done_ok(t.remove_group(gid).await)
}

async fn group_resync(State(t): S, Path((x, gid)): Path<(String, String)>) -> Response {
    xauth!(t, &x);
    let gid = int!(&gid, "gid");
    done_ok(t.resync_group(gid).await)
}

async fn group_resync_all(State(t): S, Path(x): Path<String>) -> Response {
    xauth!(t, &x);
    done_ok(t.resync_group_all().await)
}

async fn add_server(t: &Topom, x: &str, gid: &str, addr: &str, dc: &str) -> Response {
    xauth!(t, x);
    let gid = int!(gid, "gid");
    // Only codis-servers may join: they answer SLOTSINFO.
    let mut c = match Client::connect(addr, &t.config.product_auth, Duration::from_secs(1)).await {
        Ok(c) => c,
        Err(e) => {
            tracing::warn!("create redis client to {addr} failed: {e}");
            return error(e);
        }
    };
    if let Err(e) = c.slots_info().await {
        tracing::warn!("redis {addr} check slots-info failed: {e}");
        return error(e);
    }
    drop(c);
    done_ok(t.group_add_server(gid, dc, addr).await)
}

async fn group_add(State(t): S, Path((x, gid, addr)): Path<(String, String, String)>) -> Response {
    add_server(&t, &x, &gid, &addr, "").await
}

async fn group_add_dc(State(t): S, Path((x, gid, addr, dc)): Path<(String, String, String, String)>) -> Response {
    add_server(&t, &x, &gid, &addr, &dc).await
}

async fn group_del(State(t): S, Path((x, gid, addr)): Path<(String, String, String)>) -> Response {
    xauth!(t, &x);
    let gid = int!(&gid, "gid");
    done_ok(t.group_del_server(gid, &addr).await)
}

async fn group_promote(State(t): S, Path((x, gid, addr)): Path<(String, String, String)>) -> Response {
    xauth!(t, &x);
    let gid = int!(&gid, "gid");
    done_ok(t.group_promote_server(gid, &addr).await)
}

async fn replica_groups(State(t): S, Path((x, gid, addr, v)): Path<(String, String, String, String)>) -> Response {
    xauth!(t, &x);
    let gid = int!(&gid, "gid");
    let v = int!(&v, "value");
    done_ok(t.enable_replica_groups(gid, &addr, v != 0).await)
}

async fn replica_groups_all(State(t): S, Path((x, v)): Path<(String, String)>) -> Response {
    xauth!(t, &x);
    let v = int!(&v, "value");
    done_ok(t.enable_replica_groups_all(v != 0).await)
}

async fn sync_create(State(t): S, Path((x, addr)): Path<(String, String)>) -> Response {
    xauth!(t, &x);
    done_ok(t.sync_create_action(&addr).await)
}

async fn sync_remove(State(t): S, Path((x, addr)): Path<(String, String)>) -> Response {
    xauth!(t, &x);
    done_ok(t.sync_remove_action(&addr).await)
}

async fn info_server(State(t): S, Path(addr): Path<String>) -> Response {
    let mut c = match Client::connect(&addr, &t.config.product_auth, Duration::from_secs(1)).await {
        Ok(c) => c,
        Err(e) => {
            tracing::warn!("create redis client to {addr} failed: {e}");
            return error(e);
        }
    };
    match c.info_full().await {
        Ok(m) => json_ok(&m),
        Err(e) => error(e),
    }
}

async fn slot_create(State(t): S, Path((x, sid, gid)): Path<(String, String, String)>) -> Response {
    xauth!(t, &x);
    let sid = int!(&sid, "sid");
    let gid = int!(&gid, "gid");
    done_ok(t.slot_create_action(sid, gid).await)
}

async fn slot_create_some(State(t): S, Path((x, src, dst, num)): Path<(String, String, String, String)>) -> Response {
    xauth!(t, &x);
    let src = int!(&src, "src");
    let dst = int!(&dst, "dst");
    let num = int!(&num, "num");
    done_ok(t.slot_create_action_some(src, dst, num).await)
}

async fn slot_create_range(State(t): S, Path((x, beg, end, gid)): Path<(String, String, String, String)>) -> Response {
    xauth!(t, &x);
    let beg = int!(&beg, "beg");
    let end = int!(&end, "end");
    let gid = int!(&gid, "gid");
    done_ok(t.slot_create_action_range(beg, end, gid, true).await)
}

async fn slot_remove(State(t): S, Path((x, sid)): Path<(String, String)>) -> Response {
    xauth!(t, &x);
    let sid = int!(&sid, "sid");
    done_ok(t.slot_remove_action(sid).await)
}

async fn slot_interval(State(t): S, Path((x, v)): Path<(String, String)>) -> Response {
    xauth!(t, &x);
    let v = int!(&v, "value");
    t.set_slot_action_interval(v);
    ok()
}

async fn slot_disabled(State(t): S, Path((x, v)): Path<(String, String)>) -> Response {
    xauth!(t, &x);
    let v = int!(&v, "value");
    t.set_slot_action_disabled(v != 0);
    ok()
}

async fn slot_cancel(State(t): S, Path(x): Path<String>) -> Response {
    xauth!(t, &x);
    done(t.slot_cancel_pending().await)
}

/// martini's `binding.Json`: a body that is not a JSON list of mappings counts as an empty list.
fn mappings(body: &[u8]) -> Vec<SlotMapping> {
    serde_json::from_slice(body).unwrap_or_default()
}

async fn slots_assign(State(t): S, Path(x): Path<String>, body: Bytes) -> Response {
    xauth!(t, &x);
    done_ok(t.slots_assign_group(&mappings(&body)).await)
}

async fn slots_assign_offline(State(t): S, Path(x): Path<String>, body: Bytes) -> Response {
    xauth!(t, &x);
    done_ok(t.slots_assign_offline(&mappings(&body)).await)
}

async fn slots_rebalance(State(t): S, Path((x, confirm)): Path<(String, String)>) -> Response {
    xauth!(t, &x);
    let confirm = int!(&confirm, "confirm");
    match t.slots_rebalance(confirm != 0).await {
        Ok(plans) => {
            // Go turns the keys into strings: a JSON object sorted as strings.
            let m: std::collections::BTreeMap<String, i64> =
                plans.into_iter().map(|(s, g)| (s.to_string(), g)).collect();
            json_ok(&m)
        }
        Err(e) => error(e),
    }
}

async fn sentinel_add(State(t): S, Path((x, addr)): Path<(String, String)>) -> Response {
    xauth!(t, &x);
    done_ok(t.add_sentinel(&addr).await)
}

async fn sentinel_del(State(t): S, Path((x, addr, force)): Path<(String, String, String)>) -> Response {
    xauth!(t, &x);
    let force = int!(&force, "force");
    done_ok(t.del_sentinel(&addr, force != 0).await)
}

async fn sentinel_resync(State(t): S, Path(x): Path<String>) -> Response {
    xauth!(t, &x);
    done_ok(t.resync_sentinels().await)
}

async fn sentinel_info(Path(addr): Path<String>) -> Response {
    let mut c = match Client::connect(&addr, "", Duration::from_secs(1)).await {
        Ok(c) => c,
        Err(e) => {
            tracing::warn!("create redis client to {addr} failed: {e}");
            return error(e);
        }
    };
    match c.info().await {
        Ok(m) => json_ok(&m),
        Err(e) => error(e),
    }
}

async fn sentinel_monitored(State(t): S, Path(addr): Path<String>) -> Response {
    let s = SentinelClient::new(&t.config.product_name, &t.config.product_auth);
    match s.masters_and_slaves(&addr, t.config.sentinel_client_timeout.duration()).await {
        Ok(m) => json_ok(&m),
        Err(e) => error(e),
    }
}
