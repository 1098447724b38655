//! Requests for a slot that is migrating or locked. The source backend is a scripted fake that
//! answers the migration helpers with the reply shapes recorded from codis-server 3.2
//! (`shared/reference/codis-3.2/wire/README.md`: SLOTSMGRTTAGONE gives an integer,
//! SLOTSMGRT-EXEC-WRAPPER gives `[code, reply]`); the target is a real Redis.

mod support;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use codis_proxy::{Config, Slot};
use conformance::server::{Kind, Server};
use support::*;

fn migrating(target: &str, from: &str, method: i64) -> Vec<Slot> {
    (0..1024)
        .map(|i| Slot {
            id: i,
            backend_addr: target.into(),
            backend_addr_group_id: 2,
            migrate_from: from.into(),
            migrate_from_group_id: 1,
            forward_method: method,
            ..Slot::default()
        })
        .collect()
}

#[test]
fn sync_method_moves_the_key_first() {
    let target = Server::start(Kind::Redis).unwrap();
    let source = FakeBackend::start(|args| match &args[0][..] {
        b"SLOTSMGRTTAGONE" if args[4] == b"refuse" => Some(b"-ERR migration refused\r\n".to_vec()),
        b"SLOTSMGRTTAGONE" => Some(b":1\r\n".to_vec()),
        _ => None,
    });
    let p = TestProxy::start(Config::default(), &migrating(&addr(target.port()), &source.addr(), 0));
    let mut c = p.conn();
    assert_eq!(raw(&c.call(&["SET", "{tag}k", "v"]).unwrap()), "+OK\r\n");
    assert_eq!(
        source.requests("SLOTSMGRTTAGONE"),
        vec![vec![
            "SLOTSMGRTTAGONE".to_string(),
            "127.0.0.1".into(),
            target.port().to_string(),
            "3000".into(),
            "{tag}k".into()
        ]]
    );
    assert_eq!(raw(&target.connect().unwrap().call(&["GET", "{tag}k"]).unwrap()), "$1\r\nv\r\n");
    // Each key of a split request is moved on its own.
    assert_eq!(raw(&c.call(&["MGET", "a", "b"]).unwrap()), "*2\r\n$-1\r\n$-1\r\n");
    let moved: Vec<String> = source.requests("SLOTSMGRTTAGONE").into_iter().map(|r| r[4].clone()).collect();
    assert_eq!(moved, ["{tag}k", "a", "b"]);
    // A failing move fails the request.
    assert_eq!(
        raw(&c.call(&["GET", "refuse"]).unwrap()),
        "-ERR handle request, bad slotsmgrt resp: ERR migration refused\r\n"
    );
    // Requests without a key are not preceded by a move.
    let before = source.requests("SLOTSMGRTTAGONE").len();
    assert_eq!(raw(&c.call(&["PING"]).unwrap()), "+PONG\r\n");
    assert_eq!(source.requests("SLOTSMGRTTAGONE").len(), before);
}

#[test]
fn semi_async_method_runs_through_the_wrapper() {
    let target = Server::start(Kind::Redis).unwrap();
    let busy = Arc::new(AtomicUsize::new(0));
    let busy2 = busy.clone();
    let source = FakeBackend::start(move |args| {
        if args[0] != b"SLOTSMGRT-EXEC-WRAPPER" {
            return None;
        }
        Some(match &args[1][..] {
            // The wrapped command's own reply: MGET of one key is an array.
            b"here" if args[2] == b"MGET" => b"*2\r\n:2\r\n*1\r\n$11\r\nhello world\r\n".to_vec(),
            b"here" => b"*2\r\n:2\r\n$11\r\nhello world\r\n".to_vec(),
            b"gone" => b"*2\r\n:0\r\n-ERR the specified key doesn't exist\r\n".to_vec(),
            b"busy" if busy2.fetch_add(1, Ordering::SeqCst) < 8 => {
                b"*2\r\n:1\r\n-ERR the specified key is being migrated\r\n".to_vec()
            }
            b"busy" => b"*2\r\n:0\r\n-ERR the specified key doesn't exist\r\n".to_vec(),
            _ => b"*2\r\n:-1\r\n-ERR invalid command specified (NOSUCHCMD)\r\n".to_vec(),
        })
    });
    target.connect().unwrap().call(&["SET", "gone", "on-target"]).unwrap();
    target.connect().unwrap().call(&["SET", "busy", "moved"]).unwrap();
    let p = TestProxy::start(Config::default(), &migrating(&addr(target.port()), &source.addr(), 1));
    let mut c = p.conn();
    // Code 2: the source ran it; its reply is the client's.
    assert_eq!(raw(&c.call(&["GET", "here"]).unwrap()), "$11\r\nhello world\r\n");
    assert_eq!(source.requests("SLOTSMGRT-EXEC-WRAPPER")[0], ["SLOTSMGRT-EXEC-WRAPPER", "here", "GET", "here"]);
    // Code 0: the key is gone from the source, the target answers.
    assert_eq!(raw(&c.call(&["GET", "gone"]).unwrap()), "$9\r\non-target\r\n");
    // Code 1: retried with back-off until the key has moved.
    let t = Instant::now();
    assert_eq!(raw(&c.call(&["GET", "busy"]).unwrap()), "$5\r\nmoved\r\n");
    assert_eq!(busy.load(Ordering::SeqCst), 9);
    // Five retries at once, then 5, 6 and 7 ms.
    assert!(t.elapsed() >= Duration::from_millis(15), "{:?}", t.elapsed());
    // Other codes fail the request with the wrapper's message.
    assert_eq!(
        raw(&c.call(&["GET", "other"]).unwrap()),
        "-ERR handle request, bad slotsmgrt-exec-wrapper resp: [-1] ERR invalid command specified (NOSUCHCMD)\r\n"
    );
    // Each key of a split request is wrapped on its own, replies merged in order.
    assert_eq!(raw(&c.call(&["MGET", "here", "gone"]).unwrap()), "*2\r\n$11\r\nhello world\r\n$9\r\non-target\r\n");
}

#[test]
fn locked_slots_hold_requests_until_unlocked() {
    let a = Server::start(Kind::Redis).unwrap();
    let mut slots = all_on(&addr(a.port()));
    let p = TestProxy::start(Config::default(), &slots);
    let key = "locked-key";
    let slot = compat::slot::slot_of(key.as_bytes());
    slots[slot].locked = true;
    p.fill(&slots[slot..slot + 1]);
    let mut c = p.conn();
    c.set_timeout(Duration::from_millis(300));
    c.send(&["SET", key, "v"]).unwrap();
    assert!(matches!(c.read(), Err(conformance::ConnError::Timeout)), "no reply while locked");
    // Other slots are served meanwhile (on another connection).
    assert_eq!(raw(&p.conn().call(&["SET", "other-key", "v"]).unwrap()), "+OK\r\n");
    slots[slot].locked = false;
    p.fill(&slots[slot..slot + 1]);
    c.set_timeout(Duration::from_secs(5));
    assert_eq!(raw(&c.read().unwrap()), "+OK\r\n");
    assert!(p.proxy.slots()[slot].backend_addr == addr(a.port()) && !p.proxy.slots()[slot].locked);
}

#[test]
fn refilling_a_slot_waits_for_requests_in_flight() {
    // A backend that answers GET after 400 ms.
    let slow = FakeBackend::start(|args| {
        if args[0] == b"GET" {
            std::thread::sleep(Duration::from_millis(400));
            return Some(b"$4\r\nslow\r\n".to_vec());
        }
        None
    });
    let fast = Server::start(Kind::Redis).unwrap();
    let p = TestProxy::start(Config::default(), &all_on(&slow.addr()));
    let mut c = p.conn();
    c.send(&["GET", "k"]).unwrap();
    std::thread::sleep(Duration::from_millis(50));
    let slot = compat::slot::slot_of(b"k");
    let t = Instant::now();
    let new = Slot { id: slot as i64, backend_addr: addr(fast.port()), backend_addr_group_id: 2, ..Slot::default() };
    p.fill(&[new]);
    let waited = t.elapsed();
    assert!(waited >= Duration::from_millis(250), "fill returned after {waited:?}, before the reply");
    assert_eq!(raw(&c.read().unwrap()), "$4\r\nslow\r\n");
    assert_eq!(raw(&c.call(&["GET", "k"]).unwrap()), "$-1\r\n");
}
