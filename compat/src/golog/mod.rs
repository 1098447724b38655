//! The log of codis-proxy, codis-dashboard, codis-fe and codis-admin in Go Codis's layout
//! (`pkg/utils/log`: Go's `log` package with `LstdFlags|Lshortfile`):
//!
//! `2026/11/22 01:47:54 topom_slots.rs:240: [WARN] message`
//!
//! to stderr or, with `--log=FILE`, to the daily rolling `FILE.YYYY-MM-DD` ([`RollingFile`]).
//! The level (Go's names, default INFO) can be changed at run time (`PUT .../loglevel/...`).
//! Differences from Go, documented in docs/dashboard.md: the file:line is the Rust source,
//! structured fields follow the message as `key=value`, an error's cause is part of the message
//! rather than a second `[error]: ...` line (except for [`panic_exit`]), and ERROR lines carry no
//! `[stack]:` trace.

mod rolling;

pub use rolling::{local_date, Clock, RollingFile};

use std::fmt;
use std::io::Write;
use std::sync::{Mutex, OnceLock};

use tracing::{Event, Level, Subscriber};
use tracing_subscriber::filter::{LevelFilter, Targets};
use tracing_subscriber::fmt::format::Writer;
use tracing_subscriber::fmt::{FmtContext, FormatEvent, FormatFields, MakeWriter};
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::registry::LookupSpan;
use tracing_subscriber::{reload, Registry};

type Handle = reload::Handle<Targets, Registry>;

static HANDLE: OnceLock<Handle> = OnceLock::new();
static SINK: OnceLock<Sink> = OnceLock::new();

/// Crates whose events follow the level fully; libraries (hyper, reqwest, ...) are held at INFO
/// at most, as Go's DEBUG shows only Codis's own lines.
const OURS: &[&str] = &["compat", "codis_proxy", "dashboard", "codis_dashboard", "codis_fe", "codis_admin"];

/// Go's `LogLevel.ParseFromString`: `ERROR`, `DEBUG`, `WARN`/`WARNING`, `INFO`, `NONE`, any case.
pub fn parse_level(s: &str) -> Option<LevelFilter> {
    match s.to_ascii_uppercase().as_str() {
        "NONE" => Some(LevelFilter::OFF),
        "ERROR" => Some(LevelFilter::ERROR),
        "WARN" | "WARNING" => Some(LevelFilter::WARN),
        "INFO" => Some(LevelFilter::INFO),
        "DEBUG" => Some(LevelFilter::DEBUG),
        _ => None,
    }
}

fn targets(level: LevelFilter) -> Targets {
    OURS.iter().fold(Targets::new().with_default(level.min(LevelFilter::INFO)), |t, c| t.with_target(*c, level))
}

/// Changes the level by Go's name; false when the name is not one of Go's.
pub fn set_level(s: &str) -> bool {
    match parse_level(s) {
        Some(l) => {
            set_level_filter(l);
            true
        }
        None => false,
    }
}

/// Changes the level (a no-op before [`init`]).
pub fn set_level_filter(level: LevelFilter) {
    if let Some(h) = HANDLE.get() {
        let _ = h.modify(|f| *f = targets(level));
    }
}

/// Local wall clock as Go's `2006/01/02 15:04:05`.
pub fn timestamp() -> String {
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default().as_secs();
    let tm = rolling::local_tm(now as i64);
    format!(
        "{:04}/{:02}/{:02} {:02}:{:02}:{:02}",
        tm.tm_year + 1900,
        tm.tm_mon + 1,
        tm.tm_mday,
        tm.tm_hour,
        tm.tm_min,
        tm.tm_sec
    )
}

/// One event as one Go line.
pub struct GoFormat;

impl<S, N> FormatEvent<S, N> for GoFormat
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    N: for<'a> FormatFields<'a> + 'static,
{
    fn format_event(&self, ctx: &FmtContext<'_, S, N>, mut w: Writer<'_>, event: &Event<'_>) -> fmt::Result {
        let meta = event.metadata();
        let file = meta.file().map(|f| f.rsplit('/').next().unwrap_or(f)).unwrap_or("???");
        let level = match *meta.level() {
            Level::ERROR => "ERROR",
            Level::WARN => "WARN",
            Level::INFO => "INFO",
            Level::DEBUG => "DEBUG",
            Level::TRACE => "TRACE",
        };
        write!(w, "{} {}:{}: [{}] ", timestamp(), file, meta.line().unwrap_or(0), level)?;
        ctx.field_format().format_fields(w.by_ref(), event)?;
        writeln!(w)
    }
}

/// One line of the layout [`GoFormat`] writes (`2026/11/22 01:47:54 topom.rs:240: [WARN] msg`),
/// taken apart: what log scrapers and the tests of each binary's log file rely on.
#[derive(Debug, PartialEq, Eq)]
pub struct GoLine<'a> {
    pub timestamp: &'a str,
    pub file: &'a str,
    pub line: u32,
    pub level: &'a str,
    pub message: &'a str,
}

/// Parses one line of Go's layout; None when it is not one (e.g. the continuation of a
/// multi-line message).
pub fn parse_line(l: &str) -> Option<GoLine<'_>> {
    let b = l.as_bytes();
    let digits = |r: std::ops::Range<usize>| r.clone().all(|i| b.get(i).is_some_and(u8::is_ascii_digit));
    let stamp = b.len() > 20
        && digits(0..4)
        && b[4] == b'/'
        && digits(5..7)
        && b[7] == b'/'
        && digits(8..10)
        && b[10] == b' '
        && digits(11..13)
        && b[13] == b':'
        && digits(14..16)
        && b[16] == b':'
        && digits(17..19)
        && b[19] == b' ';
    if !stamp {
        return None;
    }
    let (file_line, rest) = l[20..].split_once(": [")?;
    let (file, line) = file_line.rsplit_once(':')?;
    let (level, message) = rest.split_once("] ")?;
    if !["ERROR", "WARN", "INFO", "DEBUG", "TRACE"].contains(&level) {
        return None;
    }
    Some(GoLine { timestamp: &l[..19], file, line: line.parse().ok()?, level, message })
}

/// Where lines go: stderr, or the rolling file. One `write` call carries one whole line.
enum Sink {
    Stderr,
    File(Mutex<RollingFile>),
}

impl Write for &Sink {
    fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
        match self {
            Sink::File(f) => f.lock().map_err(|_| std::io::Error::other("log file lock poisoned"))?.write(b),
            Sink::Stderr => std::io::stderr().write_all(b).map(|()| b.len()),
        }
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

struct MakeSink;

impl<'a> MakeWriter<'a> for MakeSink {
    type Writer = &'static Sink;
    fn make_writer(&'a self) -> Self::Writer {
        SINK.get_or_init(|| Sink::Stderr)
    }
}

/// Installs the logger: the daily rolling `file` (Go's `--log`) or stderr, at `level`. A file
/// that cannot be opened ends the process as Go's main does (`[PANIC] open log file F failed`).
pub fn init(file: Option<&str>, level: LevelFilter) {
    let sink = match file {
        Some(path) => match RollingFile::new(path) {
            Ok(f) => Sink::File(Mutex::new(f)),
            Err(e) => panic_exit("main.rs", &format!("open log file {path} failed"), Some(&e)),
        },
        None => Sink::Stderr,
    };
    let _ = SINK.set(sink);
    let (filter, handle) = reload::Layer::new(targets(level));
    let layer = tracing_subscriber::fmt::layer().event_format(GoFormat).with_writer(MakeSink);
    let subscriber = tracing_subscriber::registry().with(filter).with(layer);
    if tracing::subscriber::set_global_default(subscriber).is_ok() {
        let _ = HANDLE.set(handle);
    }
}

/// Go's `log.PanicErrorf`: `[PANIC] msg` (and `[error]: cause`) to the log and stderr, exit 1.
pub fn panic_exit(file_line: &str, msg: &str, cause: Option<&str>) -> ! {
    let mut s = format!("{} {}: [PANIC] {}\n", timestamp(), file_line, msg);
    if let Some(c) = cause {
        s.push_str(&format!("[error]: {c}\n"));
    }
    let _ = std::io::stderr().write_all(s.as_bytes());
    if let Some(Sink::File(f)) = SINK.get() {
        if let Ok(mut f) = f.lock() {
            let _ = f.write(s.as_bytes());
        }
    }
    std::process::exit(1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_parse_back() {
        let l = "2026/11/22 01:47:54 topom_slots.rs:240: [WARN] slot-0001: action failed: x: [y] z";
        let g = parse_line(l).expect("a Go line");
        assert_eq!((g.file, g.line, g.level), ("topom_slots.rs", 240, "WARN"));
        assert_eq!(g.message, "slot-0001: action failed: x: [y] z");
        assert_eq!(g.timestamp, "2026/11/22 01:47:54");
        assert!(parse_line("2026-11-22T08:55:08.164815Z  WARN codis_proxy: x").is_none());
        assert!(parse_line("    continued").is_none());
        assert!(parse_line("2026/11/22 01:47:54 a.rs:x: [WARN] m").is_none());
    }

    #[test]
    fn levels_like_go() {
        assert_eq!(parse_level("info"), Some(LevelFilter::INFO));
        assert_eq!(parse_level("WARN"), Some(LevelFilter::WARN));
        assert_eq!(parse_level("warning"), Some(LevelFilter::WARN));
        assert_eq!(parse_level("none"), Some(LevelFilter::OFF));
        assert_eq!(parse_level("BOGUS"), None);
        assert_eq!(parse_level("off"), None);
        let t = timestamp();
        assert_eq!(t.len(), 19, "{t}");
        assert_eq!((&t[4..5], &t[10..11], &t[13..14]), ("/", " ", ":"));
    }

    #[test]
    fn libraries_stay_at_info() {
        let t = targets(LevelFilter::DEBUG);
        assert!(t.would_enable("codis_proxy::router", &Level::DEBUG));
        assert!(t.would_enable("dashboard::topom", &Level::DEBUG));
        assert!(!t.would_enable("hyper::proto", &Level::DEBUG));
        assert!(t.would_enable("hyper::proto", &Level::INFO));
        let t = targets(LevelFilter::WARN);
        assert!(!t.would_enable("dashboard::topom", &Level::INFO));
        assert!(!t.would_enable("hyper::proto", &Level::INFO));
    }
}
