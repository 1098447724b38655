//! Transactions and blocking commands through the proxy (`proxy_transactions`,
//! `proxy_blocking_commands`, docs/proxy-features.md).
//!
//! A transaction must keep to one slot, the rule Redis Cluster has too: the session queues the
//! commands itself (answering `+QUEUED`) and refuses a key of another slot with CROSSSLOT, which
//! dooms the transaction as a queue-time error does in Redis. EXEC sends `MULTI`, the commands
//! and `EXEC` back to back on the slot's shared master connection (no other request can come
//! between them), or, after WATCH, on the session's own connection to that master, which holds
//! the watch. Blocking commands, whose keys must also share a slot, wait on a connection of the
//! session's own so that the shared connections never block.

use bytes::Bytes;
use compat::slot::slot_of;

use crate::dedicated::Dedicated;
use crate::error::RequestError;
use crate::mapper::{self, Ext, OpInfo, Special};
use crate::multikey::{Merge, MergeOp};
use crate::resp3::Shape;
use crate::session::{err_reply, Entry, Session, State};
use crate::sink::Target;

const CROSSSLOT: &str = "CROSSSLOT Keys in request don't hash to the same slot (through codis-proxy a transaction or \
                         blocking command must keep all its keys in one slot: use a hash tag)";

#[derive(Default)]
pub struct Tx {
    multi: bool,
    queued: Vec<Vec<Bytes>>,
    /// The slot every key so far belongs to.
    slot: Option<usize>,
    /// A queue-time error happened: EXEC answers EXECABORT.
    aborted: bool,
    /// The session's connection for WATCH (kept between transactions).
    watch: Option<Dedicated>,
    /// A WATCH is in force on `watch`.
    watched: bool,
}

/// The keys of a request, as far as the proxy knows them: every key for the commands it splits
/// and for blocking commands, the routing key otherwise.
pub(crate) fn keys_of<'a>(info: &OpInfo, args: &'a [Bytes]) -> Vec<&'a [u8]> {
    let name = info.name.unwrap_or("");
    let all = |from: usize, to: usize, step: usize| -> Vec<&'a [u8]> {
        args.get(from..to.max(from).min(args.len())).unwrap_or(&[]).iter().step_by(step).map(|a| &a[..]).collect()
    };
    match (info.special, name) {
        (Special::MGet | Special::SumKeys, _) => all(1, args.len(), 1),
        (Special::MSet, _) => all(1, args.len(), 2),
        (_, "BLPOP" | "BRPOP" | "BZPOPMIN" | "BZPOPMAX") => all(1, args.len().saturating_sub(1), 1),
        (_, "BRPOPLPUSH" | "BLMOVE") => all(1, 3, 1),
        (_, "BLMPOP" | "BZMPOP") => {
            let n = args.get(2).and_then(|n| std::str::from_utf8(n).ok()?.parse::<usize>().ok()).unwrap_or(0);
            all(3, 3 + n, 1)
        }
        (_, "WATCH") => all(1, args.len(), 1),
        _ => args.get(info.key_index as usize).map(|k| vec![&k[..]]).unwrap_or_default(),
    }
}

/// The one slot of `keys`, `Ok(None)` without keys, `Err` when they disagree with each other
/// or with `pinned`.
fn one_slot(keys: &[&[u8]], pinned: Option<usize>) -> Result<Option<usize>, ()> {
    let mut slot = pinned;
    for k in keys {
        let s = slot_of(k);
        match slot {
            Some(p) if p != s => return Err(()),
            _ => slot = Some(s),
        }
    }
    Ok(slot)
}

impl Session {
    pub(crate) fn in_multi(&self) -> bool {
        self.tx.as_ref().is_some_and(|t| t.multi)
    }

    fn tx_mut(&mut self) -> &mut Tx {
        self.tx.get_or_insert_with(Default::default)
    }

    /// A command given between MULTI and EXEC: checked and queued.
    pub(crate) fn queue_in_multi(&mut self, args: &[Bytes], info: &OpInfo) {
        let ext_on = self.ext_enabled(info.ext);
        let refuse = if info.is_not_allowed() && !ext_on {
            let name = info.name.map(str::to_string).unwrap_or_else(|| mapper::upper_name(&args[0]));
            Some(format!("ERR handle request, {}", RequestError::NotAllowed(name)))
        } else if matches!(info.special, Special::Select | Special::Auth | Special::Hello)
            || matches!(info.ext, Ext::Subscribe | Ext::Cluster)
        {
            Some(format!("ERR {} inside MULTI is not allowed through the proxy", mapper::upper_name(&args[0])))
        } else {
            None
        };
        if let Some(msg) = refuse {
            self.tx_mut().aborted = true;
            return self.push_done(err_reply(&msg), false);
        }
        let keys = keys_of(info, args);
        let tx = self.tx_mut();
        match one_slot(&keys, tx.slot) {
            Ok(slot) => {
                tx.slot = slot;
                tx.queued.push(args.to_vec());
                self.push_done(Bytes::from_static(b"+QUEUED\r\n"), false)
            }
            Err(()) => {
                tx.aborted = true;
                self.push_done(err_reply(CROSSSLOT), false)
            }
        }
    }

    /// MULTI, EXEC, DISCARD, WATCH, UNWATCH.
    pub(crate) async fn handle_transaction(&mut self, name: &str, args: &[Bytes], info: &OpInfo) {
        let arity_ok = match name {
            "WATCH" => args.len() >= 2,
            _ => args.len() == 1,
        };
        if !arity_ok {
            let e = format!("ERR wrong number of arguments for '{}' command", name.to_ascii_lowercase());
            if self.in_multi() {
                self.tx_mut().aborted = true;
            }
            return self.push_done(err_reply(&e), false);
        }
        match name {
            "MULTI" if self.in_multi() => self.push_done(err_reply("ERR MULTI calls can not be nested"), false),
            "MULTI" => {
                self.tx_mut().multi = true;
                self.push_done(Bytes::from_static(b"+OK\r\n"), false)
            }
            "WATCH" if self.in_multi() => self.push_done(err_reply("ERR WATCH inside MULTI is not allowed"), false),
            "WATCH" => self.handle_watch(args, info).await,
            "UNWATCH" if self.in_multi() => self.queue_in_multi(args, info),
            "UNWATCH" => {
                self.unwatch();
                self.push_done(Bytes::from_static(b"+OK\r\n"), false)
            }
            "DISCARD" if !self.in_multi() => self.push_done(err_reply("ERR DISCARD without MULTI"), false),
            "DISCARD" => {
                self.unwatch();
                self.push_done(Bytes::from_static(b"+OK\r\n"), false)
            }
            "EXEC" if !self.in_multi() => self.push_done(err_reply("ERR EXEC without MULTI"), false),
            _ => self.exec(info).await,
        }
    }

    /// Forgets the transaction and the watch. The watch connection stays open for later use
    /// (dropping it could cut off a reply still on its way) and is told to UNWATCH.
    fn unwatch(&mut self) {
        let watch = self.tx.take().and_then(|t| t.watch);
        if let Some(w) = &watch {
            w.send(&[b"UNWATCH".as_slice()], Some(Target::Discard));
        }
        self.tx = watch.map(|w| Box::new(Tx { watch: Some(w), ..Default::default() }));
    }

    async fn handle_watch(&mut self, args: &[Bytes], info: &OpInfo) {
        let keys = keys_of(info, args);
        let pinned = self.tx.as_ref().and_then(|t| t.slot);
        let slot = match one_slot(&keys, pinned) {
            Ok(Some(s)) => s,
            _ => return self.push_done(err_reply(CROSSSLOT), false),
        };
        let addr = match self.pinned_master(slot, &keys).await {
            Ok(a) => a,
            Err(e) => return self.fail_request(e),
        };
        let (sink, config, db) = (self.sink.clone(), self.shared.config.clone(), self.database);
        let seq = self.next_seq();
        let target = Target::Session { sink: self.sink.clone(), seq, part: 0 };
        let tx = self.tx_mut();
        tx.slot = Some(slot);
        tx.watched = true;
        if tx.watch.as_ref().is_some_and(|w| w.addr != addr || w.database != db) {
            tx.watch = None;
        }
        let conn = tx.watch.get_or_insert_with(|| Dedicated::open(&addr, db, u32::MAX, sink, config));
        conn.send(args, Some(target));
        self.entries.push_back(Entry { state: State::Wait, shape: Shape::Plain });
    }

    /// The master for a command pinned to `slot` (WATCH, EXEC, blocking commands). A migrating
    /// slot is refused unless the sync method can first move the keys to the target.
    async fn pinned_master(&mut self, slot: usize, keys: &[&[u8]]) -> Result<String, RequestError> {
        let seed = self.next_seed();
        let origin = crate::forward::Origin { sink: &self.sink, seq: 0, part: 0, database: self.database, seed };
        crate::forward::settle(&self.shared.router, slot, keys, &origin).await
    }

    async fn exec(&mut self, info: &OpInfo) {
        let Some(mut tx) = self.tx.take() else { return };
        // EXEC ends the watch; the connection is kept for the next one.
        self.tx = tx.watch.take().map(|w| Box::new(Tx { watch: Some(w), ..Default::default() }));
        let shape = self.shape(info, &[]);
        if tx.aborted {
            if let Some(w) = self.tx.as_ref().and_then(|t| t.watch.as_ref()) {
                w.send(&[b"UNWATCH".as_slice()], Some(Target::Discard));
            }
            return self.push_done(err_reply("EXECABORT Transaction discarded because of previous errors."), false);
        }
        let mut cmds: Vec<Vec<Bytes>> = Vec::with_capacity(tx.queued.len() + 2);
        cmds.push(vec![Bytes::from_static(b"MULTI")]);
        cmds.extend(tx.queued);
        cmds.push(vec![Bytes::from_static(b"EXEC")]);
        let n = cmds.len();
        let seq = self.next_seq();
        let merge = Merge::new(MergeOp::Last, n);
        self.entries.push_back(Entry { state: State::Merge(Box::new(merge)), shape });
        let sink = self.sink.clone();
        let targets = (0..n).map(move |part| Target::Session { sink: sink.clone(), seq, part: part as u32 });
        if let Some(w) = self.tx.as_ref().and_then(|t| t.watch.as_ref()).filter(|_| tx.watched) {
            if w.database != self.database {
                let e = "ERR WATCH and EXEC must be in the same database through the proxy";
                return self.fail_entry_with(seq, err_reply(e));
            }
            w.send_many(&cmds, targets.map(Some).collect());
            return;
        }
        let slot = tx.slot.unwrap_or(0);
        let mut keys: Vec<&[u8]> = Vec::new();
        for c in &cmds[1..n - 1] {
            if let Ok(i) = mapper::lookup(&c[0]) {
                keys.extend(keys_of(&i, c));
            }
        }
        let seed = self.next_seed();
        let origin = crate::forward::Origin { sink: &self.sink, seq, part: 0, database: self.database, seed };
        match crate::forward::forward_batch(&self.shared.router, slot, &keys, &cmds, targets.collect(), &origin).await {
            Ok(()) => {}
            Err(e) => self.fail_entry(seq, e),
        }
    }

    /// BLPOP and friends, on the session's blocking connection to the slot's master.
    pub(crate) async fn handle_blocking(&mut self, args: &[Bytes], info: &OpInfo) {
        let keys = keys_of(info, args);
        let slot = match one_slot(&keys, None) {
            Ok(Some(s)) => s,
            Ok(None) => {
                let name = info.name.unwrap_or("").to_ascii_lowercase();
                return self
                    .push_done(err_reply(&format!("ERR wrong number of arguments for '{name}' command")), false);
            }
            Err(()) => return self.push_done(err_reply(CROSSSLOT), false),
        };
        let addr = match self.pinned_master(slot, &keys).await {
            Ok(a) => a,
            Err(e) => return self.fail_request(e),
        };
        let db = self.database;
        let (sink, config) = (self.sink.clone(), self.shared.config.clone());
        let seq = self.next_seq();
        let target = Target::Session { sink: sink.clone(), seq, part: 0 };
        // One connection per master and database, kept while the session lives (a command may
        // still be blocked on an earlier one).
        let i = match self.blocking.iter().position(|b| b.addr == addr && b.database == db) {
            Some(i) => i,
            None => {
                self.blocking.push(Dedicated::open(&addr, db, u32::MAX, sink, config));
                self.blocking.len() - 1
            }
        };
        self.blocking[i].send(args, Some(target));
        let shape = self.shape(info, args);
        self.entries.push_back(Entry { state: State::Wait, shape });
    }
}
