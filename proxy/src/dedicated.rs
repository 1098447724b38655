//! A backend connection owned by one session, for what cannot share a connection: pub/sub
//! subscriptions, WATCH ... EXEC, and blocking commands.
//!
//! Requests are written in order; each reply goes to the target given with its request, and a
//! reply nobody waits for (a pub/sub message) is pushed to the session's sink as a
//! [`PUSH`](crate::sink::PUSH) delivery tagged with the connection's id. The connection is not
//! re-opened when it fails (its state would be gone): waiting requests are answered with
//! `backend conn reset` and a push delivery reports the end. Dropping the handle closes it.

use std::collections::VecDeque;
use std::sync::Arc;

use bytes::{Bytes, BytesMut};
use compat::resp::ReplyScanner;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::sync::mpsc;

use crate::backend::{encode_command, open};
use crate::config::Config;
use crate::error::BackendError;
use crate::sink::{Delivery, Sink, Target, PUSH};

struct Outgoing {
    bytes: BytesMut,
    /// One target per request in `bytes`; `None` for requests whose replies are pushes.
    targets: Vec<Option<Target>>,
}

pub struct Dedicated {
    pub addr: String,
    pub database: u32,
    tx: mpsc::UnboundedSender<Outgoing>,
}

impl Dedicated {
    /// Starts connecting to `addr`; requests sent meanwhile wait for the connection.
    pub fn open(addr: &str, database: u32, id: u32, sink: Arc<Sink>, config: Arc<Config>) -> Dedicated {
        let (tx, rx) = mpsc::unbounded_channel();
        let a = addr.to_string();
        tokio::spawn(async move {
            let result = serve(&a, database, id, &sink, &config, rx).await;
            if let Err(e) = &result {
                tracing::info!(addr = %a, db = database, error = %e, "dedicated backend conn closed");
            }
            sink.deliver(Delivery { seq: PUSH, part: id, reply: Err(BackendError::Reset) });
        });
        Dedicated { addr: addr.to_string(), database, tx }
    }

    /// Sends one request; its reply goes to `target`, or is pushed when `target` is `None`.
    pub fn send<A: AsRef<[u8]>>(&self, args: &[A], target: Option<Target>) {
        self.send_many(std::slice::from_ref(&args), vec![target]);
    }

    /// Sends requests back to back, each with its target.
    pub fn send_many<A: AsRef<[u8]>, C: AsRef<[A]>>(&self, cmds: &[C], targets: Vec<Option<Target>>) {
        let mut bytes = BytesMut::new();
        for c in cmds {
            encode_command(&mut bytes, c.as_ref());
        }
        if let Err(mpsc::error::SendError(out)) = self.tx.send(Outgoing { bytes, targets }) {
            for t in out.targets.into_iter().flatten() {
                t.send(Err(BackendError::Reset));
            }
        }
    }
}

async fn serve(
    addr: &str,
    database: u32,
    id: u32,
    sink: &Arc<Sink>,
    config: &Config,
    mut rx: mpsc::UnboundedReceiver<Outgoing>,
) -> Result<(), String> {
    let mut inflight: VecDeque<Option<Target>> = VecDeque::new();
    let result = async {
        let mut stream = open(addr, database, config).await.map_err(|e| e.to_string())?;
        let mut rbuf = BytesMut::with_capacity(4096);
        let mut scanner = ReplyScanner::new();
        loop {
            tokio::select! {
                out = rx.recv() => {
                    // The session dropped its handle.
                    let Some(first) = out else { return Ok(()) };
                    let mut wbuf = first.bytes;
                    inflight.extend(first.targets);
                    while let Ok(more) = rx.try_recv() {
                        wbuf.extend_from_slice(&more.bytes);
                        inflight.extend(more.targets);
                    }
                    stream.write_all(&wbuf).await.map_err(|e| e.to_string())?;
                }
                r = stream.read_buf(&mut rbuf) => {
                    match r {
                        Ok(0) => return Err("connection closed by the backend".to_string()),
                        Ok(_) => {}
                        Err(e) => return Err(e.to_string()),
                    }
                    while let Some(n) = scanner.scan(&rbuf).map_err(|e| e.to_string())? {
                        let reply: Bytes = rbuf.split_to(n).freeze();
                        match inflight.pop_front().flatten() {
                            Some(t) => t.send(Ok(reply)),
                            None => sink.deliver(Delivery { seq: PUSH, part: id, reply: Ok(reply) }),
                        }
                    }
                    if rbuf.capacity() - rbuf.len() < 1024 {
                        rbuf.reserve(4096);
                    }
                }
            }
        }
    }
    .await;
    for t in inflight.into_iter().flatten() {
        t.send(Err(BackendError::Reset));
    }
    result
}
