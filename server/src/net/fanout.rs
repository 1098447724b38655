//! Pub/Sub fan-out into idle subscribers' sockets, batched as Redis batches its writes.
//!
//! A publisher leaves each message in the subscriber's outbox and, when the subscriber's task
//! is idle, lists the outbox here (once: see `Outbox::push_deferred`). A writer thread writes
//! every listed outbox straight into its socket, then looks again: while it writes, the
//! publishers go on and list more, so under load the messages of many publishers go out in
//! one write per subscriber, as Redis's threaded I/O writes them, while the command thread
//! goes on executing. That costs one thread wake-up when the writer was idle, instead of one
//! task wake-up per subscriber per message.

use std::sync::Arc;
use std::time::Duration;

use bytes::BytesMut;
use parking_lot::{Condvar, Mutex};

use crate::client::Outbox;

/// An idle writer thread ends after this long without work (a new one starts when needed).
const WRITER_IDLE: Duration = Duration::from_secs(5);

#[derive(Default)]
pub struct FanOut {
    inner: Mutex<Pending>,
    work: Condvar,
}

#[derive(Default)]
struct Pending {
    outboxes: Vec<Arc<Outbox>>,
    /// The writer thread exists.
    running: bool,
    /// The writer thread waits on `work`.
    waiting: bool,
}

impl FanOut {
    /// Lists `outboxes` (drained) for a direct write, waking or starting the writer.
    pub fn submit(self: &Arc<Self>, outboxes: &mut Vec<Arc<Outbox>>) {
        if outboxes.is_empty() {
            return;
        }
        let mut p = self.inner.lock();
        p.outboxes.append(outboxes);
        if p.waiting {
            p.waiting = false;
            self.work.notify_one();
        } else if !p.running {
            let this = self.clone();
            let started = std::thread::Builder::new().name("pubsub-writer".into()).spawn(move || this.write_loop());
            match started {
                Ok(_) => p.running = true,
                Err(e) => {
                    // No thread: the subscribers' own tasks write what is pending.
                    tracing::warn!("cannot start the Pub/Sub writer thread: {e}");
                    for ob in p.outboxes.drain(..) {
                        ob.hand_to_task();
                    }
                }
            }
        }
    }

    fn write_loop(&self) {
        let mut batch = Vec::new();
        let mut scratch = BytesMut::new();
        loop {
            {
                let mut p = self.inner.lock();
                while p.outboxes.is_empty() {
                    p.waiting = true;
                    if self.work.wait_for(&mut p, WRITER_IDLE).timed_out() && p.outboxes.is_empty() {
                        p.waiting = false;
                        p.running = false;
                        return;
                    }
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
