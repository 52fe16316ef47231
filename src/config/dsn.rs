//! libpq connection strings: `keyword=value` lists and `postgresql://` URIs, parsed into
//! `(keyword, value)` pairs.
#![forbid(unsafe_code)]

use super::keywords::{is_known_keyword, is_secret};
use crate::error::{Error, Result};

// ---------------------------------------------------------------------------------------
// DSN parsing

/// Parses a libpq connection string into `(keyword, value)` pairs, in order.
///
/// Two forms, as libpq:
/// - keyword/value: `host=db port=5432 dbname='my db'`: spaces around `=` allowed, values
///   single-quoted when they contain spaces (`''` is empty), `\'` and `\\` escapes (a
///   backslash escapes any character, quoted or not);
/// - URI: `postgresql://[user[:password]@][host][:port][,host[:port]...][/dbname][?k=v&...]`
///   (or `postgres://`), every part percent-decoded; `[::1]` IPv6 hosts; a host that decodes
///   to a path (`%2Fvar%2Frun%2Fpostgresql`) is a Unix socket directory; query parameters
///   are keywords (`ssl=true` means `sslmode=require`, as in libpq). Multiple hosts give
///   comma-separated `host` and `port` values, as in libpq. SQLAlchemy's
///   `postgresql+driver://` scheme is accepted too (the driver is ignored). Unlike libpq, the
///   user information ends at the *last* `@` before the first `/`, so an unencoded `@` in a
///   password does not leak part of it into the host name.
///
/// Unknown keywords fail with `Error::config(keyword, "unknown connection option")`; syntax
/// errors with setting `dsn`. Errors never contain a password.
pub fn parse_dsn(dsn: &str) -> Result<Vec<(String, String)>> {
    let dsn = dsn.trim();
    match uri_prefix_len(dsn) {
        Some(prefix) => parse_uri(dsn, prefix),
        None => parse_kv(dsn),
    }
}

/// The length of `postgresql://`, `postgres://` or `postgresql+driver://` at the start of
/// `s`, if it starts with one.
pub(super) fn uri_prefix_len(s: &str) -> Option<usize> {
    for scheme in ["postgresql", "postgres"] {
        let Some(rest) = s.strip_prefix(scheme) else {
            continue;
        };
        if rest.starts_with("://") {
            return Some(scheme.len() + 3);
        }
        if let Some(driver) = rest.strip_prefix('+') {
            if let Some(end) = driver.find("://") {
                let name = &driver[..end];
                if !name.is_empty() && name.bytes().all(|c| c.is_ascii_alphanumeric() || c == b'_')
                {
                    return Some(scheme.len() + 1 + end + 3);
                }
            }
        }
    }
    None
}

/// C's `isspace`.
pub(super) fn is_space(c: char) -> bool {
    matches!(c, ' ' | '\t' | '\n' | '\x0b' | '\x0c' | '\r')
}

/// libpq's `conninfo_parse`.
pub(super) fn parse_kv(s: &str) -> Result<Vec<(String, String)>> {
    let c: Vec<char> = s.chars().collect();
    let n = c.len();
    let mut i = 0;
    let mut out: Vec<(String, String)> = Vec::new();
    // The previous value was a secret: a stray word now may be the rest of it (an unquoted
    // password with a space), so errors do not echo it.
    let mut after_secret = false;
    while i < n {
        if is_space(c[i]) {
            i += 1;
            continue;
        }
        let start = i;
        while i < n && c[i] != '=' && !is_space(c[i]) {
            i += 1;
        }
        let key: String = c[start..i].iter().collect();
        while i < n && is_space(c[i]) {
            i += 1;
        }
        if i >= n || c[i] != '=' {
            return Err(if after_secret {
                Error::config(
                    "dsn",
                    "missing \"=\" after the word following a password \
                     (quote values containing spaces: password='...')",
                )
            } else {
                Error::config(
                    "dsn",
                    format!("missing \"=\" after \"{key}\" in connection info string"),
                )
            });
        }
        i += 1;
        while i < n && is_space(c[i]) {
            i += 1;
        }
        let mut value = String::new();
        if i < n && c[i] == '\'' {
            i += 1;
            loop {
                if i >= n {
                    return Err(Error::config(
                        "dsn",
                        format!("unterminated quoted string in connection info string (value of \"{key}\")"),
                    ));
                }
                match c[i] {
                    '\\' => {
                        i += 1;
                        if i < n {
                            value.push(c[i]);
                            i += 1;
                        }
                    }
                    '\'' => {
                        i += 1;
                        break;
                    }
                    ch => {
                        value.push(ch);
                        i += 1;
                    }
                }
            }
        } else {
            while i < n && !is_space(c[i]) {
                if c[i] == '\\' {
                    i += 1;
                    if i < n {
                        value.push(c[i]);
                        i += 1;
                    }
                } else {
                    value.push(c[i]);
                    i += 1;
                }
            }
        }
        if key.is_empty() {
            return Err(Error::config(
                "dsn",
                "missing keyword before \"=\" in connection info string",
            ));
        }
        if !is_known_keyword(&key) {
            return Err(if after_secret {
                Error::config(
                    "dsn",
                    "unknown connection option after a password \
                     (quote values containing spaces: password='...')",
                )
            } else {
                Error::config(key, "unknown connection option")
            });
        }
        after_secret = is_secret(&key);
        out.push((key, value));
    }
    Ok(out)
}

pub(super) fn hex_digit(c: u8) -> Option<u8> {
    match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        b'A'..=b'F' => Some(c - b'A' + 10),
        _ => None,
    }
}

/// libpq's `conninfo_uri_decode`: percent-decoding, leading and trailing spaces dropped,
/// other spaces rejected, `%00` rejected. `what` names the part for errors; a `secret`
/// part is never quoted in them.
pub(super) fn uri_decode(s: &str, what: &str, secret: bool) -> Result<String> {
    let shown = |msg: &str| {
        if secret {
            Error::config("dsn", format!("{msg} in the {what} of the URI"))
        } else {
            Error::config("dsn", format!("{msg} in the {what} of the URI: \"{s}\""))
        }
    };
    let b = s.as_bytes();
    let mut i = 0;
    while i < b.len() && b[i] == b' ' {
        i += 1;
    }
    let mut out = Vec::with_capacity(b.len());
    while i < b.len() && b[i] != b' ' {
        if b[i] == b'%' {
            let hi = b.get(i + 1).copied().and_then(hex_digit);
            let lo = b.get(i + 2).copied().and_then(hex_digit);
            match (hi, lo) {
                (Some(hi), Some(lo)) => {
                    let v = (hi << 4) | lo;
                    if v == 0 {
                        return Err(shown("forbidden value %00"));
                    }
                    out.push(v);
                    i += 3;
                }
                _ => return Err(shown("invalid percent-encoded token")),
            }
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    while i < b.len() && b[i] == b' ' {
        i += 1;
    }
    if i < b.len() {
        return Err(shown(
            "unexpected spaces (use percent-encoded spaces, %20, instead)",
        ));
    }
    String::from_utf8(out).map_err(|_| shown("invalid UTF-8 after percent-decoding"))
}

/// The end (the `@`) of the user information of a URI whose authority starts at `start`.
///
/// libpq takes the first `@` before the first `/`. pgpool takes the *last* one, so an
/// unencoded `@` in a user name (`user@server`, as Azure names users) or in a password
/// still parses, and skips any `@` inside a query parameter value (a `?` followed by `=`
/// before the `@`: `postgresql://host?user=me@example.com`), which libpq would take as
/// the end of a user name.
pub(super) fn uri_userinfo_end(uri: &str, start: usize) -> Option<usize> {
    let s = &uri[start..];
    let authority_end = s.find('/').unwrap_or(s.len());
    let mut at = s[..authority_end].rfind('@')?;
    if let Some(q) = s[..at].find('?') {
        if s[q..at].contains('=') {
            at = s[..q].rfind('@')?;
        }
    }
    Some(start + at)
}

/// libpq's `conninfo_uri_parse_options`.
pub(super) fn parse_uri(uri: &str, prefix: usize) -> Result<Vec<(String, String)>> {
    let b = uri.as_bytes();
    let n = b.len();
    let mut out: Vec<(String, String)> = Vec::new();
    let mut p = prefix;

    if let Some(at) = uri_userinfo_end(uri, prefix) {
        let userinfo = &uri[prefix..at];
        let (user, password) = match userinfo.find(':') {
            Some(colon) => (&userinfo[..colon], Some(&userinfo[colon + 1..])),
            None => (userinfo, None),
        };
        if !user.is_empty() {
            out.push(("user".into(), uri_decode(user, "user name", false)?));
        }
        if let Some(password) = password.filter(|p| !p.is_empty()) {
            out.push(("password".into(), uri_decode(password, "password", true)?));
        }
        p = at + 1;
    }

    // host[:port] pairs, separated by commas.
    let mut hostbuf = String::new();
    let mut portbuf = String::new();
    let at = |i: usize| if i < n { b[i] } else { 0 };
    let mut prev;
    loop {
        if at(p) == b'[' {
            p += 1;
            let start = p;
            while p < n && b[p] != b']' {
                p += 1;
            }
            if p >= n {
                return Err(Error::config(
                    "dsn",
                    "end of string reached when looking for matching \"]\" in IPv6 host address in URI",
                ));
            }
            if p == start {
                return Err(Error::config(
                    "dsn",
                    "IPv6 host address may not be empty in URI",
                ));
            }
            hostbuf.push_str(&uri[start..p]);
            p += 1;
            if !matches!(at(p), 0 | b':' | b'/' | b'?' | b',') {
                let ch = uri[p..].chars().next().unwrap_or('?');
                return Err(Error::config(
                    "dsn",
                    format!(
                        "unexpected character \"{ch}\" at position {} in URI (expected \":\" or \"/\")",
                        p + 1
                    ),
                ));
            }
        } else {
            let start = p;
            while !matches!(at(p), 0 | b':' | b'/' | b'?' | b',') {
                p += 1;
            }
            hostbuf.push_str(&uri[start..p]);
        }
        prev = at(p);
        if prev == b':' {
            p += 1;
            let start = p;
            while !matches!(at(p), 0 | b'/' | b'?' | b',') {
                p += 1;
            }
            portbuf.push_str(&uri[start..p]);
            prev = at(p);
        }
        if prev != b',' {
            break;
        }
        p += 1;
        hostbuf.push(',');
        portbuf.push(',');
    }
    if !hostbuf.is_empty() {
        out.push(("host".into(), uri_decode(&hostbuf, "host", false)?));
    }
    if !portbuf.is_empty() {
        let ports = uri_decode(&portbuf, "port", false)?;
        // A port that is not a number is most likely part of a password holding an
        // unencoded '/', so it is not quoted.
        if !ports
            .split(',')
            .all(|s| s.trim().bytes().all(|c| c.is_ascii_digit()))
        {
            return Err(Error::config(
                "dsn",
                "invalid port number in URI (percent-encode '/', '@' and '?' in user names and passwords)",
            ));
        }
        out.push(("port".into(), ports));
    }

    if prev == b'/' {
        p += 1;
        let start = p;
        while p < n && b[p] != b'?' {
            p += 1;
        }
        let dbname = &uri[start..p];
        // An empty dbname is not stored, so PGDATABASE still applies (as libpq).
        if !dbname.is_empty() {
            out.push(("dbname".into(), uri_decode(dbname, "database name", false)?));
        }
        prev = at(p);
    }

    if prev == b'?' {
        parse_uri_params(&uri[p + 1..], &mut out)?;
    }
    Ok(out)
}

/// libpq's `conninfo_uri_parse_params`.
pub(super) fn parse_uri_params(mut params: &str, out: &mut Vec<(String, String)>) -> Result<()> {
    // After a secret, a malformed parameter may be the rest of it (an unencoded '&' in a
    // password), so errors do not quote it.
    let mut after_secret = false;
    while !params.is_empty() {
        let (segment, rest) = match params.find('&') {
            Some(i) => (&params[..i], &params[i + 1..]),
            None => (params, ""),
        };
        let Some(eq) = segment.find('=') else {
            return Err(Error::config(
                "dsn",
                if after_secret {
                    "missing key/value separator \"=\" in the URI query parameter after a \
                     password (percent-encode '&' in passwords as %26)"
                        .to_owned()
                } else {
                    format!(
                        "missing key/value separator \"=\" in URI query parameter: \"{segment}\""
                    )
                },
            ));
        };
        let raw_key = &segment[..eq];
        let raw_value = &segment[eq + 1..];
        let key = uri_decode(raw_key, "query parameter name", after_secret)?;
        if raw_value.contains('=') {
            return Err(Error::config(
                "dsn",
                if is_secret(&key) || after_secret {
                    "extra key/value separator \"=\" in a URI query parameter \
                     (percent-encode '=' in passwords as %3D)"
                        .to_owned()
                } else {
                    format!("extra key/value separator \"=\" in URI query parameter: \"{raw_key}\"")
                },
            ));
        }
        let value = uri_decode(raw_value, &format!("value of {key}"), is_secret(&key))?;
        if key == "ssl" && value == "true" {
            out.push(("sslmode".into(), "require".into()));
        } else if !is_known_keyword(&key) {
            return Err(if after_secret {
                Error::config(
                    "dsn",
                    "unknown connection option after a password in the URI query \
                     (percent-encode '&' in passwords as %26)",
                )
            } else {
                Error::config(key, "unknown connection option")
            });
        } else {
            after_secret = is_secret(&key);
            out.push((key, value));
        }
        params = rest;
    }
    Ok(())
}
