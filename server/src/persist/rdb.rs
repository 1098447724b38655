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
        SaveMeta { opts, now_ms, used_mem, version_str, repl: None, key_delay_us }
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

/// Saves to `path` atomically: writes `tmp`, fsyncs it, renames it over `path` and fsyncs the
/// directory. The temporary file is removed on failure.
pub fn save_file(path: &Path, tmp: &Path, dbs: &[Db], meta: &SaveMeta) -> io::Result<u64> {
    let r = (|| {
        let f = File::create(tmp)?;
        let (bw, keys) = write_rdb(BufWriter::with_capacity(1 << 16, f), dbs, meta)?;
        let f = bw.into_inner().map_err(|e| e.into_error())?;
        f.sync_all()?;
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
