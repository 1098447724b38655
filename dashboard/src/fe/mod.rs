//! codis-fe (`cmd/fe/main.go`): `GET /list` names the products that have a dashboard (from the
//! coordinator or a `--dashboard-list` file, reloaded at most every 5 s), any other request with
//! `?forward=<product>` is passed to that product's dashboard, static files are served from
//! `--assets-dir` or, without it, our own small UI built into the binary.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::body::{Body, Bytes};
use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderName, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Router;
use compat::coordinator::{Client, Spec};
use compat::rest::server::json_ok;
use tokio::sync::Mutex;

use crate::args::{Args, Spec as ArgSpec};
use crate::golog::{self, panic_exit};
use crate::{usage, version};

const SPEC: ArgSpec = ArgSpec {
    values: &[
        "--ncpu",
        "--log",
        "--log-level",
        "--assets-dir",
        "--pidfile",
        "--dashboard-list",
        "--zookeeper",
        "--zookeeper-auth",
        "--etcd",
        "--etcd-auth",
        "--filesystem",
        "--listen",
    ],
    flags: &["--version"],
    words: &[],
    aliases: &[("-d", "--dashboard-list"), ("-l", "--log")],
};

const INDEX_HTML: &str = include_str!("../../assets/index.html");
const APP_JS: &str = include_str!("../../assets/app.js");
const STYLE_CSS: &str = include_str!("../../assets/style.css");

enum Loader {
    Static(String),
    Dynamic(Arc<dyn Client>),
}

impl Loader {
    async fn reload(&self) -> Result<BTreeMap<String, String>, String> {
        match self {
            Loader::Static(path) => {
                #[derive(serde::Deserialize)]
                struct E {
                    #[serde(default)]
                    name: String,
                    #[serde(default)]
                    dashboard: String,
                }
                let b = std::fs::read(path).map_err(|e| e.to_string())?;
                let list: Vec<E> = serde_json::from_slice(&b).map_err(|e| e.to_string())?;
                Ok(list.into_iter().map(|e| (e.name, e.dashboard)).collect())
            }
            Loader::Dynamic(c) => Ok(crate::admin::config::list_dashboards(c.as_ref()).await?.into_iter().collect()),
        }
    }
}

struct Fe {
    loader: Loader,
    routes: Mutex<(Option<Instant>, BTreeMap<String, String>)>,
    assets: Option<std::path::PathBuf>,
    http: reqwest::Client,
}

impl Fe {
    /// The dashboards, reloaded when older than 5 s (Go reloads on `/list`).
    async fn routes(&self, reload: bool) -> BTreeMap<String, String> {
        let mut r = self.routes.lock().await;
        if reload && r.0.is_none_or(|t| t.elapsed() >= Duration::from_secs(5)) {
            match self.loader.reload().await {
                Ok(m) => r.1 = m.into_iter().filter(|(n, h)| !n.is_empty() && !h.is_empty()).collect(),
                Err(e) => {
                    tracing::warn!("reload reverse proxy failed: {e}");
                    r.1.clear();
                }
            }
            r.0 = Some(Instant::now());
        }
        r.1.clone()
    }
}

pub fn main(argv: Vec<String>) -> i32 {
    compat::models::gotime::process_start();
    let args = match Args::parse(argv, &SPEC) {
        Ok(a) => a,
        Err(_) => {
            print!("{}", usage::FE);
            return 1;
        }
    };
    if args.flag("--help") {
        print!("{}", usage::FE);
        return 0;
    }
    if args.flag("--version") {
        println!("version: {}", version::VERSION);
        println!("compile: {}", version::compile());
        return 0;
    }
    let coordinated =
        ["--dashboard-list", "--zookeeper", "--etcd", "--filesystem"].iter().any(|f| args.get(f).is_some());
    if args.get("--listen").is_none() || !coordinated {
        print!("{}", usage::FE);
        return 1;
    }
    golog::init(args.get("--log"), tracing_subscriber::filter::LevelFilter::INFO);
    if let Some(l) = args.get("--log-level") {
        if !golog::set_level(l) {
            panic_exit("fe.rs", &format!("option --log-level = {l}"), None);
        }
    }
    let rt = match tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build() {
        Ok(rt) => rt,
        Err(e) => panic_exit("fe.rs", "create runtime failed", Some(&e.to_string())),
    };
    rt.block_on(run(args))
}

async fn run(args: Args) -> i32 {
    let listen = args.get("--listen").unwrap_or_default().to_string();
    tracing::warn!("set listen = {listen}");
    let assets = args.get("--assets-dir").map(|d| std::path::absolute(d).unwrap_or_else(|_| d.into()));
    match &assets {
        Some(a) => {
            let index = a.join("index.html");
            if let Err(e) = std::fs::metadata(&index) {
                panic_exit("fe.rs", &format!("get stat of {} failed", index.display()), Some(&e.to_string()));
            }
            tracing::warn!("set assets = {}", a.display());
        }
        None => tracing::warn!("set assets = (built in)"),
    }
    let loader = if let Some(f) = args.get("--dashboard-list") {
        tracing::warn!("set --dashboard-list = {f}");
        Loader::Static(f.to_string())
    } else {
        let (name, addr, auth) = if let Some(z) = args.get("--zookeeper") {
            ("zookeeper", z, args.get("--zookeeper-auth").unwrap_or(""))
        } else if let Some(e) = args.get("--etcd") {
            ("etcd", e, args.get("--etcd-auth").unwrap_or(""))
        } else {
            ("filesystem", args.get("--filesystem").unwrap_or(""), "")
        };
        tracing::warn!("set --{name} = {addr}");
        let msg = format!("create '{name}' client to '{addr}' failed");
        let spec = Spec::new(name, addr, auth).unwrap_or_else(|e| panic_exit("fe.rs", &msg, Some(&e.to_string())));
        let c = spec
            .connect(Duration::from_secs(60))
            .await
            .unwrap_or_else(|e| panic_exit("fe.rs", &msg, Some(&e.to_string())));
        Loader::Dynamic(c)
    };
    let fe = Arc::new(Fe {
        loader,
        routes: Mutex::new((None, BTreeMap::new())),
        assets,
        http: reqwest::Client::builder().connect_timeout(Duration::from_secs(10)).build().unwrap_or_default(),
    });
    let listener = match tokio::net::TcpListener::bind(&listen).await {
        Ok(l) => l,
        Err(e) => panic_exit("fe.rs", &format!("listen {listen} failed"), Some(&e.to_string())),
    };
    let pidfile = args.get("--pidfile").map(|p| std::path::absolute(p).unwrap_or_else(|_| p.into()));
    if let Some(p) = &pidfile {
        match std::fs::write(p, std::process::id().to_string()) {
            Ok(()) => tracing::warn!("option --pidfile = {}", p.display()),
            Err(e) => tracing::warn!("write pidfile = '{}' failed: {e}", p.display()),
        }
    }
    let app = Router::new().fallback(handle).with_state(fe);
    let shutdown = async {
        use tokio::signal::unix::{signal, SignalKind};
        if let (Ok(mut i), Ok(mut t)) = (signal(SignalKind::interrupt()), signal(SignalKind::terminate())) {
            tokio::select! { _ = i.recv() => {}, _ = t.recv() => {} }
        }
    };
    let r = axum::serve(listener, app).with_graceful_shutdown(shutdown).await;
    if let Some(p) = &pidfile {
        let _ = std::fs::remove_file(p);
    }
    if let Err(e) = r {
        panic_exit("fe.rs", &format!("serve {listen} failed"), Some(&e.to_string()));
    }
    0
}

fn static_file(fe: &Fe, path: &str) -> Option<Response> {
    let rel = path.trim_start_matches('/');
    let rel = if rel.is_empty() { "index.html" } else { rel };
    if rel.split('/').any(|p| p == ".." || p.is_empty()) {
        return None;
    }
    let kind = match rel.rsplit('.').next() {
        Some("html") => "text/html; charset=utf-8",
        Some("js") => "application/javascript",
        Some("css") => "text/css; charset=utf-8",
        Some("json") => "application/json",
        Some("ico") => "image/x-icon",
        Some("png") => "image/png",
        _ => "application/octet-stream",
    };
    let body: Vec<u8> = match &fe.assets {
        Some(dir) => std::fs::read(dir.join(rel)).ok()?,
        None => match rel {
            "index.html" => INDEX_HTML.as_bytes().to_vec(),
            "app.js" => APP_JS.as_bytes().to_vec(),
            "style.css" => STYLE_CSS.as_bytes().to_vec(),
            _ => return None,
        },
    };
    Some(([("Content-Type", kind)], body).into_response())
}

async fn handle(State(fe): State<Arc<Fe>>, req: Request) -> Response {
    let path = req.uri().path().to_string();
    let query = req.uri().query().unwrap_or("").to_string();
    let forward =
        query.split('&').filter_map(|kv| kv.split_once('=')).find(|(k, _)| *k == "forward").map(|(_, v)| v.to_string());
    if forward.is_none() && req.method() == axum::http::Method::GET {
        if let Some(r) = static_file(&fe, &path) {
            return r;
        }
    }
    if path == "/list" && req.method() == axum::http::Method::GET {
        let names: Vec<String> = fe.routes(true).await.into_keys().collect();
        return json_ok(&names);
    }
    let Some(name) = forward else { return StatusCode::FORBIDDEN.into_response() };
    // A product not seen yet (a fresh fe, a new dashboard) reloads the list (at most every 5 s)
    // rather than waiting for the next `/list`.
    let host = match fe.routes(false).await.get(&name).cloned() {
        Some(h) => h,
        None => match fe.routes(true).await.get(&name).cloned() {
            Some(h) => h,
            None => return StatusCode::FORBIDDEN.into_response(),
        },
    };
    proxy(&fe, &host, req).await
}

const HOP: &[&str] =
    &["connection", "keep-alive", "proxy-connection", "te", "trailer", "transfer-encoding", "upgrade", "host"];

/// Go's `httputil.ReverseProxy` to `http://<host>`: same path and query, headers without the
/// hop-by-hop ones, `X-Forwarded-For` added; the dashboard's status (800 too) comes back as is.
async fn proxy(fe: &Fe, host: &str, req: Request) -> Response {
    let (parts, body) = req.into_parts();
    let url = format!("http://{host}{}", parts.uri.path_and_query().map(|p| p.as_str()).unwrap_or("/"));
    let body: Bytes = axum::body::to_bytes(body, 64 << 20).await.unwrap_or_default();
    let mut headers = HeaderMap::new();
    for (k, v) in parts.headers.iter() {
        if !HOP.contains(&k.as_str()) {
            headers.append(k.clone(), v.clone());
        }
    }
    headers.insert(HeaderName::from_static("x-forwarded-for"), HeaderValue::from_static("127.0.0.1"));
    let rsp = fe.http.request(parts.method.clone(), &url).headers(headers).body(body).send().await;
    match rsp {
        Err(e) => {
            tracing::warn!("http: proxy error: {e}");
            StatusCode::BAD_GATEWAY.into_response()
        }
        Ok(r) => {
            let status = r.status();
            let mut out = Response::builder().status(status.as_u16());
            for (k, v) in r.headers() {
                if !HOP.contains(&k.as_str()) && k.as_str() != "content-length" {
                    out = out.header(k, v);
                }
            }
            let b = r.bytes().await.unwrap_or_default();
            out.body(Body::from(b)).unwrap_or_else(|_| StatusCode::BAD_GATEWAY.into_response())
        }
    }
}
