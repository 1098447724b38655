//! Ziplist (Redis <= 6.2 compact list): decoder and an append-only encoder.
//!
//! Layout: `zlbytes:u32le zltail:u32le zllen:u16le entry* 0xff`. Entry:
//! `prevlen` (1 byte if < 254, else `0xfe` + u32le), encoding, data. Encodings:
//! `00pppppp` 6-bit string length, `01pppppp qqqqqqqq` 14-bit length (big endian),
//! `10000000` + u32be length, `0xc0` i16, `0xd0` i32, `0xe0` i64, `0xf0` i24, `0xfe` i8,
//! `0xf1..=0xfd` immediate 0..=12 (all integers little endian).

use super::entry::Elem;
use super::error::FormatError;
use super::num::string_to_i64;

const HEADER: usize = 10;
const END: u8 = 0xff;
const BIG_PREVLEN: u8 = 254;

fn err(msg: &'static str, at: usize, len: usize) -> FormatError {
    FormatError::new("ziplist", msg, at, len)
}

/// Decodes every entry of a ziplist, validating its structure (sizes, prevlen chain, tail
/// offset, count, terminator).
pub fn decode(zl: &[u8]) -> Result<Vec<Elem<'_>>, FormatError> {
    let n = zl.len();
    if n < HEADER + 1 {
        return Err(err("shorter than its header", 0, n));
    }
    let zlbytes = u32::from_le_bytes(zl[0..4].try_into().unwrap()) as usize;
    let zltail = u32::from_le_bytes(zl[4..8].try_into().unwrap()) as usize;
    let zllen = u16::from_le_bytes(zl[8..10].try_into().unwrap()) as usize;
    if zlbytes != n {
        return Err(err("zlbytes does not match the blob size", 0, n));
    }
    let mut out = Vec::with_capacity(zllen.min(n / 2));
    let mut p = HEADER;
    let mut prev_size = 0usize;
    let mut last_start = HEADER;
    loop {
        if p >= n {
            return Err(err("missing terminator", p, n));
        }
        if zl[p] == END {
            if p != n - 1 {
                return Err(err("data after terminator", p, n));
            }
            break;
        }
        let start = p;
        // prevlen
        let prevlen = if zl[p] < BIG_PREVLEN {
            p += 1;
            zl[start] as usize
        } else if zl[p] == BIG_PREVLEN {
            if p + 5 > n {
                return Err(err("truncated prevlen", p, n));
            }
            let v = u32::from_le_bytes(zl[p + 1..p + 5].try_into().unwrap()) as usize;
            p += 5;
            v
        } else {
            return Err(err("bad prevlen", p, n));
        };
        if prevlen != prev_size {
            return Err(err("prevlen does not match the previous entry", start, n));
        }
        if p >= n {
            return Err(err("truncated entry", p, n));
        }
        let enc = zl[p];
        let (hdr, data_len, elem_kind) = match enc >> 6 {
            0 => (1, (enc & 0x3f) as usize, 0u8),
            1 => {
                if p + 2 > n {
                    return Err(err("truncated length", p, n));
                }
                (2, (((enc & 0x3f) as usize) << 8) | zl[p + 1] as usize, 0)
            }
            2 => {
                if enc != 0x80 {
                    return Err(err("bad string encoding", p, n));
                }
                if p + 5 > n {
                    return Err(err("truncated length", p, n));
                }
                (5, u32::from_be_bytes(zl[p + 1..p + 5].try_into().unwrap()) as usize, 0)
            }
            _ => match enc {
                0xc0 => (1, 2, 1),
                0xd0 => (1, 4, 1),
                0xe0 => (1, 8, 1),
                0xf0 => (1, 3, 1),
                0xfe => (1, 1, 1),
                0xf1..=0xfd => (1, 0, 2),
                _ => return Err(err("bad integer encoding", p, n)),
            },
        };
        let data = p + hdr;
        let end = data.checked_add(data_len).filter(|&e| e < n).ok_or_else(|| err("entry runs past the end", p, n))?;
        let d = &zl[data..end];
        let elem = match elem_kind {
            0 => Elem::Str(d),
            2 => Elem::Int((enc & 0x0f) as i64 - 1),
            _ => Elem::Int(match enc {
                0xc0 => i16::from_le_bytes([d[0], d[1]]) as i64,
                0xd0 => i32::from_le_bytes([d[0], d[1], d[2], d[3]]) as i64,
                0xe0 => i64::from_le_bytes(d.try_into().unwrap()),
                0xf0 => (i32::from_le_bytes([0, d[0], d[1], d[2]]) >> 8) as i64,
                _ => d[0] as i8 as i64,
            }),
        };
        out.push(elem);
        last_start = start;
        prev_size = end - start;
        p = end;
    }
    if !out.is_empty() && zltail != last_start || out.is_empty() && zltail != HEADER {
        return Err(err("zltail does not point at the last entry", 4, n));
    }
    if zllen != u16::MAX as usize && zllen != out.len() {
        return Err(err("zllen does not match the entries", 8, n));
    }
    Ok(out)
}

/// Builds a ziplist by appending at the tail, as `ziplistPush(.., ZIPLIST_TAIL)` does.
#[derive(Clone, Debug)]
pub struct ZiplistBuilder {
    buf: Vec<u8>,
    count: usize,
    last_entry_size: usize,
    last_entry_start: usize,
}

impl Default for ZiplistBuilder {
    fn default() -> Self {
        Self::new()
    }
}

impl ZiplistBuilder {
    pub fn new() -> Self {
        let mut buf = Vec::with_capacity(64);
        buf.extend_from_slice(&[0u8; HEADER]);
        ZiplistBuilder { buf, count: 0, last_entry_size: 0, last_entry_start: HEADER }
    }

    /// Number of entries so far.
    pub fn count(&self) -> usize {
        self.count
    }

    /// Size in bytes of the finished ziplist as it stands (`ziplistBlobLen`).
    pub fn blob_len(&self) -> usize {
        self.buf.len() + 1
    }

    /// Appends a string, stored as an integer when it is a canonical `i64` (`zipTryEncoding`).
    pub fn push(&mut self, s: &[u8]) {
        match if s.len() < 32 { string_to_i64(s) } else { None } {
            Some(v) => self.push_int(v),
            None => self.push_str(s),
        }
    }

    fn push_prevlen(&mut self) {
        let p = self.last_entry_size;
        if p < BIG_PREVLEN as usize {
            self.buf.push(p as u8);
        } else {
            self.buf.push(BIG_PREVLEN);
            self.buf.extend_from_slice(&(p as u32).to_le_bytes());
        }
    }

    fn finish_entry(&mut self, start: usize) {
        self.last_entry_start = start;
        self.last_entry_size = self.buf.len() - start;
        self.count += 1;
    }

    /// Appends a string with a string encoding.
    pub fn push_str(&mut self, s: &[u8]) {
        let start = self.buf.len();
        self.push_prevlen();
        let l = s.len();
        if l <= 0x3f {
            self.buf.push(l as u8);
        } else if l <= 0x3fff {
            self.buf.push(0x40 | (l >> 8) as u8);
            self.buf.push(l as u8);
        } else {
            self.buf.push(0x80);
            self.buf.extend_from_slice(&(l as u32).to_be_bytes());
        }
        self.buf.extend_from_slice(s);
        self.finish_entry(start);
    }

    /// Appends an integer with the smallest integer encoding.
    pub fn push_int(&mut self, v: i64) {
        let start = self.buf.len();
        self.push_prevlen();
        if (0..=12).contains(&v) {
            self.buf.push(0xf1 + v as u8);
        } else if let Ok(x) = i8::try_from(v) {
            self.buf.push(0xfe);
            self.buf.push(x as u8);
        } else if let Ok(x) = i16::try_from(v) {
            self.buf.push(0xc0);
            self.buf.extend_from_slice(&x.to_le_bytes());
        } else if (-(1 << 23)..(1 << 23)).contains(&v) {
            self.buf.push(0xf0);
            self.buf.extend_from_slice(&(v as i32).to_le_bytes()[..3]);
        } else if let Ok(x) = i32::try_from(v) {
            self.buf.push(0xd0);
            self.buf.extend_from_slice(&x.to_le_bytes());
        } else {
            self.buf.push(0xe0);
            self.buf.extend_from_slice(&v.to_le_bytes());
        }
        self.finish_entry(start);
    }

    /// The finished ziplist.
    pub fn finish(mut self) -> Vec<u8> {
        self.buf.push(END);
        let total = self.buf.len() as u32;
        let tail = if self.count == 0 { HEADER } else { self.last_entry_start } as u32;
        let count = self.count.min(u16::MAX as usize) as u16;
        self.buf[0..4].copy_from_slice(&total.to_le_bytes());
        self.buf[4..8].copy_from_slice(&tail.to_le_bytes());
        self.buf[8..10].copy_from_slice(&count.to_le_bytes());
        self.buf
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hex(s: &str) -> Vec<u8> {
        (0..s.len()).step_by(2).map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap()).collect()
    }

    #[test]
    fn recorded_zset_ziplist() {
        // f1 zset:1 body: one=1 two=2.5
        let zl = hex("1c00000016000000040000036f6e6505f2020374776f0503322e35ff");
        let e = decode(&zl).unwrap();
        assert_eq!(e, vec![Elem::Str(b"one"), Elem::Int(1), Elem::Str(b"two"), Elem::Str(b"2.5")]);
        let mut b = ZiplistBuilder::new();
        for x in [&b"one"[..], b"1", b"two", b"2.5"] {
            b.push(x);
        }
        assert_eq!(b.finish(), zl);
    }

    #[test]
    fn all_integer_widths_and_long_strings_round_trip() {
        let ints = [
            0i64,
            12,
            13,
            -1,
            127,
            -128,
            128,
            32767,
            -32768,
            32768,
            8388607,
            -8388608,
            8388608,
            i32::MAX as i64,
            i32::MIN as i64,
            i32::MAX as i64 + 1,
            i64::MAX,
            i64::MIN,
        ];
        let long = vec![b'x'; 300];
        let huge = vec![b'y'; 20000];
        let mut b = ZiplistBuilder::new();
        for &i in &ints {
            b.push(i.to_string().as_bytes());
        }
        b.push(&long);
        b.push(b"after-long");
        b.push(&huge);
        b.push(b"");
        let zl = b.finish();
        let e = decode(&zl).unwrap();
        for (i, &v) in ints.iter().enumerate() {
            assert_eq!(e[i], Elem::Int(v));
        }
        assert_eq!(e[ints.len()], Elem::Str(&long));
        assert_eq!(e[ints.len() + 1], Elem::Str(b"after-long"));
        assert_eq!(e[ints.len() + 2], Elem::Str(&huge));
        assert_eq!(e[ints.len() + 3], Elem::Str(b""));
    }

    #[test]
    fn corrupt_ziplists_are_rejected() {
        let mut b = ZiplistBuilder::new();
        for x in [&b"abc"[..], b"1000", b"zz"] {
            b.push(x);
        }
        let zl = b.finish();
        assert!(decode(&zl).is_ok());
        for cut in 0..zl.len() {
            assert!(decode(&zl[..cut]).is_err());
        }
        for i in 0..zl.len() {
            for v in [0u8, 0x3f, 0x40, 0x80, 0xfe, 0xff] {
                let mut z = zl.clone();
                z[i] = v;
                let _ = decode(&z); // must not panic
            }
        }
    }
}
