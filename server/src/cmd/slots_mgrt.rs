//! The SLOTSMGRT* commands of the source: argument checks with codis-server 3.2.11's wording
//! (`e1_codis_server_slots_commands.txt`), then a job for the connection task (see
//! [`crate::migrate`]). STATUS, the -DUMP variants and EXEC-WRAPPER answer at once.

use bytes::Bytes;

use super::flags::*;
use super::{CmdError, CmdResult, CommandSpec, CommandTable, Ctx};
use crate::migrate::iter::{KeyIter, Limits, Stage};
use crate::migrate::sender::{self, AsyncJob};
use crate::migrate::sync::{SyncJob, SyncKind, Target};
use crate::migrate::{select, Job};

pub const COMMANDS: &[CommandSpec] = &[
    CommandSpec::new("slotsmgrtslot", 5, WRITE, (0, 0, 0), slotsmgrtslot),
    CommandSpec::new("slotsmgrttagslot", 5, WRITE, (0, 0, 0), slotsmgrttagslot),
    CommandSpec::new("slotsmgrtone", 5, WRITE, (0, 0, 0), slotsmgrtone),
    CommandSpec::new("slotsmgrttagone", 5, WRITE, (0, 0, 0), slotsmgrttagone),
    CommandSpec::new("slotsmgrtslot-async", 8, WRITE | NOSCRIPT, (0, 0, 0), slot_async),
    CommandSpec::new("slotsmgrttagslot-async", 8, WRITE | NOSCRIPT, (0, 0, 0), tagslot_async),
    CommandSpec::new("slotsmgrtone-async", -7, WRITE | NOSCRIPT, (0, 0, 0), one_async),
    CommandSpec::new("slotsmgrttagone-async", -7, WRITE | NOSCRIPT, (0, 0, 0), tagone_async),
    CommandSpec::new("slotsmgrtone-async-dump", -4, READONLY | DENYOOM, (0, 0, 0), one_async_dump),
    CommandSpec::new("slotsmgrttagone-async-dump", -4, READONLY | DENYOOM, (0, 0, 0), tagone_async_dump),
    CommandSpec::new("slotsmgrt-async-fence", 0, READONLY | NOSCRIPT, (0, 0, 0), fence),
    CommandSpec::new("slotsmgrt-async-cancel", 0, FAST, (0, 0, 0), cancel),
    CommandSpec::new("slotsmgrt-async-status", 0, FAST, (0, 0, 0), status),
    CommandSpec::new("slotsmgrt-exec-wrapper", -3, WRITE | DENYOOM, (0, 0, 0), exec_wrapper),
];

/// Migration commands wait for the network; inside MULTI or a script they cannot.
fn not_nested(ctx: &Ctx) -> CmdResult {
    if ctx.client.nested {
        return Err(CmdError::fixed("ERR slot migration commands cannot run inside MULTI/EXEC or scripts"));
    }
    Ok(())
}

fn host(ctx: &Ctx) -> String {
    String::from_utf8_lossy(&ctx.args[1]).into_owned()
}

// ---------------------------------------------------------------------------------------------
// Synchronous.

fn sync_cmd(ctx: &mut Ctx, kind: SyncKind) -> CmdResult {
    let host = host(ctx);
    let port = ctx.arg_i64(2)?;
    if !(1..65536).contains(&port) {
        return Err(CmdError::msg(format!("ERR invalid port = {port}")));
    }
    let mut timeout_ms = ctx.arg_i64(3)?;
    if timeout_ms < 0 {
        return Err(CmdError::msg(format!("ERR invalid timeout = {timeout_ms}")));
    }
    if timeout_ms == 0 {
        timeout_ms = 30_000;
    }
    let target = match kind {
        SyncKind::Slot | SyncKind::TagSlot => Target::Slot(super::slots::parse_slot(ctx, 4)?),
        SyncKind::One | SyncKind::TagOne => Target::Key(ctx.args[4].clone()),
    };
    not_nested(ctx)?;
    let db = ctx.client.db;
    ctx.client.job = Some(Job::Sync(SyncJob { kind, db, host, port: port as u16, timeout_ms, target }));
    Ok(())
}

fn slotsmgrtslot(ctx: &mut Ctx) -> CmdResult {
    sync_cmd(ctx, SyncKind::Slot)
}

fn slotsmgrttagslot(ctx: &mut Ctx) -> CmdResult {
    sync_cmd(ctx, SyncKind::TagSlot)
}

fn slotsmgrtone(ctx: &mut Ctx) -> CmdResult {
    sync_cmd(ctx, SyncKind::One)
}

fn slotsmgrttagone(ctx: &mut Ctx) -> CmdResult {
    sync_cmd(ctx, SyncKind::TagOne)
}

// ---------------------------------------------------------------------------------------------
// Asynchronous.

/// An integer argument in `0..=i32::MAX`, or codis's "invalid value of <what> (<arg>)".
fn arg_in_range(ctx: &Ctx, i: usize, what: &str, min: i64) -> Result<i64, CmdError> {
    crate::util::parse_i64(&ctx.args[i]).filter(|v| (min..=i32::MAX as i64).contains(v)).ok_or_else(|| {
        CmdError::msg(format!("ERR invalid value of {what} ({})", String::from_utf8_lossy(&ctx.args[i])))
    })
}

fn timeout_arg(ctx: &Ctx, i: usize) -> Result<i64, CmdError> {
    Ok(match arg_in_range(ctx, i, "timeout", 0)? {
        0 => 30_000,
        t => t,
    })
}

/// `host port timeout maxbulks maxbytes`, with codis's defaults and caps.
fn async_args(ctx: &Ctx) -> Result<(String, u16, Limits), CmdError> {
    let host = host(ctx);
    let port = arg_in_range(ctx, 2, "port", 1).and_then(|p| {
        if p < 65536 {
            Ok(p as u16)
        } else {
            Err(CmdError::msg(format!("ERR invalid value of port ({})", String::from_utf8_lossy(&ctx.args[2]))))
        }
    })?;
    let timeout_ms = timeout_arg(ctx, 3)?;
    let maxbulks = match arg_in_range(ctx, 4, "maxbulks", 0)? {
        0 => 200,
        n => n.min(512 * 1024),
    } as usize;
    let mut maxbytes = match arg_in_range(ctx, 5, "maxbytes", 0)? {
        0 => 512 * 1024,
        n => n.min(i32::MAX as i64 / 2),
    } as u64;
    // Bounded by the normal clients' output buffer limits, as codis does.
    let limit = ctx.state.config.client_output_buffer_limits[0];
    for l in [limit.soft, limit.hard] {
        if l != 0 && l < maxbytes {
            maxbytes = l;
        }
    }
    Ok((host, port, Limits { timeout_ms, maxbulks, maxbytes: maxbytes as usize }))
}

/// Each key, then (with `usetag`) the other keys of its tag in bytewise order; no repeats.
fn expand_keys(ctx: &mut Ctx, keys: &[Bytes], usetag: bool) -> Vec<Bytes> {
    let dbi = ctx.client.db;
    let st = &mut *ctx.state;
    let mut out: Vec<Bytes> = Vec::new();
    let mut seen = std::collections::HashSet::new();
    for k in keys {
        if seen.insert(k.clone()) {
            out.push(k.clone());
        }
        if usetag && select::tag_of(k).is_some() {
            for s in st.migrate.tag_group(&st.dbs[dbi], dbi, k, false) {
                if seen.insert(s.clone()) {
                    out.push(s);
                }
            }
        }
    }
    out
}

fn start_async(ctx: &mut Ctx, mut job: AsyncJob) -> CmdResult {
    if let Some(reply) = sender::nothing_to_send(ctx.state, &job) {
        // Nothing to send: answered at once.
        ctx.out.raw(&reply);
        return Ok(());
    }
    // A synchronous SLOTSMGRT* command is moving some of the keys (a proxy with the sync
    // forwarding method does that before a request): the batch starts once it is done, as it
    // would on a single-threaded codis-server, instead of streaming a key the other command is
    // about to delete.
    if !sender::any_moving(ctx.state, &job) {
        sender::begin(ctx.state, &job).map_err(CmdError::fixed)?;
        job.registered = true;
    }
    ctx.client.job = Some(Job::Async(job));
    Ok(())
}

fn slot_async_cmd(ctx: &mut Ctx, usetag: bool) -> CmdResult {
    let (host, port, lim) = async_args(ctx)?;
    let slot =
        arg_in_range(ctx, 6, "slot", 0).ok().filter(|&s| s < compat::slot::MAX_SLOT_NUM as i64).ok_or_else(|| {
            CmdError::msg(format!("ERR invalid value of slot ({})", String::from_utf8_lossy(&ctx.args[6])))
        })? as usize;
    let numkeys = match arg_in_range(ctx, 7, "numkeys", 0)? {
        0 => 100,
        n => n as usize,
    };
    not_nested(ctx)?;
    busy_check(ctx)?;
    let db = ctx.client.db;
    let st = &mut *ctx.state;
    let keys = select::pick_batch(&st.dbs[db], slot, numkeys, lim.maxbulks, usetag, |k| {
        st.migrate.tag_group(&st.dbs[db], db, k, true)
    });
    start_async(ctx, AsyncJob { db, host, port, lim, keys, slot: Some(slot), registered: false })
}

fn keys_async_cmd(ctx: &mut Ctx, usetag: bool) -> CmdResult {
    let (host, port, lim) = async_args(ctx)?;
    not_nested(ctx)?;
    busy_check(ctx)?;
    let args = ctx.args;
    let keys = expand_keys(ctx, &args[6..], usetag);
    let db = ctx.client.db;
    start_async(ctx, AsyncJob { db, host, port, lim, keys, slot: None, registered: false })
}

fn busy_check(ctx: &Ctx) -> CmdResult {
    if ctx.state.migrate.async_clients.get(&ctx.client.db).is_some_and(|c| c.batch.is_some()) {
        return Err(CmdError::fixed("ERR the specified DB is being migrated"));
    }
    Ok(())
}

fn slot_async(ctx: &mut Ctx) -> CmdResult {
    slot_async_cmd(ctx, false)
}

fn tagslot_async(ctx: &mut Ctx) -> CmdResult {
    slot_async_cmd(ctx, true)
}

fn one_async(ctx: &mut Ctx) -> CmdResult {
    keys_async_cmd(ctx, false)
}

fn tagone_async(ctx: &mut Ctx) -> CmdResult {
    keys_async_cmd(ctx, true)
}

/// `timeout maxbulks key...`: the messages a migration of the keys would send, as an array of
/// arrays (the messages are commands, so they are copied into the reply as they are).
fn async_dump(ctx: &mut Ctx, usetag: bool) -> CmdResult {
    let timeout_ms = timeout_arg(ctx, 1)?;
    let maxbulks = match arg_in_range(ctx, 2, "maxbulks", 0)? {
        0 => 1000,
        n => n as usize,
    };
    let lim = Limits { timeout_ms, maxbulks, maxbytes: i32::MAX as usize };
    let args = ctx.args;
    let keys = expand_keys(ctx, &args[3..], usetag);
    let db = ctx.client.db;
    let mut body = Vec::new();
    let mut total = 0;
    for k in keys {
        let mut it = KeyIter::preview(k);
        while it.stage != Stage::Done {
            total += it.next(ctx.state, db, &lim, &mut body);
        }
    }
    ctx.out.array(total);
    ctx.out.raw(&body);
    Ok(())
}

fn one_async_dump(ctx: &mut Ctx) -> CmdResult {
    async_dump(ctx, false)
}

fn tagone_async_dump(ctx: &mut Ctx) -> CmdResult {
    async_dump(ctx, true)
}

fn fence(ctx: &mut Ctx) -> CmdResult {
    let db = ctx.client.db;
    if ctx.state.migrate.async_clients.get(&db).is_some_and(|c| c.batch.is_some()) {
        not_nested(ctx)?;
        ctx.client.job = Some(Job::Fence { db });
    } else {
        ctx.out.ok();
    }
    Ok(())
}

fn cancel(ctx: &mut Ctx) -> CmdResult {
    let db = ctx.client.db;
    match ctx.state.migrate.async_clients.get(&db).map(|c| c.batch.is_some()) {
        Some(true) => {
            not_nested(ctx)?;
            ctx.client.job = Some(Job::Cancel { db });
        }
        Some(false) => {
            ctx.state.migrate.async_clients.remove(&db);
            ctx.out.int(1);
        }
        None => ctx.out.int(0),
    }
    Ok(())
}

fn status(ctx: &mut Ctx) -> CmdResult {
    let now = crate::util::now_ms();
    let Some(c) = ctx.state.migrate.async_clients.get(&ctx.client.db) else {
        ctx.out.null_array();
        return Ok(());
    };
    let out = &mut *ctx.out;
    out.array(18);
    let field = |out: &mut super::Reply, name: &str, v: i64| {
        out.bulk(name.as_bytes());
        out.bulk(itoa::Buffer::new().format(v).as_bytes());
    };
    out.bulk(b"host");
    out.bulk(c.host.as_bytes());
    field(out, "port", c.port as i64);
    field(out, "used", c.used as i64);
    field(out, "timeout", c.timeout_ms);
    field(out, "lastuse", c.lastuse_ms);
    field(out, "since_lastuse", now - c.lastuse_ms);
    field(out, "sending_msgs", c.sending_msgs as i64);
    field(out, "blocked_clients", c.blocked_clients as i64);
    out.bulk(b"batched_iterator");
    let Some(b) = &c.batch else {
        out.null_array();
        return Ok(());
    };
    out.array(16);
    out.bulk(b"keys");
    out.array(2);
    out.bulk(itoa::Buffer::new().format(b.keys.len()).as_bytes());
    out.array(b.keys.len());
    for k in &b.keys {
        out.bulk(k);
    }
    field(out, "timeout", b.timeout_ms);
    field(out, "maxbulks", b.maxbulks as i64);
    field(out, "maxbytes", b.maxbytes as i64);
    field(out, "estimate_msgs", b.estimate_msgs as i64);
    field(out, "removed_keys", b.removed_keys as i64);
    field(out, "chunked_vals", b.chunked_vals as i64);
    out.bulk(b"iterators");
    out.array(2);
    out.bulk(itoa::Buffer::new().format(b.iterators).as_bytes());
    match &b.current {
        None => out.null_array(),
        Some((key, v)) => {
            out.array(16);
            out.bulk(b"key");
            out.bulk(key);
            for (name, n) in ["val.type", "stage", "expire", "cursor", "lindex", "zindex", "chunked_msgs"].iter().zip(v)
            {
                field(out, name, *n);
            }
        }
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// SLOTSMGRT-EXEC-WRAPPER hashkey command [arg ...]

/// Runs `command` here unless its hash key is absent (`[0, err]`: the caller goes to the target)
/// or, for a write, being migrated (`[1, err]`: the caller retries). Reads of a key in flight
/// are served: the source keeps the whole key until the target has acknowledged all of it.
fn exec_wrapper(ctx: &mut Ctx) -> CmdResult {
    let name = String::from_utf8_lossy(&ctx.args[2]).into_owned();
    let table = CommandTable::get();
    let Some(idx) = table.lookup(&ctx.args[2]) else {
        return wrapper_reply(ctx, -1, &format!("ERR invalid command specified ({name})"));
    };
    let spec = table.specs[idx];
    if !spec.arity_ok(ctx.args.len() - 2) {
        return wrapper_reply(ctx, -1, &format!("ERR wrong number of arguments for command ({name})"));
    }
    let key = ctx.args[1].clone();
    if ctx.lookup_write(&key).is_none() {
        return wrapper_reply(ctx, 0, "ERR the specified key doesn't exist");
    }
    if !spec.has(READONLY) && ctx.state.migrate.is_moving(ctx.client.db, &key) {
        return wrapper_reply(ctx, 1, "ERR the specified key is being migrated");
    }
    ctx.out.array(2);
    ctx.out.int(2);
    let was_nested = std::mem::replace(&mut ctx.client.nested, true);
    let args = ctx.args;
    super::execute(ctx.state, ctx.client, &args[2..], ctx.out);
    ctx.client.nested = was_nested;
    // The wrapped command went to the AOF and replicas itself; the wrapper does not.
    ctx.state.persist.propagate_instead = Some(Vec::new());
    Ok(())
}

fn wrapper_reply(ctx: &mut Ctx, code: i64, err: &str) -> CmdResult {
    ctx.out.array(2);
    ctx.out.int(code);
    ctx.out.error(err);
    Ok(())
}

#[cfg(test)]
mod tests {
    use crate::cmd::server::command_cmd::flag_names;
    use crate::cmd::CommandTable;

    /// Arity, flags and key positions of the migration commands in codis-server 3.2.11's
    /// COMMAND output (`e2_codis_server_6379_COMMAND.txt`).
    const RECORDED: &[(&str, i32, &[&str])] = &[
        ("slotsmgrtslot", 5, &["write"]),
        ("slotsmgrttagslot", 5, &["write"]),
        ("slotsmgrtone", 5, &["write"]),
        ("slotsmgrttagone", 5, &["write"]),
        ("slotsmgrtslot-async", 8, &["write", "noscript"]),
        ("slotsmgrttagslot-async", 8, &["write", "noscript"]),
        ("slotsmgrtone-async", -7, &["write", "noscript"]),
        ("slotsmgrttagone-async", -7, &["write", "noscript"]),
        ("slotsmgrtone-async-dump", -4, &["readonly", "denyoom"]),
        ("slotsmgrttagone-async-dump", -4, &["readonly", "denyoom"]),
        ("slotsmgrt-async-fence", 0, &["readonly", "noscript"]),
        ("slotsmgrt-async-cancel", 0, &["fast"]),
        ("slotsmgrt-async-status", 0, &["fast"]),
        ("slotsmgrt-exec-wrapper", -3, &["write", "denyoom"]),
        ("slotsrestore", -4, &["write", "denyoom"]),
        ("slotsrestore-async", -2, &["write", "denyoom"]),
        ("slotsrestore-async-auth", 2, &["noscript", "loading", "stale", "fast"]),
        ("slotsrestore-async-select", 2, &["loading", "fast"]),
        ("slotsrestore-async-ack", 3, &["write"]),
    ];

    #[test]
    fn command_table_matches_the_recording() {
        let table = CommandTable::get();
        for (name, arity, flags) in RECORDED {
            let spec = table.specs[table.lookup(name.as_bytes()).unwrap_or_else(|| panic!("{name} missing"))];
            assert_eq!(spec.arity, *arity, "{name}");
            assert_eq!(flag_names(spec), flags.to_vec(), "{name}");
            assert_eq!((spec.first_key, spec.last_key, spec.step), (0, 0, 0), "{name}");
        }
    }
}
