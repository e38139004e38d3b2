//! UTCTime and GeneralizedTime as cryptobyte reads them: Go's `time.Parse` with the layouts
//! `060102150405Z0700` (or, for UTCTime, minute precision `0601021504Z0700`) and
//! `20060102150405Z0700`, accepted only when formatting the result gives the same text back
//! (so `+0000`, fractions and out-of-range fields are refused). UTCTime years 50–99 are
//! 1950–1999, as RFC 5280 says.

use crate::time::days_from_civil;

/// A certificate time: Unix seconds and the UTC offset it was written with (Go keeps the
/// offset, and prints it).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Time {
    /// Seconds since the Unix epoch.
    pub unix: i64,
    /// The offset east of UTC in seconds (0 for `Z`).
    pub offset: i32,
}

fn digits(s: &[u8]) -> Option<i64> {
    if s.is_empty() || !s.iter().all(u8::is_ascii_digit) {
        return None;
    }
    Some(s.iter().fold(0, |acc, &d| acc * 10 + i64::from(d - b'0')))
}

fn days_in_month(year: i64, month: i64) -> i64 {
    match month {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        _ if (year % 4 == 0 && year % 100 != 0) || year % 400 == 0 => 29,
        _ => 28,
    }
}

/// Parses the zone (`Z` or `±hhmm`, never a zero offset written out) that ends a time.
fn zone(s: &[u8]) -> Option<i32> {
    match s {
        b"Z" => Some(0),
        [sign @ (b'+' | b'-'), h1, h2, m1, m2] => {
            let hours = digits(&[*h1, *h2])?;
            let minutes = digits(&[*m1, *m2])?;
            if hours > 24 || minutes >= 60 || (hours == 0 && minutes == 0) {
                return None;
            }
            let offset = (hours * 3600 + minutes * 60) as i32;
            Some(if *sign == b'-' { -offset } else { offset })
        }
        _ => None,
    }
}

fn assemble(year: i64, fields: &[i64; 5], offset: i32) -> Option<Time> {
    let [month, day, hour, minute, second] = *fields;
    if !(1..=12).contains(&month)
        || day < 1
        || day > days_in_month(year, month)
        || hour > 23
        || minute > 59
        || second > 59
    {
        return None;
    }
    let local = days_from_civil(year, month, day) * 86_400 + hour * 3600 + minute * 60 + second;
    Some(Time {
        unix: local - i64::from(offset),
        offset,
    })
}

/// A UTCTime's contents.
pub fn utc_time(s: &[u8]) -> Option<Time> {
    // Seconds precision first, then Go's fallback to minutes.
    let with_seconds = s.len() >= 13 && s[10].is_ascii_digit() && s[11].is_ascii_digit();
    let (fields, rest) = if with_seconds {
        (&s[..12], &s[12..])
    } else if s.len() >= 11 {
        (&s[..10], &s[10..])
    } else {
        return None;
    };
    let offset = zone(rest)?;
    let two = |i: usize| digits(&fields[i..i + 2]);
    let yy = two(0)?;
    let second = if with_seconds { two(10)? } else { 0 };
    // time.Parse reads "06" as 1969–2068; cryptobyte moves 2050 and later back a century.
    let year = match yy {
        0..=49 => 2000 + yy,
        _ => 1900 + yy,
    };
    assemble(year, &[two(2)?, two(4)?, two(6)?, two(8)?, second], offset)
}

/// A GeneralizedTime's contents.
pub fn generalized_time(s: &[u8]) -> Option<Time> {
    if s.len() < 15 {
        return None;
    }
    let offset = zone(&s[14..])?;
    let two = |i: usize| digits(&s[i..i + 2]);
    let year = digits(&s[0..4])?;
    assemble(
        year,
        &[two(4)?, two(6)?, two(8)?, two(10)?, two(12)?],
        offset,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn utc_times_as_cryptobyte_reads_them() {
        // 2026-12-04T21:00:00Z = 1796418000 (date -d '2026-12-04T21:00:00Z' +%s).
        assert_eq!(utc_time(b"261204210000Z").unwrap().unix, 1_796_418_000);
        assert_eq!(utc_time(b"2612042100Z").unwrap().unix, 1_796_418_000);
        assert_eq!(
            utc_time(b"261204220000+0100").unwrap(),
            Time {
                unix: 1_796_418_000,
                offset: 3600
            }
        );
        // 1950 and 2049 ends of the two-digit year.
        assert_eq!(utc_time(b"500101000000Z").unwrap().unix, -631_152_000);
        assert_eq!(utc_time(b"491231235959Z").unwrap().unix, 2_524_607_999);
        for bad in [
            &b"261204210000+0000"[..],
            b"261304210000Z",
            b"260230210000Z",
            b"261204246000Z",
            b"261204210060Z",
            b"26120421000Z",
            b"261204210000",
            b"261204210000.5Z",
        ] {
            assert!(utc_time(bad).is_none(), "{}", String::from_utf8_lossy(bad));
        }
    }

    #[test]
    fn generalized_times_as_cryptobyte_reads_them() {
        assert_eq!(
            generalized_time(b"20261204210000Z").unwrap().unix,
            1_796_418_000
        );
        assert_eq!(
            generalized_time(b"20510101000000Z").unwrap().unix,
            2_556_144_000
        );
        assert!(generalized_time(b"20261204210000.5Z").is_none());
        assert!(generalized_time(b"202612042100Z").is_none());
        assert!(generalized_time(b"20240229000000Z").is_some());
        assert!(generalized_time(b"20230229000000Z").is_none());
    }
}
