//! `interval` (as `timedelta` parts).
#![forbid(unsafe_code)]

use super::{eat, error, interval_error, read_digits, shown, ParseError, ParseErrorKind};

// ------------------------------------------------------------------------------------------
// interval
// ------------------------------------------------------------------------------------------

/// An `interval` exactly as PostgreSQL stores it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Interval {
    /// Months (years × 12 + months).
    pub months: i32,
    /// Days.
    pub days: i32,
    /// Microseconds of the time part.
    pub micros: i64,
}

/// Microseconds per day.
pub(super) const DAY_US: i64 = 86_400_000_000;

/// The largest `|days|` a Python `timedelta` holds (`timedelta.max.days`).
pub const TIMEDELTA_MAX_DAYS: i64 = 999_999_999;

impl Interval {
    /// The arguments psycopg2 passes to `timedelta(days, seconds, microseconds)`, normalised
    /// the way `timedelta` normalises them: `(days, seconds in 0..86400, micros in 0..1e6)`.
    ///
    /// psycopg2 counts a year as 365 days and a month as 30 days: the server prints
    /// `months` as `months / 12` years and `months % 12` mons (truncating), so
    /// `days = 365 * (months / 12) + 30 * (months % 12) + days`, plus the time part. E.g.
    /// `1 year 2 mons 3 days 04:05:06.789` → `(428, 14706, 789000)` and `-1 days +02:03:00`
    /// → `(-1, 7380, 0)`. If `|days| > `[`TIMEDELTA_MAX_DAYS`] Python raises OverflowError
    /// (as with psycopg2, e.g. for `-178956970 years`).
    pub fn to_timedelta_parts(&self) -> (i64, i32, i32) {
        let years = (self.months / 12) as i64;
        let months = (self.months % 12) as i64;
        let days = 365 * years + 30 * months + self.days as i64 + self.micros.div_euclid(DAY_US);
        let rem = self.micros.rem_euclid(DAY_US);
        (days, (rem / 1_000_000) as i32, (rem % 1_000_000) as i32)
    }
}

/// Parses an `interval` printed with `IntervalStyle = postgres` (the default):
/// `1 year 2 mons 3 days 04:05:06.789`, `-1 days +02:03:00`, `3 days`, `00:00:00`,
/// `-00:00:01`, `1 mon`, `-178956970 years -8 mons`, `2562047788:00:54.775807`.
///
/// Like psycopg2: `P...` (iso_8601 style) is a NotSupportedError; a bare integer is taken as
/// microseconds (Redshift, psycopg2 bug #558); more than 6 fractional digits are rounded.
/// A value too big for PostgreSQL's own fields is `OutOfRange` (psycopg2: OverflowError);
/// anything else malformed (including the other interval styles) is a DataError.
pub fn parse_interval(s: &[u8]) -> Result<Interval, ParseError> {
    if s.first() == Some(&b'P') {
        return Err(error(
            ParseErrorKind::NotSupportedError,
            "iso_8601 intervalstyle currently not supported".into(),
        ));
    }
    let n = s.len();
    // i128: a field has at most 18 digits, so no sum of them can overflow.
    let mut months: i128 = 0;
    let mut days: i128 = 0;
    let mut micros: i64 = 0;
    let mut i = 0;
    let mut first = true;
    while i < n || first {
        if !first && !eat(s, &mut i, b' ') {
            return Err(interval_error(s));
        }
        let neg = match s.get(i) {
            Some(b'-') => {
                i += 1;
                true
            }
            Some(b'+') => {
                i += 1;
                false
            }
            _ => false,
        };
        // The number: at most 18 significant digits, which cannot overflow an i64.
        let start = i;
        let mut v: i64 = 0;
        while let Some(&c) = s.get(i) {
            let d = c.wrapping_sub(b'0');
            if d > 9 {
                break;
            }
            if v >= 100_000_000_000_000_000 {
                return Err(interval_overflow(s));
            }
            v = v * 10 + d as i64;
            i += 1;
        }
        if i == start {
            return Err(interval_error(s));
        }
        if i == n && first {
            // A bare integer: microseconds (psycopg2's Redshift fallback).
            return Ok(Interval {
                months: 0,
                days: 0,
                micros: if neg { -v } else { v },
            });
        }
        first = false;
        if eat(s, &mut i, b':') {
            micros = time_part_micros(s, &mut i, v, neg)?;
            if i != n {
                return Err(interval_error(s));
            }
            break;
        }
        if !eat(s, &mut i, b' ') {
            return Err(interval_error(s));
        }
        let w = i;
        while i < n && s[i].is_ascii_lowercase() {
            i += 1;
        }
        let v = if neg { -v } else { v } as i128;
        match &s[w..i] {
            b"year" | b"years" => months += v * 12,
            b"mon" | b"mons" => months += v,
            b"day" | b"days" => days += v,
            _ => return Err(interval_error(s)),
        }
    }
    match (i32::try_from(months), i32::try_from(days)) {
        (Ok(months), Ok(days)) => Ok(Interval {
            months,
            days,
            micros,
        }),
        _ => Err(interval_overflow(s)),
    }
}

/// The rest of `H:MM:SS[.ffffff]` after `H:`, as signed microseconds.
#[inline(always)]
pub(super) fn time_part_micros(
    s: &[u8],
    i: &mut usize,
    hours: i64,
    neg: bool,
) -> Result<i64, ParseError> {
    let minutes = read_digits(s, i, 1, 2).ok_or_else(|| interval_error(s))?;
    if !eat(s, i, b':') {
        return Err(interval_error(s));
    }
    let seconds = read_digits(s, i, 1, 2).ok_or_else(|| interval_error(s))?;
    let mut frac: i64 = 0;
    if eat(s, i, b'.') {
        let start = *i;
        let mut k = 0;
        while let Some(&c) = s.get(*i) {
            let d = c.wrapping_sub(b'0');
            if d > 9 {
                break;
            }
            if k < 6 {
                frac = frac * 10 + d as i64;
            } else if k == 6 && d >= 5 {
                frac += 1; // round half up on the 7th digit, ignore the rest
            }
            k += 1;
            *i += 1;
        }
        if *i == start {
            return Err(interval_error(s));
        }
        for _ in k.min(6)..6 {
            frac *= 10;
        }
    }
    let mag = hours as i128 * 3_600_000_000
        + minutes as i128 * 60_000_000
        + seconds as i128 * 1_000_000
        + frac as i128;
    i64::try_from(if neg { -mag } else { mag }).map_err(|_| interval_overflow(s))
}

#[cold]
#[inline(never)]
pub(super) fn interval_overflow(s: &[u8]) -> ParseError {
    error(
        ParseErrorKind::OutOfRange,
        format!("interval component too big: '{}'", shown(s)),
    )
}
