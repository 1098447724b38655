//! Pub/Sub: SUBSCRIBE, UNSUBSCRIBE, PSUBSCRIBE, PUNSUBSCRIBE, PUBLISH, PUBSUB.

use bytes::Bytes;

use super::error::CmdError;
use super::flags::*;
use super::{CmdResult, CommandSpec, Ctx};

pub const COMMANDS: &[CommandSpec] = &[
    CommandSpec::new("subscribe", -2, PUBSUB | NOSCRIPT | LOADING | STALE, (0, 0, 0), subscribe),
    CommandSpec::new("unsubscribe", -1, PUBSUB | NOSCRIPT | LOADING | STALE, (0, 0, 0), unsubscribe),
    CommandSpec::new("psubscribe", -2, PUBSUB | NOSCRIPT | LOADING | STALE, (0, 0, 0), psubscribe),
    CommandSpec::new("punsubscribe", -1, PUBSUB | NOSCRIPT | LOADING | STALE, (0, 0, 0), punsubscribe),
    CommandSpec::new("publish", 3, PUBSUB | LOADING | STALE | FAST, (0, 0, 0), publish),
    CommandSpec::new("pubsub", -2, PUBSUB | RANDOM | LOADING | STALE, (0, 0, 0), pubsub),
];

/// Commands a RESP2 client may send while subscribed.
pub fn allowed_while_subscribed(name: &str) -> bool {
    matches!(
        name,
        "subscribe"
            | "unsubscribe"
            | "psubscribe"
            | "punsubscribe"
            | "ssubscribe"
            | "sunsubscribe"
            | "ping"
            | "quit"
            | "reset"
    )
}

/// `[kind, name, count]` as a push (RESP3) or an array (RESP2); `name` None is a null.
fn confirm(ctx: &mut Ctx, kind: &[u8], name: Option<&[u8]>, count: usize) {
    ctx.out.push(3);
    ctx.out.bulk(kind);
    match name {
        Some(n) => ctx.out.bulk(n),
        None => ctx.out.null(),
    }
    ctx.out.int(count as i64);
}

/// Where the subscriber's messages go: its outbox (one that drops them if it is not registered).
fn outbox_of(ctx: &Ctx) -> std::sync::Arc<crate::client::Outbox> {
    match ctx.state.clients.get(&ctx.client.id) {
        Some(c) => c.outbox.clone(),
        None => std::sync::Arc::new(crate::client::Outbox::detached()),
    }
}

fn subscribe(ctx: &mut Ctx) -> CmdResult {
    let id = ctx.client.id;
    let outbox = outbox_of(ctx);
    for ch in &ctx.args[1..] {
        let (_, count) = ctx.state.pubsub.subscribe(id, &outbox, ch);
        ctx.client.subscriptions = count;
        confirm(ctx, b"subscribe", Some(ch), count);
    }
    Ok(())
}

fn psubscribe(ctx: &mut Ctx) -> CmdResult {
    let id = ctx.client.id;
    let outbox = outbox_of(ctx);
    for p in &ctx.args[1..] {
        let (_, count) = ctx.state.pubsub.psubscribe(id, &outbox, p);
        ctx.client.subscriptions = count;
        confirm(ctx, b"psubscribe", Some(p), count);
    }
    Ok(())
}

fn unsubscribe(ctx: &mut Ctx) -> CmdResult {
    let id = ctx.client.id;
    let targets: Vec<Bytes> =
        if ctx.args.len() > 1 { ctx.args[1..].to_vec() } else { ctx.state.pubsub.channels_of(id) };
    if targets.is_empty() {
        let count = ctx.state.pubsub.count_of(id);
        confirm(ctx, b"unsubscribe", None, count);
        return Ok(());
    }
    for ch in targets {
        let (_, count) = ctx.state.pubsub.unsubscribe(id, &ch);
        ctx.client.subscriptions = count;
        confirm(ctx, b"unsubscribe", Some(&ch), count);
    }
    Ok(())
}

fn punsubscribe(ctx: &mut Ctx) -> CmdResult {
    let id = ctx.client.id;
    let targets: Vec<Bytes> =
        if ctx.args.len() > 1 { ctx.args[1..].to_vec() } else { ctx.state.pubsub.patterns_of(id) };
    if targets.is_empty() {
        let count = ctx.state.pubsub.count_of(id);
        confirm(ctx, b"punsubscribe", None, count);
        return Ok(());
    }
    for p in targets {
        let (_, count) = ctx.state.pubsub.punsubscribe(id, &p);
        ctx.client.subscriptions = count;
        confirm(ctx, b"punsubscribe", Some(&p), count);
    }
    Ok(())
}

fn publish(ctx: &mut Ctx) -> CmdResult {
    let n = ctx.state.publish(&ctx.args[1], &ctx.args[2]);
    ctx.out.int(n as i64);
    Ok(())
}

fn pubsub(ctx: &mut Ctx) -> CmdResult {
    let sub = String::from_utf8_lossy(&ctx.args[1]).to_ascii_lowercase();
    let argc = ctx.args.len();
    match sub.as_str() {
        "channels" if argc <= 3 => {
            let pattern = ctx.args.get(2).cloned();
            let chans = ctx.state.pubsub.active_channels(pattern.as_deref());
            ctx.out.array(chans.len());
            for c in chans {
                ctx.out.bulk(&c);
            }
        }
        "numsub" => {
            ctx.out.array((argc - 2) * 2);
            for i in 2..argc {
                let n = ctx.state.pubsub.numsub(&ctx.args[i]);
                let ch = ctx.args[i].clone();
                ctx.out.bulk(&ch);
                ctx.out.int(n as i64);
            }
        }
        "numpat" if argc == 2 => {
            let n = ctx.state.pubsub.numpat();
            ctx.out.int(n as i64);
        }
        "shardchannels" if argc <= 3 => ctx.out.array(0),
        "shardnumsub" => {
            ctx.out.array((argc - 2) * 2);
            for i in 2..argc {
                let ch = ctx.args[i].clone();
                ctx.out.bulk(&ch);
                ctx.out.int(0);
            }
        }
        "help" if argc == 2 => {
            let lines = [
                "PUBSUB <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
                "CHANNELS [<pattern>]",
                "    Return the currently active channels matching a <pattern> (default: '*').",
                "NUMPAT",
                "    Return number of subscriptions to patterns.",
                "NUMSUB [<channel> ...]",
                "    Return the number of subscribers for the specified channels, excluding",
                "    pattern subscriptions(default: no channels).",
                "SHARDCHANNELS [<pattern>]",
                "    Return the currently active shard level channels matching a <pattern> (default: '*').",
                "SHARDNUMSUB [<shardchannel> ...]",
                "    Return the number of subscribers for the specified shard level channel(s)",
                "HELP",
                "    Prints this help.",
            ];
            ctx.out.array(lines.len());
            for l in lines {
                ctx.out.simple(l);
            }
        }
        "channels" | "numpat" | "shardchannels" | "help" => {
            return Err(CmdError::msg(format!("ERR wrong number of arguments for 'pubsub|{sub}' command")));
        }
        _ => {
            let name = String::from_utf8_lossy(&ctx.args[1]).into_owned();
            return Err(CmdError::msg(format!("ERR unknown subcommand '{name}'. Try PUBSUB HELP.")));
        }
    }
    Ok(())
}
