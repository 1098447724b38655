//! Go Codis's size and duration config values (`pkg/utils/bytesize`, `pkg/utils/timesize`).
//!
//! Both parse `<number><unit>` with optional spaces, lower-case units only, and print the
//! largest unit that divides the value exactly (`1073741824` prints as `1gb`, 90 s as `90s`).
//! A bare number is bytes for sizes and seconds for durations.

use std::fmt;
use std::time::Duration;

use serde::de::{self, Visitor};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

const KB: i64 = 1 << 10;
const MB: i64 = 1 << 20;
const GB: i64 = 1 << 30;
const TB: i64 = 1 << 40;
const PB: i64 = 1 << 50;

/// Why a size or duration was refused; the wording is Go's.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum UnitError {
    #[error("invalid bytesize")]
    BadByteSize,
    #[error("invalid bytesize unit")]
    BadByteSizeUnit,
    #[error("invalid timesize")]
    BadTimeSize,
    /// `time.ParseDuration`'s wording.
    #[error("time: {0}")]
    Duration(String),
}

/// A byte size (`bytesize.Int64`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ByteSize(pub i64);

impl ByteSize {
    pub const fn bytes(self) -> i64 {
        self.0
    }

    /// `bytesize.Parse`.
    pub fn parse(s: &str) -> Result<ByteSize, UnitError> {
        let (num, unit) = split_number_unit(s).ok_or(UnitError::BadByteSize)?;
        let mult = match unit {
            "" | "b" => 1,
            "k" | "kb" => KB,
            "m" | "mb" => MB,
            "g" | "gb" => GB,
            "t" | "tb" => TB,
            "p" | "pb" => PB,
            _ => return Err(UnitError::BadByteSize),
        };
        if is_integer(num) {
            let n: i64 = num.parse().map_err(|_| UnitError::BadByteSize)?;
            // Go multiplies without an overflow check; wrapping keeps its result.
            Ok(ByteSize(mult.wrapping_mul(n)))
        } else {
            let f: f64 = num.parse().map_err(|_| UnitError::BadByteSize)?;
            Ok(ByteSize((mult as f64 * f) as i64))
        }
    }

    /// `HumanString`: two decimals in the largest unit the value exceeds (`1.50kb`).
    pub fn human_string(self) -> String {
        let v = self.0 as f64;
        let abs = v.abs();
        for (unit, name) in [(PB, "pb"), (TB, "tb"), (GB, "gb"), (MB, "mb"), (KB, "kb")] {
            if abs > unit as f64 {
                return format!("{:.2}{}", v / unit as f64, name);
            }
        }
        self.0.to_string()
    }
}

impl fmt::Display for ByteSize {
    /// `MarshalText`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let v = self.0;
        if v == 0 {
            return f.write_str("0");
        }
        let abs = v.unsigned_abs();
        for (unit, name) in [(PB, "pb"), (TB, "tb"), (GB, "gb"), (MB, "mb"), (KB, "kb")] {
            if abs.is_multiple_of(unit as u64) {
                return write!(f, "{}{}", v / unit, name);
            }
        }
        write!(f, "{v}")
    }
}

/// A duration (`timesize.Duration`), in nanoseconds like Go's `time.Duration`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct TimeSize(pub i64);

const NS: i64 = 1;
const US: i64 = 1_000;
const MS: i64 = 1_000_000;
const SEC: i64 = 1_000_000_000;
const MIN: i64 = 60 * SEC;
const HOUR: i64 = 60 * MIN;

impl TimeSize {
    pub const fn from_secs(s: i64) -> TimeSize {
        TimeSize(s * SEC)
    }

    pub const fn from_millis(ms: i64) -> TimeSize {
        TimeSize(ms * MS)
    }

    pub const fn nanos(self) -> i64 {
        self.0
    }

    /// The value as a `Duration`; negative values (refused by validation) become zero.
    pub fn duration(self) -> Duration {
        Duration::from_nanos(self.0.max(0) as u64)
    }

    /// `timesize.Parse`: `<n><unit>` goes through `time.ParseDuration`, a bare number is seconds.
    pub fn parse(s: &str) -> Result<TimeSize, UnitError> {
        let (num, unit) = split_number_unit(s).ok_or(UnitError::BadTimeSize)?;
        if !unit.is_empty() {
            return parse_go_duration(&format!("{num}{unit}")).map(TimeSize);
        }
        if is_integer(num) {
            let n: i64 = num.parse().map_err(|_| UnitError::BadTimeSize)?;
            Ok(TimeSize(n.wrapping_mul(SEC)))
        } else {
            let f: f64 = num.parse().map_err(|_| UnitError::BadTimeSize)?;
            Ok(TimeSize((f * SEC as f64) as i64))
        }
    }
}

impl From<Duration> for TimeSize {
    fn from(d: Duration) -> TimeSize {
        TimeSize(i64::try_from(d.as_nanos()).unwrap_or(i64::MAX))
    }
}

impl fmt::Display for TimeSize {
    /// `MarshalText`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let v = self.0;
        if v == 0 {
            return f.write_str("0");
        }
        let abs = v.unsigned_abs();
        for (unit, name) in [(HOUR, "h"), (MIN, "m"), (SEC, "s"), (MS, "ms"), (US, "us")] {
            if abs.is_multiple_of(unit as u64) {
                return write!(f, "{}{}", v / unit, name);
            }
        }
        f.write_str(&go_duration_string(v))
    }
}

/// `^\s*(-?[\d.]+)\s*([a-z]+|)\s*$` (the size regexp's unit set is narrower; callers check it).
fn split_number_unit(s: &str) -> Option<(&str, &str)> {
    let t = s.trim_matches(|c: char| c.is_ascii_whitespace());
    let digits_start = usize::from(t.starts_with('-'));
    let num_end = digits_start
        + t[digits_start..].find(|c: char| !(c.is_ascii_digit() || c == '.')).unwrap_or(t.len() - digits_start);
    if num_end == digits_start {
        return None;
    }
    let (num, rest) = t.split_at(num_end);
    let unit = rest.trim_start_matches(|c: char| c.is_ascii_whitespace());
    if !unit.bytes().all(|b| b.is_ascii_lowercase()) {
        return None;
    }
    Some((num, unit))
}

fn is_integer(num: &str) -> bool {
    let d = num.strip_prefix('-').unwrap_or(num);
    !d.is_empty() && d.bytes().all(|b| b.is_ascii_digit())
}

/// Go's `time.ParseDuration` for one `<number><unit>` pair or a sequence of them.
pub fn parse_go_duration(orig: &str) -> Result<i64, UnitError> {
    let invalid = || UnitError::Duration(format!("invalid duration {}", go_quote(orig)));
    let mut s = orig;
    let mut neg = false;
    if let Some(r) = s.strip_prefix('-') {
        neg = true;
        s = r;
    } else if let Some(r) = s.strip_prefix('+') {
        s = r;
    }
    if s == "0" {
        return Ok(0);
    }
    if s.is_empty() {
        return Err(invalid());
    }
    let mut total: f64 = 0.0;
    while !s.is_empty() {
        let n_end = s.find(|c: char| !(c.is_ascii_digit() || c == '.')).unwrap_or(s.len());
        let num = &s[..n_end];
        if num.is_empty() || num == "." || num.matches('.').count() > 1 {
            return Err(invalid());
        }
        s = &s[n_end..];
        let u_end = s.find(|c: char| c == '.' || c.is_ascii_digit()).unwrap_or(s.len());
        let unit = &s[..u_end];
        s = &s[u_end..];
        if unit.is_empty() {
            return Err(UnitError::Duration(format!("missing unit in duration {}", go_quote(orig))));
        }
        let mult = match unit {
            "ns" => NS,
            "us" | "µs" | "μs" => US,
            "ms" => MS,
            "s" => SEC,
            "m" => MIN,
            "h" => HOUR,
            _ => {
                return Err(UnitError::Duration(format!(
                    "unknown unit {} in duration {}",
                    go_quote(unit),
                    go_quote(orig)
                )))
            }
        };
        let v: f64 = num.parse().map_err(|_| invalid())?;
        total += v * mult as f64;
        if total > i64::MAX as f64 {
            return Err(invalid());
        }
    }
    let t = total.round() as i64;
    Ok(if neg { -t } else { t })
}

fn go_quote(s: &str) -> String {
    format!("{s:?}")
}

/// Go's `time.Duration.String()` (`1h2m3.5s`, `1.5µs`).
pub fn go_duration_string(d: i64) -> String {
    if d == 0 {
        return "0s".to_string();
    }
    let neg = d < 0;
    let u = d.unsigned_abs();
    let body = if u < SEC as u64 {
        let (unit, div) = if u < US as u64 {
            ("ns", 1u64)
        } else if u < MS as u64 {
            ("µs", US as u64)
        } else {
            ("ms", MS as u64)
        };
        format!("{}{}", frac(u, div), unit)
    } else {
        let h = u / HOUR as u64;
        let m = u % HOUR as u64 / MIN as u64;
        let s = u % MIN as u64;
        let mut out = String::new();
        if h > 0 {
            out.push_str(&format!("{h}h"));
        }
        if h > 0 || m > 0 {
            out.push_str(&format!("{m}m"));
        }
        out.push_str(&format!("{}s", frac(s, SEC as u64)));
        out
    };
    if neg {
        format!("-{body}")
    } else {
        body
    }
}

/// `v / div` with the remainder as trailing-zero-free decimals.
fn frac(v: u64, div: u64) -> String {
    let int = v / div;
    let rem = v % div;
    if rem == 0 {
        return int.to_string();
    }
    let width = div.ilog10() as usize;
    let digits = format!("{rem:0width$}");
    format!("{int}.{}", digits.trim_end_matches('0'))
}

impl Serialize for ByteSize {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl Serialize for TimeSize {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

/// Like Go's TOML decoder for text-unmarshalled fields: strings are parsed, numbers are first
/// printed (`30` → `"30"`) and then parsed.
struct UnitVisitor<T>(fn(&str) -> Result<T, UnitError>);

impl<T> Visitor<'_> for UnitVisitor<T> {
    type Value = T;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a size or duration such as \"128kb\" or \"30s\"")
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<T, E> {
        (self.0)(v).map_err(E::custom)
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<T, E> {
        (self.0)(&v.to_string()).map_err(E::custom)
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<T, E> {
        (self.0)(&v.to_string()).map_err(E::custom)
    }

    fn visit_f64<E: de::Error>(self, v: f64) -> Result<T, E> {
        (self.0)(&v.to_string()).map_err(E::custom)
    }
}

impl<'de> Deserialize<'de> for ByteSize {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(UnitVisitor(ByteSize::parse))
    }
}

impl<'de> Deserialize<'de> for TimeSize {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(UnitVisitor(TimeSize::parse))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn byte_sizes() {
        // Cases from pkg/utils/bytesize semantics and the recorded configs (a02, c2 /proxy).
        for (s, v) in [
            ("0", 0),
            ("1", 1),
            ("128kb", 128 * KB),
            ("128k", 128 * KB),
            (" 32 mb ", 32 * MB),
            ("1024mb", GB),
            ("1.5kb", 1536),
            ("-2gb", -2 * GB),
            ("7b", 7),
            ("1p", PB),
        ] {
            assert_eq!(ByteSize::parse(s), Ok(ByteSize(v)), "{s}");
        }
        for bad in ["", "kb", "1KB", "1x", "1.2.3mb", "1 mb b", "abc", "1kib"] {
            assert!(ByteSize::parse(bad).is_err(), "{bad}");
        }
        assert_eq!(ByteSize::parse("1zb").unwrap_err().to_string(), "invalid bytesize");
        // MarshalText: the recorded /proxy config prints "1024mb" as "1gb".
        assert_eq!(ByteSize(GB).to_string(), "1gb");
        assert_eq!(ByteSize(256 * MB).to_string(), "256mb");
        assert_eq!(ByteSize(128 * KB).to_string(), "128kb");
        assert_eq!(ByteSize(1536).to_string(), "1536");
        assert_eq!(ByteSize(-64 * KB).to_string(), "-64kb");
        assert_eq!(ByteSize(0).to_string(), "0");
        assert_eq!(ByteSize(1536).human_string(), "1.50kb");
        assert_eq!(ByteSize(1024).human_string(), "1024");
    }

    #[test]
    fn time_sizes() {
        for (s, v) in [
            ("30s", 30 * SEC),
            ("5m", 5 * MIN),
            ("30m", 30 * MIN),
            ("20", 20 * SEC),
            ("1.5", 1_500 * MS),
            ("100ms", 100 * MS),
            ("2h", 2 * HOUR),
            ("75s", 75 * SEC),
            ("1.5h", 90 * MIN),
            ("-1s", -SEC),
            ("0", 0),
            ("10us", 10 * US),
            ("3ns", 3),
        ] {
            assert_eq!(TimeSize::parse(s), Ok(TimeSize(v)), "{s}");
        }
        assert_eq!(TimeSize::parse("1d").unwrap_err().to_string(), "time: unknown unit \"d\" in duration \"1d\"");
        assert_eq!(TimeSize::parse("x").unwrap_err().to_string(), "invalid timesize");
        assert_eq!(TimeSize::parse("1h30m").unwrap_err().to_string(), "invalid timesize");
        assert_eq!(TimeSize(30 * SEC).to_string(), "30s");
        assert_eq!(TimeSize(75 * SEC).to_string(), "75s");
        assert_eq!(TimeSize(90 * MIN).to_string(), "90m");
        assert_eq!(TimeSize(2 * HOUR).to_string(), "2h");
        assert_eq!(TimeSize(1500 * MS).to_string(), "1500ms");
        assert_eq!(TimeSize(7 * US).to_string(), "7us");
        assert_eq!(TimeSize(1500).to_string(), "1.5µs");
        assert_eq!(TimeSize(3).to_string(), "3ns");
        assert_eq!(go_duration_string(HOUR + 2 * MIN + 3 * SEC + 500 * MS + 1), "1h2m3.500000001s");
        assert_eq!(go_duration_string(-(SEC + 5)), "-1.000000005s");
        assert_eq!(TimeSize(5 * SEC).duration(), Duration::from_secs(5));
    }
}
