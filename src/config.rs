//! Configuration: libpq DSNs and URIs, the environment (SPEC §2, every seed alias),
//! validation. Passwords never appear in `Debug` output or errors.
//!
//! # Precedence
//! explicit argument ([`PoolOverrides`], including `PoolOverrides::keywords`) > DSN >
//! environment > default. With no DSN argument, `DATABASE_URL` is the DSN; with neither,
//! the environment variables below build the connection. An environment variable set to
//! the empty string counts as unset. A keyword given in the DSN with an empty value
//! (`host=''`) means libpq's default and hides the environment, as in libpq.
//!
//! # Connection environment (first non-empty wins, after the DSN)
//! | keyword | variables, in order |
//! |---|---|
//! | `host` | `POSTGRES_HOST`, `PGHOST` |
//! | `hostaddr` | `PGHOSTADDR` |
//! | `port` | `POSTGRES_PORT`, `PGPORT` |
//! | `dbname` | `POSTGRES_DATABASE`, `POSTGRES_DB`, `PGDATABASE` |
//! | `user` | `POSTGRES_USER`, `PGUSER` |
//! | `password` | `POSTGRES_PASSWORD`, `PGPASSWORD` |
//! | `application_name` | `PGAPPNAME` |
//! | `options` | `PGOPTIONS` |
//! | `connect_timeout` | `PGCONNECT_TIMEOUT` |
//! | `sslmode` | `PGSSLMODE` |
//! | `sslrootcert`, `sslcert`, `sslkey`, `sslcrl` | `PGSSLROOTCERT`, `PGSSLCERT`, `PGSSLKEY`, `PGSSLCRL` |
//! | `target_session_attrs` | `PGTARGETSESSIONATTRS` |
//!
//! The seed systems' `POSTGRES_*` variables win over libpq's `PG*` ones: those systems read
//! `POSTGRES_*` themselves and passed the values to psycopg2 as arguments, which beat
//! libpq's `PG*` fallbacks, so this keeps their behaviour when both are set.
//!
//! Defaults: host = the Unix socket directory [`DEFAULT_SOCKET_DIR`] when it exists, else
//! `localhost`; port 5432; user = `USER`, else `LOGNAME`, else the name of the process
//! owner in `/etc/passwd`; dbname = user.
//!
//! # Pool environment
//! See [`PoolConfig::with_env`].
#![forbid(unsafe_code)]

use std::collections::HashMap;
use std::fmt;
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::error::{Error, Result};

/// Where to connect.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Host {
    /// A TCP host name or address.
    Tcp(String),
    /// A Unix socket directory (the socket is `<dir>/.s.PGSQL.<port>`).
    Unix(PathBuf),
}

/// libpq's `sslmode`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SslMode {
    /// `disable`
    Disable,
    /// `allow`
    Allow,
    /// `prefer` (libpq's default)
    #[default]
    Prefer,
    /// `require`
    Require,
    /// `verify-ca`
    VerifyCa,
    /// `verify-full`
    VerifyFull,
}

/// TLS settings, with libpq's keywords.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SslConfig {
    /// `sslmode`
    pub mode: SslMode,
    /// `sslrootcert` (a file, or `system`)
    pub rootcert: Option<String>,
    /// `sslcert`
    pub cert: Option<String>,
    /// `sslkey`
    pub key: Option<String>,
    /// `sslcrlfile`
    pub crlfile: Option<String>,
}

/// libpq's `target_session_attrs`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum TargetSessionAttrs {
    /// `any` (default)
    #[default]
    Any,
    /// `read-write`
    ReadWrite,
    /// `read-only`
    ReadOnly,
    /// `primary`
    Primary,
    /// `standby`
    Standby,
    /// `prefer-standby`
    PreferStandby,
}

/// Everything needed to open one server connection.
#[derive(Clone, PartialEq, Eq)]
pub struct ConnectParams {
    /// Hosts, tried in order (libpq multi-host).
    pub hosts: Vec<Host>,
    /// Ports: one for every host, or a single one for all.
    pub ports: Vec<u16>,
    /// User name.
    pub user: String,
    /// Password (never printed).
    pub password: Option<String>,
    /// Database name (default: the user name).
    pub dbname: String,
    /// `options` (command-line options sent at startup).
    pub options: Option<String>,
    /// `application_name`.
    pub application_name: Option<String>,
    /// `connect_timeout` (per host).
    pub connect_timeout: Option<Duration>,
    /// `keepalives` (default on).
    pub keepalives: bool,
    /// `keepalives_idle`.
    pub keepalives_idle: Option<Duration>,
    /// `keepalives_interval`.
    pub keepalives_interval: Option<Duration>,
    /// `keepalives_count`.
    pub keepalives_count: Option<u32>,
    /// `tcp_user_timeout`.
    pub tcp_user_timeout: Option<Duration>,
    /// `target_session_attrs`.
    pub target_session_attrs: TargetSessionAttrs,
    /// TLS.
    pub ssl: SslConfig,
}

impl fmt::Debug for ConnectParams {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ConnectParams")
            .field("hosts", &self.hosts)
            .field("ports", &self.ports)
            .field("user", &self.user)
            .field("password", &self.password.as_ref().map(|_| "********"))
            .field("dbname", &self.dbname)
            .field("options", &self.options)
            .field("application_name", &self.application_name)
            .field("connect_timeout", &self.connect_timeout)
            .field("keepalives", &self.keepalives)
            .field("keepalives_idle", &self.keepalives_idle)
            .field("keepalives_interval", &self.keepalives_interval)
            .field("keepalives_count", &self.keepalives_count)
            .field("tcp_user_timeout", &self.tcp_user_timeout)
            .field("target_session_attrs", &self.target_session_attrs)
            .field("ssl", &self.ssl)
            .finish()
    }
}

/// Pool settings (SPEC §2). Build with [`PoolConfig::new`].
#[derive(Debug, Clone, PartialEq)]
pub struct PoolConfig {
    /// The primary (or the multi-host list).
    pub connect: ConnectParams,
    /// Read replicas for `readonly` work.
    pub replicas: Vec<ConnectParams>,
    /// Connections kept open.
    pub min_size: usize,
    /// Connections at most.
    pub max_size: usize,
    /// Acquire timeout.
    pub timeout: Duration,
    /// Replace connections older than this (minus up to 5% jitter); `None`: never.
    pub max_lifetime: Option<Duration>,
    /// Close idle connections above `min_size` after this; `None`: never.
    pub max_idle: Option<Duration>,
    /// Validate connections idle longer than `pre_ping_window` before handing them out.
    pub pre_ping: bool,
    /// See `pre_ping` (500 ms, as HikariCP).
    pub pre_ping_window: Duration,
    /// Reject at once when this many clients wait (0: unbounded).
    pub max_waiting: usize,
    /// Warn when a connection is held longer than this.
    pub leak_threshold: Option<Duration>,
    /// A name for logs and stats.
    pub name: Option<String>,
}

/// Explicit arguments: they win over the DSN and the environment.
///
/// Its `Debug` output masks passwords (in `keywords` and in the `replicas` DSNs).
#[derive(Clone, Default)]
pub struct PoolOverrides {
    /// `min_size`
    pub min_size: Option<usize>,
    /// `max_size`
    pub max_size: Option<usize>,
    /// `timeout`
    pub timeout: Option<Duration>,
    /// `max_lifetime` (`Some(None)`: never)
    pub max_lifetime: Option<Option<Duration>>,
    /// `max_idle` (`Some(None)`: never)
    pub max_idle: Option<Option<Duration>>,
    /// `pre_ping`
    pub pre_ping: Option<bool>,
    /// `max_waiting`
    pub max_waiting: Option<usize>,
    /// `leak_threshold` (`Some(None)`: off)
    pub leak_threshold: Option<Option<Duration>>,
    /// `name`
    pub name: Option<String>,
    /// Replica DSNs.
    pub replicas: Vec<String>,
    /// libpq keywords given as arguments (psycopg2's `connect(host=..., dbname=...)`);
    /// they win over the DSN's.
    pub keywords: Vec<(String, String)>,
}

impl fmt::Debug for PoolOverrides {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let keywords: Vec<(&str, &str)> = self
            .keywords
            .iter()
            .map(|(k, v)| (k.as_str(), if is_secret(k) { MASK } else { v.as_str() }))
            .collect();
        let replicas: Vec<String> = self.replicas.iter().map(|r| redact_dsn(r)).collect();
        f.debug_struct("PoolOverrides")
            .field("min_size", &self.min_size)
            .field("max_size", &self.max_size)
            .field("timeout", &self.timeout)
            .field("max_lifetime", &self.max_lifetime)
            .field("max_idle", &self.max_idle)
            .field("pre_ping", &self.pre_ping)
            .field("max_waiting", &self.max_waiting)
            .field("leak_threshold", &self.leak_threshold)
            .field("name", &self.name)
            .field("replicas", &replicas)
            .field("keywords", &keywords)
            .finish()
    }
}

// ---------------------------------------------------------------------------------------
// Defaults

/// libpq's default port.
pub const DEFAULT_PORT: u16 = 5432;

/// The Unix socket directory used when no host is given (Debian's libpq default) if it
/// exists; otherwise the default host is `localhost`. See [`default_host`].
pub const DEFAULT_SOCKET_DIR: &str = "/var/run/postgresql";

/// Default `min_size`.
pub const DEFAULT_MIN_SIZE: usize = 1;
/// Default `max_size`; raised to `min_size` when only a larger minimum is configured.
pub const DEFAULT_MAX_SIZE: usize = 10;
/// Default acquire timeout.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);
/// Default `max_lifetime`.
pub const DEFAULT_MAX_LIFETIME: Duration = Duration::from_secs(3600);
/// Default `max_idle`.
pub const DEFAULT_MAX_IDLE: Duration = Duration::from_secs(600);
/// Default (and only) `pre_ping_window`.
pub const DEFAULT_PRE_PING_WINDOW: Duration = Duration::from_millis(500);

/// SQLAlchemy's `pool_size` default, used when only `DB_MAX_OVERFLOW` is set.
const SQLALCHEMY_POOL_SIZE: usize = 5;
/// SQLAlchemy's `max_overflow` default, used when only `DB_POOL_SIZE` is set.
const SQLALCHEMY_MAX_OVERFLOW: usize = 10;

/// What secrets are replaced with in `Debug` output and [`redact_dsn`].
const MASK: &str = "********";

/// The host used when none is given: [`DEFAULT_SOCKET_DIR`] as a Unix socket directory if
/// that directory exists, else `localhost` over TCP.
pub fn default_host() -> Host {
    let dir = Path::new(DEFAULT_SOCKET_DIR);
    if dir.is_dir() {
        Host::Unix(dir.to_path_buf())
    } else {
        Host::Tcp("localhost".to_owned())
    }
}

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
/// off. `passfile` is not read either (give the password in the DSN or `PGPASSWORD`).
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
const SECRET_KEYWORDS: &[&str] = &[
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

fn is_secret(keyword: &str) -> bool {
    SECRET_KEYWORDS
        .iter()
        .any(|s| s.eq_ignore_ascii_case(keyword.trim()))
}

/// How an ignored keyword's value is validated.
#[derive(Clone, Copy)]
enum Check {
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
const IGNORED_CHECKS: &[(&str, &[&str], Check)] = &[
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
    fn apply(self, setting: &str, value: &str) -> Result<()> {
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
fn uri_prefix_len(s: &str) -> Option<usize> {
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
                if !name.is_empty()
                    && name
                        .bytes()
                        .all(|c| c.is_ascii_alphanumeric() || c == b'_')
                {
                    return Some(scheme.len() + 1 + end + 3);
                }
            }
        }
    }
    None
}

/// C's `isspace`.
fn is_space(c: char) -> bool {
    matches!(c, ' ' | '\t' | '\n' | '\x0b' | '\x0c' | '\r')
}

/// libpq's `conninfo_parse`.
fn parse_kv(s: &str) -> Result<Vec<(String, String)>> {
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

fn hex_digit(c: u8) -> Option<u8> {
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
fn uri_decode(s: &str, what: &str, secret: bool) -> Result<String> {
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
fn uri_userinfo_end(uri: &str, start: usize) -> Option<usize> {
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
fn parse_uri(uri: &str, prefix: usize) -> Result<Vec<(String, String)>> {
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
fn parse_uri_params(mut params: &str, out: &mut Vec<(String, String)>) -> Result<()> {
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

// ---------------------------------------------------------------------------------------
// Redaction

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

fn redact_uri(uri: &str, prefix: usize) -> String {
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
fn redact_query(s: &str) -> String {
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

fn redact_kv(s: &str) -> String {
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

// ---------------------------------------------------------------------------------------
// Connection parameters

/// Keyword values with their environment fallbacks.
struct Lookup<'a> {
    kv: HashMap<&'a str, &'a str>,
    env: &'a dyn Fn(&str) -> Option<String>,
}

impl Lookup<'_> {
    /// The keyword's value if given (even empty: libpq's default, hiding the environment),
    /// else the first non-empty variable of `vars`; with the name of where it came from.
    fn raw(&self, keyword: &'static str, vars: &[&'static str]) -> Option<(&'static str, String)> {
        if let Some(v) = self.kv.get(keyword) {
            return Some((keyword, (*v).to_owned()));
        }
        vars.iter()
            .find_map(|var| env_value(self.env, var).map(|v| (*var, v)))
    }

    /// [`Lookup::raw`], with an empty value meaning "not set".
    fn get(&self, keyword: &'static str, vars: &[&'static str]) -> Option<(&'static str, String)> {
        self.raw(keyword, vars).filter(|(_, v)| !v.is_empty())
    }
}

/// A non-empty environment variable.
fn env_value(env: &dyn Fn(&str) -> Option<String>, name: &str) -> Option<String> {
    env(name).filter(|v| !v.trim().is_empty())
}

/// libpq's `parse_int_param`: an `i32`, surrounding white space allowed.
fn parse_libpq_int(setting: &str, value: &str) -> Result<i32> {
    value.trim_matches(is_space).parse::<i32>().map_err(|_| {
        Error::config(setting, format!("invalid integer value \"{value}\""))
    })
}

/// A libpq integer in `unit`s, where zero or negative means "not set".
fn parse_positive(setting: &str, value: &str) -> Result<Option<u64>> {
    let v = parse_libpq_int(setting, value)?;
    Ok(u64::try_from(v).ok().filter(|v| *v > 0))
}

fn parse_sslmode(setting: &str, value: &str) -> Result<SslMode> {
    Ok(match value {
        "disable" => SslMode::Disable,
        "allow" => SslMode::Allow,
        "prefer" => SslMode::Prefer,
        "require" => SslMode::Require,
        "verify-ca" => SslMode::VerifyCa,
        "verify-full" => SslMode::VerifyFull,
        _ => {
            return Err(Error::config(
                setting,
                format!(
                    "invalid sslmode value \"{value}\" (expected disable, allow, prefer, require, verify-ca or verify-full)"
                ),
            ))
        }
    })
}

fn parse_target_session_attrs(setting: &str, value: &str) -> Result<TargetSessionAttrs> {
    Ok(match value {
        "any" => TargetSessionAttrs::Any,
        "read-write" => TargetSessionAttrs::ReadWrite,
        "read-only" => TargetSessionAttrs::ReadOnly,
        "primary" => TargetSessionAttrs::Primary,
        "standby" => TargetSessionAttrs::Standby,
        "prefer-standby" => TargetSessionAttrs::PreferStandby,
        _ => {
            return Err(Error::config(
                setting,
                format!(
                    "invalid target_session_attrs value \"{value}\" (expected any, read-write, read-only, primary, standby or prefer-standby)"
                ),
            ))
        }
    })
}

fn parse_port(setting: &str, value: &str) -> Result<u16> {
    let trimmed = value.trim_matches(is_space);
    if trimmed.is_empty() {
        return Ok(DEFAULT_PORT);
    }
    match trimmed.parse::<i64>() {
        Ok(p) if (1..=65535).contains(&p) => Ok(p as u16),
        _ => Err(Error::config(
            setting,
            format!("invalid port number \"{value}\""),
        )),
    }
}

/// Variables giving the OS user name, in order.
const OS_USER_VARS: &[&str] = if cfg!(windows) {
    &["USERNAME"]
} else {
    &["USER", "LOGNAME"]
};

/// The user name libpq would default to: `USER`, else `LOGNAME` (`USERNAME` on Windows),
/// else the owner of this process in `/etc/passwd`.
fn os_user(env: &dyn Fn(&str) -> Option<String>) -> Option<String> {
    OS_USER_VARS
        .iter()
        .find_map(|v| env_value(env, v))
        .or_else(passwd_user)
}

#[cfg(unix)]
fn passwd_user() -> Option<String> {
    use std::os::unix::fs::MetadataExt;
    let uid = std::fs::metadata("/proc/self").ok()?.uid();
    let passwd = std::fs::read_to_string("/etc/passwd").ok()?;
    passwd.lines().find_map(|line| {
        let mut fields = line.split(':');
        let name = fields.next()?;
        let _password = fields.next()?;
        let id: u32 = fields.next()?.parse().ok()?;
        (id == uid && !name.is_empty()).then(|| name.to_owned())
    })
}

#[cfg(not(unix))]
fn passwd_user() -> Option<String> {
    None
}

/// A host list element: a path (or libpq's `@abstract` socket name) is a Unix socket
/// directory, anything else a TCP host; empty means the default host.
fn host_from(value: &str) -> Host {
    if value.is_empty() {
        default_host()
    } else if value.starts_with('/') || value.starts_with('@') {
        Host::Unix(PathBuf::from(value))
    } else {
        Host::Tcp(value.to_owned())
    }
}

/// libpq's quoting of a keyword/value string value.
fn quote_value(value: &str) -> String {
    if !value.is_empty() && !value.chars().any(|c| is_space(c) || c == '\'' || c == '\\') {
        return value.to_owned();
    }
    let mut out = String::with_capacity(value.len() + 2);
    out.push('\'');
    for c in value.chars() {
        if c == '\'' || c == '\\' {
            out.push('\\');
        }
        out.push(c);
    }
    out.push('\'');
    out
}

impl ConnectParams {
    /// Builds connection parameters from libpq keywords (as [`parse_dsn`] returns them;
    /// when a keyword repeats, the last one wins), the environment `env` (see the module
    /// docs for the variables and their order) and libpq's defaults.
    ///
    /// - `host`, `hostaddr` and `port` may be comma lists (multi-host); `port` has one
    ///   entry, or one per host. An empty list element means the default. A `hostaddr`
    ///   element wins over the `host` element at the same position (libpq connects to the
    ///   address; pgpool has no separate name for TLS verification, so `verify-full` checks
    ///   the address then).
    /// - `connect_timeout`: integer seconds; zero or negative means none; 1 means 2 (libpq).
    /// - `keepalives`: integer, 0 is off; `keepalives_idle`/`_interval` (s), `_count`,
    ///   `tcp_user_timeout` (ms): integers, zero or negative means the system default.
    /// - `sslrootcert=system` makes the default `sslmode` `verify-full` and forbids weaker
    ///   explicit modes (libpq 16).
    /// - `application_name` falls back to `fallback_application_name`.
    ///
    /// Errors name the keyword or the environment variable the bad value came from; they
    /// never contain a password.
    pub fn from_keywords(
        kv: &[(String, String)],
        env: &dyn Fn(&str) -> Option<String>,
    ) -> Result<ConnectParams> {
        let mut map: HashMap<&str, &str> = HashMap::new();
        for (k, v) in kv {
            if !is_known_keyword(k) {
                return Err(Error::config(k.as_str(), "unknown connection option"));
            }
            if k == "requiressl" {
                map.insert(
                    "sslmode",
                    if v.starts_with('1') { "require" } else { "prefer" },
                );
            } else {
                map.insert(k.as_str(), v.as_str());
            }
        }
        let l = Lookup { kv: map, env };

        for (keyword, vars, check) in IGNORED_CHECKS {
            if let Some((setting, value)) = l.raw(keyword, vars) {
                check.apply(setting, &value)?;
            }
        }

        let user = match l.get("user", &["POSTGRES_USER", "PGUSER"]) {
            Some((_, u)) => u,
            None => os_user(env).ok_or_else(|| {
                Error::config(
                    "user",
                    "could not determine the user name: set user in the DSN, or POSTGRES_USER or PGUSER",
                )
            })?,
        };
        let password = l
            .get("password", &["POSTGRES_PASSWORD", "PGPASSWORD"])
            .map(|(_, v)| v);
        let dbname = l
            .get(
                "dbname",
                &["POSTGRES_DATABASE", "POSTGRES_DB", "PGDATABASE"],
            )
            .map_or_else(|| user.clone(), |(_, v)| v);

        // Hosts.
        let host = l.get("host", &["POSTGRES_HOST", "PGHOST"]);
        let hostaddr = l.get("hostaddr", &["PGHOSTADDR"]);
        let host_list: Option<Vec<&str>> = host.as_ref().map(|(_, v)| v.split(',').collect());
        let addr_list: Option<Vec<&str>> =
            hostaddr.as_ref().map(|(_, v)| v.split(',').collect());
        if let (Some((host_setting, _)), Some(h), Some(a)) = (&host, &host_list, &addr_list) {
            if h.len() != a.len() {
                return Err(Error::config(
                    *host_setting,
                    format!(
                        "could not match {} host names to {} hostaddr values",
                        h.len(),
                        a.len()
                    ),
                ));
            }
        }
        let count = addr_list
            .as_ref()
            .or(host_list.as_ref())
            .map_or(1, Vec::len);
        let mut hosts = Vec::with_capacity(count);
        for i in 0..count {
            let addr = addr_list.as_ref().map_or("", |a| a[i]).trim();
            if !addr.is_empty() {
                if addr.parse::<IpAddr>().is_err() {
                    let setting = hostaddr.as_ref().map_or("hostaddr", |(s, _)| *s);
                    return Err(Error::config(
                        setting,
                        format!("invalid IP address \"{addr}\""),
                    ));
                }
                hosts.push(Host::Tcp(addr.to_owned()));
            } else {
                hosts.push(host_from(host_list.as_ref().map_or("", |h| h[i])));
            }
        }

        // Ports.
        let ports = match l.get("port", &["POSTGRES_PORT", "PGPORT"]) {
            None => vec![DEFAULT_PORT],
            Some((setting, value)) => {
                let ports = value
                    .split(',')
                    .map(|p| parse_port(setting, p))
                    .collect::<Result<Vec<u16>>>()?;
                if ports.len() != 1 && ports.len() != hosts.len() {
                    return Err(Error::config(
                        setting,
                        format!(
                            "could not match {} port numbers to {} hosts",
                            ports.len(),
                            hosts.len()
                        ),
                    ));
                }
                ports
            }
        };

        let connect_timeout = match l.get("connect_timeout", &["PGCONNECT_TIMEOUT"]) {
            None => None,
            Some((setting, v)) => {
                parse_positive(setting, &v)?.map(|s| Duration::from_secs(s.max(2)))
            }
        };
        let keepalives = match l.get("keepalives", &[]) {
            None => true,
            Some((setting, v)) => parse_libpq_int(setting, &v)? != 0,
        };
        let seconds = |keyword: &'static str| -> Result<Option<Duration>> {
            match l.get(keyword, &[]) {
                None => Ok(None),
                Some((setting, v)) => Ok(parse_positive(setting, &v)?.map(Duration::from_secs)),
            }
        };
        let keepalives_idle = seconds("keepalives_idle")?;
        let keepalives_interval = seconds("keepalives_interval")?;
        let keepalives_count = match l.get("keepalives_count", &[]) {
            None => None,
            Some((setting, v)) => parse_positive(setting, &v)?.map(|c| c as u32),
        };
        let tcp_user_timeout = match l.get("tcp_user_timeout", &[]) {
            None => None,
            Some((setting, v)) => parse_positive(setting, &v)?.map(Duration::from_millis),
        };

        let target_session_attrs = match l.get("target_session_attrs", &["PGTARGETSESSIONATTRS"]) {
            None => TargetSessionAttrs::Any,
            Some((setting, v)) => parse_target_session_attrs(setting, &v)?,
        };

        let rootcert = l.get("sslrootcert", &["PGSSLROOTCERT"]).map(|(_, v)| v);
        let system_roots = rootcert.as_deref() == Some("system");
        let mode = match l.get("sslmode", &["PGSSLMODE"]) {
            None if system_roots => SslMode::VerifyFull,
            None => SslMode::Prefer,
            Some((setting, v)) => {
                let mode = parse_sslmode(setting, &v)?;
                if system_roots && mode != SslMode::VerifyFull {
                    return Err(Error::config(
                        setting,
                        format!(
                            "weak sslmode \"{v}\" may not be used with sslrootcert=system (use \"verify-full\")"
                        ),
                    ));
                }
                mode
            }
        };
        let ssl = SslConfig {
            mode,
            rootcert,
            cert: l.get("sslcert", &["PGSSLCERT"]).map(|(_, v)| v),
            key: l.get("sslkey", &["PGSSLKEY"]).map(|(_, v)| v),
            crlfile: l.get("sslcrl", &["PGSSLCRL"]).map(|(_, v)| v),
        };

        let application_name = l
            .get("application_name", &["PGAPPNAME"])
            .or_else(|| l.get("fallback_application_name", &[]))
            .map(|(_, v)| v);
        let options = l.get("options", &["PGOPTIONS"]).map(|(_, v)| v);

        Ok(ConnectParams {
            hosts,
            ports,
            user,
            password,
            dbname,
            options,
            application_name,
            connect_timeout,
            keepalives,
            keepalives_idle,
            keepalives_interval,
            keepalives_count,
            tcp_user_timeout,
            target_session_attrs,
            ssl,
        })
    }

    /// Each host with its port, in connection order: one port for all hosts, or one per
    /// host (libpq's rule); no port means 5432, no host means [`default_host`].
    pub fn host_port_pairs(&self) -> Vec<(Host, u16)> {
        let port_at = |i: usize| -> u16 {
            if self.ports.len() == self.hosts.len() {
                self.ports[i]
            } else {
                self.ports.first().copied().unwrap_or(DEFAULT_PORT)
            }
        };
        if self.hosts.is_empty() {
            return vec![(default_host(), port_at(0))];
        }
        self.hosts
            .iter()
            .enumerate()
            .map(|(i, h)| (h.clone(), port_at(i)))
            .collect()
    }

    /// A keyword/value description for messages, without the password, e.g.
    /// `host=127.0.0.1 port=5432 dbname=postgres user=postgres`; multiple hosts and ports
    /// are comma lists.
    pub fn describe(&self) -> String {
        let hosts: Vec<String> = self
            .hosts
            .iter()
            .map(|h| match h {
                Host::Tcp(name) => name.clone(),
                Host::Unix(dir) => dir.display().to_string(),
            })
            .collect();
        let ports: Vec<String> = self.ports.iter().map(u16::to_string).collect();
        format!(
            "host={} port={} dbname={} user={}",
            quote_value(&hosts.join(",")),
            quote_value(&ports.join(",")),
            quote_value(&self.dbname),
            quote_value(&self.user)
        )
    }
}

// ---------------------------------------------------------------------------------------
// Pool configuration

/// `min_size` variables, in order.
const MIN_SIZE_VARS: &[&str] = &[
    "PGPOOL_MIN_SIZE",
    "PG_POOL_MIN",
    "POSTGRES_POOL_MIN_SIZE",
    "DB_POOL_SIZE",
];
/// `max_size` variables, in order (then `DB_POOL_SIZE` + `DB_MAX_OVERFLOW`).
const MAX_SIZE_VARS: &[&str] = &["PGPOOL_MAX_SIZE", "PG_POOL_MAX", "POSTGRES_POOL_MAX_SIZE"];
/// `timeout` variables, in order.
const TIMEOUT_VARS: &[&str] = &["PGPOOL_TIMEOUT", "POSTGRES_POOL_TIMEOUT"];
/// `max_lifetime` variables, in order.
const MAX_LIFETIME_VARS: &[&str] = &["PGPOOL_MAX_LIFETIME", "DB_POOL_RECYCLE"];
/// `pre_ping` variables, in order.
const PRE_PING_VARS: &[&str] = &["PGPOOL_PRE_PING", "DB_POOL_PRE_PING"];

/// The first non-empty variable of `names`, with its name.
fn env_first(
    env: &dyn Fn(&str) -> Option<String>,
    names: &[&'static str],
) -> Option<(&'static str, String)> {
    names
        .iter()
        .find_map(|n| env_value(env, n).map(|v| (*n, v)))
}

/// A count (size): a non-negative integer.
fn parse_count(setting: &str, value: &str) -> Result<usize> {
    let t = value.trim();
    if let Ok(v) = t.parse::<usize>() {
        return Ok(v);
    }
    if t.parse::<i128>().is_ok_and(|v| v < 0) {
        return Err(Error::config(
            setting,
            format!("must not be negative, got '{t}'"),
        ));
    }
    Err(Error::config(setting, format!("invalid integer '{t}'")))
}

/// Seconds as a number (fractions allowed), as `f64`; finite.
fn parse_seconds_f64(setting: &str, value: &str) -> Result<f64> {
    let t = value.trim();
    match t.parse::<f64>() {
        Ok(v) if v.is_finite() => Ok(v),
        _ => Err(Error::config(
            setting,
            format!("invalid number of seconds '{t}'"),
        )),
    }
}

fn seconds_to_duration(setting: &str, secs: f64, value: &str) -> Result<Duration> {
    Duration::try_from_secs_f64(secs).map_err(|_| {
        Error::config(
            setting,
            format!("number of seconds out of range '{}'", value.trim()),
        )
    })
}

/// Seconds, >= 0.
fn parse_duration(setting: &str, value: &str) -> Result<Duration> {
    let secs = parse_seconds_f64(setting, value)?;
    if secs < 0.0 {
        return Err(Error::config(
            setting,
            format!("must not be negative, got '{}'", value.trim()),
        ));
    }
    seconds_to_duration(setting, secs, value)
}

/// Seconds, where `0`, `-1` (SQLAlchemy's "never") and `off`/`never`/`none`/`false`/`no`
/// mean "never" (`None`).
fn parse_optional_duration(setting: &str, value: &str) -> Result<Option<Duration>> {
    let t = value.trim().to_ascii_lowercase();
    if matches!(t.as_str(), "off" | "never" | "none" | "false" | "no") {
        return Ok(None);
    }
    let secs = parse_seconds_f64(setting, value)?;
    if secs == 0.0 || secs == -1.0 {
        return Ok(None);
    }
    if secs < 0.0 {
        return Err(Error::config(
            setting,
            format!("must not be negative, got '{}' (use -1 or off for never)", value.trim()),
        ));
    }
    seconds_to_duration(setting, secs, value).map(Some)
}

fn parse_bool(setting: &str, value: &str) -> Result<bool> {
    match value.trim().to_ascii_lowercase().as_str() {
        "true" | "1" | "yes" | "on" => Ok(true),
        "false" | "0" | "no" | "off" => Ok(false),
        _ => Err(Error::config(
            setting,
            format!(
                "invalid boolean '{}' (expected true/false, 1/0, yes/no or on/off)",
                value.trim()
            ),
        )),
    }
}

/// `DB_POOL_SIZE` + `DB_MAX_OVERFLOW` (SQLAlchemy's `QueuePool` limit), if either is set;
/// the missing one takes SQLAlchemy's default (5 and 10).
fn sqlalchemy_max_size(env: &dyn Fn(&str) -> Option<String>) -> Result<Option<usize>> {
    let size = env_value(env, "DB_POOL_SIZE");
    let overflow = env_value(env, "DB_MAX_OVERFLOW");
    if size.is_none() && overflow.is_none() {
        return Ok(None);
    }
    let size = match size {
        Some(v) => parse_count("DB_POOL_SIZE", &v)?,
        None => SQLALCHEMY_POOL_SIZE,
    };
    let overflow = match overflow {
        Some(v) if v.trim() == "-1" => {
            return Err(Error::config(
                "DB_MAX_OVERFLOW",
                "-1 (unlimited overflow) is not supported: set PGPOOL_MAX_SIZE",
            ))
        }
        Some(v) => parse_count("DB_MAX_OVERFLOW", &v)?,
        None => SQLALCHEMY_MAX_OVERFLOW,
    };
    size.checked_add(overflow)
        .map(Some)
        .ok_or_else(|| Error::config("DB_MAX_OVERFLOW", "DB_POOL_SIZE + DB_MAX_OVERFLOW is too large"))
}

/// A zero duration given as an argument means "never", as `0` does in the environment.
fn nonzero(d: Option<Duration>) -> Option<Duration> {
    d.filter(|d| !d.is_zero())
}

/// Renames the `dsn` setting of a DSN syntax error to where the DSN came from.
fn rename_dsn_setting(e: Error, to: &str) -> Error {
    match e {
        Error::Config { setting, message } if setting == "dsn" => Error::config(to, message),
        other => other,
    }
}

/// The process environment, as the closure the `with_env` functions take.
fn process_env(name: &str) -> Option<String> {
    std::env::var_os(name).map(|v| v.to_string_lossy().into_owned())
}

impl PoolConfig {
    /// The configuration from an optional DSN, explicit arguments and the process
    /// environment. See [`PoolConfig::with_env`].
    pub fn new(dsn: Option<&str>, overrides: &PoolOverrides) -> Result<PoolConfig> {
        Self::with_env(dsn, overrides, &process_env)
    }

    /// The configuration from the process environment alone.
    pub fn from_env() -> Result<PoolConfig> {
        Self::with_env(None, &PoolOverrides::default(), &process_env)
    }

    /// The configuration from an optional DSN, explicit arguments and the environment
    /// `env` (a closure, so tests need not touch the process environment).
    ///
    /// Precedence: argument (`overrides`, including `overrides.keywords`) > DSN >
    /// environment > default. A missing or blank `dsn` means `DATABASE_URL`'s value, if
    /// set; keyword fallbacks then come from the `PG*`/`POSTGRES_*` variables (module docs).
    /// Replica DSNs (`overrides.replicas`) are parsed the same way and take their fallbacks
    /// from the environment only (not from the primary's DSN or keywords).
    ///
    /// Pool settings, each from the first source set (empty variables count as unset):
    ///
    /// | setting | argument, then variables in order | default |
    /// |---|---|---|
    /// | `min_size` | `PGPOOL_MIN_SIZE`, `PG_POOL_MIN`, `POSTGRES_POOL_MIN_SIZE`, `DB_POOL_SIZE` | 1 |
    /// | `max_size` | `PGPOOL_MAX_SIZE`, `PG_POOL_MAX`, `POSTGRES_POOL_MAX_SIZE`, `DB_POOL_SIZE`+`DB_MAX_OVERFLOW` | 10, or `min_size` if larger |
    /// | `timeout` (s) | `PGPOOL_TIMEOUT`, `POSTGRES_POOL_TIMEOUT` | 30 |
    /// | `max_lifetime` (s) | `PGPOOL_MAX_LIFETIME`, `DB_POOL_RECYCLE` | 3600 |
    /// | `max_idle` (s) | `PGPOOL_MAX_IDLE` | 600 |
    /// | `pre_ping` | `PGPOOL_PRE_PING`, `DB_POOL_PRE_PING` | on (window 500 ms) |
    /// | `max_waiting` | `PGPOOL_MAX_WAITING` | 0 (unbounded) |
    /// | `leak_threshold` (s) | `PGPOOL_LEAK_THRESHOLD` | off |
    ///
    /// Sizes are non-negative integers. Durations are seconds, fractions allowed; for
    /// `max_lifetime`, `max_idle` and `leak_threshold`, `0`, `-1` (SQLAlchemy's
    /// `pool_recycle=-1`), `off`, `never`, `none`, `false` and `no` mean never/off (a zero
    /// `Duration` argument too). Booleans: `true`/`false`, `1`/`0`, `yes`/`no`, `on`/`off`.
    /// For `DB_POOL_SIZE`+`DB_MAX_OVERFLOW` the missing one takes SQLAlchemy's default (5
    /// and 10); `DB_MAX_OVERFLOW=-1` (unlimited) is rejected.
    ///
    /// Errors (`Error::Config`) name the argument or variable: unparsable or negative
    /// numbers, `max_size` < 1, `min_size` > `max_size`. Nothing falls back silently.
    pub fn with_env(
        dsn: Option<&str>,
        overrides: &PoolOverrides,
        env: &dyn Fn(&str) -> Option<String>,
    ) -> Result<PoolConfig> {
        // Connection.
        let (dsn, dsn_setting) = match dsn.filter(|d| !d.trim().is_empty()) {
            Some(d) => (Some(d.to_owned()), "dsn"),
            None => (env_value(env, "DATABASE_URL"), "DATABASE_URL"),
        };
        let mut kv = match &dsn {
            Some(d) => parse_dsn(d).map_err(|e| rename_dsn_setting(e, dsn_setting))?,
            None => Vec::new(),
        };
        kv.extend(overrides.keywords.iter().cloned());
        let connect = ConnectParams::from_keywords(&kv, env)?;
        let replicas = overrides
            .replicas
            .iter()
            .enumerate()
            .map(|(i, r)| {
                let kv = parse_dsn(r).map_err(|e| rename_dsn_setting(e, &format!("replicas[{i}]")))?;
                ConnectParams::from_keywords(&kv, env)
            })
            .collect::<Result<Vec<_>>>()?;

        // Sizes.
        let (min_size, min_source) = match overrides.min_size {
            Some(v) => (v, "min_size"),
            None => match env_first(env, MIN_SIZE_VARS) {
                Some((var, v)) => (parse_count(var, &v)?, var),
                None => (DEFAULT_MIN_SIZE, "the default"),
            },
        };
        let (max_size, max_source) = match overrides.max_size {
            Some(v) => (v, "max_size"),
            None => match env_first(env, MAX_SIZE_VARS) {
                Some((var, v)) => (parse_count(var, &v)?, var),
                None => match sqlalchemy_max_size(env)? {
                    Some(v) => (v, "DB_POOL_SIZE+DB_MAX_OVERFLOW"),
                    None => (DEFAULT_MAX_SIZE.max(min_size), "the default"),
                },
            },
        };
        if max_size < 1 {
            return Err(Error::config(max_source, "max_size must be at least 1"));
        }
        if min_size > max_size {
            return Err(Error::config(
                min_source,
                format!(
                    "min_size {min_size} is greater than max_size {max_size} (from {max_source})"
                ),
            ));
        }

        let timeout = match overrides.timeout {
            Some(t) => t,
            None => match env_first(env, TIMEOUT_VARS) {
                Some((var, v)) => parse_duration(var, &v)?,
                None => DEFAULT_TIMEOUT,
            },
        };
        let max_lifetime = match overrides.max_lifetime {
            Some(t) => nonzero(t),
            None => match env_first(env, MAX_LIFETIME_VARS) {
                Some((var, v)) => parse_optional_duration(var, &v)?,
                None => Some(DEFAULT_MAX_LIFETIME),
            },
        };
        let max_idle = match overrides.max_idle {
            Some(t) => nonzero(t),
            None => match env_first(env, &["PGPOOL_MAX_IDLE"]) {
                Some((var, v)) => parse_optional_duration(var, &v)?,
                None => Some(DEFAULT_MAX_IDLE),
            },
        };
        let pre_ping = match overrides.pre_ping {
            Some(b) => b,
            None => match env_first(env, PRE_PING_VARS) {
                Some((var, v)) => parse_bool(var, &v)?,
                None => true,
            },
        };
        let max_waiting = match overrides.max_waiting {
            Some(n) => n,
            None => match env_first(env, &["PGPOOL_MAX_WAITING"]) {
                Some((var, v)) => parse_count(var, &v)?,
                None => 0,
            },
        };
        let leak_threshold = match overrides.leak_threshold {
            Some(t) => nonzero(t),
            None => match env_first(env, &["PGPOOL_LEAK_THRESHOLD"]) {
                Some((var, v)) => parse_optional_duration(var, &v)?,
                None => None,
            },
        };

        Ok(PoolConfig {
            connect,
            replicas,
            min_size,
            max_size,
            timeout,
            max_lifetime,
            max_idle,
            pre_ping,
            pre_ping_window: DEFAULT_PRE_PING_WINDOW,
            max_waiting,
            leak_threshold,
            name: overrides.name.clone(),
        })
    }
}
