//! Watching a running script from other connections: `lua-time-limit`, BUSY replies, SCRIPT
//! KILL and SHUTDOWN NOSAVE.
//!
//! A script runs inside its client's command, so its connection holds the state lock for the
//! whole run, as Redis's single thread would be busy. The other connections must not block a
//! worker thread on that lock meanwhile (there are only two), so they wait for it with
//! [`lock_state`] / [`lock_or_busy`], which park asynchronously. Once the
//! script has run longer than `lua-time-limit`, [`serve_busy`] answers their requests without
//! the lock, as Redis does from inside its Lua hook: SCRIPT KILL, SHUTDOWN NOSAVE, or `-BUSY`.

use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};
use std::time::Duration;

use bytes::BytesMut;
use compat::resp::RequestDecoder;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::client::Client;
use crate::cmd::{self, error, CommandTable, Reply};
use crate::server::{Shared, StateGuard};

/// A script running this long hands its worker thread over (then retries every
/// `HANDOFF_EVERY_MS` in case the new thread had not taken it).
const HANDOFF_AFTER_MS: i64 = 20;
const HANDOFF_EVERY_MS: i64 = 200;

pub const BUSY: &str = "BUSY Redis is busy running a script. You can only call SCRIPT KILL or SHUTDOWN NOSAVE.";
pub const NOTBUSY: &str = "NOTBUSY No scripts in execution right now.";
pub const UNKILLABLE: &str = "UNKILLABLE Sorry the script already executed write commands against the dataset. You can either wait the script termination or kill the server in a hard way using the SHUTDOWN NOSAVE command.";

/// Shared between the running script (its Lua hook and `redis.call`) and every connection.
#[derive(Default)]
pub struct ScriptWatch {
    /// When the running script started (unix ms); 0 when no script runs.
    started_ms: AtomicI64,
    /// `lua-time-limit` in force for the running script (0 = never busy).
    limit_ms: AtomicI64,
    /// SCRIPT KILL asked the running script to stop.
    kill: AtomicBool,
    /// The running script executed a write command (it can no longer be killed).
    wrote: AtomicBool,
    /// When the Lua hook next hands the worker thread's scheduler over (see `yield_worker`).
    next_handoff_ms: AtomicI64,
}

impl ScriptWatch {
    pub fn begin(&self, limit_ms: u64) {
        self.kill.store(false, Ordering::SeqCst);
        self.wrote.store(false, Ordering::SeqCst);
        self.limit_ms.store(limit_ms.min(i64::MAX as u64) as i64, Ordering::SeqCst);
        let now = crate::util::now_ms().max(1);
        self.next_handoff_ms.store(now + HANDOFF_AFTER_MS, Ordering::SeqCst);
        self.started_ms.store(now, Ordering::SeqCst);
    }

    /// Called by the Lua hook: a script running for a while gives its worker thread's share of
    /// the runtime to another thread, so the other connections (BUSY, SCRIPT KILL), timers and
    /// the I/O driver keep running while the script occupies this thread.
    pub fn yield_worker(&self) {
        let now = crate::util::now_ms();
        if now < self.next_handoff_ms.load(Ordering::Relaxed) {
            return;
        }
        self.next_handoff_ms.store(now + HANDOFF_EVERY_MS, Ordering::Relaxed);
        let multi_thread = tokio::runtime::Handle::try_current()
            .is_ok_and(|h| h.runtime_flavor() == tokio::runtime::RuntimeFlavor::MultiThread);
        if multi_thread {
            // The pause lets the new thread take the scheduler before this one could take it
            // back; once handed over, later calls just run the closure.
            tokio::task::block_in_place(|| std::thread::sleep(Duration::from_millis(1)));
        }
    }

    pub fn end(&self) {
        self.started_ms.store(0, Ordering::SeqCst);
        self.kill.store(false, Ordering::SeqCst);
    }

    /// A script is running.
    pub fn running(&self) -> bool {
        self.started_ms.load(Ordering::SeqCst) != 0
    }

    /// A script has been running longer than `lua-time-limit`: other clients get BUSY.
    pub fn busy(&self) -> bool {
        let started = self.started_ms.load(Ordering::SeqCst);
        let limit = self.limit_ms.load(Ordering::SeqCst);
        started != 0 && limit > 0 && crate::util::now_ms() - started >= limit
    }

    pub fn kill_requested(&self) -> bool {
        self.kill.load(Ordering::Relaxed)
    }

    pub fn note_write(&self) {
        self.wrote.store(true, Ordering::SeqCst);
    }

    /// SCRIPT KILL while the script is busy: `Ok` once the kill is requested, or the error.
    pub fn request_kill(&self) -> Result<(), &'static str> {
        if !self.running() {
            return Err(NOTBUSY);
        }
        if self.wrote.load(Ordering::SeqCst) {
            return Err(UNKILLABLE);
        }
        self.kill.store(true, Ordering::SeqCst);
        Ok(())
    }
}

/// Takes the state lock, waiting for it without holding the worker thread.
pub async fn lock_state(shared: &Shared) -> StateGuard<'_> {
    loop {
        if let Some(g) = try_lock(shared) {
            return g;
        }
        if let Some(g) = shared.lock_waiters.wait(&shared.state).await {
            return StateGuard::new(g, &shared.lock_waiters);
        }
    }
}

/// Takes the state lock, or `None` when a script is running.
pub async fn lock_unless_script(shared: &Shared) -> Option<StateGuard<'_>> {
    loop {
        if let Some(g) = try_lock(shared) {
            return Some(g);
        }
        if shared.script_watch.running() {
            return None;
        }
        if let Some(g) = shared.lock_waiters.wait(&shared.state).await {
            return Some(StateGuard::new(g, &shared.lock_waiters));
        }
    }
}

/// Takes the state lock for a batch of requests, or `None` when a script has run past
/// `lua-time-limit` (the batch must then be answered by [`serve_busy`]).
pub async fn lock_or_busy(shared: &Shared) -> Option<StateGuard<'_>> {
    loop {
        if shared.script_watch.busy() {
            return None;
        }
        if let Some(g) = try_lock(shared) {
            return Some(g);
        }
        if let Some(g) = shared.lock_waiters.wait(&shared.state).await {
            return Some(StateGuard::new(g, &shared.lock_waiters));
        }
    }
}

/// Takes the lock at once if free. A connection never parks its worker thread on the mutex:
/// the other connections of that thread (their reads, parsing and writes) keep going while it
/// waits in [`crate::server::LockWaiters`].
fn try_lock(shared: &Shared) -> Option<StateGuard<'_>> {
    shared.state.try_lock().map(|g| StateGuard::new(g, &shared.lock_waiters))
}

/// Answers a connection's requests while a script is busy, until it ends. Returns false when
/// the connection must close.
pub async fn serve_busy(
    shared: &Shared,
    stream: &mut TcpStream,
    decoder: &mut RequestDecoder,
    rbuf: &mut BytesMut,
    client: &mut Client,
) -> bool {
    let mut args = Vec::new();
    loop {
        if !shared.script_watch.busy() {
            return true;
        }
        let mut out = Reply::new(client.resp3);
        loop {
            match decoder.decode_into(rbuf, &mut args) {
                Ok(true) => {
                    if busy_reply(shared, client, &args, &mut out) {
                        client.close_after_reply = true;
                        break;
                    }
                }
                Ok(false) => break,
                Err(e) => {
                    out.error(&format!("ERR {e}"));
                    client.close_after_reply = true;
                    break;
                }
            }
        }
        if !out.is_empty() && stream.write_all(&out.buf).await.is_err() {
            return false;
        }
        if client.close_after_reply {
            return false;
        }
        match tokio::time::timeout(Duration::from_millis(10), stream.read_buf(rbuf)).await {
            Ok(Ok(0)) | Ok(Err(_)) => return false,
            _ => {}
        }
    }
}

/// One request while a script is busy, checked in Redis's order (unknown command, arity, then
/// BUSY unless it is SCRIPT KILL or SHUTDOWN NOSAVE). Returns true when the connection closes.
fn busy_reply(shared: &Shared, client: &mut Client, args: &[bytes::Bytes], out: &mut Reply) -> bool {
    let table = CommandTable::get();
    let Some(idx) = table.lookup(&args[0]) else {
        cmd::tx::flag_error(client);
        compat::resp::write::error(&mut out.buf, &cmd::unknown_command(args));
        return false;
    };
    let spec = table.specs[idx];
    if !spec.arity_ok(args.len()) {
        cmd::tx::flag_error(client);
        out.error(&error::wrong_arity(spec.name).0);
        return false;
    }
    let arg_is = |i: usize, w: &str| args.get(i).is_some_and(|a| a.eq_ignore_ascii_case(w.as_bytes()));
    match spec.name {
        "script" if arg_is(1, "kill") => {
            if args.len() != 2 {
                out.error(&error::wrong_arity("script|kill").0);
            } else {
                match shared.script_watch.request_kill() {
                    Ok(()) => out.ok(),
                    Err(e) => out.error(e),
                }
            }
            false
        }
        "shutdown" if args[1..].iter().any(|a| a.eq_ignore_ascii_case(b"nosave")) => {
            tracing::warn!("User requested shutdown...");
            cmd::server::SHUTDOWN_REQUESTED.notify_one();
            true
        }
        "quit" => {
            out.ok();
            true
        }
        _ => {
            cmd::tx::flag_error(client);
            out.error(BUSY);
            false
        }
    }
}
