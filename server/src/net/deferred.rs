//! Replies written just before the socket thread waits for events, as Redis writes its
//! replies in `beforeSleep`.
//!
//! A connection that answered a batch and will next wait for input leaves its reply in its
//! outbox (marked idle, so nothing else writes the socket in between) and lists the outbox
//! here. The runtime's park hook then writes every listed reply straight into its socket
//! before the thread blocks in `epoll_wait`. Unpipelined clients thus get their replies in
//! one burst per event-loop turn instead of one at a time between the next requests' reads:
//! the client's side wakes up once per burst, which is what keeps Redis's round trip short
//! when the client shares the machine.
//!
//! The outbox machinery keeps the order: a reply still listed when the connection reads its
//! next request is taken back and sent in front of the next replies (`run_batch`), and what a
//! socket does not take at once is handed back to the connection task. A reply waits at most
//! [`MAX_WAIT_US`] (or [`MAX_LISTED`] others) even if the thread never parks.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use bytes::BytesMut;
use parking_lot::Mutex;

use crate::client::Outbox;

/// Replies larger than this are written by the connection task at once.
pub const MAX_DEFERRED: usize = 16 * 1024;
/// A reply listed longer than this ago makes the next deferral flush the list itself.
const MAX_WAIT_US: i64 = 200;
/// More listed outboxes than this are flushed at once.
const MAX_LISTED: usize = 512;

#[derive(Default)]
pub struct ReplyFlush {
    /// Set where a park hook calls [`ReplyFlush::flush`] (the server's runtime).
    enabled: AtomicBool,
    pending: Mutex<Pending>,
}

#[derive(Default)]
struct Pending {
    outboxes: Vec<Arc<Outbox>>,
    /// When the first listed reply was listed (µs, `now_us`).
    since_us: i64,
    scratch: BytesMut,
}

impl ReplyFlush {
    /// Turns deferral on: only once a park hook flushes the list.
    pub fn enable(&self) {
        self.enabled.store(true, Ordering::Release);
    }

    /// Leaves `reply` in `outbox` for the next flush. False when it must be written now:
    /// deferral is off or the connection's socket is already gone.
    /// On success `reply` is left empty (its bytes, or its buffer, now in the outbox).
    pub fn defer(&self, outbox: &Arc<Outbox>, reply: &mut BytesMut) -> bool {
        if !self.enabled.load(Ordering::Relaxed) || reply.len() > MAX_DEFERRED {
            return false;
        }
        let Some(list) = outbox.defer(reply) else { return false };
        if list {
            let mut p = self.pending.lock();
            let now = crate::util::clock::now_us();
            if p.outboxes.is_empty() {
                p.since_us = now;
            }
            p.outboxes.push(outbox.clone());
            if p.outboxes.len() > MAX_LISTED || now.saturating_sub(p.since_us) > MAX_WAIT_US {
                Self::write_all(&mut p);
            }
        }
        true
    }

    /// Writes every listed reply (the park hook).
    pub fn flush(&self) {
        let mut p = self.pending.lock();
        if !p.outboxes.is_empty() {
            Self::write_all(&mut p);
        }
    }

    fn write_all(p: &mut Pending) {
        let Pending { outboxes, scratch, .. } = p;
        for outbox in outboxes.drain(..) {
            outbox.flush(scratch);
        }
    }
}
