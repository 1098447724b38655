//! The differential engine: the same generated commands go to a reference server (Redis 7) and
//! a candidate (our codis-server, or a second Redis to validate the generator); every pair of
//! replies is compared, exactly or with the normalisation the command needs (see [`check`]).

pub mod check;
pub mod gen;

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::fmt::Write as _;
use std::time::{Duration, Instant, SystemTime};

use anyhow::Result;
use compat::resp::Frame;

use crate::client::{Conn, ConnError, Reply};
use crate::render;
use crate::server::{Kind, Server};
use check::{Check, RandomKind};
pub use gen::{Cmd, Family, FrameRead, Gen, Io, Peek, ALL_FAMILIES};

/// One server with its connection pairs.
pub struct Side {
    pub server: Server,
    pub conns: Vec<Conn>,
    /// A connection of the engine's own (INFO for the blocked-clients wait).
    ctl: Conn,
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
        let ctl = server.connect()?;
        Ok(Side { server, conns, ctl })
    }

    fn call(&mut self, conn: usize, args: &[Vec<u8>]) -> Result<Reply, ConnError> {
        self.conns[conn].call(args)
    }

    /// Reads one reply, waiting at most `wait`.
    fn read_within(&mut self, conn: usize, wait: Duration) -> Result<Reply, ConnError> {
        let c = &mut self.conns[conn];
        let old = c.timeout();
        c.set_timeout(wait);
        let r = c.read();
        c.set_timeout(old);
        r
    }

    /// Sends `args` on `conn`, then reads the frames of every read in turn. After each read,
    /// bytes already received beyond the expected frames are an error.
    fn frames(&mut self, conn: usize, args: &[Vec<u8>], reads: &[FrameRead]) -> Result<Received, (Received, String)> {
        let mut got: Received = Vec::new();
        if let Err(e) = self.conns[conn].send(args) {
            return Err((got, format!("send: {e}")));
        }
        for r in reads {
            let mut frames = Vec::new();
            for i in 0..r.n {
                match self.read_within(r.conn, FRAME_WAIT) {
                    Ok(f) => frames.push(f),
                    Err(e) => {
                        got.push(frames);
                        return Err((got, format!("c{}: frame {} of {}: {e}", r.conn, i + 1, r.n)));
                    }
                }
            }
            got.push(frames);
            let extra = self.conns[r.conn].pending();
            if !extra.is_empty() {
                let shown = render::raw(extra, 200);
                return Err((got, format!("c{}: more than {} frame(s) received: {shown}", r.conn, r.n)));
            }
        }
        Ok(got)
    }

    /// Waits until INFO clients reports `n` blocked clients (at most [`BLOCKED_WAIT`]).
    fn wait_blocked(&mut self, n: usize) -> Result<(), String> {
        let deadline = Instant::now() + BLOCKED_WAIT;
        let mut last = String::from("?");
        loop {
            let r = self.ctl.call(&["INFO", "clients"]).map_err(|e| format!("INFO clients: {e}"))?;
            let text = check::bytes_of(&r.frame).unwrap_or_default();
            let text = String::from_utf8_lossy(&text).into_owned();
            if let Some(v) = text.lines().find_map(|l| l.strip_prefix("blocked_clients:")) {
                last = v.trim().to_string();
                if last == n.to_string() {
                    return Ok(());
                }
            }
            if Instant::now() >= deadline {
                return Err(format!("blocked_clients is {last}, expected {n} (waited {BLOCKED_WAIT:?})"));
            }
            std::thread::sleep(Duration::from_millis(1));
        }
    }

    fn frame(&mut self, conn: usize, args: &[Vec<u8>]) -> Result<Frame, String> {
        self.call(conn, args).map(|r| r.frame).map_err(|e| format!("{}: {e}", render::args(args)))
    }
}

/// How long a frame expected after a command may take to arrive.
const FRAME_WAIT: Duration = Duration::from_secs(3);
/// How long the clients of a blocking scenario may take to block.
const BLOCKED_WAIT: Duration = Duration::from_secs(5);

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
        writeln!(
            f,
            "DIFFERENCE seed={} command #{} family={} conn={}",
            self.seed,
            self.index,
            self.family.name(),
            self.conn
        )?;
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
    /// Families left out of a mixed run because the candidate does not know their commands.
    pub left_out: Vec<String>,
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
        if !self.left_out.is_empty() {
            let _ = writeln!(s, "  left out of this mixed run (unknown commands): {}", self.left_out.join(" "));
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

/// Families of `families` whose commands (set-up included) the server knows.
fn known_families(families: &[Family], missing: &[String]) -> Vec<Family> {
    families.iter().copied().filter(|f| needed_commands(&[*f]).iter().all(|c| !missing.contains(c))).collect()
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
    anyhow::ensure!(
        missing_ref.is_empty(),
        "the reference server does not know {missing_ref:?}: fix the generator's lists"
    );
    let mut missing = missing_commands(b.server.port(), &needed)?;
    // A mixed run leaves out the families whose commands the candidate does not know yet (they
    // report on their own in the per-family run), so it stays gated on everything else.
    let mut left_out = Vec::new();
    let mut families = opts.families.clone();
    if opts.gate != Gate::All && families.len() > 1 && !missing.is_empty() {
        let known = known_families(&families, &missing);
        if !known.is_empty() {
            left_out = families.iter().filter(|f| !known.contains(f)).map(|f| f.name().to_string()).collect();
            families = known;
            gen = Gen::new(opts.seed, &families, now_secs());
            let _ = gen.resp3_conns();
            let still = needed_commands(&families);
            missing.retain(|m| still.contains(m));
        }
    }
    let gated = match opts.gate {
        Gate::All => true,
        Gate::None => false,
        Gate::Auto => missing.is_empty(),
    };
    let mut out =
        Outcome { label: opts.label.clone(), seed: opts.seed, gated, missing, left_out, ..Default::default() };
    let mut history: VecDeque<String> = VecDeque::new();
    let checked: BTreeSet<String> = needed;
    let mut index = 0usize;
    while out.executed < opts.commands || gen.in_scenario() {
        let cmd = gen.next(&mut PeekRef(&mut a));
        let sends = cmd.sends();
        let name = match cmd.args.first() {
            Some(n) => String::from_utf8_lossy(n).to_ascii_uppercase(),
            None => String::new(),
        };
        if sends {
            if cmd.family != Family::Errors {
                assert!(
                    checked.contains(&name),
                    "generator bug: {name} is not listed among the commands of {:?}",
                    cmd.family
                );
            }
            *out.per_command.entry(name.clone()).or_default() += 1;
            *out.per_check.entry(cmd.check.kind()).or_default() += 1;
            out.executed += 1;
        }
        match exec(&mut a, &mut b, &cmd) {
            Ok((shown, was_error)) => {
                if was_error && sends {
                    *out.per_command_errors.entry(name.clone()).or_default() += 1;
                }
                history.push_back(format!(
                    "#{index} [{} c{}] {} -> {shown}",
                    cmd.family.name(),
                    cmd.conn,
                    cmd.describe()
                ));
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
                gen.abort_scenario();
                drop(a);
                drop(b);
                a = Side::start(opts.reference, &resp3)?;
                b = Side::start(opts.candidate, &resp3)?;
                out.restarts += 1;
                history.clear();
            }
        }
        index += 1;
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

fn mismatch(cmd: &Cmd, why: String, reference: (String, String), candidate: (String, String)) -> Box<Mismatch> {
    Box::new(Mismatch {
        seed: 0,
        index: 0,
        family: cmd.family,
        conn: cmd.conn,
        command: cmd.describe(),
        name: match cmd.args.first() {
            Some(n) => render::arg(&n.to_ascii_uppercase()),
            None => match cmd.io {
                Io::WaitBlocked(_) => "(wait-blocked)".into(),
                _ => "(step)".into(),
            },
        },
        why,
        reference: reference.0,
        candidate: candidate.0,
        reference_raw: reference.1,
        candidate_raw: candidate.1,
        context: Vec::new(),
    })
}

/// Runs one step on both sides and compares. Ok carries the reference reply for context.
fn exec(a: &mut Side, b: &mut Side, cmd: &Cmd) -> Result<(String, bool), Box<Mismatch>> {
    let c = cmd.conn;
    let (ra, rb) = match &cmd.io {
        Io::Call => (a.call(c, &cmd.args), b.call(c, &cmd.args)),
        Io::Send => {
            let sa = a.conns[c].send(&cmd.args);
            let sb = b.conns[c].send(&cmd.args);
            return match (sa, sb) {
                (Ok(()), Ok(())) => Ok(("(sent)".into(), false)),
                (Err(e), _) => {
                    Err(mismatch(cmd, format!("reference failed: {e}"), Default::default(), Default::default()))
                }
                (_, Err(e)) => {
                    Err(mismatch(cmd, format!("candidate failed: {e}"), Default::default(), Default::default()))
                }
            };
        }
        Io::Read { wait_ms } => {
            let wait = std::time::Duration::from_millis(*wait_ms);
            (a.read_within(c, wait), b.read_within(c, wait))
        }
        Io::Frames(reads) => return exec_frames(a, b, cmd, reads),
        Io::WaitBlocked(n) => {
            let (wa, wb) = (a.wait_blocked(*n), b.wait_blocked(*n));
            return match (wa, wb) {
                (Ok(()), Ok(())) => Ok((format!("blocked_clients:{n}"), false)),
                (Err(e), wb) => Err(mismatch(
                    cmd,
                    format!("reference: {e}"),
                    (e.clone(), String::new()),
                    (format!("{wb:?}"), String::new()),
                )),
                (Ok(()), Err(e)) => Err(mismatch(
                    cmd,
                    format!("candidate: {e}"),
                    (format!("blocked_clients:{n}"), String::new()),
                    (e, String::new()),
                )),
            };
        }
        Io::Sleep(ms) => {
            std::thread::sleep(std::time::Duration::from_millis(*ms));
            return Ok((String::new(), false));
        }
    };
    let fail = |why: String, ra: &Result<Reply, ConnError>, rb: &Result<Reply, ConnError>| {
        mismatch(cmd, why, shown_reply(ra), shown_reply(rb))
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

/// The frames one side received after a command of [`Io::Frames`], per read.
type Received = Vec<Vec<Reply>>;

fn show_received(reads: &[FrameRead], got: &Result<Received, (Received, String)>) -> (String, String) {
    let (groups, err) = match got {
        Ok(g) => (g, None),
        Err((g, e)) => (g, Some(e)),
    };
    let mut shown = Vec::new();
    let mut raw = Vec::new();
    for (r, frames) in reads.iter().zip(groups) {
        let f: Vec<String> = frames.iter().map(|x| render::frame(&x.frame)).collect();
        shown.push(format!("c{}: [{}]", r.conn, f.join(", ")));
        let bytes: Vec<u8> = frames.iter().flat_map(|x| x.raw.iter().copied()).collect();
        raw.push(format!("c{}: {}", r.conn, render::raw(&bytes, 400)));
    }
    let mut s = shown.join(" | ");
    if let Some(e) = err {
        s.push_str(&format!(" <{e}>"));
    }
    (s, raw.join(" | "))
}

/// Sends the command of an [`Io::Frames`] step, reads every expected frame, and compares the
/// frames of each connection (exactly, or with the pub/sub normalisation).
fn exec_frames(a: &mut Side, b: &mut Side, cmd: &Cmd, reads: &[FrameRead]) -> Result<(String, bool), Box<Mismatch>> {
    let ga = a.frames(cmd.conn, &cmd.args, reads);
    let gb = b.frames(cmd.conn, &cmd.args, reads);
    let fail = |why: String| mismatch(cmd, why, show_received(reads, &ga), show_received(reads, &gb));
    let (x, y) = match (&ga, &gb) {
        (Ok(x), Ok(y)) => (x, y),
        (Err((_, e)), _) => return Err(fail(format!("reference failed: {e}"))),
        (_, Err((_, e))) => return Err(fail(format!("candidate failed: {e}"))),
    };
    for ((r, fx), fy) in reads.iter().zip(x).zip(y) {
        let raw_x: Vec<u8> = fx.iter().flat_map(|f| f.raw.iter().copied()).collect();
        let raw_y: Vec<u8> = fy.iter().flat_map(|f| f.raw.iter().copied()).collect();
        if raw_x == raw_y {
            continue;
        }
        let nx = check::normalise_pushes(&fx.iter().map(|f| f.frame.clone()).collect::<Vec<_>>(), r.unsub_all);
        let ny = check::normalise_pushes(&fy.iter().map(|f| f.frame.clone()).collect::<Vec<_>>(), r.unsub_all);
        if nx != ny {
            return Err(fail(format!("frames on c{} differ", r.conn)));
        }
    }
    let shown = show_received(reads, &ga).0;
    let err = x.first().and_then(|g| g.last()).is_some_and(|f| f.is_error());
    Ok((shown, err))
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
fn drain(
    side: &mut Side,
    conn: usize,
    args: &[Vec<u8>],
    cursor_at: usize,
    pairs: bool,
    first: Frame,
) -> Result<BTreeSet<Vec<Vec<u8>>>, String> {
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
                items.insert(vec![
                    check::bytes_of(&p[0]).unwrap_or_default(),
                    check::bytes_of(&p[1]).unwrap_or_default(),
                ]);
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
            let f = side.frame(
                conn,
                &[b"ZRANGE".to_vec(), key.clone(), b"0".to_vec(), b"-1".to_vec(), b"WITHSCORES".to_vec()],
            )?;
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
fn spop(
    a: &mut Side,
    b: &mut Side,
    c: usize,
    key: &[u8],
    count: Option<i64>,
    pre: Option<&[Vec<u8>]>,
    fa: &Frame,
    fb: &Frame,
) -> Result<(), String> {
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
            return Err(format!(
                "{who}: popped members {:?} are not distinct members of the set",
                p.iter().map(|m| render::quote(m)).collect::<Vec<_>>()
            ));
        }
    }
    let scard = [b"SCARD".to_vec(), key.to_vec()];
    let (ca, cb) = (a.frame(c, &scard)?, b.frame(c, &scard)?);
    if ca != Frame::Integer(n - want) || cb != Frame::Integer(n - want) {
        return Err(format!(
            "SCARD after SPOP: reference {}, candidate {}, expected {}",
            render::frame(&ca),
            render::frame(&cb),
            n - want
        ));
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
