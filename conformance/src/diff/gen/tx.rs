//! The `tx` family: MULTI/EXEC/DISCARD/WATCH/UNWATCH scenarios over the three connections.
//!
//! One scenario: connection A maybe WATCHes keys, A or another connection B changes (or only
//! reads) some of them, or flushes/swaps databases, A queues commands of the data families (with
//! queued syntax errors → EXECABORT, runtime errors inside EXEC, nested MULTI, WATCH inside
//! MULTI), B may touch a watched key between MULTI and EXEC, and A ends with EXEC or DISCARD.
//! A watched key may also expire between WATCH and EXEC. Scenarios never leave a connection
//! inside MULTI, so they interleave safely with the other families in mixed runs.

use super::*;

/// Commands whose reply inside EXEC would not be comparable exactly: floats printed from
/// `long double`, lex ranges (valid only while all scores are equal, which queued commands may
/// change).
const NOT_QUEUED: [&str; 6] =
    ["INCRBYFLOAT", "HINCRBYFLOAT", "ZRANGEBYLEX", "ZREVRANGEBYLEX", "ZLEXCOUNT", "ZREMRANGEBYLEX"];

impl Gen {
    /// A data command whose reply is compared exactly (usable inside MULTI).
    fn exact_data_cmd(&mut self, conn: usize, peek: &mut dyn Peek) -> (Family, Vec<Vec<u8>>) {
        let among = [Family::String, Family::Keys, Family::List, Family::Hash, Family::Set, Family::ZSet];
        for _ in 0..20 {
            let f = self.pick(&among);
            let (args, check) = self.family(f, conn, peek);
            let name = String::from_utf8_lossy(&args[0]).to_ascii_uppercase();
            let bylex = args.iter().any(|a| a.eq_ignore_ascii_case(b"BYLEX"));
            if matches!(check, Check::Exact) && !NOT_QUEUED.contains(&name.as_str()) && !bylex {
                return (f, args);
            }
        }
        (Family::String, cmd!["GET", self.key_in(Pool::Str)])
    }

    /// A command on key `k` that changes it (or, sometimes, only reads it or changes nothing).
    fn touch(&mut self, k: &[u8]) -> Vec<Vec<u8>> {
        let kind = match k.first() {
            Some(b's') => 's',
            _ if k.starts_with(b"{a}l") => 'l',
            _ if k.starts_with(b"{b}h") => 'h',
            _ if k.starts_with(b"{a}t") => 't',
            _ if k.starts_with(b"{b}z") => 'z',
            _ => 'w',
        };
        let k = k.to_vec();
        match self.int(0, 9) {
            // Generic: delete, expire, persist, rename away, read only.
            0 => cmd!["DEL", k],
            1 => cmd!["EXPIRE", k, "5000"],
            2 => cmd!["PERSIST", k],
            3 => cmd!["EXISTS", k],
            4 => cmd!["RENAME", k, self.any_key()],
            _ => match kind {
                's' | 'w' => match self.int(0, 4) {
                    0 => cmd!["SET", k, self.value()],
                    1 => cmd!["APPEND", k, "x"],
                    2 => cmd!["SETNX", k, "v"],
                    3 => cmd!["GET", k],
                    _ => cmd!["INCR", k],
                },
                'l' => match self.int(0, 3) {
                    0 => cmd!["RPUSH", k, self.member()],
                    1 => cmd!["LPOP", k],
                    2 => cmd!["LREM", k, "0", "nosuchmember"],
                    _ => cmd!["LRANGE", k, "0", "-1"],
                },
                'h' => match self.int(0, 3) {
                    0 => cmd!["HSET", k, self.field(), self.value()],
                    1 => cmd!["HDEL", k, self.field()],
                    _ => cmd!["HGET", k, self.field()],
                },
                't' => match self.int(0, 3) {
                    0 => cmd!["SADD", k, self.member()],
                    1 => cmd!["SREM", k, "nosuchmember"],
                    _ => cmd!["SCARD", k],
                },
                _ => match self.int(0, 3) {
                    0 => cmd!["ZADD", k, self.int(0, 5).to_string(), self.member()],
                    1 => cmd!["ZREM", k, self.member()],
                    _ => cmd!["ZSCORE", k, self.member()],
                },
            },
        }
    }

    pub(super) fn tx_scenario(&mut self, peek: &mut dyn Peek) -> Vec<Cmd> {
        let mut sc = Sc::new(Family::Tx);
        let a = self.rng.random_range(0..CONNS);
        let b = (a + self.rng.random_range(1..CONNS)) % CONNS;
        if self.chance(0.08) {
            // Errors outside a transaction.
            match self.int(0, 5) {
                0 => sc.exact(a, cmd!["EXEC"]),
                1 => sc.exact(a, cmd!["DISCARD"]),
                2 => sc.exact(a, cmd!["WATCH"]),
                3 => sc.exact(a, cmd!["UNWATCH", "x"]),
                4 => sc.exact(a, cmd!["MULTI", "x"]),
                _ => {
                    sc.exact(a, cmd!["MULTI"]);
                    sc.exact(a, cmd!["EXEC", "x"]);
                    sc.exact(a, cmd!["DISCARD"]);
                }
            }
            return sc.done();
        }
        if self.chance(0.85) {
            sc.exact(a, cmd!["SELECT", "0"]);
            sc.exact(b, cmd!["SELECT", if self.chance(0.15) { "1" } else { "0" }]);
        }
        let mut watched: Vec<Vec<u8>> = Vec::new();
        // A watched key that expires between WATCH and EXEC (Redis aborts the EXEC).
        let expiring = self.chance(0.02);
        if expiring {
            let k = self.key_in(Pool::Str);
            sc.exact(a, cmd!["SET", k, "v", "PX", "300"]);
            watched.push(k);
        }
        if expiring || self.chance(0.65) {
            let n = self.int(1, 3);
            for _ in 0..n {
                watched.push(self.any_key());
            }
            let mut w = cmd!["WATCH"];
            w.extend(watched.iter().cloned());
            sc.exact(a, w);
            if self.chance(0.15) {
                // Watching more keys in a second call adds to the set.
                let k = self.any_key();
                sc.exact(a, cmd!["WATCH", k]);
                watched.push(k);
            }
        }
        if !watched.is_empty() && !expiring && self.chance(0.08) {
            sc.exact(a, cmd!["UNWATCH"]);
        }
        // Changes before MULTI: mostly by B, sometimes by A itself.
        for _ in 0..self.int(0, 2) {
            let who = if self.chance(0.8) { b } else { a };
            let k = if !watched.is_empty() && self.chance(0.7) { self.pick_vec(&watched) } else { self.any_key() };
            let t = self.touch(&k);
            sc.exact(who, t);
        }
        if self.chance(0.07) {
            let f = match self.int(0, 3) {
                0 => cmd!["FLUSHDB"],
                1 => cmd!["FLUSHALL"],
                _ => cmd!["SWAPDB", "0", self.pick(&["1", "2"])],
            };
            sc.exact(b, f);
        }
        if expiring {
            sc.sleep(450);
        }
        sc.exact(a, cmd!["MULTI"]);
        let queued = if self.chance(0.05) { 0 } else { self.int(1, 5) };
        for _ in 0..queued {
            match self.weighted(&[90, 4, 3, 3]) {
                0 => {
                    let (f, args) = self.exact_data_cmd(a, peek);
                    sc.foreign(f, a, args, Check::Exact);
                }
                1 => {
                    // Wrong arity or an unknown command: the transaction is aborted at EXEC.
                    let (args, _) = self.errors();
                    sc.foreign(Family::Errors, a, args, Check::Exact);
                }
                2 => sc.exact(a, cmd!["MULTI"]),
                _ => sc.exact(a, cmd!["WATCH", self.any_key()]),
            }
        }
        // Changes between MULTI and EXEC also make EXEC fail.
        if self.chance(0.3) {
            let k = if !watched.is_empty() && self.chance(0.7) { self.pick_vec(&watched) } else { self.any_key() };
            let t = self.touch(&k);
            sc.exact(b, t);
        }
        if self.chance(0.85) {
            sc.exact(a, cmd!["EXEC"]);
        } else {
            sc.exact(a, cmd!["DISCARD"]);
            if self.chance(0.3) {
                sc.exact(a, cmd!["EXEC"]);
            }
        }
        if self.chance(0.3) {
            let k = if !watched.is_empty() { self.pick_vec(&watched) } else { self.any_key() };
            sc.exact(a, cmd!["TYPE", k]);
        }
        sc.done()
    }
}
