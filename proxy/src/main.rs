//! `codis-proxy`: the command line of Codis 3.2 (`a_help_codis-proxy.txt`, Go's
//! `cmd/proxy/main.go`).
//!
//! The proxy starts offline and goes online in one of four ways, as in Go:
//! - `--dashboard=ADDR`: asks that dashboard to online it (`/api/topom/proxy/online`), up to 10
//!   tries 3 s apart; the dashboard then fills the slots and starts it;
//! - `--zookeeper/--etcd/--filesystem`: reads the dashboard's address from the product's topom
//!   node and does the same, up to 30 tries;
//! - `--fillslots=FILE`: fills the slots of that JSON file and starts by itself;
//! - none: waits for `PUT /api/proxy/start`.
//!
//! It runs until `PUT /api/proxy/shutdown` or SIGINT/SIGTERM, then removes its `--pidfile`.

use std::process::ExitCode;
use std::time::Duration;

use codis_proxy::admin::{self, parse_log_level};
use codis_proxy::{Config, Proxy, Slot};
use compat::config::{ProxyConfig, PROXY_DEFAULT_CONFIG_OUTPUT};
use compat::coordinator::Spec;
use compat::golog;
use compat::models::{paths, Topom};
use compat::rest::DashboardApi;
use tracing_subscriber::filter::LevelFilter;

#[global_allocator]
static GLOBAL: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

const USAGE: &str = "Usage:
	codis-proxy [--ncpu=N [--max-ncpu=MAX]] [--config=CONF] [--log=FILE] [--log-level=LEVEL] [--host-admin=ADDR] [--host-proxy=ADDR] [--dashboard=ADDR|--zookeeper=ADDR [--zookeeper-auth=USR:PWD]|--etcd=ADDR [--etcd-auth=USR:PWD]|--filesystem=ROOT|--fillslots=FILE] [--ulimit=NLIMIT] [--pidfile=FILE] [--product_name=NAME] [--product_auth=AUTH] [--session_auth=AUTH]
	codis-proxy  --default-config
	codis-proxy  --version

Options:
	--ncpu=N                    set runtime.GOMAXPROCS to N, default is runtime.NumCPU().
	-c CONF, --config=CONF      run with the specific configuration.
	-l FILE, --log=FILE         set path/name of daliy rotated log file.
	--log-level=LEVEL           set the log-level, should be INFO,WARN,DEBUG or ERROR, default is INFO.
	--ulimit=NLIMIT             run 'ulimit -n' to check the maximum number of open file descriptors.
";

/// How the proxy goes online.
enum Online {
    Manual,
    Dashboard(String),
    Coordinator(Spec),
    FillSlots(Vec<Slot>),
}

struct Args {
    ncpu: Option<usize>,
    max_ncpu: Option<i64>,
    log: Option<String>,
    log_level: &'static str,
    ulimit: Option<i64>,
    pidfile: Option<String>,
    config: Config,
    online: Online,
}

fn parse_args() -> Result<Option<Args>, String> {
    let mut opts: Vec<(String, String)> = Vec::new();
    let mut it = std::env::args().skip(1);
    while let Some(arg) = it.next() {
        match arg.as_str() {
            "--default-config" => {
                print!("{PROXY_DEFAULT_CONFIG_OUTPUT}");
                return Ok(None);
            }
            "--version" => {
                println!("version: {}", admin::views::VERSION);
                println!("compile: {}", admin::views::COMPILE);
                return Ok(None);
            }
            "-h" | "--help" => {
                print!("{USAGE}");
                return Ok(None);
            }
            _ => {}
        }
        let (name, value) = match arg.split_once('=') {
            Some((n, v)) if n.starts_with("--") => (n.to_string(), v.to_string()),
            _ => (arg.clone(), it.next().ok_or_else(|| format!("option {arg} needs a value\n{USAGE}"))?),
        };
        let name = match name.as_str() {
            "-c" => "--config".to_string(),
            "-l" => "--log".to_string(),
            _ => name,
        };
        const KNOWN: &[&str] = &[
            "--ncpu",
            "--max-ncpu",
            "--config",
            "--log",
            "--log-level",
            "--host-admin",
            "--host-proxy",
            "--dashboard",
            "--zookeeper",
            "--zookeeper-auth",
            "--etcd",
            "--etcd-auth",
            "--filesystem",
            "--fillslots",
            "--ulimit",
            "--pidfile",
            "--product_name",
            "--product_auth",
            "--session_auth",
        ];
        if !KNOWN.contains(&name.as_str()) {
            return Err(format!("unknown option {name}\n{USAGE}"));
        }
        opts.push((name, value));
    }
    let get = |n: &str| opts.iter().rev().find(|(k, _)| k == n).map(|(_, v)| v.clone());
    let modes = ["--dashboard", "--zookeeper", "--etcd", "--filesystem", "--fillslots"];
    if modes.iter().filter(|m| get(m).is_some()).count() > 1 {
        return Err(format!("only one of --dashboard, --zookeeper, --etcd, --filesystem, --fillslots\n{USAGE}"));
    }
    if get("--zookeeper-auth").is_some() && get("--zookeeper").is_none()
        || get("--etcd-auth").is_some() && get("--etcd").is_none()
    {
        return Err(format!("--zookeeper-auth/--etcd-auth need --zookeeper/--etcd\n{USAGE}"));
    }
    let int = |n: &str| -> Result<Option<i64>, String> {
        get(n).map(|v| v.parse::<i64>().map_err(|_| format!("parse argument {n} = {v:?} failed"))).transpose()
    };

    let log_level = match get("--log-level") {
        Some(v) => parse_log_level(&v).ok_or_else(|| format!("option --log-level = {v}"))?,
        None => "info",
    };
    let mut file = ProxyConfig::default();
    if let Some(path) = get("--config") {
        file = ProxyConfig::load_from_file(&path).map_err(|e| format!("load config {path} failed: {e}"))?;
    }
    if let Some(v) = get("--host-admin") {
        file.host_admin = v;
    }
    if let Some(v) = get("--host-proxy") {
        file.host_proxy = v;
    }
    if let Some(v) = get("--product_name") {
        file.product_name = v;
    }
    if let Some(v) = get("--product_auth") {
        file.product_auth = v;
    }
    if let Some(v) = get("--session_auth") {
        file.session_auth = v;
    }
    let online = if let Some(d) = get("--dashboard") {
        Online::Dashboard(d)
    } else if let Some(a) = get("--zookeeper") {
        Online::Coordinator(spec("zookeeper", &a, &get("--zookeeper-auth").unwrap_or_default())?)
    } else if let Some(a) = get("--etcd") {
        Online::Coordinator(spec("etcd", &a, &get("--etcd-auth").unwrap_or_default())?)
    } else if let Some(a) = get("--filesystem") {
        Online::Coordinator(spec("filesystem", &a, "")?)
    } else if let Some(path) = get("--fillslots") {
        let text = std::fs::read(&path).map_err(|e| format!("load slots from file failed: {path}: {e}"))?;
        let slots: Vec<Slot> =
            serde_json::from_slice(&text).map_err(|e| format!("decode slots from json failed: {e}"))?;
        Online::FillSlots(slots)
    } else {
        Online::Manual
    };
    Ok(Some(Args {
        ncpu: int("--ncpu")?.map(|n| n.max(1) as usize),
        max_ncpu: int("--max-ncpu")?,
        log: get("--log"),
        log_level,
        ulimit: int("--ulimit")?,
        pidfile: get("--pidfile"),
        config: Config::from_toml(&file),
        online,
    }))
}

fn spec(name: &str, addr: &str, auth: &str) -> Result<Spec, String> {
    Spec::new(name, addr, auth).map_err(|e| e.to_string())
}

/// Go's log layout to stderr or the daily rolling `--log` file (shared with the dashboard and
/// fe: `compat::golog`). `level` is one of `parse_log_level`'s names.
fn init_logging(args: &Args) {
    let level = |name: &str| name.parse::<LevelFilter>().unwrap_or(LevelFilter::INFO);
    golog::init(args.log.as_deref(), level(args.log_level));
    admin::set_log_level_handler(move |name| golog::set_level_filter(level(name)));
}

/// `--ulimit=N`: the shell's `ulimit -n` must be at least N.
fn check_ulimit(n: i64) -> Result<(), String> {
    let out = std::process::Command::new("/bin/sh")
        .args(["-c", "ulimit -n"])
        .output()
        .map_err(|e| format!("run ulimit -n failed: {e}"))?;
    let text = String::from_utf8_lossy(&out.stdout);
    let v: i64 = match text.trim() {
        "unlimited" => i64::MAX,
        t => t.parse().map_err(|_| format!("ulimit too small: {t}, should be at least {n}"))?,
    };
    if v < n {
        return Err(format!("ulimit too small: {v}, should be at least {n}"));
    }
    Ok(())
}

fn main() -> ExitCode {
    compat::models::gotime::process_start();
    let args = match parse_args() {
        Ok(Some(a)) => a,
        Ok(None) => return ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::FAILURE;
        }
    };
    init_logging(&args);
    if let Some(n) = args.ulimit {
        if let Err(e) = check_ulimit(n) {
            tracing::error!("{e}");
            eprintln!("{e}");
            return ExitCode::FAILURE;
        }
    }
    let workers = args.ncpu.unwrap_or_else(|| std::thread::available_parallelism().map(|n| n.get()).unwrap_or(2));
    // Go grows GOMAXPROCS towards --max-ncpu under load; the per-core workers here are fixed
    // at start (each holds its clients and backend connections), so it is only reported.
    tracing::warn!("set ncpu = {workers}, max-ncpu = {}", args.max_ncpu.unwrap_or(0));
    // Sessions run on one single-threaded runtime per worker (before any slot is filled).
    if let Err(e) = codis_proxy::percore::start(workers) {
        eprintln!("codis-proxy: cannot start workers: {e}");
        return ExitCode::FAILURE;
    }
    let rt = match tokio::runtime::Builder::new_multi_thread().worker_threads(workers.max(1)).enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("codis-proxy: cannot start runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let result = rt.block_on(run(args));
    // Sessions and background tasks end with the runtime; do not wait for idle clients.
    rt.shutdown_timeout(Duration::from_millis(100));
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!("{e}");
            eprintln!("codis-proxy: {e}");
            ExitCode::FAILURE
        }
    }
}

/// Removes the pidfile when dropped.
struct PidFile(std::path::PathBuf);

impl Drop for PidFile {
    fn drop(&mut self) {
        if let Err(e) = std::fs::remove_file(&self.0) {
            tracing::warn!("remove pidfile = '{}' failed: {e}", self.0.display());
        }
    }
}

async fn run(args: Args) -> Result<(), String> {
    let toml = args.config.to_toml().to_toml_string();
    let proxy =
        Proxy::launch(args.config).await.map_err(|e| format!("create proxy with config file failed: {e}\n{toml}"))?;
    tracing::warn!("create proxy with config\n{toml}");

    let _pidfile = match &args.pidfile {
        Some(p) => {
            let path = std::path::absolute(p).map_err(|e| format!("parse pidfile = '{p}' failed: {e}"))?;
            match std::fs::write(&path, std::process::id().to_string()) {
                Ok(()) => {
                    tracing::warn!("option --pidfile = {}", path.display());
                    Some(PidFile(path))
                }
                Err(e) => {
                    tracing::warn!("write pidfile = '{}' failed: {e}", path.display());
                    None
                }
            }
        }
        None => None,
    };

    let p = proxy.clone();
    tokio::spawn(async move {
        use tokio::signal::unix::{signal, SignalKind};
        let (Ok(mut term), Ok(mut int)) = (signal(SignalKind::terminate()), signal(SignalKind::interrupt())) else {
            tracing::error!("cannot install signal handlers");
            return;
        };
        let sig = tokio::select! {
            _ = term.recv() => "terminated",
            _ = int.recv() => "interrupt",
        };
        tracing::warn!("proxy receive signal = '{sig}'");
        p.close().await;
    });

    let (fail_tx, mut fail_rx) = tokio::sync::mpsc::channel::<String>(1);
    let p = proxy.clone();
    tokio::spawn(async move {
        let r = match args.online {
            Online::Manual => Ok(()),
            Online::Dashboard(addr) => online_with_dashboard(&p, &addr).await,
            Online::Coordinator(spec) => online_with_coordinator(&p, &spec).await,
            Online::FillSlots(slots) => match p.fill_slots(&slots).await {
                Ok(()) => p.try_start().map_err(|e| format!("start proxy failed: {e}")),
                Err(e) => Err(format!("fill slots failed: {e}")),
            },
        };
        if let Err(e) = r {
            let _ = fail_tx.send(e).await;
        }
    });

    let mut waiting = tokio::time::interval(Duration::from_secs(1));
    while !proxy.is_closed() && !proxy.is_online() {
        tracing::warn!("proxy waiting online ...");
        tokio::select! {
            _ = waiting.tick() => {}
            Some(e) = fail_rx.recv() => {
                proxy.close().await;
                return Err(e);
            }
        }
    }
    tokio::select! {
        _ = proxy.closed() => {}
        Some(e) = fail_rx.recv() => {
            proxy.close().await;
            return Err(e);
        }
    }
    tracing::warn!("proxy is exiting ...");
    Ok(())
}

/// Go's `AutoOnlineWithDashboard`.
async fn online_with_dashboard(p: &Proxy, addr: &str) -> Result<(), String> {
    for _ in 0..10 {
        if p.is_closed() || p.is_online() {
            return Ok(());
        }
        if online_proxy(p, addr).await? {
            return Ok(());
        }
        tokio::time::sleep(Duration::from_secs(3)).await;
    }
    Err("online proxy failed".into())
}

/// Go's `AutoOnlineWithCoordinator`: the dashboard's address comes from the topom node.
async fn online_with_coordinator(p: &Proxy, spec: &Spec) -> Result<(), String> {
    let client = spec
        .connect(Duration::from_secs(60))
        .await
        .map_err(|e| format!("create '{}' client to '{}' failed: {e}", spec.kind.name(), spec.addr))?;
    let path = paths::lock_path(&p.config().product_name);
    let mut result = Err("online proxy failed".to_string());
    for _ in 0..30 {
        if p.is_closed() || p.is_online() {
            result = Ok(());
            break;
        }
        match client.read(&path, false).await {
            Err(e) => tracing::warn!(error = %e, "load & decode topom failed"),
            Ok(None) => {}
            Ok(Some(b)) => match Topom::decode(&b) {
                Err(e) => tracing::warn!(error = %e, "load & decode topom failed"),
                Ok(t) => {
                    if online_proxy(p, &t.admin_addr).await? {
                        result = Ok(());
                        break;
                    }
                }
            },
        }
        tokio::time::sleep(Duration::from_secs(3)).await;
    }
    let _ = client.close().await;
    result
}

/// Go's `OnlineProxy`: `Ok(true)` once the dashboard accepted us; a dashboard of another product
/// is fatal.
async fn online_proxy(p: &Proxy, dashboard: &str) -> Result<bool, String> {
    let mut client = DashboardApi::new(dashboard);
    let t = match client.model().await {
        Ok(t) => t,
        Err(e) => {
            tracing::warn!(error = %e, "rpc fetch model failed");
            return Ok(false);
        }
    };
    let product = &p.config().product_name;
    if &t.product_name != product {
        return Err(format!("unexcepted product name, got model =\n{}", String::from_utf8_lossy(&t.encode())));
    }
    client.set_xauth(product);
    match client.online_proxy(&p.model().admin_addr).await {
        Ok(()) => {
            tracing::warn!("rpc online proxy seems OK");
            Ok(true)
        }
        Err(e) => {
            tracing::warn!(error = %e, "rpc online proxy failed");
            Ok(false)
        }
    }
}
