//! The `pubsub` family: scenarios where one or two connections subscribe (SUBSCRIBE,
//! PSUBSCRIBE, in RESP2 or RESP3, chosen by HELLO at the start), any connection PUBLISHes, and
//! the messages pushed to the subscribers are read and compared; PUBSUB CHANNELS/NUMSUB/NUMPAT,
//! PING and other commands in subscribed mode (refused in RESP2, answered in RESP3 with the
//! pushes interleaved), UNSUBSCRIBE/PUNSUBSCRIBE with and without arguments.
//!
//! The generator keeps a model of every connection's subscriptions, so it knows how many frames
//! each connection receives after each command (a subscriber gets one `message` per channel it
//! subscribed to and one `pmessage` per matching pattern). A scenario ends with every
//! connection unsubscribed and a PING on each connection, which shows any frame the candidate
//! pushed beyond the expected ones.

use std::collections::BTreeSet;

use super::*;

const CHANNELS: [&str; 9] = ["ch0", "ch1", "ch2", "news.sport", "news.tech", "a{x}b", "", "ch*", "x y"];
const PATTERNS: [&str; 10] =
    ["ch*", "news.*", "*", "ch[01]", "n?ws.*", "ch\\*", "[^c]*", "news.[a-s]*", "x*", "[a-c]?[0-9]"];

#[derive(Default, Clone)]
struct SubState {
    resp3: bool,
    channels: BTreeSet<Vec<u8>>,
    patterns: BTreeSet<Vec<u8>>,
}

impl SubState {
    fn subscribed(&self) -> bool {
        !self.channels.is_empty() || !self.patterns.is_empty()
    }

    /// RESP2 in subscribed mode: only (P)SUBSCRIBE, (P)UNSUBSCRIBE, PING, QUIT, RESET run.
    fn restricted(&self) -> bool {
        self.subscribed() && !self.resp3
    }

    /// Messages this connection receives for a PUBLISH to `ch`.
    fn deliveries(&self, ch: &[u8]) -> usize {
        usize::from(self.channels.contains(ch)) + self.patterns.iter().filter(|p| glob_match(p, ch)).count()
    }
}

/// Redis's `stringmatchlen` (case-sensitive), step by step: `*`, `?`, `[...]` with `^`, ranges
/// and `\` escapes. Like Redis, `*` never matches an empty string on its own (`*` does not
/// match the channel `""`).
pub fn glob_match(p: &[u8], s: &[u8]) -> bool {
    let (mut pi, mut si) = (0usize, 0usize);
    while pi < p.len() && si < s.len() {
        match p[pi] {
            b'*' => {
                while pi + 1 < p.len() && p[pi + 1] == b'*' {
                    pi += 1;
                }
                if pi + 1 == p.len() {
                    return true;
                }
                while si < s.len() {
                    if glob_match(&p[pi + 1..], &s[si..]) {
                        return true;
                    }
                    si += 1;
                }
                return false;
            }
            b'?' => si += 1,
            b'[' => {
                pi += 1;
                let not = pi < p.len() && p[pi] == b'^';
                if not {
                    pi += 1;
                }
                let mut matched = false;
                loop {
                    if pi + 1 < p.len() && p[pi] == b'\\' {
                        pi += 1;
                        if p[pi] == s[si] {
                            matched = true;
                        }
                    } else if pi < p.len() && p[pi] == b']' {
                        break;
                    } else if pi >= p.len() {
                        // An unterminated class ends with the pattern.
                        pi -= 1;
                        break;
                    } else if pi + 2 < p.len() && p[pi + 1] == b'-' {
                        let (mut lo, mut hi) = (p[pi], p[pi + 2]);
                        if lo > hi {
                            std::mem::swap(&mut lo, &mut hi);
                        }
                        pi += 2;
                        if s[si] >= lo && s[si] <= hi {
                            matched = true;
                        }
                    } else if p[pi] == s[si] {
                        matched = true;
                    }
                    pi += 1;
                }
                if not {
                    matched = !matched;
                }
                if !matched {
                    return false;
                }
                si += 1;
            }
            b'\\' => {
                if pi + 1 < p.len() {
                    pi += 1;
                }
                if p[pi] != s[si] {
                    return false;
                }
                si += 1;
            }
            c => {
                if c != s[si] {
                    return false;
                }
                si += 1;
            }
        }
        pi += 1;
        if si == s.len() {
            while pi < p.len() && p[pi] == b'*' {
                pi += 1;
            }
            break;
        }
    }
    pi == p.len() && si == s.len()
}

impl Gen {
    fn channel(&mut self) -> Vec<u8> {
        if self.chance(0.05) {
            return b"nosub".to_vec();
        }
        self.pick(&CHANNELS).into()
    }

    fn pattern(&mut self) -> Vec<u8> {
        self.pick(&PATTERNS).into()
    }

    fn message(&mut self) -> Vec<u8> {
        match self.int(0, 5) {
            0 => Vec::new(),
            1 => b"bin\x00\xff\r\n".to_vec(),
            2 => vec![b'm'; 100],
            _ => format!("msg{}", self.int(0, 99)).into_bytes(),
        }
    }

    pub(super) fn pubsub_scenario(&mut self) -> Vec<Cmd> {
        let mut sc = Sc::new(Family::PubSub);
        let mut st: Vec<SubState> = vec![SubState::default(); CONNS];
        let nsubs = if self.chance(0.6) { 1 } else { 2 };
        let mut subs: Vec<usize> = (0..CONNS).collect();
        while subs.len() > nsubs {
            let i = self.rng.random_range(0..subs.len());
            subs.remove(i);
        }
        for &s in &subs {
            let r3 = self.chance(0.5);
            st[s].resp3 = r3;
            sc.call(s, cmd!["HELLO", if r3 { "3" } else { "2" }], Check::Hello);
        }
        let steps = self.int(4, 18);
        for _ in 0..steps {
            let s = self.pick(&subs);
            let w = [5, 3, 2, 1, 1, 1, 12, 1, 1, 1, 2, 2, 1];
            match self.weighted(&w) {
                0 => {
                    let chans: Vec<Vec<u8>> = (0..self.int(1, 3)).map(|_| self.channel()).collect();
                    let mut a = cmd!["SUBSCRIBE"];
                    a.extend(chans.iter().cloned());
                    sc.frames(s, a, vec![FrameRead { conn: s, n: chans.len(), unsub_all: false }]);
                    st[s].channels.extend(chans);
                }
                1 => {
                    let pats: Vec<Vec<u8>> = (0..self.int(1, 2)).map(|_| self.pattern()).collect();
                    let mut a = cmd!["PSUBSCRIBE"];
                    a.extend(pats.iter().cloned());
                    sc.frames(s, a, vec![FrameRead { conn: s, n: pats.len(), unsub_all: false }]);
                    st[s].patterns.extend(pats);
                }
                2 => {
                    let chans: Vec<Vec<u8>> = (0..self.int(1, 2)).map(|_| self.channel()).collect();
                    let mut a = cmd!["UNSUBSCRIBE"];
                    a.extend(chans.iter().cloned());
                    sc.frames(s, a, vec![FrameRead { conn: s, n: chans.len(), unsub_all: false }]);
                    for c in &chans {
                        st[s].channels.remove(c);
                    }
                }
                3 => {
                    let n = st[s].channels.len().max(1);
                    sc.frames(s, cmd!["UNSUBSCRIBE"], vec![FrameRead { conn: s, n, unsub_all: true }]);
                    st[s].channels.clear();
                }
                4 => {
                    let pats: Vec<Vec<u8>> = (0..self.int(1, 2)).map(|_| self.pattern()).collect();
                    let mut a = cmd!["PUNSUBSCRIBE"];
                    a.extend(pats.iter().cloned());
                    sc.frames(s, a, vec![FrameRead { conn: s, n: pats.len(), unsub_all: false }]);
                    for p in &pats {
                        st[s].patterns.remove(p);
                    }
                }
                5 => {
                    let n = st[s].patterns.len().max(1);
                    sc.frames(s, cmd!["PUNSUBSCRIBE"], vec![FrameRead { conn: s, n, unsub_all: true }]);
                    st[s].patterns.clear();
                }
                6 => {
                    // Mostly from a non-subscriber; the subscriber itself sometimes (RESP3: its
                    // own messages arrive before the reply; RESP2: refused).
                    let p = if self.chance(0.75) { self.rng.random_range(0..CONNS) } else { s };
                    let ch = self.channel();
                    let a = cmd!["PUBLISH", ch, self.message()];
                    if st[p].restricted() {
                        sc.exact(p, a);
                    } else {
                        let mut reads = vec![FrameRead { conn: p, n: st[p].deliveries(&ch) + 1, unsub_all: false }];
                        for (y, sy) in st.iter().enumerate() {
                            let d = sy.deliveries(&ch);
                            if y != p && d > 0 {
                                reads.push(FrameRead { conn: y, n: d, unsub_all: false });
                            }
                        }
                        sc.frames(p, a, reads);
                    }
                }
                7 => {
                    let x = self.rng.random_range(0..CONNS);
                    let mut a = cmd!["PUBSUB", "CHANNELS"];
                    if self.chance(0.5) {
                        a.push(self.pattern());
                    }
                    sc.call(x, a, Check::Unordered);
                }
                8 => {
                    let x = self.rng.random_range(0..CONNS);
                    let mut a = cmd!["PUBSUB", "NUMSUB"];
                    a.extend((0..self.int(0, 3)).map(|_| self.channel()));
                    sc.exact(x, a);
                }
                9 => {
                    let x = self.rng.random_range(0..CONNS);
                    sc.exact(x, cmd!["PUBSUB", if self.chance(0.9) { "NUMPAT" } else { "numpat" }]);
                }
                10 => {
                    let mut a = cmd!["PING"];
                    if self.chance(0.5) {
                        a.push(self.message());
                    }
                    sc.exact(s, a);
                }
                11 => {
                    let a = match self.int(0, 3) {
                        0 => cmd!["GET", self.key_in(Pool::Str)],
                        1 => cmd!["ECHO", self.message()],
                        2 => cmd!["PUBSUB", "NUMPAT"],
                        _ => cmd!["PING", "a", "b"],
                    };
                    sc.exact(s, a);
                }
                _ => {
                    let a = match self.int(0, 4) {
                        0 => cmd!["SUBSCRIBE"],
                        1 => cmd!["PSUBSCRIBE"],
                        2 => cmd!["PUBSUB", "FOO"],
                        3 => cmd!["PUBSUB"],
                        _ => cmd!["PUBLISH", "ch0"],
                    };
                    let x = if self.chance(0.5) { s } else { self.rng.random_range(0..CONNS) };
                    sc.exact(x, a);
                }
            }
        }
        // Leave every connection unsubscribed, then check nothing more arrives.
        for &s in &subs {
            if !st[s].channels.is_empty() {
                let n = st[s].channels.len();
                sc.frames(s, cmd!["UNSUBSCRIBE"], vec![FrameRead { conn: s, n, unsub_all: true }]);
                st[s].channels.clear();
            }
            if !st[s].patterns.is_empty() {
                let n = st[s].patterns.len();
                sc.frames(s, cmd!["PUNSUBSCRIBE"], vec![FrameRead { conn: s, n, unsub_all: true }]);
                st[s].patterns.clear();
            }
        }
        for c in 0..CONNS {
            sc.exact(c, cmd!["PING"]);
        }
        sc.done()
    }
}

#[cfg(test)]
mod tests {
    use super::glob_match;

    #[test]
    fn glob() {
        let t = |p: &str, s: &str| glob_match(p.as_bytes(), s.as_bytes());
        assert!(t("ch*", "ch0") && t("ch*", "ch*") && t("ch*", "ch") && !t("*", "") && !t("ch*", "c") && t("", ""));
        assert!(t("*x", "x") && t("a*b", "ab") && !t("a*b", "a") && t("a**", "a"));
        assert!(t("ch[01]", "ch1") && !t("ch[01]", "ch2") && t("n?ws.*", "news.tech"));
        assert!(t("ch\\*", "ch*") && !t("ch\\*", "ch0"));
        assert!(t("[^c]*", "news.x") && !t("[^c]*", "ch0") && !t("[^c]*", ""));
        assert!(t("news.[a-s]*", "news.sport") && !t("news.[a-s]*", "news.tech"));
        assert!(t("[a-c]?[0-9]", "ch0") && !t("[a-c]?[0-9]", "ch"));
    }
}
