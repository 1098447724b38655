//! codis-server: a Redis-compatible data server with Codis slots.

use std::sync::Arc;
use std::time::Duration;

use tikv_jemallocator::Jemalloc;

#[global_allocator]
static GLOBAL: Jemalloc = Jemalloc;

mod client;
mod cmd;
mod config;
mod db;
mod longdouble;
mod pubsub;
mod net;
mod sds;
mod server;
mod util;

use config::Config;
use server::Shared;

const USAGE: &str = "Usage: ./codis-server [/path/to/redis.conf] [options]
       ./codis-server - (read config from stdin)
       ./codis-server -v or --version
       ./codis-server -h or --help

Examples:
       ./codis-server (run the server with default conf)
       ./codis-server /etc/redis/6379.conf
       ./codis-server --port 7777
       ./codis-server --port 7777 --slaveof 127.0.0.1 8888
       ./codis-server /etc/myredis.conf --loglevel verbose
";

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.first().map(String::as_str) {
        Some("-v") | Some("--version") => {
            println!("Redis server v=3.2.11 sha=00000000:0 malloc=jemalloc bits=64 build=rcodis-{}", env!("CARGO_PKG_VERSION"));
            return;
        }
        Some("-h") | Some("--help") => {
            eprint!("{USAGE}");
            std::process::exit(1);
        }
        _ => {}
    }
    let config = match Config::from_args(&args) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("{e}");
            std::process::exit(1);
        }
    };
    init_logging(&config);
    let hz = config.hz.clamp(1, 500);
    let pidfile = config.pidfile.clone();
    let pidfile_in = pidfile.clone();
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().expect("tokio runtime");
    let code = rt.block_on(async move {
        let shared = Arc::new(Shared::new(config));
        let listeners = match net::listener::bind_all(&shared).await {
            Ok(l) => l,
            Err(e) => {
                tracing::error!("{e:#}");
                return 1;
            }
        };
        if let Some(p) = &pidfile_in {
            let _ = std::fs::write(p, format!("{}\n", std::process::id()));
        }
        for l in listeners {
            tokio::spawn(net::listener::accept_loop(shared.clone(), l));
        }
        tokio::spawn(cron(shared.clone(), hz));
        tracing::info!(pid = std::process::id(), "The server is now ready to accept connections");
        tokio::select! {
            _ = shared.shutdown.notified() => {}
            _ = tokio::signal::ctrl_c() => {}
            _ = sigterm() => {}
        }
        tracing::info!("Redis is now ready to exit, bye bye...");
        0
    });
    if let Some(p) = &pidfile {
        let _ = std::fs::remove_file(p);
    }
    std::process::exit(code);
}

async fn sigterm() {
    if let Ok(mut s) = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
        s.recv().await;
    } else {
        std::future::pending::<()>().await
    }
}

/// Background jobs run `hz` times a second: active expiry (at most 25% of each period).
async fn cron(shared: Arc<Shared>, hz: u32) {
    let period = Duration::from_millis(1000 / hz as u64);
    let mut tick = tokio::time::interval(period);
    loop {
        tick.tick().await;
        util::clock::resync();
        let mut st = shared.state.lock();
        st.active_expire_cycle(period / 4);
    }
}

fn init_logging(config: &Config) {
    let level = match config.loglevel.as_str() {
        "debug" => "debug",
        "verbose" => "info",
        "warning" => "warn",
        _ => "info",
    };
    let filter = tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(level));
    let builder = tracing_subscriber::fmt().with_env_filter(filter).with_ansi(false);
    if config.logfile.is_empty() {
        builder.with_writer(std::io::stdout).init();
    } else {
        match std::fs::OpenOptions::new().create(true).append(true).open(&config.logfile) {
            Ok(f) => builder.with_writer(std::sync::Mutex::new(f)).init(),
            Err(_) => builder.with_writer(std::io::stdout).init(),
        }
    }
}
