//! Zipmap (RDB type 9, Redis < 2.6 small hashes): decoder only.
//!
//! Layout: `zmlen:u8` then `len key len free value <free bytes>` pairs and `0xff`. Lengths are
//! one byte when < 254, else `0xfe` + u32le.

use super::error::FormatError;

fn err(msg: &'static str, at: usize, len: usize) -> FormatError {
    FormatError::new("zipmap", msg, at, len)
}

fn read_len(zm: &[u8], p: &mut usize) -> Result<Option<usize>, FormatError> {
    let n = zm.len();
    let b = *zm.get(*p).ok_or_else(|| err("truncated", *p, n))?;
    match b {
        255 => Ok(None),
        254 => {
            if *p + 5 > n {
                return Err(err("truncated length", *p, n));
            }
            let v = u32::from_le_bytes(zm[*p + 1..*p + 5].try_into().unwrap()) as usize;
            *p += 5;
            Ok(Some(v))
        }
        _ => {
            *p += 1;
            Ok(Some(b as usize))
        }
    }
}

/// A field and its value, borrowed from the zipmap.
pub type Pair<'a> = (&'a [u8], &'a [u8]);

/// Decodes a zipmap into its field/value pairs, in stored order.
pub fn decode(zm: &[u8]) -> Result<Vec<Pair<'_>>, FormatError> {
    let n = zm.len();
    if n < 2 {
        return Err(err("too short", 0, n));
    }
    let mut p = 1;
    let mut out = Vec::new();
    loop {
        let klen = match read_len(zm, &mut p)? {
            None => break,
            Some(l) => l,
        };
        let kend = p.checked_add(klen).filter(|&e| e <= n).ok_or_else(|| err("key runs past the end", p, n))?;
        let key = &zm[p..kend];
        p = kend;
        let vlen = read_len(zm, &mut p)?.ok_or_else(|| err("missing value", p, n))?;
        let free = *zm.get(p).ok_or_else(|| err("truncated", p, n))? as usize;
        p += 1;
        let vend = p.checked_add(vlen).filter(|&e| e <= n).ok_or_else(|| err("value runs past the end", p, n))?;
        let val = &zm[p..vend];
        p = vend.checked_add(free).filter(|&e| e <= n).ok_or_else(|| err("free space runs past the end", p, n))?;
        out.push((key, val));
    }
    if p != n - 1 {
        return Err(err("data after terminator", p, n));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_a_small_zipmap() {
        // {"foo" => "bar", "k" => "hello"} with 2 free bytes after "hello"
        let zm = b"\x02\x03foo\x03\x00bar\x01k\x05\x02helloXX\xff";
        assert_eq!(decode(zm).unwrap(), vec![(&b"foo"[..], &b"bar"[..]), (&b"k"[..], &b"hello"[..])]);
        for cut in 0..zm.len() {
            assert!(decode(&zm[..cut]).is_err());
        }
    }
}
