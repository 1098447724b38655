//! The seeded random command generator of the differential test.
//!
//! Commands come from families (strings, keys/expiry, lists, ...) over a small key space of 50
//! keys so that they interact: each family has a home pool of 8 keys it mostly uses, and picks
//! any key of the space 20% of the time (which is where WRONGTYPE replies come from). Keys share
//! hash tags (`{a}`, `{b}`, `{c}`) the way Codis users group keys.
//!
//! Values are chosen so that everything Redis answers deterministically can be compared byte for
//! byte: TTLs are long (at least 1000 s) or already expired, floats for INCRBYFLOAT are dyadic
//! (exact in both `double` and `long double`), list/set/zset members contain no NUL byte (SORT
//! ALPHA compares with `strcoll`, which stops at NUL).
//!
//! The newer families live in `gen/`: `bitmap` and `hll` (bits.rs), `geo`, `eval`, and the
//! scenario families `tx`, `pubsub` and `blocking`, whose steps are whole scenarios over the
//! three connections (see [`Io`]) played without other commands in between.

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use compat::resp::Frame;

use super::check::{Check, RandomKind};

/// Builds an argument vector from anything byte-like.
macro_rules! cmd {
    ($($x:expr),* $(,)?) => { vec![$( AsRef::<[u8]>::as_ref(&$x).to_vec() ),*] };
}

mod bits;
mod blocking;
mod eval;
mod geo;
mod pubsub;
mod tx;

pub use pubsub::glob_match;

/// A command family: a group of commands generated together, runnable alone.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Family {
    String,
    Keys,
    List,
    Hash,
    Set,
    ZSet,
    Sort,
    Scan,
    Connection,
    Server,
    Errors,
    Bitmap,
    Hll,
    Geo,
    Tx,
    PubSub,
    Blocking,
    Eval,
}

pub const ALL_FAMILIES: &[Family] = &[
    Family::String,
    Family::Keys,
    Family::List,
    Family::Hash,
    Family::Set,
    Family::ZSet,
    Family::Sort,
    Family::Scan,
    Family::Connection,
    Family::Server,
    Family::Errors,
    Family::Bitmap,
    Family::Hll,
    Family::Geo,
    Family::Tx,
    Family::PubSub,
    Family::Blocking,
    Family::Eval,
];

impl Family {
    pub fn name(self) -> &'static str {
        match self {
            Family::String => "string",
            Family::Keys => "keys",
            Family::List => "list",
            Family::Hash => "hash",
            Family::Set => "set",
            Family::ZSet => "zset",
            Family::Sort => "sort",
            Family::Scan => "scan",
            Family::Connection => "connection",
            Family::Server => "server",
            Family::Errors => "errors",
            Family::Bitmap => "bitmap",
            Family::Hll => "hll",
            Family::Geo => "geo",
            Family::Tx => "tx",
            Family::PubSub => "pubsub",
            Family::Blocking => "blocking",
            Family::Eval => "eval",
        }
    }

    /// How often the family is picked in a mixed run, relative to the others. Families whose
    /// steps are whole scenarios of several commands are picked less often.
    pub fn weight(self) -> u32 {
        match self {
            Family::Tx => 3,
            Family::PubSub | Family::Blocking => 2,
            _ => 10,
        }
    }

    pub fn parse(s: &str) -> Option<Family> {
        let s = s.trim().to_ascii_lowercase();
        let s = match s.as_str() {
            "strings" => "string",
            "lists" => "list",
            "hashes" => "hash",
            "sets" => "set",
            "zsets" | "sortedset" | "sorted-set" => "zset",
            "expiry" | "expire" => "keys",
            "config" | "info" => "server",
            "error" => "errors",
            "bit" | "bits" | "bitmaps" | "bitfield" => "bitmap",
            "hyperloglog" | "pf" => "hll",
            "multi" | "transaction" | "transactions" | "watch" => "tx",
            "pub-sub" | "pub_sub" => "pubsub",
            "block" | "blocked" => "blocking",
            "lua" | "script" | "scripting" => "eval",
            other => other,
        };
        ALL_FAMILIES.iter().copied().find(|f| f.name() == s)
    }

    /// Every command name this family's generator can emit (its own commands; set-up commands
    /// borrowed from other families are listed there). Used to check that a server knows the
    /// family before its differences are allowed to fail the test.
    pub fn commands(self) -> &'static [&'static str] {
        match self {
            Family::String => &[
                "SET",
                "GET",
                "MGET",
                "MSET",
                "MSETNX",
                "SETNX",
                "SETEX",
                "PSETEX",
                "GETSET",
                "GETDEL",
                "GETEX",
                "APPEND",
                "STRLEN",
                "INCR",
                "DECR",
                "INCRBY",
                "DECRBY",
                "INCRBYFLOAT",
                "GETRANGE",
                "SUBSTR",
                "SETRANGE",
                "SETBIT",
                "GETBIT",
                "BITCOUNT",
                "BITPOS",
                "BITOP",
                "LCS",
                "OBJECT",
                "TYPE",
            ],
            Family::Keys => &[
                "DEL",
                "UNLINK",
                "EXISTS",
                "TYPE",
                "RENAME",
                "RENAMENX",
                "COPY",
                "MOVE",
                "TOUCH",
                "EXPIRE",
                "PEXPIRE",
                "EXPIREAT",
                "PEXPIREAT",
                "PERSIST",
                "TTL",
                "PTTL",
                "EXPIRETIME",
                "PEXPIRETIME",
                "KEYS",
                "DBSIZE",
                "RANDOMKEY",
                "OBJECT",
            ],
            Family::List => &[
                "LPUSH",
                "RPUSH",
                "LPUSHX",
                "RPUSHX",
                "LPOP",
                "RPOP",
                "LLEN",
                "LRANGE",
                "LINDEX",
                "LSET",
                "LINSERT",
                "LREM",
                "LTRIM",
                "RPOPLPUSH",
                "LMOVE",
                "LPOS",
                "LMPOP",
                "BLPOP",
                "BRPOP",
                "BLMOVE",
                "BRPOPLPUSH",
                "BLMPOP",
                "OBJECT",
                "TYPE",
            ],
            Family::Hash => &[
                "HSET",
                "HSETNX",
                "HMSET",
                "HGET",
                "HMGET",
                "HDEL",
                "HLEN",
                "HSTRLEN",
                "HEXISTS",
                "HINCRBY",
                "HINCRBYFLOAT",
                "HKEYS",
                "HVALS",
                "HGETALL",
                "HRANDFIELD",
                "OBJECT",
                "TYPE",
            ],
            Family::Set => &[
                "SADD",
                "SREM",
                "SCARD",
                "SISMEMBER",
                "SMISMEMBER",
                "SMEMBERS",
                "SPOP",
                "SRANDMEMBER",
                "SMOVE",
                "SINTER",
                "SUNION",
                "SDIFF",
                "SINTERSTORE",
                "SUNIONSTORE",
                "SDIFFSTORE",
                "SINTERCARD",
                "OBJECT",
                "DEL",
            ],
            Family::ZSet => &[
                "ZADD",
                "ZINCRBY",
                "ZREM",
                "ZCARD",
                "ZSCORE",
                "ZMSCORE",
                "ZRANK",
                "ZREVRANK",
                "ZCOUNT",
                "ZLEXCOUNT",
                "ZRANGE",
                "ZRANGEBYSCORE",
                "ZREVRANGEBYSCORE",
                "ZRANGEBYLEX",
                "ZREVRANGEBYLEX",
                "ZREVRANGE",
                "ZREMRANGEBYRANK",
                "ZREMRANGEBYSCORE",
                "ZREMRANGEBYLEX",
                "ZPOPMIN",
                "ZPOPMAX",
                "BZPOPMIN",
                "BZPOPMAX",
                "ZMPOP",
                "BZMPOP",
                "ZUNIONSTORE",
                "ZINTERSTORE",
                "ZDIFFSTORE",
                "ZUNION",
                "ZINTER",
                "ZDIFF",
                "ZINTERCARD",
                "ZRANGESTORE",
                "ZRANDMEMBER",
                "OBJECT",
            ],
            Family::Sort => &["SORT", "SORT_RO"],
            Family::Scan => &["SCAN", "SSCAN", "HSCAN", "ZSCAN"],
            Family::Connection => &["PING", "ECHO", "SELECT", "DBSIZE", "HELLO", "FLUSHDB", "SWAPDB"],
            Family::Server => &["CONFIG", "DBSIZE", "FLUSHALL", "OBJECT"],
            Family::Errors => &["OBJECT", "CONFIG"],
            Family::Bitmap => &[
                "SETBIT",
                "GETBIT",
                "BITCOUNT",
                "BITPOS",
                "BITOP",
                "BITFIELD",
                "BITFIELD_RO",
                "GET",
                "SET",
                "APPEND",
                "SETRANGE",
                "STRLEN",
                "DEL",
            ],
            Family::Hll => &[
                "PFADD", "PFCOUNT", "PFMERGE", "PFDEBUG", "GET", "SET", "APPEND", "SETRANGE", "CONFIG", "DEL", "TYPE",
                "STRLEN", "OBJECT",
            ],
            Family::Geo => &[
                "GEOADD",
                "GEODIST",
                "GEOHASH",
                "GEOPOS",
                "GEORADIUS",
                "GEORADIUS_RO",
                "GEORADIUSBYMEMBER",
                "GEORADIUSBYMEMBER_RO",
                "GEOSEARCH",
                "GEOSEARCHSTORE",
                "ZRANGE",
                "ZCARD",
                "ZREM",
                "ZSCORE",
                "DEL",
                "TYPE",
            ],
            Family::Tx => &[
                "MULTI", "EXEC", "DISCARD", "WATCH", "UNWATCH", "SELECT", "FLUSHDB", "FLUSHALL", "SWAPDB", "SET",
                "GET", "DEL", "EXISTS", "PEXPIRE",
            ],
            Family::PubSub => &[
                "SUBSCRIBE",
                "UNSUBSCRIBE",
                "PSUBSCRIBE",
                "PUNSUBSCRIBE",
                "PUBLISH",
                "PUBSUB",
                "PING",
                "HELLO",
                "ECHO",
                "GET",
            ],
            Family::Blocking => &[
                "BLPOP",
                "BRPOP",
                "BRPOPLPUSH",
                "BLMOVE",
                "BLMPOP",
                "BZPOPMIN",
                "BZPOPMAX",
                "BZMPOP",
                "LPUSH",
                "RPUSH",
                "LMOVE",
                "RPOPLPUSH",
                "RENAME",
                "COPY",
                "ZADD",
                "ZUNIONSTORE",
                "ZRANGESTORE",
                "DEL",
                "SET",
                "LRANGE",
                "ZRANGE",
                "MULTI",
                "EXEC",
                "SELECT",
                "LPOP",
                "ZPOPMIN",
                "TYPE",
            ],
            Family::Eval => &["EVAL", "EVALSHA", "SCRIPT", "SET", "DEL"],
        }
    }

    /// Families whose commands this family also emits (as set-up).
    pub fn uses(self) -> &'static [Family] {
        match self {
            Family::Keys => &[Family::String, Family::List, Family::Hash, Family::Set, Family::ZSet],
            Family::Set => &[],
            Family::Sort => &[Family::String, Family::List, Family::Hash, Family::Set, Family::ZSet],
            Family::Scan => &[Family::String, Family::List, Family::Hash, Family::Set, Family::ZSet],
            Family::Connection => &[Family::String, Family::List, Family::Hash],
            Family::Server => &[Family::Hash, Family::Set, Family::ZSet],
            Family::Errors => &[Family::String, Family::List, Family::Hash, Family::Set, Family::ZSet],
            Family::Bitmap | Family::Hll => &[Family::String],
            Family::Tx => &[Family::String, Family::Keys, Family::List, Family::Hash, Family::Set, Family::ZSet],
            Family::Eval => &[Family::String, Family::List, Family::Hash, Family::Set, Family::ZSet],
            _ => &[],
        }
    }
}

/// One generated step: usually a command sent and its reply compared; the scenario families
/// (tx, pubsub, blocking) also send without reading, read later, and wait.
#[derive(Debug, Clone)]
pub struct Cmd {
    pub family: Family,
    /// Which connection pair runs it.
    pub conn: usize,
    /// The command (for [`Io::Read`], the command whose reply is read; empty for waits).
    pub args: Vec<Vec<u8>>,
    pub check: Check,
    pub io: Io,
}

/// What the engine does with a [`Cmd`] on both servers.
#[derive(Debug, Clone, PartialEq)]
pub enum Io {
    /// Send the command and read one reply on the same connection.
    Call,
    /// Send the command without reading: its reply comes later (a blocked client) and is read
    /// by an [`Io::Read`].
    Send,
    /// Send nothing; read one reply on the connection, waiting at most this many ms.
    Read { wait_ms: u64 },
    /// Send the command, then read the given number of frames from each connection, in this
    /// order (pub/sub: the sender's replies and the messages pushed to subscribers).
    Frames(Vec<FrameRead>),
    /// Send nothing; wait until the server counts this many blocked clients (INFO clients).
    WaitBlocked(usize),
    /// Sleep this many ms (once, not per server).
    Sleep(u64),
}

/// Frames expected on one connection after a command of [`Io::Frames`].
#[derive(Debug, Clone, PartialEq)]
pub struct FrameRead {
    pub conn: usize,
    pub n: usize,
    /// The frames are the confirmations of an UNSUBSCRIBE/PUNSUBSCRIBE without arguments,
    /// which Redis sends in the order of its channel dict: the channel names are compared as
    /// a set, the rest in order.
    pub unsub_all: bool,
}

impl Cmd {
    /// Whether the engine sends the command (counted as a command of the run).
    pub fn sends(&self) -> bool {
        matches!(self.io, Io::Call | Io::Send | Io::Frames(_))
    }

    /// The step for reports.
    pub fn describe(&self) -> String {
        let a = crate::render::args(&self.args);
        match &self.io {
            Io::Call => a,
            Io::Send => format!("{a}   (sent; reply read later)"),
            Io::Read { wait_ms } => format!("(read the reply of) {a}   (wait <= {wait_ms} ms)"),
            Io::Frames(r) => {
                let reads: Vec<String> =
                    r.iter().map(|f| format!("c{}:{}{}", f.conn, f.n, if f.unsub_all { "*" } else { "" })).collect();
                format!("{a}   (then frames {})", reads.join(" "))
            }
            Io::WaitBlocked(n) => format!("(wait until blocked_clients = {n})"),
            Io::Sleep(ms) => format!("(sleep {ms} ms)"),
        }
    }
}

/// A scenario under construction: steps on several connections, played in order.
struct Sc {
    family: Family,
    cmds: Vec<Cmd>,
}

impl Sc {
    fn new(family: Family) -> Sc {
        Sc { family, cmds: Vec::new() }
    }

    fn push(&mut self, conn: usize, args: Vec<Vec<u8>>, check: Check, io: Io) {
        self.cmds.push(Cmd { family: self.family, conn, args, check, io });
    }

    fn call(&mut self, conn: usize, args: Vec<Vec<u8>>, check: Check) {
        self.push(conn, args, check, Io::Call);
    }

    fn exact(&mut self, conn: usize, args: Vec<Vec<u8>>) {
        self.push(conn, args, Check::Exact, Io::Call);
    }

    /// A command generated by another family (keeps that family's name in reports).
    fn foreign(&mut self, family: Family, conn: usize, args: Vec<Vec<u8>>, check: Check) {
        self.cmds.push(Cmd { family, conn, args, check, io: Io::Call });
    }

    fn send(&mut self, conn: usize, args: Vec<Vec<u8>>) {
        self.push(conn, args, Check::Exact, Io::Send);
    }

    fn read(&mut self, conn: usize, args: Vec<Vec<u8>>, wait_ms: u64) {
        self.push(conn, args, Check::Exact, Io::Read { wait_ms });
    }

    fn frames(&mut self, conn: usize, args: Vec<Vec<u8>>, reads: Vec<FrameRead>) {
        self.push(conn, args, Check::Exact, Io::Frames(reads));
    }

    fn wait_blocked(&mut self, n: usize) {
        self.push(0, Vec::new(), Check::Exact, Io::WaitBlocked(n));
    }

    fn sleep(&mut self, ms: u64) {
        self.push(0, Vec::new(), Check::Exact, Io::Sleep(ms));
    }

    fn done(self) -> Vec<Cmd> {
        self.cmds
    }
}

/// Read-only access to the reference server, for commands whose arguments depend on the state
/// (INCRBYFLOAT only on values exact in `double`, SPOP's set before the pop).
pub trait Peek {
    fn peek(&mut self, conn: usize, args: &[Vec<u8>]) -> Option<Frame>;
}

pub const STRING_KEYS: [&str; 8] = ["s0", "s1", "s2", "s3", "s4", "s5", "s6", "s7"];
pub const LIST_KEYS: [&str; 8] = ["{a}l0", "{a}l1", "{a}l2", "{a}l3", "{a}l4", "{a}l5", "{a}l6", "{a}l7"];
pub const HASH_KEYS: [&str; 8] = ["{b}h0", "{b}h1", "{b}h2", "{b}h3", "{b}h4", "{b}h5", "{b}h6", "{b}h7"];
pub const SET_KEYS: [&str; 8] = ["{a}t0", "{a}t1", "{a}t2", "{a}t3", "{a}t4", "{a}t5", "{a}t6", "{a}t7"];
pub const ZSET_KEYS: [&str; 8] = ["{b}z0", "{b}z1", "{b}z2", "{b}z3", "{b}z4", "{b}z5", "{b}z6", "{b}z7"];
pub const OTHER_KEYS: [&str; 10] = ["w0", "w1", "w2", "w3", "w4", "{c}0", "{c}1", "{c}2", "{c}3", "{c}4"];

/// Zsets whose members are added with score 0 (lex ranges are specified only then).
const LEX_ZSET_KEYS: [&[u8]; 2] = [b"{b}z6", b"{b}z7"];

/// Number of connection pairs commands are spread over.
pub const CONNS: usize = 3;

#[derive(Clone, Copy)]
enum Pool {
    Str,
    List,
    Hash,
    Set,
    ZSet,
    Other,
}

pub struct Gen {
    rng: StdRng,
    families: Vec<Family>,
    /// The rest of a scenario being played (tx, pubsub, blocking): drained before another
    /// family gets a turn, so scenarios never interleave with other commands.
    pending: std::collections::VecDeque<Cmd>,
    /// Scripts of `conformance/fixtures/eval_corpus.txt`, when the file exists.
    eval_corpus: Vec<String>,
    /// Unix seconds when the run started; absolute expiry times are `now + 1000k + 500`, relative
    /// ones `1000k`, so GT/LT comparisons between them never depend on timing.
    now: i64,
}

impl Gen {
    pub fn new(seed: u64, families: &[Family], now_secs: i64) -> Gen {
        assert!(!families.is_empty());
        Gen {
            rng: StdRng::seed_from_u64(seed),
            families: families.to_vec(),
            pending: Default::default(),
            eval_corpus: eval::load_corpus(),
            now: now_secs,
        }
    }

    /// True while a scenario has steps left.
    pub fn in_scenario(&self) -> bool {
        !self.pending.is_empty()
    }

    /// Drops the rest of the current scenario (the servers were restarted).
    pub fn abort_scenario(&mut self) {
        self.pending.clear();
    }

    /// Which connection pairs start in RESP3 (pair 1 always, pair 2 half of the time).
    pub fn resp3_conns(&mut self) -> Vec<bool> {
        (0..CONNS).map(|i| i == 1 || (i > 1 && self.rng.random_bool(0.5))).collect()
    }

    pub fn next(&mut self, peek: &mut dyn Peek) -> Cmd {
        if let Some(c) = self.pending.pop_front() {
            return c;
        }
        let weights: Vec<u32> = self.families.iter().map(|f| f.weight()).collect();
        let i = self.weighted(&weights);
        let family = self.families[i];
        let scenario = match family {
            Family::Tx => Some(self.tx_scenario(peek)),
            Family::PubSub => Some(self.pubsub_scenario()),
            Family::Blocking => Some(self.blocking_scenario()),
            Family::Eval if self.chance(0.1) => Some(self.eval_scenario()),
            _ => None,
        };
        if let Some(s) = scenario {
            self.pending.extend(s);
            if let Some(c) = self.pending.pop_front() {
                return c;
            }
        }
        let conn = self.rng.random_range(0..CONNS);
        let (args, check) = self.family(family, conn, peek);
        Cmd { family, conn, args, check, io: Io::Call }
    }

    fn family(&mut self, f: Family, conn: usize, peek: &mut dyn Peek) -> (Vec<Vec<u8>>, Check) {
        match f {
            Family::String => self.string(conn, peek),
            Family::Keys => self.keys(conn, peek),
            Family::List => self.list(),
            Family::Hash => self.hash(conn, peek),
            Family::Set => self.set(conn, peek),
            Family::ZSet => self.zset(conn, peek),
            Family::Sort => self.sort(conn, peek),
            Family::Scan => self.scan(conn, peek),
            Family::Connection => self.connection(conn, peek),
            Family::Server => self.server(conn, peek),
            Family::Errors => self.errors(),
            Family::Bitmap => self.bitmap(),
            Family::Hll => self.hll(),
            Family::Geo => self.geo(),
            Family::Eval => self.eval(conn, peek),
            // Scenario families have no single commands: a command of a data family instead
            // (only reached through `setup`, which never picks them).
            Family::Tx | Family::PubSub | Family::Blocking => self.string(conn, peek),
        }
    }

    /// A command of a data family that creates or changes data (for families that need some).
    fn setup(&mut self, among: &[Family], conn: usize, peek: &mut dyn Peek) -> (Vec<Vec<u8>>, Check) {
        let f = among[self.rng.random_range(0..among.len())];
        self.family(f, conn, peek)
    }

    // ---- random helpers ----

    fn chance(&mut self, p: f64) -> bool {
        self.rng.random_bool(p)
    }

    fn int(&mut self, lo: i64, hi: i64) -> i64 {
        self.rng.random_range(lo..=hi)
    }

    fn pick_vec(&mut self, xs: &[Vec<u8>]) -> Vec<u8> {
        xs[self.rng.random_range(0..xs.len())].clone()
    }

    fn pick<T: Copy>(&mut self, xs: &[T]) -> T {
        xs[self.rng.random_range(0..xs.len())]
    }

    /// Index into `weights`, chosen with those weights.
    fn weighted(&mut self, weights: &[u32]) -> usize {
        let total: u32 = weights.iter().sum();
        let mut x = self.rng.random_range(0..total);
        for (i, &w) in weights.iter().enumerate() {
            if x < w {
                return i;
            }
            x -= w;
        }
        weights.len() - 1
    }

    fn key_in(&mut self, pool: Pool) -> Vec<u8> {
        if self.chance(0.12) {
            return self.any_key();
        }
        let k = match pool {
            Pool::Str => self.pick(&STRING_KEYS),
            Pool::List => self.pick(&LIST_KEYS),
            Pool::Hash => self.pick(&HASH_KEYS),
            Pool::Set => self.pick(&SET_KEYS),
            Pool::ZSet => self.pick(&ZSET_KEYS),
            Pool::Other => self.pick(&OTHER_KEYS),
        };
        k.as_bytes().to_vec()
    }

    fn any_key(&mut self) -> Vec<u8> {
        let pools: [&[&str]; 6] = [&STRING_KEYS, &LIST_KEYS, &HASH_KEYS, &SET_KEYS, &ZSET_KEYS, &OTHER_KEYS];
        let p = pools[self.rng.random_range(0..pools.len())];
        self.pick(p).as_bytes().to_vec()
    }

    fn keys_in(&mut self, pool: Pool, lo: i64, hi: i64) -> Vec<Vec<u8>> {
        let n = self.int(lo, hi);
        (0..n).map(|_| self.key_in(pool)).collect()
    }

    /// A string value: numbers (canonical and not), words, empty, long, binary.
    fn value(&mut self) -> Vec<u8> {
        match self.int(0, 99) {
            0..=29 => self.int(-5, 20).to_string().into_bytes(),
            30..=44 => self.pick(&["a", "b", "c", "foo", "bar", "hello world"]).into(),
            45..=54 => self.pick(&DYADIC).into(),
            55..=59 => Vec::new(),
            60..=66 => vec![b'v'; self.pick(&[44usize, 45, 63, 64, 65, 100])],
            67..=71 => self
                .pick(&["9223372036854775807", "-9223372036854775808", "4611686018427387904", "1000000", "-1000000"])
                .into(),
            72..=76 => b"bin\x00\xff\r\n\tz".to_vec(),
            77..=81 => self.pick(&["007", "+1", " 1", "1 ", "-0", "1.0", "0"]).into(),
            _ => self.int(0, 9).to_string().into_bytes(),
        }
    }

    /// A member of a list, set or zset: mostly small integers (intset) and letters; no NUL.
    fn member(&mut self) -> Vec<u8> {
        match self.int(0, 99) {
            0..=49 => self.int(0, 9).to_string().into_bytes(),
            50..=69 => self.pick(&["a", "b", "c", "d", "e", "f"]).into(),
            70..=79 => self.int(-3, 120).to_string().into_bytes(),
            80..=84 => Vec::new(),
            85..=89 => vec![b'm'; self.pick(&[63usize, 64, 65, 70])],
            90..=94 => self.pick(&["1.5", "-2.25", "007"]).into(),
            _ => b"bin\xff\r\n\x01".to_vec(),
        }
    }

    fn members(&mut self, lo: i64, hi: i64) -> Vec<Vec<u8>> {
        let n = self.int(lo, hi);
        (0..n).map(|_| self.member()).collect()
    }

    fn field(&mut self) -> Vec<u8> {
        if self.chance(0.75) {
            format!("f{}", self.int(0, 5)).into_bytes()
        } else {
            self.member()
        }
    }

    /// An integer argument: mostly small, sometimes huge, sometimes not an integer.
    fn int_arg(&mut self) -> Vec<u8> {
        match self.int(0, 19) {
            0..=13 => self.int(-10, 10).to_string().into_bytes(),
            14 => self.int(-1000, 1000).to_string().into_bytes(),
            15 => self.pick(&["9223372036854775807", "-9223372036854775808", "4611686018427387904"]).into(),
            16 => self.pick(&["9223372036854775808", "abc", "1.5", "", " 1", "0x10"]).into(),
            _ => self.int(0, 3).to_string().into_bytes(),
        }
    }

    /// A list index: around the ends, sometimes far out.
    fn index(&mut self) -> Vec<u8> {
        match self.int(0, 39) {
            0..=29 => self.int(-6, 6).to_string().into_bytes(),
            30..=33 => self.pick(&["-100", "100", "0", "-1"]).into(),
            34..=36 => self.pick(&["9223372036854775807", "-9223372036854775808"]).into(),
            _ => self.pick(&["x", "1.5", ""]).into(),
        }
    }

    fn float_incr(&mut self) -> Vec<u8> {
        match self.int(0, 19) {
            0..=16 => self.pick(&DYADIC_INCR).into(),
            17 => self.pick(&["abc", "nan", ""]).into(),
            18 => self.pick(&["inf", "-inf"]).into(),
            _ => self.int(-10, 10).to_string().into_bytes(),
        }
    }

    fn rel_secs(&mut self) -> i64 {
        1000 * self.int(1, 100)
    }

    fn abs_secs(&mut self) -> i64 {
        self.now + 1000 * self.int(1, 100) + 500
    }

    /// An expiry option of SET, with a few invalid ones.
    fn set_expiry(&mut self) -> Vec<Vec<u8>> {
        match self.int(0, 19) {
            0..=3 => cmd!["EX", self.rel_secs().to_string()],
            4..=6 => cmd!["PX", (self.rel_secs() * 1000).to_string()],
            7..=8 => cmd!["EXAT", self.abs_secs().to_string()],
            9..=10 => cmd!["PXAT", (self.abs_secs() * 1000).to_string()],
            11..=13 => cmd!["KEEPTTL"],
            // (A past EXAT leaves a logically expired key that DBSIZE counts until the active
            // expiry cycle removes it at a random moment: not generated.)
            14 => cmd!["EXAT", "0"],
            15 => cmd!["EX", self.pick(&["0", "-5", "abc", "9223372036854775807"])],
            16 => cmd!["PX", self.pick(&["0", "1.5"])],
            17 => cmd!["EX"],
            18 => cmd!["ex", self.rel_secs().to_string()],
            _ => cmd!["PXAT", "-1"],
        }
    }

    fn object_encoding(&mut self, pool: Pool) -> (Vec<Vec<u8>>, Check) {
        (cmd!["OBJECT", "ENCODING", self.key_in(pool)], Check::Exact)
    }

    // ---- families ----

    fn string(&mut self, conn: usize, peek: &mut dyn Peek) -> (Vec<Vec<u8>>, Check) {
        let k = self.key_in(Pool::Str);
        let w = [15, 10, 4, 4, 2, 2, 2, 2, 2, 2, 3, 4, 3, 3, 2, 3, 2, 4, 3, 1, 3, 3, 2, 2, 2, 2, 1, 3, 1];
        let args = match self.weighted(&w) {
            0 => {
                let mut a = cmd!["SET", k, self.value()];
                let mut opts: Vec<Vec<Vec<u8>>> = Vec::new();
                if self.chance(0.4) {
                    opts.push(self.set_expiry());
                }
                if self.chance(0.3) {
                    opts.push(cmd![self.pick(&["NX", "XX", "nx"])]);
                }
                if self.chance(0.2) {
                    opts.push(cmd!["GET"]);
                }
                if self.chance(0.05) {
                    opts.push(cmd![self.pick(&["XX", "KEEPTTL", "FOO", "EX"])]);
                }
                // Options may come in any order.
                while !opts.is_empty() {
                    let i = self.rng.random_range(0..opts.len());
                    a.extend(opts.swap_remove(i));
                }
                a
            }
            1 => cmd!["GET", k],
            2 => {
                let mut a = cmd!["MGET"];
                a.extend(self.keys_in(Pool::Str, 1, 4));
                a
            }
            3 | 4 => {
                let mut a = cmd![if self.chance(0.7) { "MSET" } else { "MSETNX" }];
                for _ in 0..self.int(1, 3) {
                    a.push(self.key_in(Pool::Str));
                    a.push(self.value());
                }
                if self.chance(0.05) {
                    a.pop();
                }
                a
            }
            5 => cmd!["SETNX", k, self.value()],
            6 => cmd![
                "SETEX",
                k,
                if self.chance(0.85) { self.rel_secs().to_string() } else { self.pick(&["0", "-1", "abc"]).into() },
                self.value()
            ],
            7 => cmd![
                "PSETEX",
                k,
                if self.chance(0.85) { (self.rel_secs() * 1000).to_string() } else { self.pick(&["0", "x"]).into() },
                self.value()
            ],
            8 => cmd!["GETSET", k, self.value()],
            9 => cmd!["GETDEL", k],
            10 => {
                let mut a = cmd!["GETEX", k];
                match self.int(0, 6) {
                    0 => a.extend(cmd!["EX", self.rel_secs().to_string()]),
                    1 => a.extend(cmd!["PX", (self.rel_secs() * 1000).to_string()]),
                    2 => a.extend(cmd!["EXAT", self.abs_secs().to_string()]),
                    3 => a.extend(cmd!["PERSIST"]),
                    4 => a.extend(cmd![self.pick(&["EX", "PERSIST"]), self.pick(&["0", "10", "x"])]),
                    _ => {}
                }
                a
            }
            11 => cmd!["APPEND", k, self.value()],
            12 => cmd!["STRLEN", k],
            13 => cmd!["INCR", k],
            14 => cmd!["DECR", k],
            15 => cmd!["INCRBY", k, self.int_arg()],
            16 => cmd!["DECRBY", k, self.int_arg()],
            17 => {
                // Only on values that double and long double print alike; otherwise set one.
                match peek.peek(conn, &[b"GET".to_vec(), k.clone()]) {
                    Some(Frame::Bulk(v)) if !float_safe(&v) => cmd!["SET", k, self.pick(&DYADIC)],
                    _ => cmd!["INCRBYFLOAT", k, self.float_incr()],
                }
            }
            18 => cmd!["GETRANGE", k, self.index(), self.index()],
            19 => cmd!["SUBSTR", k, self.index(), self.index()],
            20 => {
                let off = match self.int(0, 19) {
                    0 => "-1".to_string(),
                    1 => "536870912".to_string(),
                    2 => "x".to_string(),
                    _ => self.int(0, 60).to_string(),
                };
                cmd!["SETRANGE", k, off, self.value()]
            }
            21 => {
                let off = if self.chance(0.9) {
                    self.int(0, 100).to_string()
                } else {
                    self.pick(&["-1", "x", "4294967296"]).to_string()
                };
                let bit = if self.chance(0.9) {
                    self.int(0, 1).to_string()
                } else {
                    self.pick(&["2", "-1", "x"]).to_string()
                };
                cmd!["SETBIT", k, off, bit]
            }
            22 => cmd!["GETBIT", k, if self.chance(0.9) { self.int(0, 120).to_string() } else { "-1".into() }],
            23 => {
                let mut a = cmd!["BITCOUNT", k];
                if self.chance(0.6) {
                    a.push(self.index());
                    a.push(self.index());
                    if self.chance(0.4) {
                        a.push(self.pick(&["BYTE", "BIT", "bit", "WORD"]).into());
                    }
                } else if self.chance(0.1) {
                    a.push(b"0".to_vec());
                }
                a
            }
            24 => {
                let mut a = cmd!["BITPOS", k, if self.chance(0.95) { self.pick(&["0", "1"]) } else { "2" }];
                if self.chance(0.6) {
                    a.push(self.index());
                    if self.chance(0.6) {
                        a.push(self.index());
                        if self.chance(0.4) {
                            a.push(self.pick(&["BYTE", "BIT"]).into());
                        }
                    }
                }
                a
            }
            25 => {
                let op = self.pick(&["AND", "OR", "XOR", "NOT", "and", "DIFF"]);
                let mut a = cmd!["BITOP", op, self.key_in(Pool::Str)];
                let n = if op == "NOT" && self.chance(0.8) { 1 } else { self.int(1, 3) };
                for _ in 0..n {
                    a.push(self.key_in(Pool::Str));
                }
                a
            }
            26 => {
                let mut a = cmd!["LCS", k, self.key_in(Pool::Str)];
                match self.int(0, 3) {
                    0 => a.push(b"LEN".to_vec()),
                    1 => a.extend(cmd!["IDX"]),
                    2 => a.extend(cmd!["IDX", "MINMATCHLEN", self.int(0, 2).to_string(), "WITHMATCHLEN"]),
                    _ => {}
                }
                a
            }
            27 => return self.object_encoding(Pool::Str),
            _ => cmd!["TYPE", k],
        };
        (args, Check::Exact)
    }

    fn expire_opts(&mut self, a: &mut Vec<Vec<u8>>) {
        if self.chance(0.3) {
            a.push(self.pick(&["NX", "XX", "GT", "LT", "gt"]).into());
            if self.chance(0.1) {
                a.push(self.pick(&["XX", "GT", "LT", "FOO"]).into());
            }
        }
    }

    fn keys(&mut self, conn: usize, peek: &mut dyn Peek) -> (Vec<Vec<u8>>, Check) {
        if self.chance(0.3) {
            let among = Family::Keys.uses();
            return self.setup(among, conn, peek);
        }
        let k = self.any_key();
        let w = [5, 2, 4, 3, 3, 2, 2, 1, 5, 3, 3, 2, 3, 4, 3, 2, 2, 3, 2, 2, 1, 3];
        let (args, check) = match self.weighted(&w) {
            0 | 1 => {
                let mut a = cmd![if self.rng.random_bool(0.7) { "DEL" } else { "UNLINK" }];
                for _ in 0..self.int(1, 3) {
                    a.push(self.any_key());
                }
                (a, Check::Exact)
            }
            2 => {
                let mut a = cmd!["EXISTS"];
                for _ in 0..self.int(1, 4) {
                    a.push(self.any_key());
                }
                (a, Check::Exact)
            }
            3 => (cmd!["TYPE", k], Check::Exact),
            4 => (cmd!["RENAME", k, self.any_key()], Check::Exact),
            5 => (cmd!["RENAMENX", k, self.any_key()], Check::Exact),
            6 => {
                let mut a = cmd!["COPY", k, self.any_key()];
                if self.chance(0.4) {
                    a.push(b"REPLACE".to_vec());
                }
                if self.chance(0.15) {
                    a.extend(cmd!["DB", self.pick(&["0", "1", "16", "x"])]);
                }
                (a, Check::Exact)
            }
            7 => (cmd!["MOVE", k, self.pick(&["1", "1", "0", "16", "x"])], Check::Exact),
            8 => {
                let t = match self.int(0, 9) {
                    0 => self.pick(&["0", "-1"]).to_string(),
                    1 => self.pick(&["abc", "9223372036854775807", "1.5"]).to_string(),
                    _ => self.rel_secs().to_string(),
                };
                let mut a = cmd!["EXPIRE", k, t];
                self.expire_opts(&mut a);
                (a, Check::Exact)
            }
            9 => {
                let t = if self.chance(0.9) {
                    (self.rel_secs() * 1000).to_string()
                } else {
                    self.pick(&["0", "-5", "x"]).to_string()
                };
                let mut a = cmd!["PEXPIRE", k, t];
                self.expire_opts(&mut a);
                (a, Check::Exact)
            }
            10 => {
                let t = if self.chance(0.85) {
                    self.abs_secs().to_string()
                } else {
                    self.pick(&["1", "0", "-1"]).to_string()
                };
                let mut a = cmd!["EXPIREAT", k, t];
                self.expire_opts(&mut a);
                (a, Check::Exact)
            }
            11 => {
                let t = if self.chance(0.85) { (self.abs_secs() * 1000).to_string() } else { "1000".to_string() };
                let mut a = cmd!["PEXPIREAT", k, t];
                self.expire_opts(&mut a);
                (a, Check::Exact)
            }
            12 => (cmd!["PERSIST", k], Check::Exact),
            13 => (cmd!["TTL", k], Check::Ttl { tol: 1 }),
            14 => (cmd!["PTTL", k], Check::Ttl { tol: 1500 }),
            15 => (cmd!["EXPIRETIME", k], Check::Ttl { tol: 1 }),
            16 => (cmd!["PEXPIRETIME", k], Check::Ttl { tol: 1500 }),
            17 => {
                let p = self.pick(&[
                    "*", "s*", "{a}*", "?0", "[sw]*", "*[0-3]", "\\{b\\}*", "{c}?", "nomatch*", "*l*", "[^s]*", "s[",
                    "w\\",
                ]);
                (cmd!["KEYS", p], Check::Unordered)
            }
            18 => (cmd!["DBSIZE"], Check::Exact),
            19 => (cmd!["RANDOMKEY"], Check::Random(RandomKind::RandomKey)),
            20 => {
                let mut a = cmd!["TOUCH"];
                a.extend((0..self.int(1, 3)).map(|_| self.any_key()));
                (a, Check::Exact)
            }
            _ => self.object_encoding(Pool::Other),
        };
        (args, check)
    }

    fn list(&mut self) -> (Vec<Vec<u8>>, Check) {
        let k = self.key_in(Pool::List);
        let w = [6, 6, 2, 2, 4, 4, 3, 6, 3, 3, 3, 3, 3, 2, 3, 3, 2, 1, 1, 1, 1, 1, 2, 1];
        let args = match self.weighted(&w) {
            0 | 1 => {
                let mut a = cmd![if self.rng.random_bool(0.5) { "LPUSH" } else { "RPUSH" }, k];
                if self.chance(0.03) {
                    a.extend(self.members(130, 200));
                } else {
                    a.extend(self.members(1, 4));
                }
                a
            }
            2 | 3 => {
                let mut a = cmd![if self.rng.random_bool(0.5) { "LPUSHX" } else { "RPUSHX" }, k];
                a.extend(self.members(1, 3));
                a
            }
            4 | 5 => {
                let mut a = cmd![if self.rng.random_bool(0.5) { "LPOP" } else { "RPOP" }, k];
                if self.chance(0.3) {
                    a.push(if self.chance(0.85) {
                        self.int(0, 5).to_string().into_bytes()
                    } else {
                        self.pick(&["-1", "x"]).into()
                    });
                }
                a
            }
            6 => cmd!["LLEN", k],
            7 => {
                if self.chance(0.4) {
                    cmd!["LRANGE", k, "0", "-1"]
                } else {
                    cmd!["LRANGE", k, self.index(), self.index()]
                }
            }
            8 => cmd!["LINDEX", k, self.index()],
            9 => cmd![
                "LSET",
                k,
                if self.chance(0.5) { self.pick(&["0", "-1", "1"]).into() } else { self.index() },
                self.member()
            ],
            10 => cmd!["LINSERT", k, self.pick(&["BEFORE", "AFTER", "after", "MIDDLE"]), self.member(), self.member()],
            11 => cmd!["LREM", k, self.int(-2, 2).to_string(), self.member()],
            12 => cmd!["LTRIM", k, self.index(), self.index()],
            13 => cmd!["RPOPLPUSH", k, self.key_in(Pool::List)],
            14 => {
                let (a, b) = (self.pick(&["LEFT", "RIGHT", "left"]), self.pick(&["LEFT", "RIGHT", "UP"]));
                cmd!["LMOVE", k, self.key_in(Pool::List), a, b]
            }
            15 => {
                let mut a = cmd!["LPOS", k, self.member()];
                if self.chance(0.4) {
                    a.extend(cmd!["RANK", self.pick(&["1", "2", "-1", "-2", "0", "x"])]);
                }
                if self.chance(0.4) {
                    a.extend(cmd!["COUNT", self.pick(&["0", "1", "2", "3", "-1"])]);
                }
                if self.chance(0.2) {
                    a.extend(cmd!["MAXLEN", self.pick(&["0", "1", "3", "10", "-1"])]);
                }
                a
            }
            16 => {
                let n = if self.chance(0.05) { 0 } else { self.int(1, 3) };
                let mut a = cmd!["LMPOP", if self.chance(0.95) { n.to_string() } else { "x".into() }];
                for _ in 0..n.max(1) {
                    a.push(self.key_in(Pool::List));
                }
                a.push(if self.chance(0.9) { self.pick(&["LEFT", "RIGHT"]) } else { "MIDDLE" }.into());
                if self.chance(0.4) {
                    a.extend(cmd!["COUNT", self.pick(&["1", "2", "5", "0", "-1"])]);
                }
                a
            }
            17 => {
                let mut a = cmd![if self.rng.random_bool(0.5) { "BLPOP" } else { "BRPOP" }];
                a.extend(self.keys_in(Pool::List, 1, 2));
                a.push(self.block_timeout());
                a
            }
            18 => cmd![
                "BLMOVE",
                k,
                self.key_in(Pool::List),
                self.pick(&["LEFT", "RIGHT"]),
                self.pick(&["LEFT", "RIGHT"]),
                self.block_timeout()
            ],
            19 => cmd!["BRPOPLPUSH", k, self.key_in(Pool::List), self.block_timeout()],
            20 => {
                let mut a = cmd!["BLMPOP", self.block_timeout(), "1", k, self.pick(&["LEFT", "RIGHT"])];
                if self.chance(0.5) {
                    a.extend(cmd!["COUNT", self.pick(&["1", "3"])]);
                }
                a
            }
            21 => cmd!["TYPE", k],
            _ => return self.object_encoding(Pool::List),
        };
        (args, Check::Exact)
    }

    fn block_timeout(&mut self) -> Vec<u8> {
        if self.chance(0.95) {
            b"0.01".to_vec()
        } else {
            self.pick(&["-1", "x"]).into()
        }
    }

    fn hash(&mut self, conn: usize, peek: &mut dyn Peek) -> (Vec<Vec<u8>>, Check) {
        let k = self.key_in(Pool::Hash);
        let w = [8, 2, 2, 6, 3, 4, 3, 2, 2, 3, 3, 2, 2, 4, 2, 3, 1];
        let (args, check) = match self.weighted(&w) {
            0 | 2 => {
                let mut a = cmd![if self.rng.random_bool(0.8) { "HSET" } else { "HMSET" }, k];
                let n = if self.chance(0.03) { self.int(125, 135) } else { self.int(1, 3) };
                for i in 0..n {
                    if n > 100 {
                        a.push(format!("big{i}").into_bytes());
                    } else {
                        a.push(self.field());
                    }
                    a.push(self.value());
                }
                if self.chance(0.04) {
                    a.pop();
                }
                (a, Check::Exact)
            }
            1 => (cmd!["HSETNX", k, self.field(), self.value()], Check::Exact),
            3 => (cmd!["HGET", k, self.field()], Check::Exact),
            4 => {
                let mut a = cmd!["HMGET", k];
                a.extend((0..self.int(1, 4)).map(|_| self.field()));
                (a, Check::Exact)
            }
            5 => {
                let mut a = cmd!["HDEL", k];
                a.extend((0..self.int(1, 3)).map(|_| self.field()));
                (a, Check::Exact)
            }
            6 => (cmd!["HLEN", k], Check::Exact),
            7 => (cmd!["HSTRLEN", k, self.field()], Check::Exact),
            8 => (cmd!["HEXISTS", k, self.field()], Check::Exact),
            9 => (cmd!["HINCRBY", k, self.field(), self.int_arg()], Check::Exact),
            10 => {
                let f = self.field();
                match peek.peek(conn, &[b"HGET".to_vec(), k.clone(), f.clone()]) {
                    Some(Frame::Bulk(v)) if !float_safe(&v) => (cmd!["HSET", k, f, self.pick(&DYADIC)], Check::Exact),
                    _ => (cmd!["HINCRBYFLOAT", k, f, self.float_incr()], Check::Exact),
                }
            }
            11 => (cmd!["HKEYS", k], Check::Hash { key: k, pairs: false }),
            12 => (cmd!["HVALS", k], Check::Hash { key: k, pairs: false }),
            13 => (cmd!["HGETALL", k], Check::Hash { key: k, pairs: true }),
            14 => {
                let mut a = cmd!["HRANDFIELD", k];
                let mut count = None;
                let mut values = false;
                if self.chance(0.7) {
                    let c = self.int(-6, 6);
                    count = Some(c);
                    a.push(c.to_string().into_bytes());
                    if self.chance(0.5) {
                        values = true;
                        a.push(b"WITHVALUES".to_vec());
                    }
                }
                (a, Check::Random(RandomKind::HRandField { key: k, count, values }))
            }
            15 => self.object_encoding(Pool::Hash),
            _ => (cmd!["TYPE", k], Check::Exact),
        };
        (args, check)
    }

    fn set(&mut self, conn: usize, peek: &mut dyn Peek) -> (Vec<Vec<u8>>, Check) {
        let k = self.key_in(Pool::Set);
        let w = [8, 4, 3, 3, 2, 4, 3, 3, 2, 2, 2, 2, 2, 2, 2, 2, 3];
        let (args, check) = match self.weighted(&w) {
            0 => {
                let mut a = cmd!["SADD", k];
                if self.chance(0.03) {
                    let n = self.int(505, 530);
                    a.extend((0..n).map(|i| i.to_string().into_bytes()));
                } else {
                    a.extend(self.members(1, 4));
                }
                (a, Check::Exact)
            }
            1 => {
                let mut a = cmd!["SREM", k];
                a.extend(self.members(1, 3));
                (a, Check::Exact)
            }
            2 => (cmd!["SCARD", k], Check::Exact),
            3 => (cmd!["SISMEMBER", k, self.member()], Check::Exact),
            4 => {
                let mut a = cmd!["SMISMEMBER", k];
                a.extend(self.members(1, 3));
                (a, Check::Exact)
            }
            5 => (cmd!["SMEMBERS", k], Check::Unordered),
            6 => {
                // The set before the pop, to check the popped members and resynchronise after.
                let pre = match peek.peek(conn, &[b"SMEMBERS".to_vec(), k.clone()]) {
                    Some(Frame::Array(v)) | Some(Frame::Set(v)) => Some(
                        v.into_iter()
                            .filter_map(|f| if let Frame::Bulk(b) = f { Some(b.to_vec()) } else { None })
                            .collect(),
                    ),
                    _ => None,
                };
                let mut a = cmd!["SPOP", k];
                let mut count = None;
                if self.chance(0.5) {
                    if self.chance(0.9) {
                        let c = self.int(0, 4);
                        count = Some(c);
                        a.push(c.to_string().into_bytes());
                    } else {
                        a.push(self.pick(&["-1", "x"]).into());
                        return (a, Check::Exact);
                    }
                }
                (a, Check::SPop { key: k, count, pre })
            }
            7 => {
                let mut a = cmd!["SRANDMEMBER", k];
                let mut count = None;
                if self.chance(0.7) {
                    let c = self.int(-6, 6);
                    count = Some(c);
                    a.push(c.to_string().into_bytes());
                }
                (a, Check::Random(RandomKind::SRandMember { key: k, count }))
            }
            8 => (cmd!["SMOVE", k, self.key_in(Pool::Set), self.member()], Check::Exact),
            9..=11 => {
                let name = ["SINTER", "SUNION", "SDIFF"][self.rng.random_range(0..3)];
                let mut a = cmd![name, k];
                a.extend(self.keys_in(Pool::Set, 0, 2));
                (a, Check::Unordered)
            }
            12..=14 => {
                let name = ["SINTERSTORE", "SUNIONSTORE", "SDIFFSTORE"][self.rng.random_range(0..3)];
                let mut a = cmd![name, self.key_in(Pool::Set), k];
                a.extend(self.keys_in(Pool::Set, 0, 2));
                (a, Check::Exact)
            }
            15 => {
                let n = self.int(1, 3);
                let mut a = cmd!["SINTERCARD", n.to_string()];
                a.extend((0..n).map(|_| self.key_in(Pool::Set)));
                if self.chance(0.4) {
                    a.extend(cmd!["LIMIT", self.pick(&["0", "1", "2", "3", "-1"])]);
                }
                (a, Check::Exact)
            }
            _ => self.object_encoding(Pool::Set),
        };
        (args, check)
    }

    fn score(&mut self) -> Vec<u8> {
        match self.int(0, 19) {
            0..=9 => self.int(-3, 10).to_string().into_bytes(),
            10..=13 => self.pick(&["1.5", "-2.25", "0.5", "3.75", "0.1", "1e3", "-0"]).into(),
            14 => self.pick(&["inf", "-inf", "+inf"]).into(),
            15 if self.chance(0.3) => self.pick(&["abc", "nan", ""]).into(),
            16 => self.pick(&["3.3", "1e-5", "123456789.123"]).into(),
            _ => self.int(0, 3).to_string().into_bytes(),
        }
    }

    fn score_bound(&mut self) -> Vec<u8> {
        if self.chance(0.05) {
            return self.pick(&["abc", "(", "((1", "nan"]).into();
        }
        self.pick(&["-inf", "+inf", "(1", "2", "(2.5", "-1", "0", "5", "(5", "1.5", "inf", "(-inf", "3"]).into()
    }

    fn lex_bound(&mut self) -> Vec<u8> {
        if self.chance(0.05) {
            return self.pick(&["a", "", "{"]).into();
        }
        self.pick(&["-", "+", "[a", "(b", "[c", "(5", "[1", "[", "(", "[m", "[d"]).into()
    }

    /// Lex ranges are only specified when every member has the same score: false when the key
    /// is a zset whose scores differ (then a score range is used instead).
    fn lex_ok(&mut self, conn: usize, peek: &mut dyn Peek, k: &[u8]) -> bool {
        match peek.peek(conn, &[b"ZRANGE".to_vec(), k.to_vec(), b"0".to_vec(), b"-1".to_vec(), b"WITHSCORES".to_vec()])
        {
            Some(f) => match super::check::pairs(&f) {
                Some(p) => p.windows(2).all(|w| super::check::bytes_of(&w[0].1) == super::check::bytes_of(&w[1].1)),
                None => true,
            },
            None => true,
        }
    }

    fn zset(&mut self, conn: usize, peek: &mut dyn Peek) -> (Vec<Vec<u8>>, Check) {
        let k = self.key_in(Pool::ZSet);
        // Two keys hold members that all score 0, for the lex commands.
        let lex_key = LEX_ZSET_KEYS.contains(&k.as_slice());
        let w =
            [10, 3, 3, 2, 3, 2, 2, 2, 2, 2, 5, 3, 2, 2, 1, 2, 1, 1, 1, 2, 2, 1, 1, 1, 1, 2, 2, 1, 1, 1, 1, 1, 1, 2, 2];
        let args = match self.weighted(&w) {
            0 => {
                let mut a = cmd!["ZADD", k];
                if self.chance(0.25) {
                    a.push(self.pick(&["NX", "XX", "nx"]).into());
                }
                if self.chance(0.12) {
                    a.push(self.pick(&["GT", "LT"]).into());
                }
                if self.chance(0.2) {
                    a.push(b"CH".to_vec());
                }
                let incr = self.chance(0.1);
                if incr {
                    a.push(b"INCR".to_vec());
                }
                let n = if self.chance(0.03) {
                    self.int(125, 135)
                } else if incr && self.chance(0.8) {
                    1
                } else {
                    self.int(1, 3)
                };
                for i in 0..n {
                    a.push(if lex_key && !incr { b"0".to_vec() } else { self.score() });
                    a.push(if n > 100 { format!("big{i}").into_bytes() } else { self.member() });
                }
                if self.chance(0.03) {
                    a.pop();
                }
                a
            }
            1 => cmd!["ZINCRBY", k, self.score(), self.member()],
            2 => {
                let mut a = cmd!["ZREM", k];
                a.extend(self.members(1, 3));
                a
            }
            3 => cmd!["ZCARD", k],
            4 => cmd!["ZSCORE", k, self.member()],
            5 => {
                let mut a = cmd!["ZMSCORE", k];
                a.extend(self.members(1, 3));
                a
            }
            6 => cmd!["ZRANK", k, self.member()],
            7 => cmd!["ZREVRANK", k, self.member()],
            8 => cmd!["ZCOUNT", k, self.score_bound(), self.score_bound()],
            9 if self.lex_ok(conn, peek, &k) => cmd!["ZLEXCOUNT", k, self.lex_bound(), self.lex_bound()],
            9 => cmd!["ZCOUNT", k, self.score_bound(), self.score_bound()],
            10 => {
                let mut a = cmd!["ZRANGE", k];
                let mut mode = self.int(0, 3);
                if mode == 3 && !self.lex_ok(conn, peek, &k) {
                    mode = 2;
                }
                match mode {
                    0 | 1 => {
                        a.push(self.index());
                        a.push(self.index());
                    }
                    2 => {
                        a.push(self.score_bound());
                        a.push(self.score_bound());
                        a.push(b"BYSCORE".to_vec());
                    }
                    _ => {
                        a.push(self.lex_bound());
                        a.push(self.lex_bound());
                        a.push(b"BYLEX".to_vec());
                    }
                }
                if self.chance(0.3) {
                    a.push(b"REV".to_vec());
                }
                if self.chance(0.25) {
                    a.extend(cmd!["LIMIT", self.pick(&["0", "1", "-1", "2"]), self.pick(&["1", "2", "-1", "0", "10"])]);
                }
                if mode != 3 && self.chance(0.4) {
                    a.push(b"WITHSCORES".to_vec());
                }
                a
            }
            11 | 12 => {
                let mut a = cmd![
                    if self.rng.random_bool(0.6) { "ZRANGEBYSCORE" } else { "ZREVRANGEBYSCORE" },
                    k,
                    self.score_bound(),
                    self.score_bound()
                ];
                if self.chance(0.4) {
                    a.push(b"WITHSCORES".to_vec());
                }
                if self.chance(0.25) {
                    a.extend(cmd!["LIMIT", self.pick(&["0", "1", "-1"]), self.pick(&["1", "2", "-1"])]);
                }
                a
            }
            13 | 14 if !self.lex_ok(conn, peek, &k) => cmd!["ZRANGEBYSCORE", k, self.score_bound(), self.score_bound()],
            13 | 14 => {
                let mut a = cmd![
                    if self.rng.random_bool(0.6) { "ZRANGEBYLEX" } else { "ZREVRANGEBYLEX" },
                    k,
                    self.lex_bound(),
                    self.lex_bound()
                ];
                if self.chance(0.25) {
                    a.extend(cmd!["LIMIT", self.pick(&["0", "1"]), self.pick(&["1", "2", "-1"])]);
                }
                a
            }
            15 => {
                let mut a = cmd!["ZREVRANGE", k, self.index(), self.index()];
                if self.chance(0.4) {
                    a.push(b"WITHSCORES".to_vec());
                }
                a
            }
            16 => cmd!["ZREMRANGEBYRANK", k, self.index(), self.index()],
            17 => cmd!["ZREMRANGEBYSCORE", k, self.score_bound(), self.score_bound()],
            18 if self.lex_ok(conn, peek, &k) => cmd!["ZREMRANGEBYLEX", k, self.lex_bound(), self.lex_bound()],
            18 => cmd!["ZREMRANGEBYSCORE", k, self.score_bound(), self.score_bound()],
            19 | 20 => {
                let mut a = cmd![if self.rng.random_bool(0.5) { "ZPOPMIN" } else { "ZPOPMAX" }, k];
                if self.chance(0.4) {
                    a.push(self.pick(&["0", "1", "2", "5", "-1"]).into());
                }
                a
            }
            21 | 22 => {
                let mut a = cmd![if self.rng.random_bool(0.5) { "BZPOPMIN" } else { "BZPOPMAX" }];
                a.extend(self.keys_in(Pool::ZSet, 1, 2));
                a.push(self.block_timeout());
                a
            }
            23 | 24 => {
                let blocking = self.chance(0.4);
                let mut a = if blocking { cmd!["BZMPOP", self.block_timeout()] } else { cmd!["ZMPOP"] };
                let n = self.int(1, 2);
                a.push(n.to_string().into_bytes());
                a.extend((0..n).map(|_| self.key_in(Pool::ZSet)));
                a.push(self.pick(&["MIN", "MAX", "max", "MID"]).into());
                if self.chance(0.4) {
                    a.extend(cmd!["COUNT", self.pick(&["1", "2", "5", "0"])]);
                }
                a
            }
            25..=27 => {
                let name = ["ZUNIONSTORE", "ZINTERSTORE", "ZDIFFSTORE"][self.rng.random_range(0..3)];
                let n = self.int(1, 3);
                let mut a = cmd![name, self.key_in(Pool::ZSet), n.to_string()];
                a.extend(
                    (0..n).map(|_| if self.chance(0.15) { self.key_in(Pool::Set) } else { self.key_in(Pool::ZSet) }),
                );
                self.zstore_opts(&mut a, name != "ZDIFFSTORE", n);
                a
            }
            28..=30 => {
                let name = ["ZUNION", "ZINTER", "ZDIFF"][self.rng.random_range(0..3)];
                let n = self.int(1, 3);
                let mut a = cmd![name, n.to_string()];
                a.extend((0..n).map(|_| self.key_in(Pool::ZSet)));
                self.zstore_opts(&mut a, name != "ZDIFF", n);
                if self.chance(0.4) {
                    a.push(b"WITHSCORES".to_vec());
                }
                a
            }
            31 => {
                let n = self.int(1, 2);
                let mut a = cmd!["ZINTERCARD", n.to_string()];
                a.extend((0..n).map(|_| self.key_in(Pool::ZSet)));
                if self.chance(0.3) {
                    a.extend(cmd!["LIMIT", self.pick(&["0", "1", "-1"])]);
                }
                a
            }
            32 => {
                let mut a = cmd!["ZRANGESTORE", self.key_in(Pool::ZSet), k];
                if self.chance(0.5) {
                    a.push(self.index());
                    a.push(self.index());
                } else {
                    a.push(self.score_bound());
                    a.push(self.score_bound());
                    a.push(b"BYSCORE".to_vec());
                }
                if self.chance(0.2) {
                    a.push(b"REV".to_vec());
                }
                a
            }
            33 => {
                let mut a = cmd!["ZRANDMEMBER", k];
                let mut count = None;
                let mut scores = false;
                if self.chance(0.7) {
                    let c = self.int(-6, 6);
                    count = Some(c);
                    a.push(c.to_string().into_bytes());
                    if self.chance(0.5) {
                        scores = true;
                        a.push(b"WITHSCORES".to_vec());
                    }
                }
                return (a, Check::Random(RandomKind::ZRandMember { key: k, count, scores }));
            }
            _ => return self.object_encoding(Pool::ZSet),
        };
        (args, Check::Exact)
    }

    fn zstore_opts(&mut self, a: &mut Vec<Vec<u8>>, weights_ok: bool, n: i64) {
        if weights_ok && self.chance(0.3) {
            a.push(b"WEIGHTS".to_vec());
            let m = if self.chance(0.9) { n } else { n + 1 };
            for _ in 0..m {
                a.push(self.pick(&["1", "2", "0", "-1", "0.5", "inf", "x"]).into());
            }
        }
        if weights_ok && self.chance(0.3) {
            a.extend(cmd!["AGGREGATE", self.pick(&["SUM", "MIN", "MAX", "max", "AVG"])]);
        }
    }

    fn sort(&mut self, conn: usize, peek: &mut dyn Peek) -> (Vec<Vec<u8>>, Check) {
        if self.chance(0.5) {
            return self.setup(Family::Sort.uses(), conn, peek);
        }
        let pool = self.pick(&[Pool::List, Pool::Set, Pool::ZSet, Pool::Str]);
        let k = self.key_in(pool);
        let ro = self.chance(0.2);
        let mut a = cmd![if ro { "SORT_RO" } else { "SORT" }, k];
        let by = if self.chance(0.4) {
            Some(self.pick(&["s*", "w*", "{b}h*->f0", "nosort", "nokey*", "s*->f0"]))
        } else {
            None
        };
        if let Some(b) = by {
            a.extend(cmd!["BY", b]);
        }
        let limit = self.chance(0.3);
        if limit {
            a.extend(cmd!["LIMIT", self.pick(&["0", "1", "-1", "3"]), self.pick(&["0", "1", "2", "-1", "10"])]);
        }
        if self.chance(0.3) {
            for _ in 0..self.int(1, 2) {
                a.extend(cmd!["GET", self.pick(&["#", "s*", "{b}h*->f1", "w*", "nokey*"])]);
            }
        }
        if self.chance(0.5) {
            a.push(self.pick(&["ASC", "DESC", "desc"]).into());
        }
        // BY <pattern> ALPHA leaves ties (equal or missing weights) in qsort/pqsort order: not
        // generated (see the intentional differences).
        let alpha = (by.is_none() || by == Some("nosort")) && self.chance(0.4);
        if alpha {
            a.push(b"ALPHA".to_vec());
        }
        let store = !ro && self.chance(0.2);
        if store {
            a.extend(cmd!["STORE", self.key_in(Pool::Other)]);
        }
        if self.chance(0.03) {
            a.push(self.pick(&["LIMIT", "BY", "FOO"]).into());
        }
        let check = if by == Some("nosort") && !store { Check::SortNoSort { key: k, limit } } else { Check::Exact };
        (a, check)
    }

    fn scan(&mut self, conn: usize, peek: &mut dyn Peek) -> (Vec<Vec<u8>>, Check) {
        if self.chance(0.5) {
            return self.setup(Family::Scan.uses(), conn, peek);
        }
        let bad = self.chance(0.08);
        let which = self.weighted(&[4, 2, 2, 2]);
        let (mut a, cursor_at, pairs) = match which {
            0 => (cmd!["SCAN", "0"], 1, false),
            1 => (cmd!["SSCAN", self.key_in(Pool::Set), "0"], 2, false),
            2 => (cmd!["HSCAN", self.key_in(Pool::Hash), "0"], 2, true),
            _ => (cmd!["ZSCAN", self.key_in(Pool::ZSet), "0"], 2, true),
        };
        if self.chance(0.4) {
            let p = self.pick(&["*", "s*", "{a}*", "*1*", "f*", "[0-4]", "?", "big1*", "nomatch"]);
            a.extend(cmd!["MATCH", p]);
        }
        if self.chance(0.5) {
            a.extend(cmd!["COUNT", self.pick(&["1", "2", "5", "10", "100", "1000"])]);
        }
        if which == 0 && self.chance(0.3) {
            a.extend(cmd!["TYPE", self.pick(&["string", "list", "hash", "set", "zset", "stream", "foo", "STRING"])]);
        }
        if bad {
            match self.int(0, 4) {
                // (An empty cursor is cursor 0 to strtoul: not an error.)
                0 => a[cursor_at] = self.pick(&["abc", " 1", "1x", "-"]).into(),
                1 => a.extend(cmd!["COUNT", self.pick(&["0", "-1", "x"])]),
                2 => a.push(b"MATCH".to_vec()),
                3 => a.extend(cmd!["FOO", "1"]),
                _ => a.extend(cmd!["NOVALUES"]),
            }
            return (a, Check::Exact);
        }
        (a, Check::Scan { cursor_at, pairs })
    }

    fn connection(&mut self, conn: usize, peek: &mut dyn Peek) -> (Vec<Vec<u8>>, Check) {
        if self.chance(0.5) {
            return self.setup(Family::Connection.uses(), conn, peek);
        }
        let w = [30, 20, 30, 20, 10, 2, 1];
        let (args, check) = match self.weighted(&w) {
            0 => {
                if self.chance(0.5) {
                    (cmd!["PING"], Check::Exact)
                } else {
                    (cmd!["PING", self.value()], Check::Exact)
                }
            }
            1 => (cmd!["ECHO", self.value()], Check::Exact),
            2 => {
                let db = if self.chance(0.9) {
                    self.pick(&["0", "0", "1", "2"])
                } else {
                    self.pick(&["16", "-1", "x", "1.5"])
                };
                (cmd!["SELECT", db], Check::Exact)
            }
            3 => (cmd!["DBSIZE"], Check::Exact),
            4 => {
                let mut a = cmd!["HELLO"];
                if self.chance(0.9) {
                    a.push(self.pick(&["2", "3", "3", "2", "4", "x"]).into());
                }
                if self.chance(0.1) {
                    a.extend(cmd!["SETNAME", "conformance"]);
                }
                (a, Check::Hello)
            }
            5 => (cmd!["FLUSHDB"], Check::Exact),
            _ => (cmd!["SWAPDB", self.pick(&["0", "1"]), self.pick(&["1", "2", "x", "99"])], Check::Exact),
        };
        (args, check)
    }

    fn server(&mut self, conn: usize, peek: &mut dyn Peek) -> (Vec<Vec<u8>>, Check) {
        if self.chance(0.6) {
            return self.setup(Family::Server.uses(), conn, peek);
        }
        let w = [10, 6, 2, 3, 1, 3];
        let (args, check) = match self.weighted(&w) {
            0 => {
                let p = self.pick(&CONFIG_PARAMS);
                (cmd!["CONFIG", "GET", p], Check::Exact)
            }
            1 => {
                let (p, vals) = self.pick(&CONFIG_SETTABLE);
                let v = self.pick(vals);
                let mut a = cmd!["CONFIG", "SET", p, v];
                if self.chance(0.2) {
                    let (p2, vals2) = self.pick(&CONFIG_SETTABLE);
                    if p2 != p {
                        a.push(p2.into());
                        a.push(self.pick(vals2).into());
                    }
                }
                (a, Check::Exact)
            }
            2 => (
                cmd!["CONFIG", "GET", self.pick(&["*-max-*-entries", "hash-max-*", "zset-max-listpack-*"])],
                Check::UnorderedPairs,
            ),
            3 => (cmd!["DBSIZE"], Check::Exact),
            4 => (cmd!["FLUSHALL"], Check::Exact),
            _ => self.object_encoding(Pool::Hash),
        };
        (args, check)
    }

    fn errors(&mut self) -> (Vec<Vec<u8>>, Check) {
        let args = match self.weighted(&[3, 8, 2, 8]) {
            0 => {
                let mut a = cmd![self.pick(&["FOOBAR", "GETT", "", "set_", "hgetal", "x y"])];
                for _ in 0..self.int(0, 3) {
                    a.push(self.value());
                }
                a
            }
            1 => {
                // Wrong number of arguments.
                let (name, arity) = self.pick(&ARITIES);
                let argc = if arity > 0 {
                    if arity > 1 && self.chance(0.5) {
                        arity - 1
                    } else {
                        arity + 1
                    }
                } else {
                    -arity - 1
                };
                let mut a = cmd![if self.chance(0.3) { name.to_ascii_lowercase() } else { name.to_string() }];
                for _ in 1..argc.max(1) {
                    a.push(if self.chance(0.5) { self.any_key() } else { self.member() });
                }
                if argc < 1 {
                    return self.errors();
                }
                a
            }
            2 => match self.int(0, 5) {
                0 => cmd!["OBJECT"],
                1 => cmd!["OBJECT", "ENCODING"],
                2 => cmd!["OBJECT", "FOO", self.any_key()],
                3 => cmd!["CONFIG", "FOO"],
                4 => cmd!["CONFIG", "GET"],
                _ => cmd!["CONFIG"],
            },
            _ => {
                let k = self.any_key();
                let bad = self.pick(&BAD_ARGS);
                bad.iter().map(|a| if *a == "K" { k.clone() } else { a.as_bytes().to_vec() }).collect()
            }
        };
        (args, Check::Exact)
    }
}

/// True when INCRBYFLOAT on `v` prints the same in `double` and `long double`: not a number at
/// all (an error either way), infinite, or dyadic with few bits and not huge.
pub fn float_safe(v: &[u8]) -> bool {
    let Ok(s) = std::str::from_utf8(v) else { return true };
    match s.parse::<f64>() {
        Err(_) => true,
        Ok(x) if !x.is_finite() => true,
        Ok(x) => x.abs() <= (1u64 << 30) as f64 && (x * 1024.0).fract() == 0.0,
    }
}

/// Floats exact in binary with few bits: `double` and `long double` print them alike.
const DYADIC: [&str; 9] = ["1.5", "-2.25", "0.125", "3.75", "100.5", "-0.5", "1e3", "2.5e-1", "10"];
const DYADIC_INCR: [&str; 10] = ["0.5", "1.5", "-0.25", "10.125", "-3", "100", "0", "2.0e2", "-1.75", "5"];

/// Parameters whose value is the same on both servers (port and dir are not).
const CONFIG_PARAMS: [&str; 15] = [
    "hash-max-listpack-entries",
    "hash-max-listpack-value",
    "hash-max-ziplist-entries",
    "set-max-intset-entries",
    "zset-max-listpack-entries",
    "zset-max-listpack-value",
    "zset-max-ziplist-value",
    "list-max-listpack-size",
    "list-max-ziplist-size",
    "databases",
    "maxmemory",
    "maxmemory-policy",
    "timeout",
    "appendonly",
    "nosuchparam",
];

type Settable = (&'static str, &'static [&'static str]);
const CONFIG_SETTABLE: [Settable; 6] = [
    ("hash-max-listpack-entries", &["0", "1", "2", "4", "128", "512", "x"]),
    ("hash-max-listpack-value", &["0", "4", "16", "64", "-1"]),
    ("set-max-intset-entries", &["0", "4", "16", "512"]),
    ("zset-max-listpack-entries", &["0", "2", "8", "128"]),
    ("zset-max-listpack-value", &["4", "64"]),
    ("hash-max-ziplist-entries", &["3", "128"]),
];

/// Redis 7.0's arity of each command the generator uses (negative: at least).
pub const ARITIES: [(&str, i64); 96] = [
    ("GET", 2),
    ("SET", -3),
    ("SETNX", 3),
    ("SETEX", 4),
    ("PSETEX", 4),
    ("GETSET", 3),
    ("GETDEL", 2),
    ("GETEX", -2),
    ("MGET", -2),
    ("MSET", -3),
    ("MSETNX", -3),
    ("APPEND", 3),
    ("STRLEN", 2),
    ("INCR", 2),
    ("DECR", 2),
    ("INCRBY", 3),
    ("DECRBY", 3),
    ("INCRBYFLOAT", 3),
    ("GETRANGE", 4),
    ("SETRANGE", 4),
    ("SETBIT", 4),
    ("GETBIT", 3),
    ("BITCOUNT", -2),
    ("BITPOS", -3),
    ("DEL", -2),
    ("EXISTS", -2),
    ("TYPE", 2),
    ("RENAME", 3),
    ("RENAMENX", 3),
    ("COPY", -3),
    ("MOVE", 3),
    ("EXPIRE", -3),
    ("PEXPIRE", -3),
    ("EXPIREAT", -3),
    ("PERSIST", 2),
    ("TTL", 2),
    ("PTTL", 2),
    ("EXPIRETIME", 2),
    ("KEYS", 2),
    ("DBSIZE", 1),
    ("RANDOMKEY", 1),
    ("LPUSH", -3),
    ("RPUSH", -3),
    ("LPUSHX", -3),
    ("LPOP", -2),
    ("LLEN", 2),
    ("LRANGE", 4),
    ("LINDEX", 3),
    ("LSET", 4),
    ("LINSERT", 5),
    ("LREM", 4),
    ("LTRIM", 4),
    ("RPOPLPUSH", 3),
    ("LMOVE", 5),
    ("LPOS", -3),
    ("BLPOP", -3),
    ("HSET", -4),
    ("HSETNX", 4),
    ("HGET", 3),
    ("HMGET", -3),
    ("HDEL", -3),
    ("HLEN", 2),
    ("HINCRBY", 4),
    ("HINCRBYFLOAT", 4),
    ("HGETALL", 2),
    ("HRANDFIELD", -2),
    ("SADD", -3),
    ("SREM", -3),
    ("SCARD", 2),
    ("SISMEMBER", 3),
    ("SMEMBERS", 2),
    ("SPOP", -2),
    ("SMOVE", 4),
    ("SINTER", -2),
    ("SINTERSTORE", -3),
    ("SINTERCARD", -3),
    ("ZADD", -4),
    ("ZINCRBY", 4),
    ("ZREM", -3),
    ("ZCARD", 2),
    ("ZSCORE", 3),
    ("ZRANK", 3),
    ("ZCOUNT", 4),
    ("ZRANGE", -4),
    ("ZRANGEBYSCORE", -4),
    ("ZPOPMIN", -2),
    ("ZUNIONSTORE", -4),
    ("ZRANDMEMBER", -2),
    ("SORT", -2),
    ("SCAN", -2),
    ("SSCAN", -3),
    ("HSCAN", -3),
    ("ECHO", 2),
    ("SELECT", 2),
    ("SWAPDB", 3),
    ("LMPOP", -4),
];

/// Commands with a non-integer, out-of-range or syntactically wrong argument; `K` is a key.
const BAD_ARGS: [&[&str]; 44] = [
    &["GETRANGE", "K", "a", "b"],
    &["LRANGE", "K", "1", "x"],
    &["EXPIRE", "K", "abc"],
    &["SETEX", "K", "1.5", "v"],
    &["INCRBY", "K", "1.5"],
    &["HINCRBY", "K", "f", "x"],
    &["ZADD", "K", "x", "m"],
    &["ZRANGEBYSCORE", "K", "a", "b"],
    &["ZRANGEBYLEX", "K", "a", "b"],
    &["LPOS", "K", "v", "RANK", "0"],
    &["LPOS", "K", "v", "MAXLEN", "-1"],
    &["SET", "K", "v", "EX"],
    &["SET", "K", "v", "FOO"],
    &["SET", "K", "v", "NX", "XX"],
    &["SET", "K", "v", "EX", "10", "PX", "100"],
    &["ZADD", "K", "NX", "XX", "1", "m"],
    &["ZADD", "K", "GT", "LT", "1", "m"],
    &["ZADD", "K", "NX", "GT", "1", "m"],
    &["ZADD", "K", "INCR", "1", "a", "2", "b"],
    &["SINTERCARD", "0", "K"],
    &["SINTERCARD", "x", "K"],
    &["SINTERCARD", "3", "K"],
    &["LMPOP", "0", "K", "LEFT"],
    &["LMPOP", "1", "K", "MIDDLE"],
    &["ZUNIONSTORE", "d", "0", "K"],
    &["ZUNIONSTORE", "d", "2", "K"],
    &["ZUNIONSTORE", "d", "1", "K", "WEIGHTS", "x"],
    &["SORT", "K", "LIMIT", "0"],
    &["SORT", "K", "BY"],
    &["SCAN", "0", "COUNT", "0"],
    &["SCAN", "0", "MATCH"],
    &["SRANDMEMBER", "K", "x"],
    &["SPOP", "K", "-1"],
    &["SETBIT", "K", "0", "2"],
    &["SETBIT", "K", "-1", "0"],
    &["GETBIT", "K", "x"],
    &["BITCOUNT", "K", "0"],
    &["BITPOS", "K", "2"],
    &["SETRANGE", "K", "-1", "x"],
    &["LINSERT", "K", "MIDDLE", "a", "b"],
    &["LSET", "K", "x", "v"],
    &["HRANDFIELD", "K", "x"],
    &["EXPIRE", "K", "10", "NX", "XX"],
    &["COPY", "K", "K"],
];

#[cfg(test)]
mod tests {
    use super::*;

    struct NoPeek;
    impl Peek for NoPeek {
        fn peek(&mut self, _: usize, _: &[Vec<u8>]) -> Option<Frame> {
            None
        }
    }

    #[test]
    fn same_seed_same_commands() {
        let run = |seed| {
            let mut g = Gen::new(seed, ALL_FAMILIES, 1_700_000_000);
            (0..500).map(|_| g.next(&mut NoPeek).args).collect::<Vec<_>>()
        };
        assert_eq!(run(7), run(7));
        assert_ne!(run(7), run(8));
    }

    #[test]
    fn key_space_has_50_keys() {
        let n =
            STRING_KEYS.len() + LIST_KEYS.len() + HASH_KEYS.len() + SET_KEYS.len() + ZSET_KEYS.len() + OTHER_KEYS.len();
        assert_eq!(n, 50);
    }

    #[test]
    fn float_safety() {
        assert!(float_safe(b"1.5"));
        assert!(float_safe(b"abc"));
        assert!(float_safe(b"inf"));
        assert!(!float_safe(b"0.1"));
        assert!(!float_safe(b"9223372036854775807"));
    }

    #[test]
    fn families_parse() {
        for f in ALL_FAMILIES {
            assert_eq!(Family::parse(f.name()), Some(*f));
        }
        assert_eq!(Family::parse("Lists"), Some(Family::List));
        assert_eq!(Family::parse("nope"), None);
    }
}
