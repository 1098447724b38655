//! `GET /metrics`: the stats in Prometheus's text format (version 0.0.4). Go Codis has no such
//! route; the names follow the JSON fields (`ops.total` → `codis_proxy_ops_total`).

use std::fmt::Write;
use std::sync::atomic::Ordering;

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};

use crate::proxy::Proxy;

pub fn render(p: &Proxy) -> Response {
    let mut r = (StatusCode::OK, text(p)).into_response();
    r.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8"));
    r
}

fn metric(out: &mut String, name: &str, kind: &str, help: &str, value: impl std::fmt::Display) {
    let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} {kind}\n{name} {value}");
}

/// Prometheus label values escape backslash, quote and newline.
fn label(v: &str) -> String {
    v.replace('\\', "\\\\").replace('"', "\\\"").replace('\n', "\\n")
}

pub fn text(p: &Proxy) -> String {
    let s = p.stats();
    let mut out = String::with_capacity(4096);
    let n = |a: &std::sync::atomic::AtomicU64| a.load(Ordering::Relaxed);
    metric(&mut out, "codis_proxy_online", "gauge", "1 when the proxy is online.", u8::from(p.is_online()));
    metric(&mut out, "codis_proxy_closed", "gauge", "1 when the proxy is shutting down.", u8::from(p.is_closed()));
    metric(&mut out, "codis_proxy_ops_total", "counter", "Requests read from clients.", n(&s.ops_total));
    metric(
        &mut out,
        "codis_proxy_ops_fails_total",
        "counter",
        "Requests left unanswered and session failures.",
        n(&s.ops_fails),
    );
    metric(&mut out, "codis_proxy_ops_redis_errors_total", "counter", "Error replies sent.", n(&s.redis_errors));
    metric(&mut out, "codis_proxy_ops_qps", "gauge", "Requests per second over the last second.", s.qps());
    metric(
        &mut out,
        "codis_proxy_request_failures_total",
        "counter",
        "Requests the proxy failed itself (ERR handle request/response).",
        n(&s.proxy_failures),
    );
    metric(
        &mut out,
        "codis_proxy_backend_error_replies_total",
        "counter",
        "Error replies that came from backends.",
        n(&s.backend_errors),
    );
    metric(&mut out, "codis_proxy_sessions_total", "counter", "Client connections accepted.", n(&s.sessions_total));
    metric(
        &mut out,
        "codis_proxy_sessions_alive",
        "gauge",
        "Client connections open.",
        s.sessions_alive.load(Ordering::Relaxed),
    );
    let workers = crate::percore::sessions();
    if !workers.is_empty() {
        let name = "codis_proxy_worker_sessions";
        let _ = writeln!(out, "# HELP {name} Client connections served by each worker (--ncpu).\n# TYPE {name} gauge");
        for (i, n) in workers.iter().enumerate() {
            let _ = writeln!(out, "{name}{{worker=\"{i}\"}} {n}");
        }
    }
    if let Some(u) = s.sys_usage() {
        metric(&mut out, "codis_proxy_rusage_cpu", "gauge", "CPU cores busy over the last second.", u.cpu);
        if let Some(raw) = u.usage {
            metric(&mut out, "codis_proxy_rusage_mem_bytes", "gauge", "Resident memory.", raw.vm_rss);
            metric(&mut out, "codis_proxy_rusage_threads", "gauge", "Threads.", raw.num_threads);
        }
    }
    metric(
        &mut out,
        "codis_proxy_sentinel_switched",
        "gauge",
        "1 when a sentinel master switch is in effect.",
        u8::from(p.has_switched()),
    );
    let cmds = s.op_stats();
    type Get = fn(&crate::stats::OpStats) -> i64;
    let families: [(&str, &str, Get); 4] = [
        ("codis_proxy_cmd_calls_total", "Calls per command.", |o| o.calls),
        ("codis_proxy_cmd_usecs_total", "Microseconds from request read to reply written, per command.", |o| o.usecs),
        ("codis_proxy_cmd_fails_total", "Unanswered requests per command.", |o| o.fails),
        ("codis_proxy_cmd_redis_errors_total", "Error replies per command.", |o| o.redis_errtype),
    ];
    for (name, help, get) in families {
        let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} counter");
        for o in &cmds {
            let _ = writeln!(out, "{name}{{opstr=\"{}\"}} {}", label(&o.opstr), get(o));
        }
    }
    out
}
