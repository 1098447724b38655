//! String commands.

use super::flags::*;
use super::{CmdResult, CommandSpec, Ctx};
use crate::db::Value;

pub const COMMANDS: &[CommandSpec] = &[
    CommandSpec::new("get", 2, READONLY | FAST, (1, 1, 1), get),
    CommandSpec::new("set", -3, WRITE | DENYOOM, (1, 1, 1), set),
];

fn get(ctx: &mut Ctx) -> CmdResult {
    let key = ctx.args[1].clone();
    match ctx.read_value(&key) {
        None => ctx.out.null(),
        Some(Value::Int(n)) => {
            let n = *n;
            ctx.out.bulk_int(n)
        }
        Some(Value::Str(s)) => {
            let b = s.clone();
            ctx.out.bulk(&b)
        }
        Some(Value::Raw(v)) => {
            let b = v.to_vec();
            ctx.out.bulk(&b)
        }
        Some(_) => return Err(super::error::WRONGTYPE),
    }
    Ok(())
}

fn set(ctx: &mut Ctx) -> CmdResult {
    let key = ctx.args[1].clone();
    let v = Value::string(&ctx.args[2]);
    ctx.set_key(&key, v, false);
    ctx.out.ok();
    Ok(())
}
