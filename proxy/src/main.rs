//! `codis-proxy`: command line as in Codis 3.2 (`a_help_codis-proxy.txt`), for the options the
//! data path needs: `--config`, `--default-config`, `--host-proxy`, `--ncpu`, `--fillslots`,
//! `--product_name`, `--product_auth`, `--session_auth`, `--log-level`, `--pidfile`.

use std::process::ExitCode;

use codis_proxy::{Config, Proxy, Slot};
use compat::config::{ProxyConfig, PROXY_DEFAULT_CONFIG_OUTPUT};

#[global_allocator]
static GLOBAL: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

const USAGE: &str = "Usage:
	codis-proxy [--ncpu=N] [--config=CONF] [--log-level=LEVEL] [--host-proxy=ADDR] [--fillslots=FILE] [--pidfile=FILE] [--product_name=NAME] [--product_auth=AUTH] [--session_auth=AUTH]
	codis-proxy  --default-config
	codis-proxy  --version";

struct Args {
    ncpu: Option<usize>,
    log_level: String,
    fillslots: Option<String>,
    pidfile: Option<String>,
    config: Config,
    host_proxy: Option<String>,
}

fn parse_args() -> Result<Option<Args>, String> {
    let mut a = Args {
        ncpu: None,
        log_level: "info".into(),
        fillslots: None,
        pidfile: None,
        config: Config::default(),
        host_proxy: None,
    };
    let mut overrides = Vec::new();
    let mut it = std::env::args().skip(1);
    while let Some(arg) = it.next() {
        if arg == "--default-config" {
            print!("{PROXY_DEFAULT_CONFIG_OUTPUT}");
            return Ok(None);
        }
        if arg == "--version" {
            println!("version: {}", env!("CARGO_PKG_VERSION"));
            return Ok(None);
        }
        if arg == "-h" || arg == "--help" {
            println!("{USAGE}");
            return Ok(None);
        }
        let (name, value) = match arg.split_once('=') {
            Some((n, v)) => (n.to_string(), v.to_string()),
            None => (arg.clone(), it.next().ok_or_else(|| format!("option {arg} needs a value\n{USAGE}"))?),
        };
        match name.as_str() {
            "--ncpu" => a.ncpu = Some(value.parse().map_err(|_| format!("invalid --ncpu={value}"))?),
            "--log-level" => a.log_level = value.to_ascii_lowercase(),
            "-c" | "--config" => {
                let c = ProxyConfig::load_from_file(&value).map_err(|e| format!("load config {value} failed: {e}"))?;
                a.config = Config::from_toml(&c);
            }
            "--host-proxy" => a.host_proxy = Some(value),
            "--fillslots" => a.fillslots = Some(value),
            "--pidfile" => a.pidfile = Some(value),
            "--product_name" | "--product_auth" | "--session_auth" => overrides.push((name, value)),
            other => return Err(format!("unknown option {other}\n{USAGE}")),
        }
    }
    // Command-line values win over the config file, whatever their order.
    for (name, value) in overrides {
        match name.as_str() {
            "--product_name" => a.config.product_name = value,
            "--product_auth" => a.config.product_auth = value,
            _ => a.config.session_auth = value,
        }
    }
    Ok(Some(a))
}

fn main() -> ExitCode {
    let args = match parse_args() {
        Ok(Some(a)) => a,
        Ok(None) => return ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::FAILURE;
        }
    };
    let filter = tracing_subscriber::EnvFilter::try_new(&args.log_level)
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr).init();
    let workers = args.ncpu.unwrap_or_else(|| std::thread::available_parallelism().map(|n| n.get()).unwrap_or(2));
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
    match rt.block_on(run(args)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("codis-proxy: {e}");
            ExitCode::FAILURE
        }
    }
}

async fn run(args: Args) -> Result<(), String> {
    let slots: Option<Vec<Slot>> = match &args.fillslots {
        Some(path) => {
            let text = std::fs::read(path).map_err(|e| format!("load slots from file {path} failed: {e}"))?;
            Some(serde_json::from_slice(&text).map_err(|e| format!("decode slots from json failed: {e}"))?)
        }
        None => None,
    };
    // --host-proxy is the address announced to others in Go; with no coordinator yet it is also
    // where this proxy listens.
    let addr = args.host_proxy.clone().unwrap_or_else(|| args.config.proxy_addr.clone());
    let proxy = Proxy::new(args.config)?;
    let listener = tokio::net::TcpListener::bind(&addr).await.map_err(|e| format!("listen on {addr} failed: {e}"))?;
    tracing::warn!("proxy start service on {}", listener.local_addr().map(|a| a.to_string()).unwrap_or(addr));
    if let Some(p) = &args.pidfile {
        std::fs::write(p, format!("{}\n", std::process::id())).map_err(|e| format!("write pidfile {p}: {e}"))?;
    }
    if let Some(slots) = slots {
        proxy.fill_slots(&slots).await.map_err(|e| format!("fill slots failed: {e}"))?;
        proxy.start();
        tracing::warn!("proxy is working ...");
    }
    codis_proxy::percore::serve(proxy, listener).await.map_err(|e| format!("proxy exit on error: {e}"))
}
