//! Logs in Go Codis's layout, `2026/11/22 01:47:54 topom_slots.rs:240: [WARN] message`, to
//! stderr or a file (`--log`), with a level that `PUT /api/topom/loglevel` changes at run time.

use std::fmt;
use std::io::Write;
use std::sync::{Mutex, OnceLock};

use tracing::{Event, Level, Subscriber};
use tracing_subscriber::filter::LevelFilter;
use tracing_subscriber::fmt::format::Writer;
use tracing_subscriber::fmt::{FmtContext, FormatEvent, FormatFields};
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::registry::LookupSpan;
use tracing_subscriber::{reload, Registry};

type Handle = reload::Handle<LevelFilter, Registry>;

static HANDLE: OnceLock<Handle> = OnceLock::new();

/// Go's level names (`INFO`, `WARN`, `DEBUG`, `ERROR`, `NONE`), any case.
pub fn parse_level(s: &str) -> Option<LevelFilter> {
    match s.to_ascii_uppercase().as_str() {
        "NONE" => Some(LevelFilter::OFF),
        "ERROR" => Some(LevelFilter::ERROR),
        "WARN" => Some(LevelFilter::WARN),
        "INFO" => Some(LevelFilter::INFO),
        "DEBUG" => Some(LevelFilter::DEBUG),
        _ => None,
    }
}

/// Changes the level; false when the name is not one of Go's.
pub fn set_level(s: &str) -> bool {
    match (parse_level(s), HANDLE.get()) {
        (Some(l), Some(h)) => h.modify(|f| *f = l).is_ok(),
        (Some(_), None) => true,
        _ => false,
    }
}

/// Local wall clock as `2006/01/02 15:04:05`.
pub fn timestamp() -> String {
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default().as_secs();
    let t = now as libc::time_t;
    // SAFETY: localtime_r writes only into the tm we own.
    let tm = unsafe {
        let mut tm: libc::tm = std::mem::zeroed();
        libc::localtime_r(&t, &mut tm);
        tm
    };
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

struct GoFormat;

impl<S, N> FormatEvent<S, N> for GoFormat
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    N: for<'a> FormatFields<'a> + 'static,
{
    fn format_event(&self, ctx: &FmtContext<'_, S, N>, mut w: Writer<'_>, event: &Event<'_>) -> fmt::Result {
        let meta = event.metadata();
        let file = meta.file().map(|f| f.rsplit('/').next().unwrap_or(f)).unwrap_or("?");
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

/// Where log lines go: stderr, or Go's daily rolling file.
struct Sink(Option<Mutex<Rolling>>);

impl Write for &Sink {
    fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
        match &self.0 {
            Some(f) => f.lock().map_err(|_| std::io::Error::other("log file lock poisoned"))?.write(b),
            None => std::io::stderr().write(b),
        }
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// `--log=FILE` as Go's `log.NewRollingFile(FILE, log.DailyRolling)` writes it: lines go to
/// `FILE.YYYY-MM-DD` (local date), a new file when the date changes.
struct Rolling {
    base: String,
    suffix: String,
    file: Option<std::fs::File>,
}

impl Rolling {
    fn open(base: &str) -> std::io::Result<Rolling> {
        let mut r = Rolling { base: base.to_string(), suffix: String::new(), file: None };
        r.roll()?;
        Ok(r)
    }

    fn roll(&mut self) -> std::io::Result<()> {
        let suffix = local_date();
        if self.file.is_some() && suffix == self.suffix {
            return Ok(());
        }
        // Go creates the missing directories of the path too.
        if let Some(dir) = std::path::Path::new(&self.base).parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir)?;
        }
        let path = format!("{}.{suffix}", self.base);
        self.file = Some(std::fs::OpenOptions::new().create(true).append(true).open(path)?);
        self.suffix = suffix;
        Ok(())
    }
}

impl Write for Rolling {
    fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
        self.roll()?;
        match &mut self.file {
            Some(f) => f.write(b),
            None => Err(std::io::Error::other("log file is closed")),
        }
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Today's local date as Go's `2006-01-02`.
fn local_date() -> String {
    // SAFETY: time and localtime_r only write into values we own.
    unsafe {
        let t = libc::time(std::ptr::null_mut());
        let mut tm: libc::tm = std::mem::zeroed();
        if libc::localtime_r(&t, &mut tm).is_null() {
            return "1970-01-01".into();
        }
        format!("{:04}-{:02}-{:02}", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday)
    }
}

static SINK: OnceLock<Sink> = OnceLock::new();

/// Installs the logger: `file` (Go's dated daily file, appended) or stderr, at `level` (Go's default INFO).
pub fn init(file: Option<&str>, level: LevelFilter) -> Result<(), String> {
    let sink = match file {
        Some(path) => {
            if path.ends_with('/') || std::path::Path::new(path).file_name().is_none() {
                return Err(format!("invalid base-path = {path}, file name is required"));
            }
            let f = Rolling::open(path).map_err(|e| format!("open log file {path} failed: {e}"))?;
            Sink(Some(Mutex::new(f)))
        }
        None => Sink(None),
    };
    let _ = SINK.set(sink);
    let (filter, handle) = reload::Layer::new(level);
    let layer = tracing_subscriber::fmt::layer()
        .event_format(GoFormat)
        .with_writer(|| SINK.get().expect("sink is set before the subscriber"));
    let subscriber = tracing_subscriber::registry().with(filter).with(layer);
    if tracing::subscriber::set_global_default(subscriber).is_ok() {
        let _ = HANDLE.set(handle);
    }
    Ok(())
}

/// Go's `log.Panicf`: logs `[PANIC] msg` (plus the cause) to stderr and exits with status 1.
pub fn panic_exit(file_line: &str, msg: &str, cause: Option<&str>) -> ! {
    let mut s = format!("{} {}: [PANIC] {}\n", timestamp(), file_line, msg);
    if let Some(c) = cause {
        s.push_str(&format!("[error]: {c}\n"));
    }
    let _ = std::io::stderr().write_all(s.as_bytes());
    if let Some(Sink(Some(f))) = SINK.get() {
        if let Ok(mut f) = f.lock() {
            let _ = f.write_all(s.as_bytes());
        }
    }
    std::process::exit(1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn levels_like_go() {
        assert_eq!(parse_level("info"), Some(LevelFilter::INFO));
        assert_eq!(parse_level("WARN"), Some(LevelFilter::WARN));
        assert_eq!(parse_level("BOGUS"), None);
        let t = timestamp();
        assert_eq!(t.len(), 19, "{t}");
        assert_eq!(&t[4..5], "/");
    }

    /// Go's dashboard and fe write `--log=FILE` to `FILE.YYYY-MM-DD` (seen beside a Go
    /// codis-dashboard 3.2 run by scripts/interop-go.py).
    #[test]
    fn log_file_carries_the_date_like_go() {
        let dir = std::env::temp_dir().join(format!("golog-rolling-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let base = dir.join("logs/dashboard.log");
        let mut r = Rolling::open(base.to_str().unwrap()).unwrap();
        r.write_all(b"line\n").unwrap();
        let dated = dir.join(format!("logs/dashboard.log.{}", local_date()));
        assert_eq!(std::fs::read(&dated).unwrap(), b"line\n");
        assert!(!base.exists(), "nothing at the undated path");
        let d = local_date();
        assert!(d.len() == 10 && &d[4..5] == "-" && &d[7..8] == "-", "{d}");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
