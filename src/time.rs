//! Unix seconds <-> RFC 3339, for `--now` and for messages.
//!
//! Only UTC output and the RFC 3339 profile of ISO 8601 input are needed, which is a few lines
//! of civil-calendar arithmetic (Howard Hinnant's `days_from_civil`), not a date library.

/// The clock, read once: whole Unix seconds.
pub fn clock_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64)
}

/// Days since 1970-01-01 of the proleptic Gregorian date `y-m-d`.
pub(crate) fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The date `(y, m, d)` of a day count since 1970-01-01.
pub(crate) fn civil_from_days(z: i64) -> (i64, i64, i64) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    (yoe + era * 400 + i64::from(m <= 2), m, d)
}

/// Formats whole Unix seconds as `YYYY-MM-DDTHH:MM:SSZ` (years 0..=9999).
pub fn fmt_unix(secs: i64) -> Option<String> {
    let days = secs.div_euclid(86_400);
    let rem = secs.rem_euclid(86_400);
    let (y, m, d) = civil_from_days(days);
    if !(0..=9999).contains(&y) {
        return None;
    }
    Some(format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    ))
}

/// Formats a JWT NumericDate for a message: RFC 3339 when it is a whole second in years
/// 0..=9999, else the number itself (so nothing is hidden from the reader).
pub fn fmt_numeric_date(value: f64) -> String {
    if value.fract() == 0.0 && value.abs() < 1e15 {
        if let Some(s) = fmt_unix(value as i64) {
            return s;
        }
    }
    format!("{value}")
}

/// Parses `--now`: Unix seconds (`1764410400`) or RFC 3339 (`2026-11-29T10:00:00Z`,
/// `2026-11-29T11:00:00+01:00`, fractional seconds truncated).
pub fn parse_now(text: &str) -> Result<i64, String> {
    if let Ok(secs) = text.parse::<i64>() {
        return Ok(secs);
    }
    parse_rfc3339(text).ok_or_else(|| {
        format!("{text:?} is neither Unix seconds nor an RFC 3339 time like 2026-11-29T10:00:00Z")
    })
}

fn parse_rfc3339(s: &str) -> Option<i64> {
    let b = s.as_bytes();
    let num = |range: std::ops::Range<usize>| -> Option<i64> {
        let part = b.get(range)?;
        if part.iter().all(u8::is_ascii_digit) {
            std::str::from_utf8(part).ok()?.parse().ok()
        } else {
            None
        }
    };
    let sep = |at: usize, want: &[u8]| b.get(at).is_some_and(|c| want.contains(c));
    if !(sep(4, b"-") && sep(7, b"-") && sep(10, b"Tt ") && sep(13, b":") && sep(16, b":")) {
        return None;
    }
    let (y, mo, d) = (num(0..4)?, num(5..7)?, num(8..10)?);
    let (h, mi, sec) = (num(11..13)?, num(14..16)?, num(17..19)?);
    let days_in_month = match mo {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if (y % 4 == 0 && y % 100 != 0) || y % 400 == 0 => 29,
        2 => 28,
        _ => return None,
    };
    if d < 1 || d > days_in_month || h > 23 || mi > 59 || sec > 60 {
        return None;
    }
    let mut rest = &s[19..];
    if let Some(frac) = rest.strip_prefix('.') {
        let digits = frac.bytes().take_while(u8::is_ascii_digit).count();
        if digits == 0 {
            return None;
        }
        rest = &frac[digits..];
    }
    let offset = match rest {
        "Z" | "z" => 0,
        _ => {
            let ob = rest.as_bytes();
            if ob.len() != 6 || ob[3] != b':' {
                return None;
            }
            let sign = match ob[0] {
                b'+' => 1,
                b'-' => -1,
                _ => return None,
            };
            let oh: i64 = rest.get(1..3)?.parse().ok()?;
            let om: i64 = rest.get(4..6)?.parse().ok()?;
            if oh > 23 || om > 59 {
                return None;
            }
            sign * (oh * 3600 + om * 60)
        }
    };
    Some(days_from_civil(y, mo, d) * 86_400 + h * 3600 + mi * 60 + sec - offset)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_known_instants() {
        assert_eq!(fmt_unix(0).as_deref(), Some("1970-01-01T00:00:00Z"));
        assert_eq!(
            fmt_unix(951_782_400).as_deref(),
            Some("2000-02-29T00:00:00Z")
        );
        assert_eq!(parse_now("2000-02-29T00:00:00Z"), Ok(951_782_400));
        assert_eq!(parse_now("2000-02-29T01:00:00+01:00"), Ok(951_782_400));
        assert_eq!(parse_now("1764410400"), Ok(1_764_410_400));
        assert_eq!(parse_now("2026-11-29T10:00:00.75Z"), Ok(1_795_946_400));
        for secs in [-86_401, 1, 1_795_946_400, 253_402_300_799] {
            let text = fmt_unix(secs).unwrap();
            assert_eq!(parse_now(&text), Ok(secs), "{text}");
        }
    }

    #[test]
    fn rejects_malformed_times() {
        for bad in [
            "",
            "2026-02-30T00:00:00Z",
            "2026-11-29 10:00",
            "2026-11-29T10:00:00",
            "2026-11-29T24:00:00Z",
            "2026-11-29T10:00:00.Z",
            "2026-11-29T10:00:00+1:00",
            "१२३",
        ] {
            assert!(parse_now(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn numeric_dates_outside_the_calendar_print_as_numbers() {
        assert_eq!(fmt_numeric_date(1.5), "1.5");
        assert_eq!(fmt_numeric_date(1e300), format!("{}", 1e300));
        assert_eq!(fmt_numeric_date(60.0), "1970-01-01T00:01:00Z");
    }
}
