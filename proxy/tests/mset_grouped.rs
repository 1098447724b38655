//! MSET is sent as one MSET per backend connection (the pairs of that backend, in request
//! order) when no key's slot is migrating, locked or held; the client's reply is the same bytes
//! as with one request per key. A migrating slot keeps the per-key path.

mod support;

use codis_proxy::{Config, Slot};
use support::*;

fn mset(pairs: &[(&str, &str)]) -> Vec<String> {
    let mut args = vec!["MSET".to_string()];
    for (k, v) in pairs {
        args.push(k.to_string());
        args.push(v.to_string());
    }
    args
}

#[test]
fn mset_goes_once_to_each_backend() {
    let a = FakeBackend::start(|_| None);
    let b = FakeBackend::start(|_| None);
    let proxy = TestProxy::start(Config::default(), &split_on(&a.addr(), &b.addr()));
    let mut c = proxy.conn();
    let lo: Vec<String> = (0..3).map(|i| key_where(&format!("lo{i}-"), |s| s < 512)).collect();
    let hi: Vec<String> = (0..2).map(|i| key_where(&format!("hi{i}-"), |s| s >= 512)).collect();
    // Interleaved, with a key repeated: each backend gets its pairs in request order.
    let pairs = [(&*lo[0], "1"), (&*hi[0], "2"), (&*lo[1], "3"), (&*hi[1], "4"), (&*lo[2], "5"), (&*lo[0], "6")];
    assert_eq!(raw(&c.call(&mset(&pairs)).unwrap()), "+OK\r\n");
    let want_a = mset(&[(&*lo[0], "1"), (&*lo[1], "3"), (&*lo[2], "5"), (&*lo[0], "6")]);
    let want_b = mset(&[(&*hi[0], "2"), (&*hi[1], "4")]);
    assert_eq!(a.requests("MSET"), vec![want_a]);
    assert_eq!(b.requests("MSET"), vec![want_b]);
}

#[test]
fn grouped_mset_error_reads_as_per_key() {
    // Backend b refuses writes: the reply names the first failing part as the per-key path did
    // (Go's `bad mset resp: <type> value.len = N`).
    let a = FakeBackend::start(|_| None);
    let b = FakeBackend::start(|args| {
        args[0]
            .eq_ignore_ascii_case(b"MSET")
            .then(|| b"-READONLY You can't write against a read only replica.\r\n".to_vec())
    });
    let proxy = TestProxy::start(Config::default(), &split_on(&a.addr(), &b.addr()));
    let mut c = proxy.conn();
    let lo = key_where("lo-", |s| s < 512);
    let hi = key_where("hi-", |s| s >= 512);
    let reply = c.call(&mset(&[(&lo, "1"), (&hi, "2")])).unwrap();
    let msg = "READONLY You can't write against a read only replica.";
    assert_eq!(raw(&reply), format!("-ERR handle response, bad mset resp: <error> value.len = {}\r\n", msg.len()));
    assert_eq!(b.requests("MSET").len(), 1);
}

#[test]
fn mset_on_a_migrating_slot_goes_per_key() {
    let from = FakeBackend::start(|args| args[0].eq_ignore_ascii_case(b"SLOTSMGRTTAGONE").then(|| b":1\r\n".to_vec()));
    let to = FakeBackend::start(|_| None);
    let k1 = key_where("m1-", |s| s == 7);
    let k2 = key_where("m2-", |s| s == 8);
    let mut slots = all_on(&to.addr());
    slots[7] = Slot { migrate_from: from.addr(), migrate_from_group_id: 2, ..slots[7].clone() };
    let proxy = TestProxy::start(Config::default(), &slots);
    let mut c = proxy.conn();
    assert_eq!(raw(&c.call(&mset(&[(&k1, "1"), (&k2, "2")])).unwrap()), "+OK\r\n");
    // The migrating key was moved first; then one MSET per key.
    assert_eq!(from.requests("SLOTSMGRTTAGONE").len(), 1);
    assert_eq!(to.requests("MSET"), vec![mset(&[(&k1, "1")]), mset(&[(&k2, "2")])]);
}
