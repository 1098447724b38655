//! MGET, DEL, EXISTS, TOUCH and UNLINK with keys on several backends are sent as one request per
//! backend connection (that backend's keys in request order) when every key's slot is settled;
//! the client gets the bytes a single server holding every key would give. A key on a migrating
//! slot keeps the per-key path (SLOTSMGRTTAGONE first, then one request per key).

mod support;

use std::time::Duration;

use codis_proxy::{Config, Slot};
use conformance::server::{free_port, Kind, Server, TempDir};
use conformance::Conn;
use support::*;

/// A fake backend answering multi-key reads and deletes as if every key held `v:<key>`.
fn answering() -> FakeBackend {
    FakeBackend::start(|args| {
        let keys = &args[1..];
        let name = String::from_utf8_lossy(&args[0]).to_ascii_uppercase();
        Some(match name.as_str() {
            "MGET" => {
                let mut out = format!("*{}\r\n", keys.len()).into_bytes();
                for k in keys {
                    let v = format!("v:{}", String::from_utf8_lossy(k));
                    out.extend_from_slice(format!("${}\r\n{v}\r\n", v.len()).as_bytes());
                }
                out
            }
            "DEL" | "EXISTS" | "TOUCH" | "UNLINK" => format!(":{}\r\n", keys.len()).into_bytes(),
            _ => b"+OK\r\n".to_vec(),
        })
    })
}

fn cmd(name: &str, keys: &[&str]) -> Vec<String> {
    std::iter::once(name).chain(keys.iter().copied()).map(str::to_string).collect()
}

#[test]
fn keys_go_once_to_each_backend_in_request_order() {
    let a = answering();
    let b = answering();
    let proxy = TestProxy::start(Config::default(), &split_on(&a.addr(), &b.addr()));
    let mut c = proxy.conn();
    let lo: Vec<String> = (0..2).map(|i| key_where(&format!("lo{i}-"), |s| s < 512)).collect();
    let hi: Vec<String> = (0..2).map(|i| key_where(&format!("hi{i}-"), |s| s >= 512)).collect();
    let keys = [&*lo[0], &*hi[0], &*lo[1], &*hi[1], &*lo[0]];
    let mget = c.call(&cmd("MGET", &keys)).unwrap();
    let mut want = "*5\r\n".to_string();
    for k in keys {
        want += &format!("${}\r\nv:{k}\r\n", k.len() + 2);
    }
    assert_eq!(raw(&mget), want);
    for name in ["DEL", "EXISTS", "TOUCH", "UNLINK"] {
        assert_eq!(raw(&c.call(&cmd(name, &keys)).unwrap()), ":5\r\n", "{name}");
        assert_eq!(a.requests(name), vec![cmd(name, &[&lo[0], &lo[1], &lo[0]])], "{name}");
        assert_eq!(b.requests(name), vec![cmd(name, &[&hi[0], &hi[1]])], "{name}");
    }
    assert_eq!(a.requests("MGET"), vec![cmd("MGET", &[&lo[0], &lo[1], &lo[0]])]);
    assert_eq!(b.requests("MGET"), vec![cmd("MGET", &[&hi[0], &hi[1]])]);
}

#[test]
fn a_failing_backend_reads_as_per_key() {
    // Backend b is loading: the reply names the first failing key's reply in Go's wording.
    let a = answering();
    let loading = "LOADING Redis is loading the dataset in memory";
    let b = FakeBackend::start(move |_| Some(format!("-{loading}\r\n").into_bytes()));
    let proxy = TestProxy::start(Config::default(), &split_on(&a.addr(), &b.addr()));
    let mut c = proxy.conn();
    let lo = key_where("lo-", |s| s < 512);
    let hi = key_where("hi-", |s| s >= 512);
    let reply = c.call(&cmd("MGET", &[&lo, &hi, &lo])).unwrap();
    assert_eq!(raw(&reply), "-ERR handle response, bad mget resp: <error> array.len = 0\r\n");
    let reply = c.call(&cmd("DEL", &[&lo, &hi])).unwrap();
    assert_eq!(raw(&reply), format!("-ERR handle response, bad del resp: <error> value.len = {}\r\n", loading.len()));
    // Every key on the failing backend (the request goes as the client sent it): the same
    // wording.
    let proxy = TestProxy::start(Config::default(), &all_on(&b.addr()));
    let mut c = proxy.conn();
    let reply = c.call(&cmd("MGET", &[&lo, &hi, &lo])).unwrap();
    assert_eq!(raw(&reply), "-ERR handle response, bad mget resp: <error> array.len = 0\r\n");
    let reply = c.call(&cmd("MSET", &[&lo, "1", &hi, "2"])).unwrap();
    assert_eq!(raw(&reply), format!("-ERR handle response, bad mset resp: <error> value.len = {}\r\n", loading.len()));
    let reply = c.call(&cmd("EXISTS", &[&lo, &hi])).unwrap();
    assert_eq!(
        raw(&reply),
        format!("-ERR handle response, bad exists resp: <error> value.len = {}\r\n", loading.len())
    );
    // A backend nobody listens on: the connection's error, as each key would get it.
    let dead = addr(free_port().unwrap());
    let proxy = TestProxy::start(Config::default(), &split_on(&a.addr(), &dead));
    let mut c = proxy.conn();
    let reply = raw(&c.call(&cmd("EXISTS", &[&lo, &hi])).unwrap());
    assert!(reply.starts_with("-ERR handle response, backend conn "), "{reply}");
}

/// The `codis-proxy` binary over `slots`, once it answers.
fn start_proxy(slots: &[Slot]) -> (ProxyProcess, u16, TempDir) {
    let dir = TempDir::new("codis-proxy-multikey").unwrap();
    let port = free_port().unwrap();
    let admin = free_port().unwrap();
    let toml = format!("proxy_addr = \"127.0.0.1:{port}\"\nadmin_addr = \"127.0.0.1:{admin}\"\n");
    let proc = ProxyProcess::start_with_slots(dir.path(), slots, &toml, &[]);
    ProxyProcess::wait_answering(port);
    (proc, port, dir)
}

/// `cmdstat_<name>:calls=N` from INFO commandstats.
fn calls(server: &Server, name: &str) -> u64 {
    let info = server.connect().unwrap().call(&["INFO", "commandstats"]).unwrap();
    let text = String::from_utf8_lossy(&info.raw).into_owned();
    let prefix = format!("cmdstat_{name}:calls=");
    text.lines()
        .find_map(|l| l.strip_prefix(&prefix))
        .map_or(0, |rest| rest.split(',').next().and_then(|n| n.parse().ok()).unwrap_or(0))
}

/// The proxy and the single server it is compared with.
struct Pair {
    proxy: Conn,
    reference: Conn,
}

impl Pair {
    /// Sends `args` to both; the replies must be the same bytes.
    fn same(&mut self, args: &[&str]) -> String {
        let want = raw(&self.reference.call(args).unwrap());
        let got = raw(&self.proxy.call(args).unwrap());
        assert_eq!(got, want, "{args:?}");
        got
    }
}

#[test]
fn two_groups_answer_like_one_redis_server() {
    let a = Server::start(Kind::Codis).unwrap();
    let b = Server::start(Kind::Codis).unwrap();
    let reference = Server::start(Kind::Redis).unwrap();
    // Slots 0..512 on a, 512..1024 on b; slot `m` is migrating from a to b (sync method).
    let m = 700;
    let mut slots = split_on(&addr(a.port()), &addr(b.port()));
    slots[m] = Slot { migrate_from: addr(a.port()), migrate_from_group_id: 1, ..slots[m].clone() };
    let (_proxy, port, _dir) = start_proxy(&slots);
    let mut p = Conn::connect(port).unwrap();
    p.set_timeout(Duration::from_secs(10));
    let mut r = reference.connect().unwrap();

    let lo: Vec<String> = (0..3).map(|i| key_where(&format!("lo{i}-"), |s| s < 512)).collect();
    let hi: Vec<String> = (0..3).map(|i| key_where(&format!("hi{i}-"), |s| s >= 512 && s != m)).collect();
    let km = key_where("km-", |s| s == m);
    // The migrating slot's key is still on the source.
    assert_eq!(raw(&a.connect().unwrap().call(&["SET", &km, "moving"]).unwrap()), "+OK\r\n");
    assert_eq!(raw(&r.call(&["SET", &km, "moving"]).unwrap()), "+OK\r\n");
    let mut mset = vec!["MSET".to_string()];
    for (i, k) in lo.iter().chain(&hi).enumerate() {
        mset.extend([k.clone(), format!("value-{i}")]);
    }
    let (l, h) = (|i: usize| lo[i].as_str(), |i: usize| hi[i].as_str());

    let before = (calls(&a, "mget"), calls(&b, "mget"));
    let mut pair = Pair { proxy: p, reference: r };
    let mut same = |args: &[&str]| pair.same(args);
    same(&mset.iter().map(String::as_str).collect::<Vec<_>>());
    // Interleaved keys, a missing one, repeats.
    same(&["MGET", l(0), h(0), "nosuch", l(1), h(1), l(0)]);
    assert_eq!(same(&["EXISTS", l(0), l(0), h(0), "nosuch", h(1)]), ":4\r\n");
    same(&["TOUCH", l(0), h(0), "nosuch", h(0)]);
    assert_eq!(same(&["DEL", l(0), l(0), h(0), "nosuch"]), ":2\r\n");
    same(&["MGET", l(0), h(0), l(1), h(1)]);
    same(&["UNLINK", l(1), h(1), h(1)]);
    same(&["EXISTS", l(0), l(1), l(2), h(0), h(1), h(2)]);
    // Two MGETs so far, each one request per backend.
    assert_eq!((calls(&a, "mget"), calls(&b, "mget")), (before.0 + 2, before.1 + 2));
    // Keys sharing a hash tag, or all on one backend: one request, the client's own.
    let tagged = ["{t}a", "{t}b", "{t}c"];
    let before = (calls(&a, "mget") + calls(&b, "mget"), calls(&a, "mset") + calls(&b, "mset"));
    same(&["MSET", tagged[0], "1", tagged[1], "2", tagged[0], "3"]);
    assert_eq!(
        same(&["MGET", tagged[0], tagged[2], tagged[1], tagged[0]]),
        "*4\r\n$1\r\n3\r\n$-1\r\n$1\r\n2\r\n$1\r\n3\r\n"
    );
    same(&["MGET", l(0), l(1), l(2)]);
    assert_eq!(same(&["EXISTS", tagged[0], tagged[0], tagged[2]]), ":2\r\n");
    same(&["TOUCH", tagged[1], tagged[2]]);
    assert_eq!(same(&["DEL", tagged[0], tagged[1], tagged[0]]), ":2\r\n");
    same(&["UNLINK", tagged[0], tagged[1]]);
    let after = (calls(&a, "mget") + calls(&b, "mget"), calls(&a, "mset") + calls(&b, "mset"));
    assert_eq!(after, (before.0 + 2, before.1 + 1));

    // A key on the migrating slot: per key, the key is moved to b first.
    let before = calls(&b, "mget");
    same(&["MGET", &km, l(2), h(2), &km]);
    assert_eq!(calls(&b, "mget"), before + 3, "one MGET per key of b");
    assert_eq!(raw(&a.connect().unwrap().call(&["EXISTS", &km]).unwrap()), ":0\r\n");
    assert_eq!(raw(&b.connect().unwrap().call(&["EXISTS", &km]).unwrap()), ":1\r\n");
    assert_eq!(same(&["EXISTS", &km, h(2), &km]), ":3\r\n");
    same(&["DEL", &km, h(2), &km, l(2)]);
    same(&["MGET", &km, h(2), l(2)]);

    // RESP3: the merged array is translated as a single server's reply.
    let hello = ["HELLO", "3"];
    assert!(pair.proxy.call(&hello).unwrap().raw.starts_with(b"%"));
    assert!(pair.reference.call(&hello).unwrap().raw.starts_with(b"%"));
    let mut same = |args: &[&str]| pair.same(args);
    same(&["MSET", l(0), "x", h(0), "y"]);
    same(&["MGET", l(0), "nosuch", h(0), l(1)]);
    same(&["EXISTS", l(0), h(0), l(0)]);
    same(&["DEL", l(0), h(0), l(0)]);
}
