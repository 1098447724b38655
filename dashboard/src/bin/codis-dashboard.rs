//! codis-dashboard: same command line, config and behaviour as Go's (`cmd/dashboard/main.go`).

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use compat::config::{DashboardConfig, DASHBOARD_DEFAULT_CONFIG_OUTPUT};
use compat::coordinator::Spec;
use compat::store::Store;
use dashboard::args::{Args, Spec as ArgSpec};
use dashboard::golog::{self, panic_exit};
use dashboard::topom::Topom;
use dashboard::{api, usage, version};

const SPEC: ArgSpec = ArgSpec {
    values: &[
        "--ncpu",
        "--config",
        "--log",
        "--log-level",
        "--host-admin",
        "--pidfile",
        "--zookeeper",
        "--etcd",
        "--filesystem",
        "--product_name",
        "--product_auth",
    ],
    flags: &["--remove-lock", "--default-config", "--version"],
    words: &[],
    aliases: &[("-c", "--config"), ("-l", "--log")],
};

fn main() {
    compat::models::gotime::process_start();
    let args = match Args::parse(std::env::args().skip(1), &SPEC) {
        Ok(a) => a,
        Err(_) => {
            print!("{}", usage::DASHBOARD);
            std::process::exit(1);
        }
    };
    if args.flag("--help") {
        print!("{}", usage::DASHBOARD);
        return;
    }
    if args.flag("--default-config") {
        print!("{DASHBOARD_DEFAULT_CONFIG_OUTPUT}");
        return;
    }
    if args.flag("--version") {
        println!("version: {}", version::VERSION);
        println!("compile: {}", version::compile());
        return;
    }
    golog::init(args.get("--log"), tracing_subscriber::filter::LevelFilter::INFO);
    if let Some(l) = args.get("--log-level") {
        if !golog::set_level(l) {
            panic_exit("main.rs", &format!("option --log-level = {l}"), None);
        }
    }
    let ncpu = match args.int("--ncpu") {
        Ok(Some(n)) if n > 0 => n as usize,
        Ok(_) => std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1),
        Err(e) => panic_exit("main.rs", &e, None),
    };
    tracing::warn!("set ncpu = {ncpu}");

    let mut config = DashboardConfig::default();
    let mut admin_auth = String::new();
    if let Some(path) = args.get("--config") {
        match DashboardConfig::load_from_file(path) {
            Ok(c) => config = c,
            Err(e) => panic_exit("main.rs", &format!("load config {path} failed"), Some(&e.to_string())),
        }
        admin_auth = read_admin_auth(path);
    }
    if let Some(h) = args.get("--host-admin") {
        config.host_admin = h.to_string();
        tracing::warn!("option --host-admin = {h}");
    }
    for (flag, name) in [("--zookeeper", "zookeeper"), ("--etcd", "etcd"), ("--filesystem", "filesystem")] {
        if let Some(addr) = args.get(flag) {
            config.coordinator_name = name.to_string();
            config.coordinator_addr = addr.to_string();
            tracing::warn!("option {flag} = {addr}");
            break;
        }
    }
    if let Some(s) = args.get("--product_name") {
        config.product_name = s.to_string();
        tracing::warn!("option --product_name = {s}");
    }
    if let Some(s) = args.get("--product_auth") {
        config.product_auth = s.to_string();
        tracing::warn!("option --product_auth = {s}");
    }
    let rt = match tokio::runtime::Builder::new_multi_thread().worker_threads(ncpu).enable_all().build() {
        Ok(rt) => rt,
        Err(e) => panic_exit("main.rs", "create runtime failed", Some(&e.to_string())),
    };
    let code = rt.block_on(run(args, config, admin_auth));
    rt.shutdown_timeout(Duration::from_secs(1));
    std::process::exit(code);
}

/// Beyond Codis: `admin_auth` in dashboard.toml (unknown to Go, which ignores it).
fn read_admin_auth(path: &str) -> String {
    std::fs::read_to_string(path)
        .ok()
        .and_then(|t| t.parse::<toml::Table>().ok())
        .and_then(|t| t.get("admin_auth").and_then(|v| v.as_str()).map(String::from))
        .unwrap_or_default()
}

/// Go's `ReplaceUnspecifiedIP`: the address others should use to reach a listener.
fn advertised(bound: SocketAddr, host_admin: &str) -> String {
    if !host_admin.is_empty() {
        return host_admin.to_string();
    }
    if !bound.ip().is_unspecified() {
        return bound.to_string();
    }
    let host = hostname();
    let ip = std::net::ToSocketAddrs::to_socket_addrs(&(host.as_str(), bound.port()))
        .ok()
        .and_then(|mut a| a.find(|a| a.is_ipv4()))
        .map(|a| a.ip().to_string())
        .unwrap_or_else(|| "127.0.0.1".to_string());
    format!("{ip}:{}", bound.port())
}

fn hostname() -> String {
    let mut buf = [0u8; 256];
    // SAFETY: gethostname writes at most buf.len() bytes into our buffer.
    let r = unsafe { libc::gethostname(buf.as_mut_ptr() as *mut libc::c_char, buf.len()) };
    if r != 0 {
        return "localhost".into();
    }
    let n = buf.iter().position(|&b| b == 0).unwrap_or(buf.len());
    String::from_utf8_lossy(&buf[..n]).into_owned()
}

async fn run(args: Args, config: DashboardConfig, admin_auth: String) -> i32 {
    let spec = match Spec::new(&config.coordinator_name, &config.coordinator_addr, &config.coordinator_auth) {
        Ok(s) => s,
        Err(e) => panic_exit(
            "main.rs",
            &format!("create '{}' client to '{}' failed", config.coordinator_name, config.coordinator_addr),
            Some(&e.to_string()),
        ),
    };
    let client = match spec.connect(Duration::from_secs(60)).await {
        Ok(c) => c,
        Err(e) => panic_exit(
            "main.rs",
            &format!("create '{}' client to '{}' failed", config.coordinator_name, config.coordinator_addr),
            Some(&e.to_string()),
        ),
    };
    let store = Store::new(client, config.product_name.clone());
    if args.flag("--remove-lock") {
        tracing::warn!("force remove-lock");
        match store.release().await {
            Ok(()) => tracing::warn!("force remove-lock OK"),
            Err(e) => tracing::warn!("force remove-lock failed: {e}"),
        }
    }
    let listener = match tokio::net::TcpListener::bind(&config.admin_addr).await {
        Ok(l) => l,
        Err(e) => panic_exit(
            "main.rs",
            &format!("create topom with config file failed\n{}", config.to_toml_string()),
            Some(&format!("listen tcp {}: bind: {e}", config.admin_addr)),
        ),
    };
    let bound = match listener.local_addr() {
        Ok(a) => a,
        Err(e) => panic_exit("main.rs", "listener has no address", Some(&e.to_string())),
    };
    let admin_addr = advertised(bound, &config.host_admin);
    let toml_text = config.to_toml_string();
    let topom = match Topom::new(store, config, admin_auth, &bound.to_string(), &admin_addr) {
        Ok(t) => Arc::new(t),
        Err(e) => panic_exit("main.rs", &format!("create topom with config file failed\n{toml_text}"), Some(&e.0)),
    };
    tracing::warn!("create new topom:\n{}", String::from_utf8_lossy(&topom.model().encode()));
    tracing::warn!("admin start service on {bound}");
    let server = {
        let t = Arc::clone(&topom);
        let app = api::router(Arc::clone(&topom));
        tokio::spawn(async move {
            let shutdown = async move { t.closed_wait().await };
            if let Err(e) = axum::serve(listener, app).with_graceful_shutdown(shutdown).await {
                tracing::error!("admin exit on error: {e}");
            }
        })
    };
    tracing::warn!("create topom with config\n{toml_text}");

    let pidfile = args.get("--pidfile").map(|p| std::path::absolute(p).unwrap_or_else(|_| p.into()));
    if let Some(p) = &pidfile {
        match std::fs::write(p, std::process::id().to_string()) {
            Ok(()) => tracing::warn!("option --pidfile = {}", p.display()),
            Err(e) => tracing::warn!("write pidfile = '{}' failed: {e}", p.display()),
        }
    }
    {
        let t = Arc::clone(&topom);
        tokio::spawn(async move {
            use tokio::signal::unix::{signal, SignalKind};
            let (Ok(mut int), Ok(mut term)) = (signal(SignalKind::interrupt()), signal(SignalKind::terminate())) else {
                return;
            };
            let name = tokio::select! {
                _ = int.recv() => "interrupt",
                _ = term.recv() => "terminated",
            };
            tracing::warn!("dashboard receive signal = '{name}'");
            let _ = t.close().await;
        });
    }

    let mut i = 0;
    while !topom.is_closed() && !topom.is_online() {
        if let Err(e) = topom.start(true).await {
            if i <= 15 {
                tracing::warn!("dashboard online failed [{i}]: {e}");
            } else {
                let _ = topom.close().await;
                panic_exit("main.rs", "dashboard online failed, give up & abort :'(", None);
            }
            tokio::time::sleep(Duration::from_secs(2)).await;
        }
        i += 1;
    }
    tracing::warn!("dashboard is working ...");
    topom.closed_wait().await;
    tracing::warn!("dashboard is exiting ...");
    let _ = topom.close().await;
    let _ = tokio::time::timeout(Duration::from_secs(3), server).await;
    if let Some(p) = &pidfile {
        if let Err(e) = std::fs::remove_file(p) {
            tracing::warn!("remove pidfile = '{}' failed: {e}", p.display());
        }
    }
    0
}
