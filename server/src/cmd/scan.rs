//! Shared by SCAN, HSCAN, SSCAN and ZSCAN.

use super::error::CmdError;

/// A SCAN cursor as `strtoul` reads it: decimal, optional sign (a negative cursor wraps), no
/// leading space, nothing after the digits.
pub fn parse_scan_cursor(arg: &[u8]) -> Result<u64, CmdError> {
    const INVALID: CmdError = CmdError::fixed("ERR invalid cursor");
    // C sees the string up to its first NUL.
    let s = match arg.iter().position(|&c| c == 0) {
        Some(n) => &arg[..n],
        None => arg,
    };
    if s.is_empty() {
        return Ok(0);
    }
    if matches!(s[0], b' ' | b'\t' | b'\n' | b'\r' | 0x0b | 0x0c) {
        return Err(INVALID);
    }
    let (neg, digits) = match s[0] {
        b'-' => (true, &s[1..]),
        b'+' => (false, &s[1..]),
        _ => (false, s),
    };
    if digits.is_empty() || !digits.iter().all(u8::is_ascii_digit) {
        return Err(INVALID);
    }
    let mut v: u64 = 0;
    for &c in digits {
        v = v.checked_mul(10).and_then(|v| v.checked_add((c - b'0') as u64)).ok_or(INVALID)?;
    }
    Ok(if neg { v.wrapping_neg() } else { v })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scan_cursor_like_strtoul() {
        assert_eq!(parse_scan_cursor(b"0"), Ok(0));
        assert_eq!(parse_scan_cursor(b""), Ok(0));
        assert_eq!(parse_scan_cursor(b"+7"), Ok(7));
        assert_eq!(parse_scan_cursor(b"007"), Ok(7));
        assert_eq!(parse_scan_cursor(b"-1"), Ok(u64::MAX));
        assert_eq!(parse_scan_cursor(b"18446744073709551615"), Ok(u64::MAX));
        assert_eq!(parse_scan_cursor(b"5\0x"), Ok(5));
        assert!(parse_scan_cursor(b"18446744073709551616").is_err());
        for bad in [&b" 1"[..], b"1 ", b"-", b"+", b"abc", b"1a", b"0x10", b"1.0"] {
            assert!(parse_scan_cursor(bad).is_err(), "{:?}", String::from_utf8_lossy(bad));
        }
    }
}
