//! `--log=FILE`: Go's daily rolling log file (`pkg/utils/log/rolling.go`, `DailyRolling`).
//!
//! Lines go to `FILE.YYYY-MM-DD` (the local date, Go's layout `2006-01-02`, joined with a `.`);
//! the date is checked on every write and a new file is opened when it changed, so a line never
//! straddles two files. The parent directory is created when missing; files are opened for
//! appending (mode 0666 and directories 0777 before the umask, as Go's). Old files are never
//! removed or compressed (neither does Go).

use std::fs::{File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};

/// Seconds since the Unix epoch; injected so tests can cross a day boundary.
pub type Clock = Box<dyn Fn() -> i64 + Send>;

pub struct RollingFile {
    base: PathBuf,
    suffix: String,
    file: Option<File>,
    clock: Clock,
}

impl RollingFile {
    /// Go's `NewRollingFile(path, DailyRolling)`: the path must name a file. Unlike Go, the
    /// first file is opened here, so a bad path fails at start-up rather than on the first line.
    /// The error is the cause only; callers say `open log file <path> failed` as Go's main does.
    pub fn new(base: impl AsRef<Path>) -> Result<RollingFile, String> {
        RollingFile::with_clock(base, Box::new(now))
    }

    pub fn with_clock(base: impl AsRef<Path>, clock: Clock) -> Result<RollingFile, String> {
        let base = base.as_ref();
        if base.file_name().is_none() || base.to_string_lossy().ends_with('/') {
            return Err(format!("invalid base-path = {}, file name is required", base.display()));
        }
        let mut f = RollingFile { base: base.to_path_buf(), suffix: String::new(), file: None, clock };
        f.roll().map_err(|e| e.to_string())?;
        Ok(f)
    }

    /// The file written now.
    pub fn path(&self) -> PathBuf {
        let mut p = self.base.clone().into_os_string();
        p.push(".");
        p.push(&self.suffix);
        PathBuf::from(p)
    }

    fn roll(&mut self) -> io::Result<()> {
        let suffix = local_date((self.clock)());
        if self.file.is_some() && suffix == self.suffix {
            return Ok(());
        }
        self.file = None;
        self.suffix = suffix;
        if let Some(dir) = self.base.parent().filter(|d| !d.as_os_str().is_empty() && *d != Path::new(".")) {
            std::fs::create_dir_all(dir)?;
        }
        self.file = Some(OpenOptions::new().create(true).append(true).open(self.path())?);
        Ok(())
    }
}

impl Write for RollingFile {
    /// Writes all of `b` to one file: callers hand over whole lines.
    fn write(&mut self, b: &[u8]) -> io::Result<usize> {
        self.roll()?;
        match &mut self.file {
            Some(f) => f.write_all(b).map(|()| b.len()),
            None => Err(io::Error::other("rolling file is closed")),
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        match &mut self.file {
            Some(f) => f.flush(),
            None => Ok(()),
        }
    }
}

fn now() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs() as i64).unwrap_or(0)
}

/// The local broken-down time of `secs`.
pub(crate) fn local_tm(secs: i64) -> libc::tm {
    let t = secs as libc::time_t;
    // SAFETY: localtime_r writes only into the tm we own; on failure it stays zeroed.
    unsafe {
        let mut tm: libc::tm = std::mem::zeroed();
        if libc::localtime_r(&t, &mut tm).is_null() {
            tm = std::mem::zeroed();
            tm.tm_year = 70;
            tm.tm_mday = 1;
        }
        tm
    }
}

/// The local date of `secs` as Go's `2006-01-02`.
pub fn local_date(secs: i64) -> String {
    let tm = local_tm(secs);
    format!("{:04}-{:02}-{:02}", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicI64, Ordering};
    use std::sync::Arc;

    fn temp(name: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!("rcodis-golog-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        d
    }

    /// The first second of the local day after `t` (found by bisection, so any TZ works).
    fn next_midnight(t: i64) -> i64 {
        let day = local_date(t);
        let (mut lo, mut hi) = (t, t + 2 * 86400);
        assert_ne!(local_date(hi), day);
        while hi - lo > 1 {
            let mid = lo + (hi - lo) / 2;
            if local_date(mid) == day {
                lo = mid;
            } else {
                hi = mid;
            }
        }
        hi
    }

    #[test]
    fn rolls_at_the_local_day_boundary() {
        let dir = temp("roll");
        // 2026-11-22 12:00 UTC: a day boundary lies within the next 2 days in every zone.
        let midnight = next_midnight(1_795_348_800);
        let clock = Arc::new(AtomicI64::new(midnight - 2));
        let c = clock.clone();
        let mut f = RollingFile::with_clock(dir.join("sub/codis.log"), Box::new(move || c.load(Ordering::SeqCst)))
            .expect("open rolling file");
        let before = f.path();
        writeln!(f, "line 1").unwrap();
        clock.store(midnight - 1, Ordering::SeqCst);
        writeln!(f, "line 2").unwrap();
        assert_eq!(f.path(), before, "same day, same file");
        clock.store(midnight, Ordering::SeqCst);
        writeln!(f, "line 3").unwrap();
        let after = f.path();
        assert_ne!(after, before);
        assert_eq!(before.file_name().unwrap().to_string_lossy(), format!("codis.log.{}", local_date(midnight - 1)));
        assert_eq!(after.file_name().unwrap().to_string_lossy(), format!("codis.log.{}", local_date(midnight)));
        assert_eq!(std::fs::read_to_string(&before).unwrap(), "line 1\nline 2\n");
        assert_eq!(std::fs::read_to_string(&after).unwrap(), "line 3\n");
        // Going back (clock step) reopens the earlier file for appending, as Go's does.
        clock.store(midnight - 1, Ordering::SeqCst);
        writeln!(f, "line 4").unwrap();
        assert_eq!(std::fs::read_to_string(&before).unwrap(), "line 1\nline 2\nline 4\n");
        let _ = std::fs::remove_dir_all(dir);
    }

    #[test]
    fn appends_to_an_existing_file_and_names_it_like_go() {
        let dir = temp("append");
        std::fs::create_dir_all(&dir).unwrap();
        let t = 1_795_348_800;
        let path = dir.join(format!("proxy.log.{}", local_date(t)));
        std::fs::write(&path, "old\n").unwrap();
        let mut f = RollingFile::with_clock(dir.join("proxy.log"), Box::new(move || t)).unwrap();
        writeln!(f, "new").unwrap();
        assert_eq!(f.path(), path);
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "old\nnew\n");
        let d = local_date(t);
        assert_eq!(d.len(), 10);
        assert_eq!((&d[4..5], &d[7..8]), ("-", "-"));
        let _ = std::fs::remove_dir_all(dir);
    }

    #[test]
    fn a_directory_is_not_a_log_file() {
        assert_eq!(
            RollingFile::new("/tmp/").err().as_deref(),
            Some("invalid base-path = /tmp/, file name is required")
        );
        assert!(RollingFile::new("/proc/no-such-dir/x.log").is_err());
    }
}
