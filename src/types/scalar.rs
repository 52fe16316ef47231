//! `bool`, integers and floats.
#![forbid(unsafe_code)]

use super::{error, shown, ParseError, ParseErrorKind};

// ------------------------------------------------------------------------------------------
// bool, integers, floats
// ------------------------------------------------------------------------------------------

/// Parses a `bool` (`t` / `f`). Like psycopg2 only the first byte counts (`t`/`T` → true,
/// `f`/`F` → false); anything else is an InterfaceError "can't parse boolean: '...'".
#[inline]
pub fn parse_bool(s: &[u8]) -> Result<bool, ParseError> {
    match s.first() {
        Some(b't' | b'T') => Ok(true),
        Some(b'f' | b'F') => Ok(false),
        _ => Err(error(
            ParseErrorKind::InterfaceError,
            format!("can't parse boolean: '{}'", shown(s)),
        )),
    }
}

#[cold]
#[inline(never)]
pub(super) fn int_error(s: &[u8]) -> ParseError {
    error(
        ParseErrorKind::ValueError,
        format!("invalid literal for int() with base 0: '{}'", shown(s)),
    )
}

/// Parses an integer (`int2`, `int4`, `int8`, `oid`): optional sign, decimal digits.
///
/// Every value of these types fits an `i64`. A well-formed integer beyond `i64` returns
/// [`ParseErrorKind::OutOfRange`] (see [`ParseError::is_out_of_range`]): build a Python `int`
/// from the text then, as psycopg2 (`PyLong_FromString`) would. Anything else is a
/// `ValueError` like Python's `int()`.
#[inline]
pub fn parse_i64(s: &[u8]) -> Result<i64, ParseError> {
    let (neg, digits) = match s {
        [b'-', rest @ ..] => (true, rest),
        [b'+', rest @ ..] => (false, rest),
        _ => (false, s),
    };
    if digits.is_empty() {
        return Err(int_error(s));
    }
    if digits.len() > 19 {
        return big_int(s, digits);
    }
    // 19 digits never overflow a u64.
    let mut acc: u64 = 0;
    for &c in digits {
        let d = c.wrapping_sub(b'0');
        if d > 9 {
            return Err(int_error(s));
        }
        acc = acc * 10 + d as u64;
    }
    if neg {
        if acc <= i64::MAX as u64 + 1 {
            Ok((acc as i64).wrapping_neg())
        } else {
            big_int(s, digits)
        }
    } else if acc <= i64::MAX as u64 {
        Ok(acc as i64)
    } else {
        big_int(s, digits)
    }
}

/// More than 19 digits, or 19 digits beyond `i64`: leading zeros, out of range or invalid.
#[cold]
#[inline(never)]
pub(super) fn big_int(s: &[u8], digits: &[u8]) -> Result<i64, ParseError> {
    if !digits.iter().all(u8::is_ascii_digit) {
        return Err(int_error(s));
    }
    let zeros = digits.iter().take_while(|&&c| c == b'0').count();
    if zeros > 0 {
        // Leading zeros (never sent by the server): parse the significant digits.
        let short = &digits[zeros.min(digits.len() - 1)..];
        if short.len() <= 19 {
            let acc = short.iter().fold(0u64, |a, &c| a * 10 + (c - b'0') as u64);
            if s[0] == b'-' && acc <= i64::MAX as u64 + 1 {
                return Ok((acc as i64).wrapping_neg());
            }
            if s[0] != b'-' && acc <= i64::MAX as u64 {
                return Ok(acc as i64);
            }
        }
    }
    Err(error(
        ParseErrorKind::OutOfRange,
        format!("integer out of i64 range: '{}'", shown(s)),
    ))
}

/// Parses a `float4`/`float8` like Python's `float()`: decimal and exponent forms plus the
/// server's `NaN`, `Infinity` and `-Infinity`. Not a number: `ValueError`.
#[inline]
pub fn parse_f64(s: &[u8]) -> Result<f64, ParseError> {
    match s {
        b"NaN" => return Ok(f64::NAN),
        b"Infinity" => return Ok(f64::INFINITY),
        b"-Infinity" => return Ok(f64::NEG_INFINITY),
        _ => {}
    }
    match std::str::from_utf8(s)
        .ok()
        .and_then(|t| t.parse::<f64>().ok())
    {
        Some(v) => Ok(v),
        None => Err(error(
            ParseErrorKind::ValueError,
            format!("could not convert string to float: '{}'", shown(s)),
        )),
    }
}
