//! A headless Chromium driven over the DevTools protocol on a pipe (`--remote-debugging-pipe`:
//! JSON messages separated by NUL, commands on the child's fd 3, answers and events on fd 4),
//! so browser tests need neither a WebSocket client nor node. Used by fe_browser.rs.
#![allow(dead_code)]

use std::fs::File;
use std::io::{BufRead, BufReader, Write};
use std::os::fd::{FromRawFd, RawFd};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc::{channel, Receiver, RecvTimeoutError};
use std::time::{Duration, Instant};

use serde_json::{json, Value};

/// The Chromium binary: `$CHROMIUM_BIN`, else Debian's (the real binary, not its wrapper
/// script), else `chromium` on the PATH. None when there is none.
pub fn chromium_bin() -> Option<PathBuf> {
    if let Some(p) = std::env::var_os("CHROMIUM_BIN") {
        return Some(PathBuf::from(p));
    }
    let direct = PathBuf::from("/usr/lib/chromium/chromium");
    if direct.is_file() {
        return Some(direct);
    }
    let path = std::env::var_os("PATH")?;
    ["chromium", "chromium-browser", "google-chrome"]
        .iter()
        .flat_map(|b| std::env::split_paths(&path).map(move |d| d.join(b)))
        .find(|p| p.is_file())
}

pub struct Browser {
    child: Child,
    to: File,
    from: Receiver<Value>,
    next_id: u64,
    /// Every event received so far (console messages, exceptions, log entries, ...).
    pub events: Vec<Value>,
    session: Option<String>,
}

/// A pipe whose two ends sit at fd >= 10 with close-on-exec set: (read, write).
fn high_pipe() -> (RawFd, RawFd) {
    let mut fds = [0 as RawFd; 2];
    // SAFETY: pipe2 fills the array we own; fcntl/close act on fds we just created.
    unsafe {
        assert_eq!(libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC), 0, "pipe2");
        let hi = fds.map(|fd| {
            let h = libc::fcntl(fd, libc::F_DUPFD_CLOEXEC, 10);
            assert!(h >= 10, "F_DUPFD_CLOEXEC");
            libc::close(fd);
            h
        });
        (hi[0], hi[1])
    }
}

impl Browser {
    /// Starts headless Chromium with a fresh profile in `profile`, and opens one blank page.
    pub fn launch(bin: &Path, profile: &Path) -> Browser {
        let (cmd_r, cmd_w) = high_pipe();
        let (evt_r, evt_w) = high_pipe();
        let mut cmd = Command::new(bin);
        cmd.args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-dev-shm-usage",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--remote-debugging-pipe",
            "--window-size=1200,900",
        ])
        .arg(format!("--user-data-dir={}", profile.display()))
        .arg("about:blank")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null());
        // SAFETY: only async-signal-safe dup2 calls between fork and exec; the sources are at
        // fd >= 10, so neither dup2 overwrites the other's source.
        unsafe {
            cmd.pre_exec(move || {
                if libc::dup2(cmd_r, 3) < 0 || libc::dup2(evt_w, 4) < 0 {
                    return Err(std::io::Error::last_os_error());
                }
                Ok(())
            });
        }
        let child = cmd.spawn().expect("start chromium");
        // SAFETY: the parent's ends are ours alone; the child's ends are closed here (it has
        // its own copies at fds 3 and 4).
        let (to, from_file) = unsafe {
            libc::close(cmd_r);
            libc::close(evt_w);
            (File::from_raw_fd(cmd_w), File::from_raw_fd(evt_r))
        };
        let (tx, rx) = channel();
        std::thread::spawn(move || {
            let mut r = BufReader::new(from_file);
            let mut buf = Vec::new();
            loop {
                buf.clear();
                match r.read_until(0, &mut buf) {
                    Ok(0) | Err(_) => return,
                    Ok(_) => {
                        if buf.last() == Some(&0) {
                            buf.pop();
                        }
                        match serde_json::from_slice::<Value>(&buf) {
                            Ok(v) => {
                                if tx.send(v).is_err() {
                                    return;
                                }
                            }
                            Err(e) => eprintln!("cdp: bad message ({e}): {}", String::from_utf8_lossy(&buf)),
                        }
                    }
                }
            }
        });
        let mut b = Browser { child, to, from: rx, next_id: 0, events: Vec::new(), session: None };
        let target = b.call("Target.createTarget", json!({"url": "about:blank"}));
        let target_id = target["targetId"].as_str().expect("targetId").to_string();
        let attached = b.call("Target.attachToTarget", json!({"targetId": target_id, "flatten": true}));
        b.session = Some(attached["sessionId"].as_str().expect("sessionId").to_string());
        for domain in ["Runtime.enable", "Log.enable", "Page.enable"] {
            b.call(domain, json!({}));
        }
        b
    }

    /// One command on the page's session (or the browser before there is one); its result.
    pub fn call(&mut self, method: &str, params: Value) -> Value {
        self.next_id += 1;
        let id = self.next_id;
        let mut msg = json!({"id": id, "method": method, "params": params});
        if let Some(s) = &self.session {
            msg["sessionId"] = json!(s);
        }
        let mut bytes = serde_json::to_vec(&msg).unwrap();
        bytes.push(0);
        self.to.write_all(&bytes).expect("write to chromium");
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.from.recv_timeout(left) {
                Ok(v) if v["id"].as_u64() == Some(id) => {
                    if let Some(e) = v.get("error") {
                        panic!("{method}: {e}");
                    }
                    return v["result"].clone();
                }
                Ok(v) => self.events.push(v),
                Err(RecvTimeoutError::Timeout) => panic!("{method}: no answer from chromium in 30 s"),
                Err(RecvTimeoutError::Disconnected) => panic!("{method}: chromium closed its pipe"),
            }
        }
    }

    /// Evaluates `expr` in the page (awaiting a promise) and returns its JSON value.
    pub fn eval(&mut self, expr: &str) -> Value {
        self.try_eval(expr).unwrap_or_else(|e| panic!("evaluate {expr}: {e}"))
    }

    /// Like [`Browser::eval`], with the exception as the error.
    pub fn try_eval(&mut self, expr: &str) -> Result<Value, Value> {
        let r = self.call("Runtime.evaluate", json!({"expression": expr, "returnByValue": true, "awaitPromise": true}));
        match r.get("exceptionDetails") {
            Some(e) => Err(e.clone()),
            None => Ok(r["result"]["value"].clone()),
        }
    }

    /// Polls `expr` until it is true-ish, or panics with `what` and the last value of `show`.
    pub fn wait_for(&mut self, what: &str, expr: &str, show: &str, timeout: Duration) {
        let deadline = Instant::now() + timeout;
        loop {
            // (An exception while the page is still loading counts as "not yet".)
            if self.try_eval(expr).ok().and_then(|v| v.as_bool()) == Some(true) {
                return;
            }
            if Instant::now() > deadline {
                let v = self.try_eval(show).unwrap_or_else(|e| e);
                panic!("{what}: not seen in {timeout:?}; page shows {v:#}");
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// Console errors, uncaught exceptions and error log entries (failed loads) seen so far.
    /// Chromium also logs every non-2xx answer as a failed load; the dashboard's refusals
    /// (HTTP 800, which the page reads and shows) are left out.
    pub fn errors(&mut self) -> Vec<String> {
        while let Ok(v) = self.from.try_recv() {
            self.events.push(v);
        }
        let mut out = Vec::new();
        for e in &self.events {
            let p = &e["params"];
            match e["method"].as_str() {
                Some("Runtime.exceptionThrown") => out.push(format!(
                    "exception: {}",
                    p["exceptionDetails"]["exception"]["description"]
                        .as_str()
                        .or(p["exceptionDetails"]["text"].as_str())
                        .unwrap_or("?")
                )),
                Some("Runtime.consoleAPICalled") if p["type"] == "error" || p["type"] == "warning" => {
                    let args: Vec<String> = p["args"]
                        .as_array()
                        .map(|a| a.iter().map(|x| x["value"].to_string()).collect())
                        .unwrap_or_default();
                    out.push(format!("console.{}: {}", p["type"].as_str().unwrap_or("?"), args.join(" ")));
                }
                Some("Log.entryAdded")
                    if (p["entry"]["level"] == "error" || p["entry"]["level"] == "warning")
                        && !(p["entry"]["source"] == "network"
                            && p["entry"]["text"].as_str().is_some_and(|t| t.contains("status of 800"))) =>
                {
                    out.push(format!(
                        "log {}: {} {}",
                        p["entry"]["level"].as_str().unwrap_or("?"),
                        p["entry"]["text"].as_str().unwrap_or(""),
                        p["entry"]["url"].as_str().unwrap_or("")
                    ))
                }
                _ => {}
            }
        }
        out
    }
}

impl Drop for Browser {
    /// Asks Chromium to close (so its renderer and zygote processes go too), then kills it.
    fn drop(&mut self) {
        let mut bytes = serde_json::to_vec(&json!({"id": 0, "method": "Browser.close"})).unwrap();
        bytes.push(0);
        let _ = self.to.write_all(&bytes);
        let deadline = Instant::now() + Duration::from_secs(5);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
