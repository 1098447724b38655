//! Persistence: RDB snapshots (SAVE, BGSAVE, save points), the append-only file, and loading
//! both at startup.
//!
//! Background work runs in a forked child, as in Redis: the BGSAVE / BGREWRITEAOF handler forks
//! while it holds the state lock, so the child sees a consistent copy-on-write image of the
//! keyspace without anything being copied up front. The child only walks the data structures
//! and writes a file (no tokio, no locks, no logging), then `_exit`s with a status. The cron
//! reaps it with `waitpid(WNOHANG)` and records the outcome.

pub mod aof;
pub mod rdb;

use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use crate::server::State;

pub use aof::AofState;

/// Seconds before a failed automatic BGSAVE is retried (Redis's CONFIG_BGSAVE_RETRY_DELAY).
const BGSAVE_RETRY_DELAY: i64 = 5;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChildKind {
    Rdb,
    Aof,
}

/// The running background child.
pub struct Child {
    pub pid: i32,
    pub kind: ChildKind,
    pub started: Instant,
}

/// Persistence state kept in [`State`].
pub struct Persist {
    pub child: Option<Child>,
    pub rdb_last_bgsave_ok: bool,
    /// Duration of the last BGSAVE in seconds (-1 before any).
    pub rdb_last_bgsave_time_sec: i64,
    /// BGSAVE SCHEDULE waiting for the running child.
    pub rdb_bgsave_scheduled: bool,
    /// `dirty` when the running BGSAVE forked (changes after it are kept).
    pub dirty_at_fork: u64,
    /// Unix seconds of the last BGSAVE attempt (failed ones are retried after a delay).
    pub last_bgsave_try: i64,
    pub rdb_saves: u64,
    /// Set while loading: nothing is appended to the AOF.
    pub loading: bool,
    pub aof: Option<AofState>,
    pub aof_rewrite_scheduled: bool,
    pub aof_last_rewrite_time_sec: i64,
    pub aof_last_bgrewrite_ok: bool,
    /// The last AOF write error (`None` = ok); writes are refused while set.
    pub aof_last_write_error: Option<String>,
    /// Commands a write command asked to propagate instead of itself (see [`propagate_instead`]).
    pub propagate_instead: Option<Vec<Vec<bytes::Bytes>>>,
    /// Total of what saves took off `dirty`: `dirty + dirty_cleared` only grows, so the
    /// dispatcher can tell whether a command changed the dataset even if it saved (FLUSHALL).
    pub dirty_cleared: u64,
    /// While EXEC runs: `Some(false)`, then `Some(true)` once `MULTI` went to the AOF.
    pub exec_state: Option<bool>,
}

impl Default for Persist {
    fn default() -> Self {
        Persist {
            child: None,
            rdb_last_bgsave_ok: true,
            rdb_last_bgsave_time_sec: -1,
            rdb_bgsave_scheduled: false,
            dirty_at_fork: 0,
            last_bgsave_try: 0,
            rdb_saves: 0,
            loading: false,
            aof: None,
            aof_rewrite_scheduled: false,
            aof_last_rewrite_time_sec: -1,
            aof_last_bgrewrite_ok: true,
            aof_last_write_error: None,
            propagate_instead: None,
            dirty_cleared: 0,
            exec_state: None,
        }
    }
}

impl Persist {
    pub fn child_kind(&self) -> Option<ChildKind> {
        self.child.as_ref().map(|c| c.kind)
    }

    /// Seconds the running child of `kind` has been working (-1 when none).
    pub fn current_child_secs(&self, kind: ChildKind) -> i64 {
        match &self.child {
            Some(c) if c.kind == kind => c.started.elapsed().as_secs() as i64,
            _ => -1,
        }
    }
}

/// Whether a forked child (BGSAVE, AOF rewrite, replication RDB) shares our memory: reads
/// must then not write to the keyspace (no LRU/LFU update), or every page they touch gets
/// copied, as Redis's `hasActiveChildProcess` avoids.
pub fn child_active(state: &State) -> bool {
    state.persist.child.is_some()
        || state.repl.diskless.is_some()
        || state.repl.replicas.iter().any(|r| r.child.is_some())
}

/// A write command that must not be replayed as issued (it depends on the outside world, like
/// slot migration) calls this with what the AOF should get instead; several calls accumulate.
#[allow(dead_code)] // for families whose effects are not reproducible from their arguments
pub fn propagate_instead(state: &mut State, cmd: Vec<bytes::Bytes>) {
    state.persist.propagate_instead.get_or_insert_with(Vec::new).push(cmd);
}

fn rdb_path(state: &State) -> PathBuf {
    state.config.data_path(&state.config.dbfilename)
}

fn save_meta(state: &State) -> rdb::SaveMeta {
    let mut meta =
        rdb::SaveMeta::from_config(&state.config, crate::util::now_ms(), crate::cmd::server::info::used_memory());
    meta.repl = crate::repl::save_info(state);
    meta
}

// ---------------------------------------------------------------------------------------------
// Forking.

/// Microseconds the last fork took in the parent (every fork: saves, rewrites, replication),
/// INFO's `latest_fork_usec`. The parent is stalled for that long, state lock held, while the
/// kernel copies its page tables.
static LATEST_FORK_USEC: AtomicU64 = AtomicU64::new(0);

pub fn latest_fork_usec() -> u64 {
    LATEST_FORK_USEC.load(Ordering::Relaxed)
}

/// `fork(2)`, timed into [`LATEST_FORK_USEC`] (in the parent).
///
/// # Safety
/// As for `fork`: in a multi-threaded process the child may only make async-signal-safe calls
/// and touch data no other thread could have been changing.
unsafe fn timed_fork() -> libc::pid_t {
    let started = Instant::now();
    let pid = libc::fork();
    if pid > 0 {
        LATEST_FORK_USEC.store(started.elapsed().as_micros() as u64, Ordering::Relaxed);
    }
    pid
}

/// Forks; the child runs `work` and `_exit`s with 0 when it returns true, 1 otherwise. Returns
/// the child's pid in the parent.
///
/// Must be called with the state lock held (the child's copy of the keyspace is then
/// consistent). The child may only touch the data it was given and the file system: other
/// threads do not exist in it, so any lock one of them held stays locked forever.
pub(crate) fn fork_child(work: impl FnOnce() -> bool) -> std::io::Result<i32> {
    // SAFETY: after fork the child only runs `work` (plain data walking, allocation through
    // jemalloc, which is fork-safe, and file I/O) and then `_exit`s without running
    // destructors or atexit handlers.
    let pid = unsafe { timed_fork() };
    if pid < 0 {
        return Err(std::io::Error::last_os_error());
    }
    if pid == 0 {
        // Like Redis, the child lets go of the listening and client sockets (and the AOF), so
        // a restarted server can bind its port while a save finishes.
        close_inherited_fds();
        // Never unwind into the parent's code paths. (The panic hook is left alone: replacing
        // it takes a lock another thread may have held at fork time.)
        let ok = std::panic::catch_unwind(std::panic::AssertUnwindSafe(work)).unwrap_or(false);
        unsafe { libc::_exit(if ok { 0 } else { 1 }) }
    }
    Ok(pid)
}

/// How long a BGSAVE / AOF-rewrite child runs at idle priority before it returns to the
/// normal one.
const IDLE_PRIORITY_SECS: u32 = 4;

/// Called first thing in a BGSAVE or AOF-rewrite child: for its first [`IDLE_PRIORITY_SECS`] it
/// only runs when a core would be idle otherwise (SCHED_IDLE; nice 19 where that is refused),
/// so on a machine with few cores the server keeps its core and request latency during the
/// save stays near its usual level. After that it competes normally again, so a machine kept
/// busy by other processes cannot starve a save indefinitely. Not for children that feed
/// replicas, whose lag should not depend on the load.
pub(crate) fn lower_child_priority() {
    extern "C" fn back_to_normal(_: libc::c_int) {
        let param = libc::sched_param { sched_priority: 0 };
        // SAFETY: sched_setscheduler and setpriority are plain system calls (async-signal-safe).
        unsafe {
            libc::sched_setscheduler(0, libc::SCHED_OTHER, &param);
            libc::setpriority(libc::PRIO_PROCESS, 0, 0);
        }
    }
    // SAFETY: plain system calls on the calling (single-threaded child) process; the handler
    // only makes system calls; SA_RESTART keeps the file writes from seeing EINTR. Timers are
    // not inherited across fork, so the alarm is this child's own.
    unsafe {
        let param = libc::sched_param { sched_priority: 0 };
        if libc::sched_setscheduler(0, libc::SCHED_IDLE, &param) != 0 {
            libc::setpriority(libc::PRIO_PROCESS, 0, 19);
        }
        let mut action: libc::sigaction = std::mem::zeroed();
        action.sa_sigaction = back_to_normal as extern "C" fn(libc::c_int) as usize;
        action.sa_flags = libc::SA_RESTART;
        libc::sigemptyset(&mut action.sa_mask);
        if libc::sigaction(libc::SIGALRM, &action, std::ptr::null_mut()) == 0 {
            let mut set: libc::sigset_t = std::mem::zeroed();
            libc::sigemptyset(&mut set);
            libc::sigaddset(&mut set, libc::SIGALRM);
            libc::pthread_sigmask(libc::SIG_UNBLOCK, &set, std::ptr::null_mut());
            libc::alarm(IDLE_PRIORITY_SECS);
        }
    }
}

/// [`fork_child`] for a child that streams its output to the parent (diskless replication):
/// `work` gets the write end of a pipe, the parent gets the child's pid and the read end, which
/// reaches end-of-file when the child exits.
pub(crate) fn fork_child_to_pipe(work: impl FnOnce(std::fs::File) -> bool) -> std::io::Result<(i32, std::fs::File)> {
    use std::os::fd::FromRawFd;
    let mut fds = [0i32; 2];
    // SAFETY: pipe2 fills `fds` with two new descriptors we own.
    if unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) } != 0 {
        return Err(std::io::Error::last_os_error());
    }
    // SAFETY: as for `fork_child`; the child keeps only the pipe's write end, moved to fd 3.
    let pid = unsafe { timed_fork() };
    if pid < 0 {
        let e = std::io::Error::last_os_error();
        unsafe {
            libc::close(fds[0]);
            libc::close(fds[1]);
        }
        return Err(e);
    }
    if pid == 0 {
        unsafe {
            libc::dup2(fds[1], 3);
        }
        close_fds_from(4);
        let out = unsafe { std::fs::File::from_raw_fd(3) };
        let ok = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| work(out))).unwrap_or(false);
        unsafe { libc::_exit(if ok { 0 } else { 1 }) }
    }
    // SAFETY: the parent closes its copy of the write end (so the read end sees EOF when the
    // child exits) and owns the read end.
    unsafe {
        libc::close(fds[1]);
        Ok((pid, std::fs::File::from_raw_fd(fds[0])))
    }
}

fn close_inherited_fds() {
    close_fds_from(3);
}

#[cfg(all(target_os = "linux", target_env = "gnu"))]
fn close_fds_from(first: u32) {
    // SAFETY: close_range(2) on descriptors this (single-threaded) child does not use.
    unsafe {
        libc::syscall(libc::SYS_close_range, first, u32::MAX, 0u32);
    }
}

#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
fn close_fds_from(_first: u32) {}

/// Kills the running child (if any), waits for it and removes its temporary file.
pub fn kill_child(state: &mut State) {
    let Some(c) = state.persist.child.take() else { return };
    unsafe {
        libc::kill(c.pid, libc::SIGKILL);
        let mut status = 0;
        libc::waitpid(c.pid, &mut status, 0);
    }
    match c.kind {
        ChildKind::Rdb => {
            tracing::warn!("Killing running BGSAVE child: {}", c.pid);
            let _ = std::fs::remove_file(state.config.dir.join(format!("temp-{}.rdb", c.pid)));
        }
        ChildKind::Aof => {
            tracing::warn!("Killing running AOF rewrite child: {}", c.pid);
            let _ = std::fs::remove_file(aof::rewrite_temp_path(state, c.pid));
            aof::rewrite_aborted(state);
        }
    }
}

// ---------------------------------------------------------------------------------------------
// RDB.

/// SAVE: a blocking save to `dbfilename`.
pub fn save(state: &mut State) -> Result<(), String> {
    let path = rdb_path(state);
    let tmp = state.config.dir.join(format!("temp-{}.rdb", std::process::id()));
    let meta = save_meta(state);
    let dirty = state.dirty;
    match rdb::save_file(&path, &tmp, &state.dbs, &meta) {
        Ok(_) => {
            tracing::info!("DB saved on disk");
            clear_dirty(state, dirty);
            state.lastsave = crate::util::now_ms() / 1000;
            state.persist.rdb_last_bgsave_ok = true;
            state.persist.rdb_saves += 1;
            Ok(())
        }
        Err(e) => {
            let msg = format!("Failed saving the DB: {}", crate::config::values::strerror(&e));
            tracing::warn!("{msg}");
            Err(msg)
        }
    }
}

/// Starts a BGSAVE child. The caller has checked that no child is running.
pub fn bgsave(state: &mut State) -> Result<i32, String> {
    let path = rdb_path(state);
    let dir = state.config.dir.clone();
    let meta = save_meta(state);
    state.persist.last_bgsave_try = crate::util::now_ms() / 1000;
    state.persist.dirty_at_fork = state.dirty;
    let started = Instant::now();
    let dbs = &state.dbs;
    let forked = fork_child(|| {
        lower_child_priority();
        let tmp = dir.join(format!("temp-{}.rdb", std::process::id()));
        rdb::save_file(&path, &tmp, dbs, &meta).is_ok()
    });
    match forked {
        Ok(pid) => {
            state.persist.child = Some(Child { pid, kind: ChildKind::Rdb, started });
            tracing::info!("Background saving started by pid {pid}");
            Ok(pid)
        }
        Err(e) => {
            state.persist.rdb_last_bgsave_ok = false;
            let msg = format!("Can't save in background: fork: {}", crate::config::values::strerror(&e));
            tracing::warn!("{msg}");
            Err(msg)
        }
    }
}

/// Takes `n` off the changes since the last save, keeping `dirty + dirty_cleared` unchanged.
fn clear_dirty(state: &mut State, n: u64) {
    let n = n.min(state.dirty);
    state.dirty -= n;
    state.persist.dirty_cleared = state.persist.dirty_cleared.wrapping_add(n);
}

/// `dirty + dirty_cleared`: changes when (and only when) the dataset was modified.
pub fn change_counter(state: &State) -> u64 {
    state.dirty.wrapping_add(state.persist.dirty_cleared)
}

fn bgsave_done(state: &mut State, ok: bool, secs: i64, pid: i32) {
    state.persist.rdb_last_bgsave_time_sec = secs;
    if ok {
        tracing::info!("Background saving terminated with success");
        let at_fork = state.persist.dirty_at_fork;
        clear_dirty(state, at_fork);
        state.lastsave = crate::util::now_ms() / 1000;
        state.persist.rdb_last_bgsave_ok = true;
        state.persist.rdb_saves += 1;
    } else {
        tracing::warn!("Background saving error");
        state.persist.rdb_last_bgsave_ok = false;
        let _ = std::fs::remove_file(state.config.dir.join(format!("temp-{pid}.rdb")));
    }
}

/// Whether write commands (and PING) must be refused, and with what error (Redis's MISCONF).
pub fn write_denied(state: &State) -> Option<String> {
    let c = &state.config;
    if c.stop_writes_on_bgsave_error && !c.save.is_empty() && !state.persist.rdb_last_bgsave_ok {
        return Some(
            "MISCONF Redis is configured to save RDB snapshots, but it's currently unable to persist to disk. Commands that may modify the data set are disabled, because this instance is configured to report errors during writes if RDB snapshotting fails (stop-writes-on-bgsave-error option). Please check the Redis logs for details about the RDB error."
                .into(),
        );
    }
    if state.persist.aof.is_some() {
        if let Some(e) = &state.persist.aof_last_write_error {
            return Some(format!("MISCONF Errors writing to the AOF file: {e}"));
        }
    }
    None
}

// ---------------------------------------------------------------------------------------------
// Cron.

/// Called by the server cron: reaps the child, applies save points, AOF rewrite triggers,
/// scheduled jobs, `appendonly` switches and the once-a-second fsync.
pub fn cron(state: &mut State) {
    reap_child(state);
    aof::cron(state);
    if state.persist.child.is_some() {
        return;
    }
    if state.persist.rdb_bgsave_scheduled {
        state.persist.rdb_bgsave_scheduled = false;
        let _ = bgsave(state);
        return;
    }
    if state.persist.aof_rewrite_scheduled {
        state.persist.aof_rewrite_scheduled = false;
        let _ = aof::rewrite_background(state);
        return;
    }
    let now = crate::util::now_ms() / 1000;
    let p = &state.persist;
    let due = state.config.save.iter().find(|&&(secs, changes)| {
        state.dirty >= changes
            && now - state.lastsave > secs as i64
            && (now - p.last_bgsave_try > BGSAVE_RETRY_DELAY || p.rdb_last_bgsave_ok)
    });
    if let Some(&(secs, changes)) = due {
        tracing::info!("{changes} changes in {secs} seconds. Saving...");
        let _ = bgsave(state);
        return;
    }
    aof::maybe_auto_rewrite(state);
}

/// Checks (without blocking) whether the child finished, and records its outcome.
pub fn reap_child(state: &mut State) {
    let Some(c) = &state.persist.child else { return };
    let pid = c.pid;
    let mut status = 0;
    // SAFETY: plain syscall on our own child.
    let r = unsafe { libc::waitpid(pid, &mut status, libc::WNOHANG) };
    if r == 0 {
        return;
    }
    let c = state.persist.child.take().expect("child");
    let secs = c.started.elapsed().as_secs() as i64;
    let ok = r == pid && libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0;
    if r == pid && libc::WIFSIGNALED(status) {
        tracing::warn!("Background child terminated by signal {}", libc::WTERMSIG(status));
    }
    match c.kind {
        ChildKind::Rdb => bgsave_done(state, ok, secs, pid),
        ChildKind::Aof => aof::rewrite_done(state, ok, secs, pid),
    }
}

/// Blocks until the running child (if any) finishes and records its outcome (tests, DEBUG).
#[allow(dead_code)]
pub fn wait_child(state: &mut State) {
    while state.persist.child.is_some() {
        reap_child(state);
        if state.persist.child.is_some() {
            std::thread::sleep(std::time::Duration::from_millis(2));
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Startup and shutdown.

/// Loads the dataset before the server listens: the AOF when `appendonly yes` (it wins, as in
/// Redis), else the RDB file. Then opens the AOF for appending when enabled.
pub fn load_at_startup(state: &mut State) -> Result<(), String> {
    let started = Instant::now();
    state.persist.loading = true;
    let r = load_data(state, started);
    state.persist.loading = false;
    r?;
    state.dirty = 0;
    if state.config.appendonly {
        aof::open_at_startup(state)?;
    }
    Ok(())
}

fn load_data(state: &mut State, started: Instant) -> Result<(), String> {
    if state.config.appendonly {
        match aof::load_at_startup(state)? {
            aof::Loaded::Yes => {
                tracing::info!("DB loaded from append only file: {:.3} seconds", started.elapsed().as_secs_f64());
                return Ok(());
            }
            aof::Loaded::Missing => {
                // No AOF yet: take the RDB (if any) so turning AOF on never starts empty; the
                // AOF is then created by a rewrite of what was loaded.
            }
        }
    }
    let path = rdb_path(state);
    match rdb::load_file(state, &path) {
        Ok(Some(stats)) => {
            tracing::info!("DB loaded from disk: {:.3} seconds", started.elapsed().as_secs_f64());
            crate::repl::restore_from_rdb(state, &stats);
            if stats.expired_skipped > 0 || stats.empty_skipped > 0 {
                tracing::info!(
                    "Done loading RDB, keys loaded: {}, keys expired: {}, empty keys skipped: {}.",
                    stats.keys,
                    stats.expired_skipped,
                    stats.empty_skipped
                );
            }
            Ok(())
        }
        Ok(None) => Ok(()),
        Err(e) => Err(e.0),
    }
}

/// What SHUTDOWN and SIGTERM/SIGINT do before exiting: stop the child, flush the AOF, and save
/// the RDB when asked (`Some(true)`), or by default (`None`) when save points are configured.
/// Returns false when the save failed (the server must then keep running, unless forced).
pub fn prepare_shutdown(state: &mut State, save: Option<bool>) -> bool {
    kill_child(state);
    aof::flush_on_shutdown(state);
    let want = save.unwrap_or(!state.config.save.is_empty());
    if want {
        tracing::info!("Saving the final RDB snapshot before exiting.");
        if save_for_shutdown(state).is_err() {
            tracing::warn!("Error trying to save the DB, can't exit.");
            return false;
        }
    }
    true
}

fn save_for_shutdown(state: &mut State) -> Result<(), String> {
    save(state)
}

/// DEBUG RELOAD: save (unless `nosave`), empty the keyspace and load the RDB file back.
pub fn debug_reload(state: &mut State, nosave: bool) -> Result<(), String> {
    if !nosave {
        save(state).map_err(|_| "ERR Error trying to save the DB".to_string())?;
    }
    for db in 0..state.dbs.len() {
        state.signal_db_changed(db, None);
        state.dbs[db].clear();
    }
    state.persist.loading = true;
    let r = rdb::load_file(state, &rdb_path(state));
    state.persist.loading = false;
    match r {
        Ok(_) => {
            tracing::info!("DB reloaded by DEBUG RELOAD");
            Ok(())
        }
        Err(e) => {
            tracing::warn!("{e}");
            Err("ERR Error trying to load the RDB dump, check server logs.".into())
        }
    }
}

/// FLUSHALL with save points configured: stop a running BGSAVE and save the (now empty)
/// dataset, as Redis does.
pub fn after_flushall(state: &mut State) {
    if state.persist.child_kind() == Some(ChildKind::Rdb) {
        kill_child(state);
    }
    if !state.config.save.is_empty() {
        let _ = save(state);
    }
    state.dirty += 1;
}
