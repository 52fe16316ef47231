//! Arrays: `{...}` text, walked without recursion.
#![forbid(unsafe_code)]

use std::borrow::Cow;

use super::{array_error, eat, ParseError};

// ------------------------------------------------------------------------------------------
// arrays
// ------------------------------------------------------------------------------------------

/// Most braces deep an array may nest (psycopg2: the outer braces plus 16 levels;
/// PostgreSQL itself allows 6 dimensions).
pub const MAX_ARRAY_DEPTH: usize = 17;

/// A parsed array literal: the outermost value is always [`ArrayValue::Array`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ArrayValue<'a> {
    /// A leaf. `None` is SQL NULL (an *unquoted* `NULL`, any case); `Some` is the element's
    /// text without quotes and backslashes (a quoted `"NULL"` is the string `NULL`). Borrowed
    /// from the input unless the element contained escapes.
    Element(Option<Cow<'a, [u8]>>),
    /// A (sub-)array: psycopg2 returns a `list`.
    Array(Vec<ArrayValue<'a>>),
}

/// What [`walk_array`] reports, in document order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ArrayEvent<'a> {
    /// `{`: a (sub-)array starts, the outermost one included.
    Begin,
    /// `}`: the innermost open array ends.
    End,
    /// An element, as in [`ArrayValue::Element`].
    Element(Option<Cow<'a, [u8]>>),
}

/// PostgreSQL's `scanner_isspace`.
#[inline(always)]
pub(super) fn is_space(c: u8) -> bool {
    matches!(c, b' ' | b'\t' | b'\n' | b'\r' | 0x0B | 0x0C)
}

#[inline(always)]
pub(super) fn skip_space(s: &[u8], mut i: usize) -> usize {
    while i < s.len() && is_space(s[i]) {
        i += 1;
    }
    i
}

/// Parses an array literal (`{1,2,NULL}`, `{{1,2},{3,4}}`, `{}`, `{"a b","q\"x",NULL}`,
/// `[0:1]={1,2}`, `{(1,1),(0,0);(2,2),(1,1)}` with `delim = b';'`) into nested
/// [`ArrayValue`]s. See [`walk_array`] for the rules.
pub fn parse_array(text: &[u8], delim: u8) -> Result<ArrayValue<'_>, ParseError> {
    let mut stack: Vec<Vec<ArrayValue<'_>>> = Vec::new();
    let mut done: Option<ArrayValue<'_>> = None;
    walk_array(text, delim, |ev| -> Result<(), ParseError> {
        match ev {
            ArrayEvent::Begin => stack.push(Vec::new()),
            ArrayEvent::Element(e) => {
                if let Some(top) = stack.last_mut() {
                    top.push(ArrayValue::Element(e));
                }
            }
            ArrayEvent::End => {
                let items = stack.pop().unwrap_or_default();
                match stack.last_mut() {
                    Some(parent) => parent.push(ArrayValue::Array(items)),
                    None => done = Some(ArrayValue::Array(items)),
                }
            }
        }
        Ok(())
    })?;
    Ok(done.unwrap_or(ArrayValue::Array(Vec::new())))
}

/// Scans an array literal calling `on` for each brace and element, without building a tree
/// (the Python face builds its lists directly from the events). Matches psycopg2's
/// `typecast_array.c` on everything the server sends:
/// * a leading dimension decoration (`[0:1]=`, `[1:2][2:3]=`) is skipped, the bounds are
///   ignored (psycopg2 returns plain nested lists);
/// * an unquoted `NULL` (any case) is NULL, a quoted `"NULL"` is a string;
/// * `"..."` quoting and `\` escapes are removed; whitespace around elements is ignored
///   (PostgreSQL's `array_in` rules);
/// * `{}` is an empty array; nesting beyond [`MAX_ARRAY_DEPTH`] is a DataError
///   "excessive array dimensions", as are unbalanced braces and junk after the array.
pub fn walk_array<'a, E, F>(text: &'a [u8], delim: u8, mut on: F) -> Result<(), E>
where
    E: From<ParseError>,
    F: FnMut(ArrayEvent<'a>) -> Result<(), E>,
{
    let s = text;
    let n = s.len();
    let mut i = skip_space(s, 0);
    if s.get(i) == Some(&b'[') {
        // "[lo:hi][lo:hi]=": skip every bracketed group, then '='.
        while s.get(i) == Some(&b'[') {
            match s[i..].iter().position(|&c| c == b']') {
                Some(p) => i += p + 1,
                None => return Err(array_error("array does not start with '{'", s).into()),
            }
            i = skip_space(s, i);
        }
        if !eat(s, &mut i, b'=') {
            return Err(array_error("array does not start with '{'", s).into());
        }
        i = skip_space(s, i);
    }
    if !eat(s, &mut i, b'{') {
        return Err(array_error("array does not start with '{'", s).into());
    }
    on(ArrayEvent::Begin)?;
    let mut depth = 1usize;
    // After '{' (an element, '{' or '}' may follow) / after a delimiter (an element or '{'
    // must follow) / after an element or '}' (a delimiter or '}' must follow).
    let mut after_open = true;
    let mut need_value = false;
    loop {
        i = skip_space(s, i);
        let Some(&c) = s.get(i) else {
            return Err(array_error("unbalanced braces in array", s).into());
        };
        if after_open || need_value {
            if c == b'{' {
                depth += 1;
                if depth > MAX_ARRAY_DEPTH {
                    return Err(array_error("excessive array dimensions", s).into());
                }
                on(ArrayEvent::Begin)?;
                i += 1;
                after_open = true;
                need_value = false;
                continue;
            }
            if !(c == b'}' && after_open) {
                if c == b'}' || c == delim {
                    return Err(array_error("malformed array", s).into());
                }
                let (elem, next) = scan_element(s, i, delim)?;
                on(ArrayEvent::Element(elem))?;
                i = next;
                after_open = false;
                need_value = false;
                continue;
            }
        } else if c == delim {
            i += 1;
            need_value = true;
            continue;
        } else if c != b'}' {
            return Err(array_error("malformed array", s).into());
        }
        // c == '}'
        i += 1;
        on(ArrayEvent::End)?;
        depth -= 1;
        if depth == 0 {
            if skip_space(s, i) != n {
                return Err(array_error("unbalanced braces in array", s).into());
            }
            return Ok(());
        }
        after_open = false;
        need_value = false;
    }
}

/// One element starting at `s[i]` (not whitespace, not a delimiter or brace). Returns the
/// element and the index of the delimiter or `}` that ends it.
#[inline]
#[allow(clippy::type_complexity)]
pub(super) fn scan_element(
    s: &[u8],
    i: usize,
    delim: u8,
) -> Result<(Option<Cow<'_, [u8]>>, usize), ParseError> {
    let n = s.len();
    if s[i] == b'"' {
        let body = i + 1;
        let mut j = body;
        while j < n && s[j] != b'"' && s[j] != b'\\' {
            j += 1;
        }
        if j < n && s[j] == b'"' {
            let k = skip_space(s, j + 1);
            if k < n && (s[k] == delim || s[k] == b'}') {
                return Ok((Some(Cow::Borrowed(&s[body..j])), k));
            }
        }
        return scan_element_slow(s, i, delim);
    }
    let mut j = i;
    while j < n {
        let c = s[j];
        if c == delim || c == b'}' {
            break;
        }
        if matches!(c, b'\\' | b'"' | b'{') {
            return scan_element_slow(s, i, delim);
        }
        j += 1;
    }
    if j == n {
        return Err(array_error("unbalanced braces in array", s));
    }
    let mut end = j;
    while end > i && is_space(s[end - 1]) {
        end -= 1;
    }
    let tok = &s[i..end];
    if tok.eq_ignore_ascii_case(b"NULL") {
        Ok((None, j))
    } else {
        Ok((Some(Cow::Borrowed(tok)), j))
    }
}

/// The general case: quotes anywhere, backslash escapes (never NULL: it has quotes or
/// escapes).
#[cold]
#[allow(clippy::type_complexity)]
pub(super) fn scan_element_slow(
    s: &[u8],
    mut i: usize,
    delim: u8,
) -> Result<(Option<Cow<'_, [u8]>>, usize), ParseError> {
    let mut out = Vec::new();
    let mut keep = 0; // length without trailing unquoted, unescaped whitespace
    let mut in_quotes = false;
    loop {
        let Some(&c) = s.get(i) else {
            return Err(array_error("unbalanced braces in array", s));
        };
        match c {
            b'\\' => {
                let Some(&e) = s.get(i + 1) else {
                    return Err(array_error("malformed array", s));
                };
                out.push(e);
                keep = out.len();
                i += 2;
                continue;
            }
            b'"' => {
                in_quotes = !in_quotes;
                keep = out.len();
            }
            _ if in_quotes => {
                out.push(c);
                keep = out.len();
            }
            _ if c == delim || c == b'}' => break,
            b'{' => return Err(array_error("malformed array", s)),
            _ => {
                out.push(c);
                if !is_space(c) {
                    keep = out.len();
                }
            }
        }
        i += 1;
    }
    out.truncate(keep);
    Ok((Some(Cow::Owned(out)), i))
}
