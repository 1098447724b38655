//! Go's `time.Now().String()`, used for `start_time` in the topom, proxy and Jodis models:
//! `2026-11-22 01:43:01.133132454 +0000 UTC m=+0.012017972`.
//!
//! The `m=` part is Go's monotonic reading: seconds since the process started. We measure it from
//! the first call to [`process_start`] (call it early in `main`).

use std::sync::OnceLock;
use std::time::{Instant, SystemTime, UNIX_EPOCH};

static START: OnceLock<Instant> = OnceLock::new();

/// The instant the monotonic reading counts from; the first call fixes it.
pub fn process_start() -> Instant {
    *START.get_or_init(Instant::now)
}

/// `time.Now().String()` in the local time zone.
pub fn now_string() -> String {
    let start = process_start();
    let now = SystemTime::now();
    let mono = start.elapsed();
    let since_epoch = now.duration_since(UNIX_EPOCH).unwrap_or_default();
    let secs = since_epoch.as_secs() as i64;
    let (offset, zone) = local_offset(secs);
    format_go_time(secs, since_epoch.subsec_nanos(), offset, &zone, Some((mono.as_secs(), mono.subsec_nanos())))
}

/// Go's `Time.String()` layout, `2006-01-02 15:04:05.999999999 -0700 MST` plus ` m=+S.NNNNNNNNN`
/// when a monotonic reading is present.
pub fn format_go_time(unix_secs: i64, nanos: u32, offset_secs: i32, zone: &str, mono: Option<(u64, u32)>) -> String {
    let local = unix_secs + offset_secs as i64;
    let days = local.div_euclid(86_400);
    let sod = local.rem_euclid(86_400);
    let (y, m, d) = civil_from_days(days);
    let mut s = format!("{y:04}-{m:02}-{d:02} {:02}:{:02}:{:02}", sod / 3600, sod % 3600 / 60, sod % 60);
    if nanos != 0 {
        // ".999999999": nanoseconds with trailing zeros dropped.
        let frac = format!("{nanos:09}");
        s.push('.');
        s.push_str(frac.trim_end_matches('0'));
    }
    let sign = if offset_secs < 0 { '-' } else { '+' };
    let off = offset_secs.unsigned_abs();
    s.push_str(&format!(" {sign}{:02}{:02} ", off / 3600, off % 3600 / 60));
    if zone.is_empty() {
        // Go prints the numeric offset again when the zone has no abbreviation.
        s.push_str(&format!("{sign}{:02}{:02}", off / 3600, off % 3600 / 60));
    } else {
        s.push_str(zone);
    }
    if let Some((ms, mn)) = mono {
        s.push_str(&format!(" m=+{ms}.{mn:09}"));
    }
    s
}

/// Days since 1970-01-01 to (year, month, day) in the proleptic Gregorian calendar.
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

/// UTC offset and zone abbreviation of the local time zone at `secs`, from the C library (the
/// same `TZ`/`/etc/localtime` rules Go follows).
fn local_offset(secs: i64) -> (i32, String) {
    let t = secs as libc::time_t;
    // SAFETY: localtime_r only writes into the tm we own; tm_zone points into static tz data.
    unsafe {
        let mut tm: libc::tm = std::mem::zeroed();
        if libc::localtime_r(&t, &mut tm).is_null() {
            return (0, "UTC".to_string());
        }
        let zone = if tm.tm_zone.is_null() {
            String::new()
        } else {
            std::ffi::CStr::from_ptr(tm.tm_zone).to_string_lossy().into_owned()
        };
        (tm.tm_gmtoff as i32, zone)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recorded_layout() {
        // start_time of proxy 19001 in codis-3.2/b1_zk_tree_after_setup.json:
        // "2026-11-22 01:43:01.133132454 +0000 UTC m=+0.012017972".
        let secs = 1_795_311_781; // 2026-11-22T01:43:01Z
        assert_eq!(
            format_go_time(secs, 133_132_454, 0, "UTC", Some((0, 12_017_972))),
            "2026-11-22 01:43:01.133132454 +0000 UTC m=+0.012017972"
        );
        assert_eq!(format_go_time(secs, 500_000_000, 0, "UTC", None), "2026-11-22 01:43:01.5 +0000 UTC");
        assert_eq!(format_go_time(secs, 0, 8 * 3600, "CST", None), "2026-11-22 09:43:01 +0800 CST");
        assert_eq!(format_go_time(secs, 0, -(3 * 3600 + 1800), "", None), "2026-11-21 22:13:01 -0330 -0330");
        assert_eq!(format_go_time(0, 0, 0, "UTC", None), "1970-01-01 00:00:00 +0000 UTC");
        assert_eq!(format_go_time(951_782_400, 0, 0, "UTC", None), "2000-02-29 00:00:00 +0000 UTC");
    }

    #[test]
    fn now_has_monotonic_part() {
        let s = now_string();
        assert!(s.contains(" m=+"), "{s}");
    }
}
