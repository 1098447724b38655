//! Observability commands: MONITOR, SLOWLOG, LATENCY.

use super::error::CmdError;
use super::flags::*;
use super::{CmdResult, CommandSpec, Ctx};

pub const COMMANDS: &[CommandSpec] = &[
    CommandSpec::new("monitor", 1, ADMIN | NOSCRIPT | LOADING | STALE, (0, 0, 0), monitor),
    CommandSpec::new("slowlog", -2, ADMIN | RANDOM | LOADING | STALE, (0, 0, 0), slowlog),
    CommandSpec::new("latency", -2, ADMIN | NOSCRIPT | LOADING | STALE, (0, 0, 0), latency),
];

fn monitor(ctx: &mut Ctx) -> CmdResult {
    if ctx.client.nested {
        return Err(CmdError::fixed("ERR MONITOR isn't allowed for DENY BLOCKING client"));
    }
    let id = ctx.client.id;
    if !ctx.state.monitors.contains(&id) {
        ctx.state.monitors.push(id);
    }
    ctx.out.ok();
    Ok(())
}

fn sub_arity(_ctx: &Ctx, cmd: &str, sub: &str, ok: bool) -> CmdResult {
    if ok {
        Ok(())
    } else {
        Err(CmdError::msg(format!("ERR wrong number of arguments for '{cmd}|{sub}' command")))
    }
}

fn help(ctx: &mut Ctx, lines: &[&str]) {
    ctx.out.array(lines.len());
    for l in lines {
        ctx.out.simple(l);
    }
}

fn slowlog(ctx: &mut Ctx) -> CmdResult {
    let sub = String::from_utf8_lossy(&ctx.args[1]).to_ascii_lowercase();
    let argc = ctx.args.len();
    match sub.as_str() {
        "get" => {
            sub_arity(ctx, "slowlog", "get", argc <= 3)?;
            let count = if argc == 3 {
                let n = ctx.arg_i64(2)?;
                if n < -1 {
                    return Err(CmdError::fixed("ERR count should be greater than or equal to -1"));
                }
                if n == -1 {
                    usize::MAX
                } else {
                    n as usize
                }
            } else {
                10
            };
            let n = count.min(ctx.state.slowlog.entries.len());
            let out = &mut *ctx.out;
            out.array(n);
            for e in ctx.state.slowlog.entries.iter().take(n) {
                out.array(6);
                out.int(e.id as i64);
                out.int(e.time_s);
                out.int(e.duration_us as i64);
                out.array(e.args.len());
                for a in &e.args {
                    out.bulk(a);
                }
                out.bulk(e.peer.as_bytes());
                out.bulk(&e.name);
            }
        }
        "len" => {
            sub_arity(ctx, "slowlog", "len", argc == 2)?;
            let n = ctx.state.slowlog.entries.len();
            ctx.out.int(n as i64);
        }
        "reset" => {
            sub_arity(ctx, "slowlog", "reset", argc == 2)?;
            ctx.state.slowlog.reset();
            ctx.out.ok();
        }
        "help" => help(
            ctx,
            &[
                "SLOWLOG <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
                "GET [<count>]",
                "    Return top <count> entries from the slowlog (default: 10, -1 mean all).",
                "    Entries are made of:",
                "    id, timestamp, time in microseconds, arguments array, client IP and port,",
                "    client name",
                "LEN",
                "    Return the length of the slowlog.",
                "RESET",
                "    Reset the slowlog.",
                "HELP",
                "    Prints this help.",
            ],
        ),
        _ => return Err(unknown_sub(ctx, "SLOWLOG")),
    }
    Ok(())
}

fn unknown_sub(ctx: &Ctx, cmd: &str) -> CmdError {
    let name = String::from_utf8_lossy(&ctx.args[1]).into_owned();
    CmdError::msg(format!("ERR unknown subcommand '{name}'. Try {cmd} HELP."))
}

fn latency(ctx: &mut Ctx) -> CmdResult {
    let sub = String::from_utf8_lossy(&ctx.args[1]).to_ascii_lowercase();
    let argc = ctx.args.len();
    match sub.as_str() {
        "latest" => {
            sub_arity(ctx, "latency", "latest", argc == 2)?;
            let mut rows: Vec<(&str, i64, u64, u64)> = ctx
                .state
                .latency
                .events
                .iter()
                .filter_map(|(name, s)| s.samples.back().map(|&(t, v)| (*name, t, v, s.max_ms)))
                .collect();
            rows.sort();
            let out = &mut *ctx.out;
            out.array(rows.len());
            for (name, t, v, max) in rows {
                out.array(4);
                out.bulk(name.as_bytes());
                out.int(t);
                out.int(v as i64);
                out.int(max as i64);
            }
        }
        "history" => {
            sub_arity(ctx, "latency", "history", argc == 3)?;
            let name = String::from_utf8_lossy(&ctx.args[2]).to_ascii_lowercase();
            let samples: Vec<(i64, u64)> = ctx
                .state
                .latency
                .events
                .iter()
                .find(|(k, _)| **k == name)
                .map(|(_, s)| s.samples.iter().copied().collect())
                .unwrap_or_default();
            ctx.out.array(samples.len());
            for (t, v) in samples {
                ctx.out.array(2);
                ctx.out.int(t);
                ctx.out.int(v as i64);
            }
        }
        "reset" => {
            let names: Vec<Vec<u8>> = ctx.args[2..].iter().map(|a| a.to_vec()).collect();
            let n = ctx.state.latency.reset(&names);
            ctx.out.int(n as i64);
        }
        "doctor" => {
            sub_arity(ctx, "latency", "doctor", argc == 2)?;
            let text = doctor(ctx);
            ctx.out.verbatim(text.as_bytes());
        }
        "help" => help(
            ctx,
            &[
                "LATENCY <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
                "DOCTOR",
                "    Return a human readable latency analysis report.",
                "HISTORY <event>",
                "    Return time-latency samples for the <event> class.",
                "LATEST",
                "    Return the latest latency samples for all events.",
                "RESET [<event> ...]",
                "    Reset latency data of one or more <event> classes.",
                "    (default: reset all data for all event classes)",
                "HELP",
                "    Prints this help.",
            ],
        ),
        _ => return Err(unknown_sub(ctx, "LATENCY")),
    }
    Ok(())
}

/// A short report in the spirit of Redis's LATENCY DOCTOR.
fn doctor(ctx: &Ctx) -> String {
    let threshold = ctx.state.config.latency_monitor_threshold;
    if threshold == 0 {
        return "I'm sorry, Dave, I can't do that. Latency monitoring is disabled in this Redis instance. You may use \"CONFIG SET latency-monitor-threshold <milliseconds>.\" in order to enable it. If we weren't in a deep space mission I'd suggest to take a look at https://redis.io/topics/latency-monitor.\n".into();
    }
    if ctx.state.latency.events.is_empty() {
        return "Dave, no latency spike was observed during the lifetime of this Redis instance, not in the slightest bit. I honestly think you ought to sleep better.\n".into();
    }
    let mut s = String::from("Dave, I have observed latency spikes in this Redis instance. You don't mind talking about it, do you Dave?\n\n");
    let mut names: Vec<_> = ctx.state.latency.events.iter().collect();
    names.sort_by_key(|(k, _)| **k);
    for (i, (name, series)) in names.iter().enumerate() {
        let n = series.samples.len().max(1) as u64;
        let avg = series.samples.iter().map(|(_, v)| *v).sum::<u64>() / n;
        s.push_str(&format!(
            "{}. {}: {} latency spikes (average {}ms, mean deviation 0ms, period 0 sec). Worst all time event {}ms.\n",
            i + 1,
            name,
            series.samples.len(),
            avg,
            series.max_ms
        ));
    }
    s.push_str("\nI have a few advices for you:\n\n- Check your system for slow commands with SLOWLOG GET, and avoid O(N) commands on big values.\n");
    s
}
