//! Pub/Sub fan-out through our codis-server: publishers write messages straight into idle
//! subscribers' sockets, and fall back to the subscriber's own connection task when it is busy
//! or its socket is full. These tests check what must not change with that: every subscriber
//! gets every message once and in publish order, interleaved correctly with the replies to its
//! own commands, and a subscriber that does not read is still closed by
//! `client-output-buffer-limit pubsub`.
//!
//! `PUBSUB_MESSAGES` scales the first test (default 20000 messages per publisher),
//! `PUBSUB_PAUSE_MESSAGES` the last (default 3000).

#[allow(unused_macros)]
mod support;

use std::io::Write;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use compat::resp::Frame;
use support::{temp_dir, Conn, Server};

fn env_num(name: &str, default: usize) -> usize {
    std::env::var(name).ok().and_then(|v| v.trim().parse().ok()).unwrap_or(default)
}

fn bulk_str(f: &Frame) -> String {
    match f {
        Frame::Bulk(b) => String::from_utf8_lossy(b).into_owned(),
        other => panic!("not a bulk: {other:?}"),
    }
}

/// `["message", channel, payload]` -> payload.
fn message_payload(f: Frame) -> String {
    match f {
        Frame::Array(v) if v.len() == 3 && bulk_str(&v[0]) == "message" => bulk_str(&v[2]),
        other => panic!("not a message: {other:?}"),
    }
}

/// Pipelined PUBLISHes of `p<id>:<seq><suffix>` in batches of `batch` (several messages per
/// subscriber per publisher batch, and single ones); `receivers`, when given, is the count
/// every PUBLISH must reply.
fn publisher(port: u16, id: usize, n: usize, batch: usize, suffix: &str, receivers: Option<i64>) {
    let mut c = Conn::connect(port).unwrap();
    let mut seq = 0;
    while seq < n {
        let end = (seq + batch).min(n);
        let mut out = Vec::new();
        for s in seq..end {
            compat::resp::write::command(&mut out, &["PUBLISH", "fan", &format!("p{id}:{s}{suffix}")]);
        }
        c.s.write_all(&out).unwrap();
        for _ in seq..end {
            match receivers {
                Some(r) => assert_eq!(c.read(), Frame::Integer(r), "one channel and one pattern subscription"),
                None => assert!(matches!(c.read(), Frame::Integer(_))),
            }
        }
        seq = end;
    }
}

#[test]
fn every_subscriber_gets_every_message_in_order() {
    let n = env_num("PUBSUB_MESSAGES", 20_000);
    let dir = temp_dir("pubsub-order");
    let server = Server::ours(&dir, &[]);
    let subscribers: Vec<Conn> = (0..8)
        .map(|_| {
            let mut c = Conn::connect(server.port).unwrap();
            c.send(&[b"SUBSCRIBE", b"fan"]);
            assert!(matches!(c.read(), Frame::Array(v) if v.len() == 3));
            c
        })
        .collect();
    let started = Instant::now();
    let pubs: Vec<_> = [(0, 1), (1, 16), (2, 3)]
        .into_iter()
        .map(|(id, batch)| {
            let port = server.port;
            std::thread::spawn(move || publisher(port, id, n, batch, "", None))
        })
        .collect();
    let readers: Vec<_> = subscribers
        .into_iter()
        .enumerate()
        .map(|(i, mut c)| {
            std::thread::spawn(move || {
                let mut next = [0usize; 3];
                let mut pings = 0;
                for got in 0..3 * n {
                    // Now and then a command of its own: its reply must come between messages,
                    // never inside one, and the messages around it stay in order.
                    if i % 2 == 0 && got % 997 == 0 {
                        c.send(&[b"PING", format!("ping{got}").as_bytes()]);
                        pings += 1;
                    }
                    let payload = loop {
                        match c.read() {
                            Frame::Array(v) if v.len() == 2 && bulk_str(&v[0]) == "pong" => {
                                pings -= 1;
                            }
                            f => break message_payload(f),
                        }
                    };
                    let (p, seq) = payload[1..].split_once(':').expect("payload p<id>:<seq>");
                    let (p, seq): (usize, usize) = (p.parse().unwrap(), seq.parse().unwrap());
                    assert_eq!(seq, next[p], "subscriber {i}: publisher {p}'s messages out of order");
                    next[p] += 1;
                }
                while pings > 0 {
                    match c.read() {
                        Frame::Array(v) if v.len() == 2 && bulk_str(&v[0]) == "pong" => pings -= 1,
                        f => panic!("subscriber {i}: after the last message: {f:?}"),
                    }
                }
                c
            })
        })
        .collect();
    for p in pubs {
        p.join().expect("publisher");
    }
    let mut subscribers: Vec<Conn> = readers.into_iter().map(|r| r.join().expect("subscriber")).collect();
    eprintln!("{} messages to 8 subscribers in {:?}", 3 * n, started.elapsed());
    // Nothing more arrives, and the connections still work.
    for c in &mut subscribers {
        c.send(&[b"PING"]);
        assert_eq!(c.read(), Frame::Array(vec![Frame::Bulk("pong".into()), Frame::Bulk("".into())]));
    }
    let mut admin = server.conn();
    assert_eq!(
        admin.cmd(&["PUBSUB", "NUMSUB", "fan"]),
        Frame::Array(vec![Frame::Bulk("fan".into()), Frame::Integer(8)])
    );
}

#[test]
fn subscriber_that_does_not_read_is_closed_at_the_pubsub_limit() {
    const TOTAL: usize = 20_000;
    let dir = temp_dir("pubsub-limit");
    let server = Server::ours(&dir, &["--client-output-buffer-limit", "pubsub 256kb 0 0"]);
    let mut slow = Conn::connect(server.port).unwrap();
    slow.send(&[b"SUBSCRIBE", b"fan"]);
    assert!(matches!(slow.read(), Frame::Array(v) if v.len() == 3));
    let mut fast = Conn::connect(server.port).unwrap();
    fast.send(&[b"SUBSCRIBE", b"fan"]);
    assert!(matches!(fast.read(), Frame::Array(v) if v.len() == 3));
    // How many messages the reading subscriber got: the publisher waits for it after each batch,
    // so it never lags by more than one batch (100 KB, under the limit).
    let got = Arc::new(AtomicUsize::new(0));
    let fast_reader = {
        let got = got.clone();
        std::thread::spawn(move || {
            let mut n = 0;
            while let Frame::Array(_) = fast.read() {
                n += 1;
                got.store(n, Ordering::Release);
                if n == TOTAL {
                    break;
                }
            }
            // The connection stays open (and subscribed) for the checks below.
            (n, fast)
        })
    };
    // 20 MB of ~1 KB messages: more than the kernel's socket buffers plus the 256 KB limit
    // for the one that does not read; the other reads everything.
    let mut publisher = server.conn();
    let payload = "x".repeat(1000);
    let mut receivers = Vec::new();
    for batch in 0..TOTAL / 100 {
        let deadline = Instant::now() + Duration::from_secs(30);
        while got.load(Ordering::Acquire) < batch * 100 {
            assert!(Instant::now() < deadline, "the reading subscriber stalls");
            std::thread::sleep(Duration::from_micros(200));
        }
        let mut out = Vec::new();
        for _ in 0..100 {
            compat::resp::write::command(&mut out, &["PUBLISH", "fan", &payload]);
        }
        publisher.s.write_all(&out).unwrap();
        for _ in 0..100 {
            match publisher.read() {
                Frame::Integer(n) => receivers.push(n),
                f => panic!("{f:?}"),
            }
        }
    }
    let (n, _fast) = fast_reader.join().unwrap();
    assert_eq!(n, TOTAL, "the reading subscriber got every message");
    assert_eq!(receivers.first(), Some(&2));
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let numsub = publisher.cmd(&["PUBSUB", "NUMSUB", "fan"]);
        if numsub == Frame::Array(vec![Frame::Bulk("fan".into()), Frame::Integer(1)]) {
            break;
        }
        assert!(Instant::now() < deadline, "the subscriber that does not read is still subscribed: {numsub:?}");
        std::thread::sleep(Duration::from_millis(20));
    }
    assert_eq!(receivers.last(), Some(&1), "later messages reach the reading subscriber only");
    // What the closed subscriber can still read ends before the limit, and then the socket closes.
    slow.s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let mut total = 0usize;
    let mut tmp = vec![0u8; 1 << 16];
    loop {
        match std::io::Read::read(&mut slow.s, &mut tmp) {
            Ok(0) => break,
            Ok(n) => total += n,
            Err(e) => panic!("the closed subscriber's socket: {e}"),
        }
    }
    assert!(total < TOTAL * 1000, "the closed subscriber got {total} bytes, not all messages");
}

/// `["pmessage", pattern, channel, payload]` -> payload.
fn pmessage_payload(f: Frame) -> String {
    match f {
        Frame::Array(v) if v.len() == 4 && bulk_str(&v[0]) == "pmessage" && bulk_str(&v[1]) == "f*" => bulk_str(&v[3]),
        other => panic!("not a pmessage of f*: {other:?}"),
    }
}

/// A subscriber that stops reading now and then: its socket fills up, the direct writes that
/// do not fit go back to its own connection task (in front of what was published meanwhile),
/// and once it reads again the flusher takes over. Across these switches every message arrives
/// whole, once and in order, each channel message right before the pattern message of the same
/// PUBLISH, with the replies to its own PINGs in between.
///
/// `PUBSUB_PAUSE_MESSAGES` scales it (default 3000 messages of ~1 KB per publisher).
#[test]
fn subscriber_that_pauses_gets_everything_in_order_across_fallbacks() {
    let n = env_num("PUBSUB_PAUSE_MESSAGES", 3000);
    let dir = temp_dir("pubsub-pause");
    let server = Server::ours(&dir, &["--client-output-buffer-limit", "pubsub 0 0 0"]);
    let mut sub = Conn::connect(server.port).unwrap();
    sub.send(&[b"SUBSCRIBE", b"fan"]);
    assert!(matches!(sub.read(), Frame::Array(v) if v.len() == 3));
    sub.send(&[b"PSUBSCRIBE", b"f*"]);
    assert!(matches!(sub.read(), Frame::Array(v) if v.len() == 3));
    let started = Instant::now();
    let pubs: Vec<_> = [(0, 1), (1, 7)]
        .into_iter()
        .map(|(id, batch)| {
            let port = server.port;
            let suffix = format!(":{}", "x".repeat(1000));
            std::thread::spawn(move || publisher(port, id, n, batch, &suffix, Some(2)))
        })
        .collect();
    let mut next = [0usize; 2];
    let mut pings = 0;
    let mut pongs = 0;
    for got in 0..2 * n {
        if got % (n / 3).max(1) == 0 {
            // Stop reading for a while: the socket buffers fill while both publishers go on.
            std::thread::sleep(Duration::from_millis(150));
        }
        if got % 211 == 0 {
            sub.send(&[b"PING", format!("ping{got}").as_bytes()]);
            pings += 1;
        }
        let payload = loop {
            match sub.read() {
                Frame::Array(v) if v.len() == 2 && bulk_str(&v[0]) == "pong" => {
                    assert_eq!(bulk_str(&v[1]), format!("ping{}", 211 * pongs), "PING replies in order");
                    pongs += 1;
                }
                f => break message_payload(f),
            }
        };
        assert_eq!(pmessage_payload(sub.read()), payload, "the pattern message follows its channel message");
        let mut parts = payload.splitn(3, ':');
        let p: usize = parts.next().and_then(|p| p[1..].parse().ok()).expect("payload p<id>:<seq>:<pad>");
        let seq: usize = parts.next().and_then(|s| s.parse().ok()).expect("payload p<id>:<seq>:<pad>");
        assert_eq!(parts.next().map(str::len), Some(1000), "message cut or merged");
        assert_eq!(seq, next[p], "publisher {p}'s messages out of order");
        next[p] += 1;
    }
    while pongs < pings {
        match sub.read() {
            Frame::Array(v) if v.len() == 2 && bulk_str(&v[0]) == "pong" => pongs += 1,
            f => panic!("after the last message: {f:?}"),
        }
    }
    for p in pubs {
        p.join().expect("publisher");
    }
    eprintln!("{} messages (x2) to a pausing subscriber in {:?}", 2 * n, started.elapsed());
    sub.send(&[b"PING"]);
    assert_eq!(sub.read(), Frame::Array(vec![Frame::Bulk("pong".into()), Frame::Bulk("".into())]));
    let mut admin = server.conn();
    assert_eq!(admin.cmd(&["PUBSUB", "NUMPAT"]), Frame::Integer(1));
}
