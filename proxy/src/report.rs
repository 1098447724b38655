//! Pushing stats to monitoring systems (Go's `pkg/proxy/metrics.go`), each every
//! `..._period` (at least 1 s), backing off 1 s doubling to 15 s after a failure:
//!
//! - `metrics_report_server`: POST of the overview (stats with runtime) as JSON to that URL;
//! - `metrics_report_influxdb_*`: one `codis_usage` point (line protocol) to `/write?db=...`;
//! - `metrics_report_statsd_*`: gauges `<prefix>.<product>.<admin>.<proxy>.<field>` over UDP,
//!   addresses with `.` and `:` replaced by `_`.

use std::future::Future;
use std::time::Duration;

use crate::admin::views::{self, STATS_RUNTIME};
use crate::proxy::Proxy;

/// Starts the reporters the configuration asks for.
pub fn start(p: &Proxy) {
    let c = p.config().control.clone();
    if !c.metrics_report_server.is_empty() {
        let (p2, url) = (p.clone(), c.metrics_report_server.clone());
        let http = reqwest::Client::builder().timeout(Duration::from_secs(60)).build().unwrap_or_default();
        every(p, c.metrics_report_period.duration(), move || {
            let (p, url, http) = (p2.clone(), url.clone(), http.clone());
            async move {
                let body = compat::models::json::to_vec_indent(&views::overview(&p, STATS_RUNTIME));
                let rsp = http
                    .post(&url)
                    .header("Content-Type", "application/json")
                    .body(body)
                    .send()
                    .await
                    .map_err(|e| e.to_string())?;
                match rsp.status().as_u16() {
                    200 => Ok(()),
                    s => Err(format!("[{s}] {url}")),
                }
            }
        });
    }
    if !c.metrics_report_influxdb_server.is_empty() {
        let p2 = p.clone();
        let http = reqwest::Client::builder().timeout(Duration::from_secs(5)).build().unwrap_or_default();
        let mut url = format!("{}/write", c.metrics_report_influxdb_server.trim_end_matches('/'));
        if !url.contains("://") {
            url = format!("http://{url}");
        }
        let (db, user, pass) = (
            c.metrics_report_influxdb_database.clone(),
            c.metrics_report_influxdb_username.clone(),
            c.metrics_report_influxdb_password.clone(),
        );
        every(p, c.metrics_report_influxdb_period.duration(), move || {
            let (p, http, url, db, user, pass) =
                (p2.clone(), http.clone(), url.clone(), db.clone(), user.clone(), pass.clone());
            async move {
                let mut req = http.post(&url).query(&[("db", db.as_str()), ("precision", "ns")]).body(influx_line(&p));
                if !user.is_empty() {
                    req = req.basic_auth(user, Some(pass));
                }
                let rsp = req.send().await.map_err(|e| e.to_string())?;
                if rsp.status().is_success() {
                    Ok(())
                } else {
                    Err(format!("influxdb write: HTTP {}", rsp.status()))
                }
            }
        });
    }
    if !c.metrics_report_statsd_server.is_empty() {
        let (p2, server, prefix) = (p.clone(), c.metrics_report_statsd_server.clone(), c.metrics_report_statsd_prefix);
        every(p, c.metrics_report_statsd_period.duration(), move || {
            let (p, server, prefix) = (p2.clone(), server.clone(), prefix.clone());
            async move {
                let sock = tokio::net::UdpSocket::bind("0.0.0.0:0").await.map_err(|e| e.to_string())?;
                sock.connect(&server).await.map_err(|e| e.to_string())?;
                for packet in statsd_packets(&p, &prefix) {
                    sock.send(packet.as_bytes()).await.map_err(|e| e.to_string())?;
                }
                Ok(())
            }
        });
    }
}

/// Runs `f` every `period` (at least 1 s) until the proxy closes.
fn every<F, Fut>(p: &Proxy, period: Duration, f: F)
where
    F: Fn() -> Fut + Send + 'static,
    Fut: Future<Output = Result<(), String>> + Send,
{
    let p = p.clone();
    let period = period.max(Duration::from_secs(1));
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(period);
        tick.tick().await;
        let mut delay = Duration::from_secs(1);
        while !p.is_closed() {
            tokio::select! {
                _ = tick.tick() => {}
                _ = p.closed() => return,
            }
            match f().await {
                Ok(()) => delay = Duration::from_secs(1),
                Err(e) => {
                    tracing::warn!(error = %e, "report metrics failed");
                    tokio::select! {
                        _ = tokio::time::sleep(delay) => {}
                        _ = p.closed() => return,
                    }
                    delay = (delay * 2).min(Duration::from_secs(15));
                }
            }
        }
    });
}

/// The fields Go reports to influxdb and statsd, in Go's names.
pub fn fields(p: &Proxy) -> Vec<(&'static str, Value)> {
    let s = views::stats(p, STATS_RUNTIME);
    let rt = s.runtime.unwrap_or_default();
    vec![
        ("ops_total", Value::Int(s.ops.total)),
        ("ops_fails", Value::Int(s.ops.fails)),
        ("ops_redis_errors", Value::Int(s.ops.redis.errors)),
        ("ops_qps", Value::Int(s.ops.qps)),
        ("sessions_total", Value::Int(s.sessions.total)),
        ("sessions_alive", Value::Int(s.sessions.alive)),
        ("rusage_mem", Value::Int(s.rusage.mem)),
        ("rusage_cpu", Value::Float(s.rusage.cpu)),
        ("runtime_gc_num", Value::Int(rt.gc.num as i64)),
        ("runtime_gc_total_pausems", Value::Int(rt.gc.total_pausems as i64)),
        ("runtime_num_procs", Value::Int(rt.num_procs)),
        ("runtime_num_goroutines", Value::Int(rt.num_goroutines)),
        ("runtime_num_cgo_call", Value::Int(rt.num_cgo_call)),
        ("runtime_num_mem_offheap", Value::Int(rt.mem_offheap)),
    ]
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Value {
    Int(i64),
    Float(f64),
}

impl std::fmt::Display for Value {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Value::Int(n) => write!(f, "{n}"),
            Value::Float(x) => write!(f, "{x}"),
        }
    }
}

/// Statsd gauge lines, packed into datagrams of at most 1432 bytes (what Go's client sends).
pub fn statsd_packets(p: &Proxy, prefix: &str) -> Vec<String> {
    let m = p.model();
    let clean = |s: &str| s.replace(['.', ':'], "_");
    let base = [prefix.to_string(), m.product_name.clone(), clean(&m.admin_addr), clean(&m.proxy_addr)].join(".");
    let mut packets = Vec::new();
    let mut cur = String::new();
    for (k, v) in fields(p) {
        let line = format!("{base}.{k}:{v}|g");
        if !cur.is_empty() && cur.len() + 1 + line.len() > 1432 {
            packets.push(std::mem::take(&mut cur));
        }
        if !cur.is_empty() {
            cur.push('\n');
        }
        cur.push_str(&line);
    }
    if !cur.is_empty() {
        packets.push(cur);
    }
    packets
}

/// One influxdb line-protocol point, tags and fields sorted by key as the Go client sends them.
pub fn influx_line(p: &Proxy) -> String {
    let m = p.model();
    let esc = |s: &str| s.replace(',', "\\,").replace('=', "\\=").replace(' ', "\\ ");
    let mut tags = [
        ("admin_addr", m.admin_addr.clone()),
        ("hostname", m.hostname.clone()),
        ("product_name", m.product_name.clone()),
        ("proxy_addr", m.proxy_addr.clone()),
        ("token", m.token.clone()),
    ];
    tags.sort_by(|a, b| a.0.cmp(b.0));
    let mut f = fields(p);
    f.sort_by(|a, b| a.0.cmp(b.0));
    let tags: Vec<String> =
        tags.iter().filter(|(_, v)| !v.is_empty()).map(|(k, v)| format!("{k}={}", esc(v))).collect();
    let fields: Vec<String> = f
        .iter()
        .map(|(k, v)| match v {
            Value::Int(n) => format!("{k}={n}i"),
            Value::Float(x) => format!("{k}={x}"),
        })
        .collect();
    let ts = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default().as_nanos();
    format!("codis_usage,{} {} {ts}\n", tags.join(","), fields.join(","))
}
