//! `--log=FILE`: Go's daily rolling log file. Lines go to `FILE.YYYY-MM-DD` (local date); a new
//! file is opened when the date changes. Missing directories are created.

use std::fs::{File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};

pub struct RollingFile {
    base: PathBuf,
    suffix: String,
    file: Option<File>,
}

impl RollingFile {
    /// Go's `NewRollingFile(path, DailyRolling)`: the path must name a file.
    pub fn new(base: impl AsRef<Path>) -> Result<RollingFile, String> {
        let base = base.as_ref();
        if base.file_name().is_none() || base.to_string_lossy().ends_with('/') {
            return Err(format!("invalid base-path = {}, file name is required", base.display()));
        }
        let mut f = RollingFile { base: base.to_path_buf(), suffix: String::new(), file: None };
        f.roll().map_err(|e| format!("open log file {} failed: {e}", base.display()))?;
        Ok(f)
    }

    /// The file written now.
    pub fn path(&self) -> PathBuf {
        PathBuf::from(format!("{}.{}", self.base.display(), self.suffix))
    }

    fn roll(&mut self) -> io::Result<()> {
        let suffix = local_date();
        if self.file.is_some() && suffix == self.suffix {
            return Ok(());
        }
        self.suffix = suffix;
        if let Some(dir) = self.base.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir)?;
        }
        self.file = Some(OpenOptions::new().create(true).append(true).open(self.path())?);
        Ok(())
    }
}

impl Write for RollingFile {
    fn write(&mut self, b: &[u8]) -> io::Result<usize> {
        self.roll()?;
        match &mut self.file {
            Some(f) => f.write(b),
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

/// Today's local date as `2006-01-02`.
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_to_the_dated_file() {
        let dir = std::env::temp_dir().join(format!("rcodis-log-{}", std::process::id()));
        let mut f = RollingFile::new(dir.join("sub/proxy.log")).unwrap();
        writeln!(f, "hello").unwrap();
        let path = f.path();
        assert!(path.to_string_lossy().ends_with(&format!("proxy.log.{}", local_date())));
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "hello\n");
        assert!(RollingFile::new("/tmp/").is_err());
        let _ = std::fs::remove_dir_all(dir);
    }
}
