//! Listpack (Redis >= 7 compact list): decoder and an append-only encoder.
//!
//! Layout: `total_bytes:u32le num_elements:u16le entry* 0xff`. Entry: encoding+data, then
//! `backlen` (the size of encoding+data in 1..=5 bytes, 7 bits per byte, most significant
//! first, all but the first byte flagged with 0x80). Encodings: `0xxxxxxx` 7-bit uint,
//! `10xxxxxx` 6-bit string length, `110xxxxx yyyyyyyy` 13-bit int, `1110xxxx yyyyyyyy` 12-bit
//! string length, `0xf0` + u32le string length, `0xf1` i16, `0xf2` i24, `0xf3` i32, `0xf4` i64.

use super::entry::Elem;
use super::error::FormatError;
use super::num::string_to_i64;

const HEADER: usize = 6;
const END: u8 = 0xff;

fn err(msg: &'static str, at: usize, len: usize) -> FormatError {
    FormatError::new("listpack", msg, at, len)
}

fn backlen_size(l: usize) -> usize {
    if l <= 127 {
        1
    } else if l < 16383 {
        2
    } else if l < 2097151 {
        3
    } else if l < 268435455 {
        4
    } else {
        5
    }
}

fn push_backlen(buf: &mut Vec<u8>, l: usize) {
    let n = backlen_size(l);
    for i in (0..n).rev() {
        let b = ((l >> (7 * i)) & 127) as u8;
        buf.push(if i == n - 1 { b } else { b | 128 });
    }
}

/// Decodes every entry of a listpack, validating sizes, back-lengths, count and terminator.
pub fn decode(lp: &[u8]) -> Result<Vec<Elem<'_>>, FormatError> {
    let n = lp.len();
    if n < HEADER + 1 {
        return Err(err("shorter than its header", 0, n));
    }
    let total = u32::from_le_bytes(lp[0..4].try_into().unwrap()) as usize;
    let count = u16::from_le_bytes(lp[4..6].try_into().unwrap()) as usize;
    if total != n {
        return Err(err("total_bytes does not match the blob size", 0, n));
    }
    let mut out = Vec::with_capacity(count.min(n));
    let mut p = HEADER;
    loop {
        if p >= n {
            return Err(err("missing terminator", p, n));
        }
        let b = lp[p];
        if b == END {
            if p != n - 1 {
                return Err(err("data after terminator", p, n));
            }
            break;
        }
        let need = |k: usize| if p + k <= n { Ok(()) } else { Err(err("truncated entry", p, n)) };
        let (elem, size) = if b & 0x80 == 0 {
            (Elem::Int((b & 0x7f) as i64), 1)
        } else if b & 0xc0 == 0x80 {
            let l = (b & 0x3f) as usize;
            need(1 + l)?;
            (Elem::Str(&lp[p + 1..p + 1 + l]), 1 + l)
        } else if b & 0xe0 == 0xc0 {
            need(2)?;
            let u = (((b & 0x1f) as u64) << 8) | lp[p + 1] as u64;
            let v = if u >= 1 << 12 { u as i64 - (1 << 13) } else { u as i64 };
            (Elem::Int(v), 2)
        } else if b & 0xf0 == 0xe0 {
            need(2)?;
            let l = (((b & 0x0f) as usize) << 8) | lp[p + 1] as usize;
            need(2 + l)?;
            (Elem::Str(&lp[p + 2..p + 2 + l]), 2 + l)
        } else {
            match b {
                0xf0 => {
                    need(5)?;
                    let l = u32::from_le_bytes(lp[p + 1..p + 5].try_into().unwrap()) as usize;
                    if l > n {
                        return Err(err("string length past the end", p, n));
                    }
                    need(5 + l)?;
                    (Elem::Str(&lp[p + 5..p + 5 + l]), 5 + l)
                }
                0xf1 => {
                    need(3)?;
                    (Elem::Int(i16::from_le_bytes([lp[p + 1], lp[p + 2]]) as i64), 3)
                }
                0xf2 => {
                    need(4)?;
                    (Elem::Int((i32::from_le_bytes([0, lp[p + 1], lp[p + 2], lp[p + 3]]) >> 8) as i64), 4)
                }
                0xf3 => {
                    need(5)?;
                    (Elem::Int(i32::from_le_bytes(lp[p + 1..p + 5].try_into().unwrap()) as i64), 5)
                }
                0xf4 => {
                    need(9)?;
                    (Elem::Int(i64::from_le_bytes(lp[p + 1..p + 9].try_into().unwrap())), 9)
                }
                _ => return Err(err("bad encoding byte", p, n)),
            }
        };
        let bl = backlen_size(size);
        need(size + bl)?;
        // verify the back-length
        let mut v = 0usize;
        for (i, &x) in lp[p + size..p + size + bl].iter().enumerate() {
            let expect_flag = i != 0;
            if (x & 128 != 0) != expect_flag {
                return Err(err("bad back-length", p + size, n));
            }
            v = (v << 7) | (x & 127) as usize;
        }
        if v != size {
            return Err(err("back-length does not match the entry", p + size, n));
        }
        out.push(elem);
        p += size + bl;
    }
    if count != u16::MAX as usize && count != out.len() {
        return Err(err("num_elements does not match the entries", 4, n));
    }
    Ok(out)
}

/// Builds a listpack by appending, as `lpAppend` does.
#[derive(Clone, Debug)]
pub struct ListpackBuilder {
    buf: Vec<u8>,
    count: usize,
}

impl Default for ListpackBuilder {
    fn default() -> Self {
        Self::new()
    }
}

impl ListpackBuilder {
    pub fn new() -> Self {
        let mut buf = Vec::with_capacity(64);
        buf.extend_from_slice(&[0u8; HEADER]);
        ListpackBuilder { buf, count: 0 }
    }

    pub fn count(&self) -> usize {
        self.count
    }

    /// Size in bytes of the finished listpack as it stands (`lpBytes`).
    pub fn blob_len(&self) -> usize {
        self.buf.len() + 1
    }

    /// Appends a string, stored as an integer when it is a canonical `i64`.
    pub fn push(&mut self, s: &[u8]) {
        match string_to_i64(s) {
            Some(v) => self.push_int(v),
            None => self.push_str(s),
        }
    }

    pub fn push_str(&mut self, s: &[u8]) {
        let l = s.len();
        let start = self.buf.len();
        if l < 64 {
            self.buf.push(0x80 | l as u8);
        } else if l < 4096 {
            self.buf.push(0xe0 | (l >> 8) as u8);
            self.buf.push(l as u8);
        } else {
            self.buf.push(0xf0);
            self.buf.extend_from_slice(&(l as u32).to_le_bytes());
        }
        self.buf.extend_from_slice(s);
        let size = self.buf.len() - start;
        push_backlen(&mut self.buf, size);
        self.count += 1;
    }

    pub fn push_int(&mut self, v: i64) {
        let start = self.buf.len();
        if (0..=127).contains(&v) {
            self.buf.push(v as u8);
        } else if (-4096..=4095).contains(&v) {
            let u = if v < 0 { (1 << 13) + v } else { v } as u16;
            self.buf.push(0xc0 | (u >> 8) as u8);
            self.buf.push(u as u8);
        } else if let Ok(x) = i16::try_from(v) {
            self.buf.push(0xf1);
            self.buf.extend_from_slice(&x.to_le_bytes());
        } else if (-(1 << 23)..(1 << 23)).contains(&v) {
            self.buf.push(0xf2);
            self.buf.extend_from_slice(&(v as i32).to_le_bytes()[..3]);
        } else if let Ok(x) = i32::try_from(v) {
            self.buf.push(0xf3);
            self.buf.extend_from_slice(&x.to_le_bytes());
        } else {
            self.buf.push(0xf4);
            self.buf.extend_from_slice(&v.to_le_bytes());
        }
        let size = self.buf.len() - start;
        push_backlen(&mut self.buf, size);
        self.count += 1;
    }

    pub fn finish(mut self) -> Vec<u8> {
        self.buf.push(END);
        let total = self.buf.len() as u32;
        let count = self.count.min(u16::MAX as usize) as u16;
        self.buf[0..4].copy_from_slice(&total.to_le_bytes());
        self.buf[4..6].copy_from_slice(&count.to_le_bytes());
        self.buf
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn integers_and_strings_round_trip() {
        let ints = [
            0i64,
            127,
            128,
            -1,
            4095,
            -4096,
            4096,
            -4097,
            32767,
            -32768,
            32768,
            8388607,
            -8388608,
            8388608,
            i32::MAX as i64,
            i32::MIN as i64,
            i64::MAX,
            i64::MIN,
        ];
        let strs: Vec<Vec<u8>> =
            [0usize, 1, 63, 64, 127, 128, 4095, 4096, 16382, 16383, 20000].iter().map(|&l| vec![b's'; l]).collect();
        let mut b = ListpackBuilder::new();
        for &i in &ints {
            b.push(i.to_string().as_bytes());
        }
        for s in &strs {
            b.push_str(s);
        }
        let lp = b.finish();
        let e = decode(&lp).unwrap();
        for (i, &v) in ints.iter().enumerate() {
            assert_eq!(e[i], Elem::Int(v), "{v}");
        }
        for (i, s) in strs.iter().enumerate() {
            assert_eq!(e[ints.len() + i], Elem::Str(s));
        }
    }

    #[test]
    fn backlen_encoding() {
        let mut v = Vec::new();
        push_backlen(&mut v, 127);
        push_backlen(&mut v, 128);
        push_backlen(&mut v, 16383);
        assert_eq!(v, [127, 1, 128, 0, 127 | 128, 127 | 128]);
    }

    #[test]
    fn corrupt_listpacks_never_panic() {
        let mut b = ListpackBuilder::new();
        for x in [&b"abc"[..], b"1000", b"-70000", &[b'q'; 100]] {
            b.push(x);
        }
        let lp = b.finish();
        assert_eq!(decode(&lp).unwrap().len(), 4);
        for cut in 0..lp.len() {
            assert!(decode(&lp[..cut]).is_err());
        }
        for i in 0..lp.len() {
            for v in [0u8, 0x7f, 0x80, 0xbf, 0xc0, 0xe0, 0xef, 0xf0, 0xf4, 0xf5, 0xff] {
                let mut z = lp.clone();
                z[i] = v;
                let _ = decode(&z);
            }
        }
    }
}
