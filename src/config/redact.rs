//! DSNs with their passwords masked (for logs, errors, `repr()`).
#![forbid(unsafe_code)]

use super::dsn::{is_space, uri_decode, uri_prefix_len, uri_userinfo_end};
use super::keywords::is_secret;
use super::MASK;

// ---------------------------------------------------------------------------------------
// Redaction

/// psycopg2's `connection.dsn`: `dsn` unchanged when it sets no password, else its
/// keywords again (a URI becomes keyword/value pairs) with the password (and any other
/// secret, `sslpassword`) `xxx`, as psycopg2's `conn_obscure_password` rebuilds it. A DSN that does not parse is
/// [`redact_dsn`]'s.
pub fn obscure_password(dsn: &str) -> String {
    let Ok(kv) = super::parse_dsn(dsn) else {
        return redact_dsn(dsn);
    };
    if !kv.iter().any(|(k, _)| is_secret(k)) {
        return dsn.to_string();
    }
    let mut out = Vec::with_capacity(kv.len());
    for (k, v) in &kv {
        let v = if is_secret(k) { "xxx" } else { v.as_str() };
        out.push(format!("{k}={}", quote_value(v)));
    }
    out.join(" ")
}

/// A keyword value as libpq reads it back: `''` when empty, backslashes and quotes
/// escaped, quoted when it holds white space (psycopg2's `make_dsn`).
fn quote_value(v: &str) -> String {
    if v.is_empty() {
        return "''".into();
    }
    let e = v.replace('\\', "\\\\").replace('\'', "\\'");
    if e.chars().any(char::is_whitespace) {
        format!("'{e}'")
    } else {
        e
    }
}

/// `dsn` (keyword/value string or URI) with every password replaced by `********`, for
/// logs. Best effort on malformed input: it masks more rather than less (a stray word after
/// a password, anything between the first `:` and the last `@` of a URI's authority...).
pub fn redact_dsn(dsn: &str) -> String {
    let trimmed = dsn.trim_start();
    match uri_prefix_len(trimmed) {
        Some(prefix) => redact_uri(trimmed, prefix),
        None => redact_kv(dsn),
    }
}

pub(super) fn redact_uri(uri: &str, prefix: usize) -> String {
    let s = &uri[prefix..];
    // Where the parser ends the user information; failing that, the last '@' before the
    // query: a password holding an unencoded '/' ends the authority early for the parser
    // (which then rejects the URI), but it is still a password.
    let at = uri_userinfo_end(uri, prefix)
        .map(|at| at - prefix)
        .or_else(|| s[..s.find('?').unwrap_or(s.len())].rfind('@'));
    let mut out = String::from(&uri[..prefix]);
    let rest = match at {
        Some(at) => {
            let userinfo = &s[..at];
            match userinfo.find(':') {
                Some(colon) => {
                    out.push_str(&userinfo[..colon]);
                    out.push(':');
                    out.push_str(MASK);
                }
                None => out.push_str(userinfo),
            }
            out.push('@');
            &s[at + 1..]
        }
        None => s,
    };
    out.push_str(&redact_query(rest));
    out
}

/// Masks secret query parameters after the first `?` of `s` (and a parameter without `=`
/// right after one: it may be the rest of a password holding an unencoded `&`).
pub(super) fn redact_query(s: &str) -> String {
    let Some(q) = s.find('?') else {
        return s.to_owned();
    };
    let mut after_secret = false;
    let params: Vec<String> = s[q + 1..]
        .split('&')
        .map(|segment| {
            let (key, secret) = match segment.find('=') {
                Some(eq) => {
                    let key = &segment[..eq];
                    let decoded = uri_decode(key, "", false).unwrap_or_else(|_| key.to_owned());
                    (key, is_secret(&decoded))
                }
                None => (segment, false),
            };
            let masked = if secret {
                format!("{key}={MASK}")
            } else if after_secret && !segment.contains('=') {
                MASK.to_owned()
            } else {
                segment.to_owned()
            };
            after_secret = secret || (after_secret && !segment.contains('='));
            masked
        })
        .collect();
    format!("{}?{}", &s[..q], params.join("&"))
}

pub(super) fn redact_kv(s: &str) -> String {
    let c: Vec<char> = s.chars().collect();
    let n = c.len();
    let mut out = String::with_capacity(s.len());
    let mut i = 0;
    let mut after_secret = false;
    while i < n {
        if is_space(c[i]) {
            out.push(c[i]);
            i += 1;
            continue;
        }
        let start = i;
        while i < n && c[i] != '=' && !is_space(c[i]) {
            i += 1;
        }
        let key: String = c[start..i].iter().collect();
        let mut j = i;
        while j < n && is_space(c[j]) {
            j += 1;
        }
        if j >= n || c[j] != '=' {
            // A stray word: after a secret it may be the rest of an unquoted password.
            out.push_str(if after_secret { MASK } else { &key });
            continue;
        }
        out.extend(&c[start..=j]);
        i = j + 1;
        while i < n && is_space(c[i]) {
            out.push(c[i]);
            i += 1;
        }
        let value_start = i;
        if i < n && c[i] == '\'' {
            i += 1;
            while i < n {
                match c[i] {
                    '\\' => i += 2,
                    '\'' => {
                        i += 1;
                        break;
                    }
                    _ => i += 1,
                }
            }
        } else {
            while i < n && !is_space(c[i]) {
                i += if c[i] == '\\' { 2 } else { 1 };
            }
        }
        i = i.min(n);
        after_secret = is_secret(&key);
        if after_secret {
            out.push_str(MASK);
        } else {
            out.extend(&c[value_start..i]);
        }
    }
    out
}
