//! Pub/Sub fan-out into idle subscribers' sockets, batched as Redis batches its writes.
//!
//! A publisher leaves each message in the subscriber's outbox and, when the subscriber's task
//! is idle, lists the outbox here (once: see `Outbox::push_deferred`). One short-lived flusher
//! task, once the publishers ready on its worker have run, writes every listed outbox straight
//! into its socket, then looks again: messages of many publishers go out in one write per
//! subscriber, like Redis's writes before its event loop sleeps. That costs one task wake-up
//! per pass instead of one per subscriber per message.

use std::sync::Arc;

use bytes::BytesMut;
use parking_lot::Mutex;

use crate::client::Outbox;

#[derive(Default)]
pub struct FanOut {
    inner: Mutex<Pending>,
}

#[derive(Default)]
struct Pending {
    outboxes: Vec<Arc<Outbox>>,
    /// A flusher task runs (or is about to): it will see what is added.
    flushing: bool,
}

impl FanOut {
    /// Lists `outboxes` (drained) for a direct write, starting a flusher unless one runs.
    pub fn submit(self: &Arc<Self>, outboxes: &mut Vec<Arc<Outbox>>) {
        if outboxes.is_empty() {
            return;
        }
        let start = {
            let mut p = self.inner.lock();
            p.outboxes.append(outboxes);
            !std::mem::replace(&mut p.flushing, true)
        };
        if start {
            let this = self.clone();
            tokio::spawn(async move { this.flush_all().await });
        }
    }

    async fn flush_all(&self) {
        let mut batch = Vec::new();
        let mut scratch = BytesMut::new();
        loop {
            // Let the publishers on this worker that are ready run before each pass (the first
            // too: a flusher starts right after the batch that spawned it), so that their
            // messages go out together: at most one write per subscriber per round of the
            // worker, as Redis writes once per event-loop iteration.
            tokio::task::yield_now().await;
            {
                let mut p = self.inner.lock();
                if p.outboxes.is_empty() {
                    p.flushing = false;
                    return;
                }
                std::mem::swap(&mut p.outboxes, &mut batch);
            }
            for ob in batch.drain(..) {
                ob.flush(&mut scratch);
            }
            if scratch.capacity() > 1 << 16 {
                // A big backlog went through: do not keep its buffer.
                scratch = BytesMut::new();
            }
        }
    }
}
