//! The `bitmap` family (SETBIT, GETBIT, BITCOUNT, BITPOS, BITOP, BITFIELD, BITFIELD_RO with every
//! type and OVERFLOW mode) and the `hll` family (PFADD, PFCOUNT, PFMERGE, PFDEBUG, the HLL
//! strings read back byte for byte with GET, sparse to dense conversions, corrupted values).

use super::*;

/// Values a bitmap key is set to directly.
const BIT_VALUES: [&[u8]; 8] = [
    b"",
    b"\xff",
    b"\x00\x00\x01",
    b"foobar",
    b"\xff\xf0\x00",
    b"\x00\xff\x00\xff\x0f",
    b"\x80",
    b"\xaa\xaa\xaa\xaa\xaa\xaa\xaa\xaa\xaa",
];

impl Gen {
    fn bit_offset(&mut self) -> Vec<u8> {
        match self.int(0, 39) {
            0..=27 => self.int(0, 80).to_string().into_bytes(),
            28..=33 => self.int(0, 3000).to_string().into_bytes(),
            // (Offsets near 2^32 would make SETBIT allocate 512 MB on both servers.)
            34 => self.pick(&["100000", "65535"]).into(),
            _ => self.pick(&["-1", "x", "4294967296", "1.5", ""]).into(),
        }
    }

    fn range_bound(&mut self) -> Vec<u8> {
        match self.int(0, 19) {
            0..=14 => self.int(-12, 12).to_string().into_bytes(),
            15..=17 => self.int(-100, 100).to_string().into_bytes(),
            18 => self.pick(&["9223372036854775807", "-9223372036854775808"]).into(),
            _ => self.pick(&["x", "1.5"]).into(),
        }
    }

    /// A BITFIELD type: mostly valid, sometimes not.
    fn bf_type(&mut self) -> (Vec<u8>, Option<(bool, u32)>) {
        if self.chance(0.06) {
            return (self.pick(&["u64", "i65", "i0", "u0", "x8", "", "I8", "u", "i-1"]).into(), None);
        }
        let signed = self.chance(0.5);
        let bits = match self.int(0, 9) {
            0..=5 => self.pick(&[1u32, 2, 3, 4, 5, 7, 8, 9, 16]),
            6..=7 => self.int(10, 32) as u32,
            _ => {
                if signed {
                    self.pick(&[33u32, 48, 63, 64])
                } else {
                    self.pick(&[33u32, 48, 62, 63])
                }
            }
        };
        (format!("{}{bits}", if signed { "i" } else { "u" }).into_bytes(), Some((signed, bits)))
    }

    fn bf_offset(&mut self) -> Vec<u8> {
        match self.int(0, 19) {
            0..=11 => self.int(0, 100).to_string().into_bytes(),
            12..=16 => format!("#{}", self.int(0, 12)).into_bytes(),
            17 => self.int(0, 5000).to_string().into_bytes(),
            _ => self.pick(&["-1", "x", "#-1", "#", "4294967296", "#x"]).into(),
        }
    }

    /// A value for a BITFIELD SET/INCRBY of the given type: around the type's limits, so WRAP,
    /// SAT and FAIL all come into play.
    fn bf_value(&mut self, ty: Option<(bool, u32)>) -> Vec<u8> {
        if self.chance(0.04) {
            return self.pick(&["x", "1.5", "", "9223372036854775808"]).into();
        }
        let Some((signed, bits)) = ty else { return self.int(-5, 5).to_string().into_bytes() };
        let (min, max): (i128, i128) =
            if signed { (-(1i128 << (bits - 1)), (1i128 << (bits - 1)) - 1) } else { (0, (1i128 << bits) - 1) };
        let v: i128 = match self.int(0, 9) {
            0..=3 => self.int(-5, 5) as i128,
            4 => max,
            5 => min,
            6 => max + self.int(1, 3) as i128,
            7 => min - self.int(1, 3) as i128,
            8 => self.pick(&[i64::MAX as i128, i64::MIN as i128, 1 << 40]),
            _ => self.int(-1000, 1000) as i128,
        };
        let v = v.clamp(i64::MIN as i128, i64::MAX as i128);
        v.to_string().into_bytes()
    }

    pub(super) fn bitmap(&mut self) -> (Vec<Vec<u8>>, Check) {
        let k = self.key_in(Pool::Str);
        let w = [8, 4, 4, 4, 3, 12, 3, 5, 2, 1, 1, 1, 1];
        let which = self.weighted(&w);
        let args = match which {
            0 => {
                let bit = if self.chance(0.93) {
                    self.int(0, 1).to_string()
                } else {
                    self.pick(&["2", "-1", "x", ""]).to_string()
                };
                cmd!["SETBIT", k, self.bit_offset(), bit]
            }
            1 => cmd!["GETBIT", k, self.bit_offset()],
            2 => {
                let mut a = cmd!["BITCOUNT", k];
                if self.chance(0.7) {
                    a.push(self.range_bound());
                    a.push(self.range_bound());
                    if self.chance(0.5) {
                        a.push(self.pick(&["BYTE", "BIT", "bit", "byte", "WORD"]).into());
                    }
                } else if self.chance(0.1) {
                    a.push(b"0".to_vec());
                }
                a
            }
            3 => {
                let bit = if self.chance(0.95) { self.pick(&["0", "1"]) } else { self.pick(&["2", "-1", "x"]) };
                let mut a = cmd!["BITPOS", k, bit];
                if self.chance(0.7) {
                    a.push(self.range_bound());
                    if self.chance(0.7) {
                        a.push(self.range_bound());
                        if self.chance(0.5) {
                            a.push(self.pick(&["BYTE", "BIT", "bit", "FOO"]).into());
                        }
                    }
                }
                a
            }
            4 => {
                let op = self.pick(&["AND", "OR", "XOR", "NOT", "and", "xor", "DIFF"]);
                let mut a = cmd!["BITOP", op, self.key_in(Pool::Str)];
                let n = if op == "NOT" && self.chance(0.8) { 1 } else { self.int(1, 4) };
                for _ in 0..n {
                    a.push(self.key_in(Pool::Str));
                }
                a
            }
            5 | 6 => {
                let ro = which == 6 || self.chance(0.1);
                let mut a = cmd![if ro { "BITFIELD_RO" } else { "BITFIELD" }, k];
                let n = if self.chance(0.08) { 0 } else { self.int(1, 4) };
                for _ in 0..n {
                    let sub = if ro && self.chance(0.9) { 0 } else { self.weighted(&[4, 4, 4, 3, 1]) };
                    match sub {
                        0 => {
                            let (t, _) = self.bf_type();
                            a.extend(cmd![if self.chance(0.9) { "GET" } else { "get" }, t, self.bf_offset()]);
                        }
                        1 => {
                            let (t, ty) = self.bf_type();
                            a.extend(cmd!["SET", t, self.bf_offset(), self.bf_value(ty)]);
                        }
                        2 => {
                            let (t, ty) = self.bf_type();
                            a.extend(cmd!["INCRBY", t, self.bf_offset(), self.bf_value(ty)]);
                        }
                        3 => a.extend(cmd!["OVERFLOW", self.pick(&["WRAP", "SAT", "FAIL", "fail", "sat", "FOO"])]),
                        _ => match self.int(0, 3) {
                            0 => a.push(b"FOO".to_vec()),
                            1 => a.extend(cmd!["GET", "i8"]),
                            2 => a.extend(cmd!["SET", "u8", "0"]),
                            _ => a.push(b"OVERFLOW".to_vec()),
                        },
                    }
                }
                a
            }
            7 => cmd!["GET", k],
            8 => cmd!["SET", k, self.pick(&BIT_VALUES)],
            9 => cmd!["APPEND", k, self.pick(&BIT_VALUES)],
            10 => cmd!["SETRANGE", k, self.int(0, 20).to_string(), self.pick(&BIT_VALUES)],
            11 => cmd!["STRLEN", k],
            _ => cmd!["DEL", k],
        };
        (args, Check::Exact)
    }

    fn hll_element(&mut self) -> Vec<u8> {
        match self.int(0, 9) {
            0..=5 => self.pick(&["a", "b", "c", "d", "e", "foo", "bar", "x y", ""]).into(),
            6..=8 => self.int(0, 300).to_string().into_bytes(),
            _ => b"bin\x00\xff".to_vec(),
        }
    }

    pub(super) fn hll(&mut self) -> (Vec<Vec<u8>>, Check) {
        let k = self.key_in(Pool::Str);
        let w = [14, 8, 4, 6, 3, 1, 2, 2, 1, 1, 5];
        let args = match self.weighted(&w) {
            0 => {
                let mut a = cmd!["PFADD", k];
                if self.chance(0.05) {
                    // Enough registers to cross the sparse limit (or nearly).
                    let n = self.int(200, 2500);
                    let base = self.int(0, 1_000_000);
                    a.extend((0..n).map(|i| format!("e{base}-{i}").into_bytes()));
                } else {
                    let n = self.int(0, 6);
                    a.extend((0..n).map(|_| self.hll_element()));
                }
                a
            }
            1 => {
                let mut a = cmd!["PFCOUNT", k];
                if self.chance(0.3) {
                    a.extend(self.keys_in(Pool::Str, 1, 3));
                }
                a
            }
            2 => {
                let mut a = cmd!["PFMERGE", self.key_in(Pool::Str)];
                a.extend(self.keys_in(Pool::Str, 0, 3));
                a
            }
            3 => cmd!["GET", k],
            4 => cmd!["PFDEBUG", self.pick(&["ENCODING", "ENCODING", "TODENSE", "DECODE", "encoding"]), k],
            5 => cmd!["PFDEBUG", self.pick(&["GETREG", "FOO"]), k],
            6 => {
                let v = self.pick(&["0", "100", "300", "3000", "3000", "x"]);
                cmd!["CONFIG", "SET", "hll-sparse-max-bytes", v]
            }
            7 => cmd!["TYPE", k],
            8 => cmd!["STRLEN", k],
            // Damaged HLL strings: a bad encoding byte, trailing garbage, a stale cache flag,
            // a truncated header, a plain string.
            9 => match self.int(0, 4) {
                0 => cmd!["SETRANGE", k, "4", self.pick(&["\x07", "\x01", "\x00"])],
                1 => cmd!["APPEND", k, self.pick::<&[u8]>(&[b"\x00", b"x", b"\x80\x01"])],
                2 | 3 => cmd!["SETRANGE", k, "15", self.pick::<&[u8]>(&[b"\x80", b"\x00"])],
                _ => cmd![
                    "SET",
                    k,
                    self.pick(&[
                        "HYLL",
                        "HYLL\x00\x00\x00",
                        "hello",
                        "HYLL\x01\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00"
                    ])
                ],
            },
            _ => cmd!["DEL", k],
        };
        (args, Check::Exact)
    }
}
