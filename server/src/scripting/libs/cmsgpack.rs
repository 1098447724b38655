//! `cmsgpack`: MessagePack as Redis's bundled lua-cmsgpack encodes and decodes it. Numbers
//! with an exact 64-bit integer value use the smallest integer encoding, other numbers a
//! float32 when exact, else a float64; tables whose keys are exactly 1..n are arrays, other
//! tables maps; nesting deeper than 16 tables encodes as nil; functions and userdata as nil.

use mlua::{Lua, MultiValue, Table, Value};

use super::{reg, Args, Fail, LibResult};

const MAX_NESTING: usize = 16;

fn is_int64(n: f64) -> bool {
    !n.is_infinite() && super::convert::number_to_i64(n) as f64 == n
}

/// C's `(int)` of a double on x86-64: out of range and NaN give `INT_MIN`.
fn c_int(n: f64) -> i32 {
    if n.is_nan() || n >= 2_147_483_648.0 || n <= -2_147_483_649.0 {
        i32::MIN
    } else {
        n as i32
    }
}

fn encode_bytes(out: &mut Vec<u8>, s: &[u8]) {
    let len = s.len();
    if len < 32 {
        out.push(0xa0 | len as u8);
    } else if len <= 0xff {
        out.extend_from_slice(&[0xd9, len as u8]);
    } else if len <= 0xffff {
        out.push(0xda);
        out.extend_from_slice(&(len as u16).to_be_bytes());
    } else {
        out.push(0xdb);
        out.extend_from_slice(&(len as u32).to_be_bytes());
    }
    out.extend_from_slice(s);
}

fn encode_int(out: &mut Vec<u8>, n: i64) {
    if n >= 0 {
        if n <= 127 {
            out.push(n as u8);
        } else if n <= 0xff {
            out.extend_from_slice(&[0xcc, n as u8]);
        } else if n <= 0xffff {
            out.push(0xcd);
            out.extend_from_slice(&(n as u16).to_be_bytes());
        } else if n <= 0xffff_ffff {
            out.push(0xce);
            out.extend_from_slice(&(n as u32).to_be_bytes());
        } else {
            out.push(0xcf);
            out.extend_from_slice(&(n as u64).to_be_bytes());
        }
    } else if n >= -32 {
        out.push(n as i8 as u8);
    } else if n >= -128 {
        out.extend_from_slice(&[0xd0, n as u8]);
    } else if n >= -32768 {
        out.push(0xd1);
        out.extend_from_slice(&(n as i16).to_be_bytes());
    } else if n >= -2_147_483_648 {
        out.push(0xd2);
        out.extend_from_slice(&(n as i32).to_be_bytes());
    } else {
        out.push(0xd3);
        out.extend_from_slice(&n.to_be_bytes());
    }
}

fn encode_number(out: &mut Vec<u8>, n: f64) {
    if is_int64(n) {
        encode_int(out, n as i64);
    } else if (n as f32) as f64 == n {
        out.push(0xca);
        out.extend_from_slice(&(n as f32).to_be_bytes());
    } else {
        out.push(0xcb);
        out.extend_from_slice(&n.to_be_bytes());
    }
}

fn is_array(t: &Table) -> bool {
    let (mut count, mut max) = (0i64, 0i64);
    for pair in t.pairs::<Value, Value>() {
        let Ok((k, _)) = pair else { return false };
        let n = match k {
            Value::Integer(i) => i as f64,
            Value::Number(n) => n,
            _ => return false,
        };
        if n <= 0.0 || n.is_infinite() || c_int(n) as f64 != n {
            return false;
        }
        max = max.max(c_int(n) as i64);
        count += 1;
    }
    max == count
}

fn encode(out: &mut Vec<u8>, v: &Value, level: usize) {
    match v {
        Value::String(s) => encode_bytes(out, &s.as_bytes()),
        Value::Boolean(b) => out.push(if *b { 0xc3 } else { 0xc2 }),
        Value::Integer(i) => encode_number(out, *i as f64),
        Value::Number(n) => encode_number(out, *n),
        Value::Table(t) if level < MAX_NESTING => {
            if is_array(t) {
                let len = t.raw_len();
                header(out, len, 0x90, 0xdc, 0xdd);
                for j in 1..=len {
                    let v = t.get::<Value>(j).unwrap_or(Value::Nil);
                    encode(out, &v, level + 1);
                }
            } else {
                let pairs: Vec<(Value, Value)> = t.pairs::<Value, Value>().filter_map(Result::ok).collect();
                header(out, pairs.len(), 0x80, 0xde, 0xdf);
                for (k, v) in &pairs {
                    encode(out, k, level + 1);
                    encode(out, v, level + 1);
                }
            }
        }
        _ => out.push(0xc0),
    }
}

fn header(out: &mut Vec<u8>, n: usize, fix: u8, h16: u8, h32: u8) {
    if n <= 15 {
        out.push(fix | n as u8);
    } else if n <= 0xffff {
        out.push(h16);
        out.extend_from_slice(&(n as u16).to_be_bytes());
    } else {
        out.push(h32);
        out.extend_from_slice(&(n as u32).to_be_bytes());
    }
}

fn pack(lua: &Lua, args: &[Value]) -> LibResult {
    if args.is_empty() {
        return Err(Fail::Msg("bad argument #0 to 'pack' (MessagePack pack needs input.)".into()));
    }
    let mut out = Vec::new();
    for v in args {
        encode(&mut out, v, 0);
    }
    Ok(MultiValue::from_iter([Value::String(lua.create_string(&out)?)]))
}

enum DecodeError {
    Eof,
    BadFormat,
    Lua(mlua::Error),
}

impl From<mlua::Error> for DecodeError {
    fn from(e: mlua::Error) -> Self {
        DecodeError::Lua(e)
    }
}

struct Cursor<'a> {
    data: &'a [u8],
    pos: usize,
    /// Nesting of the value being decoded (bounded like Redis's Lua stack).
    depth: usize,
}

const MAX_DECODE_DEPTH: usize = 3998;

impl Cursor<'_> {
    fn need(&self, n: usize) -> Result<(), DecodeError> {
        if self.data.len() - self.pos < n {
            Err(DecodeError::Eof)
        } else {
            Ok(())
        }
    }

    fn be(&self, from: usize, n: usize) -> u64 {
        self.data[self.pos + from..self.pos + from + n].iter().fold(0u64, |acc, &b| (acc << 8) | b as u64)
    }

    fn string(&mut self, lua: &Lua, skip: usize, len: usize) -> Result<Value, DecodeError> {
        self.need(skip + len)?;
        let s = lua.create_string(&self.data[self.pos + skip..self.pos + skip + len])?;
        self.pos += skip + len;
        Ok(Value::String(s))
    }

    fn decode(&mut self, lua: &Lua) -> Result<Value, DecodeError> {
        self.need(1)?;
        let c = self.data[self.pos];
        let num = |v: f64| Value::Number(v);
        Ok(match c {
            0xcc => {
                self.need(2)?;
                let v = self.be(1, 1);
                self.pos += 2;
                num(v as f64)
            }
            0xd0 => {
                self.need(2)?;
                let v = self.data[self.pos + 1] as i8;
                self.pos += 2;
                num(v as f64)
            }
            0xcd => {
                self.need(3)?;
                let v = self.be(1, 2);
                self.pos += 3;
                num(v as f64)
            }
            0xd1 => {
                self.need(3)?;
                let v = self.be(1, 2) as u16 as i16;
                self.pos += 3;
                num(v as f64)
            }
            0xce => {
                self.need(5)?;
                let v = self.be(1, 4);
                self.pos += 5;
                num(v as f64)
            }
            0xd2 => {
                self.need(5)?;
                let v = self.be(1, 4) as u32 as i32;
                self.pos += 5;
                num(v as f64)
            }
            0xcf => {
                self.need(9)?;
                let v = self.be(1, 8) as i64;
                self.pos += 9;
                num(v as f64)
            }
            0xd3 => {
                self.need(9)?;
                let v = self.be(1, 8) as i64;
                self.pos += 9;
                num(v as f64)
            }
            0xc0 => {
                self.pos += 1;
                Value::Nil
            }
            0xc3 | 0xc2 => {
                self.pos += 1;
                Value::Boolean(c == 0xc3)
            }
            0xca => {
                self.need(5)?;
                let v = f32::from_bits(self.be(1, 4) as u32);
                self.pos += 5;
                num(v as f64)
            }
            0xcb => {
                self.need(9)?;
                let v = f64::from_bits(self.be(1, 8));
                self.pos += 9;
                num(v)
            }
            0xd9 => {
                self.need(2)?;
                let l = self.be(1, 1) as usize;
                self.string(lua, 2, l)?
            }
            0xda => {
                self.need(3)?;
                let l = self.be(1, 2) as usize;
                self.string(lua, 3, l)?
            }
            0xdb => {
                self.need(5)?;
                let l = self.be(1, 4) as usize;
                self.pos += 5;
                self.string(lua, 0, l)?
            }
            0xdc..=0xdf => {
                let n = if c == 0xdc || c == 0xde { 2 } else { 4 };
                self.need(1 + n)?;
                let l = self.be(1, n) as usize;
                self.pos += 1 + n;
                if c <= 0xdd {
                    self.array(lua, l)?
                } else {
                    self.map(lua, l)?
                }
            }
            _ if c & 0x80 == 0 => {
                self.pos += 1;
                num(c as f64)
            }
            _ if c & 0xe0 == 0xe0 => {
                self.pos += 1;
                num(c as i8 as f64)
            }
            _ if c & 0xe0 == 0xa0 => self.string(lua, 1, (c & 0x1f) as usize)?,
            _ if c & 0xf0 == 0x90 => {
                self.pos += 1;
                self.array(lua, (c & 0xf) as usize)?
            }
            _ if c & 0xf0 == 0x80 => {
                self.pos += 1;
                self.map(lua, (c & 0xf) as usize)?
            }
            _ => return Err(DecodeError::BadFormat),
        })
    }

    fn array(&mut self, lua: &Lua, len: usize) -> Result<Value, DecodeError> {
        if self.depth >= MAX_DECODE_DEPTH {
            return Err(DecodeError::Lua(mlua::Error::runtime("stack overflow (in function mp_decode_to_lua_array)")));
        }
        self.depth += 1;
        let r = self.array_items(lua, len);
        self.depth -= 1;
        r
    }

    fn array_items(&mut self, lua: &Lua, len: usize) -> Result<Value, DecodeError> {
        let t = lua.create_table()?;
        for i in 1..=len {
            let v = self.decode(lua)?;
            t.raw_set(i, v)?;
        }
        Ok(Value::Table(t))
    }

    fn map(&mut self, lua: &Lua, len: usize) -> Result<Value, DecodeError> {
        if self.depth >= MAX_DECODE_DEPTH {
            return Err(DecodeError::Lua(mlua::Error::runtime("stack overflow (in function mp_decode_to_lua_hash)")));
        }
        self.depth += 1;
        let r = self.map_items(lua, len);
        self.depth -= 1;
        r
    }

    fn map_items(&mut self, lua: &Lua, len: usize) -> Result<Value, DecodeError> {
        let t = lua.create_table()?;
        for _ in 0..len {
            let k = self.decode(lua)?;
            let v = self.decode(lua)?;
            match &k {
                Value::Nil => return Err(DecodeError::Lua(mlua::Error::runtime("table index is nil"))),
                Value::Number(n) if n.is_nan() => {
                    return Err(DecodeError::Lua(mlua::Error::runtime("table index is NaN")))
                }
                _ => t.raw_set(k, v)?,
            }
        }
        Ok(Value::Table(t))
    }
}

/// `mp_unpack_full`: decodes up to `limit` values from `offset` (all when both are 0); unless
/// decoding all, the next offset (or -1 at the end) comes first.
fn unpack_full(lua: &Lua, args: &[Value], fname: &'static str, limit: i64, offset: i64) -> LibResult {
    let a = Args { lua, args, fname };
    let s = a.bytes(0)?;
    let decode_all = limit == 0 && offset == 0;
    if offset < 0 || limit < 0 {
        return Err(Fail::Msg(format!(
            "Invalid request to unpack with offset of {} and limit of {}.",
            offset as i32,
            s.len() as i32
        )));
    }
    if offset as u64 > s.len() as u64 {
        return Err(Fail::Msg(format!("Start offset {} greater than input length {}.", offset as i32, s.len() as i32)));
    }
    let limit = if decode_all { i32::MAX as i64 } else { limit };
    let mut cur = Cursor { data: &s, pos: offset as usize, depth: 0 };
    let mut out = Vec::new();
    let mut count = 0;
    while cur.pos < s.len() && count < limit {
        match cur.decode(lua) {
            Ok(v) => out.push(v),
            Err(DecodeError::Eof) => return Err(Fail::Msg("Missing bytes in input.".into())),
            Err(DecodeError::BadFormat) => return Err(Fail::Msg("Bad data format in input.".into())),
            Err(DecodeError::Lua(mlua::Error::RuntimeError(m))) if m.starts_with("table index") => {
                return Err(Fail::NoPos(m))
            }
            Err(DecodeError::Lua(e)) => {
                return Err(Fail::Msg(e.to_string().trim_start_matches("runtime error: ").to_string()))
            }
        }
        count += 1;
    }
    if !decode_all {
        let next = if cur.pos == s.len() { -1.0 } else { cur.pos as f64 };
        out.insert(0, Value::Number(next));
    }
    Ok(MultiValue::from_iter(out))
}

pub fn register(lua: &Lua, raw: &Table) -> mlua::Result<()> {
    reg(lua, raw, "msgpack_pack", pack)?;
    reg(lua, raw, "msgpack_unpack", |lua, args| unpack_full(lua, args, "unpack", 0, 0))?;
    reg(lua, raw, "msgpack_unpack_one", |lua, args| {
        let a = Args { lua, args, fname: "unpack_one" };
        let offset = a.opt_integer(1, 0)?;
        unpack_full(lua, &args[..args.len().min(1)], "unpack_one", 1, offset)
    })?;
    reg(lua, raw, "msgpack_unpack_limit", |lua, args| {
        let a = Args { lua, args, fname: "unpack_limit" };
        let limit = a.integer(1)?;
        let offset = a.opt_integer(2, 0)?;
        unpack_full(lua, &args[..args.len().min(1)], "unpack_limit", limit, offset)
    })?;
    Ok(())
}
