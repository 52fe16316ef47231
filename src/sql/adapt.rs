//! Adaptation: each [`Value`] as the SQL literal psycopg2's default adapters write,
//! quoted for the server's setting ([`Quoting`]), nesting bounded and walked without
//! recursion; Python's float `repr()`.
#![forbid(unsafe_code)]

use std::fmt::Write;

use super::{err, Quoting, Value, NUL_IN_LITERAL, NUL_IN_QUERY};
use crate::error::{Error, ParamErrorKind, Result};

// ---------------------------------------------------------------------------------------
// Adaptation
// ---------------------------------------------------------------------------------------

/// Appends `v` rendered as SQL for `q` (psycopg2's `adapt(v).getquoted()`, `None` as
/// `NULL`). On error `out` is left as it was.
pub fn quote_literal(v: &Value, q: Quoting, out: &mut String) -> Result<()> {
    let start = out.len();
    let r = render(v, q, out);
    if r.is_err() {
        out.truncate(start);
    }
    r
}

/// Appends `s` as a string literal for `q`: `'it''s'`, or `E'a\\b'` (see [`Quoting`]).
/// NUL is an error.
pub fn quote_string(s: &str, q: Quoting, out: &mut String) -> Result<()> {
    if s.as_bytes().contains(&0) {
        return Err(err(ParamErrorKind::Value, NUL_IN_LITERAL));
    }
    let escape = match q {
        Quoting::Standard => false,
        Quoting::Escape => true,
        Quoting::Portable => s.contains('\\'),
    };
    out.reserve(s.len() + 3);
    if escape {
        out.push('E');
    }
    out.push('\'');
    let mut rest = s;
    while let Some(k) = rest.find(|c| c == '\'' || (escape && c == '\\')) {
        out.push_str(&rest[..=k]);
        out.push(if rest.as_bytes()[k] == b'\'' {
            '\''
        } else {
            '\\'
        });
        rest = &rest[k + 1..];
    }
    out.push_str(rest);
    out.push('\'');
    Ok(())
}

pub(super) fn render(v: &Value, q: Quoting, out: &mut String) -> Result<()> {
    match v {
        Value::Null => out.push_str("NULL"),
        Value::Bool(true) => out.push_str("true"),
        Value::Bool(false) => out.push_str("false"),
        Value::Int(i) => {
            if *i < 0 {
                out.push(' ');
            }
            let _ = write!(out, "{i}");
        }
        Value::BigInt(s) => {
            let digits = s.strip_prefix('-').unwrap_or(s);
            if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
                return Err(err(
                    ParamErrorKind::Value,
                    format_args!("invalid integer: {s:?}"),
                ));
            }
            if s.starts_with('-') {
                out.push(' ');
            }
            out.push_str(s);
        }
        Value::Float(f) => push_float(*f, out),
        Value::Decimal(s) => match classify_decimal(s) {
            Some(true) => {
                if s.starts_with('-') {
                    out.push(' ');
                }
                out.push_str(s);
            }
            Some(false) => out.push_str("'NaN'::numeric"),
            None => {
                return Err(err(
                    ParamErrorKind::Value,
                    format_args!("invalid Decimal: {s:?}"),
                ))
            }
        },
        Value::Str(s) => quote_string(s, q, out)?,
        Value::Bytes(b) => {
            const HEX: &[u8; 16] = b"0123456789abcdef";
            out.reserve(b.len() * 2 + 14);
            out.push_str(match q {
                Quoting::Standard => "'\\x",
                Quoting::Escape | Quoting::Portable => "E'\\\\x",
            });
            for &byte in b {
                out.push(HEX[(byte >> 4) as usize] as char);
                out.push(HEX[(byte & 15) as usize] as char);
            }
            out.push_str("'::bytea");
        }
        Value::Typed { text, cast } => {
            if let Some(cast) = cast {
                if !valid_cast(cast) {
                    return Err(err(
                        ParamErrorKind::Value,
                        format_args!("invalid cast: {cast:?}"),
                    ));
                }
            }
            // psycopg2 writes dates, uuids and intervals as `'...'::type` under either
            // setting (they have no backslash); other text as it writes strings
            let tq = if q == Quoting::Escape && !text.contains('\\') {
                Quoting::Standard
            } else {
                q
            };
            quote_string(text, tq, out)?;
            if let Some(cast) = cast {
                out.push_str("::");
                out.push_str(cast);
            }
        }
        Value::Raw(s) => {
            if s.as_bytes().contains(&0) {
                return Err(err(ParamErrorKind::Value, NUL_IN_QUERY));
            }
            out.push_str(s);
        }
        Value::Tuple(_) | Value::Array(_) => render_nested(v, q, out)?,
    }
    Ok(())
}

/// How deeply tuples and lists may nest in a parameter (psycopg2 raises `RecursionError`
/// at about Python's recursion limit, 1,000): deeper is a `RecursionError: ` error. The
/// rendering below keeps its own stack on the heap, so the thread's stack size (256 KB
/// threads included) does not matter.
pub const MAX_NESTING: usize = 1000;

/// The error for a parameter nested deeper than [`MAX_NESTING`].
pub fn nesting_error() -> Error {
    err(
        ParamErrorKind::Recursion,
        format_args!(
            "maximum recursion depth exceeded while adapting a parameter (lists and tuples \
             nested more than {MAX_NESTING} levels)"
        ),
    )
}

/// A tuple or list being rendered by [`render_nested`].
pub(super) enum Open<'a> {
    /// `(a, b)`: the text so far (without the parentheses) and how many items it has.
    Tuple(std::slice::Iter<'a, Value>, String, usize),
    /// psycopg2's `list_quote`: each item's text, and whether all were NULL so far.
    Array(std::slice::Iter<'a, Value>, Vec<String>, bool),
}

/// Renders a tuple or list without recursion (an explicit stack of open containers), so
/// no nesting depth can overflow the thread's stack; deeper than [`MAX_NESTING`] is an
/// error.
pub(super) fn render_nested(v: &Value, q: Quoting, out: &mut String) -> Result<()> {
    fn open(v: &Value) -> Option<Open<'_>> {
        match v {
            Value::Tuple(items) => Some(Open::Tuple(items.iter(), String::new(), 0)),
            Value::Array(items) => Some(Open::Array(
                items.iter(),
                Vec::with_capacity(items.len()),
                true,
            )),
            _ => None,
        }
    }
    let mut stack: Vec<Open<'_>> = Vec::new();
    stack.extend(open(v));
    // The finished text of the innermost container, and whether it was a list.
    let mut done: Option<(String, bool)> = None;
    while let Some(top) = stack.last_mut() {
        if let Some((text, was_array)) = done.take() {
            match top {
                Open::Tuple(_, buf, n) => {
                    if *n > 0 {
                        buf.push_str(", ");
                    }
                    buf.push_str(&text);
                    *n += 1;
                }
                Open::Array(_, parts, all_nulls) => {
                    let mut text = text;
                    if !was_array || text.starts_with('A') {
                        *all_nulls = false;
                    } else if text == "'{}'" {
                        // issue #788: '{{}}' is not supported but array[array[]] is
                        *all_nulls = false;
                        text = "ARRAY[]".to_owned();
                    }
                    parts.push(text);
                }
            }
            continue;
        }
        let next = match top {
            Open::Tuple(items, ..) | Open::Array(items, ..) => items.next(),
        };
        match next {
            Some(item @ (Value::Tuple(_) | Value::Array(_))) => {
                if stack.len() >= MAX_NESTING {
                    return Err(nesting_error());
                }
                stack.extend(open(item));
            }
            Some(item) => match top {
                Open::Tuple(_, buf, n) => {
                    if *n > 0 {
                        buf.push_str(", ");
                    }
                    render(item, q, buf)?;
                    *n += 1;
                }
                Open::Array(_, parts, all_nulls) => {
                    let mut s = String::new();
                    if let Value::Null = item {
                        s.push_str("NULL");
                    } else {
                        render(item, q, &mut s)?;
                        *all_nulls = false;
                    }
                    parts.push(s);
                }
            },
            None => {
                done = Some(match stack.pop() {
                    Some(Open::Tuple(_, buf, _)) => (format!("({buf})"), false),
                    Some(Open::Array(_, parts, all_nulls)) => {
                        let mut s = String::new();
                        finish_array(&parts, all_nulls, &mut s);
                        (s, true)
                    }
                    None => break,
                });
            }
        }
    }
    if let Some((text, _)) = done {
        out.push_str(&text);
    }
    Ok(())
}

/// The end of psycopg2's `list_quote` (`psycopg/adapter_list.c`): the items' texts as
/// `ARRAY[...]`, or `'{...}'` when all were NULL (or arrays of NULLs), `'{}'` for none.
pub(super) fn finish_array(parts: &[String], all_nulls: bool, out: &mut String) {
    if parts.is_empty() {
        out.push_str("'{}'");
        return;
    }
    if !all_nulls {
        out.push_str("ARRAY[");
        for (k, s) in parts.iter().enumerate() {
            if k > 0 {
                out.push(',');
            }
            out.push_str(s);
        }
        out.push(']');
    } else {
        // only NULLs and arrays of NULLs ('{NULL,...}'): the '{...}' syntax, inner quotes
        // stripped
        out.push_str("'{");
        for (k, s) in parts.iter().enumerate() {
            if k > 0 {
                out.push(',');
            }
            match s.strip_prefix('\'') {
                Some(inner) => out.push_str(inner.strip_suffix('\'').unwrap_or(inner)),
                None => out.push_str(s),
            }
        }
        out.push_str("}'");
    }
}

/// `Some(true)`: a finite decimal literal; `Some(false)`: a spelling of NaN / sNaN /
/// infinity (as Python's `Decimal` accepts them); `None`: neither.
pub(super) fn classify_decimal(s: &str) -> Option<bool> {
    let body = s.strip_prefix(['-', '+']).unwrap_or(s);
    let lower = body.to_ascii_lowercase();
    if lower == "inf" || lower == "infinity" {
        return Some(false);
    }
    if let Some(payload) = lower
        .strip_prefix("nan")
        .or_else(|| lower.strip_prefix("snan"))
    {
        return payload.bytes().all(|b| b.is_ascii_digit()).then_some(false);
    }
    // digits [. digits] | . digits, then [eE [+-] digits]
    let b = body.as_bytes();
    let mut i = 0;
    let int_digits = b.iter().take_while(|c| c.is_ascii_digit()).count();
    i += int_digits;
    let mut frac_digits = 0;
    if b.get(i) == Some(&b'.') {
        i += 1;
        frac_digits = b[i..].iter().take_while(|c| c.is_ascii_digit()).count();
        i += frac_digits;
    }
    if int_digits + frac_digits == 0 {
        return None;
    }
    if matches!(b.get(i), Some(b'e' | b'E')) {
        i += 1;
        if matches!(b.get(i), Some(b'+' | b'-')) {
            i += 1;
        }
        let exp_digits = b[i..].iter().take_while(|c| c.is_ascii_digit()).count();
        if exp_digits == 0 {
            return None;
        }
        i += exp_digits;
    }
    (i == b.len()).then_some(true)
}

/// A type name for `::cast`: identifiers (any non-ASCII letters too), `"quoted"`
/// identifiers, digits, spaces, dots, commas and balanced `()` / `[]`.
pub(super) fn valid_cast(cast: &str) -> bool {
    let mut stack: Vec<char> = Vec::new();
    let mut chars = cast.chars();
    let mut any = false;
    while let Some(c) = chars.next() {
        match c {
            '"' => loop {
                match chars.next() {
                    Some('"') => break,
                    Some('\0') | None => return false,
                    Some(_) => {}
                }
            },
            '(' | '[' => stack.push(c),
            ')' => {
                if stack.pop() != Some('(') {
                    return false;
                }
            }
            ']' => {
                if stack.pop() != Some('[') {
                    return false;
                }
            }
            ' ' | '.' | ',' | '_' => {}
            c if c.is_ascii_alphanumeric() => {}
            c if !c.is_ascii() && c.is_alphanumeric() => {}
            _ => return false,
        }
        any |= c != ' ';
    }
    any && stack.is_empty()
}

pub(super) fn push_float(f: f64, out: &mut String) {
    if f.is_nan() {
        out.push_str("'NaN'::float");
    } else if f.is_infinite() {
        out.push_str(if f > 0.0 {
            "'Infinity'::float"
        } else {
            "'-Infinity'::float"
        });
    } else {
        if f.is_sign_negative() {
            out.push(' ');
        }
        python_float_repr(f, out);
    }
}

/// Appends Python's `repr(f)` of a finite float: the shortest digits that round-trip
/// (the closest such, ties to even), positional when the decimal exponent is in
/// `-4 <= exp < 16` (with `.0` when integral), else `d.ddde+XX` with at least two exponent
/// digits.
pub fn python_float_repr(f: f64, out: &mut String) {
    let (digits, decpt) = shortest_digits(f.abs());
    let ndigits = digits.len() as i32;
    if f.is_sign_negative() {
        out.push('-');
    }
    // value = 0.DIGITS * 10^decpt
    if decpt <= -4 || decpt > 16 {
        out.push_str(&digits[..1]);
        if ndigits > 1 {
            out.push('.');
            out.push_str(&digits[1..]);
        }
        let e = decpt - 1;
        let _ = write!(
            out,
            "e{}{:02}",
            if e < 0 { '-' } else { '+' },
            e.unsigned_abs()
        );
    } else if decpt <= 0 {
        out.push_str("0.");
        for _ in 0..-decpt {
            out.push('0');
        }
        out.push_str(&digits);
    } else if decpt >= ndigits {
        out.push_str(&digits);
        for _ in 0..decpt - ndigits {
            out.push('0');
        }
        out.push_str(".0");
    } else {
        out.push_str(&digits[..decpt as usize]);
        out.push('.');
        out.push_str(&digits[decpt as usize..]);
    }
}

/// Splits Rust's `{:e}` text ("1.2345e-7") into its digits and exponent.
pub(super) fn split_exp(s: &str) -> (String, i32) {
    let (mantissa, exp) = s.split_once('e').unwrap_or((s, "0"));
    (
        mantissa.chars().filter(|c| *c != '.').collect(),
        exp.parse().unwrap_or(0),
    )
}

/// The shortest round-trip digits of `x >= 0` and the decimal point position
/// (`x = 0.DIGITS * 10^decpt`), chosen as CPython's `repr` (David Gay's `dtoa` mode 0)
/// chooses them. Rust's shortest formatting gives the same digits except when two
/// candidates of that length are exactly equally close to `x`: Rust rounds the tie up,
/// `dtoa` to even.
pub(super) fn shortest_digits(x: f64) -> (String, i32) {
    let (digits, exp) = split_exp(&format!("{x:e}"));
    let n = digits.len();
    if n < 15 {
        // a tie needs the exact value to have n + 1 significant digits while n digits
        // already identify it: only near the 17 digits of precision
        return (digits, exp + 1);
    }
    let (wide, wide_exp) = split_exp(&format!("{x:.39e}"));
    let wb = wide.as_bytes();
    if wide_exp != exp || wb[n] != b'5' || !wb[n + 1..].iter().all(|&c| c == b'0') {
        return (digits, exp + 1);
    }
    // confirm the tie on the exact expansion (a double has at most 767 significant digits)
    let (exact, _) = split_exp(&format!("{x:.799e}"));
    if !exact.as_bytes()[n + 1..].iter().all(|&c| c == b'0') {
        return (digits, exp + 1);
    }
    let mut even = wide.as_bytes()[..n].to_vec();
    if (even[n - 1] - b'0') % 2 == 1 {
        // round up to the even neighbour
        let mut k = n;
        loop {
            if k == 0 {
                return (digits, exp + 1); // 99..9 + 1 changes the exponent: keep Rust's
            }
            k -= 1;
            if even[k] == b'9' {
                even[k] = b'0';
            } else {
                even[k] += 1;
                break;
            }
        }
    }
    let even = String::from_utf8(even).unwrap_or_default();
    let candidate = format!("{}.{}e{}", &even[..1], &even[1..], exp);
    if candidate.parse::<f64>() == Ok(x) {
        (even, exp + 1)
    } else {
        (digits, exp + 1)
    }
}
