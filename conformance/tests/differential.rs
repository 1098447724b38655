//! Differential test: seeded random commands against Redis 7 and against our codis-server (or a
//! second Redis, to validate the generator and the normalisation), every reply compared.
//!
//! Environment:
//! - `DIFF_SEED`: the seed (printed on every run; random when unset).
//! - `DIFF_COMMANDS`: commands of the mixed runs (default 30000).
//! - `DIFF_FAMILY_COMMANDS`: commands per family in the per-family runs (default 2000).
//! - `DIFF_FAMILIES`: comma-separated families to run (default all): string, keys, list, hash,
//!   set, zset, sort, scan, connection, server, errors, bitmap, hll, geo, tx, pubsub, blocking,
//!   eval.
//! - `DIFF_GATE`: `auto` (default: differences fail once the candidate knows every command the
//!   run uses), `all` (every difference fails), `none` (report only).
//! - `DIFF_MAX_DIFFS`: differences collected per run in report mode (default 20).
//! - `DIFF_CONTEXT`: previous steps shown with a difference (default 20).
//!
//! Reports go to `target/conformance/differential-<test>.txt` as well as to the test output.
//!
//! What is normalised, and the intentional differences, are listed in `docs/conformance.md`.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use conformance::diff::{self, Family, Gate, Options, Outcome, ALL_FAMILIES};
use conformance::{env_num, Kind};

fn seed() -> u64 {
    match std::env::var("DIFF_SEED") {
        Ok(s) if !s.trim().is_empty() => s.trim().parse().expect("DIFF_SEED must be an unsigned integer"),
        _ => {
            let t = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap();
            t.as_secs().wrapping_mul(1_000_003) ^ u64::from(t.subsec_nanos())
        }
    }
}

fn families() -> Vec<Family> {
    match std::env::var("DIFF_FAMILIES") {
        Ok(s) if !s.trim().is_empty() => s
            .split(',')
            .filter(|x| !x.trim().is_empty())
            .map(|x| Family::parse(x).unwrap_or_else(|| panic!("DIFF_FAMILIES: unknown family {x:?}")))
            .collect(),
        _ => ALL_FAMILIES.to_vec(),
    }
}

/// A per-family seed derived from the run's seed, so `DIFF_SEED=s DIFF_FAMILIES=f` replays it.
fn family_seed(seed: u64, f: Family) -> u64 {
    f.name().bytes().fold(seed ^ 0xcbf2_9ce4_8422_2325, |h, b| (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3))
}

fn write_report(label: &str, text: &str) {
    let dir = conformance::server::target_dir().join("conformance");
    let _ = std::fs::create_dir_all(&dir);
    let path = dir.join(format!("differential-{label}.txt"));
    if std::fs::write(&path, text).is_ok() {
        eprintln!("report written to {}", path.display());
    }
}

fn full_report(o: &Outcome) -> String {
    let mut s = o.summary();
    for m in &o.mismatches {
        let _ = writeln!(s, "\n{m}");
    }
    let _ = writeln!(s, "\ncommands generated (share answered with an error by the reference): {}", o.coverage());
    s
}

fn mixed(label: &str, candidate: Kind, gate: Gate) {
    let seed = seed();
    let opts = Options {
        label: label.into(),
        seed,
        families: families(),
        commands: env_num("DIFF_COMMANDS", 30_000),
        reference: Kind::Redis,
        candidate,
        gate,
        max_mismatches: env_num("DIFF_MAX_DIFFS", 20),
        context: std::env::var("DIFF_CONTEXT").ok().and_then(|v| v.parse().ok()).unwrap_or(20),
    };
    eprintln!("{label}: DIFF_SEED={seed} families={:?}", opts.families.iter().map(|f| f.name()).collect::<Vec<_>>());
    let o = diff::run(&opts).unwrap_or_else(|e| panic!("{label}: {e:#}"));
    let report = full_report(&o);
    eprintln!("{report}");
    write_report(label, &report);
    if o.gated && !o.passed() {
        panic!("{label}: {} difference(s); replay with DIFF_SEED={seed}\n{}", o.mismatches.len(), o.mismatches[0]);
    }
}

fn per_family(label: &str, candidate: Kind, gate: Gate) {
    let seed = seed();
    let n = env_num("DIFF_FAMILY_COMMANDS", 2_000);
    eprintln!("{label}: DIFF_SEED={seed}");
    let mut table = String::new();
    let _ = writeln!(table, "{label} (DIFF_SEED={seed}, {n} commands per family)");
    let _ = writeln!(
        table,
        "{:<11} {:>8} {:>6} {:>6}  unknown commands / differing commands",
        "family", "commands", "diffs", "gated"
    );
    let mut details = String::new();
    let mut failed = Vec::new();
    let mut status: BTreeMap<&str, String> = BTreeMap::new();
    for f in families() {
        let opts = Options {
            label: format!("{label}/{}", f.name()),
            seed: family_seed(seed, f),
            families: vec![f],
            commands: n,
            reference: Kind::Redis,
            candidate,
            gate,
            max_mismatches: env_num("DIFF_MAX_DIFFS", 20),
            context: std::env::var("DIFF_CONTEXT").ok().and_then(|v| v.parse().ok()).unwrap_or(20),
        };
        let o = diff::run(&opts).unwrap_or_else(|e| panic!("{}: {e:#}", opts.label));
        let differing: Vec<String> = o.by_command().into_iter().map(|(k, (c, _))| format!("{k}x{c}")).collect();
        let own: Vec<&str> = o.missing.iter().map(String::as_str).filter(|m| f.commands().contains(m)).collect();
        let others = o.missing.len() - own.len();
        let note = if !o.missing.is_empty() {
            format!(
                "unknown: {} (+{others} set-up commands of other families) | differ: {}",
                own.join(" "),
                differing.join(" ")
            )
        } else {
            differing.join(" ")
        };
        let _ =
            writeln!(table, "{:<11} {:>8} {:>6} {:>6}  {}", f.name(), o.executed, o.mismatches.len(), o.gated, note);
        details.push_str(&full_report(&o));
        details.push('\n');
        status.insert(f.name(), if o.passed() { "ok".into() } else { "differs".into() });
        if o.gated && !o.passed() {
            failed.push(format!("{} (DIFF_SEED={seed} DIFF_FAMILIES={}):\n{}", f.name(), f.name(), o.mismatches[0]));
        }
    }
    eprintln!("{table}");
    write_report(label, &format!("{table}\n{details}"));
    assert!(failed.is_empty(), "{label}: gated families differ:\n{}", failed.join("\n"));
}

/// Two Redis servers must agree on everything: validates the generator and the normalisation.
#[test]
fn redis_vs_redis_mixed() {
    mixed("redis-vs-redis-mixed", Kind::Redis, Gate::All);
}

#[test]
fn redis_vs_redis_per_family() {
    per_family("redis-vs-redis-per-family", Kind::Redis, Gate::All);
}

/// Our server against Redis, all families interleaved.
#[test]
fn codis_vs_redis_mixed() {
    mixed("codis-vs-redis-mixed", Kind::Codis, Gate::from_env());
}

/// Our server against Redis, one family at a time (the status table).
#[test]
fn codis_vs_redis_per_family() {
    per_family("codis-vs-redis-per-family", Kind::Codis, Gate::from_env());
}

/// The arity table the error generator uses is Redis 7.0's.
#[test]
fn arity_table_is_redis_7() {
    let redis = conformance::Server::start(Kind::Redis).expect("start redis-server");
    let mut c = redis.connect().unwrap();
    for (name, arity) in diff::gen::ARITIES {
        let info = c.cmd(&["COMMAND", "INFO", name]);
        let got = match &info {
            compat::resp::Frame::Array(v) => match v.first() {
                Some(compat::resp::Frame::Array(d)) => match d.get(1) {
                    Some(compat::resp::Frame::Integer(a)) => *a,
                    _ => panic!("{name}: {info:?}"),
                },
                _ => panic!("{name}: {info:?}"),
            },
            _ => panic!("{name}: {info:?}"),
        };
        assert_eq!(got, arity, "arity of {name}");
    }
}
