//! The shared server: one `State` behind a mutex (commands run one at a time, as in Redis, while
//! socket reads and writes of all connections proceed in parallel), plus what the connection
//! tasks and background jobs need to coordinate.

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::AtomicU64;
use std::sync::Arc;
use std::time::Instant;

use parking_lot::Mutex;
use rand::rngs::SmallRng;
use rand::SeedableRng;
use tokio::sync::Notify;

use crate::blocking::Blocking;
use crate::client::{ClientInfo, Outbox, Pushed};
use crate::cmd::CommandTable;
use crate::config::Config;
use crate::db::{Db, KeyPos};
use crate::observe::{Latency, Slowlog};
use crate::pubsub::PubSub;

use bytes::{Bytes, BytesMut};
use compat::resp::write;

/// Output-buffer-limit class of Pub/Sub clients.
const PUBSUB_CLASS: usize = 2;

pub struct Shared {
    pub state: Mutex<State>,
    /// Notified once when the server must stop (SHUTDOWN, signals).
    pub shutdown: Notify,
    pub next_client_id: AtomicU64,
    /// The running script, watched by the connections (BUSY, SCRIPT KILL) without the lock.
    pub script_watch: std::sync::Arc<crate::scripting::ScriptWatch>,
    /// Connections waiting for the state lock without holding their worker thread.
    pub lock_waiters: LockWaiters,
    /// Pub/Sub messages waiting for a direct write into idle subscribers' sockets.
    pub fanout: Arc<crate::net::fanout::FanOut>,
    /// Replies left for the socket thread to write before it waits (off unless the runtime
    /// has the park hook that writes them).
    pub replies: Arc<crate::net::deferred::ReplyFlush>,
}

/// Lets a connection wait for the state lock asynchronously: its worker thread goes on serving
/// other connections' I/O instead of parking on the mutex, and the holder of a batch wakes one
/// waiter when it lets go.
#[derive(Default)]
pub struct LockWaiters {
    count: std::sync::atomic::AtomicUsize,
    released: Notify,
}

/// The state lock as connections and tasks hold it: letting go wakes one waiting connection.
pub struct StateGuard<'a> {
    guard: std::mem::ManuallyDrop<parking_lot::MutexGuard<'a, State>>,
    waiters: &'a LockWaiters,
}

impl<'a> StateGuard<'a> {
    pub fn new(guard: parking_lot::MutexGuard<'a, State>, waiters: &'a LockWaiters) -> StateGuard<'a> {
        StateGuard { guard: std::mem::ManuallyDrop::new(guard), waiters }
    }
}

impl std::ops::Deref for StateGuard<'_> {
    type Target = State;
    fn deref(&self) -> &State {
        &self.guard
    }
}

impl std::ops::DerefMut for StateGuard<'_> {
    fn deref_mut(&mut self) -> &mut State {
        &mut self.guard
    }
}

impl Drop for StateGuard<'_> {
    fn drop(&mut self) {
        // SAFETY: dropped exactly once, here; the field is not used afterwards.
        unsafe { std::mem::ManuallyDrop::drop(&mut self.guard) };
        self.waiters.released();
    }
}

impl LockWaiters {
    /// Called when a [`StateGuard`] lets go: wakes one waiting connection, if any.
    #[inline]
    pub fn released(&self) {
        if self.count.load(std::sync::atomic::Ordering::SeqCst) != 0 {
            self.released.notify_one();
        }
    }

    /// Waits until the lock looks free: `try_lock` is retried once after registering, so a
    /// release between the failed attempt and the registration is not missed. Holders of a
    /// plain `state.lock()` (startup, the replica link) release without a notification: the
    /// wait is bounded.
    pub async fn wait<'s>(&self, state: &'s Mutex<State>) -> Option<parking_lot::MutexGuard<'s, State>> {
        use std::sync::atomic::Ordering;
        let notified = self.released.notified();
        let mut notified = std::pin::pin!(notified);
        notified.as_mut().enable();
        self.count.fetch_add(1, Ordering::SeqCst);
        if let Some(guard) = state.try_lock() {
            self.count.fetch_sub(1, Ordering::SeqCst);
            return Some(guard);
        }
        let _ = tokio::time::timeout(std::time::Duration::from_millis(1), notified).await;
        self.count.fetch_sub(1, Ordering::SeqCst);
        None
    }
}

impl Shared {
    pub fn new(config: Config) -> Shared {
        let state = State::new(config);
        let script_watch = state.scripting.watch.clone();
        Shared {
            state: Mutex::new(state),
            script_watch,
            shutdown: Notify::new(),
            next_client_id: AtomicU64::new(1),
            lock_waiters: LockWaiters::default(),
            fanout: Arc::default(),
            replies: Arc::default(),
        }
    }
}

/// Counters reported by INFO.
#[derive(Default)]
pub struct Stats {
    pub commands: Vec<CommandStat>,
    pub total_commands: u64,
    pub total_connections: u64,
    pub rejected_connections: u64,
    pub expired_keys: u64,
    pub evicted_keys: u64,
    pub keyspace_hits: u64,
    pub keyspace_misses: u64,
    pub net_input_bytes: u64,
    pub net_output_bytes: u64,
}

#[derive(Default, Clone, Copy)]
pub struct CommandStat {
    pub calls: u64,
    pub usec: u64,
}

pub struct State {
    pub config: Config,
    pub dbs: Vec<Db>,
    pub stats: Stats,
    pub clients: BTreeMap<u64, ClientInfo>,
    /// Changes since the last save.
    pub dirty: u64,
    /// Unix seconds of the last successful save.
    pub lastsave: i64,
    pub run_id: String,
    pub start_ms: i64,
    pub rng: SmallRng,
    /// Set by the dispatcher before each command.
    pub now_ms: i64,
    /// Where the active expiry cycle stopped: (db, slot, slot cursor).
    pub expire_cursor: (usize, usize, usize),
    /// `rename-command`: lower-case name → the command it runs (`None` = disabled name).
    pub renamed: HashMap<Vec<u8>, Option<usize>>,
    pub pubsub: PubSub,
    /// WATCHed keys per database: key → watching clients.
    pub watched: Vec<HashMap<Bytes, Vec<u64>>>,
    /// The client whose command is running; pushes meant for it go to `self_pushes` so they can
    /// precede the command's own reply, as in Redis.
    pub current_client: u64,
    pub self_pushes: BytesMut,
    /// Set while a connection runs a batch of requests: Pub/Sub messages for idle subscribers
    /// are then left in their outboxes and listed in `flush_queue`, which that connection hands
    /// to [`Shared::fanout`] once the batch is over and the lock released.
    pub collect_flushes: bool,
    pub flush_queue: Vec<Arc<crate::client::Outbox>>,
    pub blocking: Blocking,
    /// Guards against serving blocked clients from inside a served command.
    pub serving_blocked: bool,
    /// Clients in MONITOR mode.
    pub monitors: Vec<u64>,
    /// CLIENT PAUSE: until when (unix ms, 0 = not paused) and whether only writes wait.
    pub pause_until_ms: i64,
    pub pause_writes_only: bool,
    pub slowlog: Slowlog,
    pub latency: Latency,
    /// `maxmemory` eviction: the candidate pool and round-robin position.
    pub evict: crate::evict::EvictState,
    /// RDB / AOF state (background child, AOF file, save outcomes).
    pub persist: crate::persist::Persist,
    /// Lua scripting: the Lua state and the script cache.
    pub scripting: crate::scripting::Scripting,
    /// Replication (master and replica side).
    pub repl: crate::repl::Repl,
    /// Slot migration: keys in flight and cached connections to targets.
    pub migrate: crate::migrate::MigrateState,
}

impl State {
    pub fn new(config: Config) -> State {
        let dbs = (0..config.databases).map(Db::new).collect();
        let mut rng = SmallRng::from_os_rng();
        let run_id: String = (0..40).map(|_| format!("{:x}", rand::Rng::random_range(&mut rng, 0..16u8))).collect();
        let now = crate::util::now_ms();
        let stats = Stats { commands: vec![CommandStat::default(); CommandTable::get().len()], ..Default::default() };
        let renamed = rename_table(&config.rename_commands);
        let watched = (0..config.databases).map(|_| HashMap::new()).collect();
        State {
            renamed,
            pubsub: PubSub::default(),
            watched,
            current_client: 0,
            self_pushes: BytesMut::new(),
            collect_flushes: false,
            flush_queue: Vec::new(),
            blocking: Blocking::default(),
            serving_blocked: false,
            monitors: Vec::new(),
            pause_until_ms: 0,
            pause_writes_only: false,
            slowlog: Slowlog::default(),
            latency: Latency::default(),
            evict: Default::default(),
            persist: crate::persist::Persist::default(),
            scripting: crate::scripting::Scripting::new(),
            repl: Default::default(),
            migrate: Default::default(),
            config,
            dbs,
            stats,
            clients: BTreeMap::new(),
            dirty: 0,
            lastsave: now / 1000,
            run_id,
            start_ms: now,
            rng,
            now_ms: now,
            expire_cursor: (0, 0, 0),
        }
    }

    /// Redis's 24-bit LRU clock in seconds.
    #[inline]
    pub fn lru_clock(&self) -> u32 {
        ((self.now_ms / 1000) as u32) & 0xFF_FFFF
    }

    /// Removes a key whose TTL has passed and accounts for it.
    pub fn expire_key(&mut self, db: usize, at: KeyPos) {
        let entry = self.dbs[db].remove_at(at);
        self.stats.expired_keys += 1;
        crate::persist::aof::propagate_expired(self, db, &entry.key);
        self.notify_keyspace_event('x', "expired", &entry.key, db);
        self.signal_modified(db, &entry.key);
    }

    /// A key changed: invalidates WATCHes on it and wakes clients blocked on it.
    pub fn signal_modified(&mut self, db: usize, key: &[u8]) {
        self.blocking.signal(db, key);
        self.migrate.touch(db, key);
        if let Some(watchers) = self.watched.get(db).and_then(|w| w.get(key)) {
            for id in watchers {
                if let Some(c) = self.clients.get_mut(id) {
                    c.dirty_cas = true;
                }
            }
        }
    }

    /// Database `db` is about to be emptied or swapped with `other`: every watched key of `db`
    /// that exists in `db` (or `other`) counts as modified (Redis's `touchAllWatchedKeysInDb`).
    pub fn signal_db_changed(&mut self, db: usize, other: Option<usize>) {
        self.blocking.signal_db(db);
        self.migrate.touch_db(db);
        if let Some(o) = other {
            self.blocking.signal_db(o);
            self.migrate.touch_db(o);
        }
        let Some(watched) = self.watched.get(db) else { return };
        let touched: Vec<Bytes> = watched
            .keys()
            .filter(|k| self.dbs[db].locate(k).is_some() || other.is_some_and(|o| self.dbs[o].locate(k).is_some()))
            .cloned()
            .collect();
        for k in touched {
            self.signal_modified(db, &k);
        }
    }

    /// Publishes keyspace/keyevent notifications when `notify-keyspace-events` enables them.
    pub fn notify_keyspace_event(&mut self, class: char, event: &str, key: &[u8], db: usize) {
        use crate::config::values::notify;
        let flags = self.config.notify_keyspace_flags;
        if flags == 0 {
            return;
        }
        let class_flag = match class {
            'g' => notify::GENERIC,
            '$' => notify::STRING,
            'l' => notify::LIST,
            's' => notify::SET,
            'h' => notify::HASH,
            'z' => notify::ZSET,
            'x' => notify::EXPIRED,
            'e' => notify::EVICTED,
            't' => notify::STREAM,
            'm' => notify::KEY_MISS,
            'n' => notify::NEW,
            _ => 0,
        };
        if flags & class_flag == 0 {
            return;
        }
        if flags & notify::KEYSPACE != 0 {
            let mut ch = format!("__keyspace@{db}__:").into_bytes();
            ch.extend_from_slice(key);
            self.publish(&ch, event.as_bytes());
        }
        if flags & notify::KEYEVENT != 0 {
            let ch = format!("__keyevent@{db}__:{event}").into_bytes();
            self.publish(&ch, key);
        }
    }

    /// Delivers a message to every subscriber of `channel` (directly or by pattern); returns
    /// how many received it. Walks the subscriber sets in place, writing into the outboxes they
    /// hold: with many subscribers this loop is most of a PUBLISH, under the state lock, and a
    /// look-up of every subscriber in the client registry cost more than the push itself.
    pub fn publish(&mut self, channel: &[u8], payload: &[u8]) -> usize {
        fn encode(resp3: bool, parts: &[&[u8]]) -> BytesMut {
            let mut buf = BytesMut::new();
            write::header(&mut buf, if resp3 { b'>' } else { b'*' }, parts.len() as i64);
            for p in parts {
                write::bulk(&mut buf, p);
            }
            buf
        }
        let limit = self.config.client_output_buffer_limits[PUBSUB_CLASS];
        let mut n = 0;
        // A channel message is the same bytes for every subscriber of one protocol version.
        let mut message: [Option<BytesMut>; 2] = [None, None];
        if let Some(subscribers) = self.pubsub.subscribers(channel) {
            n += subscribers.len();
            for (&client, outbox) in subscribers {
                let resp3 = outbox.resp3();
                let bytes =
                    message[resp3 as usize].get_or_insert_with(|| encode(resp3, &[b"message", channel, payload]));
                if client == self.current_client {
                    self.self_pushes.extend_from_slice(bytes);
                } else {
                    let flushes = self.collect_flushes.then_some(&mut self.flush_queue);
                    deliver_to_subscriber(&mut self.clients, client, outbox, bytes, limit, self.now_ms, flushes);
                }
            }
        }
        for (pattern, subscribers) in self.pubsub.matching_patterns(channel) {
            n += subscribers.len();
            for (&client, outbox) in subscribers {
                let bytes = encode(outbox.resp3(), &[b"pmessage", pattern, channel, payload]);
                if client == self.current_client {
                    self.self_pushes.extend_from_slice(&bytes);
                } else {
                    let flushes = self.collect_flushes.then_some(&mut self.flush_queue);
                    deliver_to_subscriber(&mut self.clients, client, outbox, &bytes, limit, self.now_ms, flushes);
                }
            }
        }
        n
    }

    /// Appends `bytes` to a client's pending output and wakes its connection; enforces the
    /// `client-output-buffer-limit` of `class` (0 normal, 1 replica, 2 pubsub) by closing it.
    pub fn push_to(&mut self, client: u64, bytes: &[u8], class: usize) {
        if client == self.current_client {
            self.self_pushes.extend_from_slice(bytes);
            return;
        }
        let limit = self.config.client_output_buffer_limits[class];
        let Some(c) = self.clients.get_mut(&client) else { return };
        let flushes = (class == PUBSUB_CLASS && self.collect_flushes).then_some(&mut self.flush_queue);
        deliver(c, bytes, limit, self.now_ms, flushes);
    }

    /// One pass of active expiry: walks volatile slots from where the last pass stopped and
    /// deletes expired keys until `budget` is spent. Returns how many keys were removed.
    pub fn active_expire_cycle(&mut self, budget: std::time::Duration) -> usize {
        let started = Instant::now();
        let now = crate::util::now_ms();
        let mut removed = 0;
        let ndb = self.dbs.len();
        let (mut db, mut slot, mut cursor) = self.expire_cursor;
        let mut slots_visited = 0;
        while slots_visited < ndb * compat::slot::MAX_SLOT_NUM {
            if db >= ndb {
                db = 0;
            }
            if self.dbs[db].volatile_len() == 0 {
                db += 1;
                slot = 0;
                cursor = 0;
                slots_visited += compat::slot::MAX_SLOT_NUM;
                continue;
            }
            let table = self.dbs[db].slot(slot);
            if table.volatile() > 0 {
                // Walk the slot from the end (positions shift only from the end on delete).
                let len = table.len();
                let mut pos = if cursor == 0 || cursor > len { len } else { cursor };
                let mut steps = 0;
                while pos > 0 && steps < 200 {
                    pos -= 1;
                    steps += 1;
                    let e = self.dbs[db].slot(slot).at(pos);
                    if e.is_expired(now) {
                        self.expire_key(db, KeyPos { slot, pos });
                        removed += 1;
                    }
                }
                if pos > 0 {
                    cursor = pos;
                    if started.elapsed() >= budget {
                        break;
                    }
                    continue;
                }
            }
            cursor = 0;
            slot += 1;
            slots_visited += 1;
            if slot >= compat::slot::MAX_SLOT_NUM {
                slot = 0;
                db += 1;
            }
            if started.elapsed() >= budget {
                break;
            }
        }
        self.expire_cursor = (db, slot, cursor);
        removed
    }
}

impl State {
    /// `master` or `slave`, as ROLE, HELLO and INFO report it.
    pub fn role_name(&self) -> &'static str {
        if self.config.replicaof.is_some() {
            "slave"
        } else {
            "master"
        }
    }
}

/// Appends `bytes` to another client's pending output and wakes its connection; closes it when
/// the output buffer goes over `limit`. With `flushes` (Pub/Sub messages pushed during a
/// connection's batch), an idle subscriber's outbox is listed there for a direct write instead.
fn deliver(
    c: &mut ClientInfo,
    bytes: &[u8],
    limit: crate::config::values::BufferLimit,
    now: i64,
    flushes: Option<&mut Vec<Arc<Outbox>>>,
) {
    if c.killed {
        return;
    }
    let (len, wake) = push(&c.outbox, bytes, flushes);
    if !over_limit(c, len, limit, now) && wake {
        c.kill.notify_one();
    }
}

/// [`deliver`] for a subscriber, through the outbox its subscription holds: the client registry
/// is consulted only near the output-buffer limits.
fn deliver_to_subscriber(
    clients: &mut BTreeMap<u64, ClientInfo>,
    client: u64,
    outbox: &Arc<Outbox>,
    bytes: &[u8],
    limit: crate::config::values::BufferLimit,
    now: i64,
    flushes: Option<&mut Vec<Arc<Outbox>>>,
) {
    // Closed: the client was killed (or never registered).
    if outbox.is_closed() {
        return;
    }
    let (len, wake) = push(outbox, bytes, flushes);
    let near = (limit.hard > 0 && len > limit.hard) || (limit.soft > 0 && len > limit.soft) || outbox.over_soft();
    if near {
        if let Some(c) = clients.get_mut(&client) {
            if over_limit(c, len, limit, now) {
                return;
            }
        }
    }
    if wake {
        outbox.wake();
    }
}

/// Appends to an outbox; returns the pending length and whether the task must be woken.
fn push(outbox: &Arc<Outbox>, bytes: &[u8], flushes: Option<&mut Vec<Arc<Outbox>>>) -> (u64, bool) {
    match flushes {
        Some(queue) => {
            let (len, how) = outbox.push_deferred(bytes);
            if how == Pushed::Flush {
                queue.push(outbox.clone());
            }
            // A busy task writes it before it waits again, but one waiting in a blocking
            // command needs the wake-up.
            (len as u64, how == Pushed::Busy)
        }
        None => (outbox.push(bytes) as u64, true),
    }
}

/// Enforces `client-output-buffer-limit` on a client with `len` bytes pending: true when it was
/// closed for it.
fn over_limit(c: &mut ClientInfo, len: u64, limit: crate::config::values::BufferLimit, now: i64) -> bool {
    let over_hard = limit.hard > 0 && len > limit.hard;
    let over_soft = limit.soft > 0 && len > limit.soft;
    let soft_expired = match (over_soft, c.soft_limit_since) {
        (true, Some(since)) => now - since >= limit.soft_seconds as i64 * 1000,
        (true, None) => {
            c.soft_limit_since = Some(now);
            limit.soft_seconds == 0
        }
        (false, Some(_)) => {
            c.soft_limit_since = None;
            false
        }
        (false, None) => false,
    };
    c.outbox.set_over_soft(c.soft_limit_since.is_some());
    if over_hard || soft_expired {
        tracing::warn!(client = %c.addr, "Client closed for overcoming of output buffer limits.");
        c.kill();
        return true;
    }
    false
}

/// Builds the `rename-command` lookup: the old name stops working, the new one (if not empty)
/// runs the old command.
fn rename_table(renames: &[(String, String)]) -> HashMap<Vec<u8>, Option<usize>> {
    let table = CommandTable::get();
    let mut map = HashMap::new();
    for (old, new) in renames {
        let Some(idx) = table.lookup(old.as_bytes()) else {
            tracing::warn!("rename-command: no such command '{old}'");
            continue;
        };
        map.insert(old.to_ascii_lowercase().into_bytes(), None);
        if !new.is_empty() {
            map.insert(new.to_ascii_lowercase().into_bytes(), Some(idx));
        }
    }
    map
}
