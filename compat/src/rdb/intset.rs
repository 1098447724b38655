//! Intset: `encoding:u32le (2, 4 or 8) length:u32le` then the sorted integers, little endian.

use super::error::FormatError;

fn err(msg: &'static str, at: usize, len: usize) -> FormatError {
    FormatError::new("intset", msg, at, len)
}

/// Decodes an intset, checking its size and that values are strictly increasing.
pub fn decode(is: &[u8]) -> Result<Vec<i64>, FormatError> {
    let n = is.len();
    if n < 8 {
        return Err(err("shorter than its header", 0, n));
    }
    let enc = u32::from_le_bytes(is[0..4].try_into().unwrap()) as usize;
    let count = u32::from_le_bytes(is[4..8].try_into().unwrap()) as usize;
    if !matches!(enc, 2 | 4 | 8) {
        return Err(err("bad encoding", 0, n));
    }
    if count.checked_mul(enc).and_then(|b| b.checked_add(8)) != Some(n) {
        return Err(err("length does not match the blob size", 4, n));
    }
    let mut out = Vec::with_capacity(count);
    for (i, c) in is[8..].chunks_exact(enc).enumerate() {
        let v = match enc {
            2 => i16::from_le_bytes([c[0], c[1]]) as i64,
            4 => i32::from_le_bytes([c[0], c[1], c[2], c[3]]) as i64,
            _ => i64::from_le_bytes(c.try_into().unwrap()),
        };
        if let Some(&last) = out.last() {
            if v <= last {
                return Err(err("values not strictly increasing", 8 + i * enc, n));
            }
        }
        out.push(v);
    }
    Ok(out)
}

/// Encodes a set of integers as an intset: sorted, deduplicated, in the narrowest width that
/// holds every value (what successive `intsetAdd` calls produce).
pub fn encode(values: &[i64]) -> Vec<u8> {
    let mut v = values.to_vec();
    v.sort_unstable();
    v.dedup();
    let enc: usize = if v.iter().all(|&x| i16::try_from(x).is_ok()) {
        2
    } else if v.iter().all(|&x| i32::try_from(x).is_ok()) {
        4
    } else {
        8
    };
    let mut out = Vec::with_capacity(8 + v.len() * enc);
    out.extend_from_slice(&(enc as u32).to_le_bytes());
    out.extend_from_slice(&(v.len() as u32).to_le_bytes());
    for x in v {
        out.extend_from_slice(&x.to_le_bytes()[..enc]);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recorded_intsets() {
        // wire {wire}intset: -5 1 2 3 100000, enc 4
        let is = encode(&[1, 2, 3, 100000, -5]);
        assert_eq!(&is[..8], &[4, 0, 0, 0, 5, 0, 0, 0]);
        assert_eq!(decode(&is).unwrap(), vec![-5, 1, 2, 3, 100000]);
        assert_eq!(encode(&[3, 2, 1, 1]), vec![2, 0, 0, 0, 3, 0, 0, 0, 1, 0, 2, 0, 3, 0]);
        assert_eq!(&encode(&[1, 5000000000])[..4], &[8, 0, 0, 0]);
        assert!(decode(&[2, 0, 0, 0, 2, 0, 0, 0, 2, 0, 1, 0]).is_err());
        assert!(decode(&[3, 0, 0, 0, 0, 0, 0, 0]).is_err());
        assert!(decode(&[2, 0, 0, 0, 255, 255, 255, 255, 1, 0]).is_err());
    }
}
