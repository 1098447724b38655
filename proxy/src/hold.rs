//! Holding requests while their backend is down (`backend_failover_hold`, docs/proxy-features.md).
//!
//! Go Codis fails every request for a dead master until the slot table is switched to the
//! promoted replica. Here a request that was never written to the dead backend - because the
//! connection was already down when it was dispatched, or because it was still queued when the
//! connection broke - waits in its session, in order behind earlier held requests of the same
//! slot, and is sent again every few milliseconds through the current slot table: as soon as
//! fillslots or a sentinel switch points the slot at a live master (or the old one comes back),
//! it goes there. A request waits at most `backend_failover_hold`, and at most
//! `backend_failover_hold_max` requests wait in the whole proxy; beyond either it fails as before.
//! Requests already written to the dead backend still fail: they may have run.

use std::time::{Duration, Instant};

use bytes::{Bytes, BytesMut};
use compat::resp::RequestDecoder;

use crate::error::{BackendError, RequestError};
use crate::forward::{forward, Origin};
use crate::mapper;
use crate::session::Session;
use crate::sink::Delivery;

/// How often held requests are tried again.
pub const RETRY_EVERY: Duration = Duration::from_millis(10);

pub struct HeldRequest {
    seq: u64,
    part: u32,
    slot: usize,
    args: Vec<Bytes>,
    deadline: Instant,
}

impl Session {
    /// True when an earlier request of `slot` is held: later ones must wait behind it.
    pub(crate) fn slot_held(&self, slot: usize) -> bool {
        self.held.iter().any(|h| h.slot == slot)
    }

    /// Holds part `part` of request `seq`, or fails it when the proxy holds too many.
    pub(crate) fn hold(&mut self, seq: u64, part: u32, slot: usize, args: Vec<Bytes>) {
        let router = &self.shared.router;
        if !router.hold_place() {
            return self.fail_entry(seq, RequestError::Backend(BackendError::Reset));
        }
        let deadline = Instant::now() + self.shared.config.features.failover_hold;
        self.held.push(HeldRequest { seq, part, slot, args, deadline });
    }

    /// A request handed back unsent by a connection that broke: held if holding is on.
    pub(crate) fn hold_unsent(&mut self, seq: u64, part: u32, bytes: &Bytes, slot: usize) -> bool {
        if !self.shared.router.holds_on_failover() {
            return false;
        }
        let mut buf = BytesMut::from(&bytes[..]);
        let mut args = Vec::new();
        match RequestDecoder::default().decode_into(&mut buf, &mut args) {
            Ok(true) if !args.is_empty() => {
                self.hold(seq, part, slot, args);
                true
            }
            _ => false,
        }
    }

    /// Tries every held request again, in order; a request still without a live backend keeps
    /// the later ones of its slot waiting.
    pub(crate) async fn retry_held(&mut self) {
        let held = std::mem::take(&mut self.held);
        let mut keep = Vec::new();
        let mut blocked: Vec<usize> = Vec::new();
        let now = Instant::now();
        for h in held {
            if blocked.contains(&h.slot) {
                keep.push(h);
                continue;
            }
            if now >= h.deadline {
                self.shared.router.release_place();
                self.fail_entry(h.seq, RequestError::Backend(BackendError::Reset));
                continue;
            }
            let (key_index, master_only) = match mapper::lookup(&h.args[0]) {
                Ok(i) => (i.key_index as usize, i.is_master_only()),
                Err(_) => (1, true),
            };
            let hkey = h.args.get(key_index).map(|k| &k[..]);
            let seed = self.next_seed();
            let origin = Origin { sink: &self.sink, seq: h.seq, part: h.part, database: self.database, seed };
            let result = forward(&self.shared.router, h.slot, hkey, master_only, &h.args, &origin).await;
            match result {
                Err(RequestError::BackendDown) => {
                    blocked.push(h.slot);
                    keep.push(h);
                    continue;
                }
                Ok(None) => {}
                Ok(Some(reply)) => self.apply(Delivery { seq: h.seq, part: h.part, reply: Ok(reply) }),
                Err(e) => self.fail_entry(h.seq, e),
            }
            self.shared.router.release_place();
        }
        // Requests held meanwhile (handed back by a connection) come after.
        keep.append(&mut self.held);
        self.held = keep;
    }

    /// Gives back the places of requests still held when the session ends.
    pub(crate) fn release_held(&mut self) {
        for _ in self.held.drain(..) {
            self.shared.router.release_place();
        }
    }
}
