//! codis-server: a Redis-compatible data server with Codis slots.

use std::sync::Arc;
use std::time::Duration;

/// jemalloc, counting allocated bytes for INFO and `maxmemory` (see `evict::mem`).
#[global_allocator]
static GLOBAL: evict::mem::CountingJemalloc = evict::mem::CountingJemalloc;

mod blocking;
mod client;
mod cmd;
mod config;
mod db;
mod evict;
mod longdouble;
mod migrate;
mod net;
mod observe;
mod persist;
mod pqsort;
mod pubsub;
mod repl;
mod scripting;
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

/// Where a daemonized server writes its pid when no `pidfile` is configured (as Redis).
const DEFAULT_PIDFILE: &str = "/var/run/redis.pid";

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.first().map(String::as_str) {
        Some("-v") | Some("--version") => {
            println!(
                "Redis server v=3.2.11 sha=00000000:0 malloc=jemalloc bits=64 build=rcodis-{}",
                env!("CARGO_PKG_VERSION")
            );
            return;
        }
        Some("-h") | Some("--help") => {
            eprint!("{USAGE}");
            std::process::exit(1);
        }
        _ => {}
    }
    let mut config = match Config::from_args(&args) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("{e}");
            std::process::exit(1);
        }
    };
    // Fork before any thread exists (the runtime starts below).
    if config.daemonize {
        daemonize();
        if config.pidfile.is_none() {
            config.pidfile = Some(DEFAULT_PIDFILE.into());
        }
    }
    config::logging::init(&config.loglevel, &config.logfile);
    // A panic in a connection task is caught by the runtime and only drops that client's
    // socket: say so in the log, where an operator (or a failing test) looks.
    let default_hook = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        tracing::error!("panic: {info}");
        default_hook(info);
    }));
    tracing::warn!("Server started, Redis version {}", cmd::connection::REDIS_VERSION);
    let port = config.port;
    let pidfile = config.pidfile.clone();
    let pidfile_in = pidfile.clone();
    // `io-threads` (Redis's default 1): the threads serving sockets. Commands run one at a time
    // under the state lock whatever the count; with more threads, reads, parsing and writes of
    // different connections overlap, at the price of handing the lock between threads, which
    // costs more than it saves when the clients share the machine (docs/benchmarks.md).
    let io_threads = config.get("io-threads").and_then(|v| v.parse::<usize>().ok()).unwrap_or(1).clamp(1, 128);
    // Replies are written before a socket thread waits for events (net::deferred).
    let replies = Arc::new(net::deferred::ReplyFlush::default());
    let flush_on_park = replies.clone();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(io_threads)
        .on_thread_park(move || flush_on_park.flush())
        .thread_stack_size(32 << 20)
        .enable_all()
        .build()
        .expect("tokio runtime");
    let code = rt.block_on(async move {
        let mut shared = Shared::new(config);
        replies.enable();
        shared.replies = replies;
        let shared = Arc::new(shared);
        // The dataset is loaded before the server listens, as Redis does.
        if let Err(e) = persist::load_at_startup(&mut shared.state.lock()) {
            tracing::warn!("{e}");
            return 1;
        }
        let listeners = match net::listener::bind_all(&shared).await {
            Ok(l) => l,
            Err(e) => {
                tracing::warn!("{e:#}");
                return 1;
            }
        };
        if let Some(p) = &pidfile_in {
            if let Err(e) = std::fs::write(p, format!("{}\n", std::process::id())) {
                tracing::warn!("Failed to write PID file: {}", config::values::strerror(&e));
            }
        }
        for l in listeners {
            tokio::spawn(net::listener::accept_loop(shared.clone(), l));
        }
        tokio::spawn(cron(shared.clone()));
        tokio::spawn(repl::replica::run(shared.clone()));
        tracing::info!("The server is now ready to accept connections on port {port}");
        let mut sigint = signal_stream(tokio::signal::unix::SignalKind::interrupt());
        let mut sigterm = signal_stream(tokio::signal::unix::SignalKind::terminate());
        loop {
            let name = tokio::select! {
                // SHUTDOWN already did its persistence work before replying.
                _ = shared.shutdown.notified() => break,
                _ = cmd::server::SHUTDOWN_REQUESTED.notified() => break,
                _ = next_signal(&mut sigint) => "SIGINT",
                _ = next_signal(&mut sigterm) => "SIGTERM",
            };
            tracing::warn!("Received {name} scheduling shutdown...");
            tracing::warn!("User requested shutdown...");
            // Save when save points are configured, fsync the AOF; keep running if the save
            // fails, as Redis does.
            if persist::prepare_shutdown(&mut shared.state.lock(), None) {
                break;
            }
            tracing::warn!(
                "{name} received but errors trying to shut down the server, check the logs for more information"
            );
        }
        0
    });
    if code == 0 {
        if let Some(p) = &pidfile {
            tracing::info!("Removing the pid file.");
            let _ = std::fs::remove_file(p);
        }
        tracing::warn!("Redis is now ready to exit, bye bye...");
    }
    // Don't wait for connection tasks: exit like Redis does.
    std::mem::forget(rt);
    std::process::exit(code);
}

fn signal_stream(kind: tokio::signal::unix::SignalKind) -> Option<tokio::signal::unix::Signal> {
    tokio::signal::unix::signal(kind).ok()
}

async fn next_signal(s: &mut Option<tokio::signal::unix::Signal>) {
    match s {
        Some(s) => {
            s.recv().await;
        }
        None => std::future::pending::<()>().await,
    }
}

/// Detaches from the terminal like Redis's `daemonize()`: fork (the parent exits), start a new
/// session, point stdin/stdout/stderr at /dev/null.
fn daemonize() {
    // SAFETY: called before any other thread exists; only async-signal-safe calls follow fork.
    unsafe {
        match libc::fork() {
            -1 => {
                eprintln!("fork: {}", std::io::Error::last_os_error());
                std::process::exit(1);
            }
            0 => {}
            _ => libc::_exit(0),
        }
        libc::setsid();
        let fd = libc::open(c"/dev/null".as_ptr(), libc::O_RDWR, 0);
        if fd != -1 {
            libc::dup2(fd, libc::STDIN_FILENO);
            libc::dup2(fd, libc::STDOUT_FILENO);
            libc::dup2(fd, libc::STDERR_FILENO);
            if fd > libc::STDERR_FILENO {
                libc::close(fd);
            }
        }
    }
}

/// Background jobs, `hz` times a second (re-read each round, so CONFIG SET hz applies): active
/// expiry (at most 25% of each period) and the INFO samples.
async fn cron(shared: Arc<Shared>) {
    loop {
        let hz = scripting::lock_state(&shared).await.config.hz.clamp(1, 500);
        let period = Duration::from_micros(1_000_000 / hz as u64);
        tokio::time::sleep(period).await;
        util::clock::resync();
        let mut st = scripting::lock_state(&shared).await;
        if cmd::server::active_expire_enabled() {
            st.active_expire_cycle(period / 4);
        }
        evict::cron(&mut st);
        cmd::server::cron_sample(&st);
        persist::cron(&mut st);
        repl::cron(&mut st);
    }
}
