//! `struct`: Roberto Ierusalimschy's struct library as Redis bundles it (pack, unpack, size).
//! Format: `<` `>` endianness (native: little), `!n` alignment, `x` padding byte, `b/B` `h/H`
//! `i/In` `l/L` `T` integers, `f` `d` floats, `cn` fixed strings (`c0`: the whole string, or
//! the previous number when unpacking), `s` zero-terminated strings, spaces ignored.

use mlua::{Lua, MultiValue, Table, Value};

use super::{reg, Args, Fail, LibResult};

const MAXINTSIZE: usize = 32;
const MAXALIGN: usize = 8;

struct Header {
    little: bool,
    align: usize,
}

impl Header {
    fn new() -> Header {
        Header { little: true, align: 1 }
    }
}

struct Fmt<'a> {
    f: &'a [u8],
    pos: usize,
}

impl Fmt<'_> {
    fn next(&mut self) -> Option<u8> {
        let c = *self.f.get(self.pos)?;
        self.pos += 1;
        Some(c)
    }

    fn getnum(&mut self, default: usize) -> usize {
        if !self.f.get(self.pos).is_some_and(u8::is_ascii_digit) {
            return default;
        }
        let mut a: i32 = 0;
        while let Some(c) = self.f.get(self.pos).filter(|c| c.is_ascii_digit()) {
            a = a.wrapping_mul(10).wrapping_add((c - b'0') as i32);
            self.pos += 1;
        }
        a as usize
    }

    fn optsize(&mut self, opt: u8) -> Result<usize, Fail> {
        Ok(match opt {
            b'B' | b'b' => 1,
            b'H' | b'h' => 2,
            b'L' | b'l' | b'T' | b'd' => 8,
            b'f' => 4,
            b'x' => 1,
            b'c' => self.getnum(1),
            b'i' | b'I' => {
                let sz = self.getnum(4);
                if sz > MAXINTSIZE {
                    return Err(Fail::Msg(format!("integral size {} is larger than limit of {MAXINTSIZE}", sz as i32)));
                }
                sz
            }
            _ => 0,
        })
    }
}

fn gettoalign(len: usize, h: &Header, opt: u8, size: usize) -> usize {
    if size == 0 || opt == b'c' {
        return 0;
    }
    let size = size.min(h.align);
    (size.wrapping_sub(len & size.wrapping_sub(1))) & size.wrapping_sub(1)
}

fn controloptions(a: &Args, opt: u8, fmt: &mut Fmt, h: &mut Header) -> Result<(), Fail> {
    match opt {
        b' ' => {}
        b'>' => h.little = false,
        b'<' => h.little = true,
        b'!' => {
            let n = fmt.getnum(MAXALIGN);
            if n == 0 || n & (n - 1) != 0 {
                return Err(Fail::Msg(format!("alignment {} is not a power of 2", n as i32)));
            }
            h.align = n;
        }
        _ => return Err(a.error(1, &format!("invalid format option '{}'", opt as char))),
    }
    Ok(())
}

/// C's conversion of a double to an unsigned 64-bit value, through `long` when negative.
fn to_u64(n: f64) -> u64 {
    if n < 0.0 {
        super::convert::number_to_i64(n) as u64
    } else if n >= 18_446_744_073_709_551_616.0 || n.is_nan() {
        0
    } else {
        n as u64
    }
}

fn pack(lua: &Lua, args: &[Value]) -> LibResult {
    let a = Args { lua, args, fname: "pack" };
    let f = a.bytes(0)?;
    let mut fmt = Fmt { f: &f, pos: 0 };
    let mut h = Header::new();
    let mut arg = 1;
    let mut total = 0usize;
    let mut out: Vec<u8> = Vec::new();
    while let Some(opt) = fmt.next() {
        let mut size = fmt.optsize(opt)?;
        let toalign = gettoalign(total, &h, opt, size);
        total += toalign;
        out.resize(out.len() + toalign, 0);
        match opt {
            b'b' | b'B' | b'h' | b'H' | b'l' | b'L' | b'T' | b'i' | b'I' => {
                let mut value = to_u64(a.number(arg)?);
                arg += 1;
                let mut buf = vec![0u8; size];
                for i in 0..size {
                    let at = if h.little { i } else { size - 1 - i };
                    buf[at] = (value & 0xff) as u8;
                    value = value.checked_shr(8).unwrap_or(0);
                }
                out.extend_from_slice(&buf);
            }
            b'x' => out.push(0),
            b'f' => {
                let v = a.number(arg)? as f32;
                arg += 1;
                out.extend_from_slice(&if h.little { v.to_le_bytes() } else { v.to_be_bytes() });
            }
            b'd' => {
                let v = a.number(arg)?;
                arg += 1;
                out.extend_from_slice(&if h.little { v.to_le_bytes() } else { v.to_be_bytes() });
            }
            b'c' | b's' => {
                let s = a.bytes(arg)?;
                arg += 1;
                if size == 0 {
                    size = s.len();
                }
                if s.len() < size {
                    return Err(a.error(arg + 1, "string too short"));
                }
                out.extend_from_slice(&s[..size]);
                if opt == b's' {
                    out.push(0);
                    size += 1;
                }
            }
            _ => controloptions(&a, opt, &mut fmt, &mut h)?,
        }
        total += size;
    }
    Ok(MultiValue::from_iter([Value::String(lua.create_string(&out)?)]))
}

fn getinteger(buf: &[u8], little: bool, signed: bool, size: usize) -> f64 {
    let mut l: u64 = 0;
    for i in 0..size {
        let at = if little { size - 1 - i } else { i };
        l = (l << 8) | buf[at] as u64;
    }
    if !signed {
        return l as f64;
    }
    let mask = u64::MAX.wrapping_shl((size * 8).wrapping_sub(1) as u32);
    if l & mask != 0 {
        l |= mask;
    }
    l as i64 as f64
}

fn unpack(lua: &Lua, args: &[Value]) -> LibResult {
    let a = Args { lua, args, fname: "unpack" };
    let f = a.bytes(0)?;
    let data = a.bytes(1)?;
    let ld = data.len();
    let start = a.opt_integer(2, 1)? as u64 as usize;
    if start == 0 {
        return Err(a.error(3, "offset must be 1 or greater"));
    }
    let mut pos = start - 1;
    let mut fmt = Fmt { f: &f, pos: 0 };
    let mut h = Header::new();
    let mut out: Vec<Value> = Vec::new();
    let too_short = |size: usize, pos: usize| size > ld || pos > ld - size;
    while let Some(opt) = fmt.next() {
        let mut size = fmt.optsize(opt)?;
        pos = pos.wrapping_add(gettoalign(pos, &h, opt, size));
        if too_short(size, pos) {
            return Err(a.error(2, "data string too short"));
        }
        match opt {
            b'b' | b'B' | b'h' | b'H' | b'l' | b'L' | b'T' | b'i' | b'I' => {
                out.push(Value::Number(getinteger(&data[pos..pos + size], h.little, opt.is_ascii_lowercase(), size)));
            }
            b'x' => {}
            b'f' => {
                let b: [u8; 4] = data[pos..pos + 4].try_into().expect("4 bytes");
                let v = if h.little { f32::from_le_bytes(b) } else { f32::from_be_bytes(b) };
                out.push(Value::Number(v as f64));
            }
            b'd' => {
                let b: [u8; 8] = data[pos..pos + 8].try_into().expect("8 bytes");
                let v = if h.little { f64::from_le_bytes(b) } else { f64::from_be_bytes(b) };
                out.push(Value::Number(v));
            }
            b'c' => {
                if size == 0 {
                    let prev = match out.last() {
                        Some(Value::Number(n)) => Some(*n),
                        Some(Value::Integer(n)) => Some(*n as f64),
                        Some(v @ Value::String(_)) => lua.coerce_number(v.clone()).ok().flatten(),
                        _ => None,
                    };
                    let Some(n) = prev else {
                        return Err(Fail::Msg("format 'c0' needs a previous size".into()));
                    };
                    size = n as u64 as usize;
                    out.pop();
                    if too_short(size, pos) {
                        return Err(a.error(2, "data string too short"));
                    }
                }
                out.push(Value::String(lua.create_string(&data[pos..pos + size])?));
            }
            b's' => {
                let Some(e) = memchr::memchr(0, &data[pos..]) else {
                    return Err(Fail::Msg("unfinished string in data".into()));
                };
                size = e + 1;
                out.push(Value::String(lua.create_string(&data[pos..pos + e])?));
            }
            _ => controloptions(&a, opt, &mut fmt, &mut h)?,
        }
        pos += size;
    }
    out.push(Value::Number((pos + 1) as f64));
    Ok(MultiValue::from_iter(out))
}

fn size(lua: &Lua, args: &[Value]) -> LibResult {
    let a = Args { lua, args, fname: "size" };
    let f = a.bytes(0)?;
    let mut fmt = Fmt { f: &f, pos: 0 };
    let mut h = Header::new();
    let mut pos = 0usize;
    while let Some(opt) = fmt.next() {
        let size = fmt.optsize(opt)?;
        pos += gettoalign(pos, &h, opt, size);
        if opt == b's' {
            return Err(a.error(1, "option 's' has no fixed size"));
        } else if opt == b'c' && size == 0 {
            return Err(a.error(1, "option 'c0' has no fixed size"));
        }
        if !opt.is_ascii_alphanumeric() {
            controloptions(&a, opt, &mut fmt, &mut h)?;
        }
        pos += size;
    }
    Ok(MultiValue::from_iter([Value::Number(pos as f64)]))
}

pub fn register(lua: &Lua, raw: &Table) -> mlua::Result<()> {
    reg(lua, raw, "struct_pack", pack)?;
    reg(lua, raw, "struct_unpack", unpack)?;
    reg(lua, raw, "struct_size", size)?;
    Ok(())
}
