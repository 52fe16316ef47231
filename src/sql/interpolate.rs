//! psycopg2's two passes (`_mogrify`, then `Bytes_Format`): placeholders found, values adapted,
//! the statement written.
#![forbid(unsafe_code)]

use std::collections::HashMap;

use super::adapt::render;
use super::{err, Params, Quoting, Value, NUL_IN_QUERY};
use crate::error::{ParamErrorKind, Result};

// ---------------------------------------------------------------------------------------
// Interpolation
// ---------------------------------------------------------------------------------------

/// Renders `query` with `params` exactly as psycopg2's `cursor.execute` / `mogrify` does
/// (see the module docs), literals written for `q`. `None` params: no `%` processing at
/// all.
pub fn interpolate(query: &str, params: Option<Params<'_>>, q: Quoting) -> Result<String> {
    if query.is_empty() {
        return Err(err(
            ParamErrorKind::Programming,
            "can't execute an empty query",
        ));
    }
    if query.as_bytes().contains(&0) {
        return Err(err(ParamErrorKind::Value, NUL_IN_QUERY));
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
pub(super) enum Converted<'q> {
    /// A tuple as long as the parameter sequence; the first slots are filled.
    Tuple(Vec<Option<String>>),
    /// The keys the query used, each adapted once.
    Dict(HashMap<&'q str, String>),
}

/// Looks keys up in `Params::Named` (last pair wins), with a map for larger mappings.
pub(super) struct Named<'a> {
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
pub(super) fn mogrify<'q>(
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
                    return Err(err(
                        ParamErrorKind::Programming,
                        "argument formats can't be mixed",
                    ));
                }
                kind = 1;
                let mut d = i + 1;
                while d < n && q[d] != b')' && q[d] != b'%' {
                    d += 1;
                }
                if d >= n || q[d] != b')' {
                    return Err(err(
                        ParamErrorKind::Programming,
                        "incomplete placeholder: '%(' without ')'",
                    ));
                }
                let key = &query[i + 1..d];
                let value = match &named {
                    Some(named) => named
                        .get(key)
                        .ok_or_else(|| err(ParamErrorKind::Key, key))?,
                    None => {
                        return Err(err(
                            ParamErrorKind::Type,
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
                    return Err(err(
                        ParamErrorKind::Programming,
                        "argument formats can't be mixed",
                    ));
                }
                kind = 2;
                let values = match params {
                    Params::Positional(v) => v,
                    Params::Named(_) => {
                        return Err(err(ParamErrorKind::Type, "dict is not a sequence"))
                    }
                };
                let value = values
                    .get(index)
                    .ok_or_else(|| err(ParamErrorKind::Index, "tuple index out of range"))?;
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
pub(super) enum Arg<'c> {
    Tuple(&'c [Option<String>]),
    Dict,
    Item(&'c str),
}

/// psycopg2's `Bytes_Format` (Python 2's `bytes % args` limited to `%s` and `%%`),
/// including the re-mapping of `_psyco_curs_merge_query_args`.
pub(super) fn bytes_format(query: &str, conv: &Converted<'_>) -> Result<String> {
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
                return Err(err(ParamErrorKind::Type, "format requires a mapping"));
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
                return Err(err(ParamErrorKind::Value, "incomplete format key"));
            }
            let key = &query[keystart..p - 1];
            let value = dict.get(key).ok_or_else(|| err(ParamErrorKind::Key, key))?;
            args = Arg::Item(value);
            arglen = -1;
            argidx = -2;
        }
        if p >= n {
            return Err(err(ParamErrorKind::Value, "incomplete format"));
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
                        ParamErrorKind::Programming,
                        "not enough arguments for format string",
                    ));
                }
                let this = argidx;
                argidx += 1;
                let v: &str = if arglen < 0 {
                    match args {
                        Arg::Item(s) => s,
                        Arg::Dict => {
                            return Err(err(
                                ParamErrorKind::Value,
                                "only bytes values expected, got dict",
                            ))
                        }
                        Arg::Tuple(_) => {
                            return Err(err(
                                ParamErrorKind::Value,
                                "only bytes values expected, got tuple",
                            ))
                        }
                    }
                } else {
                    match args {
                        Arg::Tuple(t) => match &t[this as usize] {
                            Some(s) => s,
                            None => {
                                return Err(err(
                                    ParamErrorKind::Programming,
                                    "not enough arguments for format string",
                                ))
                            }
                        },
                        _ => {
                            return Err(err(
                                ParamErrorKind::Value,
                                "only bytes values expected, got bytes",
                            ))
                        }
                    }
                };
                out.push_str(v);
            }
            c if c.is_ascii() => {
                return Err(err(
                    ParamErrorKind::Value,
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
                    ParamErrorKind::Overflow,
                    "character argument not in range(0x110000)",
                ));
            }
        }
        if dict.is_some() && argidx < arglen && c != b'%' {
            return Err(err(
                ParamErrorKind::SurplusValues,
                "not all arguments converted during string formatting",
            ));
        }
    }
    if argidx < arglen && dict.is_none() {
        return Err(err(
            ParamErrorKind::SurplusValues,
            "not all arguments converted during string formatting",
        ));
    }
    Ok(out)
}
