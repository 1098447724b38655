//! codis-admin (`cmd/admin`): talks to a proxy (`--proxy`), a dashboard (`--dashboard`) or
//! straight to the coordinator (`--remove-lock`, `--config-*`, `--dashboard-list`). Output is
//! Go's: JSON indented by 4 spaces and a newline; failures are `[PANIC]` lines and exit 1.
//!
//! Beyond Codis: `--wait` after a slot command shows a progress bar until the migration is
//! done, and `CODIS_ADMIN_AUTH` is sent as the dashboard's `admin_auth` when set.

pub mod config;
mod dash;
mod proxy;

use compat::rest::RestError;

use crate::args::{Args, Spec};
use crate::golog::panic_exit;
use crate::usage;

const SPEC: Spec = Spec {
    values: &[
        "--proxy",
        "--auth",
        "--log-level",
        "--fillslots",
        "--dashboard",
        "--beg",
        "--end",
        "--gid",
        "--addr",
        "--token",
        "--pid",
        "--datacenter",
        "--sid",
        "--gid-from",
        "--gid-to",
        "--num-slots",
        "--interval",
        "--disabled",
        "--product",
        "--zookeeper",
        "--zookeeper-auth",
        "--etcd",
        "--etcd-auth",
        "--filesystem",
        "--config-convert",
        "--config-restore",
    ],
    flags: &[
        "-v",
        "-1",
        "--start",
        "--shutdown",
        "--locked",
        "--reset-stats",
        "--forcegc",
        "--reload",
        "--slots-assign",
        "--offline",
        "--confirm",
        "--slots-status",
        "--list-proxy",
        "--create-proxy",
        "--online-proxy",
        "--remove-proxy",
        "--reinit-proxy",
        "--force",
        "--all",
        "--proxy-status",
        "--list-group",
        "--create-group",
        "--remove-group",
        "--resync-group",
        "--group-add",
        "--group-del",
        "--group-status",
        "--replica-groups",
        "--enable",
        "--disable",
        "--promote-server",
        "--sync-action",
        "--create",
        "--remove",
        "--slot-action",
        "--create-some",
        "--create-range",
        "--rebalance",
        "--sentinel-add",
        "--sentinel-del",
        "--sentinel-resync",
        "--remove-lock",
        "--config-dump",
        "--dashboard-list",
        "--wait",
    ],
    words: &["config", "model", "stats", "slots", "group", "proxy"],
    aliases: &[("-a", "--auth"), ("-x", "--addr"), ("-t", "--token"), ("-g", "--gid")],
};

/// Go's `log.PanicErrorf(err, msg)` for a failed REST call.
pub(crate) async fn panic_rest(msg: &str, e: &RestError) -> ! {
    let cause = rest_cause(e).await;
    panic_exit("admin.rs", msg, Some(&cause))
}

/// The `[error]:` text Go printed for a REST failure.
pub(crate) async fn rest_cause(e: &RestError) -> String {
    match e {
        RestError::Remote(r) => format!("[Remote Error] {}", r.cause),
        RestError::Transport { method, url, .. } => {
            let addr = url.trim_start_matches("http://").split('/').next().unwrap_or("").to_string();
            crate::goerr::rest_error_text(e, method, url, &addr).await
        }
        other => other.to_string(),
    }
}

/// Parses the line and runs the verb; returns the exit status.
pub fn main(argv: Vec<String>) -> i32 {
    compat::models::gotime::process_start();
    let args = match Args::parse(argv, &SPEC) {
        Ok(a) if !a.is_empty() => a,
        _ => {
            print!("{}", usage::ADMIN);
            return 1;
        }
    };
    if args.flag("--help") {
        print!("{}", usage::ADMIN);
        return 0;
    }
    let level = if args.flag("-v") {
        tracing_subscriber::filter::LevelFilter::DEBUG
    } else {
        tracing_subscriber::filter::LevelFilter::INFO
    };
    crate::golog::init(None, level);
    let rt = match tokio::runtime::Builder::new_current_thread().enable_all().build() {
        Ok(rt) => rt,
        Err(e) => panic_exit("admin.rs", "create runtime failed", Some(&e.to_string())),
    };
    rt.block_on(async {
        if args.get("--proxy").is_some() {
            proxy::run(&args).await
        } else if args.get("--dashboard").is_some() {
            dash::run(&args).await
        } else {
            config::run(&args).await
        }
    })
}

/// `fmt.Println(string(json.MarshalIndent(v, "", "    ")))`.
pub(crate) fn print_json<T: serde::Serialize + ?Sized>(v: &T) {
    println!("{}", compat::models::json::to_string_indent(v));
}

pub(crate) fn must<'a>(a: &'a Args, name: &str) -> &'a str {
    match a.get(name) {
        Some(v) => v,
        None => panic_exit("admin.rs", &format!("parse argument {name} failed"), None),
    }
}

pub(crate) fn must_int(a: &Args, name: &str) -> i64 {
    match a.int(name) {
        Ok(Some(v)) => v,
        Ok(None) => panic_exit("admin.rs", &format!("parse argument {name} failed"), None),
        Err(e) => panic_exit("admin.rs", &e, None),
    }
}
