//! Parsing and formatting the way Redis does it (`string2ll`, `strtold`, `%.17g`, glob match).

/// Strict signed 64-bit parse (Redis's `string2ll`): no spaces, no `+`, no leading zeros.
pub fn parse_i64(s: &[u8]) -> Option<i64> {
    if s.is_empty() || s.len() > 20 {
        return None;
    }
    if s == b"0" {
        return Some(0);
    }
    let (neg, digits) = if s[0] == b'-' { (true, &s[1..]) } else { (false, s) };
    if digits.is_empty() || digits[0] == b'0' {
        return None;
    }
    let mut v: i64 = 0;
    for &c in digits {
        if !c.is_ascii_digit() {
            return None;
        }
        let d = (c - b'0') as i64;
        v = v.checked_mul(10)?;
        v = if neg { v.checked_sub(d)? } else { v.checked_add(d)? };
    }
    Some(v)
}

/// A string that `tryObjectEncoding` would store as an integer: `parse_i64` succeeds (which
/// already implies the canonical form) and it is at most 20 bytes.
#[inline]
pub fn parse_canonical_i64(s: &[u8]) -> Option<i64> {
    if s.len() > 20 || s.is_empty() {
        return None;
    }
    parse_i64(s)
}

/// Parses a double the way Redis's `getDoubleFromObject`/`strtod` path accepts it: optional
/// surrounding digits, exponent, `inf`/`infinity` in any case; no spaces; NaN rejected.
pub fn parse_f64(s: &[u8]) -> Option<f64> {
    if s.is_empty() || s[0].is_ascii_whitespace() || s[s.len() - 1].is_ascii_whitespace() {
        return None;
    }
    let text = std::str::from_utf8(s).ok()?;
    let lower = text.to_ascii_lowercase();
    let v = match lower.trim_start_matches(['+', '-']) {
        "inf" | "infinity" => {
            if lower.starts_with('-') {
                f64::NEG_INFINITY
            } else {
                f64::INFINITY
            }
        }
        body => {
            // Rust accepts forms C's strtod does not ("1e", ...) and vice versa (hex floats);
            // restrict to decimal digits, '.', exponent.
            if body.is_empty() || !body.bytes().all(|c| c.is_ascii_digit() || matches!(c, b'.' | b'e' | b'-' | b'+')) {
                return None;
            }
            lower.parse::<f64>().ok()?
        }
    };
    if v.is_nan() {
        None
    } else {
        Some(v)
    }
}

/// Formats like C's `printf("%.17g", d)`, with Redis's spellings for infinities.
pub fn fmt_g17(d: f64) -> String {
    // Integral values below 1e15 print as their digits under %.17g (exact, no exponent);
    // skip the general formatting for them (scores are often integers).
    if d.fract() == 0.0 && d.abs() < 1e15 && d != 0.0 {
        return itoa::Buffer::new().format(d as i64).to_owned();
    }
    fmt_g(d, 17)
}

/// `%.<prec>g` formatting.
pub fn fmt_g(d: f64, prec: usize) -> String {
    if d.is_infinite() {
        return if d > 0.0 { "inf".into() } else { "-inf".into() };
    }
    if d.is_nan() {
        return "nan".into();
    }
    if d == 0.0 {
        return if d.is_sign_negative() { "-0".into() } else { "0".into() };
    }
    let p = prec.max(1);
    let sci = format!("{:.*e}", p - 1, d);
    let (mant, exp) = sci.split_once('e').unwrap_or((&sci, "0"));
    let exp: i32 = exp.parse().unwrap_or(0);
    if exp < -4 || exp >= p as i32 {
        let mant = strip_zeros(mant);
        let sign = if exp < 0 { '-' } else { '+' };
        format!("{mant}e{sign}{:02}", exp.abs())
    } else {
        let decimals = (p as i32 - 1 - exp).max(0) as usize;
        strip_zeros(&format!("{:.*}", decimals, d)).to_string()
    }
}

fn strip_zeros(s: &str) -> &str {
    if s.contains('.') {
        s.trim_end_matches('0').trim_end_matches('.')
    } else {
        s
    }
}

/// Glob-style matching (`stringmatchlen`): `*`, `?`, `[...]` with ranges and `^`, `\` escapes.
pub fn glob_match(pattern: &[u8], s: &[u8], nocase: bool) -> bool {
    glob_inner(pattern, s, nocase, 0)
}

fn glob_inner(mut p: &[u8], mut s: &[u8], nocase: bool, depth: usize) -> bool {
    if depth > 1000 {
        return false;
    }
    let eq = |a: u8, b: u8| if nocase { a.eq_ignore_ascii_case(&b) } else { a == b };
    while !p.is_empty() {
        match p[0] {
            b'*' => {
                while p.len() > 1 && p[1] == b'*' {
                    p = &p[1..];
                }
                if p.len() == 1 {
                    return true;
                }
                for i in 0..=s.len() {
                    if glob_inner(&p[1..], &s[i..], nocase, depth + 1) {
                        return true;
                    }
                }
                return false;
            }
            b'?' => {
                if s.is_empty() {
                    return false;
                }
                s = &s[1..];
            }
            b'[' => {
                if s.is_empty() {
                    return false;
                }
                p = &p[1..];
                let not = !p.is_empty() && p[0] == b'^';
                if not {
                    p = &p[1..];
                }
                let mut matched = false;
                loop {
                    if p.is_empty() {
                        break;
                    }
                    if p[0] == b'\\' && p.len() >= 2 {
                        p = &p[1..];
                        if eq(p[0], s[0]) {
                            matched = true;
                        }
                    } else if p[0] == b']' {
                        break;
                    } else if p.len() >= 3 && p[1] == b'-' {
                        let (mut a, mut b) = (p[0], p[2]);
                        if a > b {
                            std::mem::swap(&mut a, &mut b);
                        }
                        let c = s[0];
                        let in_range = if nocase {
                            let (a, b, c) = (a.to_ascii_lowercase(), b.to_ascii_lowercase(), c.to_ascii_lowercase());
                            c >= a && c <= b
                        } else {
                            c >= a && c <= b
                        };
                        if in_range {
                            matched = true;
                        }
                        p = &p[2..];
                    } else if eq(p[0], s[0]) {
                        matched = true;
                    }
                    p = &p[1..];
                }
                if p.is_empty() {
                    // Unterminated class: Redis treats the pattern end as the class end.
                    p = &p[0..0];
                }
                if not {
                    matched = !matched;
                }
                if !matched {
                    return false;
                }
                s = &s[1..];
                if p.is_empty() {
                    return s.is_empty();
                }
            }
            b'\\' if p.len() >= 2 => {
                p = &p[1..];
                if s.is_empty() || !eq(p[0], s[0]) {
                    return false;
                }
                s = &s[1..];
            }
            c => {
                if s.is_empty() || !eq(c, s[0]) {
                    return false;
                }
                s = &s[1..];
            }
        }
        p = &p[1..];
        if s.is_empty() {
            while !p.is_empty() && p[0] == b'*' {
                p = &p[1..];
            }
            break;
        }
    }
    p.is_empty() && s.is_empty()
}

/// Milliseconds since the unix epoch.
#[inline]
pub fn now_ms() -> i64 {
    clock::now_us() / 1000
}

/// Microseconds since the unix epoch.
#[inline]
pub fn now_us() -> i64 {
    clock::now_us()
}

/// A cheap wall clock. Every command reads the time two or three times; `clock_gettime` costs
/// too much on virtual machines, so the wall time is extrapolated from the CPU's timestamp
/// counter (quanta) and re-anchored to the system clock by the server cron.
pub mod clock {
    use std::cell::Cell;
    use std::sync::atomic::{AtomicU64, Ordering};
    use std::sync::OnceLock;

    use parking_lot::Mutex;

    struct Anchor {
        raw: u64,
        wall_us: i64,
    }

    static CLOCK: OnceLock<quanta::Clock> = OnceLock::new();
    static ANCHOR: Mutex<Anchor> = Mutex::new(Anchor { raw: 0, wall_us: 0 });
    static EPOCH: AtomicU64 = AtomicU64::new(0);

    thread_local! {
        static LOCAL: Cell<(u64, u64, i64)> = const { Cell::new((u64::MAX, 0, 0)) };
    }

    fn qclock() -> &'static quanta::Clock {
        CLOCK.get_or_init(quanta::Clock::new)
    }

    fn system_us() -> i64 {
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_micros() as i64).unwrap_or(0)
    }

    /// Re-anchors the extrapolated clock to the system clock.
    pub fn resync() {
        let q = qclock();
        let mut a = ANCHOR.lock();
        a.raw = q.raw();
        a.wall_us = system_us();
        EPOCH.fetch_add(1, Ordering::Release);
    }

    pub fn now_us() -> i64 {
        let q = qclock();
        let epoch = EPOCH.load(Ordering::Acquire);
        let (seen, raw0, wall0) = LOCAL.with(|l| l.get());
        let (raw0, wall0) = if seen == epoch && epoch != 0 {
            (raw0, wall0)
        } else {
            if epoch == 0 {
                resync();
            }
            let a = ANCHOR.lock();
            let v = (a.raw, a.wall_us);
            LOCAL.with(|l| l.set((EPOCH.load(Ordering::Acquire), v.0, v.1)));
            v
        };
        let raw = q.raw();
        if raw < raw0 {
            return wall0;
        }
        wall0 + q.delta(raw0, raw).as_micros() as i64
    }
}

/// Lowercases an ASCII command name into `buf`; `None` when it is too long to be a command.
pub fn lower_into<'a>(name: &[u8], buf: &'a mut [u8; 64]) -> Option<&'a [u8]> {
    if name.len() > buf.len() {
        return None;
    }
    for (d, s) in buf.iter_mut().zip(name) {
        *d = s.to_ascii_lowercase();
    }
    Some(&buf[..name.len()])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ints() {
        assert_eq!(parse_i64(b"0"), Some(0));
        assert_eq!(parse_i64(b"-12"), Some(-12));
        assert_eq!(parse_i64(b"9223372036854775807"), Some(i64::MAX));
        assert_eq!(parse_i64(b"-9223372036854775808"), Some(i64::MIN));
        for bad in [&b"9223372036854775808"[..], b"01", b"+1", b" 1", b"1 ", b"-0", b"", b"-", b"1a"] {
            assert_eq!(parse_i64(bad), None, "{:?}", String::from_utf8_lossy(bad));
        }
    }

    #[test]
    fn g17_matches_printf() {
        assert_eq!(fmt_g17(0.1), "0.10000000000000001");
        assert_eq!(fmt_g17(1.5), "1.5");
        assert_eq!(fmt_g17(3.0), "3");
        assert_eq!(fmt_g17(1e20), "1e+20");
        assert_eq!(fmt_g17(0.30000000000000004), "0.30000000000000004");
        assert_eq!(fmt_g17(1e-5), "1.0000000000000001e-05");
        assert_eq!(fmt_g17(123456789012345678.0), "1.2345678901234568e+17");
        assert_eq!(fmt_g17(f64::INFINITY), "inf");
        assert_eq!(fmt_g17(-0.0), "-0");
        assert_eq!(fmt_g17(-42.0), "-42");
        assert_eq!(fmt_g17(999999999999999.0), "999999999999999");
        assert_eq!(fmt_g17(1e15), "1000000000000000");
        assert_eq!(fmt_g17(1e16), "10000000000000000");
        assert_eq!(fmt_g17(-1e17), "-1e+17");
        // The integer fast path agrees with the general formatting.
        for v in [1.0, -1.0, 7.0, 10.0, 123456.0, -987654321.0, 4503599627370496.0 / 8.0, 999999999999999.0] {
            assert_eq!(fmt_g17(v), fmt_g(v, 17), "{v}");
        }
    }

    #[test]
    fn floats() {
        assert_eq!(parse_f64(b"1.5"), Some(1.5));
        assert_eq!(parse_f64(b"-inf"), Some(f64::NEG_INFINITY));
        assert_eq!(parse_f64(b"+Inf"), Some(f64::INFINITY));
        assert_eq!(parse_f64(b".5"), Some(0.5));
        assert_eq!(parse_f64(b"1e3"), Some(1000.0));
        assert_eq!(parse_f64(b"nan"), None);
        assert_eq!(parse_f64(b" 1"), None);
        assert_eq!(parse_f64(b"abc"), None);
    }

    #[test]
    fn globs() {
        assert!(glob_match(b"*", b"anything", false));
        assert!(glob_match(b"h?llo", b"hello", false));
        assert!(glob_match(b"h[ae]llo", b"hallo", false));
        assert!(!glob_match(b"h[^e]llo", b"hello", false));
        assert!(glob_match(b"h[a-b]llo", b"hbllo", false));
        assert!(glob_match(b"k\\*", b"k*", false));
        assert!(!glob_match(b"k\\*", b"kx", false));
        assert!(glob_match(b"*a*b", b"xxaxxb", false));
        assert!(!glob_match(b"a*", b"ba", false));
        assert!(glob_match(b"HE*", b"hello", true));
    }
}
