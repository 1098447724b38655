//! The proxy's command table: which commands are refused, which must go to a master, which the
//! session answers itself, and which argument carries the routing key.
//!
//! The table is Codis 3.2's (`pkg/proxy/mapper.go`), as recorded in
//! `shared/reference/codis-3.2/d5_proxy_command_table.txt`. Commands not in it are forwarded and
//! treated as possible writes.

pub const WRITE: u8 = 1;
pub const MASTER_ONLY: u8 = 2;
pub const MAY_WRITE: u8 = 4;
pub const NOT_ALLOW: u8 = 8;

/// Longest command name the proxy accepts (`MaxOpStrLen`).
pub const MAX_OP_LEN: usize = 64;

/// Commands the session handles itself instead of forwarding them as they are.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Special {
    None,
    Quit,
    Auth,
    Hello,
    Select,
    Ping,
    Info,
    MGet,
    MSet,
    /// DEL, EXISTS, TOUCH, UNLINK: sent per backend (or per key, see `multikey`), integer
    /// replies added up.
    SumKeys,
    SlotsInfo,
    SlotsScan,
    SlotsMapping,
}

/// Commands handled by an extension beyond Codis (docs/proxy-features.md), when switched on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ext {
    None,
    /// SUBSCRIBE, PSUBSCRIBE, UNSUBSCRIBE, PUNSUBSCRIBE.
    Subscribe,
    Publish,
    /// MULTI, EXEC, DISCARD, WATCH, UNWATCH.
    Transaction,
    /// BLPOP, BRPOP, BRPOPLPUSH, BLMOVE, BZPOPMIN, BZPOPMAX, BLMPOP, BZMPOP.
    Blocking,
    /// SCAN, KEYS, DBSIZE, FLUSHALL, FLUSHDB.
    Cluster,
}

/// What the table says about one command.
#[derive(Debug, Clone, Copy)]
pub struct OpInfo {
    /// The upper-case name when the command is in the table.
    pub name: Option<&'static str>,
    pub flags: u8,
    pub special: Special,
    /// Index of the argument hashed for routing.
    pub key_index: u8,
    pub ext: Ext,
}

impl OpInfo {
    pub fn is_not_allowed(&self) -> bool {
        self.flags & NOT_ALLOW != 0
    }

    /// True when the command may be served by a replica.
    pub fn is_read_only(&self) -> bool {
        self.flags & (WRITE | MAY_WRITE) == 0
    }

    pub fn is_master_only(&self) -> bool {
        self.flags & (WRITE | MAY_WRITE | MASTER_ONLY) != 0
    }
}

/// The command name was empty or longer than [`MAX_OP_LEN`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("bad command length, too short or too long")]
pub struct BadOpLen;

/// Looks a command name up, case-insensitively.
///
/// Go's proxy skips the table for names with characters other than letters and `:`, so
/// `SLOTSMGRT-EXEC-WRAPPER` and the other hyphenated entries marked not-allowed were in fact
/// forwarded; here every name is looked up, so those entries are refused as the table intends.
pub fn lookup(op: &[u8]) -> Result<OpInfo, BadOpLen> {
    if op.is_empty() || op.len() > MAX_OP_LEN {
        return Err(BadOpLen);
    }
    let mut upper = [0u8; MAX_OP_LEN];
    for (u, c) in upper.iter_mut().zip(op) {
        *u = c.to_ascii_uppercase();
    }
    let upper = &upper[..op.len()];
    let Ok(i) = TABLE.binary_search_by(|(name, _)| (*name).cmp(upper)) else {
        // Blocking commands newer than Codis 3.2 (forwarded like any unknown command otherwise).
        let (name, ext) = match upper {
            b"BLMOVE" => (Some("BLMOVE"), Ext::Blocking),
            b"BZPOPMIN" => (Some("BZPOPMIN"), Ext::Blocking),
            b"BZPOPMAX" => (Some("BZPOPMAX"), Ext::Blocking),
            b"BLMPOP" => (Some("BLMPOP"), Ext::Blocking),
            b"BZMPOP" => (Some("BZMPOP"), Ext::Blocking),
            _ => (None, Ext::None),
        };
        return Ok(OpInfo { name, flags: MAY_WRITE, special: Special::None, key_index: 1, ext });
    };
    let (name, flags) = TABLE[i];
    // The table holds only ASCII names.
    let name = std::str::from_utf8(name).unwrap_or_default();
    let special = match name {
        "QUIT" => Special::Quit,
        "AUTH" => Special::Auth,
        "HELLO" => Special::Hello,
        "SELECT" => Special::Select,
        "PING" => Special::Ping,
        "INFO" => Special::Info,
        "MGET" => Special::MGet,
        "MSET" => Special::MSet,
        "DEL" | "EXISTS" | "TOUCH" | "UNLINK" => Special::SumKeys,
        "SLOTSINFO" => Special::SlotsInfo,
        "SLOTSSCAN" => Special::SlotsScan,
        "SLOTSMAPPING" => Special::SlotsMapping,
        _ => Special::None,
    };
    let key_index = match name {
        "ZINTERSTORE" | "ZUNIONSTORE" | "EVAL" | "EVALSHA" => 3,
        _ => 1,
    };
    let ext = match name {
        "SUBSCRIBE" | "PSUBSCRIBE" | "UNSUBSCRIBE" | "PUNSUBSCRIBE" => Ext::Subscribe,
        "PUBLISH" => Ext::Publish,
        "MULTI" | "EXEC" | "DISCARD" | "WATCH" | "UNWATCH" => Ext::Transaction,
        "BLPOP" | "BRPOP" | "BRPOPLPUSH" => Ext::Blocking,
        "SCAN" | "KEYS" | "DBSIZE" | "FLUSHALL" | "FLUSHDB" => Ext::Cluster,
        _ => Ext::None,
    };
    Ok(OpInfo { name: Some(name), flags, special, key_index, ext })
}

/// The upper-case form of a command name, for messages about commands outside the table.
pub fn upper_name(op: &[u8]) -> String {
    String::from_utf8_lossy(op).to_uppercase()
}

/// Sorted by name for binary search. From d5_proxy_command_table.txt; HELLO and UNLINK are
/// additions (Codis 3.2 predates them): HELLO is answered by the session, UNLINK is split per
/// key like DEL.
static TABLE: &[(&[u8], u8)] = &[
    (b"APPEND", WRITE),
    (b"ASKING", NOT_ALLOW),
    (b"AUTH", 0),
    (b"BGREWRITEAOF", NOT_ALLOW),
    (b"BGSAVE", NOT_ALLOW),
    (b"BITCOUNT", 0),
    (b"BITFIELD", WRITE),
    (b"BITOP", WRITE | NOT_ALLOW),
    (b"BITPOS", 0),
    (b"BLPOP", WRITE | NOT_ALLOW),
    (b"BRPOP", WRITE | NOT_ALLOW),
    (b"BRPOPLPUSH", WRITE | NOT_ALLOW),
    (b"CLIENT", NOT_ALLOW),
    (b"CLUSTER", NOT_ALLOW),
    (b"COMMAND", 0),
    (b"CONFIG", NOT_ALLOW),
    (b"DBSIZE", NOT_ALLOW),
    (b"DEBUG", NOT_ALLOW),
    (b"DECR", WRITE),
    (b"DECRBY", WRITE),
    (b"DEL", WRITE),
    (b"DISCARD", NOT_ALLOW),
    (b"DUMP", 0),
    (b"ECHO", 0),
    (b"EVAL", WRITE),
    (b"EVALSHA", WRITE),
    (b"EXEC", NOT_ALLOW),
    (b"EXISTS", 0),
    (b"EXPIRE", WRITE),
    (b"EXPIREAT", WRITE),
    (b"FLUSHALL", WRITE | NOT_ALLOW),
    (b"FLUSHDB", WRITE | NOT_ALLOW),
    (b"GEOADD", WRITE),
    (b"GEODIST", 0),
    (b"GEOHASH", 0),
    (b"GEOPOS", 0),
    (b"GEORADIUS", WRITE),
    (b"GEORADIUSBYMEMBER", WRITE),
    (b"GET", 0),
    (b"GETBIT", 0),
    (b"GETRANGE", 0),
    (b"GETSET", WRITE),
    (b"HDEL", WRITE),
    (b"HELLO", 0),
    (b"HEXISTS", 0),
    (b"HGET", 0),
    (b"HGETALL", 0),
    (b"HINCRBY", WRITE),
    (b"HINCRBYFLOAT", WRITE),
    (b"HKEYS", 0),
    (b"HLEN", 0),
    (b"HMGET", 0),
    (b"HMSET", WRITE),
    (b"HOST:", NOT_ALLOW),
    (b"HSCAN", MASTER_ONLY),
    (b"HSET", WRITE),
    (b"HSETNX", WRITE),
    (b"HSTRLEN", 0),
    (b"HVALS", 0),
    (b"INCR", WRITE),
    (b"INCRBY", WRITE),
    (b"INCRBYFLOAT", WRITE),
    (b"INFO", 0),
    (b"KEYS", NOT_ALLOW),
    (b"LASTSAVE", NOT_ALLOW),
    (b"LATENCY", NOT_ALLOW),
    (b"LINDEX", 0),
    (b"LINSERT", WRITE),
    (b"LLEN", 0),
    (b"LPOP", WRITE),
    (b"LPUSH", WRITE),
    (b"LPUSHX", WRITE),
    (b"LRANGE", 0),
    (b"LREM", WRITE),
    (b"LSET", WRITE),
    (b"LTRIM", WRITE),
    (b"MGET", 0),
    (b"MIGRATE", WRITE | NOT_ALLOW),
    (b"MONITOR", NOT_ALLOW),
    (b"MOVE", WRITE | NOT_ALLOW),
    (b"MSET", WRITE),
    (b"MSETNX", WRITE | NOT_ALLOW),
    (b"MULTI", NOT_ALLOW),
    (b"OBJECT", NOT_ALLOW),
    (b"PERSIST", WRITE),
    (b"PEXPIRE", WRITE),
    (b"PEXPIREAT", WRITE),
    (b"PFADD", WRITE),
    (b"PFCOUNT", 0),
    (b"PFDEBUG", WRITE),
    (b"PFMERGE", WRITE),
    (b"PFSELFTEST", 0),
    (b"PING", 0),
    (b"POST", NOT_ALLOW),
    (b"PSETEX", WRITE),
    (b"PSUBSCRIBE", NOT_ALLOW),
    (b"PSYNC", NOT_ALLOW),
    (b"PTTL", 0),
    (b"PUBLISH", NOT_ALLOW),
    (b"PUBSUB", 0),
    (b"PUNSUBSCRIBE", NOT_ALLOW),
    (b"QUIT", 0),
    (b"RANDOMKEY", NOT_ALLOW),
    (b"READONLY", NOT_ALLOW),
    (b"READWRITE", NOT_ALLOW),
    (b"RENAME", WRITE | NOT_ALLOW),
    (b"RENAMENX", WRITE | NOT_ALLOW),
    (b"REPLCONF", NOT_ALLOW),
    (b"RESTORE", WRITE | NOT_ALLOW),
    (b"RESTORE-ASKING", WRITE | NOT_ALLOW),
    (b"ROLE", 0),
    (b"RPOP", WRITE),
    (b"RPOPLPUSH", WRITE),
    (b"RPUSH", WRITE),
    (b"RPUSHX", WRITE),
    (b"SADD", WRITE),
    (b"SAVE", NOT_ALLOW),
    (b"SCAN", MASTER_ONLY | NOT_ALLOW),
    (b"SCARD", 0),
    (b"SCRIPT", NOT_ALLOW),
    (b"SDIFF", 0),
    (b"SDIFFSTORE", WRITE),
    (b"SELECT", 0),
    (b"SET", WRITE),
    (b"SETBIT", WRITE),
    (b"SETEX", WRITE),
    (b"SETNX", WRITE),
    (b"SETRANGE", WRITE),
    (b"SHUTDOWN", NOT_ALLOW),
    (b"SINTER", 0),
    (b"SINTERSTORE", WRITE),
    (b"SISMEMBER", 0),
    (b"SLAVEOF", NOT_ALLOW),
    (b"SLOTSCHECK", NOT_ALLOW),
    (b"SLOTSDEL", WRITE | NOT_ALLOW),
    (b"SLOTSHASHKEY", 0),
    (b"SLOTSINFO", MASTER_ONLY),
    (b"SLOTSMAPPING", 0),
    (b"SLOTSMGRT-ASYNC-CANCEL", NOT_ALLOW),
    (b"SLOTSMGRT-ASYNC-FENCE", NOT_ALLOW),
    (b"SLOTSMGRT-ASYNC-STATUS", NOT_ALLOW),
    (b"SLOTSMGRT-EXEC-WRAPPER", WRITE | NOT_ALLOW),
    (b"SLOTSMGRTONE", WRITE | NOT_ALLOW),
    (b"SLOTSMGRTONE-ASYNC", WRITE | NOT_ALLOW),
    (b"SLOTSMGRTSLOT", WRITE | NOT_ALLOW),
    (b"SLOTSMGRTSLOT-ASYNC", WRITE | NOT_ALLOW),
    (b"SLOTSMGRTTAGONE", WRITE | NOT_ALLOW),
    (b"SLOTSMGRTTAGONE-ASYNC", WRITE | NOT_ALLOW),
    (b"SLOTSMGRTTAGSLOT", WRITE | NOT_ALLOW),
    (b"SLOTSMGRTTAGSLOT-ASYNC", WRITE | NOT_ALLOW),
    (b"SLOTSRESTORE", WRITE),
    (b"SLOTSRESTORE-ASYNC", WRITE | NOT_ALLOW),
    (b"SLOTSRESTORE-ASYNC-ACK", WRITE | NOT_ALLOW),
    (b"SLOTSRESTORE-ASYNC-AUTH", WRITE | NOT_ALLOW),
    (b"SLOTSSCAN", MASTER_ONLY),
    (b"SLOWLOG", NOT_ALLOW),
    (b"SMEMBERS", 0),
    (b"SMOVE", WRITE),
    (b"SORT", WRITE),
    (b"SPOP", WRITE),
    (b"SRANDMEMBER", 0),
    (b"SREM", WRITE),
    (b"SSCAN", MASTER_ONLY),
    (b"STRLEN", 0),
    (b"SUBSCRIBE", NOT_ALLOW),
    (b"SUBSTR", 0),
    (b"SUNION", 0),
    (b"SUNIONSTORE", WRITE),
    (b"SYNC", NOT_ALLOW),
    (b"TIME", NOT_ALLOW),
    (b"TOUCH", WRITE),
    (b"TTL", 0),
    (b"TYPE", 0),
    (b"UNLINK", WRITE),
    (b"UNSUBSCRIBE", NOT_ALLOW),
    (b"UNWATCH", NOT_ALLOW),
    (b"WAIT", NOT_ALLOW),
    (b"WATCH", NOT_ALLOW),
    (b"ZADD", WRITE),
    (b"ZCARD", 0),
    (b"ZCOUNT", 0),
    (b"ZINCRBY", WRITE),
    (b"ZINTERSTORE", WRITE),
    (b"ZLEXCOUNT", 0),
    (b"ZRANGE", 0),
    (b"ZRANGEBYLEX", 0),
    (b"ZRANGEBYSCORE", 0),
    (b"ZRANK", 0),
    (b"ZREM", WRITE),
    (b"ZREMRANGEBYLEX", WRITE),
    (b"ZREMRANGEBYRANK", WRITE),
    (b"ZREMRANGEBYSCORE", WRITE),
    (b"ZREVRANGE", 0),
    (b"ZREVRANGEBYLEX", 0),
    (b"ZREVRANGEBYSCORE", 0),
    (b"ZREVRANK", 0),
    (b"ZSCAN", MASTER_ONLY),
    (b"ZSCORE", 0),
    (b"ZUNIONSTORE", WRITE),
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_is_sorted() {
        assert!(TABLE.windows(2).all(|w| w[0].0 < w[1].0));
    }

    #[test]
    fn lookups() {
        let get = lookup(b"get").unwrap();
        assert_eq!(get.name, Some("GET"));
        assert!(get.is_read_only());
        assert!(lookup(b"KeYs").unwrap().is_not_allowed());
        assert!(lookup(b"slotsmgrt-exec-wrapper").unwrap().is_not_allowed());
        let unknown = lookup(b"FOOBAR").unwrap();
        assert_eq!(unknown.name, None);
        assert!(unknown.is_master_only());
        assert_eq!(lookup(b"").unwrap_err(), BadOpLen);
        assert!(lookup(&[b'A'; 64]).is_ok());
        assert_eq!(lookup(&[b'A'; 65]).unwrap_err(), BadOpLen);
        assert_eq!(lookup(b"zunionstore").unwrap().key_index, 3);
        assert!(lookup(b"SSCAN").unwrap().is_master_only());
        assert_eq!(lookup(b"unlink").unwrap().special, Special::SumKeys);
        assert_eq!(lookup(b"hello").unwrap().special, Special::Hello);
        assert_eq!(lookup(b"psubscribe").unwrap().ext, Ext::Subscribe);
        assert_eq!(lookup(b"bzpopmin").unwrap().ext, Ext::Blocking);
        assert_eq!(lookup(b"bzpopmin").unwrap().name, Some("BZPOPMIN"));
        assert_eq!(lookup(b"flushall").unwrap().ext, Ext::Cluster);
        assert_eq!(lookup(b"get").unwrap().ext, Ext::None);
    }
}
