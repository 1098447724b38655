//! Commands: one module per family, a table of their specs, and the dispatcher that checks
//! arity and authentication, runs the handler and keeps per-command statistics.

pub mod admin;
pub mod bitmap;
pub mod connection;
pub mod dump;
pub mod error;
pub mod geo;
pub mod hash;
pub mod hll;
pub mod keys;
pub mod lcs;
pub mod list;
pub mod list_blocking;
pub mod mpop;
pub mod persist;
pub mod pubsub;
pub mod repl;
pub mod reply;
mod scan;
pub mod script;
pub mod server;
pub mod set;
pub mod slots;
pub mod slots_mgrt;
pub mod slots_restore;
pub mod string;
mod subcommands;
pub mod tx;
pub mod zset;
pub mod zset_blocking;

mod ctx;

use std::collections::HashMap;
use std::sync::OnceLock;

use bytes::Bytes;

pub use ctx::Ctx;
pub use error::{CmdError, CmdResult};
pub use reply::Reply;

use crate::blocking::{BlockedClient, Unblocked};
use crate::client::Client;
use crate::server::State;

pub type Handler = fn(&mut Ctx) -> CmdResult;

/// Command flags, named as in Redis's command table (COMMAND prints them).
pub mod flags {
    pub const WRITE: u32 = 1 << 0;
    pub const READONLY: u32 = 1 << 1;
    pub const DENYOOM: u32 = 1 << 2;
    pub const ADMIN: u32 = 1 << 3;
    pub const PUBSUB: u32 = 1 << 4;
    pub const NOSCRIPT: u32 = 1 << 5;
    pub const RANDOM: u32 = 1 << 6;
    pub const SORT_FOR_SCRIPT: u32 = 1 << 7;
    pub const LOADING: u32 = 1 << 8;
    pub const STALE: u32 = 1 << 9;
    pub const SKIP_MONITOR: u32 = 1 << 10;
    pub const FAST: u32 = 1 << 11;
    /// Allowed before AUTH when `requirepass` is set.
    pub const NO_AUTH: u32 = 1 << 12;
    /// Blocks the client (BLPOP and friends).
    pub const BLOCKING: u32 = 1 << 13;
}

/// One command: its name (lower case), arity (negative = at least), flags, key positions and
/// handler.
pub struct CommandSpec {
    pub name: &'static str,
    pub arity: i32,
    pub flags: u32,
    pub first_key: i32,
    pub last_key: i32,
    pub step: i32,
    pub handler: Handler,
}

impl CommandSpec {
    pub const fn new(name: &'static str, arity: i32, flags: u32, keys: (i32, i32, i32), handler: Handler) -> Self {
        CommandSpec { name, arity, flags, first_key: keys.0, last_key: keys.1, step: keys.2, handler }
    }

    pub fn has(&self, flag: u32) -> bool {
        self.flags & flag != 0
    }

    pub fn arity_ok(&self, argc: usize) -> bool {
        let a = self.arity;
        a == 0 || (a > 0 && argc as i32 == a) || (a < 0 && argc as i32 >= -a)
    }

    /// Positions of the key arguments in `args` (COMMAND GETKEYS and the slot of a command).
    pub fn key_positions(&self, argc: usize) -> Vec<usize> {
        if self.first_key <= 0 {
            return Vec::new();
        }
        let last = if self.last_key < 0 { argc as i32 + self.last_key } else { self.last_key };
        let step = self.step.max(1);
        let mut v = Vec::new();
        let mut i = self.first_key;
        while i <= last && (i as usize) < argc {
            v.push(i as usize);
            i += step;
        }
        v
    }
}

/// Every command family's table.
fn families() -> &'static [&'static [CommandSpec]] {
    &[
        connection::COMMANDS,
        string::COMMANDS,
        keys::COMMANDS,
        list::COMMANDS,
        hash::COMMANDS,
        set::COMMANDS,
        zset::COMMANDS,
        server::COMMANDS,
        slots::COMMANDS,
        slots_mgrt::COMMANDS,
        slots_restore::COMMANDS,
        tx::COMMANDS,
        pubsub::COMMANDS,
        list_blocking::COMMANDS,
        zset_blocking::COMMANDS,
        admin::COMMANDS,
        bitmap::COMMANDS,
        hll::COMMANDS,
        mpop::COMMANDS,
        lcs::COMMANDS,
        geo::COMMANDS,
        dump::COMMANDS,
        persist::COMMANDS,
        script::COMMANDS,
        repl::COMMANDS,
    ]
}

/// The command table: specs in a stable order and a name index.
pub struct CommandTable {
    pub specs: Vec<&'static CommandSpec>,
    by_name: HashMap<&'static [u8], usize, foldhash::fast::RandomState>,
}

impl CommandTable {
    pub fn get() -> &'static CommandTable {
        static TABLE: OnceLock<CommandTable> = OnceLock::new();
        TABLE.get_or_init(|| {
            let specs: Vec<&'static CommandSpec> = families().iter().flat_map(|f| f.iter()).collect();
            let by_name = specs.iter().enumerate().map(|(i, s)| (s.name.as_bytes(), i)).collect();
            CommandTable { specs, by_name }
        })
    }

    /// Finds a command by name, case-insensitively.
    #[inline]
    pub fn lookup(&self, name: &[u8]) -> Option<usize> {
        let mut buf = [0u8; 64];
        let lower = crate::util::lower_into(name, &mut buf)?;
        self.by_name.get(lower).copied()
    }

    pub fn len(&self) -> usize {
        self.specs.len()
    }
}

/// Runs one request and appends its reply to `out`.
pub fn execute(state: &mut State, client: &mut Client, args: &[Bytes], out: &mut Reply) {
    let table = CommandTable::get();
    let found = if state.renamed.is_empty() {
        table.lookup(&args[0])
    } else {
        match state.renamed.get(&args[0].to_ascii_lowercase()) {
            Some(renamed) => *renamed,
            None => table.lookup(&args[0]),
        }
    };
    let Some(idx) = found else {
        tx::flag_error(client);
        compat::resp::write::error(&mut out.buf, &unknown_command(args));
        return;
    };
    let spec = table.specs[idx];
    let checked = subcommands::check(spec.name, args).map_err(CmdError::msg);
    if let Err(e) = checked.and_then(|full| admit(state, client, spec, args.len(), full.as_deref())) {
        if spec.name == "exec" && client.multi.is_some() {
            // EXEC itself rejected inside MULTI: the transaction is discarded.
            client.multi = None;
            tx::unwatch_all(state, client);
            let why = e.0.strip_prefix("ERR ").unwrap_or(&e.0);
            out.error(&format!("EXECABORT Transaction discarded because of: {why}"));
            return;
        }
        tx::flag_error(client);
        out.error(&e.0);
        return;
    }
    if client.multi.is_some() && !tx::runs_inside_multi(spec.name) {
        tx::queue(client, args);
        out.simple("QUEUED");
        return;
    }
    let start_us = crate::util::now_us();
    let now_ms = start_us / 1000;
    state.now_ms = now_ms;
    state.current_client = client.id;
    let mark = out.len();
    let skip_this = !client.nested && std::mem::take(&mut client.skip_this_reply);
    let changes_before = crate::persist::change_counter(state);
    // The writes of a transaction reach the AOF inside MULTI ... EXEC.
    let top_exec =
        spec.name == "exec" && !client.nested && (state.persist.aof.is_some() || state.repl.backlog.is_some());
    if top_exec {
        crate::persist::aof::exec_begin(state);
    }
    let result = {
        let mut ctx = Ctx { state, client, args, out, now_ms, spec };
        (spec.handler)(&mut ctx)
    };
    if top_exec {
        crate::persist::aof::exec_end(state);
    }
    if let Err(e) = result {
        out.error(&e.0);
    }
    if skip_this || (client.reply_off && !client.nested) {
        out.buf.truncate(mark);
    }
    if client.skip_next_reply && !client.nested {
        out.buf.truncate(mark);
        client.skip_next_reply = false;
        client.skip_this_reply = true;
    }
    if spec.has(flags::WRITE) && crate::persist::change_counter(state) != changes_before {
        // The append-only file gets every write that changed the dataset.
        crate::persist::aof::propagate(state, client.db, spec.name, args, &out.buf[mark..]);
    } else if state.persist.propagate_instead.is_some() {
        state.persist.propagate_instead = None;
    }
    if !state.self_pushes.is_empty() && !client.nested {
        // Pushes this command produced for its own client go before its reply, as in Redis.
        let reply = out.buf.split_off(mark);
        out.buf.extend_from_slice(&state.self_pushes);
        out.buf.extend_from_slice(&reply);
        state.self_pushes.clear();
    }
    let duration_us = (crate::util::now_us() - start_us).max(0) as u64;
    let stat = &mut state.stats.commands[idx];
    stat.calls += 1;
    stat.usec += duration_us;
    state.stats.total_commands += 1;
    observe(state, client, spec, args, start_us, duration_us);
    if client.block_request.is_some() && !state.blocking.is_blocked(client.id) {
        register_blocked(state, client, args, now_ms);
    }
    if !client.nested && !state.serving_blocked && state.blocking.has_ready() {
        serve_blocked(state);
    }
    if !client.nested && !state.serving_blocked {
        // Work done between commands (an async migration deleting moved keys) must not take
        // this client for the running one: its replication stream would end up in the next
        // reply of whichever client runs a command next.
        state.current_client = 0;
    }
}

/// Feeds MONITOR clients, the slow log and the latency monitor.
fn observe(state: &mut State, client: &Client, spec: &CommandSpec, args: &[Bytes], start_us: i64, duration_us: u64) {
    if !state.monitors.is_empty() && !spec.has(flags::ADMIN) && !spec.has(flags::SKIP_MONITOR) {
        let peer = state.clients.get(&client.id).map(|c| c.addr.to_string()).unwrap_or_default();
        let shown = redact(spec.name, args);
        let line = crate::observe::monitor_line(start_us, client.db, &peer, &shown);
        for id in state.monitors.clone() {
            if id != client.id {
                state.push_to(id, &line, 0);
            }
        }
    }
    let threshold = state.config.slowlog_log_slower_than;
    if threshold >= 0 && duration_us >= threshold as u64 && spec.name != "exec" && client.block_request.is_none() {
        let (peer, name) =
            state.clients.get(&client.id).map(|c| (c.addr.to_string(), c.name.clone())).unwrap_or_default();
        let max = state.config.slowlog_max_len as usize;
        state.slowlog.push(args, duration_us, start_us / 1_000_000, peer, name, max);
    }
    let lat = state.config.latency_monitor_threshold;
    if lat > 0 && duration_us / 1000 >= lat {
        let event = if spec.has(flags::FAST) { "fast-command" } else { "command" };
        state.latency.add(event, start_us / 1_000_000, duration_us / 1000);
    }
}

/// Hides passwords from MONITOR, as Redis does.
fn redact(name: &str, args: &[Bytes]) -> Vec<Bytes> {
    const HIDDEN: Bytes = Bytes::from_static(b"(redacted)");
    match name {
        "auth" => std::iter::once(args[0].clone()).chain(args[1..].iter().map(|_| HIDDEN)).collect(),
        "hello" => {
            let mut v = args.to_vec();
            if let Some(i) = v.iter().position(|a| a.eq_ignore_ascii_case(b"auth")) {
                for a in v.iter_mut().skip(i + 1).take(2) {
                    *a = HIDDEN;
                }
            }
            v
        }
        _ => args.to_vec(),
    }
}

/// Queues a client whose blocking command found nothing.
fn register_blocked(state: &mut State, client: &mut Client, args: &[Bytes], now_ms: i64) {
    let Some((keys, timeout_ms)) = client.block_request.take() else { return };
    let deadline_ms = if timeout_ms > 0 { now_ms + timeout_ms } else { 0 };
    let b = BlockedClient { db: client.db, resp3: client.resp3, keys, args: args.to_vec(), deadline_ms };
    state.blocking.block(client.id, b);
}

/// Re-runs the commands of clients blocked on keys that became ready, first blocked first
/// served; each reply goes to its client's outbox.
pub fn serve_blocked(state: &mut State) {
    state.serving_blocked = true;
    let saved_client = state.current_client;
    // Serving can make more keys ready (BLMOVE pushes); bounded so a cycle cannot spin.
    for _ in 0..1024 {
        if !state.blocking.has_ready() {
            break;
        }
        for (db, key) in state.blocking.take_ready() {
            for id in state.blocking.waiters(db, &key) {
                if state.dbs[db].get(&key).is_none() {
                    break;
                }
                let Some(b) = state.blocking.get(id) else { continue };
                let resp3 = b.resp3;
                // Served for this key only (Redis serves keys in the order they became ready),
                // and only when the key holds the type the command waits for.
                let (wants_zset, args) = retarget(&b.args, &key);
                let Some(entry) = state.dbs[db].get(&key) else { break };
                let fits = match &entry.value {
                    crate::db::Value::List(_) => !wants_zset,
                    crate::db::Value::ZSet(_) => wants_zset,
                    _ => false,
                };
                if !fits {
                    continue;
                }
                let Some(info) = state.clients.get(&id) else { continue };
                let mut tmp = Client::new(id, info.addr, info.local_addr, true);
                tmp.db = db;
                tmp.resp3 = resp3;
                let mut out = Reply::new(resp3);
                execute(state, &mut tmp, &args, &mut out);
                if tmp.block_request.is_some() {
                    continue;
                }
                state.blocking.unblock(id);
                state.current_client = saved_client;
                state.push_to(id, &out.buf, 0);
                if let Some(info) = state.clients.get_mut(&id) {
                    info.unblocked = Some(Unblocked::Served);
                    info.kill.notify_one();
                }
            }
        }
    }
    state.current_client = saved_client;
    state.serving_blocked = false;
}

/// The blocked command rewritten to wait on `key` alone, and whether it pops from a sorted set.
fn retarget(args: &[Bytes], key: &Bytes) -> (bool, Vec<Bytes>) {
    let name = args[0].to_ascii_lowercase();
    let zset = name.starts_with(b"bz");
    let v = match name.as_slice() {
        b"blpop" | b"brpop" | b"bzpopmin" | b"bzpopmax" if args.len() >= 3 => {
            vec![args[0].clone(), key.clone(), args[args.len() - 1].clone()]
        }
        b"blmpop" | b"bzmpop" if args.len() >= 4 => {
            let numkeys = crate::util::parse_i64(&args[2]).unwrap_or(0).max(0) as usize;
            let rest = (3 + numkeys).min(args.len());
            let mut v = vec![args[0].clone(), args[1].clone(), Bytes::from_static(b"1"), key.clone()];
            v.extend_from_slice(&args[rest..]);
            v
        }
        _ => args.to_vec(),
    };
    (zset, v)
}

/// Ends the wait of blocked clients whose timeout passed (called by the cron and by the
/// clients' own timers).
pub fn expire_blocked(state: &mut State, now_ms: i64) {
    for id in state.blocking.expired(now_ms) {
        state.blocking.unblock(id);
        if let Some(info) = state.clients.get_mut(&id) {
            info.unblocked = Some(Unblocked::TimedOut);
            info.kill.notify_one();
        }
    }
}

/// The checks Redis makes before running (or queuing) a command, in its order.
fn admit(state: &mut State, client: &Client, spec: &CommandSpec, argc: usize, full_name: Option<&str>) -> CmdResult {
    if !spec.arity_ok(argc) {
        return Err(error::wrong_arity(spec.name));
    }
    if !client.authenticated && !spec.has(flags::NO_AUTH) && state.config.requirepass.is_some() {
        return Err(error::NOAUTH);
    }
    // maxmemory: evict before the command; refuse denyoom commands when nothing can go.
    // (The stream from our master is applied whatever the memory, as Redis replicas do.)
    if state.config.maxmemory > 0
        && !client.nested
        && !client.master_link
        && crate::evict::oom_check(state, spec, client)
    {
        return Err(CmdError::fixed(crate::evict::OOM_ERROR));
    }
    if !spec.has(flags::STALE) && !client.master_link && crate::repl::serving_stale_refused(state) {
        return Err(CmdError::fixed("MASTERDOWN Link with MASTER is down and slave-serve-stale-data is set to 'no'."));
    }
    if spec.has(flags::WRITE) && !client.master_link && crate::repl::is_replica(state) && state.config.replica_read_only
    {
        return Err(CmdError::fixed("READONLY You can't write against a read only replica."));
    }
    if spec.has(flags::WRITE) && !client.master_link {
        if let Some(e) = crate::repl::write_refused(state) {
            return Err(CmdError::fixed(e));
        }
    }
    if (spec.has(flags::WRITE) || spec.name == "ping") && !client.master_link {
        if let Some(e) = crate::persist::write_denied(state) {
            return Err(CmdError::msg(e));
        }
    }
    if client.subscriptions > 0 && !client.resp3 && !pubsub::allowed_while_subscribed(spec.name) {
        return Err(CmdError::msg(format!(
            "ERR Can't execute '{}': only (P|S)SUBSCRIBE / (P|S)UNSUBSCRIBE / PING / QUIT / RESET are allowed in this context",
            full_name.unwrap_or(spec.name)
        )));
    }
    Ok(())
}

/// Redis 7's wording: the name and the first arguments, each cut at a NUL byte and so the
/// total stays short; bytes are echoed as they are.
pub(crate) fn unknown_command(args: &[Bytes]) -> Vec<u8> {
    fn c_str(b: &[u8]) -> &[u8] {
        &b[..memchr::memchr(0, b).unwrap_or(b.len())]
    }
    let name = c_str(&args[0]);
    let mut msg = b"ERR unknown command '".to_vec();
    msg.extend_from_slice(&name[..name.len().min(128)]);
    msg.extend_from_slice(b"', with args beginning with: ");
    let mut rest = 0usize;
    for a in &args[1..] {
        if rest >= 128 {
            break;
        }
        let a = c_str(a);
        let cut = &a[..a.len().min(128 - rest)];
        msg.push(b'\'');
        msg.extend_from_slice(cut);
        msg.extend_from_slice(b"' ");
        rest += cut.len() + 3;
    }
    msg
}

/// Whether CLIENT PAUSE holds this request back: every command in ALL mode, writes (and
/// commands that may write or publish) in WRITE mode.
pub fn is_paused(state: &State, args: &[Bytes], now_ms: i64) -> bool {
    if state.pause_until_ms <= now_ms {
        return false;
    }
    if !state.pause_writes_only {
        return true;
    }
    let Some(idx) = CommandTable::get().lookup(&args[0]) else { return false };
    let spec = CommandTable::get().specs[idx];
    spec.has(flags::WRITE) || matches!(spec.name, "eval" | "evalsha" | "publish" | "pfcount" | "wait" | "exec")
}
