//! Replays every admin REST call of the Go proxy recording (`fixtures/c2_proxy_api_calls.jsonl`,
//! see fixtures/README.md) against our `codis-proxy` binary, set up the way the recording's was:
//! two groups (slots 0-511 on group 1, 512-1023 on group 2, semi-async), one sentinel watching
//! them as `codis-demo-1/2`, Jodis on a real ZooKeeper, one SET and one DEL through the proxy
//! on two connections.
//!
//! Each reply is compared with the recorded one after normalising what depends on the
//! environment (tokens, xauths, times, pids, pwd, uname, hostname, ports, CPU and memory
//! figures, per-command microseconds, version strings): status line, header names in order,
//! header values (but Date and lengths) and the body (gzip bodies after decompression). The
//! calls that still differ are listed in [`KNOWN_DIFFERENCES`] with the reason; the test fails if
//! that list is not exactly the set of differing calls. The snapshot holds our normalised
//! transcript, slot lists shortened.

mod control;
#[path = "../../compat/tests/peers/mod.rs"]
mod peers;

use std::io::Read;
use std::time::Duration;

use conformance::server::{Kind, Server};
use control::*;

/// Calls whose replies differ from Go's after normalisation, and why.
const KNOWN_DIFFERENCES: &[(&str, &str)] = &[(
    "pprof index",
    "/debug/pprof/ is Go's runtime profiler (net/http/pprof); a Rust process has no such profiles, so the route \
     answers 404",
)];

#[derive(serde::Deserialize)]
struct Call {
    note: String,
    method: String,
    path: String,
    request_headers: Vec<String>,
    request_body: Option<String>,
    status_line: String,
    response_headers: Vec<(String, String)>,
    response_body: Option<String>,
    response_body_hex: Option<String>,
}

/// What the normaliser replaces.
struct Env {
    /// (text as found, placeholder)
    subst: Vec<(String, String)>,
}

impl Env {
    fn text(&self, s: &str) -> String {
        let mut s = s.to_string();
        for (from, to) in &self.subst {
            s = s.replace(from.as_str(), to);
        }
        s
    }
}

/// Keys whose values depend on the process or the host.
const VOLATILE: &[&str] = &["start_time", "pid", "pwd", "sys", "hostname", "now", "version", "compile"];

/// Normalises Go-indented JSON line by line, so key order and formatting still count: volatile
/// values become `"<key>"`, and so does every number under `rusage` and `runtime` and the
/// per-command microseconds.
fn normalise_json(text: &str, env: &Env) -> String {
    let mut stack: Vec<String> = Vec::new();
    let mut out = Vec::new();
    for line in text.lines() {
        let t = line.trim_start();
        let indent = &line[..line.len() - t.len()];
        if t.starts_with('}') || t.starts_with(']') {
            stack.pop();
            out.push(line.to_string());
            continue;
        }
        let (key, value) = match t.strip_prefix('"').and_then(|r| r.split_once("\": ")) {
            Some((k, v)) => (k.to_string(), v),
            None => (String::new(), t),
        };
        if value == "{" || value == "[" {
            stack.push(key);
            out.push(env.text(line));
            continue;
        }
        let (bare, comma) = match value.strip_suffix(',') {
            Some(b) => (b, ","),
            None => (value, ""),
        };
        let number = bare.parse::<f64>().is_ok();
        let measured = VOLATILE.contains(&key.as_str())
            || (number
                && (matches!(key.as_str(), "usecs" | "usecs_percall")
                    || stack.iter().any(|k| k == "rusage" || k == "runtime")));
        if measured && !key.is_empty() {
            out.push(format!("{indent}\"{key}\": \"<{key}>\"{comma}"));
        } else {
            out.push(env.text(line));
        }
    }
    out.join("\n")
}

fn body_of(headers: &[(String, String)], body: &[u8], env: &Env) -> String {
    let gz = headers.iter().any(|(n, v)| n == "Content-Encoding" && v == "gzip");
    let mut plain = body.to_vec();
    if gz {
        plain.clear();
        flate2::read::GzDecoder::new(body).read_to_end(&mut plain).expect("gunzip body");
    }
    let text = String::from_utf8_lossy(&plain);
    let json = headers.iter().any(|(n, v)| n == "Content-Type" && v.starts_with("application/json"));
    if json {
        normalise_json(&text, env)
    } else {
        env.text(&text)
    }
}

fn head_of(status_line: &str, headers: &[(String, String)]) -> Vec<String> {
    let mut out = vec![status_line.to_string()];
    for (n, v) in headers {
        out.push(match n.as_str() {
            "Date" => "Date: <date>".to_string(),
            // Lengths follow the normalised fields; chunked vs length still shows.
            "Content-Length" if v != "0" => "Content-Length: <n>".to_string(),
            _ => format!("{n}: {v}"),
        });
    }
    out
}

/// Shortens the 1024-entry slot lists for the snapshot: slots 0, 511, 512 and 1023 stay, the
/// others become one line per run.
fn shorten_slots(text: &str) -> String {
    let lines: Vec<&str> = text.lines().collect();
    let mut out: Vec<String> = Vec::new();
    let mut skipped = 0;
    let mut i = 0;
    while i < lines.len() {
        let is_slot =
            lines[i].trim() == "{" && lines.get(i + 1).is_some_and(|l| l.trim_start().starts_with("\"id\": "));
        if is_slot {
            let end = (i..lines.len()).find(|&j| lines[j].trim_start().starts_with('}')).unwrap_or(lines.len() - 1);
            let id: i64 =
                lines[i + 1].trim().trim_start_matches("\"id\": ").trim_end_matches(',').parse().unwrap_or(-1);
            if [0, 511, 512, 1023].contains(&id) {
                if skipped > 0 {
                    out.push(format!("        <{skipped} slots like their neighbours>"));
                    skipped = 0;
                }
                out.extend(lines[i..=end].iter().map(|l| l.to_string()));
            } else {
                skipped += 1;
            }
            i = end + 1;
            continue;
        }
        if skipped > 0 {
            out.push(format!("        <{skipped} slots like their neighbours>"));
            skipped = 0;
        }
        out.push(lines[i].to_string());
        i += 1;
    }
    out.join("\n")
}

/// The lines around the first place where two replies part.
fn first_difference(want_head: &[String], got_head: &[String], want: &str, got: &str) -> String {
    if want_head != got_head {
        return format!("headers\nwant: {want_head:?}\ngot:  {got_head:?}");
    }
    let (w, g): (Vec<&str>, Vec<&str>) = (want.lines().collect(), got.lines().collect());
    let i = w.iter().zip(&g).position(|(a, b)| a != b).unwrap_or(w.len().min(g.len()));
    let lo = i.saturating_sub(3);
    format!(
        "body line {i}\nwant:\n{}\ngot:\n{}",
        w[lo..(i + 4).min(w.len())].join("\n"),
        g[lo..(i + 4).min(g.len())].join("\n")
    )
}

fn decode_hex(s: &str) -> Vec<u8> {
    (0..s.len()).step_by(2).map(|i| u8::from_str_radix(&s[i..i + 2], 16).expect("hex")).collect()
}

#[test]
fn recorded_admin_calls_replay() {
    let Some(zk) = peers::zookeeper() else { return };
    let g1 = Server::start(Kind::Codis).expect("start group 1 server");
    let g2 = Server::start(Kind::Codis).expect("start group 2 server");
    let Some(sentinel) = Sentinel::start(&[(1, g1.port()), (2, g2.port())]) else { return };
    let proxy = ProxyProc::start(&format!("jodis_name = \"zookeeper\"\njodis_addr = \"{}\"\n", zk.addr), &[]);
    let admin = proxy.admin();
    let xauth = proxy.xauth();
    let token = proxy.model()["token"].as_str().expect("token").to_string();

    // What the dashboard does when it adds a proxy and the cluster is set up (c00 setup log):
    // fill all slots, start, hand over the sentinels.
    let (a1, a2) = (format!("127.0.0.1:{}", g1.port()), format!("127.0.0.1:{}", g2.port()));
    let slots: Vec<serde_json::Value> = (0..1024)
        .map(|i| {
            let (addr, gid) = if i < 512 { (&a1, 1) } else { (&a2, 2) };
            serde_json::json!({"id": i, "backend_addr": addr, "backend_addr_group_id": gid, "forward_method": 1})
        })
        .collect();
    let body = serde_json::to_vec(&slots).expect("encode slots");
    assert_eq!(proxy.put(&format!("/api/proxy/fillslots/{xauth}"), &body).status, 200);
    assert_eq!(proxy.put(&format!("/api/proxy/start/{xauth}"), b"").status, 200);
    let sentinels = format!("{{\"servers\":[\"{}\"],\"out_of_sync\":false}}", sentinel.addr());
    assert_eq!(proxy.put(&format!("/api/proxy/sentinels/{xauth}"), sentinels.as_bytes()).status, 200);
    let masters_known =
        || get_json(&admin, "/proxy/stats")["sentinels"]["masters"].as_object().map(|m| m.len()) == Some(2);
    assert!(wait_until(Duration::from_secs(10), masters_known), "sentinel masters never arrived");
    // The recorded stats show one SET and one DEL on two sessions, none alive.
    for cmd in [&["SET", "k", "v"][..], &["DEL", "k"][..]] {
        let mut c = conformance::Conn::connect(proxy.proxy_port).expect("connect proxy");
        c.call(cmd).expect("command");
    }
    let settled = || {
        let s = get_json(&admin, "/proxy/stats");
        s["sessions"]["alive"] == 0 && s["ops"]["qps"] == 0 && s["ops"]["total"] == 2 && !s["rusage"]["raw"].is_null()
    };
    assert!(wait_until(Duration::from_secs(10), settled), "stats did not settle: {}", get_json(&admin, "/proxy/stats"));

    let ours = Env {
        subst: vec![
            (xauth.clone(), "<xauth>".into()),
            (token.clone(), "<token>".into()),
            (format!("127.0.0.1:{}", proxy.proxy_port), "127.0.0.1:<proxy>".into()),
            (format!("127.0.0.1:{}", proxy.admin_port), "127.0.0.1:<admin>".into()),
            (a1.clone(), "127.0.0.1:<group1>".into()),
            (a2.clone(), "127.0.0.1:<group2>".into()),
            (sentinel.addr(), "127.0.0.1:<sentinel>".into()),
            (zk.addr.clone(), "127.0.0.1:<zookeeper>".into()),
        ],
    };
    let recorded = Env {
        subst: vec![
            ("76a97687c20df831d92deca9daf72a7a".into(), "<xauth>".into()),
            ("91ebd8e7a3491a145e0c03b773f15833".into(), "<token>".into()),
            ("127.0.0.1:19000".into(), "127.0.0.1:<proxy>".into()),
            ("127.0.0.1:11080".into(), "127.0.0.1:<admin>".into()),
            ("127.0.0.1:6379".into(), "127.0.0.1:<group1>".into()),
            ("127.0.0.1:6381".into(), "127.0.0.1:<group2>".into()),
            ("127.0.0.1:26379".into(), "127.0.0.1:<sentinel>".into()),
            ("127.0.0.1:2181".into(), "127.0.0.1:<zookeeper>".into()),
        ],
    };
    // Recorded values in requests, rewritten for our cluster.
    let to_ours = |s: &str| {
        let mut s = s.to_string();
        // Both lists name the same things in the same order.
        for ((rec, _), (our, _)) in recorded.subst.iter().zip(&ours.subst) {
            s = s.replace(rec.as_str(), our);
        }
        s
    };

    let text = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/c2_proxy_api_calls.jsonl"))
        .expect("read fixture");
    let mut transcript = String::new();
    let mut differing: Vec<(String, String)> = Vec::new();
    for line in text.lines() {
        let call: Call = serde_json::from_str(line).expect("decode recorded call");
        if call.note == "overview with gzip" || call.note == "final overview" {
            // After the rewatch the recording's sentinel answered within the ~70 ms its pacing
            // left; ours may need the same.
            assert!(wait_until(Duration::from_secs(10), masters_known), "sentinel masters never came back");
        }
        let path = to_ours(&call.path);
        let body = call.request_body.as_deref().map(to_ours).unwrap_or_default();
        let headers: Vec<&str> = call.request_headers.iter().map(String::as_str).collect();
        let r = http(&admin, &call.method, &path, &headers, body.as_bytes()).expect("admin call");

        let rec_body = match (&call.response_body, &call.response_body_hex) {
            (_, Some(hex)) => decode_hex(hex),
            (Some(b), None) => b.as_bytes().to_vec(),
            (None, None) => Vec::new(),
        };
        let want_head = head_of(&call.status_line, &call.response_headers);
        let got_head = head_of(&r.status_line, &r.headers);
        let want_body = body_of(&call.response_headers, &rec_body, &recorded);
        let got_body = body_of(&r.headers, &r.body, &ours);
        if want_head != got_head || want_body != got_body {
            differing.push((call.note.clone(), first_difference(&want_head, &got_head, &want_body, &got_body)));
        }
        transcript.push_str(&format!(
            "### {}\n{} {}\n{}\n\n{}\n\n",
            call.note,
            call.method,
            ours.text(&path),
            got_head.join("\n"),
            shorten_slots(&got_body)
        ));
    }
    let notes = known_differences(&differing, KNOWN_DIFFERENCES);
    insta::assert_snapshot!("admin_replay", format!("{notes}\n{transcript}"));
}
