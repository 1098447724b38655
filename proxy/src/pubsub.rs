//! Pub/sub through the proxy (`proxy_pubsub`, docs/proxy-features.md).
//!
//! A channel belongs to a slot like a key does: PUBLISH goes to the master owning the channel's
//! slot, and SUBSCRIBE goes to a connection of the session's own to that same master, pinned for
//! as long as the channel is subscribed. A pattern can match channels of any slot, so PSUBSCRIBE
//! goes to every master (each message is still published on one master only, so it arrives
//! once).
//!
//! The session keeps the subscription set itself: confirmations carry the session's count, not
//! one backend's, and a confirmation is sent to the client only once every backend it went to
//! has confirmed (so the client is really subscribed when it reads it). Messages and
//! confirmations reach the client in the order they became ready, after every reply to requests
//! made before the first SUBSCRIBE.

use std::collections::{HashMap, VecDeque};

use bytes::{Bytes, BytesMut};
use compat::resp::write;
use compat::slot::slot_of;

use crate::dedicated::Dedicated;
use crate::session::{err_reply, Session, Stop};

enum Out {
    Confirm { kind: &'static str, name: Option<Bytes>, count: usize, waiting: usize },
    Raw(Bytes),
}

#[derive(Default)]
pub struct PubSub {
    /// The session's subscriber connections, by index (the push deliveries' `part`).
    conns: Vec<Dedicated>,
    /// Channel -> the connection it is subscribed on.
    channels: HashMap<Bytes, usize>,
    /// Pattern -> the connections it is subscribed on.
    patterns: HashMap<Bytes, Vec<usize>>,
    out: VecDeque<Out>,
}

impl PubSub {
    fn count(&self) -> usize {
        self.channels.len() + self.patterns.len()
    }

    /// True while the client is in subscribed mode (RESP2 rules apply to its commands).
    pub fn subscribed(&self) -> bool {
        self.count() > 0 || self.out.iter().any(|o| matches!(o, Out::Confirm { .. }))
    }

    /// A frame from subscriber connection `_conn`: confirmations tick off what waits for them,
    /// anything else (messages) is queued for the client.
    pub fn on_push(&mut self, reply: Bytes) {
        if let Some((kind, name)) = head(&reply) {
            let kind: &[u8] = &kind;
            if matches!(kind, b"subscribe" | b"unsubscribe" | b"psubscribe" | b"punsubscribe") {
                for o in self.out.iter_mut() {
                    if let Out::Confirm { kind: k, name: Some(n), waiting, .. } = o {
                        if *waiting > 0 && k.as_bytes() == kind && Some(&n[..]) == name.as_deref() {
                            *waiting -= 1;
                            return;
                        }
                    }
                }
                // A confirmation nobody waits for (a duplicate): dropped.
                return;
            }
        }
        self.out.push_back(Out::Raw(reply));
    }

    /// Moves everything ready at the head of the output queue into `wbuf`.
    pub fn drain_into(&mut self, wbuf: &mut BytesMut, resp3: bool) {
        while let Some(front) = self.out.front() {
            match front {
                Out::Confirm { waiting, .. } if *waiting > 0 => return,
                _ => {}
            }
            match self.out.pop_front() {
                Some(Out::Raw(b)) => {
                    // Pushes are arrays in RESP2 and push frames in RESP3; nothing else differs.
                    if resp3 && b.first() == Some(&b'*') {
                        wbuf.extend_from_slice(b">");
                        wbuf.extend_from_slice(&b[1..]);
                    } else {
                        wbuf.extend_from_slice(&b);
                    }
                }
                Some(Out::Confirm { kind, name, count, .. }) => {
                    write::header(wbuf, if resp3 { b'>' } else { b'*' }, 3);
                    write::bulk(wbuf, kind.as_bytes());
                    match &name {
                        Some(n) => write::bulk(wbuf, n),
                        None if resp3 => wbuf.extend_from_slice(b"_\r\n"),
                        None => wbuf.extend_from_slice(b"$-1\r\n"),
                    }
                    write::integer(wbuf, count as i64);
                }
                None => return,
            }
        }
    }
}

/// The first two elements of a pushed array (`kind`, channel or pattern), if bulk strings.
fn head(reply: &[u8]) -> Option<(Bytes, Option<Bytes>)> {
    match compat::resp::parse_frame(reply) {
        Ok(Some((compat::resp::Frame::Array(items), _))) => {
            let bulk = |f: &compat::resp::Frame| match f {
                compat::resp::Frame::Bulk(b) => Some(b.clone()),
                _ => None,
            };
            let kind = items.first().and_then(bulk)?;
            Some((kind, items.get(1).and_then(bulk)))
        }
        _ => None,
    }
}

impl Session {
    fn pubsub_mut(&mut self) -> &mut PubSub {
        self.pubsub.get_or_insert_with(Default::default)
    }

    /// The index of this session's subscriber connection to `addr`, opened on first use.
    fn subscriber(&mut self, addr: &str) -> usize {
        let (sink, config, db) = (self.sink.clone(), self.shared.config.clone(), self.database);
        let ps = self.pubsub_mut();
        if let Some(i) = ps.conns.iter().position(|c| c.addr == addr) {
            return i;
        }
        ps.conns.push(Dedicated::open(addr, db, ps.conns.len() as u32, sink, config));
        ps.conns.len() - 1
    }

    fn queue_out(&mut self, o: Out) {
        self.pubsub_mut().out.push_back(o);
    }

    /// A reply to a command given in subscribed mode, in line with the pushes.
    pub(crate) fn pubsub_reply(&mut self, reply: Bytes) {
        self.queue_out(Out::Raw(reply));
    }

    /// The master that owns `slot` now (waiting while the slot is locked).
    async fn master_of(&self, slot: usize) -> Option<String> {
        let route = self.shared.router.route_unlocked(slot).await;
        route.backend.as_ref().map(|(b, _)| b.addr.clone())
    }

    /// SUBSCRIBE, PSUBSCRIBE, UNSUBSCRIBE, PUNSUBSCRIBE (`name` upper case).
    pub(crate) async fn handle_subscribe(&mut self, name: &str, args: &[Bytes]) {
        if args.len() < 2 && matches!(name, "SUBSCRIBE" | "PSUBSCRIBE") {
            let e = format!("ERR wrong number of arguments for '{}' command", name.to_ascii_lowercase());
            return self.subscribed_or_done(err_reply(&e));
        }
        match name {
            "SUBSCRIBE" => {
                for ch in &args[1..] {
                    let Some(addr) = self.master_of(slot_of(ch)).await else {
                        self.subscribed_or_done(err_reply("ERR handle request, slot is not ready, may be offline"));
                        continue;
                    };
                    let pinned = self.pubsub.as_ref().and_then(|p| p.channels.get(ch).copied());
                    let idx = match pinned {
                        Some(i) => i,
                        None => self.subscriber(&addr),
                    };
                    let ps = self.pubsub_mut();
                    ps.conns[idx].send(&[b"SUBSCRIBE".as_slice(), ch], None);
                    ps.channels.insert(ch.clone(), idx);
                    let count = ps.count();
                    ps.out.push_back(Out::Confirm { kind: "subscribe", name: Some(ch.clone()), count, waiting: 1 });
                }
            }
            "PSUBSCRIBE" => {
                let masters = self.shared.router.master_addrs();
                if masters.is_empty() {
                    return self.subscribed_or_done(err_reply("ERR handle request, slot is not ready, may be offline"));
                }
                for pat in &args[1..] {
                    let idxs: Vec<usize> = masters.iter().map(|a| self.subscriber(a)).collect();
                    let ps = self.pubsub_mut();
                    for &i in &idxs {
                        ps.conns[i].send(&[b"PSUBSCRIBE".as_slice(), pat], None);
                    }
                    let waiting = idxs.len();
                    ps.patterns.insert(pat.clone(), idxs);
                    let count = ps.count();
                    ps.out.push_back(Out::Confirm { kind: "psubscribe", name: Some(pat.clone()), count, waiting });
                }
            }
            _ => {
                let pattern = name == "PUNSUBSCRIBE";
                let kind = if pattern { "punsubscribe" } else { "unsubscribe" };
                let ps = self.pubsub_mut();
                let names: Vec<Bytes> = if args.len() > 1 {
                    args[1..].to_vec()
                } else if pattern {
                    ps.patterns.keys().cloned().collect()
                } else {
                    ps.channels.keys().cloned().collect()
                };
                if names.is_empty() {
                    let count = ps.count();
                    ps.out.push_back(Out::Confirm { kind, name: None, count, waiting: 0 });
                }
                for n in names {
                    let conns = if pattern {
                        ps.patterns.remove(&n).unwrap_or_default()
                    } else {
                        ps.channels.remove(&n).into_iter().collect()
                    };
                    let cmd: &[u8] = if pattern { b"PUNSUBSCRIBE" } else { b"UNSUBSCRIBE" };
                    for &i in &conns {
                        ps.conns[i].send(&[cmd, &n], None);
                    }
                    let count = ps.count();
                    ps.out.push_back(Out::Confirm { kind, name: Some(n), count, waiting: conns.len() });
                }
            }
        }
    }

    /// A reply outside subscribed mode is an ordinary entry; inside, it joins the pushes.
    fn subscribed_or_done(&mut self, reply: Bytes) {
        if self.pubsub.as_ref().is_some_and(|p| p.subscribed()) {
            self.pubsub_reply(reply)
        } else {
            self.push_done(reply, false)
        }
    }

    /// A command in subscribed mode: only the subscription commands, PING and QUIT are allowed
    /// (Redis's RESP2 rule, kept for RESP3 clients too).
    pub(crate) async fn handle_subscribed(&mut self, args: &[Bytes], name: Option<&str>) {
        match name {
            Some(n @ ("SUBSCRIBE" | "PSUBSCRIBE" | "UNSUBSCRIBE" | "PUNSUBSCRIBE")) => {
                self.handle_subscribe(n, args).await
            }
            Some("PING") if args.len() <= 2 => {
                let mut out = BytesMut::new();
                if self.resp3 {
                    match args.get(1) {
                        Some(m) => write::bulk(&mut out, m),
                        None => out.extend_from_slice(b"+PONG\r\n"),
                    }
                } else {
                    write::header(&mut out, b'*', 2);
                    write::bulk(&mut out, b"pong");
                    write::bulk(&mut out, args.get(1).map(|m| &m[..]).unwrap_or(b""));
                }
                self.pubsub_reply(out.freeze())
            }
            Some("QUIT") => {
                self.pubsub_reply(Bytes::from_static(b"+OK\r\n"));
                self.stop = Some(Stop::Quit);
            }
            _ => {
                let cmd = String::from_utf8_lossy(&args[0]).to_lowercase();
                self.pubsub_reply(err_reply(&format!(
                    "ERR Can't execute '{cmd}': only (P|S)SUBSCRIBE / (P|S)UNSUBSCRIBE / PING / QUIT / RESET are \
                     allowed in this context"
                )))
            }
        }
    }
}
