//! The libpq keywords: those pgpool acts on, those accepted and ignored (with the check
//! each gets), and the secret ones.
#![forbid(unsafe_code)]

use crate::error::{Error, Result};

// ---------------------------------------------------------------------------------------
// Keywords

/// The libpq keywords pgpool acts on. `requiressl` is libpq's deprecated spelling of
/// `sslmode` (`1` = `require`, else `prefer`).
pub const USED_KEYWORDS: &[&str] = &[
    "host",
    "hostaddr",
    "port",
    "dbname",
    "user",
    "password",
    "connect_timeout",
    "options",
    "application_name",
    "fallback_application_name",
    "keepalives",
    "keepalives_idle",
    "keepalives_interval",
    "keepalives_count",
    "tcp_user_timeout",
    "sslmode",
    "requiressl",
    "sslrootcert",
    "sslcert",
    "sslkey",
    "sslcrl",
    "target_session_attrs",
];

/// libpq keywords that are accepted (and their values validated, as libpq does) but have
/// no effect. A value that would demand a check pgpool cannot make is rejected instead of
/// being ignored silently:
/// `channel_binding=require`, `gssencmode=require`, `sslcertmode=require`,
/// `ssl_min_protocol_version=TLSv1.3`, any non-empty `require_auth`, `requirepeer`,
/// `sslcrldir` or `service` (service files are not read), and any `replication` other than
/// off. (`passfile` and `client_encoding` are listed for their validation and read where
/// they are used: the password file at connect time, `config::passfile`.)
pub const IGNORED_KEYWORDS: &[&str] = &[
    "passfile",
    "client_encoding",
    "channel_binding",
    "require_auth",
    "service",
    "requirepeer",
    "replication",
    "gssencmode",
    "krbsrvname",
    "gsslib",
    "gssdelegation",
    "sslnegotiation",
    "sslcompression",
    "sslcertmode",
    "sslpassword",
    "sslcrldir",
    "sslsni",
    "ssl_min_protocol_version",
    "ssl_max_protocol_version",
    "load_balance_hosts",
    "min_protocol_version",
    "max_protocol_version",
    "scram_client_key",
    "scram_server_key",
    "oauth_issuer",
    "oauth_client_id",
    "oauth_client_secret",
    "oauth_scope",
];

/// Keywords whose values are secrets: never in errors, `Debug` or [`redact_dsn`] output.
pub(super) const SECRET_KEYWORDS: &[&str] = &[
    "password",
    "sslpassword",
    "scram_client_key",
    "scram_server_key",
    "oauth_client_secret",
];

/// True for a keyword libpq (and so pgpool) accepts.
pub fn is_known_keyword(keyword: &str) -> bool {
    USED_KEYWORDS.contains(&keyword) || IGNORED_KEYWORDS.contains(&keyword)
}

pub(super) fn is_secret(keyword: &str) -> bool {
    SECRET_KEYWORDS
        .iter()
        .any(|s| s.eq_ignore_ascii_case(keyword.trim()))
}

/// How an ignored keyword's value is validated.
#[derive(Clone, Copy)]
pub(super) enum Check {
    /// Anything.
    Any,
    /// `0` or `1`.
    Bool01,
    /// One of the first list (ignored) or of the second (rejected: pgpool cannot honour
    /// it); case-insensitive.
    OneOf(&'static [&'static str], &'static [&'static str]),
    /// Only empty; anything else is rejected with this explanation.
    EmptyOnly(&'static str),
}

/// Ignored keywords: (keyword, libpq's environment variable, check).
pub(super) const IGNORED_CHECKS: &[(&str, &[&str], Check)] = &[
    ("passfile", &["PGPASSFILE"], Check::Any),
    ("client_encoding", &["PGCLIENTENCODING"], Check::Any),
    (
        "channel_binding",
        &["PGCHANNELBINDING"],
        Check::OneOf(&["disable", "prefer"], &["require"]),
    ),
    (
        "require_auth",
        &["PGREQUIREAUTH"],
        Check::EmptyOnly("require_auth is not supported by pgpool"),
    ),
    (
        "service",
        &["PGSERVICE"],
        Check::EmptyOnly(
            "connection service files are not supported by pgpool; give host, port, dbname and user",
        ),
    ),
    (
        "requirepeer",
        &["PGREQUIREPEER"],
        Check::EmptyOnly("requirepeer is not supported by pgpool"),
    ),
    (
        "replication",
        &[],
        Check::OneOf(
            &["0", "off", "false", "no", "f", "n"],
            &["1", "on", "true", "yes", "t", "y", "database"],
        ),
    ),
    (
        "gssencmode",
        &["PGGSSENCMODE"],
        Check::OneOf(&["disable", "prefer"], &["require"]),
    ),
    ("krbsrvname", &["PGKRBSRVNAME"], Check::Any),
    ("gsslib", &["PGGSSLIB"], Check::Any),
    ("gssdelegation", &["PGGSSDELEGATION"], Check::Bool01),
    (
        "sslnegotiation",
        &["PGSSLNEGOTIATION"],
        Check::OneOf(&["postgres", "direct"], &[]),
    ),
    ("sslcompression", &["PGSSLCOMPRESSION"], Check::Bool01),
    (
        "sslcertmode",
        &["PGSSLCERTMODE"],
        Check::OneOf(&["disable", "allow"], &["require"]),
    ),
    ("sslpassword", &[], Check::Any),
    (
        "sslcrldir",
        &["PGSSLCRLDIR"],
        Check::EmptyOnly("sslcrldir is not supported by pgpool; use sslcrl (a file)"),
    ),
    ("sslsni", &["PGSSLSNI"], Check::Bool01),
    (
        "ssl_min_protocol_version",
        &["PGSSLMINPROTOCOLVERSION"],
        Check::OneOf(&["tlsv1", "tlsv1.1", "tlsv1.2"], &["tlsv1.3"]),
    ),
    (
        "ssl_max_protocol_version",
        &["PGSSLMAXPROTOCOLVERSION"],
        Check::OneOf(&["tlsv1", "tlsv1.1", "tlsv1.2", "tlsv1.3"], &[]),
    ),
    (
        "load_balance_hosts",
        &["PGLOADBALANCEHOSTS"],
        Check::OneOf(&["disable", "random"], &[]),
    ),
    ("min_protocol_version", &["PGMINPROTOCOLVERSION"], Check::Any),
    ("max_protocol_version", &["PGMAXPROTOCOLVERSION"], Check::Any),
    ("scram_client_key", &[], Check::Any),
    ("scram_server_key", &[], Check::Any),
    ("oauth_issuer", &[], Check::Any),
    ("oauth_client_id", &[], Check::Any),
    ("oauth_client_secret", &[], Check::Any),
    ("oauth_scope", &[], Check::Any),
];

impl Check {
    pub(super) fn apply(self, setting: &str, value: &str) -> Result<()> {
        let lower = value.trim().to_ascii_lowercase();
        match self {
            Check::Any => Ok(()),
            Check::Bool01 => match lower.as_str() {
                "" | "0" | "1" => Ok(()),
                _ => Err(Error::config(
                    setting,
                    format!("invalid value \"{value}\" (expected 0 or 1)"),
                )),
            },
            Check::OneOf(ok, unsupported) => {
                if lower.is_empty() || ok.contains(&lower.as_str()) {
                    Ok(())
                } else if unsupported.contains(&lower.as_str()) {
                    Err(Error::config(
                        setting,
                        format!("\"{value}\" is not supported by pgpool"),
                    ))
                } else {
                    Err(Error::config(
                        setting,
                        format!("invalid value \"{value}\" (expected {})", ok.join(", ")),
                    ))
                }
            }
            Check::EmptyOnly(why) => {
                if lower.is_empty() {
                    Ok(())
                } else {
                    Err(Error::config(setting, why))
                }
            }
        }
    }
}
