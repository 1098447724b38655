//! The admin API on `admin_addr` (Go's `pkg/proxy/proxy_api.go`), byte-compatible with the
//! recorded one (`codis-3.2/c2_proxy_api_calls.*`):
//!
//! | route | xauth | answer |
//! |---|---|---|
//! | `GET /` | | 302 to `/proxy` |
//! | `GET /proxy` | | overview: version, compile, config, model, full stats, slots |
//! | `GET /proxy/model`, `/api/proxy/model` | | the proxy model |
//! | `GET /proxy/stats`, `/proxy/slots` | | full stats, slots |
//! | `GET /api/proxy/xping/<xauth>` | yes | `"OK"` |
//! | `GET /api/proxy/stats/<xauth>[/<flags>]` | yes | stats; flags 1 = per command, 4 = runtime |
//! | `GET /api/proxy/slots/<xauth>` | yes | slots |
//! | `PUT /api/proxy/start/<xauth>` | yes | goes online |
//! | `PUT /api/proxy/stats/reset/<xauth>` | yes | counters start over |
//! | `PUT /api/proxy/forcegc/<xauth>` | yes | returns free memory to the system |
//! | `PUT /api/proxy/shutdown/<xauth>` | yes | closes the proxy |
//! | `PUT /api/proxy/loglevel/<xauth>/<level>` | yes | ERROR, WARN, INFO, DEBUG, NONE |
//! | `PUT /api/proxy/fillslots/<xauth>` | yes | body: slots |
//! | `PUT /api/proxy/sentinels/<xauth>[/rewatch]` | yes | body: `{"servers":[...]}` |
//! | `GET /metrics` | | Prometheus text (not in Go Codis) |
//!
//! Errors are HTTP 800 `{"Cause": ..., "Stack": null}`; unknown routes and wrong methods 404.

mod http;
mod metrics;
pub mod views;

use std::convert::Infallible;
use std::sync::OnceLock;

use axum::response::Response;
use compat::models::{Sentinel, Slot};
use compat::rest::server::{error, json_ok, not_found, ok, redirect};
use compat::rest::INVALID_XAUTH;
use http_body_util::BodyExt;
use hyper::body::Incoming;
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;

use crate::proxy::Proxy;
use http::AdminBody;

type LogLevelSetter = Box<dyn Fn(&str) + Send + Sync>;

static LOG_LEVEL: OnceLock<LogLevelSetter> = OnceLock::new();

/// Installs what `/api/proxy/loglevel` calls with a valid level (lower-case tracing directive);
/// the binary sets it up over its log filter.
pub fn set_log_level_handler(f: impl Fn(&str) + Send + Sync + 'static) {
    let _ = LOG_LEVEL.set(Box::new(f));
}

/// Go's `LogLevel.ParseFromString`, as a tracing filter directive.
pub fn parse_log_level(s: &str) -> Option<&'static str> {
    match s.to_ascii_uppercase().as_str() {
        "ERROR" => Some("error"),
        "DEBUG" => Some("debug"),
        "WARN" | "WARNING" => Some("warn"),
        "INFO" => Some("info"),
        "NONE" => Some("off"),
        _ => None,
    }
}

/// Serves the admin API on `listener` until the proxy closes.
pub async fn serve(proxy: Proxy, listener: TcpListener) -> std::io::Result<()> {
    loop {
        let (stream, _) = tokio::select! {
            r = listener.accept() => r?,
            _ = proxy.closed() => return Ok(()),
        };
        let p = proxy.clone();
        tokio::spawn(async move {
            let svc = hyper::service::service_fn(move |req| {
                let p = p.clone();
                async move { Ok::<_, Infallible>(handle(p, req).await) }
            });
            let conn = hyper::server::conn::http1::Builder::new()
                .title_case_headers(true)
                .serve_connection(TokioIo::new(stream), svc);
            if let Err(e) = conn.await {
                tracing::debug!(error = %e, "admin connection ended");
            }
        });
    }
}

async fn handle(p: Proxy, req: hyper::Request<Incoming>) -> hyper::Response<AdminBody> {
    let gzip = http::accepts_gzip(req.headers());
    let method = req.method().clone();
    let path = req.uri().path().to_string();
    if method != hyper::Method::GET && path.starts_with("/api/") {
        tracing::warn!("API call {path}");
    }
    let body = match req.into_body().collect().await {
        Ok(b) => b.to_bytes(),
        Err(_) => bytes::Bytes::new(),
    };
    let rsp = route(&p, method.as_str(), &path, &body).await;
    http::finish(rsp, gzip).await
}

/// Dispatches one request; `body` is the request body (PUT routes).
pub async fn route(p: &Proxy, method: &str, path: &str, body: &[u8]) -> Response {
    let segs: Vec<&str> = path.strip_prefix('/').unwrap_or(path).split('/').collect();
    match (method, segs.as_slice()) {
        ("GET", [""]) => redirect("/proxy"),
        ("GET", ["proxy"]) => json_ok(&views::overview(p, views::STATS_FULL)),
        ("GET", ["proxy", "model"]) => json_ok(&p.model()),
        ("GET", ["proxy", "stats"]) => json_ok(&views::stats(p, views::STATS_FULL)),
        ("GET", ["proxy", "slots"]) => json_ok(&p.slots()),
        ("GET", ["metrics"]) => metrics::render(p),
        ("GET", ["api", "proxy", "model"]) => json_ok(&p.model()),
        (_, ["api", "proxy", rest @ ..]) => api(p, method, rest, body).await,
        _ => not_found(),
    }
}

async fn api(p: &Proxy, method: &str, rest: &[&str], body: &[u8]) -> Response {
    let x = |xauth: &str| verify_xauth(p, xauth);
    match (method, rest) {
        ("GET", ["xping", xauth]) => x(xauth).unwrap_or_else(ok),
        ("GET", ["stats", xauth]) => x(xauth).unwrap_or_else(|| json_ok(&views::stats(p, 0))),
        ("GET", ["stats", xauth, flags]) => x(xauth).unwrap_or_else(|| match go_atoi(flags) {
            Ok(n) => json_ok(&views::stats(p, n as u32)),
            Err(e) => error(e),
        }),
        ("GET", ["slots", xauth]) => x(xauth).unwrap_or_else(|| json_ok(&p.slots())),
        ("PUT", ["start", xauth]) => x(xauth).unwrap_or_else(|| match p.try_start() {
            Ok(()) => ok(),
            Err(e) => error(e),
        }),
        ("PUT", ["stats", "reset", xauth]) => x(xauth).unwrap_or_else(|| {
            p.stats().reset();
            ok()
        }),
        ("PUT", ["forcegc", xauth]) => x(xauth).unwrap_or_else(|| {
            release_free_memory();
            ok()
        }),
        ("PUT", ["shutdown", xauth]) => match x(xauth) {
            Some(e) => e,
            None => {
                p.close().await;
                ok()
            }
        },
        ("PUT", ["loglevel", xauth, value]) => x(xauth).unwrap_or_else(|| match parse_log_level(value) {
            Some(level) => {
                if let Some(set) = LOG_LEVEL.get() {
                    set(level);
                }
                tracing::warn!("set loglevel to {value}");
                ok()
            }
            None => error("invalid loglevel"),
        }),
        ("PUT", ["fillslots", xauth]) => match x(xauth) {
            Some(e) => e,
            None => {
                // Like martini's binding, a body that does not decode leaves the list empty.
                let slots: Vec<Slot> = compat::models::json::from_slice(body).unwrap_or_default();
                match p.fill_slots(&slots).await {
                    Ok(()) => ok(),
                    Err(e) => error(e),
                }
            }
        },
        ("PUT", ["sentinels", xauth]) => x(xauth).unwrap_or_else(|| {
            let s: Sentinel = compat::models::json::from_slice(body).unwrap_or_default();
            match p.set_sentinels(s.servers) {
                Ok(()) => ok(),
                Err(e) => error(e),
            }
        }),
        ("PUT", ["sentinels", xauth, "rewatch"]) => x(xauth).unwrap_or_else(|| match p.rewatch_sentinels() {
            Ok(()) => ok(),
            Err(e) => error(e),
        }),
        _ => not_found(),
    }
}

/// Go's `verifyXAuth`: `Some(error reply)` when the call must be refused.
fn verify_xauth(p: &Proxy, xauth: &str) -> Option<Response> {
    if p.is_closed() {
        return Some(error(crate::proxy::ProxyError::Closed));
    }
    if xauth.is_empty() {
        return Some(error("missing xauth, please check product name & auth"));
    }
    (xauth != p.xauth()).then(|| error(INVALID_XAUTH))
}

/// Go's `strconv.Atoi`, with its error text.
fn go_atoi(s: &str) -> Result<i64, String> {
    let digits = s.strip_prefix(['+', '-']).unwrap_or(s);
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Err(format!("strconv.Atoi: parsing {s:?}: invalid syntax"));
    }
    s.parse::<i64>().map_err(|_| format!("strconv.Atoi: parsing {s:?}: value out of range"))
}

/// Go's `runtime.GC()` frees garbage; our equivalent is returning jemalloc's unused dirty pages
/// to the system (`arena.<all>.purge`).
fn release_free_memory() {
    // MALLCTL_ARENAS_ALL.
    let name = c"arena.4096.purge";
    // SAFETY: a void mallctl: no old or new value pointers.
    let rc = unsafe {
        tikv_jemalloc_sys::mallctl(name.as_ptr(), std::ptr::null_mut(), std::ptr::null_mut(), std::ptr::null_mut(), 0)
    };
    if rc != 0 {
        tracing::warn!(rc, "jemalloc purge failed");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn atoi_errors_as_go() {
        assert_eq!(go_atoi("7"), Ok(7));
        assert_eq!(go_atoi("-1"), Ok(-1));
        assert_eq!(go_atoi("x").unwrap_err(), "strconv.Atoi: parsing \"x\": invalid syntax");
        assert_eq!(
            go_atoi("99999999999999999999").unwrap_err(),
            "strconv.Atoi: parsing \"99999999999999999999\": value out of range"
        );
    }

    #[test]
    fn log_levels_as_go() {
        assert_eq!(parse_log_level("INFO"), Some("info"));
        assert_eq!(parse_log_level("warning"), Some("warn"));
        assert_eq!(parse_log_level("bogus"), None);
    }
}
