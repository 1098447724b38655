//! Redis's own tools against our codis-server: `redis-cli --bigkeys`, `redis-cli --stat`,
//! `redis-cli monitor`, `redis-cli --scan --pattern`, `redis-benchmark -q`. Each tool runs against
//! Redis 7 and against our server holding the same data, and the two outputs are compared in
//! structure: exactly where the output is deterministic, by shape where it holds timings,
//! addresses or memory figures.
//!
//! Every tool process is bounded in time and stopped by PID (its output goes to a file;
//! `stdbuf -oL` makes redis-cli flush each line, since it is not writing to a terminal).

use std::fs::File;
use std::path::PathBuf;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use conformance::server::{find_in_path, TempDir};
use conformance::{Conn, Kind, Server};

fn tool(name: &str) -> PathBuf {
    find_in_path(name).unwrap_or_else(|| {
        panic!("{name} not found in PATH: install Debian's redis-tools (`apt-get install redis-tools`)")
    })
}

/// A tool process writing to a file; killed (by PID) when dropped.
struct Running {
    child: Child,
    out: PathBuf,
    err: PathBuf,
    _dir: TempDir,
}

impl Running {
    fn start(program: &str, args: &[String], line_buffered: bool) -> Running {
        let dir = TempDir::new("tool").expect("temp dir");
        let out = dir.path().join("stdout");
        let err = dir.path().join("stderr");
        let mut cmd = if line_buffered {
            let mut c = Command::new(tool("stdbuf"));
            c.arg("-oL").arg(tool(program));
            c
        } else {
            Command::new(tool(program))
        };
        cmd.args(args)
            .stdin(Stdio::null())
            .stdout(File::create(&out).unwrap())
            .stderr(File::create(&err).unwrap())
            .env("LC_ALL", "C");
        let child = cmd.spawn().unwrap_or_else(|e| panic!("spawning {program}: {e}"));
        Running { child, out, err, _dir: dir }
    }

    fn stdout(&self) -> String {
        String::from_utf8_lossy(&std::fs::read(&self.out).unwrap_or_default()).into_owned()
    }

    fn stderr(&self) -> String {
        String::from_utf8_lossy(&std::fs::read(&self.err).unwrap_or_default()).into_owned()
    }

    /// Waits for the process to exit (at most `limit`, then kills it).
    fn wait(&mut self, limit: Duration) -> Option<ExitStatus> {
        let deadline = Instant::now() + limit;
        loop {
            if let Ok(Some(st)) = self.child.try_wait() {
                return Some(st);
            }
            if Instant::now() >= deadline {
                self.stop();
                return None;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Waits until the output satisfies `f` (at most `limit`).
    fn wait_output(&self, limit: Duration, f: impl Fn(&str) -> bool) -> bool {
        let deadline = Instant::now() + limit;
        while Instant::now() < deadline {
            if f(&self.stdout()) {
                return true;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        f(&self.stdout())
    }

    fn stop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        self.stop();
    }
}

/// Runs a tool to completion (bounded) and returns its standard output.
fn run(program: &str, args: &[String], limit: Duration) -> String {
    let mut r = Running::start(program, args, false);
    let st = r.wait(limit);
    assert!(
        st.is_some_and(|s| s.success()),
        "{program} {args:?}: exit {st:?} within {limit:?}\nstdout:\n{}\nstderr:\n{}",
        r.stdout(),
        r.stderr()
    );
    r.stdout()
}

fn port_args(s: &Server) -> Vec<String> {
    vec!["-h".into(), "127.0.0.1".into(), "-p".into(), s.port().to_string()]
}

fn args(s: &Server, more: &[&str]) -> Vec<String> {
    let mut a = port_args(s);
    a.extend(more.iter().map(|x| x.to_string()));
    a
}

/// Both servers, started fresh, with `fill` run on each.
fn servers(fill: impl Fn(&mut Conn)) -> [Server; 2] {
    let r = Server::start(Kind::Redis).expect("start redis-server");
    let o = Server::start(Kind::Codis).expect("start codis-server");
    for s in [&r, &o] {
        let mut c = s.connect().unwrap();
        fill(&mut c);
    }
    [r, o]
}

fn ok(c: &mut Conn, a: &[&[u8]]) {
    let f = c.cmd(a);
    assert!(!f.is_error(), "{}: {f:?}", conformance::render::args(a));
}

/// Keys of every type, with distinct sizes per type (`--bigkeys` keeps the first of equal ones,
/// which depends on the SCAN order).
fn fill_types(c: &mut Conn) {
    for i in 0..12usize {
        let v = "x".repeat(3 * i + 1);
        ok(c, &[b"SET", format!("str:{i}").as_bytes(), v.as_bytes()]);
    }
    for i in 0..6usize {
        let key = format!("list:{i}");
        let mut a: Vec<Vec<u8>> = vec![b"RPUSH".to_vec(), key.into_bytes()];
        a.extend((0..=2 * i).map(|j| format!("e{j}").into_bytes()));
        ok(c, &a.iter().map(Vec::as_slice).collect::<Vec<_>>());
        let key = format!("hash:{i}");
        let mut a: Vec<Vec<u8>> = vec![b"HSET".to_vec(), key.into_bytes()];
        for j in 0..=3 * i {
            a.push(format!("f{j}").into_bytes());
            a.push(b"v".to_vec());
        }
        ok(c, &a.iter().map(Vec::as_slice).collect::<Vec<_>>());
        let key = format!("set:{i}");
        let mut a: Vec<Vec<u8>> = vec![b"SADD".to_vec(), key.into_bytes()];
        a.extend((0..=i).map(|j| format!("m{j}").into_bytes()));
        ok(c, &a.iter().map(Vec::as_slice).collect::<Vec<_>>());
        let key = format!("zset:{i}");
        let mut a: Vec<Vec<u8>> = vec![b"ZADD".to_vec(), key.into_bytes()];
        for j in 0..=4 * i {
            a.push(j.to_string().into_bytes());
            a.push(format!("m{j}").into_bytes());
        }
        ok(c, &a.iter().map(Vec::as_slice).collect::<Vec<_>>());
    }
}

#[test]
fn bigkeys_summary_matches_redis() {
    let sv = servers(fill_types);
    let outs: Vec<String> =
        sv.iter().map(|s| run("redis-cli", &args(s, &["--bigkeys"]), Duration::from_secs(60))).collect();
    let split = |o: &str| -> (String, Vec<String>, String) {
        let (head, rest) =
            o.split_once("[").map(|(h, r)| (h.to_string(), format!("[{r}"))).unwrap_or((o.to_string(), String::new()));
        let (progress, summary) =
            rest.split_once("-------- summary -------").unwrap_or_else(|| panic!("no summary in:\n{o}"));
        (head, progress.lines().filter(|l| !l.trim().is_empty()).map(str::to_string).collect(), summary.to_string())
    };
    let (hr, pr, sr) = split(&outs[0]);
    let (ho, po, so) = split(&outs[1]);
    assert_eq!(hr, ho, "--bigkeys header");
    assert_eq!(sr, so, "--bigkeys summary (Redis first, ours second)");
    assert!(sr.contains("Sampled 36 keys in the keyspace!"), "{sr}");
    // Progress lines depend on the SCAN order: check their form, and that the last one of each
    // type names the biggest key of the summary.
    for (p, summary) in [(&pr, &sr), (&po, &so)] {
        assert!(!p.is_empty());
        for l in p.iter() {
            let ok = l.starts_with('[')
                && l.contains("%] Biggest ")
                && l.contains(" found so far '\"")
                && l.contains(" with ");
            assert!(ok, "progress line {l:?}");
        }
        for ty in ["string", "list", "hash", "set", "zset"] {
            let last = p
                .iter()
                .rev()
                .find(|l| l.split_whitespace().nth(2) == Some(ty))
                .unwrap_or_else(|| panic!("no {ty} line"));
            let key = last.split('\'').nth(1).unwrap();
            assert!(summary.contains(&format!("{ty} found '{key}'")), "{ty}: {last} vs summary {summary}");
        }
    }
}

/// A data row of `--stat`: keys, mem, clients, blocked, requests (+delta), connections.
fn stat_row(l: &str) -> Option<(String, String, String, String)> {
    let f: Vec<&str> = l.split_whitespace().collect();
    if f.len() < 6 || f[0].parse::<u64>().is_err() {
        return None;
    }
    let mem_ok = f[1].trim_end_matches(['B', 'K', 'M', 'G']).parse::<f64>().is_ok();
    let delta = f[5].strip_prefix("(+").and_then(|d| d.strip_suffix(')'))?;
    (mem_ok
        && f[2].parse::<u64>().is_ok()
        && f[3].parse::<u64>().is_ok()
        && f[4].parse::<u64>().is_ok()
        && delta.parse::<u64>().is_ok())
    .then(|| (f[0].to_string(), f[2].to_string(), f[3].to_string(), delta.to_string()))
}

#[test]
fn stat_prints_rows_like_redis() {
    let sv = servers(|c| {
        for i in 0..7 {
            ok(c, &[b"SET", format!("k{i}").as_bytes(), b"v"]);
        }
    });
    let mut outs = Vec::new();
    for s in &sv {
        let r = Running::start("redis-cli", &args(s, &["--stat", "-i", "0.1"]), true);
        let enough =
            r.wait_output(Duration::from_secs(10), |o| o.lines().filter(|l| stat_row(l).is_some()).count() >= 4);
        let out = r.stdout();
        drop(r);
        assert!(enough, "{}: --stat printed too little:\n{out}", s.kind.name());
        outs.push(out);
    }
    let head = |o: &str| o.lines().take(2).map(str::trim_end).map(str::to_string).collect::<Vec<_>>();
    assert_eq!(head(&outs[0]), head(&outs[1]), "--stat header");
    for (o, s) in outs.iter().zip(&sv) {
        let rows: Vec<_> = o.lines().skip(2).filter(|l| !l.trim().is_empty()).collect();
        let parsed: Vec<_> = rows.iter().filter_map(|l| stat_row(l)).collect();
        // The last line may be cut by the kill.
        assert!(parsed.len() + 1 >= rows.len(), "{}: rows not in --stat form:\n{o}", s.kind.name());
        for (i, (keys, clients, blocked, delta)) in parsed.iter().enumerate() {
            assert_eq!(keys, "7", "{}: keys column\n{o}", s.kind.name());
            assert_eq!(clients, "1", "{}: clients column (only redis-cli)\n{o}", s.kind.name());
            assert_eq!(blocked, "0", "{}: blocked column\n{o}", s.kind.name());
            if i > 0 {
                // One INFO per row.
                assert_eq!(delta, "1", "{}: requests delta\n{o}", s.kind.name());
            }
        }
    }
}

/// Monitor lines without the timestamp and with the client address replaced.
fn monitor_lines(out: &str) -> Vec<String> {
    out.lines()
        .filter(|l| l.contains(" ["))
        .map(|l| {
            let rest = l.split_once(' ').map(|x| x.1).unwrap_or(l);
            match (rest.find(' '), rest.find(']')) {
                (Some(sp), Some(end)) if sp < end => format!("{} ADDR{}", &rest[..sp], &rest[end..]),
                _ => rest.to_string(),
            }
        })
        .collect()
}

/// Runs `redis-cli monitor` against `s`, sends `script` from another client, and returns the
/// monitor's lines (normalised) once the final `ECHO end-of-script` shows up.
fn monitor(s: &Server, script: &[Vec<&[u8]>]) -> Vec<String> {
    let r = Running::start("redis-cli", &args(s, &["monitor"]), true);
    assert!(
        r.wait_output(Duration::from_secs(10), |o| o.starts_with("OK")),
        "{}: monitor did not start: {}",
        s.kind.name(),
        r.stdout()
    );
    let mut c = s.connect().unwrap();
    for a in script {
        c.call(a).unwrap();
    }
    c.call(&["ECHO", "end-of-script"]).unwrap();
    let done = r.wait_output(Duration::from_secs(10), |o| o.contains("end-of-script"));
    let out = r.stdout();
    drop(r);
    assert!(done, "{}: the commands did not all appear:\n{out}", s.kind.name());
    monitor_lines(&out)
}

#[test]
fn monitor_shows_other_clients_commands_quoted_like_redis() {
    let sv = servers(|_| {});
    let weird: &[u8] = b"sp ace\"quote\\back\r\n\t\x07\x08\x00\xff\xc3\xa9end";
    let script: Vec<Vec<&[u8]>> = vec![
        vec![b"SET", b"plain", b"value"],
        vec![b"SET", weird, weird],
        vec![b"GET", b""],
        vec![b"SELECT", b"1"],
        vec![b"HSET", b"h", b"f\tg", b"\xe2\x82\xac"],
        vec![b"PING"],
        // Not shown: unknown commands, wrong arity, admin commands.
        vec![b"FOOBAR", b"x"],
        vec![b"GET"],
        vec![b"CONFIG", b"GET", b"maxmemory"],
        vec![b"BLPOP", b"nolist", b"0.01"],
        vec![b"PUBLISH", b"ch", b"m"],
        vec![b"LPUSH", b"h", b"x"],
    ];
    let seen: Vec<Vec<String>> = sv.iter().map(|s| monitor(s, &script)).collect();
    assert!(seen[0].iter().any(|l| l.starts_with("[0 ADDR] \"SET\" \"sp ace\\\"quote")), "{:?}", seen[0]);
    assert_eq!(seen[0].len(), 10, "{:?}", seen[0]);
    assert_eq!(seen[0], seen[1], "monitor output (Redis first, ours second)");
}

#[test]
fn monitor_shows_a_transaction_like_redis() {
    let sv = servers(|_| {});
    let script: Vec<Vec<&[u8]>> = vec![
        vec![b"MULTI"],
        vec![b"INCR", b"n"],
        vec![b"LPUSH", b"n", b"x"],
        vec![b"EXEC"],
        vec![b"MULTI"],
        vec![b"GET", b"n"],
        vec![b"DISCARD"],
    ];
    let seen: Vec<Vec<String>> = sv.iter().map(|s| monitor(s, &script)).collect();
    assert_eq!(seen[0], seen[1], "monitor output (Redis first, ours second)");
}

#[test]
fn scan_pattern_lists_the_matching_keys() {
    let sv = servers(|c| {
        for i in 0..300 {
            ok(c, &[b"SET", format!("user:{i}").as_bytes(), b"v"]);
        }
        for i in 0..50 {
            ok(c, &[b"SADD", format!("other:{i}").as_bytes(), b"m"]);
        }
    });
    for pattern in ["user:1*", "*:4?", "nomatch*", "*"] {
        let mut lists = Vec::new();
        for s in &sv {
            let out = run("redis-cli", &args(s, &["--scan", "--pattern", pattern]), Duration::from_secs(60));
            let mut keys: Vec<String> = out.lines().map(str::to_string).collect();
            keys.sort();
            let n = keys.len();
            keys.dedup();
            assert_eq!(n, keys.len(), "{}: --scan repeated keys", s.kind.name());
            lists.push(keys);
        }
        let expected = match pattern {
            "user:1*" => 111,
            "*:4?" => 20,
            "*" => 350,
            _ => 0,
        };
        assert_eq!(lists[0].len(), expected, "{pattern}");
        assert_eq!(lists[0], lists[1], "--scan --pattern {pattern}");
    }
}

#[test]
fn benchmark_quick_run_reports_every_test() {
    let sv = servers(|_| {});
    let mut names = Vec::new();
    for s in &sv {
        let out =
            run("redis-benchmark", &args(s, &["-q", "-n", "1000", "-t", "ping,set,get"]), Duration::from_secs(120));
        // Progress updates end with '\r'; the final line of a test follows the last one.
        let lines: Vec<&str> =
            out.lines().map(|l| l.rsplit('\r').next().unwrap_or("").trim()).filter(|l| !l.is_empty()).collect();
        let mut n = Vec::new();
        for l in &lines {
            let (name, rest) = l.split_once(": ").unwrap_or_else(|| panic!("{}: line {l:?}", s.kind.name()));
            let rps = rest
                .split_once(" requests per second, p50=")
                .map(|x| x.0)
                .unwrap_or_else(|| panic!("{}: line {l:?}", s.kind.name()));
            let rps: f64 = rps.parse().unwrap_or_else(|_| panic!("{}: rate in {l:?}", s.kind.name()));
            assert!(rps > 0.0 && rest.ends_with(" msec"), "{}: {l:?}", s.kind.name());
            n.push(name.to_string());
        }
        names.push(n);
    }
    assert_eq!(names[0], ["PING_INLINE", "PING_MBULK", "SET", "GET"]);
    assert_eq!(names[0], names[1]);
}
