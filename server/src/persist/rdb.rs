//! RDB files: writing the keyspace (SAVE, BGSAVE children, AOF preambles) and loading one.

use std::fs::File;
use std::io::{self, BufReader, BufWriter, Read, Write};
use std::path::{Path, PathBuf};

use compat::rdb::{EncodeOptions, Item, RdbReader, RdbVersion, RdbWriter, ReplAux, StandardAux};

use crate::cmd::dump::{from_rdb, to_rdb, ValueError};
use crate::config::Config;
use crate::db::Db;
use crate::server::State;

/// What goes into the AUX fields, taken in the parent (the child must not query jemalloc
/// statistics or the clock through locks).
#[derive(Clone)]
pub struct SaveMeta {
    pub opts: EncodeOptions,
    pub now_ms: i64,
    pub used_mem: u64,
    /// Written as `aof-base 1` / used as an AOF preamble (informational only).
    pub version_str: &'static str,
    /// The replication position (`repl-stream-db`, `repl-id`, `repl-offset`), written for RDB
    /// v8+ only: codis-server 3.2 (v7) writes none.
    pub repl: Option<ReplInfo>,
    /// `rdb-key-save-delay`: microseconds the writer sleeps after each key (a Redis testing
    /// knob that keeps a save child alive long enough to observe).
    pub key_delay_us: u64,
    /// How a file written by [`save_file`] reaches the disk while it grows
    /// (`rdb-save-incremental-fsync`; the AOF rewrite sets it from `aof-rewrite-incremental-fsync`).
    pub sync: SyncPolicy,
}

/// Bytes written between two steps of an incremental sync: Redis 7's `REDIS_AUTOSYNC_BYTES`.
pub const INCREMENTAL_SYNC_BYTES: u64 = 4 << 20;

/// How a save file reaches the disk while it is written. The file is fsynced once complete
/// either way.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SyncPolicy {
    /// Only the final fsync: the whole file (30 MB for 1M small keys) is written back then, in
    /// one burst.
    AtEnd,
    /// Every so many bytes, start writing them back (`sync_file_range`) and wait for the
    /// previous step, so the disk is kept busy in steady steps and the final fsync finds
    /// little left to do. This is what Redis 7 does for `rdb-save-incremental-fsync yes` (the
    /// same calls show under strace), and it costs no journal commit per step, unlike an
    /// fdatasync of a growing file.
    Incremental(u64),
}

impl SyncPolicy {
    /// The policy for an `...-incremental-fsync` setting.
    pub fn from_flag(incremental: bool) -> SyncPolicy {
        if incremental {
            SyncPolicy::Incremental(INCREMENTAL_SYNC_BYTES)
        } else {
            SyncPolicy::AtEnd
        }
    }
}

/// Where the replication stream was when the snapshot was taken.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ReplInfo {
    pub stream_db: i64,
    pub id: String,
    pub offset: i64,
}

impl SaveMeta {
    pub fn from_config(config: &Config, now_ms: i64, used_mem: u64) -> SaveMeta {
        let version = crate::cmd::dump::rdb_version(config.rdb_version);
        let opts = crate::cmd::dump::encode_options(config, version);
        let version_str = match version {
            RdbVersion::V7 => crate::cmd::connection::REDIS_VERSION,
            RdbVersion::V10 => "7.0.15",
        };
        let idx = crate::config::table::index_of("rdb-key-save-delay");
        let key_delay_us = config.values[idx].parse::<i64>().unwrap_or(0).max(0) as u64;
        let incremental = crate::config::table::index_of("rdb-save-incremental-fsync");
        let sync = SyncPolicy::from_flag(config.values[incremental] == "yes");
        SaveMeta { opts, now_ms, used_mem, version_str, repl: None, key_delay_us, sync }
    }
}

/// Writes every live key of `dbs` as an RDB stream to `w`. Expired keys are left out; TTLs are
/// written as `EXPIRETIME_MS`. Returns the sink and the number of keys written.
pub fn write_rdb<W: Write>(w: W, dbs: &[Db], meta: &SaveMeta) -> io::Result<(W, u64)> {
    let mut rdb = RdbWriter::with_options(w, meta.opts)?;
    rdb.write_standard_aux(&StandardAux {
        redis_ver: meta.version_str,
        ctime: meta.now_ms / 1000,
        used_mem: meta.used_mem,
        repl: meta.repl.as_ref().map(|r| ReplAux { stream_db: r.stream_db, repl_id: &r.id, offset: r.offset }),
    })?;
    let mut keys = 0u64;
    for db in dbs {
        if db.is_empty() {
            continue;
        }
        rdb.select_db(db.id as u64)?;
        rdb.resize_db(db.len() as u64, db.volatile_len() as u64)?;
        for e in db.iter() {
            if e.is_expired(meta.now_ms) {
                continue;
            }
            let expire = (e.expire_ms != 0).then_some(e.expire_ms);
            rdb.write_entry(&e.key, &to_rdb(&e.value), expire)?;
            keys += 1;
            if meta.key_delay_us > 0 {
                std::thread::sleep(std::time::Duration::from_micros(meta.key_delay_us));
            }
        }
    }
    Ok((rdb.finish()?, keys))
}

/// A file being written that goes to disk in steps as it grows (see [`SyncPolicy`]).
pub struct SyncingFile {
    file: File,
    policy: SyncPolicy,
    /// Bytes written so far, and up to where a step was started.
    written: u64,
    stepped: u64,
    /// Start of the step whose write-back is under way.
    in_flight: Option<u64>,
    /// Steps taken so far (checked by the tests).
    #[cfg_attr(not(test), allow(dead_code))]
    steps: u32,
}

impl SyncingFile {
    pub fn new(file: File, policy: SyncPolicy) -> SyncingFile {
        SyncingFile { file, policy, written: 0, stepped: 0, in_flight: None, steps: 0 }
    }

    /// Fsyncs the whole file (data and metadata); returns it.
    pub fn finish(self) -> io::Result<File> {
        self.file.sync_all()?;
        Ok(self.file)
    }

    fn step(&mut self) -> io::Result<()> {
        let SyncPolicy::Incremental(n) = self.policy else { return Ok(()) };
        if self.written - self.stepped < n {
            return Ok(());
        }
        let start = self.stepped;
        write_back(&self.file, start, self.written - start, false)?;
        if let Some(prev) = self.in_flight.replace(start) {
            write_back(&self.file, prev, start - prev, true)?;
        }
        self.stepped = self.written;
        self.steps += 1;
        Ok(())
    }
}

/// Starts writing back `len` bytes at `start` of `file`, or (`wait`) waits until they are on
/// disk.
#[cfg(target_os = "linux")]
fn write_back(file: &File, start: u64, len: u64, wait: bool) -> io::Result<()> {
    use std::os::fd::AsRawFd;
    let flags = if wait {
        libc::SYNC_FILE_RANGE_WAIT_BEFORE | libc::SYNC_FILE_RANGE_WRITE | libc::SYNC_FILE_RANGE_WAIT_AFTER
    } else {
        libc::SYNC_FILE_RANGE_WRITE
    };
    // SAFETY: a plain system call on a descriptor we own.
    if unsafe { libc::sync_file_range(file.as_raw_fd(), start as i64, len as i64, flags) } != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

#[cfg(not(target_os = "linux"))]
fn write_back(file: &File, _start: u64, _len: u64, wait: bool) -> io::Result<()> {
    if wait {
        file.sync_data()?;
    }
    Ok(())
}

impl Write for SyncingFile {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.file.write(buf)?;
        self.written += n as u64;
        self.step()?;
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.file.flush()
    }
}

/// Saves to `path` atomically: writes `tmp` (going to disk as it grows, as `meta.sync` says),
/// fsyncs it, renames it over `path` and fsyncs the directory. The temporary file is removed
/// on failure.
pub fn save_file(path: &Path, tmp: &Path, dbs: &[Db], meta: &SaveMeta) -> io::Result<u64> {
    let r = (|| {
        let f = SyncingFile::new(File::create(tmp)?, meta.sync);
        let (bw, keys) = write_rdb(BufWriter::with_capacity(1 << 16, f), dbs, meta)?;
        let f = bw.into_inner().map_err(|e| e.into_error())?.finish()?;
        drop(f);
        std::fs::rename(tmp, path)?;
        fsync_dir(path);
        Ok(keys)
    })();
    if r.is_err() {
        let _ = std::fs::remove_file(tmp);
    }
    r
}

/// fsync of the directory holding `path` so a rename survives a crash (best effort).
pub fn fsync_dir(path: &Path) {
    let dir = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    if let Ok(d) = File::open(&dir) {
        let _ = d.sync_all();
    }
}

/// Counts from a load, and the replication position the file recorded (AUX `repl-id` and
/// `repl-offset`, written by Redis 4+ and by us for RDB v8+).
#[derive(Debug, Default, Clone)]
pub struct LoadStats {
    pub keys: u64,
    pub expired_skipped: u64,
    pub empty_skipped: u64,
    pub repl_id: Option<String>,
    pub repl_offset: Option<i64>,
    pub repl_stream_db: Option<i64>,
}

/// Why a load failed (the message is logged before the server gives up).
#[derive(Debug)]
pub struct LoadError(pub String);

impl std::fmt::Display for LoadError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// Loads an RDB stream into `state` (keys already present are replaced). Reads exactly the RDB
/// (up to its checksum), so an AOF tail after a preamble stays in `r`.
pub fn load_rdb<R: Read>(state: &mut State, r: R) -> Result<(R, LoadStats), LoadError> {
    let clock = state.lru_clock();
    load_into(&mut state.dbs, &state.config, clock, r)
}

/// [`load_rdb`] into databases outside the server state (a replica parses its master's RDB
/// into a fresh keyspace while it streams in, then swaps it in).
pub fn load_into<R: Read>(dbs: &mut [Db], config: &Config, clock: u32, r: R) -> Result<(R, LoadStats), LoadError> {
    let mut reader =
        RdbReader::new(r).map_err(|e| LoadError(format!("Wrong signature trying to load DB from file: {e}")))?;
    let mut stats = LoadStats::default();
    let now = crate::util::now_ms();
    let clock = clock as i64;
    loop {
        let item = match reader.read_item() {
            Ok(Some(item)) => item,
            Ok(None) => break,
            Err(e) => {
                return Err(LoadError(format!(
                    "Short read or corrupt data loading DB ({e}). Unrecoverable error, aborting now."
                )))
            }
        };
        match item {
            Item::Entry(e) => {
                let db = e.db as usize;
                if db >= dbs.len() {
                    return Err(LoadError(format!(
                        "FATAL: Data file was created with a Redis server configured to handle more than {} databases. Exiting",
                        dbs.len()
                    )));
                }
                if let Some(ms) = e.expire_ms {
                    if ms < now {
                        stats.expired_skipped += 1;
                        continue;
                    }
                }
                let value = match from_rdb(e.value, config) {
                    Ok(v) => v,
                    Err(ValueError::Empty) => {
                        stats.empty_skipped += 1;
                        continue;
                    }
                    Err(err) => {
                        return Err(LoadError(format!(
                            "Corrupt RDB: {err} for key '{}'. Unrecoverable error, aborting now.",
                            String::from_utf8_lossy(&e.key)
                        )))
                    }
                };
                let lru = match e.idle {
                    Some(idle) => ((clock - (idle.min(0xFF_FFFF) as i64)) & 0xFF_FFFF) as u32,
                    None => clock as u32,
                };
                let d = &mut dbs[db];
                if d.locate(&e.key).is_some() {
                    d.remove(&e.key);
                }
                d.insert_new(&e.key, value, e.expire_ms.unwrap_or(0), lru);
                stats.keys += 1;
            }
            Item::Skipped { .. } => unreachable!("skip_unsupported is off"),
            Item::Function(_) => {
                tracing::warn!("RDB holds a Redis 7 function library: functions are not supported, skipped");
            }
            Item::ModuleAux { module_name, .. } => {
                return Err(LoadError(format!(
                    "The RDB file contains AUX module data for module '{module_name}' that I can't load"
                )));
            }
            Item::Aux { key, value } => match &key[..] {
                b"repl-id" => stats.repl_id = Some(String::from_utf8_lossy(&value).into_owned()),
                b"repl-offset" => stats.repl_offset = std::str::from_utf8(&value).ok().and_then(|v| v.parse().ok()),
                b"repl-stream-db" => {
                    stats.repl_stream_db = std::str::from_utf8(&value).ok().and_then(|v| v.parse().ok())
                }
                _ => {}
            },
            Item::SelectDb(_) | Item::ResizeDb { .. } | Item::SlotInfo { .. } => {}
        }
    }
    Ok((reader.into_inner(), stats))
}

/// Loads the RDB file at `path`. `Ok(None)` when it does not exist.
pub fn load_file(state: &mut State, path: &Path) -> Result<Option<LoadStats>, LoadError> {
    let f = match File::open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(e) => {
            return Err(LoadError(format!(
                "Fatal error loading the DB: {}. Exiting.",
                crate::config::values::strerror(&e)
            )))
        }
    };
    let (_, stats) = load_rdb(state, BufReader::with_capacity(1 << 16, f))?;
    Ok(Some(stats))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write_through(policy: SyncPolicy, name: &str) -> (Vec<u8>, u32) {
        let path = std::env::temp_dir().join(format!("rcodis-syncing-{name}-{}", std::process::id()));
        let mut f = SyncingFile::new(File::create(&path).unwrap(), policy);
        let data: Vec<u8> = (0..10_000u32).map(|i| (i * 7) as u8).collect();
        for chunk in data.chunks(1000) {
            f.write_all(chunk).unwrap();
        }
        let steps = f.steps;
        f.finish().unwrap();
        let back = std::fs::read(&path).unwrap();
        std::fs::remove_file(&path).unwrap();
        assert_eq!(back, data, "{policy:?}");
        (back, steps)
    }

    #[test]
    fn syncing_file_keeps_every_byte_and_steps_as_it_grows() {
        assert_eq!(write_through(SyncPolicy::AtEnd, "end").1, 0);
        // 1000-byte writes, a step once 2500 bytes are pending: after 3000, 6000 and 9000.
        assert_eq!(write_through(SyncPolicy::Incremental(2500), "incremental").1, 3);
    }
}
