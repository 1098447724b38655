//! REST conventions against the recorded bytes (codis-3.2/c1_dashboard_api_calls.jsonl,
//! c2_proxy_api_calls.jsonl), through a real HTTP server and client.

use std::future::IntoFuture;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::sync::{Arc, Mutex};

use axum::extract::Path;
use axum::routing::{get, put};
use axum::Router;

use super::server::{check_xauth, error, json_ok, ok, redirect, with_go_fallbacks};
use super::*;
use crate::models::{Sentinel, Slot};

/// The wrong-xauth body (90 bytes) of every `... WRONG xauth` call in c1/c2.
const C1_INVALID_XAUTH_BODY: &str =
    "{\n    \"Cause\": \"invalid xauth, please check product name \\u0026 auth\",\n    \"Stack\": null\n}";

#[test]
fn error_bodies_like_go() {
    assert_eq!(RemoteError::new(INVALID_XAUTH).encode(), C1_INVALID_XAUTH_BODY.as_bytes());
    // c1: "loglevel invalid value".
    assert_eq!(
        RemoteError::new("invalid loglevel").encode(),
        b"{\n    \"Cause\": \"invalid loglevel\",\n    \"Stack\": null\n}"
    );
    // A Go error with a trace decodes (c1 "create group 1 (exists)", first frame).
    let body = br#"{"Cause": "group-[1] already exists", "Stack": [{"Name": "github.com/CodisLabs/codis/pkg/topom.(*Topom).CreateGroup", "File": "/go/src/github.com/CodisLabs/codis/pkg/topom/topom_group.go", "Line": 27}]}"#;
    let e: RemoteError = json::from_slice(body).unwrap();
    assert_eq!(e.cause, "group-[1] already exists");
    assert_eq!(e.stack.unwrap()[0].line, 27);
    assert_eq!(
        encode_path("/api/topom/group/add/x/1/127.0.0.1:6379/dc 1"),
        "/api/topom/group/add/x/1/127.0.0.1:6379/dc%201"
    );
}

#[test]
fn recorded_error_bodies_decode() {
    let Some(dir) = crate::rdb::tests::reference_dir() else {
        eprintln!("SKIPPED: shared/reference recordings not found (set RCODIS_REFERENCE_DIR)");
        return;
    };
    let mut n = 0;
    for file in ["c1_dashboard_api_calls.jsonl", "c2_proxy_api_calls.jsonl"] {
        let raw = std::fs::read_to_string(dir.join("codis-3.2").join(file)).unwrap();
        for line in raw.lines() {
            let r: serde_json::Value = serde_json::from_str(line).unwrap();
            if r["status_line"] != "HTTP/1.1 800 status code 800" {
                continue;
            }
            let body = r["response_body"].as_str().unwrap();
            let e: RemoteError = json::from_slice(body.as_bytes()).unwrap();
            assert!(!e.cause.is_empty());
            // Re-encoding gives Go's bytes back, traces included.
            assert_eq!(String::from_utf8(e.encode()).unwrap(), body, "{file}: {}", r["path"]);
            n += 1;
        }
    }
    assert!(n > 50, "only {n} error bodies");
}

/// A stand-in proxy admin server built from the helpers, recording what it receives.
fn fake_proxy(xauth: String, seen: Arc<Mutex<Vec<String>>>) -> Router {
    let x1 = xauth.clone();
    let x2 = xauth.clone();
    let router = Router::new()
        .route("/", get(|| async { redirect("/proxy") }))
        .route(
            "/api/proxy/xping/{xauth}",
            get(move |Path(given): Path<String>| {
                let x = x1.clone();
                async move { check_xauth(&given, &x).unwrap_or_else(ok) }
            }),
        )
        .route(
            "/api/proxy/fillslots/{xauth}",
            put(move |Path(given): Path<String>, body: String| {
                let x = x2.clone();
                let seen = seen.clone();
                async move {
                    if let Some(rejected) = check_xauth(&given, &x) {
                        return rejected;
                    }
                    seen.lock().unwrap().push(body.clone());
                    let slots: Vec<Slot> = json::from_slice(body.as_bytes()).unwrap_or_default();
                    if slots.iter().any(|s| s.id >= 1024) {
                        return error("use of invalid slot id");
                    }
                    ok()
                }
            }),
        )
        .route("/proxy/slots", get(|| async { json_ok(&vec![Slot { id: 0, ..Default::default() }]) }));
    with_go_fallbacks(router)
}

fn raw_http(addr: &str, req: &str) -> String {
    let mut s = TcpStream::connect(addr).unwrap();
    s.write_all(req.as_bytes()).unwrap();
    let mut out = String::new();
    s.read_to_string(&mut out).unwrap();
    out
}

// Multi-threaded: the raw checks below use blocking sockets while the server runs.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn server_helpers_and_typed_client_over_http() {
    let token = "91ebd8e7a3491a145e0c03b773f15833";
    let xauth = crate::xauth::proxy_xauth("codis-demo", "", token);
    let seen = Arc::new(Mutex::new(Vec::new()));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    tokio::spawn(axum::serve(listener, fake_proxy(xauth, seen.clone())).into_future());

    let mut api = ProxyApi::new(addr.clone());
    // No xauth yet: the route does not match, 404 as in c1 "xping with empty xauth segment".
    assert!(matches!(api.xping().await, Err(RestError::Status { status: 404, .. })));
    // A wrong xauth: the recorded error, as a RestError::Remote.
    api.set_xauth("other-product", "", token);
    match api.xping().await {
        Err(RestError::Remote(e)) => assert_eq!(e.cause, INVALID_XAUTH),
        other => panic!("{other:?}"),
    }
    api.set_xauth("codis-demo", "", token);
    api.xping().await.unwrap();

    let slots = vec![Slot {
        id: 1023,
        backend_addr: "127.0.0.1:6381".into(),
        backend_addr_group_id: 2,
        forward_method: 1,
        ..Default::default()
    }];
    api.fill_slots(&slots).await.unwrap();
    // Sent like Go's client: MarshalIndent body.
    assert_eq!(seen.lock().unwrap()[0], json::to_string_indent(&slots));
    let e = api.fill_slots(&[Slot { id: 1024, ..Default::default() }]).await.unwrap_err();
    assert_eq!(e.to_string(), "use of invalid slot id");
    // An unknown route: Go's client wording for a non-800 status.
    let e = api.set_sentinels(&Sentinel::default()).await.unwrap_err();
    assert!(matches!(e, RestError::Status { status: 404, .. }), "{e}");
    assert!(e.to_string().starts_with("[404] Not Found - http://"), "{e}");

    // The bytes on the wire (c1/c2 status lines, headers and bodies).
    let host = format!("Host: {addr}\r\nConnection: close\r\n\r\n");
    let r = raw_http(&addr, &format!("GET /api/proxy/xping/deadbeefdeadbeefdeadbeefdeadbeef HTTP/1.1\r\n{host}"));
    assert!(r.starts_with("HTTP/1.1 800 status code 800\r\n"), "{r}");
    assert!(r.contains("content-type: application/json; charset=utf-8\r\n"), "{r}");
    assert!(r.ends_with(C1_INVALID_XAUTH_BODY), "{r}");
    let r = raw_http(&addr, &format!("GET /api/proxy/fillslots/x HTTP/1.1\r\n{host}"));
    assert!(r.starts_with("HTTP/1.1 404 Not Found\r\n") && r.ends_with("\r\n\r\n404 page not found\n"), "{r}");
    assert!(r.contains("content-type: text/plain; charset=utf-8\r\n"), "{r}");
    let r = raw_http(&addr, &format!("GET /api/proxy/nonexistent HTTP/1.1\r\n{host}"));
    assert!(r.ends_with("404 page not found\n"), "{r}");
    let r = raw_http(&addr, &format!("GET / HTTP/1.1\r\n{host}"));
    assert!(r.starts_with("HTTP/1.1 302 Found\r\n") && r.contains("location: /proxy\r\n"), "{r}");
    let r = raw_http(&addr, &format!("GET /proxy/slots HTTP/1.1\r\n{host}"));
    assert!(r.ends_with("[\n    {\n        \"id\": 0\n    }\n]"), "{r}");

    // The dashboard client builds Go's paths.
    let mut d = DashboardApi::new(addr.clone());
    d.set_xauth("codis-demo");
    assert_eq!(crate::xauth::dashboard_xauth("codis-demo"), "95b62887719520f17e312eaa76d28f2b");
    let e = d.group_add_server(3, "dc1", "127.0.0.1:6384").await.unwrap_err();
    assert!(
        e.to_string().ends_with("/api/topom/group/add/95b62887719520f17e312eaa76d28f2b/3/127.0.0.1:6384/dc1"),
        "{e}"
    );
}
