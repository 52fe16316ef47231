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
//! # Errors: the Python exception psycopg2 raises
//! Every error is [`Error::Param`]: a [`ParamErrorKind`] naming the exception psycopg2
//! raises and its single argument (`str(exc)`; for `KeyError`, the missing key itself,
//! unquoted, so the face raises `KeyError(argument)` and Python prints `KeyError:
//! 'name'`); displayed as `"<Class>: <argument>"`. The classes used:
//!
//! | class | when (psycopg2's message) |
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
//! psycopg2 names the
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

use crate::error::Error;
pub use crate::error::{ParamError, ParamErrorKind};

mod adapt;
mod interpolate;
#[cfg(test)]
mod tests;

pub use self::adapt::*;
pub use self::interpolate::*;

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

fn err(kind: ParamErrorKind, message: impl std::fmt::Display) -> Error {
    Error::Param(ParamError {
        kind,
        message: message.to_string(),
    })
}

const NUL_IN_LITERAL: &str = "A string literal cannot contain NUL (0x00) characters.";
const NUL_IN_QUERY: &str = "the query contains NUL (0x00) characters";
