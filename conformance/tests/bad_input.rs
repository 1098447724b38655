//! Malformed and hostile input: the server answers with Redis's exact error text, closes the
//! connection exactly when Redis does, keeps serving another client connected at the same time,
//! and never dies.
//!
//! Every case runs against Redis 7 too (which validates the expected bytes), except where our
//! server follows codis-server 3.2 instead (the 1M-element multibulk limit: Redis 7 accepts up to
//! INT_MAX elements and waits for them).
//!
//! Cases that need a command our server does not know yet are skipped with a note
//! (`CONFORMANCE_STRICT=1` makes that a failure).

use std::collections::BTreeSet;
use std::time::Duration;

use conformance::{render, Conn, Kind, Server};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum After {
    /// Redis closes the connection.
    Close,
    /// The connection stays usable (PING works).
    Open,
    /// No reply and the connection stays open: Redis is still waiting for the end of the
    /// request (a NUL byte hides the newline of an inline request from its `strchr`).
    Waits,
}

struct Case {
    name: &'static str,
    /// Commands run first on the same connection.
    setup: &'static [&'static [&'static str]],
    send: Vec<u8>,
    expect: Vec<u8>,
    /// What the connection does after the reply.
    after: After,
    /// Commands the case needs besides the protocol.
    needs: &'static [&'static str],
    /// Redis 7.0 behaves the same (false: only our server is checked, see the module doc).
    redis7: bool,
}

fn case(name: &'static str, send: impl Into<Vec<u8>>, expect: impl Into<Vec<u8>>, closes: bool) -> Case {
    let after = if closes { After::Close } else { After::Open };
    Case { name, setup: &[], send: send.into(), expect: expect.into(), after, needs: &[], redis7: true }
}

fn cases() -> Vec<Case> {
    let proto = |m: &str| format!("-ERR Protocol error: {m}\r\n").into_bytes();
    let mut v = vec![
        case("multibulk count not a number", "*abc\r\n", proto("invalid multibulk length"), true),
        case("bulk length not a number", "*1\r\n$x\r\n", proto("invalid bulk length"), true),
        case("missing $ before a bulk", "*1\r\nfoo\r\n", proto("expected '$', got 'f'"), true),
        case("integer instead of a bulk", "*2\r\n$3\r\nGET\r\n:1\r\n", proto("expected '$', got ':'"), true),
        case("600 MB bulk header", "*1\r\n$600000000\r\n", proto("invalid bulk length"), true),
        case("bulk just over 512 MB", "*1\r\n$536870913\r\n", proto("invalid bulk length"), true),
        case("negative bulk length", "*1\r\n$-1\r\n", proto("invalid bulk length"), true),
        case("multibulk count over INT_MAX", "*3000000000\r\n", proto("invalid multibulk length"), true),
        Case {
            redis7: false,
            ..case(
                "2M-element multibulk (codis-server 3.2 limit: 1M)",
                "*2000000\r\n",
                proto("invalid multibulk length"),
                true,
            )
        },
        case("inline: unbalanced double quote", "set \"a\r\n", proto("unbalanced quotes in request"), true),
        case("inline: unbalanced single quote", "set 'a\r\n", proto("unbalanced quotes in request"), true),
        case("inline: text after a closing quote", "set \"a\"b c\r\n", proto("unbalanced quotes in request"), true),
        case("inline request over 64 KB", vec![b'x'; 70_000], proto("too big inline request"), true),
        case(
            "multibulk count line over 64 KB",
            [&b"*"[..], &vec![b'1'; 70_000]].concat(),
            proto("too big mbulk count string"),
            true,
        ),
        case(
            "bulk count line over 64 KB",
            [&b"*1\r\n$"[..], &vec![b'1'; 70_000]].concat(),
            proto("too big bulk count string"),
            true,
        ),
        case(
            "good command, then garbage in the same packet",
            "PING\r\n*abc\r\n",
            [&b"+PONG\r\n"[..], &proto("invalid multibulk length")].concat(),
            true,
        ),
        case("empty and negative multibulk are skipped", "*0\r\n*-5\r\nPING\r\n", "+PONG\r\n", false),
        case("blank inline lines are skipped", "\r\n\r\nPING\r\n", "+PONG\r\n", false),
        case(
            "wrong arity (multibulk)",
            "*1\r\n$3\r\nGET\r\n",
            "-ERR wrong number of arguments for 'get' command\r\n",
            false,
        ),
        case("wrong arity (inline)", "GET\r\n", "-ERR wrong number of arguments for 'get' command\r\n", false),
        case(
            "wrong arity, too many",
            "*3\r\n$3\r\nGET\r\n$1\r\na\r\n$1\r\nb\r\n",
            "-ERR wrong number of arguments for 'get' command\r\n",
            false,
        ),
        case(
            "unknown command",
            "FOO bar\r\n",
            "-ERR unknown command 'FOO', with args beginning with: 'bar' \r\n",
            false,
        ),
        case(
            "unknown command with non-UTF-8 bytes (echoed as they are)",
            &b"N\xba2G8 \xb4x\r\n"[..],
            &b"-ERR unknown command 'N\xba2G8', with args beginning with: '\xb4x' \r\n"[..],
            false,
        ),
        Case { after: After::Waits, ..case("inline request with a NUL byte", &b"\x00\r\nPING\r\n"[..], "", false) },
        Case { after: After::Waits, ..case("inline argument with a NUL byte", &b"ECHO a\x00b\r\n"[..], "", false) },
        case("non-integer DB index", "SELECT abc\r\n", "-ERR value is not an integer or out of range\r\n", false),
        case("DB index out of range", "SELECT 99\r\n", "-ERR DB index is out of range\r\n", false),
        Case {
            redis7: false, // a Codis command
            ..case("non-integer slot", "SLOTSINFO x\r\n", "-ERR value is not an integer or out of range\r\n", false)
        },
    ];
    v.extend([
        Case {
            setup: &[&["DEL", "l"], &["RPUSH", "l", "a"]],
            needs: &["RPUSH", "DEL"],
            ..case(
                "wrong type",
                "GET l\r\n",
                "-WRONGTYPE Operation against a key holding the wrong kind of value\r\n",
                false,
            )
        },
        Case {
            setup: &[&["SET", "n", "abc"]],
            needs: &["INCR"],
            ..case("INCR on a non-integer", "INCR n\r\n", "-ERR value is not an integer or out of range\r\n", false)
        },
        Case {
            setup: &[&["SET", "n", "1"]],
            needs: &["INCRBY"],
            ..case(
                "non-integer increment",
                "INCRBY n 1.5\r\n",
                "-ERR value is not an integer or out of range\r\n",
                false,
            )
        },
        Case {
            setup: &[&["SET", "n", "1"]],
            needs: &["GETEX"],
            ..case(
                "non-integer expire",
                "GETEX n EX abc\r\n",
                "-ERR value is not an integer or out of range\r\n",
                false,
            )
        },
        Case {
            needs: &["HSET"],
            ..case(
                "HSET with a field but no value",
                "HSET h f\r\n",
                "-ERR wrong number of arguments for 'hset' command\r\n",
                false,
            )
        },
        Case {
            needs: &["LRANGE"],
            ..case(
                "non-integer list index",
                "LRANGE l 0 x\r\n",
                "-ERR value is not an integer or out of range\r\n",
                false,
            )
        },
    ]);
    v
}

/// The other client: must keep working whatever the bad one does.
fn bystander_ok(c: &mut Conn, after: &str) {
    c.set_timeout(Duration::from_secs(5));
    let r = c.call(&["PING"]).unwrap_or_else(|e| panic!("bystander PING after {after:?}: {e}"));
    assert_eq!(r.raw, b"+PONG\r\n", "bystander PING after {after:?}");
    let r = c.call(&["ECHO", "still here"]).unwrap_or_else(|e| panic!("bystander ECHO after {after:?}: {e}"));
    assert_eq!(r.raw, b"$10\r\nstill here\r\n", "bystander ECHO after {after:?}");
}

fn run(kind: Kind) {
    let mut server = Server::start(kind).unwrap_or_else(|e| panic!("{e:#}"));
    let mut bystander = server.connect().unwrap();
    bystander_ok(&mut bystander, "start");
    let all = cases();
    let needed: BTreeSet<String> = all.iter().flat_map(|c| c.needs.iter().map(|s| s.to_string())).collect();
    let missing = conformance::diff::missing_commands(server.port(), &needed).unwrap();
    let mut failures = Vec::new();
    let mut skipped = Vec::new();
    for c in &all {
        if kind == Kind::Redis && !c.redis7 {
            continue;
        }
        if let Some(m) = c.needs.iter().find(|n| missing.iter().any(|x| x == *n)) {
            skipped.push(format!("{} (needs {m})", c.name));
            continue;
        }
        let mut conn = server.connect().unwrap();
        for s in c.setup {
            conn.call(s).unwrap_or_else(|e| panic!("{}: set-up {s:?}: {e}", c.name));
        }
        conn.send_raw(&c.send).unwrap_or_else(|e| panic!("{}: send: {e}", c.name));
        let (got, _) = conn.read_raw(c.expect.len(), Duration::from_secs(5));
        if got != c.expect {
            failures.push(format!(
                "{}: expected {} got {}",
                c.name,
                render::raw(&c.expect, 200),
                render::raw(&got, 200)
            ));
        } else {
            match c.after {
                After::Close => {
                    let (extra, closed) = conn.drain_until_close(Duration::from_secs(5));
                    if !closed || !extra.is_empty() {
                        failures.push(format!(
                            "{}: connection should close right after the error (closed={closed}, extra {})",
                            c.name,
                            render::raw(&extra, 200)
                        ));
                    }
                }
                After::Open => match conn.call(&["PING"]) {
                    Ok(r) if r.raw == b"+PONG\r\n" => {}
                    other => failures.push(format!("{}: connection should stay usable, PING gave {other:?}", c.name)),
                },
                After::Waits => {
                    let (extra, closed) = conn.drain_until_close(Duration::from_millis(300));
                    if closed || !extra.is_empty() {
                        failures.push(format!(
                            "{}: should wait silently with the connection open (closed={closed}, got {})",
                            c.name,
                            render::raw(&extra, 200)
                        ));
                    }
                }
            }
        }
        bystander_ok(&mut bystander, c.name);
        assert!(server.is_alive(), "{} died after {:?}:\n{}", kind.name(), c.name, server.log_tail(3000));
    }
    if !skipped.is_empty() {
        let msg = format!("{}: skipped, commands not known yet: {}", kind.name(), skipped.join("; "));
        eprintln!("{msg}");
        assert!(!conformance::strict(), "{msg} (CONFORMANCE_STRICT=1)");
    }
    assert!(failures.is_empty(), "{}:\n{}", kind.name(), failures.join("\n"));
    bystander_ok(&mut bystander, "all cases");
    let mut fresh = server.connect().unwrap();
    assert_eq!(fresh.call(&["PING"]).unwrap().raw, b"+PONG\r\n");
}

#[test]
fn bad_input_redis7_reference() {
    run(Kind::Redis);
}

#[test]
fn bad_input_codis_server() {
    run(Kind::Codis);
}

/// A client in the middle of sending a large value does not hold up the others, and a client
/// that disconnects half-way leaves the server fine.
fn slow_sender(kind: Kind) {
    let mut server = Server::start(kind).unwrap();
    let mut slow = server.connect().unwrap();
    slow.send_raw(b"*3\r\n$3\r\nSET\r\n$3\r\nbig\r\n$10000000\r\nabc").unwrap();
    let mut other = server.connect().unwrap();
    for i in 0..50 {
        bystander_ok(&mut other, &format!("partial 10 MB bulk, round {i}"));
    }
    drop(slow);
    bystander_ok(&mut other, "slow client gone");
    assert!(server.is_alive());
}

#[test]
fn slow_sender_redis7_reference() {
    slow_sender(Kind::Redis);
}

#[test]
fn slow_sender_codis_server() {
    slow_sender(Kind::Codis);
}

/// Seeded random garbage on many connections: the server survives and keeps serving.
fn garbage(kind: Kind) {
    let mut server = Server::start(kind).unwrap();
    let mut other = server.connect().unwrap();
    let seed = conformance::env_num("BAD_INPUT_SEED", 0x5eed_u64);
    let mut rng = StdRng::seed_from_u64(seed);
    let alphabet: &[u8] = b"*$+-:\r\n0123456789-abcPINGSET \"'\\x";
    for round in 0..200 {
        let len = rng.random_range(1..200);
        let bytes: Vec<u8> =
            (0..len)
                .map(|_| {
                    if rng.random_bool(0.8) {
                        alphabet[rng.random_range(0..alphabet.len())]
                    } else {
                        rng.random::<u8>()
                    }
                })
                .collect();
        let mut c = server.connect().unwrap();
        let _ = c.send_raw(&bytes);
        let _ = c.drain_until_close(Duration::from_millis(20));
        drop(c);
        bystander_ok(
            &mut other,
            &format!("garbage round {round} (BAD_INPUT_SEED={seed}): {}", render::raw(&bytes, 300)),
        );
        assert!(
            server.is_alive(),
            "{} died on garbage round {round} (BAD_INPUT_SEED={seed}): {}\n{}",
            kind.name(),
            render::raw(&bytes, 300),
            server.log_tail(3000)
        );
    }
    bystander_ok(&mut other, "garbage");
}

#[test]
fn garbage_redis7_reference() {
    garbage(Kind::Redis);
}

#[test]
fn garbage_codis_server() {
    garbage(Kind::Codis);
}
