//! `maxmemory` eviction, as Redis 7.0's `evict.c` does it.
//!
//! Before each command (when `maxmemory` is set) [`perform_evictions`] compares the allocated
//! bytes (`evict_mem`, a counter kept by the global allocator) with the limit and, when over,
//! evicts keys by the configured policy until enough memory was released:
//!
//! - LRU / LFU / volatile-ttl: every round samples `maxmemory-samples` keys of each non-empty
//!   database into a pool of the 16 best candidates (highest idle time, lowest frequency or
//!   nearest expiry) and evicts the best one that still exists.
//! - random policies: a random key of the next non-empty database, round robin.
//!
//! `volatile-*` policies only look at keys with a TTL. A round stops after the time budget of
//! `maxmemory-eviction-tenacity` (the server cron then continues). When no key can be evicted
//! the result is [`Evict::Fail`] and the dispatcher rejects commands flagged `denyoom` with
//! Redis's OOM error.
//!
//! LFU policies keep Redis's 24-bit layout in `Entry.lru`: 16 bits of "last decrement time" in
//! minutes and an 8-bit logarithmic access counter.
//!
//! Values with many elements are freed on a helper thread; while such a free is in flight a
//! round evicts nothing more (and does not refuse commands), so the next round decides on the
//! memory actually released rather than on an estimate.

#[path = "evict_mem.rs"]
pub mod mem;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc::{channel, Sender};
use std::sync::{Mutex, OnceLock};
use std::time::Instant;

use rand::Rng;

use crate::client::Client;
use crate::cmd::{flags, CommandSpec, CommandTable};
use crate::config::Config;
use crate::db::{Db, KeyPos, Value};
use crate::server::State;

/// Redis's reply when a `denyoom` command arrives while memory cannot be freed.
pub const OOM_ERROR: &str = "OOM command not allowed when used memory > 'maxmemory'.";

/// Entries in the pool of eviction candidates (`EVPOOL_SIZE`).
const POOL_SIZE: usize = 16;
/// Counter a new key starts with under LFU (`LFU_INIT_VAL`).
pub const LFU_INIT_VAL: u32 = 5;
/// Values with more elements than this are freed off-thread (`LAZYFREE_THRESHOLD`).
const LAZYFREE_THRESHOLD: usize = 64;
const LRU_CLOCK_MAX: u64 = (1 << 24) - 1;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Policy {
    NoEviction,
    AllkeysLru,
    VolatileLru,
    AllkeysLfu,
    VolatileLfu,
    AllkeysRandom,
    VolatileRandom,
    VolatileTtl,
}

impl Policy {
    pub fn from_config(c: &Config) -> Policy {
        match c.maxmemory_policy.as_str() {
            "allkeys-lru" => Policy::AllkeysLru,
            "volatile-lru" => Policy::VolatileLru,
            "allkeys-lfu" => Policy::AllkeysLfu,
            "volatile-lfu" => Policy::VolatileLfu,
            "allkeys-random" => Policy::AllkeysRandom,
            "volatile-random" => Policy::VolatileRandom,
            "volatile-ttl" => Policy::VolatileTtl,
            _ => Policy::NoEviction,
        }
    }

    fn allkeys(self) -> bool {
        matches!(self, Policy::AllkeysLru | Policy::AllkeysLfu | Policy::AllkeysRandom)
    }

    fn random(self) -> bool {
        matches!(self, Policy::AllkeysRandom | Policy::VolatileRandom)
    }
}

/// Outcome of [`perform_evictions`] (`EVICT_OK`, `EVICT_RUNNING`, `EVICT_FAIL`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Evict {
    /// Under the limit (or no limit).
    Ok,
    /// Still over the limit but the time budget ran out; later rounds continue.
    Running,
    /// Over the limit and nothing (more) can be evicted.
    Fail,
}

/// One candidate of the pool: higher `idle` = better to evict.
struct PoolEntry {
    idle: u64,
    db: usize,
    key: Vec<u8>,
}

/// What eviction keeps between rounds (`EvictionPoolLRU`, `next_db`).
#[derive(Default)]
pub struct EvictState {
    /// Ascending by `idle`; at most [`POOL_SIZE`] entries.
    pool: Vec<PoolEntry>,
    next_db: usize,
    /// Spare key buffers, reused so sampling does not allocate.
    spare: Vec<Vec<u8>>,
    samples: Vec<KeyPos>,
}

// ---------------------------------------------------------------------------------------------
// Configuration read straight from the directive table (always in step with CONFIG SET).

fn config_int(c: &Config, name: &'static str, slot: &'static OnceLock<usize>, default: i64) -> i64 {
    let idx = *slot.get_or_init(|| crate::config::table::index_of(name));
    c.values.get(idx).and_then(|v| v.parse().ok()).unwrap_or(default)
}

fn lfu_log_factor(c: &Config) -> i64 {
    static IDX: OnceLock<usize> = OnceLock::new();
    config_int(c, "lfu-log-factor", &IDX, 10)
}

fn lfu_decay_time(c: &Config) -> i64 {
    static IDX: OnceLock<usize> = OnceLock::new();
    config_int(c, "lfu-decay-time", &IDX, 1)
}

fn tenacity(c: &Config) -> i64 {
    static IDX: OnceLock<usize> = OnceLock::new();
    config_int(c, "maxmemory-eviction-tenacity", &IDX, 10)
}

/// Whether an LFU policy is selected (the `lru` field then holds LFU data).
#[inline]
pub fn lfu_active(c: &Config) -> bool {
    c.maxmemory_policy.ends_with("-lfu")
}

/// `evictionTimeLimitUs`: the time budget of one eviction round.
fn time_limit_us(tenacity: i64) -> u64 {
    let t = tenacity.clamp(0, 100);
    if t <= 10 {
        50 * t as u64
    } else if t < 100 {
        (500.0 * 1.15f64.powf(t as f64 - 10.0)) as u64
    } else {
        u64::MAX
    }
}

// ---------------------------------------------------------------------------------------------
// LRU clock and LFU counter.

/// `LFUGetTimeInMinutes`.
fn lfu_minutes(now_ms: i64) -> u64 {
    ((now_ms / 1000 / 60) as u64) & 0xFFFF
}

/// `LFUTimeElapsed`: minutes since `ldt`, wrapping once.
fn lfu_elapsed(ldt: u64, now_ms: i64) -> u64 {
    let now = lfu_minutes(now_ms);
    if now >= ldt {
        now - ldt
    } else {
        65535 - ldt + now
    }
}

/// `LFUDecrAndReturn`: the counter after the decay of the periods elapsed since its last
/// decrement time (the stored value is left alone).
pub fn lfu_decr_and_return(lru: u32, decay_time: i64, now_ms: i64) -> u64 {
    let ldt = (lru >> 8) as u64;
    let counter = (lru & 255) as u64;
    let periods = if decay_time > 0 { lfu_elapsed(ldt, now_ms) / decay_time as u64 } else { 0 };
    counter.saturating_sub(periods)
}

/// `LFULogIncr`: increments with probability 1 / ((counter - LFU_INIT_VAL) * factor + 1).
pub fn lfu_log_incr(counter: u64, log_factor: i64, r: f64) -> u64 {
    if counter >= 255 {
        return 255;
    }
    let baseval = (counter as f64 - LFU_INIT_VAL as f64).max(0.0);
    let p = 1.0 / (baseval * log_factor as f64 + 1.0);
    if r < p {
        counter + 1
    } else {
        counter
    }
}

/// OBJECT FREQ: the current (decayed) access counter of a key.
pub fn lfu_freq(state: &State, lru: u32) -> i64 {
    lfu_decr_and_return(lru, lfu_decay_time(&state.config), state.now_ms) as i64
}

/// The `lru` field of a key just accessed: the LRU clock, or under LFU the decayed counter
/// incremented logarithmically with the current minute time (`updateLFU`).
#[inline]
pub fn touched_lru(state: &mut State, old: u32) -> u32 {
    if !lfu_active(&state.config) {
        return state.lru_clock();
    }
    let now = state.now_ms;
    let counter = lfu_decr_and_return(old, lfu_decay_time(&state.config), now);
    let r: f64 = state.rng.random();
    let counter = lfu_log_incr(counter, lfu_log_factor(&state.config), r);
    ((lfu_minutes(now) << 8) | counter) as u32
}

/// The `lru` field of a new key: the LRU clock, or the LFU initial counter.
#[inline]
pub fn new_key_lru(state: &State) -> u32 {
    if lfu_active(&state.config) {
        ((lfu_minutes(state.now_ms) << 8) as u32) | LFU_INIT_VAL
    } else {
        state.lru_clock()
    }
}

/// The `lru` field a key gets when SET-like commands overwrite it: under LFU the existing
/// key's counter carries over (after counting this access), as Redis's `dbOverwrite` does.
pub fn overwrite_lru(state: &mut State, db: usize, key: &[u8]) -> u32 {
    if lfu_active(&state.config) {
        if let Some(at) = state.dbs[db].locate(key) {
            let old = state.dbs[db].entry(at).lru;
            return touched_lru(state, old);
        }
    }
    new_key_lru(state)
}

/// `estimateObjectIdleTime` in ms.
fn idle_ms(lru: u32, clock: u64) -> u64 {
    let lru = lru as u64;
    if clock >= lru {
        (clock - lru) * 1000
    } else {
        (clock + (LRU_CLOCK_MAX - lru)) * 1000
    }
}

// ---------------------------------------------------------------------------------------------
// The dispatcher's hook.

/// Whether Redis would reject this command when memory cannot be freed: `denyoom` commands,
/// EXEC of a transaction holding one, and anything queued inside MULTI.
pub fn rejected_on_oom(spec: &CommandSpec, client: &Client) -> bool {
    if spec.has(flags::DENYOOM) {
        return true;
    }
    let Some(multi) = &client.multi else { return false };
    match spec.name {
        "exec" => {
            let table = CommandTable::get();
            multi.queued.iter().any(|args| table.lookup(&args[0]).is_some_and(|i| table.specs[i].has(flags::DENYOOM)))
        }
        "discard" | "quit" | "reset" => false,
        _ => true,
    }
}

/// Runs before a command when `maxmemory` is set: evicts as needed and tells whether the
/// command must be refused with [`OOM_ERROR`].
pub fn oom_check(state: &mut State, spec: &CommandSpec, client: &Client) -> bool {
    perform_evictions(state) == Evict::Fail && rejected_on_oom(spec, client)
}

/// Called by the server cron: keeps evicting while over the limit, like Redis's eviction
/// timer after a round ran out of time or the limit was lowered.
pub fn cron(state: &mut State) {
    if state.config.maxmemory > 0 {
        state.now_ms = crate::util::now_ms();
        perform_evictions(state);
    }
}

/// `performEvictions`.
pub fn perform_evictions(state: &mut State) -> Evict {
    let maxmemory = state.config.maxmemory as usize;
    if maxmemory == 0 || mem::used() <= maxmemory {
        return Evict::Ok;
    }
    let policy = Policy::from_config(&state.config);
    if policy == Policy::NoEviction {
        return Evict::Fail;
    }
    if PENDING_JOBS.load(Ordering::Acquire) > 0 {
        // Evicted values are still being freed: wait for the real figure instead of
        // evicting more on a guess.
        return Evict::Running;
    }
    let to_free = (mem::used() - maxmemory) as i64;
    let limit_us = time_limit_us(tenacity(&state.config));
    let started = Instant::now();
    let mut freed: i64 = 0;
    let mut keys_freed: u64 = 0;
    let mut ev = std::mem::take(&mut state.evict);
    let mut result = Evict::Ok;
    while freed < to_free {
        let best =
            if policy.random() { pick_random(state, &mut ev, policy) } else { pick_from_pool(state, &mut ev, policy) };
        let Some((db, at)) = best else {
            result = Evict::Fail;
            break;
        };
        keys_freed += 1;
        match evict_key(state, db, at) {
            Some(delta) => freed += delta,
            None => {
                // A big value went to the helper thread; later rounds see what it released.
                result = Evict::Running;
                break;
            }
        }
        if keys_freed.is_multiple_of(16) && started.elapsed().as_micros() as u64 > limit_us {
            result = if mem::used() <= maxmemory { Evict::Ok } else { Evict::Running };
            break;
        }
    }
    state.evict = ev;
    result
}

/// Deletes an evicted key with Redis's side effects. Returns the bytes released, or None when
/// the value is being freed off-thread.
fn evict_key(state: &mut State, db: usize, at: KeyPos) -> Option<i64> {
    let before = mem::used() as i64;
    let entry = state.dbs[db].remove_at(at);
    state.stats.evicted_keys += 1;
    state.signal_modified(db, &entry.key);
    state.notify_keyspace_event('e', "evicted", &entry.key, db);
    let crate::db::Entry { key, value, .. } = entry;
    drop(key);
    if free_effort(&value) > LAZYFREE_THRESHOLD {
        if lazy_free(value) {
            return None;
        }
    } else {
        drop(value);
    }
    Some(before - mem::used() as i64)
}

// ---------------------------------------------------------------------------------------------
// Candidate selection.

/// The random policies: a random (volatile) key of the next non-empty database.
fn pick_random(state: &mut State, ev: &mut EvictState, policy: Policy) -> Option<(usize, KeyPos)> {
    let n = state.dbs.len();
    for _ in 0..n {
        ev.next_db = ev.next_db.wrapping_add(1);
        let j = ev.next_db % n;
        let db = &state.dbs[j];
        let size = if policy.allkeys() { db.len() } else { db.volatile_len() };
        if size == 0 {
            continue;
        }
        let mut one = Vec::with_capacity(1);
        sample(db, !policy.allkeys(), 1, &mut state.rng, &mut one);
        if let Some(at) = one.pop() {
            return Some((j, at));
        }
    }
    None
}

/// The pool policies: refill the pool from every database, then take the best candidate that
/// still exists (stale entries are dropped on the way).
fn pick_from_pool(state: &mut State, ev: &mut EvictState, policy: Policy) -> Option<(usize, KeyPos)> {
    let volatile_only = !policy.allkeys();
    // Bounded: each pass either finds a key or empties the pool of stale entries.
    for _ in 0..64 {
        let mut total_keys = 0;
        for i in 0..state.dbs.len() {
            let keys = if volatile_only { state.dbs[i].volatile_len() } else { state.dbs[i].len() };
            if keys != 0 {
                populate(state, ev, i, policy);
                total_keys += keys;
            }
        }
        if total_keys == 0 {
            return None;
        }
        while let Some(cand) = ev.pool.pop() {
            let found = state.dbs[cand.db].locate(&cand.key);
            ev.spare.push(cand.key);
            if let Some(at) = found {
                if !volatile_only || state.dbs[cand.db].entry(at).expire_ms != 0 {
                    return Some((cand.db, at));
                }
            }
        }
    }
    None
}

/// `evictionPoolPopulate`: samples keys of database `dbi` and files the good ones in the pool.
fn populate(state: &mut State, ev: &mut EvictState, dbi: usize, policy: Policy) {
    let count = state.config.maxmemory_samples.max(1) as usize;
    let mut samples = std::mem::take(&mut ev.samples);
    samples.clear();
    sample(&state.dbs[dbi], !policy.allkeys(), count, &mut state.rng, &mut samples);
    let clock = ((crate::util::now_ms() / 1000) as u64) & LRU_CLOCK_MAX;
    let decay = lfu_decay_time(&state.config);
    let now = state.now_ms;
    for &at in &samples {
        let e = state.dbs[dbi].entry(at);
        let idle = match policy {
            Policy::AllkeysLru | Policy::VolatileLru => idle_ms(e.lru, clock),
            Policy::AllkeysLfu | Policy::VolatileLfu => 255 - lfu_decr_and_return(e.lru, decay, now),
            _ => u64::MAX - e.expire_ms as u64,
        };
        // First position whose idle is not below ours.
        let k = ev.pool.iter().position(|p| p.idle >= idle).unwrap_or(ev.pool.len());
        let full = ev.pool.len() == POOL_SIZE;
        if k == 0 && full {
            continue; // worse than every candidate of a full pool
        }
        let mut key = ev.spare.pop().unwrap_or_default();
        key.clear();
        key.extend_from_slice(&e.key);
        let entry = PoolEntry { idle, db: dbi, key };
        if full {
            // Drop the worst candidate (leftmost) and insert just before position k.
            let gone = ev.pool.remove(0);
            ev.spare.push(gone.key);
            ev.pool.insert(k - 1, entry);
        } else {
            ev.pool.insert(k, entry);
        }
    }
    ev.samples = samples;
}

/// Up to `count` random keys of `db` (only keys with a TTL when `volatile_only`), chosen
/// independently: a random non-empty slot, then a random position in it (for volatile keys,
/// the first one with a TTL from that position on).
fn sample(db: &Db, volatile_only: bool, count: usize, rng: &mut impl Rng, out: &mut Vec<KeyPos>) {
    const SLOTS: usize = compat::slot::MAX_SLOT_NUM;
    let total = if volatile_only { db.volatile_len() } else { db.len() };
    if total == 0 {
        return;
    }
    let qualifies = |slot: usize| {
        let t = db.slot(slot);
        if volatile_only {
            t.volatile() > 0
        } else {
            !t.is_empty()
        }
    };
    for _ in 0..count {
        // A few random probes, then a linear walk from a random slot (always finds one).
        let mut slot = None;
        for _ in 0..8 {
            let s = rng.random_range(0..SLOTS);
            if qualifies(s) {
                slot = Some(s);
                break;
            }
        }
        let slot = match slot {
            Some(s) => s,
            None => {
                let start = rng.random_range(0..SLOTS);
                match (0..SLOTS).map(|i| (start + i) % SLOTS).find(|&s| qualifies(s)) {
                    Some(s) => s,
                    None => return,
                }
            }
        };
        let t = db.slot(slot);
        let len = t.len();
        let start = rng.random_range(0..len);
        if !volatile_only {
            out.push(KeyPos { slot, pos: start });
            continue;
        }
        if let Some(pos) = (0..len).map(|i| (start + i) % len).find(|&p| t.at(p).expire_ms != 0) {
            out.push(KeyPos { slot, pos });
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Freeing off-thread.

/// Values handed to the helper thread and not yet freed.
static PENDING_JOBS: AtomicUsize = AtomicUsize::new(0);

type Job = Box<dyn Send>;

fn freer() -> &'static Mutex<Sender<Job>> {
    static TX: OnceLock<Mutex<Sender<Job>>> = OnceLock::new();
    TX.get_or_init(|| {
        let (tx, rx) = channel::<Job>();
        let spawned = std::thread::Builder::new().name("lazyfree".into()).spawn(move || {
            while let Ok(job) = rx.recv() {
                drop(job);
                PENDING_JOBS.fetch_sub(1, Ordering::Release);
            }
        });
        if let Err(e) = spawned {
            tracing::warn!("Can't start the lazy free thread: {e}");
        }
        Mutex::new(tx)
    })
}

/// How much work freeing a value takes (`lazyfreeGetFreeEffort`): its element count.
fn free_effort(v: &Value) -> usize {
    match v {
        Value::List(l) => l.len(),
        Value::Hash(h) => h.len(),
        Value::Set(s) => s.len(),
        Value::ZSet(z) => z.len(),
        _ => 1,
    }
}

/// Hands a big value to the helper thread (true), or frees it here when the thread is
/// unavailable (false).
fn lazy_free(v: Value) -> bool {
    let Ok(tx) = freer().lock() else { return false };
    PENDING_JOBS.fetch_add(1, Ordering::AcqRel);
    if tx.send(Box::new(v)).is_ok() {
        return true;
    }
    // The value came back inside the error and was dropped with it.
    PENDING_JOBS.fetch_sub(1, Ordering::AcqRel);
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lfu_counter_math() {
        // Decay: one point per `lfu-decay-time` minutes elapsed, never below zero.
        let now_ms = 1_000 * 60 * 1000; // minute 1000
        let lru = |minutes: u64, counter: u32| ((minutes as u32) << 8) | counter;
        assert_eq!(lfu_decr_and_return(lru(1000, 10), 1, now_ms), 10);
        assert_eq!(lfu_decr_and_return(lru(997, 10), 1, now_ms), 7);
        assert_eq!(lfu_decr_and_return(lru(990, 10), 2, now_ms), 5);
        assert_eq!(lfu_decr_and_return(lru(900, 10), 1, now_ms), 0);
        assert_eq!(lfu_decr_and_return(lru(900, 10), 0, now_ms), 10);
        // The 16-bit minute clock wraps once: last decrement at 65535, now minute 2 → 2 elapsed
        // (65535 - ldt + now).
        let wrapped_now = (65536 + 2) * 60 * 1000;
        assert_eq!(lfu_decr_and_return(lru(65535, 10), 1, wrapped_now), 8);
        // Increment probability 1 / ((c - 5) * factor + 1).
        assert_eq!(lfu_log_incr(3, 10, 0.99), 4); // below LFU_INIT_VAL: always
        assert_eq!(lfu_log_incr(5, 10, 0.99), 6);
        assert_eq!(lfu_log_incr(6, 10, 0.05), 7); // p = 1/11
        assert_eq!(lfu_log_incr(6, 10, 0.10), 6);
        assert_eq!(lfu_log_incr(255, 10, 0.0), 255);
        // redis.conf's table for lfu-log-factor 10: 100 hits → 10, 1K → 18, 1M → 255.
        let mut rng = rand::rngs::SmallRng::seed_from_u64(1);
        let mut c = LFU_INIT_VAL as u64;
        for _ in 0..100 {
            c = lfu_log_incr(c, 10, rng.random());
        }
        assert!((7..=13).contains(&c), "{c}");
        for _ in 0..900 {
            c = lfu_log_incr(c, 10, rng.random());
        }
        assert!((14..=22).contains(&c), "{c}");
        for _ in 0..1_000_000 {
            c = lfu_log_incr(c, 10, rng.random());
        }
        assert!(c >= 250, "{c}");
    }

    use rand::SeedableRng;

    #[test]
    fn time_limits() {
        assert_eq!(time_limit_us(0), 0);
        assert_eq!(time_limit_us(10), 500);
        assert_eq!(time_limit_us(11), 575);
        assert_eq!(time_limit_us(100), u64::MAX);
    }

    #[test]
    fn pool_keeps_best_candidates() {
        let mut state = State::new(Config::default());
        state.config.maxmemory_samples = 64;
        state.config.maxmemory_policy = "volatile-ttl".into();
        for i in 0..2000i64 {
            let at = state.dbs[0].insert_new(format!("k{i}").as_bytes(), Value::Int(i), 0, 0);
            if i % 2 == 0 {
                state.dbs[0].set_expire_at(at, 1_000_000 + i);
            }
        }
        let mut ev = EvictState::default();
        for _ in 0..50 {
            populate(&mut state, &mut ev, 0, Policy::VolatileTtl);
        }
        assert_eq!(ev.pool.len(), POOL_SIZE);
        assert!(ev.pool.windows(2).all(|w| w[0].idle <= w[1].idle));
        // Only volatile keys, and the best one expires early.
        for p in &ev.pool {
            let n: i64 = std::str::from_utf8(&p.key[1..]).unwrap().parse().unwrap();
            assert_eq!(n % 2, 0);
        }
        let best: i64 = std::str::from_utf8(&ev.pool.last().unwrap().key[1..]).unwrap().parse().unwrap();
        assert!(best < 300, "{best}");
    }
}
