//! Number <-> text conversions exactly as Redis performs them when it encodes values.

/// Redis `string2ll`: the whole of `s` is a canonical decimal `i64` (no sign `+`, no leading
/// zeros, no `-0`, no spaces, in range). Used to decide integer encodings everywhere.
pub fn string_to_i64(s: &[u8]) -> Option<i64> {
    if s.is_empty() || s.len() > 20 {
        return None;
    }
    if s == b"0" {
        return Some(0);
    }
    let (neg, digits) = match s[0] {
        b'-' => (true, &s[1..]),
        _ => (false, s),
    };
    match digits.first() {
        Some(b'1'..=b'9') => {}
        _ => return None,
    }
    let mut v: u64 = 0;
    for &c in digits {
        if !c.is_ascii_digit() {
            return None;
        }
        v = v.checked_mul(10)?.checked_add((c - b'0') as u64)?;
    }
    if neg {
        if v > i64::MAX as u64 + 1 {
            None
        } else {
            Some((v as i64).wrapping_neg())
        }
    } else if v > i64::MAX as u64 {
        None
    } else {
        Some(v as i64)
    }
}

/// Decimal text of `v`.
pub fn i64_to_bytes(v: i64) -> bytes::Bytes {
    let mut b = itoa::Buffer::new();
    bytes::Bytes::copy_from_slice(b.format(v).as_bytes())
}

/// C's `printf("%.17g", v)` for a finite `v` (glibc rounding: exact, ties to even).
pub fn fmt_g17(v: f64) -> String {
    const P: i32 = 17;
    debug_assert!(v.is_finite());
    if v == 0.0 {
        return if v.is_sign_negative() { "-0".into() } else { "0".into() };
    }
    let e = format!("{:.*e}", (P - 1) as usize, v);
    let (mant, exp) = e.split_once('e').expect("exponent");
    let x: i32 = exp.parse().expect("exponent value");
    let (neg, mant) = match mant.strip_prefix('-') {
        Some(m) => (true, m),
        None => (false, mant),
    };
    let digits: String = mant.chars().filter(|c| *c != '.').collect();
    let mut out = String::with_capacity(26);
    if neg {
        out.push('-');
    }
    if !(-4..P).contains(&x) {
        let d = digits.trim_end_matches('0');
        out.push_str(&d[..1]);
        if d.len() > 1 {
            out.push('.');
            out.push_str(&d[1..]);
        }
        out.push('e');
        out.push(if x < 0 { '-' } else { '+' });
        let ax = x.unsigned_abs();
        if ax < 10 {
            out.push('0');
        }
        out.push_str(&ax.to_string());
    } else if x >= 0 {
        let (int, frac) = digits.split_at((x + 1) as usize);
        out.push_str(int);
        let frac = frac.trim_end_matches('0');
        if !frac.is_empty() {
            out.push('.');
            out.push_str(frac);
        }
    } else {
        out.push_str("0.");
        for _ in 0..(-x - 1) {
            out.push('0');
        }
        out.push_str(digits.trim_end_matches('0'));
    }
    out
}

/// Which Redis release's `d2string` to imitate: they differ in the range printed as an integer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum D2s {
    /// Redis 3.2: integers strictly inside `(-(2^52-1), 2^52)`.
    Redis32,
    /// Redis 7.0 (`double2ll`): integers within `[-(2^62), 2^62]` (LLONG_MAX/2).
    Redis70,
}

fn as_integer(v: f64, flavour: D2s) -> Option<i64> {
    let ok = match flavour {
        D2s::Redis32 => v > -4503599627370495.0 && v < 4503599627370496.0,
        D2s::Redis70 => v >= (-(i64::MAX / 2)) as f64 && v <= (i64::MAX / 2) as f64,
    };
    if ok && v == (v as i64) as f64 {
        Some(v as i64)
    } else {
        None
    }
}

/// Redis `d2string`: the text of a zset score stored in a ziplist or listpack.
///
/// Redis 7.0 checks for an integral score first (`zzlInsertAt` stores it with
/// `lpAppendInteger`), so `-0.0` becomes `0` there while 3.2 writes `"-0"`.
pub fn d2string(v: f64, flavour: D2s) -> String {
    if flavour == D2s::Redis70 {
        if let Some(i) = as_integer(v, flavour) {
            return i.to_string();
        }
    }
    if v.is_nan() {
        "nan".into()
    } else if v.is_infinite() {
        if v < 0.0 {
            "-inf".into()
        } else {
            "inf".into()
        }
    } else if v == 0.0 {
        if v.is_sign_negative() {
            "-0".into()
        } else {
            "0".into()
        }
    } else if let Some(i) = as_integer(v, flavour) {
        i.to_string()
    } else {
        fmt_g17(v)
    }
}

/// Redis 3.2 `rdbSaveDoubleValue` (RDB type ZSET, scores as text): appends the encoded score.
pub fn push_rdb_text_double(out: &mut Vec<u8>, v: f64) {
    if v.is_nan() {
        out.push(253);
    } else if v.is_infinite() {
        out.push(if v < 0.0 { 255 } else { 254 });
    } else {
        let s = match as_integer(v, D2s::Redis32) {
            Some(i) => i.to_string(),
            None => fmt_g17(v),
        };
        out.push(s.len() as u8);
        out.extend_from_slice(s.as_bytes());
    }
}

/// `strtod` for the score texts Redis writes (`"2.5"`, `"-inf"`, `"1e+300"`, `"nan"`).
pub fn parse_f64(s: &[u8]) -> Option<f64> {
    let s = std::str::from_utf8(s).ok()?;
    let t = s.trim_start_matches([' ', '\t', '\n', '\r', '\x0b', '\x0c']);
    if t.is_empty() {
        return None;
    }
    t.parse::<f64>().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn string_to_i64_is_canonical_only() {
        assert_eq!(string_to_i64(b"0"), Some(0));
        assert_eq!(string_to_i64(b"12345"), Some(12345));
        assert_eq!(string_to_i64(b"-5"), Some(-5));
        assert_eq!(string_to_i64(b"9223372036854775807"), Some(i64::MAX));
        assert_eq!(string_to_i64(b"-9223372036854775808"), Some(i64::MIN));
        for bad in [&b""[..], b"-", b"-0", b"01", b"+1", b" 1", b"1 ", b"9223372036854775808", b"1a", b"1.0"] {
            assert_eq!(string_to_i64(bad), None, "{:?}", bad);
        }
    }

    #[test]
    fn g17_matches_printf() {
        // expected strings from glibc printf("%.17g")
        let cases: [(f64, &str); 14] = [
            (2.5, "2.5"),
            (0.1, "0.10000000000000001"),
            (1.0 / 3.0, "0.33333333333333331"),
            (1e300, "1.0000000000000001e+300"),
            (5e-324, "4.9406564584124654e-324"),
            (1e17, "1e+17"),
            (1e16, "10000000000000000"),
            (123456789012345678.0, "1.2345678901234568e+17"),
            (0.0001, "0.0001"),
            (0.00001, "1.0000000000000001e-05"),
            (-1.5, "-1.5"),
            (1e15 + 0.25, "1000000000000000.2"),
            (1e15 + 0.75, "1000000000000000.8"),
            (f64::MAX, "1.7976931348623157e+308"),
        ];
        for (v, s) in cases {
            assert_eq!(fmt_g17(v), s, "{v:e}");
        }
    }

    #[test]
    fn d2string_flavours() {
        assert_eq!(d2string(1.0, D2s::Redis32), "1");
        assert_eq!(d2string(-0.0, D2s::Redis32), "-0");
        assert_eq!(d2string(f64::INFINITY, D2s::Redis32), "inf");
        assert_eq!(d2string(f64::NEG_INFINITY, D2s::Redis70), "-inf");
        assert_eq!(d2string(1e17, D2s::Redis32), "1e+17");
        assert_eq!(d2string(1e17, D2s::Redis70), "100000000000000000");
        assert_eq!(d2string(-0.0, D2s::Redis70), "0");
        assert_eq!(d2string(0.1, D2s::Redis70), "0.10000000000000001");
        let mut v = Vec::new();
        push_rdb_text_double(&mut v, -0.0);
        push_rdb_text_double(&mut v, 408.5);
        push_rdb_text_double(&mut v, f64::NEG_INFINITY);
        assert_eq!(v, b"\x010\x05408.5\xff");
    }
}
