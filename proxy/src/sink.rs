//! Where backend replies go: each session has a [`Sink`] that backend connections drop replies
//! into, tagged with the request's sequence number, and one notification wakes the session for
//! a whole batch.

use std::sync::Arc;

use bytes::Bytes;
use parking_lot::Mutex;
use tokio::sync::{oneshot, Notify};

use crate::error::BackendError;

/// A reply (or the reason there is none) for request `seq`, part `part` of a split request.
#[derive(Debug)]
pub struct Delivery {
    pub seq: u64,
    pub part: u32,
    pub reply: Result<Bytes, BackendError>,
}

/// The `seq` of a delivery that answers no request: a message pushed by a session's dedicated
/// pub/sub connection (`part` says which), or that connection's end (an error).
pub const PUSH: u64 = u64::MAX;

#[derive(Debug, Default)]
pub struct Sink {
    queue: Mutex<Vec<Delivery>>,
    notify: Notify,
}

impl Sink {
    pub fn new() -> Arc<Sink> {
        Arc::new(Sink::default())
    }

    /// Queues a delivery; the session is notified only when the queue was empty, because it
    /// takes the whole queue when it wakes.
    pub fn deliver(&self, d: Delivery) {
        let mut q = self.queue.lock();
        let was_empty = q.is_empty();
        q.push(d);
        drop(q);
        if was_empty {
            self.notify.notify_one();
        }
    }

    /// Queues every delivery of `batch` (leaving it empty), in order, with one notification.
    pub fn deliver_all(&self, batch: &mut Vec<Delivery>) {
        if batch.is_empty() {
            return;
        }
        let mut q = self.queue.lock();
        let was_empty = q.is_empty();
        if was_empty {
            std::mem::swap(&mut *q, batch);
        } else {
            q.append(batch);
        }
        drop(q);
        if was_empty {
            self.notify.notify_one();
        }
    }

    /// Moves every queued delivery into `out` (which should be empty), keeping allocations.
    pub fn take(&self, out: &mut Vec<Delivery>) {
        std::mem::swap(&mut *self.queue.lock(), out);
    }

    pub async fn wait(&self) {
        self.notify.notified().await
    }
}

/// Who receives the reply to one request written to a backend.
#[derive(Debug)]
pub enum Target {
    Session {
        sink: Arc<Sink>,
        seq: u64,
        part: u32,
    },
    /// A request the proxy waits for itself (migration helpers, keep-alive INFO).
    Oneshot(oneshot::Sender<Result<Bytes, BackendError>>),
    /// Keep-alive PING: the reply only proves the connection works.
    Discard,
}

impl Target {
    pub fn send(self, reply: Result<Bytes, BackendError>) {
        match self {
            Target::Session { sink, seq, part } => sink.deliver(Delivery { seq, part, reply }),
            Target::Oneshot(tx) => {
                let _ = tx.send(reply);
            }
            Target::Discard => {}
        }
    }
}
