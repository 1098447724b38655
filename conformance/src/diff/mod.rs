//! The differential engine: the same generated commands go to a reference server (Redis 7) and
//! a candidate (our codis-server, or a second Redis to validate the generator); every pair of
//! replies is compared, exactly or with the normalisation the command needs (see [`check`]).

pub mod check;
pub mod gen;

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::fmt::Write as _;
use std::time::{Instant, SystemTime};

use anyhow::Result;
use compat::resp::Frame;

use crate::client::{Conn, ConnError, Reply};
use crate::render;
use crate::server::{Kind, Server};
use check::{Check, RandomKind};
pub use gen::{Cmd, Family, Gen, Peek, ALL_FAMILIES};

/// One server with its connection pairs.
pub struct Side {
    pub server: Server,
    pub conns: Vec<Conn>,
}

impl Side {
    /// Starts a server and opens [`gen::CONNS`] connections, switching those marked in `resp3`
    /// to RESP3 with `HELLO 3`.
    pub fn start(kind: Kind, resp3: &[bool]) -> Result<Side> {
        let server = Server::start(kind)?;
        let mut conns = Vec::new();
        for &r3 in resp3 {
            let mut c = server.connect()?;
            if r3 {
                let r = c.call(&["HELLO", "3"]).map_err(|e| anyhow::anyhow!("HELLO 3 on {}: {e}", kind.name()))?;
                if r.is_error() {
                    // Keep going in RESP2: the comparison will show the difference.
                    eprintln!("note: {} answered HELLO 3 with {}", kind.name(), render::frame(&r.frame));
                }
            }
            conns.push(c);
        }
        Ok(Side { server, conns })
    }

    fn call(&mut self, conn: usize, args: &[Vec<u8>]) -> Result<Reply, ConnError> {
        self.conns[conn].call(args)
    }

    fn frame(&mut self, conn: usize, args: &[Vec<u8>]) -> Result<Frame, String> {
        self.call(conn, args).map(|r| r.frame).map_err(|e| format!("{}: {e}", render::args(args)))
    }
}

/// Peeks go to the reference server on the connection the command will use (same DB).
struct PeekRef<'a>(&'a mut Side);

impl Peek for PeekRef<'_> {
    fn peek(&mut self, conn: usize, args: &[Vec<u8>]) -> Option<Frame> {
        self.0.call(conn, args).ok().map(|r| r.frame)
    }
}

/// Whether differences fail the run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Gate {
    /// Every difference fails.
    All,
    /// Differences are only reported.
    None,
    /// Differences fail when the candidate knows every command the run's families use.
    Auto,
}

impl Gate {
    /// From `DIFF_GATE` (`all`, `none`, `auto`; default `auto`); `CONFORMANCE_STRICT=1` means `all`.
    pub fn from_env() -> Gate {
        if crate::strict() {
            return Gate::All;
        }
        match std::env::var("DIFF_GATE").unwrap_or_default().to_ascii_lowercase().as_str() {
            "all" | "strict" | "1" => Gate::All,
            "none" | "report" | "0" => Gate::None,
            _ => Gate::Auto,
        }
    }
}

/// What a run does.
#[derive(Debug, Clone)]
pub struct Options {
    pub label: String,
    pub seed: u64,
    pub families: Vec<Family>,
    pub commands: usize,
    pub reference: Kind,
    pub candidate: Kind,
    pub gate: Gate,
    /// Report mode: after a difference both servers restart empty and the run goes on, up to
    /// this many differences.
    pub max_mismatches: usize,
    /// Commands of context shown with a difference.
    pub context: usize,
}

/// One difference.
#[derive(Debug, Clone)]
pub struct Mismatch {
    pub seed: u64,
    pub index: usize,
    pub family: Family,
    pub conn: usize,
    pub command: String,
    pub name: String,
    pub why: String,
    pub reference: String,
    pub candidate: String,
    pub reference_raw: String,
    pub candidate_raw: String,
    pub context: Vec<String>,
}

impl std::fmt::Display for Mismatch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        writeln!(f, "DIFFERENCE seed={} command #{} family={} conn={}", self.seed, self.index, self.family.name(), self.conn)?;
        writeln!(f, "  command:   {}", self.command)?;
        writeln!(f, "  why:       {}", self.why)?;
        writeln!(f, "  reference: {}", self.reference)?;
        writeln!(f, "             raw {}", self.reference_raw)?;
        writeln!(f, "  candidate: {}", self.candidate)?;
        writeln!(f, "             raw {}", self.candidate_raw)?;
        if !self.context.is_empty() {
            writeln!(f, "  previous commands (reference replies):")?;
            for l in &self.context {
                writeln!(f, "    {l}")?;
            }
        }
        Ok(())
    }
}

/// The result of a run.
#[derive(Debug, Clone, Default)]
pub struct Outcome {
    pub label: String,
    pub seed: u64,
    pub executed: usize,
    pub mismatches: Vec<Mismatch>,
    pub restarts: usize,
    pub gated: bool,
    /// Commands the candidate does not know (answers "unknown command").
    pub missing: Vec<String>,
    pub per_command: BTreeMap<String, usize>,
    /// How many of those the reference answered with an error.
    pub per_command_errors: BTreeMap<String, usize>,
    pub per_check: BTreeMap<&'static str, usize>,
    pub secs: f64,
}

impl Outcome {
    pub fn passed(&self) -> bool {
        self.mismatches.is_empty()
    }

    /// `NAME count (errors%)` for every generated command: shows what the generator exercises.
    pub fn coverage(&self) -> String {
        self.per_command
            .iter()
            .map(|(k, n)| {
                let e = self.per_command_errors.get(k).copied().unwrap_or(0);
                format!("{k} {n} ({}% err)", e * 100 / n.max(&1))
            })
            .collect::<Vec<_>>()
            .join(", ")
    }

    /// Differences grouped by command name: name → (count, first example).
    pub fn by_command(&self) -> BTreeMap<String, (usize, &Mismatch)> {
        let mut m: BTreeMap<String, (usize, &Mismatch)> = BTreeMap::new();
        for x in &self.mismatches {
            m.entry(x.name.clone()).and_modify(|e| e.0 += 1).or_insert((1, x));
        }
        m
    }

    pub fn summary(&self) -> String {
        let mut s = String::new();
        let _ = writeln!(
            s,
            "{}: seed={} commands={} differences={} restarts={} gated={} ({:.1}s)",
            self.label,
            self.seed,
            self.executed,
            self.mismatches.len(),
            self.restarts,
            self.gated,
            self.secs
        );
        if !self.missing.is_empty() {
            let _ = writeln!(s, "  unknown to the candidate: {}", self.missing.join(" "));
        }
        let checks: Vec<String> = self.per_check.iter().map(|(k, v)| format!("{k}={v}")).collect();
        let _ = writeln!(s, "  comparisons: {}", checks.join(" "));
        for (name, (n, first)) in self.by_command() {
            let _ = writeln!(s, "  {name}: {n} difference(s); first: {} | {}", first.command, first.why);
        }
        s
    }
}

/// Every command a run over `families` can emit (upper case), set-up commands included.
pub fn needed_commands(families: &[Family]) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    let mut add = |f: Family| {
        out.extend(f.commands().iter().map(|c| c.to_string()));
        if f == Family::Errors {
            out.extend(gen::ARITIES.iter().map(|(n, _)| n.to_string()));
        }
    };
    for &f in families {
        add(f);
        for &u in f.uses() {
            add(u);
        }
    }
    out
}

/// The commands among `names` that the server on `port` does not know.
pub fn missing_commands(port: u16, names: &BTreeSet<String>) -> Result<Vec<String>> {
    let mut c = Conn::connect(port)?;
    let mut missing = Vec::new();
    for n in names {
        let r = c.call(&[n.as_bytes()])?;
        if r.error_text().is_some_and(|e| e.starts_with("ERR unknown command")) {
            missing.push(n.clone());
        }
    }
    Ok(missing)
}

fn now_secs() -> i64 {
    SystemTime::now().duration_since(SystemTime::UNIX_EPOCH).map(|d| d.as_secs() as i64).unwrap_or(0)
}

/// Runs the generated commands against both servers and compares every reply.
pub fn run(opts: &Options) -> Result<Outcome> {
    let started = Instant::now();
    let mut gen = Gen::new(opts.seed, &opts.families, now_secs());
    let resp3 = gen.resp3_conns();
    let mut a = Side::start(opts.reference, &resp3)?;
    let mut b = Side::start(opts.candidate, &resp3)?;
    let needed = needed_commands(&opts.families);
    let missing_ref = missing_commands(a.server.port(), &needed)?;
    anyhow::ensure!(missing_ref.is_empty(), "the reference server does not know {missing_ref:?}: fix the generator's lists");
    let missing = missing_commands(b.server.port(), &needed)?;
    let gated = match opts.gate {
        Gate::All => true,
        Gate::None => false,
        Gate::Auto => missing.is_empty(),
    };
    // The probe ran commands such as FLUSHDB on fresh servers: harmless, but start clean anyway.
    let mut out = Outcome { label: opts.label.clone(), seed: opts.seed, gated, missing, ..Default::default() };
    let mut history: VecDeque<String> = VecDeque::new();
    let checked: BTreeSet<String> = needed;
    for index in 0..opts.commands {
        let cmd = gen.next(&mut PeekRef(&mut a));
        let name = String::from_utf8_lossy(&cmd.args[0]).to_ascii_uppercase();
        if cmd.family != Family::Errors {
            assert!(checked.contains(&name), "generator bug: {name} is not listed among the commands of {:?}", cmd.family);
        }
        *out.per_command.entry(name.clone()).or_default() += 1;
        *out.per_check.entry(cmd.check.kind()).or_default() += 1;
        out.executed += 1;
        match exec(&mut a, &mut b, &cmd) {
            Ok((shown, was_error)) => {
                if was_error {
                    *out.per_command_errors.entry(name.clone()).or_default() += 1;
                }
                history.push_back(format!("#{index} [{} c{}] {} -> {shown}", cmd.family.name(), cmd.conn, render::args(&cmd.args)));
                if history.len() > opts.context {
                    history.pop_front();
                }
            }
            Err(mut m) => {
                m.seed = opts.seed;
                m.index = index;
                m.context = history.iter().cloned().collect();
                out.mismatches.push(*m);
                if gated || out.mismatches.len() >= opts.max_mismatches {
                    break;
                }
                // Start over from empty servers so the next difference is a fresh one.
                drop(a);
                drop(b);
                a = Side::start(opts.reference, &resp3)?;
                b = Side::start(opts.candidate, &resp3)?;
                out.restarts += 1;
                history.clear();
            }
        }
    }
    out.secs = started.elapsed().as_secs_f64();
    Ok(out)
}

fn shown_reply(r: &Result<Reply, ConnError>) -> (String, String) {
    match r {
        Ok(r) => (render::frame(&r.frame), render::raw(&r.raw, 600)),
        Err(e) => (format!("<{e}>"), String::new()),
    }
}

/// Runs one command on both sides and compares. Ok carries the reference reply for context.
fn exec(a: &mut Side, b: &mut Side, cmd: &Cmd) -> Result<(String, bool), Box<Mismatch>> {
    let c = cmd.conn;
    let ra = a.call(c, &cmd.args);
    let rb = b.call(c, &cmd.args);
    let fail = |why: String, ra: &Result<Reply, ConnError>, rb: &Result<Reply, ConnError>| {
        let (reference, reference_raw) = shown_reply(ra);
        let (candidate, candidate_raw) = shown_reply(rb);
        Box::new(Mismatch {
            seed: 0,
            index: 0,
            family: cmd.family,
            conn: c,
            command: render::args(&cmd.args),
            name: render::arg(&cmd.args[0].to_ascii_uppercase()),
            why,
            reference,
            candidate,
            reference_raw,
            candidate_raw,
            context: Vec::new(),
        })
    };
    let (Ok(x), Ok(y)) = (&ra, &rb) else {
        let why = match (&ra, &rb) {
            (Err(e), _) => format!("reference failed: {e}"),
            (_, Err(e)) => format!("candidate failed: {e}"),
            _ => unreachable!(),
        };
        return Err(fail(why, &ra, &rb));
    };
    let shown = render::frame(&x.frame);
    let result = compare(a, b, cmd, x, y);
    match result {
        Ok(()) => Ok((shown, x.is_error())),
        Err(why) => Err(fail(why, &ra, &rb)),
    }
}

fn exact(x: &Reply, y: &Reply) -> Result<(), String> {
    if x.raw == y.raw {
        Ok(())
    } else {
        Err("replies differ".into())
    }
}

fn compare(a: &mut Side, b: &mut Side, cmd: &Cmd, x: &Reply, y: &Reply) -> Result<(), String> {
    let c = cmd.conn;
    if x.is_error() || y.is_error() {
        return exact(x, y);
    }
    let (fa, fb) = (&x.frame, &y.frame);
    match &cmd.check {
        Check::Exact => exact(x, y),
        Check::Unordered => check::same(&check::sorted(fa), &check::sorted(fb), "as multisets"),
        Check::UnorderedPairs => check::same(&check::sorted_pairs(fa), &check::sorted_pairs(fb), "as sets of pairs"),
        Check::Hash { key, pairs } => {
            let enc = a.frame(c, &[b"OBJECT".to_vec(), b"ENCODING".to_vec(), key.clone()])?;
            if check::bytes_of(&enc).as_deref() == Some(b"hashtable") {
                if *pairs {
                    check::same(&check::sorted_pairs(fa), &check::sorted_pairs(fb), "hashtable pairs as a set")
                } else {
                    check::same(&check::sorted(fa), &check::sorted(fb), "hashtable elements as a multiset")
                }
            } else {
                exact(x, y)
            }
        }
        Check::Ttl { tol } => check::ttl_close(fa, fb, *tol),
        Check::Scan { cursor_at, pairs } => {
            let sa = drain(a, c, &cmd.args, *cursor_at, *pairs, fa.clone())?;
            let sb = drain(b, c, &cmd.args, *cursor_at, *pairs, fb.clone())?;
            if sa == sb {
                Ok(())
            } else {
                let only_a: Vec<String> = sa.difference(&sb).take(10).map(|v| render::args(v)).collect();
                let only_b: Vec<String> = sb.difference(&sa).take(10).map(|v| render::args(v)).collect();
                Err(format!("scanned items differ: only reference {only_a:?}, only candidate {only_b:?}"))
            }
        }
        Check::Random(kind) => {
            check::same_shape(fa, fb)?;
            if let RandomKind::RandomKey = kind {
                for (side, f, who) in [(&mut *a, fa, "reference"), (&mut *b, fb, "candidate")] {
                    match f {
                        Frame::Bulk(k) => {
                            let e = side.frame(c, &[b"EXISTS".to_vec(), k.to_vec()])?;
                            if e != Frame::Integer(1) {
                                return Err(format!("{who}: RANDOMKEY gave {} which does not exist", render::quote(k)));
                            }
                        }
                        _ => {
                            let n = side.frame(c, &[b"DBSIZE".to_vec()])?;
                            if n != Frame::Integer(0) {
                                return Err(format!("{who}: RANDOMKEY gave nil with DBSIZE {}", render::frame(&n)));
                            }
                        }
                    }
                }
                return Ok(());
            }
            let ua = universe(a, c, kind)?;
            let ub = universe(b, c, kind)?;
            if ua != ub {
                return Err("the collections themselves differ".into());
            }
            check::check_random(kind, fa, &ua).map_err(|e| format!("reference: {e}"))?;
            check::check_random(kind, fb, &ub).map_err(|e| format!("candidate: {e}"))?;
            Ok(())
        }
        Check::SPop { key, count, pre } => spop(a, b, c, key, *count, pre.as_deref(), fa, fb),
        Check::Hello => {
            check::same(&check::hello_normalised(fa), &check::hello_normalised(fb), "HELLO without version and id")
        }
        Check::SortNoSort { key, limit } => {
            let t = a.frame(c, &[b"TYPE".to_vec(), key.clone()])?;
            if check::bytes_of(&t).as_deref() == Some(b"set") {
                if *limit {
                    check::same_shape(fa, fb)
                } else {
                    check::same(&check::sorted(fa), &check::sorted(fb), "set order is unspecified; as multisets")
                }
            } else {
                exact(x, y)
            }
        }
    }
}

/// Continues a SCAN-family command until its cursor is 0; returns the set of items (keys,
/// members, or field/value pairs).
fn drain(side: &mut Side, conn: usize, args: &[Vec<u8>], cursor_at: usize, pairs: bool, first: Frame) -> Result<BTreeSet<Vec<Vec<u8>>>, String> {
    let mut items = BTreeSet::new();
    let mut page = first;
    let mut args = args.to_vec();
    for _ in 0..100_000 {
        let (cursor, elems) = match &page {
            Frame::Array(v) if v.len() == 2 => match (check::bytes_of(&v[0]), check::items(&v[1])) {
                (Some(cur), Some(e)) => (cur, e.to_vec()),
                _ => return Err(format!("not a scan reply: {}", render::frame(&page))),
            },
            _ => return Err(format!("not a scan reply: {}", render::frame(&page))),
        };
        if pairs {
            if elems.len() % 2 != 0 {
                return Err(format!("odd number of elements in {}", render::frame(&page)));
            }
            for p in elems.chunks(2) {
                items.insert(vec![check::bytes_of(&p[0]).unwrap_or_default(), check::bytes_of(&p[1]).unwrap_or_default()]);
            }
        } else {
            for e in &elems {
                items.insert(vec![check::bytes_of(e).unwrap_or_default()]);
            }
        }
        if cursor == b"0" {
            return Ok(items);
        }
        args[cursor_at] = cursor;
        page = side.frame(conn, &args)?;
    }
    Err("scan did not end after 100000 calls".into())
}

/// The collection a random command draws from: member → value (hash), score (zset) or "".
fn universe(side: &mut Side, conn: usize, kind: &RandomKind) -> Result<BTreeMap<Vec<u8>, Vec<u8>>, String> {
    let mut m = BTreeMap::new();
    match kind {
        RandomKind::SRandMember { key, .. } => {
            let f = side.frame(conn, &[b"SMEMBERS".to_vec(), key.clone()])?;
            for e in check::items(&f).unwrap_or(&[]) {
                m.insert(check::bytes_of(e).unwrap_or_default(), Vec::new());
            }
        }
        RandomKind::HRandField { key, .. } => {
            let f = side.frame(conn, &[b"HGETALL".to_vec(), key.clone()])?;
            for (k, v) in check::pairs(&f).unwrap_or_default() {
                m.insert(check::bytes_of(&k).unwrap_or_default(), check::bytes_of(&v).unwrap_or_default());
            }
        }
        RandomKind::ZRandMember { key, .. } => {
            let f = side.frame(conn, &[b"ZRANGE".to_vec(), key.clone(), b"0".to_vec(), b"-1".to_vec(), b"WITHSCORES".to_vec()])?;
            for (k, v) in check::pairs(&f).unwrap_or_default() {
                m.insert(check::bytes_of(&k).unwrap_or_default(), check::bytes_of(&v).unwrap_or_default());
            }
        }
        RandomKind::RandomKey => {}
    }
    Ok(m)
}

/// SPOP: checks the popped members against the set before the pop, checks both servers removed
/// as many, then gives both the same remainder (the set minus its smallest members) so the
/// run stays deterministic.
#[allow(clippy::too_many_arguments)]
fn spop(a: &mut Side, b: &mut Side, c: usize, key: &[u8], count: Option<i64>, pre: Option<&[Vec<u8>]>, fa: &Frame, fb: &Frame) -> Result<(), String> {
    check::same_shape(fa, fb)?;
    let Some(pre) = pre else {
        return check::same(fa, fb, "SPOP on a missing key");
    };
    let popped = |f: &Frame| -> Vec<Vec<u8>> {
        match f {
            Frame::Bulk(b) => vec![b.to_vec()],
            other => check::items(other).unwrap_or(&[]).iter().filter_map(check::bytes_of).collect(),
        }
    };
    let n = pre.len() as i64;
    let want = match count {
        None => n.min(1),
        Some(k) => k.min(n),
    };
    for (f, who) in [(fa, "reference"), (fb, "candidate")] {
        let p = popped(f);
        if p.len() as i64 != want {
            return Err(format!("{who}: popped {} members, expected {want}", p.len()));
        }
        let distinct: BTreeSet<&Vec<u8>> = p.iter().collect();
        if distinct.len() != p.len() || p.iter().any(|m| !pre.contains(m)) {
            return Err(format!("{who}: popped members {:?} are not distinct members of the set", p.iter().map(|m| render::quote(m)).collect::<Vec<_>>()));
        }
    }
    let scard = [b"SCARD".to_vec(), key.to_vec()];
    let (ca, cb) = (a.frame(c, &scard)?, b.frame(c, &scard)?);
    if ca != Frame::Integer(n - want) || cb != Frame::Integer(n - want) {
        return Err(format!("SCARD after SPOP: reference {}, candidate {}, expected {}", render::frame(&ca), render::frame(&cb), n - want));
    }
    // Same remainder on both.
    let mut rest: Vec<Vec<u8>> = pre.to_vec();
    rest.sort();
    let rest = rest.split_off(want as usize);
    let del = [b"DEL".to_vec(), key.to_vec()];
    let mut sadd = vec![b"SADD".to_vec(), key.to_vec()];
    sadd.extend(rest.iter().cloned());
    for side in [&mut *a, &mut *b] {
        side.frame(c, &del)?;
        if !rest.is_empty() {
            side.frame(c, &sadd)?;
        }
    }
    Ok(())
}
