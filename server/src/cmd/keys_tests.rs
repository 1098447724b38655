//! In-process tests of the string and keyspace commands through the dispatcher. Collection
//! values are built directly, so cross-type behaviour (WRONGTYPE, SORT, COPY, OBJECT) is tested
//! without depending on the list/hash/set/zset command families. Expected replies were
//! recorded from Redis 7.0.15.

use std::collections::VecDeque;

use bytes::Bytes;

use crate::client::Client;
use crate::cmd::{execute, Reply};
use crate::config::Config;
use crate::db::hash::HashValue;
use crate::db::set::SetValue;
use crate::db::zset::ZSetValue;
use crate::db::Value;
use crate::sds::Sds;
use crate::server::State;

struct T {
    state: State,
    client: Client,
}

impl T {
    fn new() -> T {
        let addr = "127.0.0.1:1".parse().unwrap();
        T { state: State::new(Config::default()), client: Client::new(1, addr, addr, true) }
    }

    fn run(&mut self, line: &str) -> String {
        let args: Vec<Bytes> =
            compat::resp::split_args(line.as_bytes()).unwrap().into_iter().map(Bytes::from).collect();
        let mut out = Reply::new(self.client.resp3);
        execute(&mut self.state, &mut self.client, &args, &mut out);
        String::from_utf8_lossy(&out.buf).replace("\r\n", " ").trim_end().to_string()
    }

    fn put(&mut self, key: &str, v: Value) {
        self.state.dbs[self.client.db].set(key.as_bytes(), v, false, 0);
    }

    fn list(&mut self, key: &str, items: &[&str]) {
        let l: VecDeque<Sds> = items.iter().map(|s| Sds::new(s.as_bytes())).collect();
        self.put(key, Value::List(Box::new(l)));
    }

    fn hash(&mut self, key: &str, pairs: &[(&str, &str)]) {
        let mut h = HashValue { map: Default::default(), big: false };
        for (f, v) in pairs {
            h.map.insert(Sds::new(f.as_bytes()), Sds::new(v.as_bytes()));
        }
        self.put(key, Value::Hash(Box::new(h)));
    }

    fn intset(&mut self, key: &str, items: &[i64]) {
        let mut v = items.to_vec();
        v.sort();
        self.put(key, Value::Set(Box::new(SetValue::Ints(v))));
    }

    fn zset(&mut self, key: &str, items: &[(f64, &str)]) {
        let m: Vec<(Sds, f64)> = items.iter().map(|(s, e)| (Sds::new(e.as_bytes()), *s)).collect();
        let limits = crate::db::zset::ZLimits { max_entries: 128, max_value: 64 };
        self.put(key, Value::ZSet(Box::new(ZSetValue::from_entries(m, limits))));
    }

    fn collections(&mut self) {
        self.list("l", &["3", "1", "2"]);
        self.hash("h", &[("f", "v")]);
        self.intset("s", &[5, 1, 3]);
        self.zset("z", &[(2.0, "b"), (1.0, "a"), (3.0, "c")]);
    }
}

const WT: &str = "-WRONGTYPE Operation against a key holding the wrong kind of value";

#[test]
fn string_commands_reject_collections() {
    let mut t = T::new();
    t.collections();
    for cmd in [
        "GET l",
        "SET l x GET",
        "GETSET h x",
        "GETDEL s",
        "GETEX z",
        "GETEX z EX 10",
        "APPEND l x",
        "STRLEN h",
        "SETRANGE s 0 x",
        "SETRANGE s 0 \"\"",
        "GETRANGE z 0 1",
        "SUBSTR z 0 1",
        "INCR l",
        "DECR h",
        "INCRBY s 1",
        "DECRBY z 1",
        "INCRBYFLOAT l 1",
    ] {
        assert_eq!(t.run(cmd), WT, "{cmd}");
    }
    assert_eq!(t.run("MGET l h s z nokey"), "*5 $-1 $-1 $-1 $-1 $-1");
    // Errors before the key is looked at win over WRONGTYPE.
    assert_eq!(t.run("GETRANGE l a 1"), "-ERR value is not an integer or out of range");
    assert_eq!(t.run("SETRANGE l -1 x"), "-ERR offset is out of range");
    assert_eq!(t.run("INCRBY l x"), "-ERR value is not an integer or out of range");
    assert_eq!(t.run("GETEX l FOO"), "-ERR syntax error");
    // SET/MSET/SETNX overwrite or respect any type.
    assert_eq!(t.run("SETNX l x"), ":0");
    assert_eq!(t.run("MSETNX a 1 h 2"), ":0");
    assert_eq!(t.run("SET h x"), "+OK");
    assert_eq!(t.run("TYPE h"), "+string");
}

#[test]
fn generic_commands_on_collections() {
    let mut t = T::new();
    t.collections();
    assert_eq!(t.run("TYPE l"), "+list");
    assert_eq!(t.run("TYPE h"), "+hash");
    assert_eq!(t.run("TYPE s"), "+set");
    assert_eq!(t.run("TYPE z"), "+zset");
    assert_eq!(t.run("OBJECT ENCODING l"), "$9 quicklist");
    assert_eq!(t.run("OBJECT ENCODING h"), "$8 listpack");
    assert_eq!(t.run("OBJECT ENCODING s"), "$6 intset");
    assert_eq!(t.run("OBJECT ENCODING z"), "$8 listpack");
    assert_eq!(t.run("OBJECT REFCOUNT l"), ":1");
    assert_eq!(t.run("EXPIRE l 100"), ":1");
    assert_eq!(t.run("RENAME l l2"), "+OK");
    assert_eq!(t.run("TTL l2"), ":100");
    assert_eq!(t.run("MOVE h 3"), ":1");
    assert_eq!(t.run("EXISTS h"), ":0");
    assert_eq!(t.run("DEL s z nokey"), ":2");
    assert_eq!(t.run("DBSIZE"), ":1");
    assert_eq!(t.run("SELECT 3"), "+OK");
    assert_eq!(t.run("TYPE h"), "+hash");
}

#[test]
fn copy_is_deep() {
    let mut t = T::new();
    t.collections();
    assert_eq!(t.run("COPY h h2"), ":1");
    assert_eq!(t.run("COPY z z2 DB 1"), ":1");
    assert_eq!(t.run("COPY s s2"), ":1");
    assert_eq!(t.run("OBJECT ENCODING s2"), "$6 intset");
    if let Some(Value::Hash(h)) = t.state.dbs[0].locate(b"h").map(|at| &mut t.state.dbs[0].entry_mut(at).value) {
        h.map.insert(Sds::new(b"g"), Sds::new(b"w"));
    }
    match &t.state.dbs[0].get(b"h2").unwrap().value {
        Value::Hash(h) => assert_eq!(h.len(), 1),
        _ => panic!("h2 not a hash"),
    }
    assert_eq!(t.run("SELECT 1"), "+OK");
    assert_eq!(t.run("TYPE z2"), "+zset");
    assert_eq!(t.run("SORT z2 BY nosort DESC"), "*3 $1 c $1 b $1 a");
}

#[test]
fn sort_collections() {
    let mut t = T::new();
    t.collections();
    t.hash("hw_1", &[("w", "30"), ("name", "one")]);
    t.hash("hw_3", &[("w", "10"), ("name", "three")]);
    t.hash("hw_5", &[("w", "20")]);
    assert_eq!(t.run("SORT s"), "*3 $1 1 $1 3 $1 5");
    assert_eq!(t.run("SORT s DESC LIMIT 0 2"), "*2 $1 5 $1 3");
    assert_eq!(t.run("SORT s BY hw_*->w"), "*3 $1 3 $1 5 $1 1");
    assert_eq!(t.run("SORT s BY hw_*->w GET hw_*->name GET #"), "*6 $5 three $1 3 $-1 $1 5 $3 one $1 1");
    assert_eq!(t.run("SORT s BY nosort STORE dst"), ":3");
    assert_eq!(t.run("TYPE dst"), "+list");
    assert_eq!(t.run("SORT dst BY nosort"), "*3 $1 1 $1 3 $1 5");
    assert_eq!(t.run("SORT z"), "-ERR One or more scores can't be converted into double");
    assert_eq!(t.run("SORT z ALPHA"), "*3 $1 a $1 b $1 c");
    assert_eq!(t.run("SORT z ALPHA DESC"), "*3 $1 c $1 b $1 a");
    assert_eq!(t.run("SORT z BY nosort LIMIT 1 5 DESC"), "*2 $1 b $1 a");
    assert_eq!(t.run("SORT l"), "*3 $1 1 $1 2 $1 3");
    assert_eq!(t.run("SORT l BY nosort DESC LIMIT 0 2"), "*2 $1 2 $1 1");
    assert_eq!(t.run("SORT h"), WT);
    assert_eq!(t.run("SORT_RO l STORE x"), "-ERR syntax error");
    // GET on a hash field of a non-hash, and BY on a missing field, read as missing.
    assert_eq!(t.run("SORT l BY l->x GET s_*->f"), "*3 $-1 $-1 $-1");
    t.run("HELLO 3");
    assert_eq!(t.run("SORT l GET nokey_*"), "*3 _ _ _");
}

#[test]
fn string_encodings_and_counters() {
    let mut t = T::new();
    assert_eq!(t.run("SET n 10"), "+OK");
    assert_eq!(t.run("OBJECT ENCODING n"), "$3 int");
    assert_eq!(t.run("OBJECT REFCOUNT n"), ":2147483647");
    assert_eq!(t.run("APPEND n 1"), ":3");
    assert_eq!(t.run("OBJECT ENCODING n"), "$3 raw");
    assert_eq!(t.run("INCRBYFLOAT n 0.5"), "$5 101.5");
    assert_eq!(t.run("OBJECT ENCODING n"), "$6 embstr");
    assert_eq!(t.run("INCRBYFLOAT n 0.5"), "$3 102");
    assert_eq!(t.run("OBJECT ENCODING n"), "$6 embstr");
    assert_eq!(t.run("INCR n"), ":103");
    assert_eq!(t.run("OBJECT ENCODING n"), "$3 int");
    assert_eq!(t.run("SETRANGE r 2 ab"), ":4");
    assert_eq!(t.run("OBJECT ENCODING r"), "$3 raw");
    assert_eq!(t.run("GET r"), "$4 \u{0}\u{0}ab");
    assert_eq!(t.run("SETRANGE r 536870912 x"), "-ERR string exceeds maximum allowed size (proto-max-bulk-len)");
    assert_eq!(t.run("INCRBYFLOAT f 1234"), "$4 1234");
    assert_eq!(t.run("INCRBYFLOAT f 0.1"), "$22 1234.09999999999999998");
}

#[test]
fn expire_rules() {
    let mut t = T::new();
    t.run("SET k v");
    assert_eq!(t.run("EXPIRE k 100 GT"), ":0");
    assert_eq!(t.run("EXPIRE k 100 LT"), ":1");
    assert_eq!(t.run("EXPIRE k 50 NX"), ":0");
    assert_eq!(t.run("EXPIRE k 200 GT"), ":1");
    assert_eq!(t.run("TTL k"), ":200");
    assert_eq!(t.run("PERSIST k"), ":1");
    assert_eq!(t.run("TTL k"), ":-1");
    assert_eq!(t.run("EXPIRE k -1"), ":1");
    assert_eq!(t.run("EXISTS k"), ":0");
    assert_eq!(t.run("TTL k"), ":-2");
    t.run("SET k v PXAT 1");
    assert_eq!(t.run("GET k"), "$-1");
    assert_eq!(t.run("DBSIZE"), ":0");
    assert_eq!(t.run("SET k v EX 0"), "-ERR invalid expire time in 'set' command");
    assert_eq!(t.run("SETEX k -1 v"), "-ERR invalid expire time in 'setex' command");
    assert_eq!(t.run("PEXPIRE k 9223372036854775807"), "-ERR invalid expire time in 'pexpire' command");
}

#[test]
fn flush_and_swap() {
    let mut t = T::new();
    t.run("SET a 1");
    t.run("SELECT 1");
    t.run("SET b 2");
    assert_eq!(t.run("SWAPDB 0 1"), "+OK");
    assert_eq!(t.run("GET a"), "$1 1");
    assert_eq!(t.state.dbs[0].id, 0);
    assert_eq!(t.state.dbs[1].id, 1);
    assert_eq!(t.run("FLUSHDB"), "+OK");
    assert_eq!(t.run("SELECT 0"), "+OK");
    assert_eq!(t.run("GET b"), "$1 2");
    assert_eq!(t.run("FLUSHALL ASYNC"), "+OK");
    assert_eq!(t.run("DBSIZE"), ":0");
    assert_eq!(t.run("FLUSHALL LAZY"), "-ERR syntax error");
}
