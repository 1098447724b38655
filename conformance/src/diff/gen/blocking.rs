//! The `blocking` family: BLPOP, BRPOP, BRPOPLPUSH, BLMOVE, BLMPOP, BZPOPMIN, BZPOPMAX, BZMPOP
//! with clients that really block.
//!
//! A scenario puts all three connections in the same database, empties its keys, lets one or two
//! connections block (the command is sent without waiting for the reply, then the engine waits
//! until INFO reports that many blocked clients), and another connection writes: pushes, moves,
//! RENAME/COPY/ZUNIONSTORE/ZRANGESTORE creating the key, several pushes inside MULTI/EXEC (the
//! clients are served after EXEC), or a write of the wrong type (the client stays blocked, as
//! in Redis 7.0). The generator models Redis's serving order (ready keys in the order they were
//! created, clients of a key first come first served, BLMOVE's destination becoming ready in
//! turn), so it knows which client each write wakes and reads exactly those replies; the
//! final contents of the keys are compared too. Other scenarios: a short timeout (0.05-0.2 s)
//! expiring while nothing is pushed, blocking commands on non-empty keys or wrong types
//! (answered at once), blocking commands inside MULTI (answered at once), timeout errors.

use std::collections::BTreeMap;

use super::*;

const BLIST: [&str; 4] = ["{a}l0", "{a}l1", "{a}l2", "{a}l3"];
const BZSET: [&str; 4] = ["{b}z0", "{b}z1", "{b}z2", "{b}z3"];
/// Prepared sources for LMOVE/RENAME/COPY and ZUNIONSTORE/ZRANGESTORE/RENAME.
const LSRC: &str = "{a}l7";
const ZSRC: &str = "{b}z5";

/// Timeouts of clients that are going to be served (long enough never to expire first).
const LONG_TIMEOUTS: [&str; 5] = ["0", "0", "10", "30.5", "100"];
/// Timeouts of clients that are going to time out.
const SHORT_TIMEOUTS: [&str; 4] = ["0.05", "0.1", "0.2", "0.15"];

struct Blocked {
    conn: usize,
    keys: Vec<&'static str>,
    /// Elements taken when served (COUNT of BLMPOP/BZMPOP, else 1).
    count: usize,
    /// BLMOVE/BRPOPLPUSH destination.
    dest: Option<&'static str>,
    args: Vec<Vec<u8>>,
}

/// One effect of a write on the model.
enum Op {
    /// n elements pushed / n new members added.
    Add(&'static str, usize),
    /// n elements popped (at most the length).
    Pop(&'static str, usize),
    /// The key replaced by a value of n elements (0: deleted).
    Set(&'static str, usize),
}

#[derive(Default)]
struct Model {
    len: BTreeMap<&'static str, usize>,
    blocked: Vec<Blocked>,
    /// Keys whose final contents are compared.
    touched: Vec<&'static str>,
    /// Counter for unique element and member names.
    seq: usize,
}

impl Model {
    fn len(&self, k: &str) -> usize {
        self.len.get(k).copied().unwrap_or(0)
    }

    fn touch(&mut self, k: &'static str) {
        if !self.touched.contains(&k) {
            self.touched.push(k);
        }
    }

    /// Applies the ops of one command (or one EXEC) and serves the blocked clients the way
    /// Redis 7.0's handleClientsBlockedOnKeys does; returns the clients served, in order.
    fn apply(&mut self, ops: &[Op]) -> Vec<Blocked> {
        let mut ready: Vec<&'static str> = Vec::new();
        for op in ops {
            let (k, new) = match *op {
                Op::Add(k, n) => (k, self.len(k) + n),
                Op::Pop(k, n) => (k, self.len(k).saturating_sub(n)),
                Op::Set(k, n) => (k, n),
            };
            if self.len(k) == 0 && new > 0 && !ready.contains(&k) {
                ready.push(k);
            }
            self.len.insert(k, new);
            self.touch(k);
        }
        let mut served = Vec::new();
        while !ready.is_empty() {
            let round = std::mem::take(&mut ready);
            for k in round {
                let mut i = 0;
                while i < self.blocked.len() && self.len(k) > 0 {
                    if !self.blocked[i].keys.contains(&k) {
                        i += 1;
                        continue;
                    }
                    let cl = self.blocked.remove(i);
                    let n = self.len(k);
                    self.len.insert(k, n - cl.count.min(n));
                    if let Some(d) = cl.dest {
                        let was = self.len(d);
                        self.len.insert(d, was + 1);
                        self.touch(d);
                        if was == 0 && !ready.contains(&d) {
                            ready.push(d);
                        }
                    }
                    served.push(cl);
                }
            }
        }
        served
    }
}

impl Gen {
    fn block_keys(&mut self, pool: &[&'static str], prefer: &[&'static str]) -> Vec<&'static str> {
        let prefer: Vec<&'static str> = prefer.iter().copied().filter(|k| pool.contains(k)).collect();
        let n = if self.chance(0.7) { 1 } else { 2 };
        let mut keys: Vec<&'static str> = Vec::new();
        while keys.len() < n {
            let k = if !prefer.is_empty() && self.chance(0.6) { self.pick(&prefer) } else { self.pick(pool) };
            if !keys.contains(&k) {
                keys.push(k);
            }
        }
        keys
    }

    /// A blocking command on `conn` with the given timeout; `prefer` are keys other clients
    /// already wait on (to share keys, FIFO).
    fn block_cmd(&mut self, conn: usize, zset: bool, timeout: &str, prefer: &[&'static str]) -> Blocked {
        if zset {
            let keys = self.block_keys(&BZSET, prefer);
            if self.chance(0.6) {
                let mut a = cmd![if self.chance(0.5) { "BZPOPMIN" } else { "BZPOPMAX" }];
                a.extend(keys.iter().map(|k| k.as_bytes().to_vec()));
                a.push(timeout.into());
                Blocked { conn, keys, count: 1, dest: None, args: a }
            } else {
                let mut a = cmd!["BZMPOP", timeout, keys.len().to_string()];
                a.extend(keys.iter().map(|k| k.as_bytes().to_vec()));
                a.push(self.pick(&["MIN", "MAX"]).into());
                let mut count = 1;
                if self.chance(0.5) {
                    count = self.int(1, 3) as usize;
                    a.extend(cmd!["COUNT", count.to_string()]);
                }
                Blocked { conn, keys, count, dest: None, args: a }
            }
        } else {
            match self.weighted(&[4, 2, 2, 3]) {
                0 => {
                    let keys = self.block_keys(&BLIST, prefer);
                    let mut a = cmd![if self.chance(0.5) { "BLPOP" } else { "BRPOP" }];
                    a.extend(keys.iter().map(|k| k.as_bytes().to_vec()));
                    a.push(timeout.into());
                    Blocked { conn, keys, count: 1, dest: None, args: a }
                }
                w @ (1 | 2) => {
                    let prefer: Vec<&'static str> = prefer.iter().copied().filter(|k| BLIST.contains(k)).collect();
                    let src =
                        if !prefer.is_empty() && self.chance(0.5) { self.pick(&prefer) } else { self.pick(&BLIST) };
                    let mut dst = self.pick(&BLIST);
                    if dst == src {
                        dst = LSRC;
                    }
                    let a = if w == 1 {
                        cmd!["BRPOPLPUSH", src, dst, timeout]
                    } else {
                        cmd!["BLMOVE", src, dst, self.pick(&["LEFT", "RIGHT"]), self.pick(&["LEFT", "RIGHT"]), timeout]
                    };
                    Blocked { conn, keys: vec![src], count: 1, dest: Some(dst), args: a }
                }
                _ => {
                    let keys = self.block_keys(&BLIST, prefer);
                    let mut a = cmd!["BLMPOP", timeout, keys.len().to_string()];
                    a.extend(keys.iter().map(|k| k.as_bytes().to_vec()));
                    a.push(self.pick(&["LEFT", "RIGHT"]).into());
                    let mut count = 1;
                    if self.chance(0.5) {
                        count = self.int(1, 3) as usize;
                        a.extend(cmd!["COUNT", count.to_string()]);
                    }
                    Blocked { conn, keys, count, dest: None, args: a }
                }
            }
        }
    }

    fn elems(&mut self, m: &mut Model, n: usize) -> Vec<Vec<u8>> {
        (0..n)
            .map(|_| {
                m.seq += 1;
                format!("e{}", m.seq).into_bytes()
            })
            .collect()
    }

    /// `score member` pairs with fresh member names.
    fn zmembers(&mut self, m: &mut Model, n: usize) -> Vec<Vec<u8>> {
        let mut out = Vec::new();
        for _ in 0..n {
            m.seq += 1;
            out.push(self.int(0, 9).to_string().into_bytes());
            out.push(format!("m{}", m.seq).into_bytes());
        }
        out
    }

    /// Emits a write on `conn` (target chosen among the keys clients wait on, mostly), applies
    /// it to the model and reads the replies of the clients it serves.
    fn serving_write(&mut self, sc: &mut Sc, m: &mut Model, conn: usize) {
        let waiting: Vec<&'static str> = m.blocked.iter().flat_map(|b| b.keys.iter().copied()).collect();
        let zset = if waiting.is_empty() { self.chance(0.4) } else { BZSET.contains(&self.pick(&waiting)) };
        let pool: &[&'static str] = if zset { &BZSET } else { &BLIST };
        let cands: Vec<&'static str> = waiting.iter().copied().filter(|k| pool.contains(k)).collect();
        let k = if !cands.is_empty() && self.chance(0.85) { self.pick(&cands) } else { self.pick(pool) };
        let mut ops = Vec::new();
        if zset {
            match self.weighted(&[5, 2, 1, 1, 1, 1]) {
                0 => {
                    let n = self.int(1, 3) as usize;
                    let mut a = cmd!["ZADD", k];
                    a.extend(self.zmembers(m, n));
                    sc.exact(conn, a);
                    ops.push(Op::Add(k, n));
                }
                1 => {
                    sc.exact(conn, cmd!["MULTI"]);
                    for _ in 0..self.int(2, 3) {
                        let k2 = if self.chance(0.5) { k } else { self.pick(pool) };
                        if self.chance(0.2) && m.len(k2) + ops_len(&ops, k2) > 0 {
                            sc.exact(conn, cmd!["ZPOPMIN", k2]);
                            ops.push(Op::Pop(k2, 1));
                        } else {
                            let n = self.int(1, 2) as usize;
                            let mut a = cmd!["ZADD", k2];
                            a.extend(self.zmembers(m, n));
                            sc.exact(conn, a);
                            ops.push(Op::Add(k2, n));
                        }
                    }
                    sc.exact(conn, cmd!["EXEC"]);
                }
                w @ (2..=4) => {
                    if m.len(ZSRC) == 0 {
                        let mut a = cmd!["ZADD", ZSRC];
                        a.extend(self.zmembers(m, 2));
                        sc.exact(conn, a);
                        m.apply(&[Op::Add(ZSRC, 2)]);
                    }
                    let n = m.len(ZSRC);
                    match w {
                        2 => {
                            sc.exact(conn, cmd!["ZUNIONSTORE", k, "1", ZSRC]);
                            ops.push(Op::Set(k, n));
                        }
                        3 => {
                            sc.exact(conn, cmd!["ZRANGESTORE", k, ZSRC, "0", "-1"]);
                            ops.push(Op::Set(k, n));
                        }
                        _ => {
                            sc.exact(conn, cmd!["RENAME", ZSRC, k]);
                            ops.push(Op::Set(k, n));
                            ops.push(Op::Set(ZSRC, 0));
                        }
                    }
                }
                _ => {
                    // The key becomes a string: Redis 7.0 leaves the clients blocked.
                    if m.len(k) == 0 {
                        sc.exact(conn, cmd!["SET", k, "str"]);
                        sc.exact(conn, cmd!["DEL", k]);
                    }
                }
            }
        } else {
            match self.weighted(&[5, 2, 2, 1, 1, 1]) {
                0 => {
                    let n = self.int(1, 3) as usize;
                    let mut a = cmd![if self.chance(0.5) { "RPUSH" } else { "LPUSH" }, k];
                    a.extend(self.elems(m, n));
                    sc.exact(conn, a);
                    ops.push(Op::Add(k, n));
                }
                1 => {
                    sc.exact(conn, cmd!["MULTI"]);
                    for _ in 0..self.int(2, 3) {
                        let k2 = if self.chance(0.5) { k } else { self.pick(pool) };
                        if self.chance(0.2) && m.len(k2) + ops_len(&ops, k2) > 0 {
                            sc.exact(conn, cmd!["LPOP", k2]);
                            ops.push(Op::Pop(k2, 1));
                        } else {
                            let n = self.int(1, 2) as usize;
                            let mut a = cmd![if self.chance(0.5) { "RPUSH" } else { "LPUSH" }, k2];
                            a.extend(self.elems(m, n));
                            sc.exact(conn, a);
                            ops.push(Op::Add(k2, n));
                        }
                    }
                    sc.exact(conn, cmd!["EXEC"]);
                }
                w @ (2..=4) => {
                    if m.len(LSRC) == 0 {
                        let mut a = cmd!["RPUSH", LSRC];
                        a.extend(self.elems(m, 3));
                        sc.exact(conn, a);
                        m.apply(&[Op::Add(LSRC, 3)]);
                    }
                    let n = m.len(LSRC);
                    match w {
                        2 => {
                            if self.chance(0.5) {
                                sc.exact(conn, cmd!["RPOPLPUSH", LSRC, k]);
                            } else {
                                sc.exact(
                                    conn,
                                    cmd![
                                        "LMOVE",
                                        LSRC,
                                        k,
                                        self.pick(&["LEFT", "RIGHT"]),
                                        self.pick(&["LEFT", "RIGHT"])
                                    ],
                                );
                            }
                            ops.push(Op::Pop(LSRC, 1));
                            ops.push(Op::Add(k, 1));
                        }
                        3 => {
                            sc.exact(conn, cmd!["RENAME", LSRC, k]);
                            ops.push(Op::Set(k, n));
                            ops.push(Op::Set(LSRC, 0));
                        }
                        _ => {
                            if m.len(k) == 0 {
                                sc.exact(conn, cmd!["COPY", LSRC, k]);
                                ops.push(Op::Set(k, n));
                            }
                        }
                    }
                }
                _ => {
                    if m.len(k) == 0 {
                        sc.exact(conn, cmd!["SET", k, "str"]);
                        sc.exact(conn, cmd!["DEL", k]);
                    }
                }
            }
        }
        for cl in m.apply(&ops) {
            sc.read(cl.conn, cl.args, 5000);
        }
    }

    fn final_state(&mut self, sc: &mut Sc, m: &Model, conn: usize) {
        for &k in &m.touched {
            if BZSET.contains(&k) || k == ZSRC {
                sc.exact(conn, cmd!["ZRANGE", k, "0", "-1", "WITHSCORES"]);
            } else {
                sc.exact(conn, cmd!["LRANGE", k, "0", "-1"]);
            }
        }
    }

    pub(super) fn blocking_scenario(&mut self) -> Vec<Cmd> {
        let mut sc = Sc::new(Family::Blocking);
        let mut m = Model::default();
        // Everybody in one database, the scenario's keys empty.
        let db = if self.chance(0.85) { "0" } else { "1" };
        for c in 0..CONNS {
            sc.exact(c, cmd!["SELECT", db]);
        }
        let mut del = cmd!["DEL"];
        del.extend(BLIST.iter().chain(BZSET.iter()).chain([LSRC, ZSRC].iter()).map(|k| k.as_bytes().to_vec()));
        sc.exact(self.rng.random_range(0..CONNS), del);
        let mut conns: Vec<usize> = (0..CONNS).collect();
        for i in (1..conns.len()).rev() {
            let j = self.rng.random_range(0..=i);
            conns.swap(i, j);
        }
        match self.weighted(&[7, 2, 2, 1]) {
            0 => {
                // Clients block; writes serve them.
                let nb = if self.chance(0.6) { 1 } else { 2 };
                let writer = conns[nb];
                for &c in &conns[..nb] {
                    let prefer: Vec<&'static str> = m.blocked.iter().flat_map(|b| b.keys.iter().copied()).collect();
                    let zset = if prefer.is_empty() {
                        self.chance(0.35)
                    } else if self.chance(0.7) {
                        BZSET.contains(&prefer[0])
                    } else {
                        self.chance(0.35)
                    };
                    let t = self.pick(&LONG_TIMEOUTS);
                    let cl = self.block_cmd(c, zset, t, &prefer);
                    sc.send(c, cl.args.clone());
                    for &k in &cl.keys {
                        m.touch(k);
                    }
                    m.blocked.push(cl);
                    sc.wait_blocked(m.blocked.len());
                }
                for _ in 0..self.int(1, 3) {
                    if m.blocked.is_empty() {
                        break;
                    }
                    self.serving_write(&mut sc, &mut m, writer);
                }
                // Serve whoever is left: one element to the first key of the first client.
                for _ in 0..8 {
                    let Some(first) = m.blocked.first() else { break };
                    let k = first.keys[0];
                    let ops = if BZSET.contains(&k) {
                        let mut a = cmd!["ZADD", k];
                        a.extend(self.zmembers(&mut m, 1));
                        sc.exact(writer, a);
                        [Op::Add(k, 1)]
                    } else {
                        let mut a = cmd!["RPUSH", k];
                        a.extend(self.elems(&mut m, 1));
                        sc.exact(writer, a);
                        [Op::Add(k, 1)]
                    };
                    for cl in m.apply(&ops) {
                        sc.read(cl.conn, cl.args, 5000);
                    }
                }
                self.final_state(&mut sc, &m, writer);
            }
            1 => {
                // A short timeout expires; maybe behind a client that is served afterwards.
                let (c_long, c_short, writer) = (conns[0], conns[1], conns[2]);
                let zset = self.chance(0.35);
                let long = self.chance(0.4).then(|| {
                    let t = self.pick(&LONG_TIMEOUTS);
                    self.block_cmd(c_long, zset, t, &[])
                });
                if let Some(cl) = &long {
                    sc.send(c_long, cl.args.clone());
                    sc.wait_blocked(1);
                }
                let prefer: Vec<&'static str> = long.iter().flat_map(|b| b.keys.iter().copied()).collect();
                let t = self.pick(&SHORT_TIMEOUTS);
                let short = self.block_cmd(c_short, zset, t, &prefer);
                sc.send(c_short, short.args.clone());
                if self.chance(0.5) {
                    // Writes elsewhere do not wake it.
                    let mut a = cmd!["RPUSH", LSRC];
                    a.extend(self.elems(&mut m, 1));
                    sc.exact(writer, a);
                    m.apply(&[Op::Add(LSRC, 1)]);
                }
                sc.read(c_short, short.args, 3000);
                if let Some(cl) = long {
                    for &k in &cl.keys {
                        m.touch(k);
                    }
                    m.blocked.push(cl);
                    self.serving_write(&mut sc, &mut m, writer);
                    for _ in 0..4 {
                        let Some(first) = m.blocked.first() else { break };
                        let k = first.keys[0];
                        let mut a = if BZSET.contains(&k) { cmd!["ZADD", k] } else { cmd!["RPUSH", k] };
                        if BZSET.contains(&k) {
                            a.extend(self.zmembers(&mut m, 1));
                        } else {
                            a.extend(self.elems(&mut m, 1));
                        }
                        sc.exact(writer, a);
                        for cl in m.apply(&[Op::Add(k, 1)]) {
                            sc.read(cl.conn, cl.args, 5000);
                        }
                    }
                }
                self.final_state(&mut sc, &m, writer);
            }
            2 => {
                // Answered at once: data present, wrong type, bad arguments.
                let c = conns[0];
                let zset = self.chance(0.4);
                let k = if zset { self.pick(&BZSET) } else { self.pick(&BLIST) };
                let mut strings: Vec<&str> = Vec::new();
                match self.int(0, 3) {
                    0 | 1 => {
                        if zset {
                            let mut a = cmd!["ZADD", k];
                            a.extend(self.zmembers(&mut m, 3));
                            sc.exact(c, a);
                        } else {
                            let mut a = cmd!["RPUSH", k];
                            a.extend(self.elems(&mut m, 3));
                            sc.exact(c, a);
                        }
                        m.apply(&[Op::Add(k, 3)]);
                    }
                    2 => {
                        sc.exact(c, cmd!["SET", k, "str"]);
                        strings.push(k);
                        m.touch(k);
                    }
                    _ => {}
                }
                let t = if self.chance(0.8) {
                    self.pick(&LONG_TIMEOUTS)
                } else {
                    self.pick(&["-1", "x", "", "-0.5", "abc"])
                };
                let valid_timeout = LONG_TIMEOUTS.contains(&t);
                let mut cl = self.block_cmd(c, zset, t, &[k]);
                let malformed = self.chance(0.1);
                if malformed {
                    cl.args = match self.int(0, 4) {
                        0 => cmd!["BLMPOP", "0", "0", k, "LEFT"],
                        1 => cmd!["BLMPOP", "0", "1", k, "MIDDLE"],
                        2 => cmd!["BZMPOP", "0", "1", k, "MIN", "COUNT", "0"],
                        3 => cmd!["BLMOVE", k, "{a}l1", "UP", "LEFT", "0"],
                        _ => cmd!["BZMPOP", "0", "x", k, "MAX"],
                    };
                }
                // Only what answers at once: a valid call on empty keys would block.
                let blocks =
                    valid_timeout && !malformed && cl.keys.iter().all(|x| m.len(x) == 0 && !strings.contains(x));
                if blocks {
                    sc.exact(c, cmd!["TYPE", k]);
                } else {
                    m.touch(k);
                    if let Some(d) = cl.dest {
                        m.touch(d);
                    }
                    sc.exact(c, cl.args);
                }
                self.final_state(&mut sc, &m, c);
            }
            _ => {
                // Inside MULTI a blocking command never blocks.
                let c = conns[0];
                if self.chance(0.5) {
                    let k = self.pick(&BLIST);
                    let mut a = cmd!["RPUSH", k];
                    a.extend(self.elems(&mut m, 2));
                    sc.exact(c, a);
                    m.apply(&[Op::Add(k, 2)]);
                }
                sc.exact(c, cmd!["MULTI"]);
                for _ in 0..self.int(1, 3) {
                    let zset = self.chance(0.3);
                    let t = self.pick(&LONG_TIMEOUTS);
                    let cl = self.block_cmd(c, zset, t, &[]);
                    for &k in &cl.keys {
                        m.touch(k);
                    }
                    if let Some(d) = cl.dest {
                        m.touch(d);
                    }
                    sc.exact(c, cl.args);
                    if self.chance(0.3) {
                        let k = self.pick(&BLIST);
                        let mut a = cmd!["LPUSH", k];
                        a.extend(self.elems(&mut m, 1));
                        sc.exact(c, a);
                        m.touch(k);
                    }
                }
                sc.exact(c, cmd!["EXEC"]);
                self.final_state(&mut sc, &m, conns[1]);
            }
        }
        sc.done()
    }
}

/// Elements added to `k` by the ops so far (for a pop inside MULTI only on a non-empty key).
fn ops_len(ops: &[Op], k: &str) -> usize {
    ops.iter()
        .map(|o| match *o {
            Op::Add(x, n) if x == k => n,
            _ => 0,
        })
        .sum()
}
