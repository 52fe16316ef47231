//! psycopg2's client-side `pyformat` parameter interpolation over a neutral [`Value`]
//! type.
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
//! | `RecursionError: ` | tuples/lists nested deeper than [`MAX_NESTING`] (psycopg2 runs out of Python's recursion limit at about the same depth) |
//!
//! Branches of `Bytes_Format` that the first pass makes unreachable keep psycopg2's
//! messages too (`ProgrammingError: not enough arguments for format string`,
//! `TypeError: format requires a mapping`, `ValueError: only bytes values expected, got
//! dict`).
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
//! | `Str` | `'...'` with `'` doubled and backslashes left alone; see [`Quoting`] for `E'...'` |
//! | `Bytes` | `'\x6162'::bytea` (lowercase hex; empty: `'\x'::bytea`); `E'\\x6162'::bytea` unless [`Quoting::Standard`] |
//! | `Typed` | the quoted text, then `::cast` when there is a cast: `'2024-01-01'::date` |
//! | `Raw` | verbatim (psycopg2's `AsIs`) |
//! | `Tuple` | `(a, b, c)` (psycopg2's `SQL_IN`); empty: `()` (a server-side syntax error, as in psycopg2) |
//! | `Array` | `ARRAY[a,b]` (no space), nested `ARRAY[ARRAY[1],ARRAY[2]]`; empty `'{}'`; an empty array inside an array `ARRAY[]`; an array of only NULLs (or of arrays of only NULLs) `'{NULL,NULL}'`, `'{{NULL},{NULL}}'` |
//!
//! # Assumptions and deliberate differences from psycopg2
//! - Literals follow the connection's `standard_conforming_strings` ([`Quoting`]): with
//!   it on, `'...'` as psycopg2 writes them; with it off, `E'...'` with backslashes
//!   doubled, as psycopg2 writes them then. A statement that may change the setting
//!   before its values are read (several statements in one message, or one that names
//!   the setting) gets [`Quoting::Portable`] literals, read the same under either
//!   setting. The text is UTF-8; the connection converts it to the client encoding.
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
        /// The type to cast to, e.g. `date`, `timestamptz`, `numeric(10,2)`, `int[]`:
        /// chosen by the face's adapter, never taken from user data (it is checked to look
        /// like a type name, not escaped).
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

/// How string literals are written, following the server's `standard_conforming_strings`
/// (reported by the server at startup and after every change). Every mode is injection
/// proof under the setting it is chosen for; [`Quoting::Escape`] and
/// [`Quoting::Portable`] under both.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Quoting {
    /// `standard_conforming_strings = on` (the default): `'it''s \ here'`, backslashes
    /// as they are; `'\x..'::bytea`. psycopg2's output on such a connection.
    #[default]
    Standard,
    /// `standard_conforming_strings = off`: `E'it''s \\ here'`, backslashes doubled;
    /// `E'\\x..'::bytea`. psycopg2's output on such a connection.
    Escape,
    /// Right under either setting: `E'...'` with backslashes doubled when the text has
    /// a backslash, `'...'` otherwise.
    Portable,
}

impl Quoting {
    /// The mode for a connection whose `standard_conforming_strings` is on (`true`) or off.
    pub fn of_setting(standard: bool) -> Quoting {
        if standard {
            Quoting::Standard
        } else {
            Quoting::Escape
        }
    }

    /// The mode for the values of `query` on a connection whose setting is `standard`:
    /// [`Quoting::Escape`] when it is off; [`Quoting::Portable`] when an earlier statement
    /// of the same message could turn it off before the values are read (`query` holds
    /// several statements, or names `standard_conforming_strings`);
    /// [`Quoting::Standard`] otherwise.
    pub fn for_query(standard: bool, query: &str) -> Quoting {
        if !standard {
            return Quoting::Escape;
        }
        const NAME: &[u8] = b"standard_conforming_strings";
        let names_it = query
            .as_bytes()
            .windows(NAME.len())
            .any(|w| w.eq_ignore_ascii_case(NAME));
        if names_it || crate::lexer::has_multiple_statements(query, true) {
            Quoting::Portable
        } else {
            Quoting::Standard
        }
    }
}

/// Dropping a nested tuple/list frees it without recursion (an explicit stack), so a
/// deeply nested parameter cannot overflow the thread's stack when it is freed either.
impl Drop for Value {
    fn drop(&mut self) {
        let mut stack = match self {
            Value::Tuple(items) | Value::Array(items) if !items.is_empty() => std::mem::take(items),
            _ => return,
        };
        while let Some(mut v) = stack.pop() {
            if let Value::Tuple(items) | Value::Array(items) = &mut v {
                stack.append(items);
            }
            // `v` has no items left: its own drop returns at once.
        }
    }
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
pub const EXCEPTION_CLASSES: [&str; 7] = [
    "ProgrammingError",
    "KeyError",
    "IndexError",
    "TypeError",
    "ValueError",
    "OverflowError",
    "RecursionError",
];

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
/// (see the module docs), literals written for `q`. `None` params: no `%` processing at
/// all.
pub fn interpolate(query: &str, params: Option<Params<'_>>, q: Quoting) -> Result<String> {
    if query.is_empty() {
        return Err(err("ProgrammingError", "can't execute an empty query"));
    }
    if query.as_bytes().contains(&0) {
        return Err(err("ValueError", NUL_IN_QUERY));
    }
    let Some(params) = params else {
        return Ok(query.to_owned());
    };
    match mogrify(query, params, q)? {
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
            None => self
                .pairs
                .iter()
                .rev()
                .find(|(k, _)| k == key)
                .map(|(_, v)| v),
        }
    }
}

/// psycopg2's `_mogrify`: finds the placeholders and adapts the values they use.
fn mogrify<'q>(
    query: &'q str,
    params: Params<'_>,
    quoting: Quoting,
) -> Result<Option<Converted<'q>>> {
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
                    return Err(err(
                        "ProgrammingError",
                        "incomplete placeholder: '%(' without ')'",
                    ));
                }
                let key = &query[i + 1..d];
                let value = match &named {
                    Some(named) => named.get(key).ok_or_else(|| err("KeyError", key))?,
                    None => {
                        return Err(err(
                            "TypeError",
                            "tuple indices must be integers or slices, not str",
                        ))
                    }
                };
                let dict = match conv.get_or_insert_with(|| Converted::Dict(HashMap::new())) {
                    Converted::Dict(d) => d,
                    // kind == 1 excludes an earlier positional placeholder
                    Converted::Tuple(_) => unreachable!("tuple built for a named placeholder"),
                };
                if !dict.contains_key(key) {
                    let mut s = String::new();
                    render(value, quoting, &mut s)?;
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
                let tuple = match conv
                    .get_or_insert_with(|| Converted::Tuple(vec![None; values.len()]))
                {
                    Converted::Tuple(t) => t,
                    Converted::Dict(_) => unreachable!("dict built for a positional placeholder"),
                };
                let mut s = String::new();
                render(value, quoting, &mut s)?;
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
    let (mut args, dict, mut arglen, mut argidx): (
        Arg<'_>,
        Option<&HashMap<&str, String>>,
        isize,
        isize,
    ) = match conv {
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
                    return Err(err(
                        "ProgrammingError",
                        "not enough arguments for format string",
                    ));
                }
                let this = argidx;
                argidx += 1;
                let v: &str = if arglen < 0 {
                    match args {
                        Arg::Item(s) => s,
                        Arg::Dict => {
                            return Err(err("ValueError", "only bytes values expected, got dict"))
                        }
                        Arg::Tuple(_) => {
                            return Err(err("ValueError", "only bytes values expected, got tuple"))
                        }
                    }
                } else {
                    match args {
                        Arg::Tuple(t) => match &t[this as usize] {
                            Some(s) => s,
                            None => {
                                return Err(err(
                                    "ProgrammingError",
                                    "not enough arguments for format string",
                                ))
                            }
                        },
                        _ => {
                            return Err(err("ValueError", "only bytes values expected, got bytes"))
                        }
                    }
                };
                out.push_str(v);
            }
            c if c.is_ascii() => {
                return Err(err(
                    "ValueError",
                    format_args!(
                        "unsupported format character '{}' (0x{c:x}) at index {cpos}",
                        c as char
                    ),
                ));
            }
            _ => {
                // psycopg2 formats the (signed) C `char` with `%c`: a byte >= 0x80 is negative
                // and Python refuses it
                return Err(err(
                    "OverflowError",
                    "character argument not in range(0x110000)",
                ));
            }
        }
        if dict.is_some() && argidx < arglen && c != b'%' {
            return Err(err(
                "TypeError",
                "not all arguments converted during string formatting",
            ));
        }
    }
    if argidx < arglen && dict.is_none() {
        return Err(err(
            "TypeError",
            "not all arguments converted during string formatting",
        ));
    }
    Ok(out)
}

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
        return Err(err("ValueError", NUL_IN_LITERAL));
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

fn render(v: &Value, q: Quoting, out: &mut String) -> Result<()> {
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
                    return Err(err("ValueError", format_args!("invalid cast: {cast:?}")));
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
                return Err(err("ValueError", NUL_IN_QUERY));
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
        "RecursionError",
        format_args!(
            "maximum recursion depth exceeded while adapting a parameter (lists and tuples \
             nested more than {MAX_NESTING} levels)"
        ),
    )
}

/// A tuple or list being rendered by [`render_nested`].
enum Open<'a> {
    /// `(a, b)`: the text so far (without the parentheses) and how many items it has.
    Tuple(std::slice::Iter<'a, Value>, String, usize),
    /// psycopg2's `list_quote`: each item's text, and whether all were NULL so far.
    Array(std::slice::Iter<'a, Value>, Vec<String>, bool),
}

/// Renders a tuple or list without recursion (an explicit stack of open containers), so
/// no nesting depth can overflow the thread's stack; deeper than [`MAX_NESTING`] is an
/// error.
fn render_nested(v: &Value, q: Quoting, out: &mut String) -> Result<()> {
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
fn finish_array(parts: &[String], all_nulls: bool, out: &mut String) {
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
fn classify_decimal(s: &str) -> Option<bool> {
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
fn split_exp(s: &str) -> (String, i32) {
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
fn shortest_digits(x: f64) -> (String, i32) {
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lexer::has_multiple_statements;
    use proptest::prelude::*;

    // ---- helpers ------------------------------------------------------------------

    fn pos(q: &str, vals: &[Value]) -> Result<String> {
        interpolate(q, Some(Params::Positional(vals)), Quoting::Standard)
    }

    fn named(q: &str, pairs: &[(&str, Value)]) -> Result<String> {
        let owned: Vec<(String, Value)> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.clone()))
            .collect();
        interpolate(q, Some(Params::Named(&owned)), Quoting::Standard)
    }

    fn msg(r: Result<String>) -> String {
        match r {
            Ok(s) => panic!("expected an error, got {s:?}"),
            Err(Error::InvalidParameter(m)) => m,
            Err(e) => panic!("unexpected error kind {e:?}"),
        }
    }

    fn lit(v: &Value) -> String {
        let mut s = String::new();
        quote_literal(v, Quoting::Standard, &mut s).unwrap();
        s
    }

    fn repr(f: f64) -> String {
        let mut s = String::new();
        python_float_repr(f, &mut s);
        s
    }

    fn s(x: &str) -> Value {
        Value::Str(x.into())
    }

    fn arr(v: Vec<Value>) -> Value {
        Value::Array(v)
    }

    // ---- placeholders (expected strings recorded from psycopg2 2.9 mogrify) -------

    #[test]
    fn no_params_means_no_percent_processing() {
        assert_eq!(
            interpolate("select '%'", None, Quoting::Standard).unwrap(),
            "select '%'"
        );
        assert_eq!(
            interpolate("select %% %s %(x)s %d", None, Quoting::Standard).unwrap(),
            "select %% %s %(x)s %d"
        );
    }

    #[test]
    fn positional() {
        assert_eq!(pos("select %s", &[Value::Int(1)]).unwrap(), "select 1");
        assert_eq!(
            pos("select %s, %s", &[s("a"), Value::Null]).unwrap(),
            "select 'a', NULL"
        );
        // adjacent literals merge into one literal, as in psycopg2 (still no way out of it)
        assert_eq!(
            pos("select %s%s", &[s("a"), s("b")]).unwrap(),
            "select 'a''b'"
        );
    }

    #[test]
    fn named_placeholders() {
        assert_eq!(
            named("select %(a)s, %(a)s", &[("a", s("x"))]).unwrap(),
            "select 'x', 'x'"
        );
        assert_eq!(
            named("select %(a)s", &[("a", Value::Null)]).unwrap(),
            "select NULL"
        );
        assert_eq!(
            named("%(b)s %(a)s", &[("a", Value::Int(1)), ("b", Value::Int(2))]).unwrap(),
            "2 1"
        );
        // the last pair wins, as when building a dict
        assert_eq!(
            named("%(a)s", &[("a", Value::Int(1)), ("a", Value::Int(2))]).unwrap(),
            "2"
        );
        // keys may contain anything but ')' and '%'
        assert_eq!(
            named("%(a b-é)s", &[("a b-é", Value::Int(1))]).unwrap(),
            "1"
        );
        assert_eq!(named("%()s", &[("", Value::Int(1))]).unwrap(), "1");
        // many keys (map lookup)
        let many: Vec<(String, Value)> =
            (0..20).map(|i| (format!("k{i}"), Value::Int(i))).collect();
        let r = interpolate(
            "%(k3)s %(k19)s %(k0)s",
            Some(Params::Named(&many)),
            Quoting::Standard,
        )
        .unwrap();
        assert_eq!(r, "3 19 0");
        // unused entries are never adapted: a NUL there is no error
        assert_eq!(
            named("%(a)s", &[("a", Value::Int(1)), ("b", s("\0"))]).unwrap(),
            "1"
        );
    }

    #[test]
    fn percent_percent_only_with_params() {
        assert_eq!(pos("select '%%'", &[]).unwrap(), "select '%'");
        assert_eq!(pos("select '%%'", &[Value::Int(1)]).unwrap(), "select '%'");
        assert_eq!(named("select '%%'", &[]).unwrap(), "select '%'");
        assert_eq!(pos("%%%s", &[Value::Int(1)]).unwrap(), "%1");
        assert_eq!(named("%%(a)s", &[("a", Value::Int(1))]).unwrap(), "%(a)s");
        assert_eq!(pos("%%(a)s", &[]).unwrap(), "%(a)s");
    }

    #[test]
    fn no_placeholder_sends_query_untouched() {
        assert_eq!(
            pos("select 1", &[Value::Int(1), Value::Int(2)]).unwrap(),
            "select 1"
        );
        assert_eq!(named("select 1", &[("a", s("\0"))]).unwrap(), "select 1");
    }

    #[test]
    fn argument_count_errors() {
        assert_eq!(
            msg(pos("select %s, %s", &[Value::Int(1)])),
            "IndexError: tuple index out of range"
        );
        assert_eq!(
            msg(pos("select '%'", &[])),
            "IndexError: tuple index out of range"
        );
        assert_eq!(
            msg(pos("select %s", &[Value::Int(1), Value::Int(2)])),
            "TypeError: not all arguments converted during string formatting"
        );
    }

    #[test]
    fn wrong_container_errors() {
        assert_eq!(
            msg(named("select %s", &[])),
            "TypeError: dict is not a sequence"
        );
        assert_eq!(
            msg(pos("select %(a)s", &[Value::Int(1)])),
            "TypeError: tuple indices must be integers or slices, not str"
        );
        assert_eq!(msg(named("select %(a)s", &[])), "KeyError: a");
        assert_eq!(
            msg(named("select %(a)s", &[("b", Value::Int(1))])),
            "KeyError: a"
        );
    }

    #[test]
    fn mixed_formats() {
        let m = "ProgrammingError: argument formats can't be mixed";
        assert_eq!(msg(named("select %(a)s, %s", &[("a", Value::Int(1))])), m);
        assert_eq!(msg(pos("select %s, %(a)s", &[Value::Int(1)])), m);
        // a trailing '%' after a named placeholder counts as positional
        assert_eq!(msg(named("%(a)s%", &[("a", Value::Int(1))])), m);
    }

    #[test]
    fn incomplete_placeholders() {
        let m = "ProgrammingError: incomplete placeholder: '%(' without ')'";
        assert_eq!(msg(named("select %(foo", &[])), m);
        assert_eq!(msg(named("select %(foo", &[("foo", Value::Int(1))])), m);
        assert_eq!(
            msg(named("select %(foo, %(bar)", &[("foo", Value::Int(1))])),
            m
        );
        assert_eq!(msg(named("%(a%b)s", &[])), m);
        assert_eq!(
            msg(pos("select 100%", &[Value::Int(1)])),
            "ValueError: incomplete format"
        );
        assert_eq!(
            msg(pos("%", &[Value::Int(1)])),
            "ValueError: incomplete format"
        );
        assert_eq!(
            msg(named("%(a)", &[("a", Value::Int(1))])),
            "ValueError: incomplete format"
        );
        assert_eq!(
            msg(named("%(a(b)s", &[("a(b", Value::Int(1))])),
            "ValueError: incomplete format key"
        );
    }

    #[test]
    fn unsupported_conversions() {
        assert_eq!(
            msg(pos("select %d", &[Value::Int(1)])),
            "ValueError: unsupported format character 'd' (0x64) at index 8"
        );
        assert_eq!(
            msg(named("select %(a)d", &[("a", Value::Int(1))])),
            "ValueError: unsupported format character 'd' (0x64) at index 11"
        );
        assert_eq!(
            msg(pos("select 50% off", &[Value::Int(1)])),
            "ValueError: unsupported format character ' ' (0x20) at index 10"
        );
        assert_eq!(
            msg(pos("select %x", &[Value::Int(1)])),
            "ValueError: unsupported format character 'x' (0x78) at index 8"
        );
        assert_eq!(
            msg(pos("select %é", &[Value::Int(1)])),
            "OverflowError: character argument not in range(0x110000)"
        );
        // the mogrify pass runs first: a missing value beats the bad conversion
        assert_eq!(
            msg(pos("select %d", &[])),
            "IndexError: tuple index out of range"
        );
    }

    #[test]
    fn psycopg2_quirks_of_the_two_passes() {
        // mogrify sees `%(a)` then `%(b)s`; the format pass sees `%(a)%` then "(b)s"
        assert_eq!(
            named(
                "select %(a)%(b)s",
                &[("a", Value::Int(1)), ("b", Value::Int(2))]
            )
            .unwrap(),
            "select %(b)s"
        );
        assert_eq!(
            named("select %(a)%%s", &[("a", Value::Int(1))]).unwrap(),
            "select %1"
        );
        // the format pass balances parentheses in keys, the mogrify pass does not
        assert_eq!(
            msg(named("select %(a(b)c)s", &[("a(b", Value::Int(1))])),
            "KeyError: a(b)c"
        );
    }

    #[test]
    fn empty_and_nul_queries() {
        assert_eq!(
            msg(interpolate("", None, Quoting::Standard)),
            "ProgrammingError: can't execute an empty query"
        );
        assert_eq!(
            msg(pos("", &[Value::Int(1)])),
            "ProgrammingError: can't execute an empty query"
        );
        assert_eq!(
            msg(interpolate("select 1\0", None, Quoting::Standard)),
            "ValueError: the query contains NUL (0x00) characters"
        );
    }

    #[test]
    fn nul_in_values() {
        let m = "ValueError: A string literal cannot contain NUL (0x00) characters.";
        assert_eq!(msg(pos("select %s", &[s("a\0b")])), m);
        assert_eq!(msg(pos("select %s", &[arr(vec![s("ok"), s("\0")])])), m);
        assert_eq!(msg(pos("select %s", &[Value::Tuple(vec![s("\0")])])), m);
        assert_eq!(
            msg(pos(
                "select %s",
                &[Value::Typed {
                    text: "\0".into(),
                    cast: Some("date".into())
                }]
            )),
            m
        );
        assert_eq!(
            msg(pos("select %s", &[Value::Raw("1\0".into())])),
            "ValueError: the query contains NUL (0x00) characters"
        );
        // NUL bytes in bytea are data
        assert_eq!(lit(&Value::Bytes(vec![0, 255])), "'\\x00ff'::bytea");
    }

    #[test]
    fn python_exception_split() {
        assert_eq!(python_exception("KeyError: a b"), Some(("KeyError", "a b")));
        assert_eq!(
            python_exception("ProgrammingError: argument formats can't be mixed"),
            Some(("ProgrammingError", "argument formats can't be mixed"))
        );
        assert_eq!(
            python_exception("OverflowError: x"),
            Some(("OverflowError", "x"))
        );
        assert_eq!(python_exception("something else"), None);
        let m = msg(named("%(k)s", &[]));
        assert_eq!(python_exception(&m), Some(("KeyError", "k")));
    }

    // ---- adaptation ---------------------------------------------------------------

    #[test]
    fn scalars() {
        assert_eq!(lit(&Value::Null), "NULL");
        assert_eq!(lit(&Value::Bool(true)), "true");
        assert_eq!(lit(&Value::Bool(false)), "false");
        assert_eq!(lit(&Value::Int(0)), "0");
        assert_eq!(lit(&Value::Int(-1)), " -1");
        assert_eq!(lit(&Value::Int(i64::MIN)), " -9223372036854775808");
        assert_eq!(
            lit(&Value::BigInt("1267650600228229401496703205376".into())),
            "1267650600228229401496703205376"
        );
        assert_eq!(
            lit(&Value::BigInt("-1208925819614629174706176".into())),
            " -1208925819614629174706176"
        );
        assert_eq!(pos("select -%s", &[Value::Int(-1)]).unwrap(), "select - -1");
        assert_eq!(pos("select %s", &[Value::Int(-1)]).unwrap(), "select  -1");
    }

    #[test]
    fn bad_face_input() {
        let mut out = String::from("keep");
        for v in [
            Value::BigInt("12a".into()),
            Value::BigInt("".into()),
            Value::BigInt("-".into()),
            Value::BigInt("+1".into()),
            Value::Decimal("1;drop".into()),
            Value::Decimal("".into()),
            Value::Decimal("1e".into()),
            Value::Decimal(".".into()),
            Value::Typed {
                text: "x".into(),
                cast: Some("date; drop table t".into()),
            },
            Value::Typed {
                text: "x".into(),
                cast: Some("int)".into()),
            },
            Value::Typed {
                text: "x".into(),
                cast: Some("\"unterminated".into()),
            },
            Value::Typed {
                text: "x".into(),
                cast: Some("text--".into()),
            },
            Value::Typed {
                text: "x".into(),
                cast: Some("".into()),
            },
            arr(vec![Value::Int(1), Value::BigInt("x".into())]),
        ] {
            let e = quote_literal(&v, Quoting::Standard, &mut out).unwrap_err();
            assert!(
                e.to_string().starts_with("ValueError: invalid "),
                "{v:?}: {e}"
            );
            assert_eq!(out, "keep", "output untouched on error");
        }
    }

    #[test]
    fn floats() {
        assert_eq!(lit(&Value::Float(f64::NAN)), "'NaN'::float");
        assert_eq!(lit(&Value::Float(f64::INFINITY)), "'Infinity'::float");
        assert_eq!(lit(&Value::Float(f64::NEG_INFINITY)), "'-Infinity'::float");
        assert_eq!(lit(&Value::Float(-0.0)), " -0.0");
        assert_eq!(lit(&Value::Float(-1.5)), " -1.5");
        assert_eq!(lit(&Value::Float(1e16)), "1e+16");
        assert_eq!(lit(&Value::Float(1e-5)), "1e-05");
    }

    #[test]
    fn float_repr_is_pythons() {
        for (f, want) in [
            (0.0, "0.0"),
            (-0.0, "-0.0"),
            (0.1, "0.1"),
            (1.0, "1.0"),
            (2.5, "2.5"),
            (100.0, "100.0"),
            (1e20, "1e+20"),
            (1e16, "1e+16"),
            (1e15, "1000000000000000.0"),
            (9999999999999998.0, "9999999999999998.0"),
            (123456789012345.0, "123456789012345.0"),
            (1.5e16, "1.5e+16"),
            (1e22, "1e+22"),
            (1e100, "1e+100"),
            (0.0001, "0.0001"),
            (0.00001, "1e-05"),
            (0.000123, "0.000123"),
            (1.234e-5, "1.234e-05"),
            (5e-324, "5e-324"),
            (f64::MAX, "1.7976931348623157e+308"),
            (f64::MIN_POSITIVE, "2.2250738585072014e-308"),
            (1.0 / 3.0, "0.3333333333333333"),
            (0.1 + 0.2, "0.30000000000000004"),
            (123.456, "123.456"),
            (9007199254740993.0, "9007199254740992.0"),
            (12345678901234567890.0, "1.2345678901234567e+19"),
            (-1e-7, "-1e-07"),
            // ties between two shortest candidates: Python rounds to even, Rust up
            (1059438285926254.0 + 0.25, "1059438285926254.2"),
            (26363981746409.0 + 0.3125, "26363981746409.312"),
            (-108868734838530.0 - 0.125, "-108868734838530.12"),
        ] {
            assert_eq!(repr(f), want, "{f:e}");
        }
    }

    #[test]
    fn decimals() {
        for (d, want) in [
            ("1.5", "1.5"),
            ("-1.5E+3", " -1.5E+3"),
            ("0E-7", "0E-7"),
            ("-0", " -0"),
            ("1E+2", "1E+2"),
            (
                "123456789012345678901234567890.123",
                "123456789012345678901234567890.123",
            ),
            (".5", ".5"),
            ("5.", "5."),
            // psycopg2 turns every non-finite Decimal into NaN, infinities included
            ("NaN", "'NaN'::numeric"),
            ("-NaN", "'NaN'::numeric"),
            ("sNaN", "'NaN'::numeric"),
            ("NaN123", "'NaN'::numeric"),
            ("Infinity", "'NaN'::numeric"),
            ("-Infinity", "'NaN'::numeric"),
            ("-inf", "'NaN'::numeric"),
        ] {
            assert_eq!(lit(&Value::Decimal(d.into())), want, "{d}");
        }
    }

    #[test]
    fn strings() {
        assert_eq!(lit(&s("")), "''");
        assert_eq!(lit(&s("it's")), "'it''s'");
        assert_eq!(lit(&s("a\\b")), "'a\\b'");
        assert_eq!(lit(&s("it's \\ ok")), "'it''s \\ ok'");
        assert_eq!(lit(&s("''")), "''''''");
        assert_eq!(lit(&s("€😀\n\t")), "'€😀\n\t'");
        assert_eq!(lit(&s("$$; --")), "'$$; --'");
    }

    #[test]
    fn bytes() {
        assert_eq!(lit(&Value::Bytes(vec![])), "'\\x'::bytea");
        assert_eq!(lit(&Value::Bytes(b"ab".to_vec())), "'\\x6162'::bytea");
        assert_eq!(
            lit(&Value::Bytes(vec![0x00, 0x0f, 0xab, 0xff])),
            "'\\x000fabff'::bytea"
        );
    }

    #[test]
    fn typed_and_raw() {
        let t = |text: &str, cast: Option<&str>| Value::Typed {
            text: text.into(),
            cast: cast.map(String::from),
        };
        assert_eq!(lit(&t("2024-01-01", Some("date"))), "'2024-01-01'::date");
        assert_eq!(lit(&t("{\"a\": \"it's\"}", None)), "'{\"a\": \"it''s\"}'");
        assert_eq!(
            lit(&t("1 days 0.000000 seconds", Some("interval"))),
            "'1 days 0.000000 seconds'::interval"
        );
        assert_eq!(
            lit(&t("1.50", Some("numeric(10,2)"))),
            "'1.50'::numeric(10,2)"
        );
        assert_eq!(lit(&t("{1}", Some("int[]"))), "'{1}'::int[]");
        assert_eq!(
            lit(&t("x", Some("timestamp with time zone"))),
            "'x'::timestamp with time zone"
        );
        assert_eq!(
            lit(&t("x", Some("public.\"My Type\""))),
            "'x'::public.\"My Type\""
        );
        assert_eq!(
            lit(&t("x", Some("\"odd -- ; type\""))),
            "'x'::\"odd -- ; type\""
        );
        assert_eq!(lit(&Value::Raw("DEFAULT".into())), "DEFAULT");
    }

    #[test]
    fn tuples() {
        assert_eq!(lit(&Value::Tuple(vec![])), "()");
        assert_eq!(
            lit(&Value::Tuple(vec![Value::Int(42), Value::Null])),
            "(42, NULL)"
        );
        assert_eq!(
            lit(&Value::Tuple(vec![Value::Int(1), Value::Null, s("a")])),
            "(1, NULL, 'a')"
        );
        assert_eq!(lit(&Value::Tuple(vec![Value::Int(-1)])), "( -1)");
        assert_eq!(
            lit(&Value::Tuple(vec![
                Value::Tuple(vec![Value::Int(1)]),
                arr(vec![])
            ])),
            "((1), '{}')"
        );
    }

    /// Issue 13 item 4: nesting is rendered and freed without recursion, on a small
    /// stack too, and bounded by MAX_NESTING.
    #[test]
    fn deep_nesting_is_bounded_and_needs_no_stack() {
        fn nest(depth: usize, tuple: bool) -> Value {
            let mut v = Value::Int(1);
            for _ in 0..depth {
                v = if tuple {
                    Value::Tuple(vec![v])
                } else {
                    Value::Array(vec![v])
                };
            }
            v
        }
        std::thread::Builder::new()
            .stack_size(64 * 1024)
            .spawn(|| {
                let ok = lit(&nest(MAX_NESTING, false));
                assert_eq!(ok.len(), 7 * MAX_NESTING + 1);
                assert!(
                    ok.starts_with("ARRAY[ARRAY[")
                        && ok.contains("ARRAY[1]]")
                        && ok.ends_with("]]")
                );
                assert_eq!(lit(&nest(3, true)), "(((1)))");
                for tuple in [false, true] {
                    let mut s = String::from("keep");
                    let e = quote_literal(&nest(MAX_NESTING + 1, tuple), Quoting::Standard, &mut s)
                        .unwrap_err();
                    assert!(e.to_string().starts_with("RecursionError: "), "{e}");
                    assert_eq!(s, "keep");
                    // Built, rejected and dropped a million deep on a 64 KB stack.
                    assert!(
                        quote_literal(&nest(1_000_000, tuple), Quoting::Standard, &mut s).is_err()
                    );
                }
                drop(nest(1_000_000, false));
            })
            .unwrap()
            .join()
            .unwrap();
    }

    #[test]
    fn arrays() {
        let i = Value::Int;
        let n = || Value::Null;
        assert_eq!(lit(&arr(vec![])), "'{}'");
        assert_eq!(lit(&arr(vec![arr(vec![])])), "ARRAY[ARRAY[]]");
        assert_eq!(
            lit(&arr(vec![arr(vec![]), arr(vec![i(1)])])),
            "ARRAY[ARRAY[],ARRAY[1]]"
        );
        assert_eq!(lit(&arr(vec![n(), n()])), "'{NULL,NULL}'");
        assert_eq!(
            lit(&arr(vec![arr(vec![n()]), arr(vec![n()])])),
            "'{{NULL},{NULL}}'"
        );
        assert_eq!(lit(&arr(vec![n(), arr(vec![n()])])), "'{NULL,{NULL}}'");
        assert_eq!(
            lit(&arr(vec![arr(vec![n(), n()]), arr(vec![i(1), n()])])),
            "ARRAY['{NULL,NULL}',ARRAY[1,NULL]]"
        );
        assert_eq!(
            lit(&arr(vec![i(1), i(-2), Value::Float(3.5)])),
            "ARRAY[1, -2,3.5]"
        );
        assert_eq!(
            lit(&arr(vec![arr(vec![i(1), i(2)]), arr(vec![i(3), i(4)])])),
            "ARRAY[ARRAY[1,2],ARRAY[3,4]]"
        );
        assert_eq!(
            lit(&arr(vec![arr(vec![s("a")]), n()])),
            "ARRAY[ARRAY['a'],NULL]"
        );
        assert_eq!(
            lit(&arr(vec![Value::Tuple(vec![i(1), i(2)])])),
            "ARRAY[(1, 2)]"
        );
        assert_eq!(lit(&arr(vec![s("a'b"), s("\\")])), "ARRAY['a''b','\\']");
        assert_eq!(
            lit(&arr(vec![Value::Bytes(b"a".to_vec())])),
            "ARRAY['\\x61'::bytea]"
        );
        // a NULL-ish Raw is not a NULL
        assert_eq!(lit(&arr(vec![Value::Raw("NULL".into())])), "ARRAY[NULL]");
        assert_eq!(
            lit(&arr(vec![arr(vec![
                arr(vec![n(), n()]),
                arr(vec![n(), n()])
            ])])),
            "'{{{NULL,NULL},{NULL,NULL}}}'"
        );
    }

    // ---- quoting follows standard_conforming_strings --------------------------------

    fn lit_q(v: &Value, q: Quoting) -> String {
        let mut s = String::new();
        quote_literal(v, q, &mut s).unwrap();
        s
    }

    #[test]
    fn quoting_modes() {
        let hostile = "\\'; CREATE TABLE pwned(x int); --";
        let v = Value::Str(hostile.into());
        assert_eq!(
            lit_q(&v, Quoting::Standard),
            "'\\''; CREATE TABLE pwned(x int); --'"
        );
        assert_eq!(
            lit_q(&v, Quoting::Escape),
            "E'\\\\''; CREATE TABLE pwned(x int); --'"
        );
        assert_eq!(
            lit_q(&v, Quoting::Portable),
            "E'\\\\''; CREATE TABLE pwned(x int); --'"
        );
        let plain = Value::Str("it's".into());
        assert_eq!(lit_q(&plain, Quoting::Standard), "'it''s'");
        assert_eq!(lit_q(&plain, Quoting::Escape), "E'it''s'");
        assert_eq!(lit_q(&plain, Quoting::Portable), "'it''s'");
        let b = Value::Bytes(b"ab".to_vec());
        assert_eq!(lit_q(&b, Quoting::Standard), "'\\x6162'::bytea");
        assert_eq!(lit_q(&b, Quoting::Escape), "E'\\\\x6162'::bytea");
        assert_eq!(lit_q(&b, Quoting::Portable), "E'\\\\x6162'::bytea");
        let d = Value::Typed {
            text: "2024-01-01".into(),
            cast: Some("date".into()),
        };
        assert_eq!(lit_q(&d, Quoting::Escape), "'2024-01-01'::date");
        let j = Value::Typed {
            text: "{\"a\": \"\\\\\"}".into(),
            cast: Some("json".into()),
        };
        assert_eq!(lit_q(&j, Quoting::Escape), "E'{\"a\": \"\\\\\\\\\"}'::json");
        let arr = Value::Array(vec![v.clone(), Value::Null]);
        assert!(lit_q(&arr, Quoting::Escape).starts_with("ARRAY[E'"));
    }

    /// Every rendering is one literal token as the server reads it under the setting the
    /// mode is for (Escape and Portable: under both settings).
    #[test]
    fn literals_are_one_token_under_their_setting() {
        use crate::lexer::{Lexer, Tok};
        let hostile = [
            "\\'; CREATE TABLE pwned(x int); --",
            "\\",
            "a\\",
            "'\\'",
            "\\\\'",
            "x'; SELECT 1; --",
            "\\x",
            "é\\'",
        ];
        for h in hostile {
            let v = Value::Str(h.into());
            for (q, settings) in [
                (Quoting::Standard, &[true][..]),
                (Quoting::Escape, &[true, false][..]),
                (Quoting::Portable, &[true, false][..]),
            ] {
                let r = lit_q(&v, q);
                for &standard in settings {
                    let toks: Vec<Tok<'_>> = Lexer::new(&r, standard).collect();
                    assert_eq!(toks, vec![Tok::Literal], "{h:?} {q:?} scs={standard}: {r}");
                }
            }
        }
    }

    #[test]
    fn quoting_for_a_query() {
        assert_eq!(Quoting::for_query(true, "SELECT %s"), Quoting::Standard);
        assert_eq!(Quoting::for_query(false, "SELECT %s"), Quoting::Escape);
        assert_eq!(
            Quoting::for_query(true, "SET standard_conforming_strings = off; SELECT %s"),
            Quoting::Portable
        );
        assert_eq!(
            Quoting::for_query(
                true,
                "SELECT set_config('STANDARD_CONFORMING_STRINGS', %s, false)"
            ),
            Quoting::Portable
        );
        assert_eq!(
            Quoting::for_query(true, "SELECT 1; SELECT %s"),
            Quoting::Portable
        );
        assert_eq!(
            Quoting::for_query(true, "SELECT ';', %s"),
            Quoting::Standard
        );
    }

    // ---- a small SQL tokenizer for the property tests --------------------------------

    /// A token of PostgreSQL's lexer (standard_conforming_strings on).
    #[derive(Debug, Clone, PartialEq)]
    enum T {
        /// `'...'`, `E'...'` (prefix kept), with the raw body.
        Str(String, String),
        Dollar(String),
        QIdent(String),
        Ident(String),
        Num(String),
        Param(String),
        Comment(String),
        Punct(String),
    }

    fn tokenize(src: &str) -> Vec<T> {
        let c: Vec<char> = src.chars().collect();
        let mut i = 0;
        let mut out = Vec::new();
        let ident_start = |ch: char| ch.is_ascii_alphabetic() || ch == '_' || !ch.is_ascii();
        let ident_cont = |ch: char| ident_start(ch) || ch.is_ascii_digit() || ch == '$';
        let text = |a: usize, b: usize| c[a..b].iter().collect::<String>();
        while i < c.len() {
            let ch = c[i];
            let next = c.get(i + 1).copied();
            if ch.is_whitespace() {
                i += 1;
            } else if ch == '-' && next == Some('-') {
                let start = i;
                while i < c.len() && c[i] != '\n' && c[i] != '\r' {
                    i += 1;
                }
                out.push(T::Comment(text(start, i)));
            } else if ch == '/' && next == Some('*') {
                let start = i;
                let mut depth = 0;
                loop {
                    if i >= c.len() {
                        break;
                    }
                    if c[i] == '/' && c.get(i + 1) == Some(&'*') {
                        depth += 1;
                        i += 2;
                    } else if c[i] == '*' && c.get(i + 1) == Some(&'/') {
                        depth -= 1;
                        i += 2;
                        if depth == 0 {
                            break;
                        }
                    } else {
                        i += 1;
                    }
                }
                out.push(T::Comment(text(start, i)));
            } else if ch == '\'' || ((ch == 'e' || ch == 'E') && next == Some('\'')) {
                let prefix = if ch == '\'' {
                    String::new()
                } else {
                    "E".to_string()
                };
                i += if ch == '\'' { 1 } else { 2 };
                let start = i;
                loop {
                    if i >= c.len() {
                        break;
                    }
                    if !prefix.is_empty() && c[i] == '\\' {
                        i += 2;
                    } else if c[i] == '\'' {
                        if c.get(i + 1) == Some(&'\'') {
                            i += 2;
                        } else {
                            break;
                        }
                    } else {
                        i += 1;
                    }
                }
                let body = text(start, i.min(c.len()));
                i += 1;
                out.push(T::Str(prefix, body));
            } else if ch == '"' {
                i += 1;
                let start = i;
                while i < c.len() && !(c[i] == '"' && c.get(i + 1) != Some(&'"')) {
                    i += if c[i] == '"' { 2 } else { 1 };
                }
                out.push(T::QIdent(text(start, i.min(c.len()))));
                i += 1;
            } else if ch == '$' && next.is_some_and(|d| d.is_ascii_digit()) {
                let start = i;
                i += 1;
                while i < c.len() && c[i].is_ascii_digit() {
                    i += 1;
                }
                out.push(T::Param(text(start, i)));
            } else if ch == '$' {
                let mut j = i + 1;
                if j < c.len() && ident_start(c[j]) {
                    while j < c.len() && (ident_start(c[j]) || c[j].is_ascii_digit()) {
                        j += 1;
                    }
                }
                if j < c.len() && c[j] == '$' {
                    let tag = text(i, j + 1);
                    let body_start = j + 1;
                    let rest = text(body_start, c.len());
                    match rest.find(&tag) {
                        Some(k) => {
                            let body = rest[..k].to_string();
                            i = body_start + body.chars().count() + tag.chars().count();
                            out.push(T::Dollar(format!("{tag}{body}")));
                        }
                        None => {
                            out.push(T::Dollar(format!("{tag}{rest}")));
                            i = c.len();
                        }
                    }
                } else {
                    out.push(T::Punct("$".into()));
                    i += 1;
                }
            } else if ident_start(ch) {
                let start = i;
                while i < c.len() && ident_cont(c[i]) {
                    i += 1;
                }
                out.push(T::Ident(text(start, i)));
            } else if ch.is_ascii_digit() {
                let start = i;
                while i < c.len() && c[i].is_ascii_digit() {
                    i += 1;
                }
                if i < c.len() && c[i] == '.' {
                    i += 1;
                    while i < c.len() && c[i].is_ascii_digit() {
                        i += 1;
                    }
                }
                if i < c.len() && (c[i] == 'e' || c[i] == 'E') {
                    let save = i;
                    i += 1;
                    if i < c.len() && (c[i] == '+' || c[i] == '-') {
                        i += 1;
                    }
                    if i < c.len() && c[i].is_ascii_digit() {
                        while i < c.len() && c[i].is_ascii_digit() {
                            i += 1;
                        }
                    } else {
                        i = save;
                    }
                }
                out.push(T::Num(text(start, i)));
            } else if ch == ':' && next == Some(':') {
                out.push(T::Punct("::".into()));
                i += 2;
            } else {
                out.push(T::Punct(ch.to_string()));
                i += 1;
            }
        }
        out
    }

    fn is_punct(t: Option<&T>, p: &str) -> bool {
        matches!(t, Some(T::Punct(x)) if x == p)
    }

    /// `expr ('::' typename)?` from `i`; the index after it.
    fn parse_expr(t: &[T], i: usize) -> Option<usize> {
        let mut i = parse_primary(t, i)?;
        if is_punct(t.get(i), "::") {
            i += 1;
            // typename: words, quoted words, dots, (n, m), []
            let start = i;
            loop {
                match t.get(i) {
                    Some(T::Ident(_) | T::QIdent(_)) => i += 1,
                    Some(T::Punct(p)) if p == "." => i += 1,
                    Some(T::Punct(p)) if p == "(" => {
                        i += 1;
                        while matches!(t.get(i), Some(T::Num(_))) {
                            i += 1;
                            if is_punct(t.get(i), ",") {
                                i += 1;
                            }
                        }
                        if !is_punct(t.get(i), ")") {
                            return None;
                        }
                        i += 1;
                    }
                    Some(T::Punct(p)) if p == "[" && is_punct(t.get(i + 1), "]") => i += 2,
                    _ => break,
                }
            }
            if i == start {
                return None;
            }
        }
        Some(i)
    }

    fn parse_list(t: &[T], mut i: usize, close: &str) -> Option<usize> {
        if is_punct(t.get(i), close) {
            return Some(i + 1);
        }
        loop {
            i = parse_expr(t, i)?;
            if is_punct(t.get(i), ",") {
                i += 1;
            } else if is_punct(t.get(i), close) {
                return Some(i + 1);
            } else {
                return None;
            }
        }
    }

    fn parse_primary(t: &[T], i: usize) -> Option<usize> {
        match t.get(i)? {
            T::Str(..) | T::Num(_) => Some(i + 1),
            T::Punct(p) if p == "-" => matches!(t.get(i + 1), Some(T::Num(_))).then_some(i + 2),
            T::Punct(p) if p == "(" => parse_list(t, i + 1, ")"),
            T::Ident(w) if w.eq_ignore_ascii_case("array") && is_punct(t.get(i + 1), "[") => {
                parse_list(t, i + 2, "]")
            }
            T::Ident(w) if ["null", "true", "false"].contains(&w.to_ascii_lowercase().as_str()) => {
                Some(i + 1)
            }
            _ => None,
        }
    }

    fn is_one_expression(rendered: &str) -> bool {
        let t = tokenize(rendered);
        parse_expr(&t, 0) == Some(t.len())
    }

    // ---- strategies ---------------------------------------------------------------

    fn hostile_string() -> impl Strategy<Value = String> {
        prop::collection::vec(
            prop_oneof![
                3 => any::<char>().prop_filter("no NUL", |c| *c != '\0').prop_map(|c| c.to_string()),
                2 => prop::sample::select(vec![
                    "'", "''", "\\", "\\'", "$$", "$a$", "--", "/*", "*/", ";", "%", "%s", "%%", "%(a)s",
                    "\"", "E'", "\n", "\r", "$1", "::", "ARRAY[", "]", ")", "(", " ", "é", "😀",
                ])
                .prop_map(String::from),
            ],
            0..12,
        )
        .prop_map(|v| v.concat())
    }

    fn leaf() -> impl Strategy<Value = Value> {
        prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::Bool),
            any::<i64>().prop_map(Value::Int),
            "-?[1-9][0-9]{0,40}".prop_map(Value::BigInt),
            any::<f64>().prop_map(Value::Float),
            prop_oneof![
                Just(f64::NAN),
                Just(f64::INFINITY),
                Just(f64::NEG_INFINITY),
                Just(-0.0),
                -1e20f64..1e20
            ]
            .prop_map(Value::Float),
            prop_oneof![
                "-?[0-9]{1,20}(\\.[0-9]{0,10})?(E[+-][0-9]{1,3})?",
                prop::sample::select(vec!["NaN", "-NaN", "sNaN", "Infinity", "-Infinity"])
                    .prop_map(String::from),
            ]
            .prop_map(Value::Decimal),
            hostile_string().prop_map(Value::Str),
            prop::collection::vec(any::<u8>(), 0..16).prop_map(Value::Bytes),
            (
                hostile_string(),
                prop::option::of(prop::sample::select(vec![
                    "date",
                    "timestamptz",
                    "uuid",
                    "numeric(10,2)",
                    "int[]",
                    "timestamp with time zone",
                    "\"My Type\"",
                    "pg_catalog.json",
                ]))
            )
                .prop_map(|(text, cast)| Value::Typed {
                    text,
                    cast: cast.map(String::from)
                }),
        ]
    }

    fn value() -> impl Strategy<Value = Value> {
        leaf().prop_recursive(3, 24, 4, |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Tuple),
                prop::collection::vec(inner, 0..4).prop_map(Value::Array),
            ]
        })
    }

    /// Template fragments, in template form (`%%` for `%`).
    const FRAGMENTS: &[&str] = &[
        "SELECT",
        "a",
        "t.col",
        "42",
        "3.5",
        "'it''s %% 100'",
        "E'\\'%%'",
        "$$ %% ' $$",
        "$q$ x ; $q$",
        "\"Quoted %% id\"",
        "/* c %% /* nested */ */",
        "-- line %% ' \n",
        ",",
        "(",
        ")",
        ";",
        "=",
        "+",
        "::text",
        "x %% 2",
        "IN",
        "ARRAY",
        "[",
        "]",
        "$1",
        "WHERE",
    ];

    /// Operators that may stand right before a placeholder, without a space.
    const GLUED: &[&str] = &["-", "+", "*", "/", "<", "=", "|", "("];

    #[derive(Debug, Clone)]
    enum Piece {
        Fragment(&'static str),
        Placeholder(Option<&'static str>),
    }

    fn template() -> impl Strategy<Value = Vec<Piece>> {
        prop::collection::vec(
            prop_oneof![
                3 => prop::sample::select(FRAGMENTS).prop_map(Piece::Fragment),
                2 => prop::option::of(prop::sample::select(GLUED)).prop_map(Piece::Placeholder),
            ],
            1..14,
        )
    }

    /// Builds (template, expected tokens, placeholder count) with placeholders as
    /// `%s` or `%(kN)s`.
    fn build(pieces: &[Piece], values: &[Value], named: bool) -> (String, Vec<T>) {
        let mut tpl = String::new();
        let mut want = Vec::new();
        let mut k = 0;
        for p in pieces {
            match p {
                Piece::Fragment(f) => {
                    tpl.push_str(f);
                    want.extend(tokenize(&f.replace("%%", "%")));
                }
                Piece::Placeholder(glued) => {
                    if let Some(op) = glued {
                        tpl.push_str(op);
                        want.extend(tokenize(op));
                    }
                    if named {
                        let _ = write!(tpl, "%(k{})s", k % values.len().max(1));
                    } else {
                        tpl.push_str("%s");
                    }
                    want.extend(tokenize(&lit(&values[k % values.len().max(1)])));
                    k += 1;
                }
            }
            tpl.push(' ');
        }
        (tpl, want)
    }

    fn placeholders(pieces: &[Piece]) -> usize {
        pieces
            .iter()
            .filter(|p| matches!(p, Piece::Placeholder(_)))
            .count()
    }

    fn contains_nul(v: &Value) -> bool {
        match v {
            Value::Str(s) => s.contains('\0'),
            Value::Typed { text, .. } => text.contains('\0'),
            Value::Tuple(items) | Value::Array(items) => items.iter().any(contains_nul),
            _ => false,
        }
    }

    fn unquote(body: &str) -> String {
        body.replace("''", "'")
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 1500, ..ProptestConfig::default() })]

        /// Every value renders as exactly one expression: a literal, a (signed) number,
        /// NULL/true/false, ARRAY[...] or (...) of such, with an optional cast.
        #[test]
        fn value_is_one_expression(v in value()) {
            let r = lit(&v);
            prop_assert!(is_one_expression(&r), "{:?} -> {}", v, r);
            // and never starts with '-' (no `--` after a template's '-')
            prop_assert!(!r.starts_with('-'));
        }

        /// Positional: the statement's tokens are the template's with each placeholder
        /// replaced by the tokens of one value.
        #[test]
        fn structure_is_preserved_positional(pieces in template(), values in prop::collection::vec(value(), 1..6)) {
            let n = placeholders(&pieces);
            let vals: Vec<Value> = (0..n).map(|i| values[i % values.len()].clone()).collect();
            let (tpl, want) = build(&pieces, &vals, false);
            let got = pos(&tpl, &vals).unwrap();
            prop_assert_eq!(tokenize(&got), want, "template {:?} rendered {:?}", tpl, got);
            // statement boundaries come from the template only
            let nulls = vec![Value::Null; n];
            let skeleton = pos(&tpl, &nulls).unwrap();
            prop_assert_eq!(has_multiple_statements(&got, true), has_multiple_statements(&skeleton, true));
            // values never hide session state from the scan (a tuple after a name may
            // look like a call: more, never less)
            let (g, k) = (crate::session::scan(&got, true), crate::session::scan(&skeleton, true));
            prop_assert!(g.contains(k), "{:?} -> {:?}, skeleton {:?}", got, g, k);
        }

        /// The same with `%(name)s` placeholders (names repeat).
        #[test]
        fn structure_is_preserved_named(pieces in template(), values in prop::collection::vec(value(), 1..4)) {
            let (tpl, want) = build(&pieces, &values, true);
            let pairs: Vec<(String, Value)> =
                values.iter().enumerate().map(|(i, v)| (format!("k{i}"), v.clone())).collect();
            let got = interpolate(&tpl, Some(Params::Named(&pairs)), Quoting::Standard).unwrap();
            prop_assert_eq!(tokenize(&got), want, "template {:?} rendered {:?}", tpl, got);
        }

        /// Strings, bytes and numbers come back unchanged from the literal.
        #[test]
        fn literals_round_trip(text in hostile_string(), data in prop::collection::vec(any::<u8>(), 0..32),
                               i in any::<i64>(), f in any::<f64>()) {
            let t = tokenize(&lit(&Value::Str(text.clone())));
            prop_assert_eq!(t.len(), 1);
            match &t[0] {
                T::Str(prefix, body) => {
                    prop_assert_eq!(prefix.as_str(), "");
                    prop_assert_eq!(unquote(body), text);
                }
                other => prop_assert!(false, "not a string: {:?}", other),
            }
            let b = lit(&Value::Bytes(data.clone()));
            let hex = b.strip_prefix("'\\x").and_then(|r| r.strip_suffix("'::bytea")).unwrap();
            let back: Vec<u8> = (0..hex.len()).step_by(2).map(|k| u8::from_str_radix(&hex[k..k + 2], 16).unwrap()).collect();
            prop_assert_eq!(back, data);
            prop_assert_eq!(lit(&Value::Int(i)).trim_start().parse::<i64>().unwrap(), i);
            let fr = lit(&Value::Float(f));
            if f.is_finite() {
                prop_assert_eq!(fr.trim_start().parse::<f64>().unwrap().to_bits(), f.to_bits());
            } else {
                prop_assert!(fr.ends_with("::float"));
            }
        }

        /// A NUL in any value a placeholder uses is an error, never a statement.
        #[test]
        fn nul_is_always_an_error(v in value(), at in any::<prop::sample::Index>(), wrap in 0..3u8) {
            let mut bad = match &v {
                Value::Str(s) => { let k = at.index(s.chars().count() + 1); let mut c: Vec<char> = s.chars().collect(); c.insert(k, '\0'); Value::Str(c.into_iter().collect()) }
                _ => Value::Str(format!("x\0{}", lit(&v))),
            };
            for _ in 0..wrap {
                bad = Value::Array(vec![v.clone(), bad]);
            }
            prop_assert!(contains_nul(&bad));
            let r = pos("SELECT %s", &[bad]);
            prop_assert!(matches!(&r, Err(Error::InvalidParameter(m)) if m.starts_with("ValueError: ")), "{:?}", r);
        }

        /// The scans never panic, whatever the input.
        #[test]
        fn scans_total(sql in "\\PC*", extra in hostile_string()) {
            let sql = format!("{sql}{extra}");
            let _ = has_multiple_statements(&sql, true);
            let _ = has_multiple_statements(&sql, false);
            let _ = crate::session::scan(&sql, false);
            let _ = crate::session::changes_session_state(&sql);
            let _ = interpolate(&sql, Some(Params::Positional(&[Value::Int(1)])), Quoting::Standard);
            let _ = interpolate(&sql, Some(Params::Named(&[("a".to_string(), Value::Int(1))])), Quoting::Portable);
        }

        /// Interpolation never panics on arbitrary templates built from '%' soup.
        #[test]
        fn interpolate_total(q in prop::collection::vec(prop::sample::select(vec![
            "%", "s", "(", ")", "a", "%%", "%s", "%(a)s", "é", "d", " ", "%(", "'"]), 0..12),
            vals in prop::collection::vec(leaf(), 0..3)) {
            let q = q.concat();
            let _ = pos(&q, &vals);
            let pairs: Vec<(String, Value)> = vals.iter().map(|v| ("a".to_string(), v.clone())).collect();
            let _ = interpolate(&q, Some(Params::Named(&pairs)), Quoting::Escape);
        }
    }
}
