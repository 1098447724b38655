//! `bit`: LuaBitOp's operations on 32-bit integers. Arguments are numbers (or numeric strings)
//! reduced modulo 2^32 the way LuaBitOp does it (adding 2^52 + 2^51 and keeping the low word of
//! the double, which rounds to nearest); results are signed 32-bit numbers.

use mlua::{Lua, Table, Value};

use super::{one, reg, Args, Fail, LibResult};

/// LuaBitOp's `barg`.
fn barg(a: &Args, i: usize) -> Result<u32, Fail> {
    let n = a.to_number(i).unwrap_or(0.0);
    let b = ((n + 6_755_399_441_055_744.0).to_bits() & 0xffff_ffff) as u32;
    if b == 0 && a.to_number(i).is_none() {
        return Err(a.type_error(i, "number"));
    }
    Ok(b)
}

fn ret(lua: &Lua, b: u32) -> LibResult {
    one(lua, b as i32 as f64)
}

fn unary(lua: &Lua, args: &[Value], fname: &'static str, f: fn(u32) -> u32) -> LibResult {
    let a = Args { lua, args, fname };
    ret(lua, f(barg(&a, 0)?))
}

fn fold(lua: &Lua, args: &[Value], fname: &'static str, f: fn(u32, u32) -> u32) -> LibResult {
    let a = Args { lua, args, fname };
    let mut b = barg(&a, 0)?;
    for i in 1..args.len() {
        b = f(b, barg(&a, i)?);
    }
    ret(lua, b)
}

fn shift(lua: &Lua, args: &[Value], fname: &'static str, f: fn(u32, u32) -> u32) -> LibResult {
    let a = Args { lua, args, fname };
    let b = barg(&a, 0)?;
    let n = barg(&a, 1)? & 31;
    ret(lua, f(b, n))
}

fn tohex(lua: &Lua, args: &[Value]) -> LibResult {
    let a = Args { lua, args, fname: "tohex" };
    let mut b = barg(&a, 0)?;
    let mut n: i32 = if args.len() < 2 { 8 } else { barg(&a, 1)? as i32 };
    let digits: &[u8; 16] = if n < 0 {
        n = n.wrapping_neg();
        b"0123456789ABCDEF"
    } else {
        b"0123456789abcdef"
    };
    let n = if !(0..=8).contains(&n) { 8 } else { n as usize };
    let mut buf = vec![0u8; n];
    for c in buf.iter_mut().rev() {
        *c = digits[(b & 15) as usize];
        b >>= 4;
    }
    one(lua, lua.create_string(&buf)?)
}

pub fn register(lua: &Lua, raw: &Table) -> mlua::Result<()> {
    reg(lua, raw, "bit_tobit", |lua, args| unary(lua, args, "tobit", |b| b))?;
    reg(lua, raw, "bit_bnot", |lua, args| unary(lua, args, "bnot", |b| !b))?;
    reg(lua, raw, "bit_bswap", |lua, args| unary(lua, args, "bswap", u32::swap_bytes))?;
    reg(lua, raw, "bit_band", |lua, args| fold(lua, args, "band", |a, b| a & b))?;
    reg(lua, raw, "bit_bor", |lua, args| fold(lua, args, "bor", |a, b| a | b))?;
    reg(lua, raw, "bit_bxor", |lua, args| fold(lua, args, "bxor", |a, b| a ^ b))?;
    reg(lua, raw, "bit_lshift", |lua, args| shift(lua, args, "lshift", |b, n| b << n))?;
    reg(lua, raw, "bit_rshift", |lua, args| shift(lua, args, "rshift", |b, n| b >> n))?;
    reg(lua, raw, "bit_arshift", |lua, args| shift(lua, args, "arshift", |b, n| ((b as i32) >> n) as u32))?;
    reg(lua, raw, "bit_rol", |lua, args| shift(lua, args, "rol", u32::rotate_left))?;
    reg(lua, raw, "bit_ror", |lua, args| shift(lua, args, "ror", u32::rotate_right))?;
    reg(lua, raw, "bit_tohex", tohex)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tobit(lua: &Lua, v: Value) -> u32 {
        barg(&Args { lua, args: &[v], fname: "tobit" }, 0).ok().unwrap()
    }

    #[test]
    fn normalisation_rounds_like_luabitop() {
        let lua = Lua::new();
        assert_eq!(tobit(&lua, Value::Number(1.5)), 2);
        assert_eq!(tobit(&lua, Value::Number(2.5)), 2);
        assert_eq!(tobit(&lua, Value::Number(-1.0)), 0xffff_ffff);
        assert_eq!(tobit(&lua, Value::Number(4294967301.0)), 5);
        assert_eq!(tobit(&lua, Value::String(lua.create_string("0x10").unwrap())), 16);
        assert!(barg(&Args { lua: &lua, args: &[], fname: "tobit" }, 0).is_err());
    }
}
