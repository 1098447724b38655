//! The server log, in Redis 3.2's format:
//!
//! ```text
//! 25154:M 22 Nov 02:27:56.758 * The server is now ready to accept connections on port 7311
//! ```
//!
//! `pid:role day month time.ms level-mark message`, where the mark is `.` debug, `-` verbose,
//! `*` notice, `#` warning. `tracing` levels map to them: TRACE = debug, DEBUG = verbose,
//! INFO = notice, WARN and ERROR = warning. The level follows `loglevel` (CONFIG SET changes it
//! at once); `RUST_LOG`, when set, overrides it with a per-module filter for development.
//! Like Redis, the log file is opened for every line, so it can be rotated by renaming it.

use std::io::Write;
use std::sync::atomic::{AtomicU8, Ordering};

use parking_lot::Mutex;
use tracing::field::{Field, Visit};
use tracing::{Event, Level, Subscriber};
use tracing_subscriber::layer::{Context, Layer};
use tracing_subscriber::prelude::*;

pub const DEBUG: u8 = 0;
pub const VERBOSE: u8 = 1;
pub const NOTICE: u8 = 2;
pub const WARNING: u8 = 3;

static LEVEL: AtomicU8 = AtomicU8::new(NOTICE);
/// `M` master, `S` replica, `C` child process (Redis's role marks).
static ROLE: AtomicU8 = AtomicU8::new(b'M');
/// Empty: standard output.
static LOGFILE: Mutex<String> = parking_lot::const_mutex(String::new());

/// Sets the level from a `loglevel` value.
pub fn set_level(name: &str) {
    let l = match name {
        "debug" => DEBUG,
        "verbose" => VERBOSE,
        "warning" => WARNING,
        _ => NOTICE,
    };
    LEVEL.store(l, Ordering::Relaxed);
}

/// Sets the role mark printed after the pid (`M` or `S`).
#[allow(dead_code)] // For the replication module.
pub fn set_role(mark: u8) {
    ROLE.store(mark, Ordering::Relaxed);
}

fn redis_level(l: &Level) -> u8 {
    match *l {
        Level::TRACE => DEBUG,
        Level::DEBUG => VERBOSE,
        Level::INFO => NOTICE,
        _ => WARNING,
    }
}

fn mark(level: u8) -> char {
    ['.', '-', '*', '#'][level as usize]
}

/// `pid:M 22 Nov 02:27:56.758 ` (the text before the level mark).
pub fn prefix() -> String {
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default();
    let secs = now.as_secs() as libc::time_t;
    let ms = now.subsec_millis();
    let mut buf = [0u8; 64];
    // SAFETY: localtime_r fills `tm`; strftime writes at most buf.len() bytes, NUL included.
    let n = unsafe {
        let mut tm: libc::tm = std::mem::zeroed();
        libc::localtime_r(&secs, &mut tm);
        libc::strftime(buf.as_mut_ptr() as *mut libc::c_char, buf.len(), c"%d %b %H:%M:%S".as_ptr(), &tm)
    };
    let date = String::from_utf8_lossy(&buf[..n]);
    format!("{}:{} {date}.{ms:03} ", std::process::id(), ROLE.load(Ordering::Relaxed) as char)
}

/// Writes one line to the log (file or stdout).
pub fn write_line(level: u8, msg: &str) {
    let line = format!("{}{} {msg}\n", prefix(), mark(level));
    let file = LOGFILE.lock().clone();
    if file.is_empty() {
        let _ = std::io::stdout().lock().write_all(line.as_bytes());
    } else if let Ok(mut f) = std::fs::OpenOptions::new().create(true).append(true).open(&file) {
        let _ = f.write_all(line.as_bytes());
    }
}

/// Installs the global logger for `loglevel`/`logfile`.
pub fn init(loglevel: &str, logfile: &str) {
    set_level(loglevel);
    *LOGFILE.lock() = logfile.to_string();
    let env = std::env::var("RUST_LOG").ok().and_then(|_| tracing_subscriber::EnvFilter::try_from_default_env().ok());
    let registry = tracing_subscriber::registry();
    match env {
        Some(filter) => {
            let _ = registry.with(RedisFormat { use_env: true }.with_filter(filter)).try_init();
        }
        None => {
            let _ = registry.with(RedisFormat { use_env: false }).try_init();
        }
    }
}

struct RedisFormat {
    use_env: bool,
}

impl<S: Subscriber> Layer<S> for RedisFormat {
    fn register_callsite(&self, _meta: &'static tracing::Metadata<'static>) -> tracing::subscriber::Interest {
        // Asked on every event: the level may change at run time.
        tracing::subscriber::Interest::sometimes()
    }

    fn enabled(&self, meta: &tracing::Metadata<'_>, _ctx: Context<'_, S>) -> bool {
        self.use_env || redis_level(meta.level()) >= LEVEL.load(Ordering::Relaxed)
    }

    fn on_event(&self, event: &Event<'_>, _ctx: Context<'_, S>) {
        let level = redis_level(event.metadata().level());
        if !self.use_env && level < LEVEL.load(Ordering::Relaxed) {
            return;
        }
        let mut v = MessageVisitor::default();
        event.record(&mut v);
        write_line(level, &v.text);
    }
}

#[derive(Default)]
struct MessageVisitor {
    text: String,
}

impl Visit for MessageVisitor {
    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        if field.name() == "message" {
            let fields = std::mem::take(&mut self.text);
            self.text = format!("{value:?}{fields}");
        } else {
            self.text.push_str(&format!(" {}={value:?}", field.name()));
        }
    }

    fn record_str(&mut self, field: &Field, value: &str) {
        if field.name() == "message" {
            let fields = std::mem::take(&mut self.text);
            self.text = format!("{value}{fields}");
        } else {
            self.text.push_str(&format!(" {}={value}", field.name()));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefix_shape() {
        let p = prefix();
        // "1234:M 22 Nov 02:27:56.758 "
        let (pid, rest) = p.split_once(':').unwrap();
        assert!(pid.parse::<u32>().is_ok());
        assert!(rest.starts_with("M "));
        let parts: Vec<&str> = rest.trim_end().split(' ').collect();
        assert_eq!(parts.len(), 4, "{p}");
        assert_eq!(parts[1].len(), 2);
        assert_eq!(parts[2].len(), 3);
        assert_eq!(parts[3].len(), "02:27:56.758".len());
    }

    #[test]
    fn levels() {
        assert_eq!(mark(redis_level(&Level::WARN)), '#');
        assert_eq!(mark(redis_level(&Level::INFO)), '*');
        assert_eq!(mark(redis_level(&Level::DEBUG)), '-');
        assert_eq!(mark(redis_level(&Level::TRACE)), '.');
    }
}
