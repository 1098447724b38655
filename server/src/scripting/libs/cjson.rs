//! `cjson`: JSON as Redis's bundled lua-cjson 2.1.0 encodes and decodes it. Encoding: numbers
//! with `%.14g`, NaN/Inf refused, tables whose keys are all positive integers are arrays (holes
//! become null; excessively sparse ones are refused), other tables objects in table order;
//! nesting is limited to 1000. Decoding: `null` becomes `cjson.null`, numbers go through
//! `strtod` (so hex, leading zeros, inf and nan are accepted), errors name the token and its
//! position.

use std::sync::{Arc, Mutex};

use mlua::{LightUserData, Lua, MultiValue, Table, Value};

use super::{one, reg, Args, Fail, LibResult};
use crate::scripting::convert::number_to_i64;

struct Config {
    sparse_convert: bool,
    sparse_ratio: i64,
    sparse_safe: i64,
    encode_max_depth: i64,
    decode_max_depth: i64,
    precision: usize,
    keep_buffer: bool,
    /// 0 off, 1 on, 2 null.
    encode_invalid: u8,
    decode_invalid: bool,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            sparse_convert: false,
            sparse_ratio: 2,
            sparse_safe: 10,
            encode_max_depth: 1000,
            decode_max_depth: 1000,
            precision: 14,
            keep_buffer: true,
            encode_invalid: 0,
            decode_invalid: true,
        }
    }
}

type Shared = Arc<Mutex<Config>>;

fn type_name(v: &Value) -> &'static str {
    super::type_name(Some(v))
}

fn exception(v: &Value, reason: &str) -> Fail {
    Fail::Msg(format!("Cannot serialise {}: {reason}", type_name(v)))
}

// ---- Encoding -------------------------------------------------------------------------------

fn append_string(out: &mut Vec<u8>, s: &[u8]) {
    out.push(b'"');
    for &c in s {
        match c {
            b'"' => out.extend_from_slice(b"\\\""),
            b'\\' => out.extend_from_slice(b"\\\\"),
            b'/' => out.extend_from_slice(b"\\/"),
            8 => out.extend_from_slice(b"\\b"),
            9 => out.extend_from_slice(b"\\t"),
            10 => out.extend_from_slice(b"\\n"),
            12 => out.extend_from_slice(b"\\f"),
            13 => out.extend_from_slice(b"\\r"),
            0..=31 | 127 => out.extend_from_slice(format!("\\u{:04x}", c).as_bytes()),
            _ => out.push(c),
        }
    }
    out.push(b'"');
}

fn append_number(cfg: &Config, out: &mut Vec<u8>, v: &Value, n: f64) -> Result<(), Fail> {
    if n.is_nan() || n.is_infinite() {
        match cfg.encode_invalid {
            0 => return Err(exception(v, "must not be NaN or Inf")),
            1 => {
                out.extend_from_slice(crate::scripting::convert::g17(n).as_bytes());
                return Ok(());
            }
            _ => {
                out.extend_from_slice(b"null");
                return Ok(());
            }
        }
    }
    out.extend_from_slice(crate::scripting::convert::fmt_g(n, cfg.precision).as_bytes());
    Ok(())
}

fn number_of(v: &Value) -> Option<f64> {
    match v {
        Value::Integer(i) => Some(*i as f64),
        Value::Number(n) => Some(*n),
        _ => None,
    }
}

/// lua-cjson's `lua_array_length`: the array length, or `None` for an object.
fn array_length(cfg: &Config, t: &Table, v: &Value) -> Result<Option<i64>, Fail> {
    let (mut max, mut items) = (0i64, 0i64);
    for pair in t.pairs::<Value, Value>() {
        let (k, _) = pair?;
        match number_of(&k) {
            Some(k) if k != 0.0 && k.floor() == k && k >= 1.0 => {
                if k > max as f64 {
                    max = number_to_i64(k) as i32 as i64;
                }
                items += 1;
            }
            _ => return Ok(None),
        }
    }
    if cfg.sparse_ratio > 0 && max > items * cfg.sparse_ratio && max > cfg.sparse_safe {
        if !cfg.sparse_convert {
            return Err(exception(v, "excessively sparse array"));
        }
        return Ok(None);
    }
    Ok(Some(max))
}

/// Lua stack slots Redis's lua-cjson can use before `lua_checkstack` fails (nesting limit that
/// applies whatever the configured depth).
const STACK_LIMIT: i64 = 7999;

fn encode(cfg: &Config, out: &mut Vec<u8>, v: &Value, depth: i64, stack: i64) -> Result<(), Fail> {
    match v {
        Value::String(s) => append_string(out, &s.as_bytes()),
        Value::Integer(i) => append_number(cfg, out, v, *i as f64)?,
        Value::Number(n) => append_number(cfg, out, v, *n)?,
        Value::Boolean(b) => out.extend_from_slice(if *b { b"true" } else { b"false" }),
        Value::Nil => out.extend_from_slice(b"null"),
        Value::LightUserData(p) if p.0.is_null() => out.extend_from_slice(b"null"),
        Value::Table(t) => {
            let depth = depth + 1;
            if depth > cfg.encode_max_depth || stack + 3 > STACK_LIMIT {
                return Err(Fail::Msg(format!("Cannot serialise, excessive nesting ({depth})")));
            }
            match array_length(cfg, t, v)? {
                Some(len) if len > 0 => {
                    out.push(b'[');
                    for i in 1..=len {
                        if i > 1 {
                            out.push(b',');
                        }
                        let item: Value = t.raw_get(i)?;
                        encode(cfg, out, &item, depth, stack + 1)?;
                    }
                    out.push(b']');
                }
                _ => {
                    out.push(b'{');
                    let mut first = true;
                    for pair in t.pairs::<Value, Value>() {
                        let (k, val) = pair?;
                        if !first {
                            out.push(b',');
                        }
                        first = false;
                        match &k {
                            Value::Integer(_) | Value::Number(_) => {
                                out.push(b'"');
                                append_number(cfg, out, &k, number_of(&k).unwrap_or(0.0))?;
                                out.extend_from_slice(b"\":");
                            }
                            Value::String(s) => {
                                append_string(out, &s.as_bytes());
                                out.push(b':');
                            }
                            other => return Err(exception(other, "table key must be a number or string")),
                        }
                        encode(cfg, out, &val, depth, stack + 2)?;
                    }
                    out.push(b'}');
                }
            }
        }
        other => return Err(exception(other, "type not supported")),
    }
    Ok(())
}

fn json_encode(lua: &Lua, args: &[Value], cfg: &Shared) -> LibResult {
    let a = Args { lua, args, fname: "encode" };
    if args.len() != 1 {
        return Err(a.error(1, "expected 1 argument"));
    }
    let cfg = cfg.lock().expect("cjson config");
    let mut out = Vec::new();
    encode(&cfg, &mut out, &args[0], 0, 0)?;
    one(lua, lua.create_string(&out)?)
}

// ---- Decoding -------------------------------------------------------------------------------

#[derive(Clone, Copy, PartialEq)]
enum Tok {
    ObjBegin,
    ObjEnd,
    ArrBegin,
    ArrEnd,
    Str,
    Num,
    Bool,
    Null,
    Colon,
    Comma,
    End,
    Error(&'static str),
}

impl Tok {
    fn name(self) -> &'static str {
        match self {
            Tok::ObjBegin => "T_OBJ_BEGIN",
            Tok::ObjEnd => "T_OBJ_END",
            Tok::ArrBegin => "T_ARR_BEGIN",
            Tok::ArrEnd => "T_ARR_END",
            Tok::Str => "T_STRING",
            Tok::Num => "T_NUMBER",
            Tok::Bool => "T_BOOLEAN",
            Tok::Null => "T_NULL",
            Tok::Colon => "T_COLON",
            Tok::Comma => "T_COMMA",
            Tok::End => "T_END",
            Tok::Error(e) => e,
        }
    }
}

struct Token {
    kind: Tok,
    index: usize,
    string: Vec<u8>,
    number: f64,
    boolean: bool,
}

struct Parser<'a> {
    data: &'a [u8],
    ptr: usize,
    depth: i64,
    max_depth: i64,
    /// Lua stack slots in use (see `STACK_LIMIT`).
    stack: i64,
    invalid_numbers: bool,
}

impl Parser<'_> {
    fn at(&self, i: usize) -> u8 {
        self.data.get(i).copied().unwrap_or(0)
    }

    fn error(&self, expected: &str, t: &Token) -> Fail {
        Fail::Msg(format!("Expected {expected} but found {} at character {}", t.kind.name(), t.index + 1))
    }

    fn next_token(&mut self) -> Token {
        let mut t = Token { kind: Tok::End, index: 0, string: Vec::new(), number: 0.0, boolean: false };
        while matches!(self.at(self.ptr), b' ' | b'\t' | b'\n' | b'\r') {
            self.ptr += 1;
        }
        t.index = self.ptr;
        let ch = self.at(self.ptr);
        let single = match ch {
            0 => Some(Tok::End),
            b'{' => Some(Tok::ObjBegin),
            b'}' => Some(Tok::ObjEnd),
            b'[' => Some(Tok::ArrBegin),
            b']' => Some(Tok::ArrEnd),
            b',' => Some(Tok::Comma),
            b':' => Some(Tok::Colon),
            b'"' | b'-' | b'+' | b'0'..=b'9' | b'n' | b't' | b'f' | b'i' | b'I' | b'N' => None,
            _ => Some(Tok::Error("invalid token")),
        };
        if let Some(kind) = single {
            t.kind = kind;
            if !matches!(kind, Tok::End | Tok::Error(_)) {
                self.ptr += 1;
            }
            return t;
        }
        let rest = &self.data[self.ptr..];
        if ch == b'"' {
            self.string_token(&mut t);
        } else if ch == b'-' || ch.is_ascii_digit() {
            if !self.invalid_numbers && self.is_invalid_number() {
                t.kind = Tok::Error("invalid number");
            } else {
                self.number_token(&mut t);
            }
        } else if rest.starts_with(b"true") {
            t.kind = Tok::Bool;
            t.boolean = true;
            self.ptr += 4;
        } else if rest.starts_with(b"false") {
            t.kind = Tok::Bool;
            self.ptr += 5;
        } else if rest.starts_with(b"null") {
            t.kind = Tok::Null;
            self.ptr += 4;
        } else if self.invalid_numbers && self.is_invalid_number() {
            self.number_token(&mut t);
        } else {
            t.kind = Tok::Error("invalid token");
        }
        t
    }

    fn is_invalid_number(&self) -> bool {
        let mut p = self.ptr;
        if self.at(p) == b'+' {
            return true;
        }
        if self.at(p) == b'-' {
            p += 1;
        }
        let c = self.at(p);
        if c == b'0' {
            let c2 = self.at(p + 1);
            return (c2 | 0x20) == b'x' || c2.is_ascii_digit();
        } else if c <= b'9' {
            return false;
        }
        let word = |w: &[u8]| self.data.len() >= p + 3 && self.data[p..p + 3].eq_ignore_ascii_case(w);
        word(b"inf") || word(b"nan")
    }

    fn number_token(&mut self, t: &mut Token) {
        let (n, used) = strtod(&self.data[self.ptr..]);
        if used == 0 {
            t.kind = Tok::Error("invalid number");
            t.index = self.ptr;
        } else {
            t.kind = Tok::Num;
            t.number = n;
            self.ptr += used;
        }
    }

    fn string_token(&mut self, t: &mut Token) {
        self.ptr += 1;
        loop {
            let ch = self.at(self.ptr);
            if ch == b'"' {
                break;
            }
            if ch == 0 {
                t.kind = Tok::Error("unexpected end of string");
                t.index = self.ptr;
                return;
            }
            let mut c = ch;
            if ch == b'\\' {
                c = match self.at(self.ptr + 1) {
                    b'"' => b'"',
                    b'\\' => b'\\',
                    b'/' => b'/',
                    b'b' => 8,
                    b't' => 9,
                    b'n' => 10,
                    b'f' => 12,
                    b'r' => 13,
                    b'u' => {
                        if self.unicode_escape(&mut t.string) {
                            continue;
                        }
                        t.kind = Tok::Error("invalid unicode escape code");
                        t.index = self.ptr;
                        return;
                    }
                    _ => {
                        t.kind = Tok::Error("invalid escape code");
                        t.index = self.ptr;
                        return;
                    }
                };
                self.ptr += 1;
            }
            t.string.push(c);
            self.ptr += 1;
        }
        self.ptr += 1;
        t.kind = Tok::Str;
    }

    fn hex4(&self, at: usize) -> Option<u32> {
        let mut v = 0;
        for i in 0..4 {
            let d = (self.at(at + i) as char).to_digit(16)?;
            v = (v << 4) | d;
        }
        Some(v)
    }

    fn unicode_escape(&mut self, out: &mut Vec<u8>) -> bool {
        let Some(mut cp) = self.hex4(self.ptr + 2) else { return false };
        let mut len = 6;
        if cp & 0xF800 == 0xD800 {
            if cp & 0x400 != 0 {
                return false;
            }
            if self.at(self.ptr + 6) != b'\\' || self.at(self.ptr + 7) != b'u' {
                return false;
            }
            let Some(low) = self.hex4(self.ptr + 8) else { return false };
            if low & 0xFC00 != 0xDC00 {
                return false;
            }
            cp = (((cp & 0x3FF) << 10) | (low & 0x3FF)) + 0x10000;
            len = 12;
        }
        let mut buf = [0u8; 4];
        match char::from_u32(cp) {
            Some(c) => out.extend_from_slice(c.encode_utf8(&mut buf).as_bytes()),
            // Lone low surrogates: encoded as 3 bytes all the same.
            None => out.extend_from_slice(&[
                (0xE0 | (cp >> 12)) as u8,
                (0x80 | ((cp >> 6) & 0x3F)) as u8,
                (0x80 | (cp & 0x3F)) as u8,
            ]),
        }
        self.ptr += len;
        true
    }

    fn value(&mut self, lua: &Lua, t: Token) -> Result<Value, Fail> {
        Ok(match t.kind {
            Tok::Str => Value::String(lua.create_string(&t.string)?),
            Tok::Num => Value::Number(t.number),
            Tok::Bool => Value::Boolean(t.boolean),
            Tok::Null => Value::LightUserData(LightUserData(std::ptr::null_mut())),
            Tok::ObjBegin => self.object(lua)?,
            Tok::ArrBegin => self.array(lua)?,
            _ => return Err(self.error("value", &t)),
        })
    }

    fn descend(&mut self, slots: i64) -> Result<(), Fail> {
        self.depth += 1;
        if self.depth > self.max_depth || self.stack + slots > STACK_LIMIT {
            return Err(Fail::Msg(format!(
                "Found too many nested data structures ({}) at character {}",
                self.depth, self.ptr
            )));
        }
        Ok(())
    }

    fn object(&mut self, lua: &Lua) -> Result<Value, Fail> {
        self.descend(3)?;
        self.stack += 2;
        let r = self.object_body(lua);
        self.stack -= 2;
        r
    }

    fn object_body(&mut self, lua: &Lua) -> Result<Value, Fail> {
        let table = lua.create_table()?;
        let mut t = self.next_token();
        if t.kind == Tok::ObjEnd {
            self.depth -= 1;
            return Ok(Value::Table(table));
        }
        loop {
            if t.kind != Tok::Str {
                return Err(self.error("object key string", &t));
            }
            let key = lua.create_string(&t.string)?;
            let colon = self.next_token();
            if colon.kind != Tok::Colon {
                return Err(self.error("colon", &colon));
            }
            let vt = self.next_token();
            let v = self.value(lua, vt)?;
            table.raw_set(key, v)?;
            t = self.next_token();
            if t.kind == Tok::ObjEnd {
                self.depth -= 1;
                return Ok(Value::Table(table));
            }
            if t.kind != Tok::Comma {
                return Err(self.error("comma or object end", &t));
            }
            t = self.next_token();
        }
    }

    fn array(&mut self, lua: &Lua) -> Result<Value, Fail> {
        self.descend(2)?;
        self.stack += 1;
        let r = self.array_body(lua);
        self.stack -= 1;
        r
    }

    fn array_body(&mut self, lua: &Lua) -> Result<Value, Fail> {
        let table = lua.create_table()?;
        let mut t = self.next_token();
        if t.kind == Tok::ArrEnd {
            self.depth -= 1;
            return Ok(Value::Table(table));
        }
        let mut i = 1;
        loop {
            let v = self.value(lua, t)?;
            table.raw_set(i, v)?;
            i += 1;
            t = self.next_token();
            if t.kind == Tok::ArrEnd {
                self.depth -= 1;
                return Ok(Value::Table(table));
            }
            if t.kind != Tok::Comma {
                return Err(self.error("comma or array end", &t));
            }
            t = self.next_token();
        }
    }
}

/// C's `strtod` on the start of `s`: the value and how many bytes it used (0: no number).
pub fn strtod(s: &[u8]) -> (f64, usize) {
    let mut i = 0;
    let neg = match s.first() {
        Some(b'-') => {
            i += 1;
            true
        }
        Some(b'+') => {
            i += 1;
            false
        }
        _ => false,
    };
    let sign = |v: f64| if neg { -v } else { v };
    let rest = &s[i..];
    let starts = |w: &[u8]| rest.len() >= w.len() && rest[..w.len()].eq_ignore_ascii_case(w);
    if starts(b"infinity") {
        return (sign(f64::INFINITY), i + 8);
    }
    if starts(b"inf") {
        return (sign(f64::INFINITY), i + 3);
    }
    if starts(b"nan") {
        let mut end = i + 3;
        if s.get(end) == Some(&b'(') {
            if let Some(close) = s[end..].iter().position(|&c| c == b')') {
                if s[end + 1..end + close].iter().all(|c| c.is_ascii_alphanumeric() || *c == b'_') {
                    end += close + 1;
                }
            }
        }
        return (sign(f64::NAN), end);
    }
    if starts(b"0x") {
        let mut j = i + 2;
        let mut mant = 0f64;
        let mut digits = 0;
        while let Some(d) = s.get(j).and_then(|&c| (c as char).to_digit(16)) {
            mant = mant * 16.0 + d as f64;
            j += 1;
            digits += 1;
        }
        let mut scale = 0i32;
        if s.get(j) == Some(&b'.') {
            let mut k = j + 1;
            while let Some(d) = s.get(k).and_then(|&c| (c as char).to_digit(16)) {
                mant = mant * 16.0 + d as f64;
                scale -= 4;
                k += 1;
                digits += 1;
            }
            if digits > 0 {
                j = k;
            }
        }
        if digits == 0 {
            // Only the "0" parses.
            return (sign(0.0), i + 1);
        }
        if matches!(s.get(j), Some(b'p' | b'P')) {
            let (e, used) = exponent(&s[j + 1..]);
            if used > 0 {
                scale += e;
                j += 1 + used;
            }
        }
        return (sign(mant * 2f64.powi(scale)), j);
    }
    let mut j = i;
    let int_start = j;
    while s.get(j).is_some_and(u8::is_ascii_digit) {
        j += 1;
    }
    let mut digits = j - int_start;
    if s.get(j) == Some(&b'.') {
        let mut k = j + 1;
        while s.get(k).is_some_and(u8::is_ascii_digit) {
            k += 1;
        }
        digits += k - j - 1;
        if digits > 0 {
            j = k;
        }
    }
    if digits == 0 {
        return (0.0, 0);
    }
    if matches!(s.get(j), Some(b'e' | b'E')) {
        let (_, used) = exponent(&s[j + 1..]);
        if used > 0 {
            j += 1 + used;
        }
    }
    let text = std::str::from_utf8(&s[i..j]).unwrap_or("0");
    (sign(text.parse::<f64>().unwrap_or(0.0)), j)
}

fn exponent(s: &[u8]) -> (i32, usize) {
    let mut i = 0;
    let neg = match s.first() {
        Some(b'-') => {
            i += 1;
            true
        }
        Some(b'+') => {
            i += 1;
            false
        }
        _ => false,
    };
    let start = i;
    let mut e: i32 = 0;
    while let Some(c) = s.get(i).filter(|c| c.is_ascii_digit()) {
        e = e.saturating_mul(10).saturating_add((c - b'0') as i32);
        i += 1;
    }
    if i == start {
        return (0, 0);
    }
    (if neg { -e } else { e }, i)
}

fn json_decode(lua: &Lua, args: &[Value], cfg: &Shared) -> LibResult {
    let a = Args { lua, args, fname: "decode" };
    if args.len() != 1 {
        return Err(a.error(1, "expected 1 argument"));
    }
    let data = a.bytes(0)?;
    if data.len() >= 2 && (data[0] == 0 || data[1] == 0) {
        return Err(Fail::Msg("JSON parser does not support UTF-16 or UTF-32".into()));
    }
    let (max_depth, invalid_numbers) = {
        let c = cfg.lock().expect("cjson config");
        (c.decode_max_depth, c.decode_invalid)
    };
    let mut p = Parser { data: &data, ptr: 0, depth: 0, max_depth, stack: 0, invalid_numbers };
    let t = p.next_token();
    let v = p.value(lua, t)?;
    let end = p.next_token();
    if end.kind != Tok::End {
        return Err(p.error("the end", &end));
    }
    one(lua, v)
}

// ---- Configuration --------------------------------------------------------------------------

fn arg_init(a: &Args, n: usize) -> Result<(), Fail> {
    if a.args.len() > n {
        return Err(a.error(n + 1, "found too many arguments"));
    }
    Ok(())
}

fn integer_option(a: &Args, i: usize, setting: &mut i64, min: i64, max: i64) -> Result<Value, Fail> {
    if !matches!(a.get(i), None | Some(Value::Nil)) {
        let v = a.integer(i)?;
        if v < min || v > max {
            return Err(a.error(1, &format!("expected integer between {min} and {max}")));
        }
        *setting = v;
    }
    Ok(Value::Number(*setting as f64))
}

fn enum_option(a: &Args, i: usize, setting: &mut u8, options: &[&str]) -> Result<Value, Fail> {
    match a.get(i) {
        None | Some(Value::Nil) => {}
        Some(Value::Boolean(b)) => *setting = *b as u8,
        Some(v) => {
            let name = super::convert::to_bytes(v).ok_or_else(|| a.type_error(i, "string"))?;
            match options.iter().position(|o| o.as_bytes() == name.as_slice()) {
                Some(p) => *setting = p as u8,
                None => return Err(a.error(i + 1, &format!("invalid option '{}'", String::from_utf8_lossy(&name)))),
            }
        }
    }
    Ok(if *setting <= 1 {
        Value::Boolean(*setting == 1)
    } else {
        Value::String(a.lua.create_string(options[*setting as usize])?)
    })
}

const BOOL_OPTIONS: &[&str] = &["off", "on"];

fn config_fn(
    lua: &Lua,
    raw: &Table,
    cfg: &Shared,
    name: &'static str,
    f: fn(&Args, &mut Config) -> LibResult,
) -> mlua::Result<()> {
    let cfg = cfg.clone();
    reg(lua, raw, &format!("cjson_{name}"), move |lua, args| {
        let a = Args { lua, args, fname: name };
        let mut c = cfg.lock().expect("cjson config");
        f(&a, &mut c)
    })
}

pub fn register(lua: &Lua, raw: &Table) -> mlua::Result<()> {
    let cfg: Shared = Arc::new(Mutex::new(Config::default()));
    let c = cfg.clone();
    reg(lua, raw, "cjson_encode", move |lua, args| json_encode(lua, args, &c))?;
    let c = cfg.clone();
    reg(lua, raw, "cjson_decode", move |lua, args| json_decode(lua, args, &c))?;
    config_fn(lua, raw, &cfg, "encode_sparse_array", |a, c| {
        arg_init(a, 3)?;
        let mut convert = c.sparse_convert as u8;
        let v1 = enum_option(a, 0, &mut convert, BOOL_OPTIONS)?;
        c.sparse_convert = convert == 1;
        let v2 = integer_option(a, 1, &mut c.sparse_ratio, 0, i32::MAX as i64)?;
        let v3 = integer_option(a, 2, &mut c.sparse_safe, 0, i32::MAX as i64)?;
        Ok(MultiValue::from_iter([v1, v2, v3]))
    })?;
    config_fn(lua, raw, &cfg, "encode_max_depth", |a, c| {
        arg_init(a, 1)?;
        Ok(MultiValue::from_iter([integer_option(a, 0, &mut c.encode_max_depth, 1, i32::MAX as i64)?]))
    })?;
    config_fn(lua, raw, &cfg, "decode_max_depth", |a, c| {
        arg_init(a, 1)?;
        Ok(MultiValue::from_iter([integer_option(a, 0, &mut c.decode_max_depth, 1, i32::MAX as i64)?]))
    })?;
    config_fn(lua, raw, &cfg, "encode_number_precision", |a, c| {
        arg_init(a, 1)?;
        let mut p = c.precision as i64;
        let v = integer_option(a, 0, &mut p, 1, 14)?;
        c.precision = p as usize;
        Ok(MultiValue::from_iter([v]))
    })?;
    config_fn(lua, raw, &cfg, "encode_keep_buffer", |a, c| {
        arg_init(a, 1)?;
        let mut k = c.keep_buffer as u8;
        let v = enum_option(a, 0, &mut k, BOOL_OPTIONS)?;
        c.keep_buffer = k == 1;
        Ok(MultiValue::from_iter([v]))
    })?;
    config_fn(lua, raw, &cfg, "encode_invalid_numbers", |a, c| {
        arg_init(a, 1)?;
        let v = enum_option(a, 0, &mut c.encode_invalid, &["off", "on", "null"])?;
        Ok(MultiValue::from_iter([v]))
    })?;
    config_fn(lua, raw, &cfg, "decode_invalid_numbers", |a, c| {
        arg_init(a, 1)?;
        let mut d = c.decode_invalid as u8;
        let v = enum_option(a, 0, &mut d, BOOL_OPTIONS)?;
        c.decode_invalid = d == 1;
        Ok(MultiValue::from_iter([v]))
    })?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::strtod;

    #[test]
    fn strtod_prefixes_like_c() {
        assert_eq!(strtod(b"12abc"), (12.0, 2));
        assert_eq!(strtod(b"-1.5e3,"), (-1500.0, 6));
        assert_eq!(strtod(b"1e"), (1.0, 1));
        assert_eq!(strtod(b"0x1F]"), (31.0, 4));
        assert_eq!(strtod(b"0x"), (0.0, 1));
        assert_eq!(strtod(b".5"), (0.5, 2));
        assert_eq!(strtod(b"."), (0.0, 0));
        assert_eq!(strtod(b"-"), (0.0, 0));
        assert_eq!(strtod(b"Infinity"), (f64::INFINITY, 8));
        assert_eq!(strtod(b"-inf"), (f64::NEG_INFINITY, 4));
        let (n, used) = strtod(b"nan(123)x");
        assert!(n.is_nan() && used == 8);
    }
}
