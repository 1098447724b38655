//! The `eval` family: EVAL of scripts from templates (redis.call/pcall over the data families,
//! Lua ↔ RESP conversions, cjson/cmsgpack/bit/struct round trips, errors raised in many ways),
//! and short scenarios with SCRIPT LOAD, EVALSHA, SCRIPT EXISTS and SCRIPT FLUSH.
//!
//! When `conformance/fixtures/eval_corpus.txt` exists, its scripts are used too (a third of the
//! time): one script per line, `#` starts a comment line, `\n` in a line stands for a newline.
//! Scripts see two keys and two arguments (`KEYS[1]`, `KEYS[2]`, `ARGV[1]`, `ARGV[2]`).

use super::*;

/// Script templates and the kind of key they want (`s`tring, `l`ist, `h`ash, se`t`, `z`set,
/// `-` any).
const SCRIPTS: [(&str, char); 72] = [
    ("return redis.call('SET', KEYS[1], ARGV[1])", 's'),
    ("return redis.call('GET', KEYS[1])", 's'),
    ("return redis.call('INCRBY', KEYS[1], ARGV[2])", 's'),
    ("return redis.pcall('INCR', KEYS[1])", 's'),
    ("local r = redis.pcall('LPUSH', KEYS[1], ARGV[1]) if type(r) == 'table' and r.err then return 'E:' .. r.err end return r", 'l'),
    ("return redis.call('LRANGE', KEYS[1], 0, -1)", 'l'),
    ("redis.call('RPUSH', KEYS[1], ARGV[1], ARGV[2]) return redis.call('LRANGE', KEYS[1], 0, -1)", 'l'),
    ("return redis.call('LPOP', KEYS[1])", 'l'),
    ("return redis.call('HSET', KEYS[1], 'f', ARGV[1])", 'h'),
    ("return redis.call('HGET', KEYS[1], 'f')", 'h'),
    ("return redis.call('HLEN', KEYS[1])", 'h'),
    ("return redis.call('HINCRBY', KEYS[1], 'n', 3)", 'h'),
    ("return redis.call('SADD', KEYS[1], ARGV[1])", 't'),
    ("return redis.call('SCARD', KEYS[1])", 't'),
    ("return redis.call('SISMEMBER', KEYS[1], ARGV[1])", 't'),
    ("return redis.call('ZADD', KEYS[1], 2, ARGV[1])", 'z'),
    ("return redis.call('ZRANGE', KEYS[1], 0, -1, 'WITHSCORES')", 'z'),
    ("return redis.call('ZSCORE', KEYS[1], ARGV[1])", 'z'),
    ("return redis.call('ZINCRBY', KEYS[1], 1.5, 'm')", 'z'),
    ("return {1, 2, {3, 'x', {true, false}}, 'y', 3.99, -2.5}", '-'),
    ("return {1, 2, nil, 4}", '-'),
    ("return {1, 'a', {}}", '-'),
    ("return redis.status_reply('FINE')", '-'),
    ("return redis.error_reply('MY_ERR custom')", '-'),
    ("return redis.error_reply('no code here')", '-'),
    ("return {err = 'plain error'}", '-'),
    ("return {ok = 'STATUS'}", '-'),
    ("return true", '-'),
    ("return false", '-'),
    ("return nil", '-'),
    ("return 42.7", '-'),
    ("return -0.5", '-'),
    ("return ''", '-'),
    ("return 2^53", '-'),
    ("return -7 % 3", '-'),
    ("return cjson.encode({1, 2, 'three', {a = 1}})", '-'),
    ("return cjson.encode(cjson.decode(ARGV[1]))", 'j'),
    ("return cjson.decode(ARGV[1])", 'j'),
    ("return {cjson.decode('[1,2,3]')[2], cjson.decode('{\"k\":\"v\"}').k}", '-'),
    ("return cmsgpack.unpack(cmsgpack.pack({1, 2, 'x', {3}}))", '-'),
    ("return cmsgpack.pack(ARGV[1], 1, -1, 300, 70000, 1.5, true)", '-'),
    ("return {cmsgpack.unpack(cmsgpack.pack(ARGV[1], ARGV[2]))}", '-'),
    ("return redis.sha1hex(ARGV[1])", '-'),
    ("return bit.tohex(bit.band(tonumber(ARGV[2]) or 0, 0xffff))", '-'),
    ("return {bit.bor(1, 2), bit.bxor(5, 3), bit.lshift(1, 10), bit.rshift(-1, 28), bit.bnot(0), bit.arshift(-256, 4)}", '-'),
    ("return bit.tobit(4294967297)", '-'),
    ("return struct.pack('>I2i4', 258, -2)", '-'),
    ("return {struct.unpack('>I2', 'AB')}", '-'),
    ("return struct.pack('<h', tonumber(ARGV[2]) or 7)", '-'),
    ("return #KEYS + #ARGV * 10", '-'),
    ("return {KEYS[1], ARGV[1], KEYS[3]}", '-'),
    ("return tonumber(ARGV[2])", '-'),
    ("return tostring(ARGV[1])", '-'),
    ("return string.format('%d-%s-%5.2f', 7, ARGV[1], 3.14159)", '-'),
    ("return string.rep('ab', 3) .. string.upper('x') .. string.len(ARGV[1])", '-'),
    ("return table.concat({1, 2, 3}, ',')", '-'),
    ("local t = {} for i = 1, 5 do t[i] = i * i end return t", '-'),
    ("return math.floor(7.9) + math.max(1, 5)", '-'),
    ("return redis.call('NOSUCHCMD')", '-'),
    ("return redis.call('SET', KEYS[1])", 's'),
    ("return redis.call('GET', KEYS[1], 'extra')", 's'),
    ("error('boom')", '-'),
    ("error({err = 'TABLE_ERR from a table'})", '-'),
    ("return undefined_global", '-'),
    ("x = 1", '-'),
    ("return 1 +", '-'),
    ("return redis.call('EXISTS', KEYS[1]) == 1", '-'),
    ("return redis.call('TYPE', KEYS[1])", '-'),
    ("return redis.call('PING')", '-'),
    ("return redis.call('BLPOP', KEYS[1], 0)", 'l'),
    ("return redis.call('MULTI')", '-'),
    ("redis.setresp(3) return redis.call('ZSCORE', KEYS[1], ARGV[1])", 'z'),
];

/// JSON arguments for the cjson templates (the last ones are invalid).
const JSON: [&str; 9] =
    ["[1,2,3]", "{\"a\":[1,2]}", "\"str\"", "[1.5e3,true,false]", "[]", "[[[1]]]", "12", "bad json", "[1,"];

/// The optional corpus of `conformance/fixtures/eval_corpus.txt`.
pub(super) fn load_corpus() -> Vec<String> {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/fixtures/eval_corpus.txt");
    let Ok(text) = std::fs::read_to_string(path) else { return Vec::new() };
    text.lines()
        .map(str::trim_end)
        .filter(|l| !l.trim().is_empty() && !l.trim_start().starts_with('#'))
        .map(|l| l.replace("\\n", "\n"))
        .collect()
}

/// SHA-1 of `data` as lower-case hex (the name SCRIPT LOAD gives a script).
pub fn sha1_hex(data: &[u8]) -> String {
    let mut h: [u32; 5] = [0x6745_2301, 0xEFCD_AB89, 0x98BA_DCFE, 0x1032_5476, 0xC3D2_E1F0];
    let mut msg = data.to_vec();
    let bits = (data.len() as u64).wrapping_mul(8);
    msg.push(0x80);
    while msg.len() % 64 != 56 {
        msg.push(0);
    }
    msg.extend_from_slice(&bits.to_be_bytes());
    for block in msg.chunks(64) {
        let mut w = [0u32; 80];
        for i in 0..16 {
            w[i] = u32::from_be_bytes([block[4 * i], block[4 * i + 1], block[4 * i + 2], block[4 * i + 3]]);
        }
        for i in 16..80 {
            w[i] = (w[i - 3] ^ w[i - 8] ^ w[i - 14] ^ w[i - 16]).rotate_left(1);
        }
        let [mut a, mut b, mut c, mut d, mut e] = h;
        for (i, wi) in w.iter().enumerate() {
            let (f, k) = match i {
                0..=19 => ((b & c) | (!b & d), 0x5A82_7999),
                20..=39 => (b ^ c ^ d, 0x6ED9_EBA1),
                40..=59 => ((b & c) | (b & d) | (c & d), 0x8F1B_BCDC),
                _ => (b ^ c ^ d, 0xCA62_C1D6),
            };
            let t = a.rotate_left(5).wrapping_add(f).wrapping_add(e).wrapping_add(k).wrapping_add(*wi);
            e = d;
            d = c;
            c = b.rotate_left(30);
            b = a;
            a = t;
        }
        for (x, y) in h.iter_mut().zip([a, b, c, d, e]) {
            *x = x.wrapping_add(y);
        }
    }
    h.iter().map(|x| format!("{x:08x}")).collect()
}

impl Gen {
    /// A script with the key pool it wants.
    fn script(&mut self) -> (String, char) {
        if !self.eval_corpus.is_empty() && self.chance(0.33) {
            let i = self.rng.random_range(0..self.eval_corpus.len());
            return (self.eval_corpus[i].clone(), '-');
        }
        let (s, kind) = self.pick(&SCRIPTS);
        (s.to_string(), kind)
    }

    /// `numkeys key... arg...` for a script wanting keys of `kind`.
    fn script_args(&mut self, kind: char) -> Vec<Vec<u8>> {
        let pool = match kind {
            's' => Pool::Str,
            'l' => Pool::List,
            'h' => Pool::Hash,
            't' => Pool::Set,
            'z' => Pool::ZSet,
            _ => self.pick(&[Pool::Str, Pool::List, Pool::Hash, Pool::Set, Pool::ZSet, Pool::Other]),
        };
        let nkeys = match self.int(0, 19) {
            0..=12 => 1,
            13..=16 => 2,
            17 => 0,
            _ => return cmd![self.pick(&["-1", "x", "5"]), self.key_in(pool)],
        };
        let mut a = vec![nkeys.to_string().into_bytes()];
        for _ in 0..nkeys {
            a.push(self.key_in(pool));
        }
        if kind == 'j' {
            a.push(self.pick(&JSON).into());
        } else {
            a.push(self.member());
        }
        if self.chance(0.8) {
            a.push(self.int_arg());
        }
        a
    }

    pub(super) fn eval(&mut self, conn: usize, peek: &mut dyn Peek) -> (Vec<Vec<u8>>, Check) {
        if self.chance(0.3) {
            return self.setup(Family::Eval.uses(), conn, peek);
        }
        let (script, kind) = self.script();
        let mut a = cmd!["EVAL", script];
        a.extend(self.script_args(kind));
        if self.chance(0.02) {
            a = cmd!["EVAL"];
        }
        (a, Check::Exact)
    }

    /// SCRIPT LOAD, EVALSHA (known, unknown, upper case), SCRIPT EXISTS, SCRIPT FLUSH.
    pub(super) fn eval_scenario(&mut self) -> Vec<Cmd> {
        let mut sc = Sc::new(Family::Eval);
        let c = self.rng.random_range(0..CONNS);
        let (script, kind) = self.script();
        let sha = sha1_hex(script.as_bytes());
        sc.exact(c, cmd!["SCRIPT", "LOAD", script]);
        for _ in 0..self.int(1, 3) {
            let name = match self.int(0, 9) {
                0 => sha.to_ascii_uppercase(),
                1 => sha1_hex(b"return 'never loaded'"),
                2 => "short".to_string(),
                _ => sha.clone(),
            };
            let mut a = cmd!["EVALSHA", name];
            a.extend(self.script_args(kind));
            sc.exact(self.rng.random_range(0..CONNS), a);
        }
        let mut e = cmd!["SCRIPT", "EXISTS", sha, sha1_hex(b"nope")];
        if self.chance(0.3) {
            e.push(b"x".to_vec());
        }
        sc.exact(c, e);
        if self.chance(0.3) {
            let mut f = cmd!["SCRIPT", "FLUSH"];
            if self.chance(0.5) {
                f.push(self.pick(&["ASYNC", "SYNC", "sync", "FOO"]).into());
            }
            sc.exact(c, f);
            let mut a = cmd!["EVALSHA", sha];
            a.extend(self.script_args(kind));
            sc.exact(c, a);
        }
        if self.chance(0.1) {
            sc.exact(c, cmd!["SCRIPT", self.pick(&["FOO", "EXISTS", "LOAD"])]);
        }
        sc.done()
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn sha1() {
        assert_eq!(super::sha1_hex(b""), "da39a3ee5e6b4b0d3255bfef95601890afd80709");
        assert_eq!(super::sha1_hex(b"return 1"), "e0e1f9fabfc9d4800c877a703b823ac0578ff8db");
    }
}
