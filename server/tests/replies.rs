//! Reply delivery through our codis-server. Replies of a connection that waits for its next
//! request are written by the socket thread just before it waits for events (net::deferred);
//! these tests check what that must not change: every client gets every reply, in order, also
//! when it closes its side right after its last request or pipelines more before a reply went
//! out, and large replies still arrive whole.

#[allow(unused_macros)]
mod support;

use std::io::{Read, Write};
use std::net::{Shutdown, TcpStream};

use compat::resp::Frame;
use support::{temp_dir, Conn, Server};

#[test]
fn half_closed_client_gets_its_replies() {
    let dir = temp_dir("replies-half-close");
    let server = Server::ours(&dir.0, &[]);
    server.conn().ok(&["SET", "k", "v"]);
    for _ in 0..20 {
        let mut s = TcpStream::connect(("127.0.0.1", server.port)).expect("connect");
        s.write_all(b"PING\r\nGET k\r\nGET missing\r\n").expect("write");
        s.shutdown(Shutdown::Write).expect("shutdown");
        let mut got = Vec::new();
        s.read_to_end(&mut got).expect("read");
        assert_eq!(got, b"+PONG\r\n$1\r\nv\r\n$-1\r\n", "{}", String::from_utf8_lossy(&got));
    }
}

#[test]
fn concurrent_clients_get_their_own_replies_in_order() {
    let dir = temp_dir("replies-concurrent");
    let server = Server::ours(&dir.0, &[]);
    let port = server.port;
    let clients: Vec<_> = (0..24)
        .map(|c| {
            std::thread::spawn(move || {
                let mut conn = Conn::connect(port).expect("connect");
                let key = format!("counter:{c}");
                for i in 1..=300i64 {
                    // Unpipelined, then a pipeline whose replies must stay in order.
                    assert_eq!(conn.int(&["INCR", &key]), 3 * i - 2);
                    conn.send(&[b"INCR", key.as_bytes()]);
                    conn.send(&[b"INCR", key.as_bytes()]);
                    assert_eq!(conn.read(), Frame::Integer(3 * i - 1));
                    assert_eq!(conn.read(), Frame::Integer(3 * i));
                }
                conn.cmd(&["GET", &key])
            })
        })
        .collect();
    for c in clients {
        assert_eq!(c.join().expect("client thread"), Frame::Bulk("900".into()));
    }
}

#[test]
fn large_replies_arrive_whole() {
    let dir = temp_dir("replies-large");
    let server = Server::ours(&dir.0, &[]);
    let mut conn = server.conn();
    // Around the size up to which a reply is left for the socket thread, and well past it.
    for len in [100usize, 16 * 1024 - 5, 16 * 1024 + 5, 3 << 20] {
        let value = "x".repeat(len);
        conn.ok(&["SET", "big", &value]);
        assert_eq!(conn.cmd(&["GET", "big"]), Frame::Bulk(value.into_bytes().into()), "length {len}");
    }
}
