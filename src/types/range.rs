//! Range types: `[lo,hi)` text.
#![forbid(unsafe_code)]

use std::borrow::Cow;

use super::{error, shown, ParseError, ParseErrorKind};

// ------------------------------------------------------------------------------------------
// ranges
// ------------------------------------------------------------------------------------------

/// A non-empty range: bounds as text (cast each with [`RangeKind::bound_typecast`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PgRange<'a> {
    /// Lower bound text; `None` if unbounded (`(,5)`). Quotes and escapes removed.
    pub lower: Option<Cow<'a, [u8]>>,
    /// Upper bound text; `None` if unbounded.
    pub upper: Option<Cow<'a, [u8]>>,
    /// `[` (true) or `(` (false).
    pub lower_inc: bool,
    /// `]` (true) or `)` (false).
    pub upper_inc: bool,
}

impl PgRange<'_> {
    /// The bounds as psycopg2's `Range(..., bounds=...)` wants them: `"[)"`, `"(]"`, ...
    pub const fn bounds(&self) -> &'static str {
        match (self.lower_inc, self.upper_inc) {
            (true, true) => "[]",
            (true, false) => "[)",
            (false, true) => "(]",
            (false, false) => "()",
        }
    }
}

/// A range value: psycopg2 builds `Range(lower, upper, bounds)` or `Range(empty=True)`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RangeValue<'a> {
    /// `empty`.
    Empty,
    /// Anything else.
    Range(PgRange<'a>),
}

#[cold]
#[inline(never)]
pub(super) fn range_error(s: &[u8]) -> ParseError {
    error(
        ParseErrorKind::InterfaceError,
        format!("failed to parse range: '{}'", shown(s)),
    )
}

/// Parses a range (`[1,3)`, `(,)`, `empty`, `["2020-01-01 00:00:00+00",)`,
/// `[2020-01-01,infinity)`). An empty unquoted bound is unbounded (`None`); a quoted one is
/// the empty string. Inside quotes `""` and `\x` stand for `"` and `x` (the server doubles
/// both; psycopg2 undoubles them). Malformed: InterfaceError "failed to parse range: '...'".
pub fn parse_range(s: &[u8]) -> Result<RangeValue<'_>, ParseError> {
    if s == b"empty" {
        return Ok(RangeValue::Empty);
    }
    let lower_inc = match s.first() {
        Some(b'[') => true,
        Some(b'(') => false,
        _ => return Err(range_error(s)),
    };
    let upper_inc = match s.last() {
        Some(b']') if s.len() >= 2 => true,
        Some(b')') if s.len() >= 2 => false,
        _ => return Err(range_error(s)),
    };
    let inner = &s[1..s.len() - 1];
    let (lower, next) = range_bound(inner, 0, b',').ok_or_else(|| range_error(s))?;
    if inner.get(next) != Some(&b',') {
        return Err(range_error(s));
    }
    let (upper, end) = range_bound(inner, next + 1, 0).ok_or_else(|| range_error(s))?;
    if end != inner.len() {
        return Err(range_error(s));
    }
    Ok(RangeValue::Range(PgRange {
        lower,
        upper,
        lower_inc,
        upper_inc,
    }))
}

/// One bound at `s[i..]`, ending at `stop` (or at the end of `s`).
#[allow(clippy::type_complexity)]
pub(super) fn range_bound(s: &[u8], i: usize, stop: u8) -> Option<(Option<Cow<'_, [u8]>>, usize)> {
    let n = s.len();
    if s.get(i) != Some(&b'"') {
        let mut j = i;
        while j < n && s[j] != stop && s[j] != b'"' && s[j] != b'\\' {
            j += 1;
        }
        if j < n && s[j] != stop {
            return None;
        }
        return Some(((j > i).then(|| Cow::Borrowed(&s[i..j])), j));
    }
    // Quoted: fast path without doubled quotes or escapes.
    let body = i + 1;
    let mut j = body;
    while j < n && s[j] != b'"' && s[j] != b'\\' {
        j += 1;
    }
    if j < n && s[j] == b'"' && s.get(j + 1) != Some(&b'"') {
        return Some((Some(Cow::Borrowed(&s[body..j])), j + 1));
    }
    let mut out = s[body..j].to_vec();
    loop {
        match *s.get(j)? {
            b'\\' => {
                out.push(*s.get(j + 1)?);
                j += 2;
            }
            b'"' if s.get(j + 1) == Some(&b'"') => {
                out.push(b'"');
                j += 2;
            }
            b'"' => return Some((Some(Cow::Owned(out)), j + 1)),
            c => {
                out.push(c);
                j += 1;
            }
        }
    }
}
