//! A sorted set far beyond the listpack limits (thousands of members, many chunks of our
//! ordered list): random ZADD (with NX/XX/GT/LT/CH/INCR), ZINCRBY, ZREM and range reads run
//! against Redis 7 and our server, and every reply must be the same bytes, in RESP2 and RESP3.
//! Scores include ties (so members decide the order), fractions, -0 and infinities.
//!
//! `BIG_ZSET_OPS` scales the number of random operations (default 4000).

use conformance::{Conn, Kind, Server};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

const MEMBERS: usize = 3000;

fn member(rng: &mut StdRng) -> String {
    let i = rng.random_range(0..MEMBERS + 300);
    // Mostly short members (kept inline by our server), some longer than 22 bytes.
    if i % 7 == 0 {
        format!("member-with-a-longer-name-{i}")
    } else {
        format!("m:{i}")
    }
}

fn score(rng: &mut StdRng) -> String {
    match rng.random_range(0..20) {
        0 => "-0".into(),
        1 => "+inf".into(),
        2 => "-inf".into(),
        3..=6 => format!("{}.{}", rng.random_range(-50..50), rng.random_range(0..100)),
        7 => format!("{}e{}", rng.random_range(1..9), rng.random_range(-5..20)),
        // Few distinct integers: many ties.
        _ => rng.random_range(-100..100).to_string(),
    }
}

fn rank(rng: &mut StdRng) -> String {
    let r: i64 = rng.random_range(-(MEMBERS as i64) - 50..MEMBERS as i64 + 50);
    r.to_string()
}

/// One random command on `z`.
fn op(rng: &mut StdRng) -> Vec<String> {
    let k = "z".to_string();
    let mut c: Vec<String> = Vec::new();
    match rng.random_range(0..12) {
        0..=3 => {
            c.extend(["ZADD".into(), k]);
            for flag in ["NX", "XX", "GT", "LT", "CH"] {
                if rng.random_bool(0.08) {
                    c.push(flag.into());
                }
            }
            if rng.random_bool(0.1) {
                c.extend(["INCR".into(), score(rng), member(rng)]);
            } else {
                for _ in 0..rng.random_range(1..4) {
                    c.extend([score(rng), member(rng)]);
                }
            }
        }
        4 => c.extend(["ZINCRBY".into(), k, score(rng), member(rng)]),
        5 => c.extend(["ZREM".into(), k, member(rng), member(rng)]),
        6..=8 => {
            c.extend(["ZRANGE".into(), k]);
            let a = rng.random_range(0..MEMBERS as i64);
            let b = a + rng.random_range(0..150);
            if rng.random_bool(0.3) {
                c.extend([rank(rng), rank(rng)]);
            } else {
                c.extend([a.to_string(), b.to_string()]);
            }
            if rng.random_bool(0.3) {
                c.push("REV".into());
            }
            if rng.random_bool(0.5) {
                c.push("WITHSCORES".into());
            }
        }
        9 => {
            c.extend(["ZREVRANGE".into(), k, rank(rng), rank(rng)]);
            if rng.random_bool(0.5) {
                c.push("WITHSCORES".into());
            }
        }
        10 => c.extend(["ZSCORE".into(), k, member(rng)]),
        _ => c.extend([if rng.random_bool(0.5) { "ZRANK" } else { "ZREVRANK" }.into(), k, member(rng)]),
    }
    c
}

fn call(conn: &mut Conn, args: &[String]) -> Vec<u8> {
    conn.call(args).unwrap_or_else(|e| panic!("{args:?}: {e:?}")).raw
}

#[test]
fn big_sorted_set_same_bytes_as_redis() {
    let ops: usize = std::env::var("BIG_ZSET_OPS").ok().and_then(|v| v.parse().ok()).unwrap_or(4000);
    let redis = Server::start(Kind::Redis).expect("start redis-server");
    let ours = Server::start(Kind::Codis).expect("start codis-server");
    let mut conns: Vec<[Conn; 2]> = Vec::new();
    for s in [&redis, &ours] {
        let resp2 = s.connect().expect("connect");
        let mut resp3 = s.connect().expect("connect");
        call(&mut resp3, &["HELLO".into(), "3".into()]);
        conns.push([resp2, resp3]);
    }
    let mut rng = StdRng::seed_from_u64(20261122);
    let fill: Vec<Vec<String>> =
        (0..MEMBERS).map(|i| vec!["ZADD".into(), "z".into(), score(&mut rng), format!("m:{i}")]).collect();
    let full = || ["ZRANGE", "z", "0", "-1", "WITHSCORES"].map(String::from).to_vec();
    let mut script: Vec<(usize, Vec<String>)> = fill.into_iter().map(|c| (0, c)).collect();
    script.push((0, ["OBJECT", "ENCODING", "z"].map(String::from).to_vec()));
    for i in 0..ops {
        let proto = rng.random_range(0..2);
        script.push((proto, op(&mut rng)));
        if i % 500 == 499 {
            script.push((i / 500 % 2, full()));
            script.push((0, ["ZCARD", "z"].map(String::from).to_vec()));
        }
    }
    script.push((1, full()));
    script.push((0, ["OBJECT", "ENCODING", "z"].map(String::from).to_vec()));
    let mut compared = 0;
    for (proto, cmd) in &script {
        let want = call(&mut conns[0][*proto], cmd);
        let got = call(&mut conns[1][*proto], cmd);
        assert!(
            want == got,
            "{cmd:?} (RESP{}): Redis {:?}, ours {:?}",
            proto + 2,
            String::from_utf8_lossy(&want[..want.len().min(400)]),
            String::from_utf8_lossy(&got[..got.len().min(400)])
        );
        compared += 1;
    }
    let card = call(&mut conns[1][0], &["ZCARD".into(), "z".into()]);
    println!("{compared} commands compared, final ZCARD {}", String::from_utf8_lossy(&card).trim());
    assert!(card.len() > 4, "the set is big at the end");
}
