//! Scripting tests. Replies were checked against Redis 7.0.15 (single-line scripts are also in
//! conformance/fixtures/eval_corpus.txt; these cover multi-line scripts, shebangs and BUSY).

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::sync::Arc;
use std::time::Duration;

use crate::cmd::server::test_util::{client, run, state};
use crate::config::Config;
use crate::server::Shared;

fn eval(script: &str, args: &[&str]) -> String {
    let mut st = state();
    let mut c = client(&mut st, 1);
    let mut cmd = vec!["EVAL", script];
    cmd.extend_from_slice(args);
    run(&mut st, &mut c, &cmd)
}

#[test]
fn error_positions_in_multi_line_scripts() {
    let sha = super::sha1hex(b"local a = 1\nlocal b = 2\nreturn redis.call('nosuch')");
    assert_eq!(
        eval("local a = 1\nlocal b = 2\nreturn redis.call('nosuch')", &["0"]),
        format!("-ERR Unknown Redis command called from script script: {sha}, on @user_script:3.\r\n")
    );
    let sha = super::sha1hex(b"local x = 1\nerror('boom')\nreturn x");
    assert_eq!(
        eval("local x = 1\nerror('boom')\nreturn x", &["0"]),
        format!("-ERR user_script:2: boom script: {sha}, on @user_script:2.\r\n")
    );
    // A runtime error inside a function reports the line of the failing expression.
    let body = "local function f(t)\n  return t.x.y\nend\nreturn f({})";
    let sha = super::sha1hex(body.as_bytes());
    assert_eq!(
        eval(body, &["0"]),
        format!("-ERR user_script:2: attempt to index field 'x' (a nil value) script: {sha}, on @user_script:2.\r\n")
    );
    // Library errors carry the caller's line, also through a tail call.
    let body = "\n\nreturn cjson.decode('x')";
    let sha = super::sha1hex(body.as_bytes());
    assert_eq!(
        eval(body, &["0"]),
        format!("-ERR user_script:3: Expected value but found invalid token at character 1 script: {sha}, on @user_script:3.\r\n")
    );
    assert_eq!(
        eval("return 1 +\n\n", &["0"]),
        "-ERR Error compiling script (new function): user_script:3: unexpected symbol near '<eof>'\r\n"
    );
}

#[test]
fn shebang_flags() {
    assert_eq!(eval("#!lua\nreturn 1", &["0"]), ":1\r\n");
    assert_eq!(eval("#!lua flags=no-writes,allow-oom\nreturn redis.call('get', 'k')", &["0"]), "$-1\r\n");
    let body = "#!lua flags=no-writes\n\nreturn redis.call('set', 'k', 'v')";
    let sha = super::sha1hex(body.as_bytes());
    assert_eq!(
        eval(body, &["0"]),
        format!("-ERR Write commands are not allowed from read-only scripts. script: {sha}, on @user_script:3.\r\n")
    );
    assert_eq!(eval("#!lua", &["0"]), "-ERR Invalid script shebang\r\n");
    assert_eq!(eval("#!python\nreturn 1", &["0"]), "-ERR Unexpected engine in script shebang: #!python\r\n");
    assert_eq!(eval("#!lua flags=bad\nreturn 1", &["0"]), "-ERR Unexpected flag in script shebang: bad\r\n");
    assert_eq!(eval("#!lua foo=bar\nreturn 1", &["0"]), "-ERR Unknown lua shebang option: foo=bar\r\n");
    let mut st = state();
    let mut c = client(&mut st, 1);
    assert_eq!(
        run(&mut st, &mut c, &["EVAL_RO", "#!lua\nreturn 1", "0"]),
        "-ERR Can not execute a script with write flag using *_ro command.\r\n"
    );
    assert_eq!(run(&mut st, &mut c, &["EVAL_RO", "#!lua flags=no-writes\nreturn 1", "0"]), ":1\r\n");
}

#[test]
fn keys_argv_and_data() {
    let mut st = state();
    let mut c = client(&mut st, 1);
    assert_eq!(
        run(
            &mut st,
            &mut c,
            &["EVAL", "redis.call('set', KEYS[1], ARGV[1]) return redis.call('get', KEYS[1])", "1", "k", "v"]
        ),
        "$1\r\nv\r\n"
    );
    assert_eq!(run(&mut st, &mut c, &["GET", "k"]), "$1\r\nv\r\n");
    // SELECT inside a script does not change the caller's database.
    assert_eq!(
        run(&mut st, &mut c, &["EVAL", "redis.call('select', 5) return redis.call('set', 'in5', 1)", "0"]),
        "+OK\r\n"
    );
    assert_eq!(run(&mut st, &mut c, &["EXISTS", "in5"]), ":0\r\n");
    assert_eq!(run(&mut st, &mut c, &["SELECT", "5"]), "+OK\r\n");
    assert_eq!(run(&mut st, &mut c, &["EXISTS", "in5"]), ":1\r\n");
    // Scripts are cached by SHA1 and survive until SCRIPT FLUSH.
    let sha = super::sha1hex(b"return 'cached'");
    assert_eq!(run(&mut st, &mut c, &["SCRIPT", "LOAD", "return 'cached'"]), format!("$40\r\n{sha}\r\n"));
    assert_eq!(run(&mut st, &mut c, &["EVALSHA", &sha, "0"]), "$6\r\ncached\r\n");
    assert_eq!(st.scripting.cached_scripts(), 3);
    assert!(st.scripting.used_memory() > 0);
    assert_eq!(run(&mut st, &mut c, &["SCRIPT", "FLUSH"]), "+OK\r\n");
    assert_eq!(run(&mut st, &mut c, &["EVALSHA", &sha, "0"]), "-NOSCRIPT No matching script. Please use EVAL.\r\n");
}

#[test]
fn writes_after_random_commands_are_allowed() {
    // Redis 7 replicates effects: no "Write commands not allowed after non deterministic
    // commands" error.
    assert_eq!(eval("redis.call('time') redis.call('randomkey') return redis.call('set', 'a', 1)", &["0"]), "+OK\r\n");
}

#[test]
fn library_round_trips() {
    assert_eq!(
        eval("return cjson.encode(cjson.decode('{\"a\":[1,2.5,\"x\",null,true]}'))", &["0"]),
        "$27\r\n{\"a\":[1,2.5,\"x\",null,true]}\r\n"
    );
    assert_eq!(
        eval("local t = cmsgpack.unpack(cmsgpack.pack({1, 'a', {b = 2}})) return {t[1], t[2], t[3].b}", &["0"]),
        "*3\r\n:1\r\n$1\r\na\r\n:2\r\n"
    );
    assert_eq!(
        eval("return {struct.unpack('>i2 <I4 s', struct.pack('>i2 <I4 s', -3, 70000, 'z'))}", &["0"]),
        "*4\r\n:-3\r\n:70000\r\n$1\r\nz\r\n:9\r\n"
    );
    assert_eq!(
        eval("return {bit.band(0xff, 0x0f), bit.tohex(-1), bit.lshift(1, 4)}", &["0"]),
        "*3\r\n:15\r\n$8\r\nffffffff\r\n:16\r\n"
    );
}

/// Sends one command in RESP and reads one reply line (plus a bulk payload).
fn send(conn: &mut BufReader<TcpStream>, args: &[&str]) -> String {
    let mut req = format!("*{}\r\n", args.len());
    for a in args {
        req.push_str(&format!("${}\r\n{a}\r\n", a.len()));
    }
    conn.get_mut().write_all(req.as_bytes()).unwrap();
    let mut line = String::new();
    conn.read_line(&mut line).unwrap();
    if let Some(len) = line.strip_prefix('$').and_then(|n| n.trim().parse::<usize>().ok()) {
        let mut body = vec![0; len + 2];
        conn.read_exact(&mut body).unwrap();
        line.push_str(&String::from_utf8_lossy(&body));
    }
    line
}

fn connect(port: u16) -> BufReader<TcpStream> {
    let s = TcpStream::connect(("127.0.0.1", port)).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    BufReader::new(s)
}

#[test]
fn busy_script_kill_and_unkillable() {
    const PORT: u16 = 28097;
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    let config = Config { port: PORT, bind: vec!["127.0.0.1".into()], lua_time_limit: 100, ..Default::default() };
    let shared = Arc::new(Shared::new(config));
    let listeners = rt.block_on(crate::net::listener::bind_all(&shared)).unwrap();
    for l in listeners {
        rt.spawn(crate::net::listener::accept_loop(shared.clone(), l));
    }

    // A read-only script looping forever: other clients get BUSY, SCRIPT KILL stops it.
    let looping = std::thread::spawn(move || {
        let mut a = connect(PORT);
        send(&mut a, &["EVAL", "local i = 0\nwhile true do\n  i = i + 1\nend", "0"])
    });
    std::thread::sleep(Duration::from_millis(400));
    let mut b = connect(PORT);
    assert_eq!(send(&mut b, &["PING"]), format!("-{}\r\n", super::watch::BUSY));
    assert_eq!(send(&mut b, &["GET"]), "-ERR wrong number of arguments for 'get' command\r\n");
    assert_eq!(send(&mut b, &["SCRIPT", "KILL"]), "+OK\r\n");
    let killed = looping.join().unwrap();
    let sha = super::sha1hex(b"local i = 0\nwhile true do\n  i = i + 1\nend");
    assert!(
        killed.starts_with(&format!("-ERR Script killed by user with SCRIPT KILL... script: {sha}, on @user_script:")),
        "{killed}"
    );
    assert_eq!(send(&mut b, &["PING"]), "+PONG\r\n");
    assert_eq!(send(&mut b, &["SCRIPT", "KILL"]), "-NOTBUSY No scripts in execution right now.\r\n");

    // A script that wrote cannot be killed; it runs to its end (about a second here).
    let writing = std::thread::spawn(move || {
        let mut a = connect(PORT);
        send(
            &mut a,
            &["EVAL", "redis.call('set', 'w', 1) local t0 = tonumber(redis.call('time')[1]) while tonumber(redis.call('time')[1]) - t0 < 2 do end return 'done'", "0"],
        )
    });
    std::thread::sleep(Duration::from_millis(400));
    assert_eq!(send(&mut b, &["SCRIPT", "KILL"]), format!("-{}\r\n", super::watch::UNKILLABLE));
    assert_eq!(send(&mut b, &["GET", "w"]), format!("-{}\r\n", super::watch::BUSY));
    // A new connection during the script is served (BUSY) too.
    let mut c = connect(PORT);
    assert_eq!(send(&mut c, &["GET", "w"]), format!("-{}\r\n", super::watch::BUSY));
    assert_eq!(writing.join().unwrap(), "$4\r\ndone\r\n");
    assert_eq!(send(&mut b, &["GET", "w"]), "$1\r\n1\r\n");
    rt.shutdown_timeout(Duration::from_millis(100));
}
