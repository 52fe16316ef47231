//! `date`, `time`, `timetz`, `timestamp`, `timestamptz`.
#![forbid(unsafe_code)]

use super::{date_error, eat, read_digits, time_error, ParseError};

// ------------------------------------------------------------------------------------------
// date / time / timestamp
// ------------------------------------------------------------------------------------------

/// A calendar date as the server printed it (not validated: Python's `date()` validates).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Date {
    /// The year; negated for BC dates like psycopg2 does (`0044-03-15 BC` → -44), so
    /// Python raises the same "year -44 is out of range". May exceed 9999.
    pub year: i32,
    /// Month, 1..=12.
    pub month: u8,
    /// Day of month, 1..=31.
    pub day: u8,
}

/// A `date` value: a date or one of PostgreSQL's infinities.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DateValue {
    /// An ordinary date.
    Date(Date),
    /// `infinity`: psycopg2 returns `date.max`.
    Infinity,
    /// `-infinity`: psycopg2 returns `date.min`.
    NegInfinity,
}

/// A time of day, with the UTC offset for `timetz`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Time {
    /// Hour, 0..=23 (`24:00:00` is read as `00:00:00`, like psycopg2).
    pub hour: u8,
    /// Minute, 0..=59.
    pub minute: u8,
    /// Second, 0..=59.
    pub second: u8,
    /// Microsecond, 0..=999999.
    pub micro: u32,
    /// Offset east of UTC in seconds (`+05:30` → 19800) if the text had one (`timetz`);
    /// always `None` inside a [`Timestamp`] (see [`Timestamp::offset_secs`]).
    pub offset_secs: Option<i32>,
}

/// A `timestamp` / `timestamptz` value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Timestamp {
    /// The date part (BC years negated, see [`Date::year`]).
    pub date: Date,
    /// The time part (its `offset_secs` is `None`).
    pub time: Time,
    /// Offset east of UTC in seconds (`timestamptz`; seconds precision for old dates, e.g.
    /// `+00:19:32`), `None` for `timestamp`.
    pub offset_secs: Option<i32>,
}

/// A `timestamp` / `timestamptz` value or one of PostgreSQL's infinities.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TimestampValue {
    /// An ordinary timestamp.
    Timestamp(Timestamp),
    /// `infinity`: psycopg2 returns `datetime.max` (with `tzinfo=timezone.utc` for timestamptz).
    Infinity,
    /// `-infinity`: psycopg2 returns `datetime.min` (with `tzinfo=timezone.utc` for timestamptz).
    NegInfinity,
}

/// Splits a trailing `" BC"`.
#[inline(always)]
pub(super) fn strip_bc(s: &[u8]) -> (&[u8], bool) {
    match s {
        [rest @ .., b' ', b'B', b'C'] => (rest, true),
        _ => (s, false),
    }
}

/// `Y+-MM-DD` at `s[*i..]`.
#[inline(always)]
pub(super) fn date_at(s: &[u8], i: &mut usize) -> Option<Date> {
    let year = read_digits(s, i, 1, 9)?;
    if !eat(s, i, b'-') {
        return None;
    }
    let month = read_digits(s, i, 1, 2)?;
    if !eat(s, i, b'-') {
        return None;
    }
    let day = read_digits(s, i, 1, 2)?;
    Some(Date {
        year: year as i32,
        month: month as u8,
        day: day as u8,
    })
}

/// `HH:MM:SS[.ffffff][(+|-)HH[:MM[:SS]]]` at `s[*i..]`, normalised like psycopg2.
#[inline(always)]
pub(super) fn time_at(s: &[u8], i: &mut usize) -> Option<Time> {
    let mut hour = read_digits(s, i, 1, 2)?;
    if !eat(s, i, b':') {
        return None;
    }
    let mut minute = read_digits(s, i, 1, 2)?;
    if !eat(s, i, b':') {
        return None;
    }
    let mut second = read_digits(s, i, 1, 2)?;
    let mut micro = 0;
    if eat(s, i, b'.') {
        let start = *i;
        micro = read_digits(s, i, 1, 6)?;
        for _ in (*i - start)..6 {
            micro *= 10;
        }
    }
    let mut offset_secs = None;
    if let Some(&c @ (b'+' | b'-')) = s.get(*i) {
        *i += 1;
        let h = read_digits(s, i, 1, 2)? as i32;
        let mut m = 0;
        let mut sec = 0;
        if eat(s, i, b':') {
            m = read_digits(s, i, 1, 2)? as i32;
            if eat(s, i, b':') {
                sec = read_digits(s, i, 1, 2)? as i32;
            }
        }
        let off = h * 3600 + m * 60 + sec;
        offset_secs = Some(if c == b'-' { -off } else { off });
    }
    // psycopg2: "24:00:00 -> 00:00:00 (ticket #278)" and a leap second carries.
    if hour == 24 {
        hour = 0;
    }
    if second > 59 {
        minute += 1;
        second -= 60;
    }
    Some(Time {
        hour: hour as u8,
        minute: minute as u8,
        second: second as u8,
        micro,
        offset_secs,
    })
}

/// Parses a `date`: `2024-01-02`, `0044-03-15 BC`, `10000-01-01`, `infinity`, `-infinity`.
/// Malformed: DataError "unable to parse date" (psycopg2's message).
#[inline]
pub fn parse_date(s: &[u8]) -> Result<DateValue, ParseError> {
    match s {
        b"infinity" => return Ok(DateValue::Infinity),
        b"-infinity" => return Ok(DateValue::NegInfinity),
        _ => {}
    }
    let (body, bc) = strip_bc(s);
    let mut i = 0;
    match date_at(body, &mut i) {
        Some(mut d) if i == body.len() => {
            if bc {
                d.year = -d.year;
            }
            Ok(DateValue::Date(d))
        }
        _ => Err(date_error()),
    }
}

/// Parses a `time` or `timetz`: `10:00:00`, `10:00:00.123456`, `10:00:00+05:30`,
/// `10:00:00.000001-03:30:15`, `24:00:00` (→ 00:00:00 like psycopg2). Seconds are required
/// (psycopg2 too). Malformed: DataError "unable to parse time".
#[inline]
pub fn parse_time(s: &[u8]) -> Result<Time, ParseError> {
    let mut i = 0;
    match time_at(s, &mut i) {
        Some(t) if i == s.len() => Ok(t),
        _ => Err(time_error()),
    }
}

/// Parses a `timestamp` or `timestamptz`: `2024-01-02 03:04:05.678+01`, `...+05:30`,
/// `1900-01-01 12:00:00+00:19:32`, `0044-03-15 12:00:00 BC`, `294276-12-31 23:59:59.999999`,
/// `infinity`, `-infinity`. Like psycopg2 a `T` separator and a missing time part (→
/// midnight) are accepted. Malformed: DataError "unable to parse date" / "unable to parse time".
#[inline]
pub fn parse_timestamp(s: &[u8]) -> Result<TimestampValue, ParseError> {
    match s {
        b"infinity" => return Ok(TimestampValue::Infinity),
        b"-infinity" => return Ok(TimestampValue::NegInfinity),
        _ => {}
    }
    let (body, bc) = strip_bc(s);
    let mut i = 0;
    let mut date = date_at(body, &mut i).ok_or_else(date_error)?;
    if bc {
        date.year = -date.year;
    }
    let mut time = Time {
        hour: 0,
        minute: 0,
        second: 0,
        micro: 0,
        offset_secs: None,
    };
    if i < body.len() {
        if !matches!(body[i], b' ' | b'T') {
            return Err(date_error());
        }
        i += 1;
        time = match time_at(body, &mut i) {
            Some(t) if i == body.len() => t,
            _ => return Err(time_error()),
        };
    }
    let offset_secs = time.offset_secs.take();
    Ok(TimestampValue::Timestamp(Timestamp {
        date,
        time,
        offset_secs,
    }))
}
