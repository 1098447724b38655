//! The filesystem coordinator (`pkg/models/fs/fsclient.go`): node `<path>` is the file
//! `<root>/data/<path>`; writes go to a temp file in `<root>/temp` and are renamed into place;
//! every operation holds `flock(<root>/data.lck)`, whose content names the holder like Go's
//! (`{"now": ..., "pid": ...}`), so Go and Rust tools can share a directory.

use std::fs::{self, File, OpenOptions};
use std::io::{ErrorKind, Write};
use std::os::unix::io::AsRawFd;
use std::path::{Component, Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use super::{BoxFuture, Client, CoordinatorError, Result, Signal};

/// How long an operation waits for another process's lock. Go tries once (`LOCK_NB`); a short
/// wait avoids spurious failures when a Go and a Rust tool touch the directory together.
const LOCK_WAIT: Duration = Duration::from_secs(2);

#[derive(Debug)]
pub struct FsClient {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    data_dir: PathBuf,
    temp_dir: PathBuf,
    lock_file: PathBuf,
    closed: AtomicBool,
}

impl FsClient {
    /// `root` may be relative; like Go it is made absolute.
    pub fn new(root: &str) -> Result<FsClient> {
        let root = std::path::absolute(root).map_err(|e| err("open", root, e))?;
        Ok(FsClient {
            inner: Arc::new(Inner {
                data_dir: root.join("data"),
                temp_dir: root.join("temp"),
                lock_file: root.join("data.lck"),
                closed: AtomicBool::new(false),
            }),
        })
    }

    async fn run<T: Send + 'static>(
        &self,
        op: &'static str,
        path: &str,
        f: impl FnOnce(&Inner, &Path) -> Result<T> + Send + 'static,
    ) -> Result<T> {
        if self.inner.closed.load(Ordering::Acquire) {
            return Err(CoordinatorError::Closed("fs"));
        }
        let inner = self.inner.clone();
        let path = path.to_string();
        tokio::task::spawn_blocking(move || {
            let _lock = inner.lock(op, &path)?;
            let real = inner.realpath(&path);
            f(&inner, &real)
        })
        .await
        .map_err(|e| err(op, "", e))?
    }
}

fn err(op: &'static str, path: &str, e: impl std::fmt::Display) -> CoordinatorError {
    CoordinatorError::Backend { backend: "fs", op, path: path.to_string(), message: e.to_string() }
}

/// Holds the flock; truncates and unlocks on drop, as Go's `unlockFs`.
struct LockGuard(File);

impl Drop for LockGuard {
    fn drop(&mut self) {
        let _ = self.0.set_len(0);
        // SAFETY: plain flock on a descriptor we own.
        unsafe { libc::flock(self.0.as_raw_fd(), libc::LOCK_UN) };
    }
}

impl Inner {
    /// `filepath.Join(DataDir, filepath.Clean(path))`: `..` cannot climb out of the data dir.
    fn realpath(&self, path: &str) -> PathBuf {
        let mut out = self.data_dir.clone();
        let mut depth = 0usize;
        for c in Path::new(path).components() {
            match c {
                Component::Normal(s) => {
                    out.push(s);
                    depth += 1;
                }
                Component::ParentDir if depth > 0 => {
                    out.pop();
                    depth -= 1;
                }
                _ => {}
            }
        }
        out
    }

    fn lock(&self, op: &'static str, path: &str) -> Result<LockGuard> {
        if let Some(dir) = self.lock_file.parent() {
            fs::create_dir_all(dir).map_err(|e| err(op, path, format!("mkdir {}: {e}", dir.display())))?;
        }
        let f = OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(false)
            .open(&self.lock_file)
            .map_err(|e| err(op, path, format!("open {}: {e}", self.lock_file.display())))?;
        let start = Instant::now();
        loop {
            // SAFETY: plain flock on a descriptor we own.
            let rc = unsafe { libc::flock(f.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) };
            if rc == 0 {
                break;
            }
            let e = std::io::Error::last_os_error();
            if e.kind() != ErrorKind::WouldBlock || start.elapsed() > LOCK_WAIT {
                return Err(err(op, path, format!("lock {}: {e}", self.lock_file.display())));
            }
            std::thread::sleep(Duration::from_millis(5));
        }
        let mut guard = LockGuard(f);
        let note = format!(
            "{{\n    \"now\": \"{}\",\n    \"pid\": {}\n}}",
            crate::models::gotime::now_string(),
            std::process::id()
        );
        // The content is informational only (Go logs and ignores these failures too).
        let _ = guard.0.set_len(0).and_then(|_| guard.0.write_all(note.as_bytes()));
        Ok(guard)
    }

    fn write_file(&self, op: &'static str, path: &str, real: &Path, data: &[u8], must_not_exist: bool) -> Result<()> {
        if must_not_exist && real.symlink_metadata().is_ok() {
            return Err(CoordinatorError::NodeExists(path.to_string()));
        }
        if let Some(dir) = real.parent() {
            fs::create_dir_all(dir).map_err(|e| err(op, path, format!("mkdir {}: {e}", dir.display())))?;
        }
        fs::create_dir_all(&self.temp_dir)
            .map_err(|e| err(op, path, format!("mkdir {}: {e}", self.temp_dir.display())))?;
        // Go names temp files "<unix seconds>.<random>" (ioutil.TempFile).
        let now = SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or_default();
        let tmp = self.temp_dir.join(format!("{}.{}{:09}", now.as_secs(), std::process::id(), now.subsec_nanos()));
        let res = (|| {
            let mut f = OpenOptions::new().write(true).create_new(true).open(&tmp)?;
            f.write_all(data)?;
            f.sync_all()?;
            fs::rename(&tmp, real)
        })();
        if let Err(e) = res {
            let _ = fs::remove_file(&tmp);
            return Err(err(op, path, e));
        }
        Ok(())
    }
}

impl Client for FsClient {
    fn create<'a>(&'a self, path: &'a str, data: &'a [u8]) -> BoxFuture<'a, Result<()>> {
        let data = data.to_vec();
        let p = path.to_string();
        Box::pin(self.run("create", path, move |inner, real| inner.write_file("create", &p, real, &data, true)))
    }

    fn update<'a>(&'a self, path: &'a str, data: &'a [u8]) -> BoxFuture<'a, Result<()>> {
        let data = data.to_vec();
        let p = path.to_string();
        Box::pin(self.run("update", path, move |inner, real| inner.write_file("update", &p, real, &data, false)))
    }

    fn delete<'a>(&'a self, path: &'a str) -> BoxFuture<'a, Result<()>> {
        let p = path.to_string();
        Box::pin(self.run("delete", path, move |_, real| {
            // os.RemoveAll: a file, or a directory with everything below it; missing is fine.
            let res = match real.symlink_metadata() {
                Ok(m) if m.is_dir() => fs::remove_dir_all(real),
                Ok(_) => fs::remove_file(real),
                Err(e) if e.kind() == ErrorKind::NotFound => Ok(()),
                Err(e) => Err(e),
            };
            res.map_err(|e| err("delete", &p, e))
        }))
    }

    fn read<'a>(&'a self, path: &'a str, must: bool) -> BoxFuture<'a, Result<Option<Vec<u8>>>> {
        let p = path.to_string();
        Box::pin(self.run("read", path, move |_, real| match fs::read(real) {
            Ok(b) => Ok(Some(b)),
            Err(e) if e.kind() == ErrorKind::NotFound && !must => Ok(None),
            Err(e) if e.kind() == ErrorKind::NotFound => Err(CoordinatorError::NoNode(p)),
            Err(e) => Err(err("read", &p, e)),
        }))
    }

    fn list<'a>(&'a self, path: &'a str, must: bool) -> BoxFuture<'a, Result<Vec<String>>> {
        let p = path.to_string();
        Box::pin(self.run("list", path, move |_, real| {
            let dir = match fs::read_dir(real) {
                Ok(d) => d,
                Err(e) if e.kind() == ErrorKind::NotFound && !must => return Ok(Vec::new()),
                Err(e) if e.kind() == ErrorKind::NotFound => return Err(CoordinatorError::NoNode(p)),
                Err(e) => return Err(err("list", &p, e)),
            };
            let mut names = Vec::new();
            for entry in dir {
                let entry = entry.map_err(|e| err("list", &p, e))?;
                names.push(entry.file_name().to_string_lossy().into_owned());
            }
            names.sort();
            Ok(names.into_iter().map(|n| super::join(&p, &n)).collect())
        }))
    }

    fn create_ephemeral<'a>(&'a self, _path: &'a str, _data: &'a [u8]) -> BoxFuture<'a, Result<Signal>> {
        Box::pin(async { self.unsupported() })
    }

    fn create_ephemeral_in_order<'a>(
        &'a self,
        _dir: &'a str,
        _data: &'a [u8],
    ) -> BoxFuture<'a, Result<(Signal, String)>> {
        Box::pin(async { self.unsupported() })
    }

    fn watch_in_order<'a>(&'a self, _dir: &'a str) -> BoxFuture<'a, Result<(Signal, Vec<String>)>> {
        Box::pin(async { self.unsupported() })
    }

    fn close(&self) -> BoxFuture<'_, Result<()>> {
        self.inner.closed.store(true, Ordering::Release);
        Box::pin(async { Ok(()) })
    }
}

impl FsClient {
    /// Go's fsclient has no ephemerals or watches; it answers `not supported` (or the closed
    /// error first, as Go checks that first).
    fn unsupported<T>(&self) -> Result<T> {
        if self.inner.closed.load(Ordering::Acquire) {
            return Err(CoordinatorError::Closed("fs"));
        }
        Err(CoordinatorError::NotSupported)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn temp_root(tag: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!("rcodis-fs-{tag}-{}-{}", std::process::id(), rand::random::<u32>()));
        let _ = fs::remove_dir_all(&d);
        d
    }

    #[tokio::test]
    async fn layout_and_semantics_like_go() {
        let root = temp_root("layout");
        let c = FsClient::new(root.to_str().unwrap()).unwrap();
        c.create("/codis3/p/topom", b"lock").await.unwrap();
        assert!(matches!(c.create("/codis3/p/topom", b"again").await, Err(CoordinatorError::NodeExists(_))));
        assert_eq!(fs::read(root.join("data/codis3/p/topom")).unwrap(), b"lock");
        // The lock file exists and is empty between operations; temp files are renamed away.
        assert_eq!(fs::read(root.join("data.lck")).unwrap(), b"");
        assert_eq!(fs::read_dir(root.join("temp")).unwrap().count(), 0);

        c.update("/codis3/p/slots/slot-0001", b"1").await.unwrap();
        c.update("/codis3/p/slots/slot-0000", b"0").await.unwrap();
        c.update("/codis3/p/slots/slot-0000", b"00").await.unwrap();
        assert_eq!(c.read("/codis3/p/slots/slot-0000", true).await.unwrap().unwrap(), b"00");
        assert_eq!(
            c.list("/codis3/p/slots", true).await.unwrap(),
            vec!["/codis3/p/slots/slot-0000", "/codis3/p/slots/slot-0001"]
        );
        assert_eq!(c.read("/codis3/p/nothing", false).await.unwrap(), None);
        assert!(matches!(c.read("/codis3/p/nothing", true).await, Err(CoordinatorError::NoNode(_))));
        assert!(c.list("/codis3/q", false).await.unwrap().is_empty());
        assert!(c.list("/codis3/q", true).await.is_err());

        c.delete("/codis3/p/topom").await.unwrap();
        c.delete("/codis3/p/topom").await.unwrap();
        assert_eq!(c.read("/codis3/p/topom", false).await.unwrap(), None);
        // `..` stays inside the data directory.
        c.update("/../../escape", b"x").await.unwrap();
        assert!(root.join("data/escape").exists());

        assert!(matches!(c.create_ephemeral("/jodis/p/x", b"").await, Err(CoordinatorError::NotSupported)));
        assert!(matches!(c.watch_in_order("/jodis/p").await, Err(CoordinatorError::NotSupported)));
        c.close().await.unwrap();
        assert!(matches!(c.read("/codis3/p/slots/slot-0000", false).await, Err(CoordinatorError::Closed("fs"))));
        fs::remove_dir_all(&root).unwrap();
    }

    #[tokio::test]
    async fn waits_for_a_held_lock_then_fails_clearly() {
        let root = temp_root("lock");
        let c = FsClient::new(root.to_str().unwrap()).unwrap();
        c.update("/a", b"1").await.unwrap();
        // Another holder (as a Go tool would be) keeps the lock past our wait.
        let holder = OpenOptions::new().write(true).open(root.join("data.lck")).unwrap();
        assert_eq!(unsafe { libc::flock(holder.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) }, 0);
        let e = c.read("/a", true).await.unwrap_err().to_string();
        assert!(e.starts_with("fs read /a failed: lock ") && e.contains("data.lck"), "{e}");
        drop(holder);
        assert_eq!(c.read("/a", true).await.unwrap().unwrap(), b"1");
        fs::remove_dir_all(&root).unwrap();
    }
}
