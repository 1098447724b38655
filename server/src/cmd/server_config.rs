//! CONFIG GET / SET / REWRITE / RESETSTAT / HELP (Redis 7.0 semantics and wording).

use super::{check_arity, help_reply, unknown_subcommand};
use crate::cmd::{CmdError, CmdResult, Ctx};

pub fn config(ctx: &mut Ctx) -> CmdResult {
    let sub = String::from_utf8_lossy(&ctx.args[1]).to_ascii_lowercase();
    match sub.as_str() {
        "get" => {
            check_arity(ctx, "config", "get", -3)?;
            let patterns: Vec<&[u8]> = ctx.args[2..].iter().map(|a| &a[..]).collect();
            let pairs = ctx.state.config.get_matching(&patterns);
            ctx.out.map(pairs.len());
            for (name, value) in pairs {
                ctx.out.bulk(name.as_bytes());
                ctx.out.bulk(value.as_bytes());
            }
            Ok(())
        }
        "set" => {
            check_arity(ctx, "config", "set", -4)?;
            if !ctx.args.len().is_multiple_of(2) {
                return Err(super::error::SYNTAX);
            }
            let pairs: Vec<(&[u8], &[u8])> = ctx.args[2..].chunks(2).map(|p| (&p[0][..], &p[1][..])).collect();
            let local = ctx.client.addr.ip().is_loopback();
            let outcome = ctx.state.config.set_many(&pairs, local).map_err(CmdError::msg)?;
            if outcome.loglevel_changed {
                crate::config::logging::set_level(&ctx.state.config.loglevel);
            }
            ctx.out.ok();
            Ok(())
        }
        "rewrite" => {
            check_arity(ctx, "config", "rewrite", 2)?;
            match ctx.state.config.rewrite() {
                Ok(()) => {
                    tracing::info!("CONFIG REWRITE executed with success.");
                    ctx.out.ok();
                    Ok(())
                }
                Err(e) => {
                    if ctx.state.config.config_file.is_some() {
                        tracing::warn!("CONFIG REWRITE failed: {e}");
                    }
                    Err(CmdError::msg(e))
                }
            }
        }
        "resetstat" => {
            check_arity(ctx, "config", "resetstat", 2)?;
            super::info::reset_stats(ctx.state);
            ctx.out.ok();
            Ok(())
        }
        "help" => {
            check_arity(ctx, "config", "help", 2)?;
            help_reply(
                ctx.out,
                "CONFIG",
                &[
                    "GET <pattern>",
                    "    Return parameters matching the glob-like <pattern> and their values.",
                    "SET <directive> <value>",
                    "    Set the configuration <directive> to <value>.",
                    "RESETSTAT",
                    "    Reset statistics reported by the INFO command.",
                    "REWRITE",
                    "    Rewrite the configuration file.",
                ],
            );
            Ok(())
        }
        _ => Err(unknown_subcommand(ctx, "CONFIG")),
    }
}

#[cfg(test)]
mod tests {
    use crate::cmd::server::test_util::*;

    #[test]
    fn config_get_set_replies() {
        let mut st = state();
        let mut c = client(&mut st, 1);
        assert_eq!(run(&mut st, &mut c, &["config", "get", "hz"]), "*2\r\n$2\r\nhz\r\n$2\r\n10\r\n");
        assert_eq!(run(&mut st, &mut c, &["config", "get", "nosuch"]), "*0\r\n");
        assert_eq!(run(&mut st, &mut c, &["config", "set", "hz", "20"]), "+OK\r\n");
        assert_eq!(st.config.hz, 20);
        assert_eq!(run(&mut st, &mut c, &["config", "set", "hz", "10", "maxclients"]), "-ERR syntax error\r\n");
        assert_eq!(
            run(&mut st, &mut c, &["config", "set", "hz"]),
            "-ERR wrong number of arguments for 'config|set' command\r\n"
        );
        assert_eq!(
            run(&mut st, &mut c, &["config", "get"]),
            "-ERR wrong number of arguments for 'config|get' command\r\n"
        );
        assert_eq!(run(&mut st, &mut c, &["config"]), "-ERR wrong number of arguments for 'config' command\r\n");
        assert_eq!(run(&mut st, &mut c, &["config", "foo"]), "-ERR unknown subcommand 'foo'. Try CONFIG HELP.\r\n");
        assert_eq!(
            run(&mut st, &mut c, &["config", "rewrite"]),
            "-ERR The server is running without a config file\r\n"
        );
        assert!(run(&mut st, &mut c, &["config", "help"]).starts_with("*11\r\n+CONFIG <subcommand>"));
        c.resp3 = true;
        assert_eq!(run(&mut st, &mut c, &["config", "get", "hz"]), "%1\r\n$2\r\nhz\r\n$2\r\n20\r\n");
    }

    #[test]
    fn resetstat_clears_counters() {
        let mut st = state();
        let mut c = client(&mut st, 1);
        run(&mut st, &mut c, &["get", "x"]);
        assert_eq!(st.stats.keyspace_misses, 1);
        assert_eq!(run(&mut st, &mut c, &["config", "resetstat"]), "+OK\r\n");
        assert_eq!(st.stats.keyspace_misses, 0);
        // The RESETSTAT call itself is counted after the reset, as in Redis.
        assert_eq!(st.stats.total_commands, 1);
        let text = crate::cmd::server::info::generate(&st, &["commandstats".to_string()]);
        assert_eq!(text.lines().filter(|l| l.starts_with("cmdstat_")).count(), 1, "{text}");
    }
}
