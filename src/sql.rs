//! psycopg2's client-side `pyformat` parameter interpolation over a neutral [`Value`]
//! type, plus the cheap lexical scans the connection layer needs
//! ([`has_multiple_statements`], [`changes_session_state`]).
//!
//! # Interpolation: psycopg2, step by step
//! [`interpolate`] reproduces `cursor.execute(query, vars)` / `cursor.mogrify` of psycopg2
//! 2.9 (`psycopg/cursor_type.c`: `_mogrify` then `_psyco_curs_merge_query_args`, which
//! calls `Bytes_Format` of `psycopg/bytes_format.c`), in the same two passes, so that the
//! same inputs give the same statement or the same exception:
//!
//! 1. `vars is None` ([`None`] here): the query goes out untouched, `%` included.
//! 2. The **mogrify pass** walks the query: `%%` is skipped (and remembered); `%(` takes the
//!    key up to the first `)` (a `%` or the end first is `ProgrammingError: incomplete
//!    placeholder: '%(' without ')'`), looks it up in the mapping and adapts the value once
//!    per key; `%` followed by anything else (including the end of the query, `%d`, `% `)
//!    takes the next value of the sequence and adapts it, *without* consuming the
//!    conversion character. Named and positional placeholders in one query are
//!    `ProgrammingError: argument formats can't be mixed`. Values are adapted in the order
//!    the placeholders appear; values no placeholder uses are never adapted (so a NUL in
//!    an unused string is no error, as in psycopg2).
//! 3. If the mogrify pass found no placeholder and no `%%`, the query goes out untouched,
//!    whatever the parameters (psycopg2: `execute("select 1", (1, 2))` is fine).
//! 4. The **format pass** is Python 2's `bytes % args` restricted to `%s` and `%%`: `%%`
//!    becomes `%`, `%s` / `%(key)s` the adapted value; any other conversion character is
//!    `ValueError: unsupported format character 'd' (0x64) at index 8` (byte index in the
//!    UTF-8 query), a `%` at the very end `ValueError: incomplete format`; leftover
//!    positional values `TypeError: not all arguments converted during string formatting`.
//!
//! # Error messages: the Python exception as a prefix
//! Every error is [`Error::InvalidParameter`] whose message is `"<Class>: <argument>"`, where
//! `<Class>` is the exception psycopg2 raises and `<argument>` is exactly that exception's
//! single argument (`str(exc)`; for `KeyError`, the missing key itself, unquoted, so the face
//! raises `KeyError(argument)` and Python prints `KeyError: 'name'`). The classes used:
//!
//! | prefix | when (psycopg2's message after the prefix) |
//! |---|---|
//! | `ProgrammingError: ` | `argument formats can't be mixed`; `incomplete placeholder: '%(' without ')'`; `can't execute an empty query` (empty query string) |
//! | `KeyError: ` | `%(name)s` with no `name` in the mapping |
//! | `IndexError: ` | more `%s` than values: `tuple index out of range` |
//! | `TypeError: ` | fewer `%s` than values: `not all arguments converted during string formatting`; `%s` with a mapping: `dict is not a sequence`; `%(name)s` with a sequence: `tuple indices must be integers or slices, not str` |
//! | `ValueError: ` | `unsupported format character 'd' (0x64) at index 8`; `incomplete format`; `incomplete format key`; `A string literal cannot contain NUL (0x00) characters.`; and the pgpool-only checks below |
//! | `OverflowError: ` | a conversion character outside ASCII (`%é`): `character argument not in range(0x110000)`, psycopg2's accident on platforms with a signed `char` (x86-64), kept |
//!
//! [`python_exception`] splits a message back into class and argument. psycopg2 names the
//! Python type of the parameters in two messages (`list index out of range`, `list indices
//! must be integers or slices, not str` when a list was passed): the face, which knows the
//! type, substitutes its name for `tuple` / `dict` there.
//!
//! # Adaptation (psycopg2's default adapters, connection with `standard_conforming_strings=on`)
//! | [`Value`] | rendered as |
//! |---|---|
//! | `Null` | `NULL` |
//! | `Bool` | `true` / `false` |
//! | `Int`, `BigInt` | decimal text; a negative number gets a leading space (` -1`) so that `-%s` can never form a `--` comment (psycopg2 ticket #57) |
//! | `Float` | Python's `repr()` (`0.1`, `1.0`, `1e+16`, `1e-05`), leading space when negative; `'NaN'::float`, `'Infinity'::float`, `'-Infinity'::float` |
//! | `Decimal` | `str(Decimal)` as given, leading space when negative; every non-finite value (`NaN`, `sNaN`, `Infinity`, `-Infinity`) is `'NaN'::numeric`, exactly as psycopg2 does |
//! | `Str` | `'...'` with `'` doubled and backslashes left alone (never `E'...'`) |
//! | `Bytes` | `'\x6162'::bytea` (lowercase hex; empty: `'\x'::bytea`) |
//! | `Typed` | the quoted text, then `::cast` when there is a cast: `'2024-01-01'::date` |
//! | `Raw` | verbatim (psycopg2's `AsIs`) |
//! | `Tuple` | `(a, b, c)` (psycopg2's `SQL_IN`); empty: `()` (a server-side syntax error, as in psycopg2) |
//! | `Array` | `ARRAY[a,b]` (no space), nested `ARRAY[ARRAY[1],ARRAY[2]]`; empty `'{}'`; an empty array inside an array `ARRAY[]`; an array of only NULLs (or of arrays of only NULLs) `'{NULL,NULL}'`, `'{{NULL},{NULL}}'` |
//!
//! # Assumptions and deliberate differences from psycopg2
//! - The server runs with `standard_conforming_strings = on` (the default since
//!   PostgreSQL 9.1) and the client encoding is UTF-8. psycopg2 would emit `E'...'` with
//!   doubled backslashes (and `E'\\x..'::bytea`) when it is off; we never do. The
//!   connection layer must not let it be turned off.
//! - A NUL character in the query (or in a `Raw` value) is
//!   `ValueError: the query contains NUL (0x00) characters`; psycopg2 silently truncates
//!   the statement at the NUL (libpq takes C strings).
//! - `Named` parameters are a list of pairs; when a key appears twice the last one wins,
//!   as when building a `dict` from them.
//! - Values psycopg2 gets from Python objects are checked here because they arrive as
//!   text: `BigInt` must be `-?[0-9]+`, `Decimal` a decimal literal or a non-finite
//!   spelling, a `Typed` cast a type name (identifiers, `"quoted"` identifiers, spaces,
//!   dots, balanced `()`/`[]`, digits and commas); otherwise
//!   `ValueError: invalid <what>: <text>`. `Raw` is trusted: it bypasses the injection
//!   guarantee, as `AsIs` does.
//! - No value can change the statement's structure: every rendered value is one literal,
//!   one `ARRAY[...]` / `(...)` expression of such, or a number preceded by a space.
#![forbid(unsafe_code)]

use std::collections::HashMap;
use std::fmt::Write as _;

use crate::error::{Error, Result};

/// A parameter as a face hands it in, already adapted from its own objects.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    /// SQL NULL (Python `None`).
    Null,
    /// A boolean: `true` / `false`.
    Bool(bool),
    /// An integer that fits in 64 bits.
    Int(i64),
    /// An integer of any size, as decimal text (`-?[0-9]+`).
    BigInt(String),
    /// A double; NaN and infinities become `'NaN'::float` etc.
    Float(f64),
    /// A `decimal.Decimal` as its `str()`; non-finite values become `'NaN'::numeric`.
    Decimal(String),
    /// Text, rendered as a quoted literal; a NUL character is an error.
    Str(String),
    /// Binary data, rendered as `'\x...'::bytea`.
    Bytes(Vec<u8>),
    /// A quoted literal with an optional cast: dates, times, uuid, json, intervals
    /// (`'2024-01-01'::date`); without a cast it is rendered like [`Value::Str`].
    Typed {
        /// The literal's text (unquoted).
        text: String,
        /// The type to cast to, e.g. `date`, `timestamptz`, `numeric(10,2)`, `int[]`.
        cast: Option<String>,
    },
    /// Pre-rendered SQL inserted verbatim (psycopg2's `AsIs` and adapters returning SQL).
    /// Not escaped: whoever builds it answers for it.
    Raw(String),
    /// A Python tuple: `(a, b, c)`, for `IN %s`.
    Tuple(Vec<Value>),
    /// A Python list: `ARRAY[a,b]`, nested lists nest.
    Array(Vec<Value>),
}

/// The parameters of one statement: psycopg2's `vars` argument.
#[derive(Debug, Clone, Copy)]
pub enum Params<'a> {
    /// A sequence, for `%s` placeholders.
    Positional(&'a [Value]),
    /// A mapping, for `%(name)s` placeholders (the last pair wins for a repeated key).
    Named(&'a [(String, Value)]),
}

/// The Python exception classes used as message prefixes (see the module docs).
pub const EXCEPTION_CLASSES: [&str; 6] =
    ["ProgrammingError", "KeyError", "IndexError", "TypeError", "ValueError", "OverflowError"];

/// Splits an interpolation error message into the Python exception class psycopg2 would
/// raise and that exception's argument: `"KeyError: name"` gives `("KeyError", "name")`.
/// `None` when the message has no known prefix.
pub fn python_exception(message: &str) -> Option<(&'static str, &str)> {
    EXCEPTION_CLASSES.iter().find_map(|class| {
        message
            .strip_prefix(class)
            .and_then(|rest| rest.strip_prefix(": "))
            .map(|arg| (*class, arg))
    })
}

fn err(class: &str, message: impl std::fmt::Display) -> Error {
    Error::InvalidParameter(format!("{class}: {message}"))
}

const NUL_IN_LITERAL: &str = "A string literal cannot contain NUL (0x00) characters.";
const NUL_IN_QUERY: &str = "the query contains NUL (0x00) characters";

// ---------------------------------------------------------------------------------------
// Interpolation
// ---------------------------------------------------------------------------------------

/// Renders `query` with `params` exactly as psycopg2's `cursor.execute` / `mogrify` does
/// (see the module docs). `None` params: no `%` processing at all.
pub fn interpolate(query: &str, params: Option<Params<'_>>) -> Result<String> {
    if query.is_empty() {
        return Err(err("ProgrammingError", "can't execute an empty query"));
    }
    if query.as_bytes().contains(&0) {
        return Err(err("ValueError", NUL_IN_QUERY));
    }
    let Some(params) = params else {
        return Ok(query.to_owned());
    };
    match mogrify(query, params)? {
        None => Ok(query.to_owned()),
        Some(args) => bytes_format(query, &args),
    }
}

/// The adapted arguments after the mogrify pass (psycopg2's `cvt`).
enum Converted<'q> {
    /// A tuple as long as the parameter sequence; the first slots are filled.
    Tuple(Vec<Option<String>>),
    /// The keys the query used, each adapted once.
    Dict(HashMap<&'q str, String>),
}

/// Looks keys up in `Params::Named` (last pair wins), with a map for larger mappings.
struct Named<'a> {
    pairs: &'a [(String, Value)],
    map: Option<HashMap<&'a str, &'a Value>>,
}

impl<'a> Named<'a> {
    fn new(pairs: &'a [(String, Value)]) -> Self {
        let map = (pairs.len() > 8).then(|| pairs.iter().map(|(k, v)| (k.as_str(), v)).collect());
        Named { pairs, map }
    }

    fn get(&self, key: &str) -> Option<&'a Value> {
        match &self.map {
            Some(m) => m.get(key).copied(),
            None => self.pairs.iter().rev().find(|(k, _)| k == key).map(|(_, v)| v),
        }
    }
}

/// psycopg2's `_mogrify`: finds the placeholders and adapts the values they use.
fn mogrify<'q>(query: &'q str, params: Params<'_>) -> Result<Option<Converted<'q>>> {
    let q = query.as_bytes();
    let n = q.len();
    let named = match params {
        Params::Named(pairs) => Some(Named::new(pairs)),
        Params::Positional(_) => None,
    };
    let mut conv: Option<Converted<'q>> = None;
    let mut force = false;
    // 0: none seen yet, 1: `%(name)s`, 2: `%s`
    let mut kind = 0u8;
    let mut index = 0usize;
    let mut i = 0usize;
    while i < n {
        let c = q[i];
        i += 1;
        if c != b'%' {
            continue;
        }
        match q.get(i) {
            Some(b'%') => {
                i += 1;
                force = true;
            }
            Some(b'(') => {
                if kind == 2 {
                    return Err(err("ProgrammingError", "argument formats can't be mixed"));
                }
                kind = 1;
                let mut d = i + 1;
                while d < n && q[d] != b')' && q[d] != b'%' {
                    d += 1;
                }
                if d >= n || q[d] != b')' {
                    return Err(err("ProgrammingError", "incomplete placeholder: '%(' without ')'"));
                }
                let key = &query[i + 1..d];
                let value = match &named {
                    Some(named) => named.get(key).ok_or_else(|| err("KeyError", key))?,
                    None => return Err(err("TypeError", "tuple indices must be integers or slices, not str")),
                };
                let dict = match conv.get_or_insert_with(|| Converted::Dict(HashMap::new())) {
                    Converted::Dict(d) => d,
                    // kind == 1 excludes an earlier positional placeholder
                    Converted::Tuple(_) => unreachable!("tuple built for a named placeholder"),
                };
                if !dict.contains_key(key) {
                    let mut s = String::new();
                    render(value, &mut s)?;
                    dict.insert(key, s);
                }
                i = d + 1;
            }
            _ => {
                if kind == 1 {
                    return Err(err("ProgrammingError", "argument formats can't be mixed"));
                }
                kind = 2;
                let values = match params {
                    Params::Positional(v) => v,
                    Params::Named(_) => return Err(err("TypeError", "dict is not a sequence")),
                };
                let value = values
                    .get(index)
                    .ok_or_else(|| err("IndexError", "tuple index out of range"))?;
                let tuple = match conv.get_or_insert_with(|| Converted::Tuple(vec![None; values.len()])) {
                    Converted::Tuple(t) => t,
                    Converted::Dict(_) => unreachable!("dict built for a positional placeholder"),
                };
                let mut s = String::new();
                render(value, &mut s)?;
                tuple[index] = Some(s);
                index += 1;
                // the conversion character is left for the next round, as in psycopg2
            }
        }
    }
    if force && conv.is_none() {
        conv = Some(Converted::Tuple(Vec::new()));
    }
    Ok(conv)
}

/// What `args` currently is inside `Bytes_Format`.
enum Arg<'c> {
    Tuple(&'c [Option<String>]),
    Dict,
    Item(&'c str),
}

/// psycopg2's `Bytes_Format` (Python 2's `bytes % args` limited to `%s` and `%%`),
/// including the re-mapping of `_psyco_curs_merge_query_args`.
fn bytes_format(query: &str, conv: &Converted<'_>) -> Result<String> {
    let q = query.as_bytes();
    let n = q.len();
    let (mut args, dict, mut arglen, mut argidx): (Arg<'_>, Option<&HashMap<&str, String>>, isize, isize) =
        match conv {
            Converted::Tuple(t) => (Arg::Tuple(t), None, t.len() as isize, 0),
            Converted::Dict(d) => (Arg::Dict, Some(d), -1, -2),
        };
    let extra: usize = match conv {
        Converted::Tuple(t) => t.iter().flatten().map(String::len).sum(),
        Converted::Dict(d) => d.values().map(String::len).sum(),
    };
    let mut out = String::with_capacity(n + extra);
    let mut p = 0usize;
    while p < n {
        // copy up to the next '%'
        let next = query[p..].find('%').map_or(n, |k| p + k);
        out.push_str(&query[p..next]);
        if next >= n {
            break;
        }
        p = next + 1;
        if p < n && q[p] == b'(' {
            let Some(dict) = dict else {
                return Err(err("TypeError", "format requires a mapping"));
            };
            p += 1;
            let keystart = p;
            let mut pcount = 1;
            while pcount > 0 && p < n {
                match q[p] {
                    b')' => pcount -= 1,
                    b'(' => pcount += 1,
                    _ => {}
                }
                p += 1;
            }
            if pcount > 0 {
                return Err(err("ValueError", "incomplete format key"));
            }
            let key = &query[keystart..p - 1];
            let value = dict.get(key).ok_or_else(|| err("KeyError", key))?;
            args = Arg::Item(value);
            arglen = -1;
            argidx = -2;
        }
        if p >= n {
            return Err(err("ValueError", "incomplete format"));
        }
        let c = q[p];
        let cpos = p;
        p += 1;
        match c {
            b'%' => out.push('%'),
            b's' => {
                // getnextarg
                if argidx >= arglen {
                    // _psyco_curs_merge_query_args turns this one into a ProgrammingError
                    return Err(err("ProgrammingError", "not enough arguments for format string"));
                }
                let this = argidx;
                argidx += 1;
                let v: &str = if arglen < 0 {
                    match args {
                        Arg::Item(s) => s,
                        Arg::Dict => return Err(err("ValueError", "only bytes values expected, got dict")),
                        Arg::Tuple(_) => return Err(err("ValueError", "only bytes values expected, got tuple")),
                    }
                } else {
                    match args {
                        Arg::Tuple(t) => match &t[this as usize] {
                            Some(s) => s,
                            None => return Err(err("ProgrammingError", "not enough arguments for format string")),
                        },
                        _ => return Err(err("ValueError", "only bytes values expected, got bytes")),
                    }
                };
                out.push_str(v);
            }
            c if c.is_ascii() => {
                return Err(err(
                    "ValueError",
                    format_args!("unsupported format character '{}' (0x{c:x}) at index {cpos}", c as char),
                ));
            }
            _ => {
                // psycopg2 formats the (signed) C `char` with `%c`: a byte >= 0x80 is negative
                // and Python refuses it
                return Err(err("OverflowError", "character argument not in range(0x110000)"));
            }
        }
        if dict.is_some() && argidx < arglen && c != b'%' {
            return Err(err("TypeError", "not all arguments converted during string formatting"));
        }
    }
    if argidx < arglen && dict.is_none() {
        return Err(err("TypeError", "not all arguments converted during string formatting"));
    }
    Ok(out)
}

// ---------------------------------------------------------------------------------------
// Adaptation
// ---------------------------------------------------------------------------------------

/// Appends `v` rendered as SQL (psycopg2's `adapt(v).getquoted()`, `None` as `NULL`). On
/// error `out` is left as it was.
pub fn quote_literal(v: &Value, out: &mut String) -> Result<()> {
    let start = out.len();
    let r = render(v, out);
    if r.is_err() {
        out.truncate(start);
    }
    r
}

/// Appends `s` as a standard-conforming string literal: `'it''s'`. NUL is an error.
pub fn quote_string(s: &str, out: &mut String) -> Result<()> {
    if s.as_bytes().contains(&0) {
        return Err(err("ValueError", NUL_IN_LITERAL));
    }
    out.reserve(s.len() + 2);
    out.push('\'');
    let mut rest = s;
    while let Some(k) = rest.find('\'') {
        out.push_str(&rest[..=k]);
        out.push('\'');
        rest = &rest[k + 1..];
    }
    out.push_str(rest);
    out.push('\'');
    Ok(())
}

fn render(v: &Value, out: &mut String) -> Result<()> {
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
                return Err(err("ValueError", format_args!("invalid integer: {s:?}")));
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
            None => return Err(err("ValueError", format_args!("invalid Decimal: {s:?}"))),
        },
        Value::Str(s) => quote_string(s, out)?,
        Value::Bytes(b) => {
            const HEX: &[u8; 16] = b"0123456789abcdef";
            out.reserve(b.len() * 2 + 12);
            out.push_str("'\\x");
            for &byte in b {
                out.push(HEX[(byte >> 4) as usize] as char);
                out.push(HEX[(byte & 15) as usize] as char);
            }
            out.push_str("'::bytea");
        }
        Value::Typed { text, cast } => {
            if let Some(cast) = cast {
                if !valid_cast(cast) {
                    return Err(err("ValueError", format_args!("invalid cast: {cast:?}")));
                }
            }
            quote_string(text, out)?;
            if let Some(cast) = cast {
                out.push_str("::");
                out.push_str(cast);
            }
        }
        Value::Raw(s) => {
            if s.as_bytes().contains(&0) {
                return Err(err("ValueError", NUL_IN_QUERY));
            }
            out.push_str(s);
        }
        Value::Tuple(items) => {
            out.push('(');
            for (k, item) in items.iter().enumerate() {
                if k > 0 {
                    out.push_str(", ");
                }
                render(item, out)?;
            }
            out.push(')');
        }
        Value::Array(items) => render_array(items, out)?,
    }
    Ok(())
}

/// psycopg2's `list_quote` (`psycopg/adapter_list.c`).
fn render_array(items: &[Value], out: &mut String) -> Result<()> {
    if items.is_empty() {
        out.push_str("'{}'");
        return Ok(());
    }
    let mut parts: Vec<String> = Vec::with_capacity(items.len());
    let mut all_nulls = true;
    for item in items {
        let mut s = String::new();
        match item {
            Value::Null => s.push_str("NULL"),
            Value::Array(_) => {
                render(item, &mut s)?;
                if s.starts_with('A') {
                    all_nulls = false;
                } else if s == "'{}'" {
                    // issue #788: '{{}}' is not supported but array[array[]] is
                    all_nulls = false;
                    s.clear();
                    s.push_str("ARRAY[]");
                }
            }
            _ => {
                render(item, &mut s)?;
                all_nulls = false;
            }
        }
        parts.push(s);
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
                Some(inner) => out.push_str(&inner[..inner.len() - 1]),
                None => out.push_str(s),
            }
        }
        out.push_str("}'");
    }
    Ok(())
}

/// `Some(true)`: a finite decimal literal; `Some(false)`: a spelling of NaN / sNaN /
/// infinity (as Python's `Decimal` accepts them); `None`: neither.
fn classify_decimal(s: &str) -> Option<bool> {
    let body = s.strip_prefix(['-', '+']).unwrap_or(s);
    let lower = body.to_ascii_lowercase();
    if lower == "inf" || lower == "infinity" {
        return Some(false);
    }
    if let Some(payload) = lower.strip_prefix("nan").or_else(|| lower.strip_prefix("snan")) {
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
fn valid_cast(cast: &str) -> bool {
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

fn push_float(f: f64, out: &mut String) {
    if f.is_nan() {
        out.push_str("'NaN'::float");
    } else if f.is_infinite() {
        out.push_str(if f > 0.0 { "'Infinity'::float" } else { "'-Infinity'::float" });
    } else {
        if f.is_sign_negative() {
            out.push(' ');
        }
        python_float_repr(f, out);
    }
}

/// Appends Python's `repr(f)` of a finite float: the shortest digits that round-trip,
/// positional when the decimal exponent is in `-4 <= exp < 16` (with `.0` when integral),
/// else `d.ddde+XX` with at least two exponent digits.
pub fn python_float_repr(f: f64, out: &mut String) {
    // Rust's `{:e}` gives the shortest round-trip digits too: "-1.2345e-7", "1e16", "0e0"
    let s = format!("{f:e}");
    let (mantissa, exp) = s.split_once('e').unwrap_or((&s, "0"));
    let exp: i32 = exp.parse().unwrap_or(0);
    let (neg, mantissa) = match mantissa.strip_prefix('-') {
        Some(m) => (true, m),
        None => (false, mantissa),
    };
    let digits: String = mantissa.chars().filter(|c| *c != '.').collect();
    let ndigits = digits.len() as i32;
    // value = 0.DIGITS * 10^decpt
    let decpt = exp + 1;
    if neg {
        out.push('-');
    }
    if decpt <= -4 || decpt > 16 {
        out.push_str(&digits[..1]);
        if ndigits > 1 {
            out.push('.');
            out.push_str(&digits[1..]);
        }
        let e = decpt - 1;
        let _ = write!(out, "e{}{:02}", if e < 0 { '-' } else { '+' }, e.unsigned_abs());
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

// ---------------------------------------------------------------------------------------
// Lexical scans
// ---------------------------------------------------------------------------------------

/// A token of PostgreSQL's lexer, as far as the scans below need it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Tok<'a> {
    /// An unquoted identifier or keyword.
    Word(&'a str),
    /// A `"quoted"` identifier (the text between the quotes, `""` left doubled).
    QuotedIdent(&'a str),
    /// A `U&"..."` identifier (escapes not decoded).
    UnicodeIdent,
    /// A string constant of any kind or a dollar-quoted string.
    Literal,
    Number,
    Param,
    Semicolon,
    Open,
    Close,
    Other,
}

fn is_ident_start(b: u8) -> bool {
    b.is_ascii_alphabetic() || b == b'_' || b >= 0x80
}

fn is_ident_cont(b: u8) -> bool {
    is_ident_start(b) || b.is_ascii_digit() || b == b'$'
}

/// PostgreSQL's lexer, simplified: whitespace and comments (`--`, nested `/* */`) are
/// skipped; `'...'`, `E'...'` (backslash escapes), `B'' X'' N'' U&''`, `$tag$...$tag$`,
/// `"..."` and `U&"..."` are single tokens; an unterminated one runs to the end.
/// `standard_conforming_strings` is assumed on.
struct Lexer<'a> {
    s: &'a str,
    pos: usize,
}

impl<'a> Lexer<'a> {
    fn new(s: &'a str) -> Self {
        Lexer { s, pos: 0 }
    }

    fn bytes(&self) -> &'a [u8] {
        self.s.as_bytes()
    }

    fn skip_space_and_comments(&mut self) {
        let b = self.bytes();
        loop {
            while self.pos < b.len() && matches!(b[self.pos], b' ' | b'\t' | b'\n' | b'\r' | 0x0b | 0x0c) {
                self.pos += 1;
            }
            if b[self.pos..].starts_with(b"--") {
                while self.pos < b.len() && b[self.pos] != b'\n' && b[self.pos] != b'\r' {
                    self.pos += 1;
                }
            } else if b[self.pos..].starts_with(b"/*") {
                self.pos += 2;
                let mut depth = 1;
                while self.pos < b.len() && depth > 0 {
                    if b[self.pos..].starts_with(b"/*") {
                        depth += 1;
                        self.pos += 2;
                    } else if b[self.pos..].starts_with(b"*/") {
                        depth -= 1;
                        self.pos += 2;
                    } else {
                        self.pos += 1;
                    }
                }
            } else {
                return;
            }
        }
    }

    /// From the opening quote at `self.pos`; `backslash`: E'' rules. Returns whether the
    /// closing quote was found.
    fn quoted(&mut self, quote: u8, backslash: bool) -> bool {
        let b = self.bytes();
        let mut i = self.pos + 1;
        while i < b.len() {
            if backslash && b[i] == b'\\' {
                i += 2;
            } else if b[i] == quote {
                if b.get(i + 1) == Some(&quote) {
                    i += 2;
                } else {
                    self.pos = i + 1;
                    return true;
                }
            } else {
                i += 1;
            }
        }
        self.pos = b.len();
        false
    }
}

impl<'a> Iterator for Lexer<'a> {
    type Item = Tok<'a>;

    fn next(&mut self) -> Option<Tok<'a>> {
        self.skip_space_and_comments();
        let b = self.bytes();
        let start = self.pos;
        let c = *b.get(start)?;
        let at = |k: usize| b.get(start + k).copied();
        let tok = match c {
            b'\'' => {
                let _ = self.quoted(b'\'', false);
                Tok::Literal
            }
            b'"' => {
                let end = if self.quoted(b'"', false) { self.pos - 1 } else { self.pos };
                Tok::QuotedIdent(&self.s[start + 1..end])
            }
            b'$' => {
                if at(1).is_some_and(|d| d.is_ascii_digit()) {
                    self.pos += 1;
                    while self.pos < b.len() && b[self.pos].is_ascii_digit() {
                        self.pos += 1;
                    }
                    Tok::Param
                } else {
                    let mut j = start + 1;
                    if j < b.len() && is_ident_start(b[j]) {
                        j += 1;
                        while j < b.len() && (is_ident_start(b[j]) || b[j].is_ascii_digit()) {
                            j += 1;
                        }
                    }
                    if j < b.len() && b[j] == b'$' {
                        let tag = &b[start..=j];
                        let body = j + 1;
                        self.pos = match b[body..].windows(tag.len()).position(|w| w == tag) {
                            Some(k) => body + k + tag.len(),
                            None => b.len(),
                        };
                        Tok::Literal
                    } else {
                        self.pos += 1;
                        Tok::Other
                    }
                }
            }
            b'e' | b'E' if at(1) == Some(b'\'') => {
                self.pos += 1;
                let _ = self.quoted(b'\'', true);
                Tok::Literal
            }
            b'b' | b'B' | b'x' | b'X' | b'n' | b'N' if at(1) == Some(b'\'') => {
                self.pos += 1;
                let _ = self.quoted(b'\'', false);
                Tok::Literal
            }
            b'u' | b'U' if at(1) == Some(b'&') && at(2) == Some(b'\'') => {
                self.pos += 2;
                let _ = self.quoted(b'\'', false);
                Tok::Literal
            }
            b'u' | b'U' if at(1) == Some(b'&') && at(2) == Some(b'"') => {
                self.pos += 2;
                let _ = self.quoted(b'"', false);
                Tok::UnicodeIdent
            }
            c if is_ident_start(c) => {
                self.pos += 1;
                while self.pos < b.len() && is_ident_cont(b[self.pos]) {
                    self.pos += 1;
                }
                Tok::Word(&self.s[start..self.pos])
            }
            c if c.is_ascii_digit() => {
                self.pos += 1;
                while self.pos < b.len() && (b[self.pos].is_ascii_alphanumeric() || b[self.pos] == b'_' || b[self.pos] == b'.') {
                    self.pos += 1;
                }
                Tok::Number
            }
            b';' => {
                self.pos += 1;
                Tok::Semicolon
            }
            b'(' => {
                self.pos += 1;
                Tok::Open
            }
            b')' => {
                self.pos += 1;
                Tok::Close
            }
            _ => {
                self.pos += 1;
                Tok::Other
            }
        };
        Some(tok)
    }
}

/// Tokens grouped into statements. With `psql_rules` the way psql splits them: a `;` ends
/// a statement outside parentheses and outside the `BEGIN ... END` body of
/// `CREATE [OR REPLACE] FUNCTION|PROCEDURE ... BEGIN ATOMIC` (psql's heuristic: in such a
/// statement `BEGIN` and, inside it, `CASE` open a block that `END` closes). Without,
/// every `;` outside literals and comments ends one (more boundaries than the server
/// sees, never fewer).
struct Statements<'a> {
    lex: Lexer<'a>,
    psql_rules: bool,
    paren_depth: u32,
    begin_depth: u32,
    /// First letters of the statement's first four words when they are one of
    /// create / function / procedure / or / replace.
    idents: [u8; 4],
    ident_count: usize,
}

/// An item of [`Statements`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Item<'a> {
    Tok(Tok<'a>),
    /// A `;` that ends the statement.
    End,
}

impl<'a> Statements<'a> {
    fn new(sql: &'a str, psql_rules: bool) -> Self {
        Statements { lex: Lexer::new(sql), psql_rules, paren_depth: 0, begin_depth: 0, idents: [0; 4], ident_count: 0 }
    }
}

impl<'a> Iterator for Statements<'a> {
    type Item = Item<'a>;

    fn next(&mut self) -> Option<Item<'a>> {
        let tok = self.lex.next()?;
        match tok {
            Tok::Open => self.paren_depth += 1,
            Tok::Close => self.paren_depth = self.paren_depth.saturating_sub(1),
            Tok::Semicolon if !self.psql_rules || (self.paren_depth == 0 && self.begin_depth == 0) => {
                self.ident_count = 0;
                self.idents = [0; 4];
                return Some(Item::End);
            }
            Tok::Word(w) => {
                if self.ident_count < 4 {
                    for kw in ["create", "function", "procedure", "or", "replace"] {
                        if w.eq_ignore_ascii_case(kw) {
                            self.idents[self.ident_count] = kw.as_bytes()[0];
                        }
                    }
                }
                self.ident_count += 1;
                let id = &self.idents;
                let routine = id[0] == b'c'
                    && (id[1] == b'f' || id[1] == b'p' || (id[1] == b'o' && id[2] == b'r' && (id[3] == b'f' || id[3] == b'p')));
                if routine && self.paren_depth == 0 {
                    if w.eq_ignore_ascii_case("begin") {
                        self.begin_depth += 1;
                    } else if w.eq_ignore_ascii_case("case") {
                        if self.begin_depth >= 1 {
                            self.begin_depth += 1;
                        }
                    } else if w.eq_ignore_ascii_case("end") {
                        self.begin_depth = self.begin_depth.saturating_sub(1);
                    }
                }
            }
            _ => {}
        }
        Some(Item::Tok(tok))
    }
}

/// True when `sql` holds more than one non-empty statement: a `;` that ends a statement
/// (outside literals, comments, quoted identifiers, parentheses and `BEGIN ATOMIC ... END`
/// bodies) followed by more than whitespace, comments and further `;`.
pub fn has_multiple_statements(sql: &str) -> bool {
    let mut statements = 0;
    let mut current_has_tokens = false;
    for item in Statements::new(sql, true) {
        match item {
            Item::End => current_has_tokens = false,
            Item::Tok(_) => {
                if !current_has_tokens {
                    current_has_tokens = true;
                    statements += 1;
                    if statements > 1 {
                        return true;
                    }
                }
            }
        }
    }
    false
}

/// Functions whose effect outlives the transaction (session-level advisory locks,
/// `set_config` with `is_local = false`).
const SESSION_FUNCTIONS: [&str; 5] =
    ["pg_advisory_lock", "pg_advisory_lock_shared", "pg_try_advisory_lock", "pg_try_advisory_lock_shared", "set_config"];

fn names_session_object(name: &str) -> bool {
    SESSION_FUNCTIONS.iter().any(|f| name.eq_ignore_ascii_case(f))
        || name.get(..7).is_some_and(|p| p.eq_ignore_ascii_case("pg_temp"))
}

/// A cheap, conservative scan (outside literals and comments, case-insensitive): true
/// when `sql` may leave session state behind that the pool must reset before the next
/// user. False positives cost one reset round trip; the triggers:
/// - a statement starting with `SET` (not `SET LOCAL`, `SET TRANSACTION`,
///   `SET CONSTRAINTS`; `SET SESSION ...`, `SET ROLE`, `SET TIME ZONE` included), `RESET`,
///   `LISTEN`, `PREPARE`, `LOAD`, `DO` (its body is code we do not read), or `DECLARE`
///   with `WITH HOLD`;
/// - `TEMP` / `TEMPORARY` after `CREATE`, `OR REPLACE`, `GLOBAL`, `LOCAL` or `INTO`
///   (`CREATE TEMP TABLE`, `SELECT ... INTO TEMP t`); any identifier starting with
///   `pg_temp` (objects created in the temporary schema);
/// - the identifiers `pg_advisory_lock`, `pg_try_advisory_lock` and their `_shared`
///   variants (not the `_xact_` ones), `set_config`, quoted or not; any `U&"..."`
///   identifier (not decoded).
///
/// Server-side code (functions, procedures, rules, triggers) that changes session state is
/// invisible to this scan.
pub fn changes_session_state(sql: &str) -> bool {
    let mut first = true; // the next token starts a statement
    let mut stmt_first: Option<&str> = None; // the statement's first word
    let mut stmt_len = 0usize; // tokens so far in this statement
    let mut prev_word: Option<&str> = None;
    let mut declare_with = false; // in a DECLARE, the previous word was WITH
    let is_set = |first: Option<&str>| first.is_some_and(|f| f.eq_ignore_ascii_case("set"));
    for item in Statements::new(sql, false) {
        let tok = match item {
            Item::End => {
                // a statement that is just `SET` (a syntax error) still counts
                if stmt_len == 1 && is_set(stmt_first) {
                    return true;
                }
                first = true;
                stmt_first = None;
                stmt_len = 0;
                prev_word = None;
                declare_with = false;
                continue;
            }
            Item::Tok(t) => t,
        };
        stmt_len += 1;
        if first {
            first = false;
            if let Tok::Word(w) = tok {
                for kw in ["reset", "listen", "prepare", "load", "do"] {
                    if w.eq_ignore_ascii_case(kw) {
                        return true;
                    }
                }
                stmt_first = Some(w);
            }
        } else if stmt_len == 2 && is_set(stmt_first) {
            let transaction_scoped = matches!(tok, Tok::Word(w)
                if ["local", "transaction", "constraints"].iter().any(|k| w.eq_ignore_ascii_case(k)));
            if !transaction_scoped {
                return true;
            }
        }
        match tok {
            Tok::Word(w) => {
                if w.eq_ignore_ascii_case("temp") || w.eq_ignore_ascii_case("temporary") {
                    if prev_word.is_some_and(|p| {
                        ["create", "replace", "global", "local", "into"].iter().any(|k| p.eq_ignore_ascii_case(k))
                    }) {
                        return true;
                    }
                }
                if names_session_object(w) {
                    return true;
                }
                if stmt_first.is_some_and(|f| f.eq_ignore_ascii_case("declare")) {
                    if declare_with && w.eq_ignore_ascii_case("hold") {
                        return true;
                    }
                    declare_with = w.eq_ignore_ascii_case("with");
                }
                prev_word = Some(w);
            }
            Tok::QuotedIdent(name) => {
                if names_session_object(name) {
                    return true;
                }
                prev_word = None;
                declare_with = false;
            }
            Tok::UnicodeIdent => return true,
            _ => {
                prev_word = None;
                declare_with = false;
            }
        }
    }
    stmt_len == 1 && is_set(stmt_first)
}
