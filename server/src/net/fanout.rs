//! Pub/Sub fan-out into idle subscribers' sockets, batched as Redis batches its writes.
//!
//! A publisher leaves each message in the subscriber's outbox and, when the subscriber's task
//! is idle, lists the outbox here (once: see `Outbox::push_deferred`). One short-lived flusher
//! task writes every listed outbox straight into its socket, then looks again: messages of
//! many publishers that arrived meanwhile go out in one write per subscriber, like Redis's
//! writes before its event loop sleeps. That costs one task wake-up per pass instead of one
//! per subscriber per message.

use std::sync::Arc;

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
        loop {
            {
                let mut p = self.inner.lock();
                if p.outboxes.is_empty() {
                    p.flushing = false;
                    return;
                }
                std::mem::swap(&mut p.outboxes, &mut batch);
            }
            for ob in batch.drain(..) {
                ob.flush();
            }
            // Let the publishers on this worker run before the next pass: their messages then
            // go out together.
            tokio::task::yield_now().await;
        }
    }
}
