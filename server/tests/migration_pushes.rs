//! Pushes made by an async migration after its command returned reach their own client.
//!
//! Found with the Go codis-dashboard (scripts/interop-go.py): when an async batch finished,
//! the deletion of the moved keys fed `DEL key` to the replicas; if a replica (or any client
//! with pushes due) had run the last command, the server still took it for the running client
//! and the bytes went into the reply of the next command of another client. The dashboard read
//! `[DEL key]` as the reply of SLOTSMGRTTAGSLOT-ASYNC and the proxies' backend connections lost
//! their reply order. Here the pushed bytes are a keyspace notification: a subscriber runs the
//! last command before a fake target acknowledges the batch; the next client's PING must get
//! exactly PONG, and the subscriber its notification.

#[allow(unused_macros)]
mod support;

use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::sync::mpsc;
use std::time::Duration;

use compat::resp::Frame;
use support::{temp_dir, Server};

/// Reads one RESP array of bulk strings (what a migrating source sends).
fn read_command(r: &mut impl BufRead) -> Option<Vec<Vec<u8>>> {
    let mut line = String::new();
    r.read_line(&mut line).ok()?;
    let n: usize = line.trim_end().strip_prefix('*')?.parse().ok()?;
    let mut args = Vec::with_capacity(n);
    for _ in 0..n {
        line.clear();
        r.read_line(&mut line).ok()?;
        let len: usize = line.trim_end().strip_prefix('$')?.parse().ok()?;
        let mut buf = vec![0; len + 2];
        r.read_exact(&mut buf).ok()?;
        buf.truncate(len);
        args.push(buf);
    }
    Some(args)
}

#[test]
fn async_migration_pushes_do_not_land_in_another_clients_reply() {
    let dir = temp_dir("mgrt-pushes");
    // hz 1: the once-a-tick reset of the running client must not hide the bug.
    let src = Server::ours(&dir.0, &["--hz", "1", "--notify-keyspace-events", "KA"]);
    let target = TcpListener::bind("127.0.0.1:0").unwrap();
    let target_port = target.local_addr().unwrap().port();

    // The fake target: collects the batch, acknowledges it all when told to.
    let (go_tx, go_rx) = mpsc::channel::<()>();
    let (got_tx, got_rx) = mpsc::channel::<usize>();
    let fake = std::thread::spawn(move || {
        let (sock, _) = target.accept().unwrap();
        sock.set_read_timeout(Some(Duration::from_millis(300))).unwrap();
        let mut w = sock.try_clone().unwrap();
        let mut r = BufReader::new(sock);
        let mut n = 0;
        while read_command(&mut r).is_some() {
            n += 1;
        }
        got_tx.send(n).unwrap();
        go_rx.recv().unwrap();
        for _ in 0..n {
            w.write_all(b"*3\r\n$22\r\nSLOTSRESTORE-ASYNC-ACK\r\n$1\r\n0\r\n$2\r\nOK\r\n").unwrap();
        }
        w.flush().unwrap();
        std::thread::sleep(Duration::from_millis(500));
    });

    let mut a = src.conn();
    a.ok(&["SET", "k", "v"]);
    let mut s = src.conn();
    s.send(&[b"SUBSCRIBE", b"__keyspace@0__:k"]);
    assert!(matches!(s.read(), Frame::Array(_)), "subscribe confirmation");
    let port = target_port.to_string();
    a.send(&[b"SLOTSMGRTTAGONE-ASYNC", b"127.0.0.1", port.as_bytes(), b"5000", b"200", b"1048576", b"k"]);
    let sent = got_rx.recv_timeout(Duration::from_secs(10)).expect("the source sent its batch");
    assert!(sent >= 2, "select + restore messages, got {sent}");
    // The subscriber runs the last command before the batch completes.
    s.send(&[b"PING"]);
    assert!(matches!(s.read(), Frame::Array(_)), "PING in subscribe mode");
    go_tx.send(()).unwrap();
    assert_eq!(a.read(), Frame::Integer(1), "one key migrated");
    let mut b = src.conn();
    assert_eq!(b.cmd(&["PING"]), Frame::Simple("PONG".into()), "another client's reply holds no push");
    match s.read() {
        Frame::Array(m) => assert!(format!("{m:?}").contains("del"), "notification: {m:?}"),
        other => panic!("the subscriber's notification, got {other:?}"),
    }
    fake.join().unwrap();
}
