//! Pub/Sub bookkeeping: who listens to which channel or pattern. Delivery into the subscribers'
//! outboxes is `State::publish` (see [`crate::client::Outbox`]).

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Arc;

use bytes::Bytes;

use crate::client::Outbox;

use crate::util::glob_match;

/// Pattern matching for channels. Redis's matcher never matches an empty string against a
/// non-empty pattern (not even `*`), so a message on the empty channel reaches no pattern.
fn channel_matches(pattern: &[u8], channel: &[u8]) -> bool {
    if channel.is_empty() {
        return pattern.is_empty();
    }
    glob_match(pattern, channel, false)
}

/// Subscribers of one channel or pattern: client id and the outbox messages go to (kept here so
/// PUBLISH does not look every subscriber up in the client registry).
pub type Subscribers = BTreeMap<u64, Arc<Outbox>>;

/// Channel and pattern subscriptions of every client.
#[derive(Default)]
pub struct PubSub {
    channels: HashMap<Bytes, Subscribers>,
    patterns: HashMap<Bytes, Subscribers>,
    /// Per client: its channels and patterns (for counts, unsubscribe-all and cleanup).
    by_client: HashMap<u64, ClientSubs>,
}

#[derive(Default)]
pub struct ClientSubs {
    pub channels: BTreeSet<Bytes>,
    pub patterns: BTreeSet<Bytes>,
}

impl ClientSubs {
    pub fn count(&self) -> usize {
        self.channels.len() + self.patterns.len()
    }
}

impl PubSub {
    /// Subscribes; returns (newly subscribed, total subscriptions of the client).
    pub fn subscribe(&mut self, client: u64, outbox: &Arc<Outbox>, channel: &Bytes) -> (bool, usize) {
        let subs = self.by_client.entry(client).or_default();
        let new = subs.channels.insert(channel.clone());
        if new {
            self.channels.entry(channel.clone()).or_default().insert(client, outbox.clone());
        }
        (new, subs.count())
    }

    pub fn unsubscribe(&mut self, client: u64, channel: &[u8]) -> (bool, usize) {
        let Some(subs) = self.by_client.get_mut(&client) else { return (false, 0) };
        let removed = subs.channels.remove(channel);
        if removed {
            if let Some(set) = self.channels.get_mut(channel) {
                set.remove(&client);
                if set.is_empty() {
                    self.channels.remove(channel);
                }
            }
        }
        let count = subs.count();
        if count == 0 {
            self.by_client.remove(&client);
        }
        (removed, count)
    }

    pub fn psubscribe(&mut self, client: u64, outbox: &Arc<Outbox>, pattern: &Bytes) -> (bool, usize) {
        let subs = self.by_client.entry(client).or_default();
        let new = subs.patterns.insert(pattern.clone());
        if new {
            self.patterns.entry(pattern.clone()).or_default().insert(client, outbox.clone());
        }
        (new, subs.count())
    }

    pub fn punsubscribe(&mut self, client: u64, pattern: &[u8]) -> (bool, usize) {
        let Some(subs) = self.by_client.get_mut(&client) else { return (false, 0) };
        let removed = subs.patterns.remove(pattern);
        if removed {
            if let Some(set) = self.patterns.get_mut(pattern) {
                set.remove(&client);
                if set.is_empty() {
                    self.patterns.remove(pattern);
                }
            }
        }
        let count = subs.count();
        if count == 0 {
            self.by_client.remove(&client);
        }
        (removed, count)
    }

    /// The client's channels (sorted) — for UNSUBSCRIBE without arguments.
    pub fn channels_of(&self, client: u64) -> Vec<Bytes> {
        self.by_client.get(&client).map(|s| s.channels.iter().cloned().collect()).unwrap_or_default()
    }

    pub fn patterns_of(&self, client: u64) -> Vec<Bytes> {
        self.by_client.get(&client).map(|s| s.patterns.iter().cloned().collect()).unwrap_or_default()
    }

    /// Number of channel plus pattern subscriptions of `client`.
    pub fn count_of(&self, client: u64) -> usize {
        self.by_client.get(&client).map_or(0, ClientSubs::count)
    }

    /// Drops every subscription of a disconnected client.
    pub fn remove_client(&mut self, client: u64) {
        for ch in self.channels_of(client) {
            self.unsubscribe(client, &ch);
        }
        for p in self.patterns_of(client) {
            self.punsubscribe(client, &p);
        }
    }

    /// The clients subscribed to `channel` itself (in id order).
    pub fn subscribers(&self, channel: &[u8]) -> Option<&Subscribers> {
        self.channels.get(channel)
    }

    /// The patterns matching `channel`, each with its subscribers.
    pub fn matching_patterns<'a>(&'a self, channel: &'a [u8]) -> impl Iterator<Item = (&'a Bytes, &'a Subscribers)> {
        self.patterns.iter().filter(move |(pattern, _)| channel_matches(pattern, channel))
    }

    /// How many clients receive a message published on `channel` (channel subscribers plus
    /// pattern subscribers, a client counted once per match as Redis counts it).
    #[cfg(test)]
    pub fn receivers(&self, channel: &[u8]) -> usize {
        self.subscribers(channel).map_or(0, BTreeMap::len)
            + self.matching_patterns(channel).map(|(_, set)| set.len()).sum::<usize>()
    }

    /// Active channels (with at least one subscriber), optionally filtered by a glob.
    pub fn active_channels(&self, pattern: Option<&[u8]>) -> Vec<Bytes> {
        let mut v: Vec<Bytes> =
            self.channels.keys().filter(|c| pattern.is_none_or(|p| channel_matches(p, c))).cloned().collect();
        v.sort();
        v
    }

    pub fn numsub(&self, channel: &[u8]) -> usize {
        self.channels.get(channel).map_or(0, BTreeMap::len)
    }

    /// Number of distinct patterns subscribed to (PUBSUB NUMPAT).
    pub fn numpat(&self) -> usize {
        self.patterns.len()
    }

    pub fn channel_count(&self) -> usize {
        self.channels.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn subscribe_publish_unsubscribe() {
        let mut ps = PubSub::default();
        let news = Bytes::from_static(b"news");
        let outbox = Arc::new(Outbox::default());
        assert_eq!(ps.subscribe(1, &outbox, &news), (true, 1));
        assert_eq!(ps.subscribe(1, &outbox, &news), (false, 1));
        assert_eq!(ps.psubscribe(2, &outbox, &Bytes::from_static(b"n*")), (true, 1));
        assert_eq!(ps.receivers(b"news"), 2);
        assert_eq!(ps.subscribers(b"news").map(|s| s.keys().copied().collect::<Vec<_>>()), Some(vec![1]));
        assert_eq!(
            ps.matching_patterns(b"news").map(|(p, _)| p.clone()).collect::<Vec<_>>(),
            vec![Bytes::from_static(b"n*")]
        );
        assert_eq!(ps.numsub(b"news"), 1);
        assert_eq!(ps.numpat(), 1);
        ps.remove_client(1);
        assert_eq!(ps.numsub(b"news"), 0);
        assert_eq!(ps.active_channels(None).len(), 0);
        assert_eq!(ps.punsubscribe(2, b"n*"), (true, 0));
        assert_eq!(ps.receivers(b"news"), 0);
    }
}
