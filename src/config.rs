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
    /// `false` (default): `min_size` connections are opened at creation, in the
    /// background, and kept. `true`: they are opened only as checkouts need them, and
    /// then kept (idle reaping never goes below `min_size`) — SQLAlchemy's `pool_size`,
    /// HikariCP's `minimumIdle` without the warm-up.
    pub lazy_min: bool,
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
    /// Client-side limit on the wait for a statement's answer (asyncpg's
    /// `command_timeout`): past it the statement is cancelled, the connection discarded and
    /// an error raised — protection against a stalled network, on top of keepalives and
    /// `tcp_user_timeout`. `None` (default): no limit.
    pub command_timeout: Option<Duration>,
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
    /// `lazy_min`
    pub lazy_min: Option<bool>,
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
    /// `command_timeout` (`Some(None)`: off)
    pub command_timeout: Option<Option<Duration>>,
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
            .field("lazy_min", &self.lazy_min)
            .field("max_size", &self.max_size)
            .field("timeout", &self.timeout)
            .field("max_lifetime", &self.max_lifetime)
            .field("max_idle", &self.max_idle)
            .field("pre_ping", &self.pre_ping)
            .field("max_waiting", &self.max_waiting)
            .field("leak_threshold", &self.leak_threshold)
            .field("command_timeout", &self.command_timeout)
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
    value
        .trim_matches(is_space)
        .parse::<i32>()
        .map_err(|_| Error::config(setting, format!("invalid integer value \"{value}\"")))
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
                    if v.starts_with('1') {
                        "require"
                    } else {
                        "prefer"
                    },
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
        let addr_list: Option<Vec<&str>> = hostaddr.as_ref().map(|(_, v)| v.split(',').collect());
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
            let i = if self.ports.len() == self.hosts.len() {
                i
            } else {
                0
            };
            self.ports.get(i).copied().unwrap_or(DEFAULT_PORT)
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
            format!(
                "must not be negative, got '{}' (use -1 or off for never)",
                value.trim()
            ),
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
    size.checked_add(overflow).map(Some).ok_or_else(|| {
        Error::config(
            "DB_MAX_OVERFLOW",
            "DB_POOL_SIZE + DB_MAX_OVERFLOW is too large",
        )
    })
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
    /// environment. See [`PoolConfig::with_env`]. The TLS files are checked too
    /// ([`crate::tls::check`]), so unusable TLS settings fail here, naming the setting.
    pub fn new(dsn: Option<&str>, overrides: &PoolOverrides) -> Result<PoolConfig> {
        Self::with_env(dsn, overrides, &process_env)?.checked_tls()
    }

    /// The configuration from the process environment alone (TLS files checked, as in
    /// [`PoolConfig::new`]).
    pub fn from_env() -> Result<PoolConfig> {
        Self::with_env(None, &PoolOverrides::default(), &process_env)?.checked_tls()
    }

    fn checked_tls(self) -> Result<PoolConfig> {
        crate::tls::check(&self.connect)?;
        for r in &self.replicas {
            crate::tls::check(r)?;
        }
        Ok(self)
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
    /// | `lazy_min` | `PGPOOL_LAZY_MIN` | off (`min_size` opened at creation) |
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
        // psycopg2's `connect(database=...)` is libpq's `dbname`.
        kv.extend(overrides.keywords.iter().map(|(k, v)| {
            let k = if k == "database" {
                "dbname".to_string()
            } else {
                k.clone()
            };
            (k, v.clone())
        }));
        let connect = ConnectParams::from_keywords(&kv, env)?;
        let replicas = overrides
            .replicas
            .iter()
            .enumerate()
            .map(|(i, r)| {
                let kv =
                    parse_dsn(r).map_err(|e| rename_dsn_setting(e, &format!("replicas[{i}]")))?;
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
        let lazy_min = match overrides.lazy_min {
            Some(b) => b,
            None => match env_first(env, &["PGPOOL_LAZY_MIN"]) {
                Some((var, v)) => parse_bool(var, &v)?,
                None => false,
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

        let command_timeout = match overrides.command_timeout {
            Some(t) => nonzero(t),
            None => match env_first(env, &["PGPOOL_COMMAND_TIMEOUT"]) {
                Some((var, v)) => parse_optional_duration(var, &v)?,
                None => None,
            },
        };

        Ok(PoolConfig {
            command_timeout,
            connect,
            replicas,
            min_size,
            lazy_min,
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

#[cfg(test)]
mod tests {
    use super::*;

    type Env = Box<dyn Fn(&str) -> Option<String>>;

    /// A fake environment holding exactly `vars`.
    fn env_of(vars: &[(&str, &str)]) -> Env {
        let map: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        Box::new(move |k| map.get(k).cloned())
    }

    /// `vars` plus `USER=tester`, so the default user never depends on the machine.
    fn env_with_user(vars: &[(&str, &str)]) -> Env {
        let mut all = vec![("USER", "tester")];
        all.extend_from_slice(vars);
        env_of(&all)
    }

    fn kv(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    fn params(dsn: &str, vars: &[(&str, &str)]) -> Result<ConnectParams> {
        ConnectParams::from_keywords(&parse_dsn(dsn)?, &*env_with_user(vars))
    }

    fn pool(dsn: Option<&str>, ov: &PoolOverrides, vars: &[(&str, &str)]) -> Result<PoolConfig> {
        PoolConfig::with_env(dsn, ov, &*env_with_user(vars))
    }

    fn pool_env(vars: &[(&str, &str)]) -> PoolConfig {
        pool(None, &PoolOverrides::default(), vars).unwrap()
    }

    /// The (setting, message) of a configuration error.
    #[track_caller]
    fn config_err<T: fmt::Debug>(r: Result<T>) -> (String, String) {
        match r {
            Err(Error::Config { setting, message }) => (setting, message),
            other => panic!("expected a configuration error, got {other:?}"),
        }
    }

    #[track_caller]
    fn assert_setting<T: fmt::Debug>(r: Result<T>, setting: &str) -> String {
        let (s, m) = config_err(r);
        assert_eq!(s, setting, "message: {m}");
        m
    }

    fn tcp(h: &str) -> Host {
        Host::Tcp(h.to_owned())
    }

    fn unix(d: &str) -> Host {
        Host::Unix(PathBuf::from(d))
    }

    // --- keyword/value strings -------------------------------------------------------

    #[test]
    fn kv_simple() {
        assert_eq!(
            parse_dsn("host=db port=5433 dbname=app user=u password=p").unwrap(),
            kv(&[
                ("host", "db"),
                ("port", "5433"),
                ("dbname", "app"),
                ("user", "u"),
                ("password", "p")
            ])
        );
    }

    #[test]
    fn kv_spaces_around_equals_and_tabs() {
        assert_eq!(
            parse_dsn("  host = db\tport=  5433 \n dbname =app  ").unwrap(),
            kv(&[("host", "db"), ("port", "5433"), ("dbname", "app")])
        );
    }

    #[test]
    fn kv_quoting_and_escapes() {
        assert_eq!(
            parse_dsn(r"password='a b\'c\\d' dbname='my db'").unwrap(),
            kv(&[("password", r"a b'c\d"), ("dbname", "my db")])
        );
        // A backslash escapes unquoted too.
        assert_eq!(
            parse_dsn(r"dbname=a\ b user=x\'y").unwrap(),
            kv(&[("dbname", "a b"), ("user", "x'y")])
        );
        // No space needed after a quoted value (libpq).
        assert_eq!(
            parse_dsn("host='h'port=5").unwrap(),
            kv(&[("host", "h"), ("port", "5")])
        );
    }

    #[test]
    fn kv_empty_values() {
        assert_eq!(
            parse_dsn("host='' password='' dbname=x").unwrap(),
            kv(&[("host", ""), ("password", ""), ("dbname", "x")])
        );
        // As in libpq, white space after '=' is skipped, so an unquoted empty value takes
        // the next word.
        assert_eq!(
            parse_dsn("password= dbname=x").unwrap(),
            kv(&[("password", "dbname=x")])
        );
        assert!(parse_dsn("").unwrap().is_empty());
        assert!(parse_dsn("   ").unwrap().is_empty());
    }

    #[test]
    fn kv_later_keyword_wins() {
        let p = params("host=a host=b", &[]).unwrap();
        assert_eq!(p.hosts, vec![tcp("b")]);
    }

    #[test]
    fn kv_syntax_errors() {
        let m = assert_setting(parse_dsn("host"), "dsn");
        assert!(m.contains("missing \"=\" after \"host\""), "{m}");
        let m = assert_setting(parse_dsn("host=a dbname='abc"), "dsn");
        assert!(m.contains("unterminated quoted string"), "{m}");
        let m = assert_setting(parse_dsn("=x"), "dsn");
        assert!(m.contains("missing keyword"), "{m}");
    }

    #[test]
    fn kv_unknown_keyword_is_named() {
        let m = assert_setting(parse_dsn("host=a bogus=1"), "bogus");
        assert_eq!(m, "unknown connection option");
        // libpq keywords are case-sensitive.
        assert_setting(parse_dsn("Host=a"), "Host");
        // `ssl` is only a URI query parameter (JDBC).
        assert_setting(parse_dsn("ssl=true"), "ssl");
    }

    #[test]
    fn every_libpq_keyword_is_accepted() {
        for k in USED_KEYWORDS.iter().chain(IGNORED_KEYWORDS) {
            let parsed = parse_dsn(&format!("{k}=''")).unwrap();
            assert_eq!(parsed, kv(&[(k, "")]));
            ConnectParams::from_keywords(&parsed, &*env_with_user(&[]))
                .unwrap_or_else(|e| panic!("{k}: {e}"));
        }
    }

    #[test]
    fn keyword_tables_are_consistent() {
        for k in IGNORED_KEYWORDS {
            assert!(
                IGNORED_CHECKS.iter().any(|(c, _, _)| c == k),
                "{k} has no check"
            );
            assert!(!USED_KEYWORDS.contains(k), "{k} is both used and ignored");
        }
        assert_eq!(IGNORED_CHECKS.len(), IGNORED_KEYWORDS.len());
        for s in SECRET_KEYWORDS {
            assert!(is_known_keyword(s));
        }
    }

    // --- URIs ------------------------------------------------------------------------

    #[test]
    fn uri_full() {
        assert_eq!(
            parse_dsn("postgresql://uri-user:secret@host:12345/db").unwrap(),
            kv(&[
                ("user", "uri-user"),
                ("password", "secret"),
                ("host", "host"),
                ("port", "12345"),
                ("dbname", "db")
            ])
        );
        assert_eq!(
            parse_dsn("postgres://uri-user@host/db").unwrap(),
            kv(&[("user", "uri-user"), ("host", "host"), ("dbname", "db")])
        );
    }

    #[test]
    fn uri_partial_forms() {
        let cases: &[(&str, &[(&str, &str)])] = &[
            ("postgresql://", &[]),
            ("postgres:///", &[]),
            ("postgres:///db", &[("dbname", "db")]),
            ("postgresql://host", &[("host", "host")]),
            ("postgresql://host/", &[("host", "host")]),
            (
                "postgresql://host:12345",
                &[("host", "host"), ("port", "12345")],
            ),
            ("postgresql://uri-user@", &[("user", "uri-user")]),
            ("postgres://@host", &[("host", "host")]),
            ("postgres://host:/", &[("host", "host")]),
            ("postgres://:12345/", &[("port", "12345")]),
            ("postgresql://host?", &[("host", "host")]),
            ("postgresql://%68ost/", &[("host", "host")]),
            (
                "postgres://uri-user@/db",
                &[("user", "uri-user"), ("dbname", "db")],
            ),
            (
                "postgres://?host=/path/to/socket/dir",
                &[("host", "/path/to/socket/dir")],
            ),
            (
                "postgres://otheruser@:12345/db?host=/path/to/socket",
                &[
                    ("user", "otheruser"),
                    ("port", "12345"),
                    ("dbname", "db"),
                    ("host", "/path/to/socket"),
                ],
            ),
        ];
        for (uri, want) in cases {
            assert_eq!(parse_dsn(uri).unwrap(), kv(want), "{uri}");
        }
    }

    #[test]
    fn uri_query_parameters() {
        assert_eq!(
            parse_dsn("postgresql://host/db?user=uri-user&port=12345").unwrap(),
            kv(&[
                ("host", "host"),
                ("dbname", "db"),
                ("user", "uri-user"),
                ("port", "12345")
            ])
        );
        // Percent-encoded keyword.
        assert_eq!(
            parse_dsn("postgresql://host/db?u%73er=someotheruser").unwrap(),
            kv(&[
                ("host", "host"),
                ("dbname", "db"),
                ("user", "someotheruser")
            ])
        );
        // Leading and trailing spaces are dropped (libpq).
        assert_eq!(
            parse_dsn("postgresql://host?  user = uri-user & port  = 12345 ").unwrap(),
            kv(&[("host", "host"), ("user", "uri-user"), ("port", "12345")])
        );
        // JDBC's ssl=true.
        assert_eq!(
            parse_dsn("postgresql://host?ssl=true").unwrap(),
            kv(&[("host", "host"), ("sslmode", "require")])
        );
        assert_setting(parse_dsn("postgresql://host?ssl=false"), "ssl");
    }

    #[test]
    fn uri_query_errors() {
        assert_eq!(
            assert_setting(parse_dsn("postgresql://host/db?u%7aer=x"), "uzer"),
            "unknown connection option"
        );
        let m = assert_setting(parse_dsn("postgresql://host?zzz"), "dsn");
        assert!(m.contains("missing key/value separator"), "{m}");
        let m = assert_setting(parse_dsn("postgresql://host?value1&value2"), "dsn");
        assert!(m.contains("\"value1\""), "{m}");
        let m = assert_setting(parse_dsn("postgresql://host?key=key=value"), "dsn");
        assert!(m.contains("extra key/value separator"), "{m}");
        let m = assert_setting(
            parse_dsn("postgresql://host?  user user  =  uri  & port = 12345 12 "),
            "dsn",
        );
        assert!(m.contains("unexpected spaces"), "{m}");
    }

    #[test]
    fn uri_percent_decoding_errors() {
        for (uri, want) in [
            (
                "postgres://host?dbname=%XXfoo",
                "invalid percent-encoded token",
            ),
            ("postgresql://a%00b", "forbidden value %00"),
            ("postgresql://%zz", "invalid percent-encoded token"),
            ("postgresql://%1", "invalid percent-encoded token"),
            ("postgresql://%", "invalid percent-encoded token"),
            ("postgresql://h/%ff", "invalid UTF-8"),
        ] {
            let m = assert_setting(parse_dsn(uri), "dsn");
            assert!(m.contains(want), "{uri}: {m}");
        }
    }

    #[test]
    fn uri_percent_decoding() {
        assert_eq!(
            parse_dsn("postgresql://us%65r:p%40ss%2Fw%3Ard%20x@h/my%20db").unwrap(),
            kv(&[
                ("user", "user"),
                ("password", "p@ss/w:rd x"),
                ("host", "h"),
                ("dbname", "my db")
            ])
        );
        // '+' is not a space in libpq URIs.
        assert_eq!(
            parse_dsn("postgresql://h/a+b").unwrap(),
            kv(&[("host", "h"), ("dbname", "a+b")])
        );
        // UTF-8.
        assert_eq!(
            parse_dsn("postgresql://h/%C3%A9t%C3%A9").unwrap(),
            kv(&[("host", "h"), ("dbname", "été")])
        );
    }

    #[test]
    fn uri_ipv6() {
        assert_eq!(
            parse_dsn("postgresql://[::1]:12345/db").unwrap(),
            kv(&[("host", "::1"), ("port", "12345"), ("dbname", "db")])
        );
        assert_eq!(
            parse_dsn("postgresql://[2001:db8::1234]/").unwrap(),
            kv(&[("host", "2001:db8::1234")])
        );
        assert_eq!(
            parse_dsn("postgresql://[::1]").unwrap(),
            kv(&[("host", "::1")])
        );
        let p = params("postgresql://[::1]:6432/db", &[]).unwrap();
        assert_eq!(p.host_port_pairs(), vec![(tcp("::1"), 6432)]);
    }

    #[test]
    fn uri_ipv6_errors() {
        let m = assert_setting(parse_dsn("postgres://[::1"), "dsn");
        assert!(m.contains("matching \"]\""), "{m}");
        let m = assert_setting(parse_dsn("postgres://[]"), "dsn");
        assert!(m.contains("may not be empty"), "{m}");
        let m = assert_setting(parse_dsn("postgres://[::1]z"), "dsn");
        assert!(
            m.contains("unexpected character \"z\" at position 17"),
            "{m}"
        );
    }

    #[test]
    fn uri_unix_socket_hosts() {
        assert_eq!(
            parse_dsn("postgresql://%2Fvar%2Frun%2Fpostgresql/db").unwrap(),
            kv(&[("host", "/var/run/postgresql"), ("dbname", "db")])
        );
        let p = params("postgres://%2Fvar%2Flib%2Fpostgresql:5433/dbname", &[]).unwrap();
        assert_eq!(p.hosts, vec![unix("/var/lib/postgresql")]);
        assert_eq!(p.ports, vec![5433]);
        assert_eq!(p.dbname, "dbname");
        let p = params("postgres://u@/db?host=/tmp", &[]).unwrap();
        assert_eq!(p.hosts, vec![unix("/tmp")]);
    }

    #[test]
    fn uri_multi_host() {
        assert_eq!(
            parse_dsn("postgresql://h1:5432,h2:5433/db").unwrap(),
            kv(&[("host", "h1,h2"), ("port", "5432,5433"), ("dbname", "db")])
        );
        let p = params("postgresql://h1,h2:5433,[::1]:5434/db", &[]).unwrap();
        assert_eq!(
            p.host_port_pairs(),
            vec![(tcp("h1"), 5432), (tcp("h2"), 5433), (tcp("::1"), 5434)]
        );
        let p = params(
            "postgresql://u:pw@h1,h2/db?target_session_attrs=read-write",
            &[],
        )
        .unwrap();
        assert_eq!(p.hosts, vec![tcp("h1"), tcp("h2")]);
        // libpq's port list is "," here: one empty (default) port per host.
        assert_eq!(p.ports, vec![5432, 5432]);
        assert_eq!(p.target_session_attrs, TargetSessionAttrs::ReadWrite);
    }

    #[test]
    fn uri_sqlalchemy_driver_scheme() {
        assert_eq!(
            parse_dsn("postgresql+psycopg2://u:p@h:5/db").unwrap(),
            parse_dsn("postgresql://u:p@h:5/db").unwrap()
        );
        assert_eq!(
            parse_dsn("postgres+asyncpg://h/db").unwrap(),
            kv(&[("host", "h"), ("dbname", "db")])
        );
        // Not a URI: parsed (and rejected) as keyword/value.
        assert_setting(parse_dsn("postgre://"), "dsn");
        assert_setting(parse_dsn("postgresql+://h"), "dsn");
    }

    #[test]
    fn uri_unencoded_at_signs() {
        // '@' in the password: the last '@' of the authority ends the user information.
        assert_eq!(
            parse_dsn("postgresql://u:p@ss@host/db").unwrap(),
            kv(&[
                ("user", "u"),
                ("password", "p@ss"),
                ("host", "host"),
                ("dbname", "db")
            ])
        );
        // Azure-style user names.
        assert_eq!(
            parse_dsn("postgresql://me@srv:pw@host/db").unwrap()[0],
            ("user".to_owned(), "me@srv".to_owned())
        );
        // '@' inside a query value is not user information.
        assert_eq!(
            parse_dsn("postgresql://host?user=me@example.com").unwrap(),
            kv(&[("host", "host"), ("user", "me@example.com")])
        );
        // '?' in a password is fine.
        assert_eq!(
            parse_dsn("postgresql://u:p?ss@host").unwrap()[1],
            ("password".to_owned(), "p?ss".to_owned())
        );
    }

    #[test]
    fn uri_with_surrounding_whitespace() {
        assert_eq!(
            parse_dsn("  postgresql://h/db\n").unwrap(),
            kv(&[("host", "h"), ("dbname", "db")])
        );
    }

    // --- connection parameters: defaults and the environment --------------------------

    #[test]
    fn defaults() {
        let p = params("", &[]).unwrap();
        assert_eq!(p.hosts, vec![default_host()]);
        assert_eq!(p.ports, vec![5432]);
        assert_eq!(p.user, "tester");
        assert_eq!(p.dbname, "tester");
        assert_eq!(p.password, None);
        assert_eq!(p.options, None);
        assert_eq!(p.application_name, None);
        assert_eq!(p.connect_timeout, None);
        assert!(p.keepalives);
        assert_eq!(p.keepalives_idle, None);
        assert_eq!(p.keepalives_interval, None);
        assert_eq!(p.keepalives_count, None);
        assert_eq!(p.tcp_user_timeout, None);
        assert_eq!(p.target_session_attrs, TargetSessionAttrs::Any);
        assert_eq!(p.ssl, SslConfig::default());
        assert_eq!(p.ssl.mode, SslMode::Prefer);
    }

    #[test]
    fn default_host_follows_the_socket_directory() {
        let want = if Path::new(DEFAULT_SOCKET_DIR).is_dir() {
            unix(DEFAULT_SOCKET_DIR)
        } else {
            tcp("localhost")
        };
        assert_eq!(default_host(), want);
    }

    #[test]
    fn default_user_from_os_variables() {
        let p = ConnectParams::from_keywords(&[], &*env_of(&[("LOGNAME", "logname")])).unwrap();
        assert_eq!(p.user, "logname");
        assert_eq!(p.dbname, "logname");
        let p = ConnectParams::from_keywords(&[], &*env_of(&[("USER", "u1"), ("LOGNAME", "u2")]))
            .unwrap();
        assert_eq!(p.user, "u1");
        // Empty counts as unset.
        let p = ConnectParams::from_keywords(&[], &*env_of(&[("USER", ""), ("LOGNAME", "u2")]))
            .unwrap();
        assert_eq!(p.user, "u2");
    }

    #[test]
    fn libpq_environment() {
        let p = params(
            "",
            &[
                ("PGHOST", "pghost"),
                ("PGPORT", "6543"),
                ("PGDATABASE", "pgdb"),
                ("PGUSER", "pguser"),
                ("PGPASSWORD", "pgpass"),
                ("PGAPPNAME", "app"),
                ("PGCONNECT_TIMEOUT", "7"),
                ("PGSSLMODE", "verify-ca"),
                ("PGSSLROOTCERT", "/root.crt"),
                ("PGSSLCERT", "/client.crt"),
                ("PGSSLKEY", "/client.key"),
                ("PGSSLCRL", "/crl.pem"),
                ("PGTARGETSESSIONATTRS", "primary"),
                ("PGOPTIONS", "-c search_path=x"),
            ],
        )
        .unwrap();
        assert_eq!(p.hosts, vec![tcp("pghost")]);
        assert_eq!(p.ports, vec![6543]);
        assert_eq!(p.dbname, "pgdb");
        assert_eq!(p.user, "pguser");
        assert_eq!(p.password.as_deref(), Some("pgpass"));
        assert_eq!(p.application_name.as_deref(), Some("app"));
        assert_eq!(p.connect_timeout, Some(Duration::from_secs(7)));
        assert_eq!(p.target_session_attrs, TargetSessionAttrs::Primary);
        assert_eq!(p.options.as_deref(), Some("-c search_path=x"));
        assert_eq!(
            p.ssl,
            SslConfig {
                mode: SslMode::VerifyCa,
                rootcert: Some("/root.crt".into()),
                cert: Some("/client.crt".into()),
                key: Some("/client.key".into()),
                crlfile: Some("/crl.pem".into()),
            }
        );
    }

    #[test]
    fn pghostaddr() {
        let p = params("", &[("PGHOSTADDR", "10.0.0.1")]).unwrap();
        assert_eq!(p.hosts, vec![tcp("10.0.0.1")]);
    }

    #[test]
    fn seed_postgres_variables() {
        let p = params(
            "",
            &[
                ("POSTGRES_HOST", "pg"),
                ("POSTGRES_PORT", "6432"),
                ("POSTGRES_DATABASE", "veritas"),
                ("POSTGRES_USER", "postgres"),
                ("POSTGRES_PASSWORD", "pw"),
            ],
        )
        .unwrap();
        assert_eq!(p.hosts, vec![tcp("pg")]);
        assert_eq!(p.ports, vec![6432]);
        assert_eq!(p.dbname, "veritas");
        assert_eq!(p.user, "postgres");
        assert_eq!(p.password.as_deref(), Some("pw"));
    }

    #[test]
    fn postgres_db_alias_and_its_order() {
        let p = params("", &[("POSTGRES_DB", "docker")]).unwrap();
        assert_eq!(p.dbname, "docker");
        let p = params(
            "",
            &[
                ("POSTGRES_DB", "docker"),
                ("POSTGRES_DATABASE", "veritas"),
                ("PGDATABASE", "pg"),
            ],
        )
        .unwrap();
        assert_eq!(p.dbname, "veritas");
        let p = params("", &[("POSTGRES_DB", "docker"), ("PGDATABASE", "pg")]).unwrap();
        assert_eq!(p.dbname, "docker");
    }

    #[test]
    fn postgres_variables_beat_pg_variables() {
        let both = [
            ("POSTGRES_HOST", "a"),
            ("PGHOST", "b"),
            ("POSTGRES_PORT", "1111"),
            ("PGPORT", "2222"),
            ("POSTGRES_USER", "ua"),
            ("PGUSER", "ub"),
            ("POSTGRES_PASSWORD", "pa"),
            ("PGPASSWORD", "pb"),
            ("POSTGRES_DATABASE", "da"),
            ("PGDATABASE", "db"),
        ];
        let p = params("", &both).unwrap();
        assert_eq!(
            (
                p.hosts[0].clone(),
                p.ports[0],
                p.user.as_str(),
                p.password.as_deref(),
                p.dbname.as_str()
            ),
            (tcp("a"), 1111, "ua", Some("pa"), "da")
        );
        // An empty POSTGRES_* variable is unset: PG* applies.
        let p = params("", &[("POSTGRES_HOST", ""), ("PGHOST", "b")]).unwrap();
        assert_eq!(p.hosts, vec![tcp("b")]);
    }

    #[test]
    fn dsn_beats_environment() {
        let env = [
            ("PGHOST", "envhost"),
            ("POSTGRES_PORT", "1111"),
            ("PGUSER", "envuser"),
            ("PGPASSWORD", "envpass"),
            ("PGDATABASE", "envdb"),
            ("PGSSLMODE", "disable"),
        ];
        let p = params(
            "host=dsnhost port=2222 user=dsnuser password=dsnpass dbname=dsndb sslmode=require",
            &env,
        )
        .unwrap();
        assert_eq!(p.hosts, vec![tcp("dsnhost")]);
        assert_eq!(p.ports, vec![2222]);
        assert_eq!(p.user, "dsnuser");
        assert_eq!(p.password.as_deref(), Some("dsnpass"));
        assert_eq!(p.dbname, "dsndb");
        assert_eq!(p.ssl.mode, SslMode::Require);
        // What the DSN leaves out comes from the environment.
        let p = params("host=dsnhost", &env).unwrap();
        assert_eq!(p.ports, vec![1111]);
        assert_eq!(p.user, "envuser");
        assert_eq!(p.password.as_deref(), Some("envpass"));
        assert_eq!(p.ssl.mode, SslMode::Disable);
    }

    #[test]
    fn explicit_empty_value_means_default_and_hides_environment() {
        let env = [
            ("PGHOST", "envhost"),
            ("PGDATABASE", "envdb"),
            ("PGPORT", "1111"),
        ];
        let p = params("host='' dbname='' port=''", &env).unwrap();
        assert_eq!(p.hosts, vec![default_host()]);
        assert_eq!(p.dbname, "tester");
        assert_eq!(p.ports, vec![5432]);
        // A URI's empty path does not set dbname, so PGDATABASE applies (libpq).
        let p = params("postgresql://h/", &env).unwrap();
        assert_eq!(p.dbname, "envdb");
    }

    #[test]
    fn dbname_defaults_to_user() {
        let p = params("user=alice", &[]).unwrap();
        assert_eq!(p.dbname, "alice");
        let p = params("", &[("POSTGRES_USER", "bob")]).unwrap();
        assert_eq!(p.dbname, "bob");
    }

    // --- hosts and ports ------------------------------------------------------------

    #[test]
    fn socket_directory_hosts() {
        assert_eq!(params("host=/tmp", &[]).unwrap().hosts, vec![unix("/tmp")]);
        assert_eq!(
            params("", &[("PGHOST", "/var/run/postgresql")])
                .unwrap()
                .hosts,
            vec![unix("/var/run/postgresql")]
        );
        // libpq's abstract-namespace socket names.
        assert_eq!(params("host=@pg", &[]).unwrap().hosts, vec![unix("@pg")]);
        let p = params("host=/tmp port=5433", &[]).unwrap();
        assert_eq!(p.host_port_pairs(), vec![(unix("/tmp"), 5433)]);
    }

    #[test]
    fn multi_host_ports() {
        let p = params("host=a,b,c port=6000", &[]).unwrap();
        assert_eq!(
            p.host_port_pairs(),
            vec![(tcp("a"), 6000), (tcp("b"), 6000), (tcp("c"), 6000)]
        );
        let p = params("host=a,b,c port=1,2,3", &[]).unwrap();
        assert_eq!(
            p.host_port_pairs(),
            vec![(tcp("a"), 1), (tcp("b"), 2), (tcp("c"), 3)]
        );
        let p = params("host=a,/tmp", &[]).unwrap();
        assert_eq!(
            p.host_port_pairs(),
            vec![(tcp("a"), 5432), (unix("/tmp"), 5432)]
        );
        // Empty elements are defaults.
        let p = params("host=a,,b port=5433,,5434", &[]).unwrap();
        assert_eq!(
            p.host_port_pairs(),
            vec![(tcp("a"), 5433), (default_host(), 5432), (tcp("b"), 5434)]
        );
    }

    #[test]
    fn port_count_mismatch() {
        let m = assert_setting(params("host=a,b,c port=1,2", &[]), "port");
        assert!(
            m.contains("could not match 2 port numbers to 3 hosts"),
            "{m}"
        );
        let m = assert_setting(params("host=a,b,c", &[("PGPORT", "1,2")]), "PGPORT");
        assert!(m.contains("could not match"), "{m}");
        assert_setting(params("port=1,2", &[]), "port");
    }

    #[test]
    fn invalid_ports() {
        for bad in ["abc", "0", "65536", "-1", "5432x", "54.32"] {
            let m = assert_setting(params(&format!("port={bad}"), &[]), "port");
            assert!(m.contains("invalid port number"), "{m}");
        }
        assert_setting(params("", &[("PGPORT", "x")]), "PGPORT");
        assert_setting(params("", &[("POSTGRES_PORT", "x")]), "POSTGRES_PORT");
        assert_eq!(params("port=' 5433 '", &[]).unwrap().ports, vec![5433]);
        // In a URI a non-numeric port is not quoted (it may be part of a password).
        let m = assert_setting(params("postgresql://h:abc/db", &[]), "dsn");
        assert!(m.contains("invalid port number in URI"), "{m}");
        assert_setting(params("postgresql://h:0/db", &[]), "port");
    }

    #[test]
    fn hostaddr() {
        let p = params("hostaddr=127.0.0.1", &[]).unwrap();
        assert_eq!(p.hosts, vec![tcp("127.0.0.1")]);
        // hostaddr wins over host, element by element; an empty element falls back to host.
        let p = params("host=a,b hostaddr=10.0.0.1,", &[]).unwrap();
        assert_eq!(p.hosts, vec![tcp("10.0.0.1"), tcp("b")]);
        let p = params("hostaddr=::1", &[]).unwrap();
        assert_eq!(p.hosts, vec![tcp("::1")]);
        let m = assert_setting(params("host=a,b hostaddr=10.0.0.1", &[]), "host");
        assert!(
            m.contains("could not match 2 host names to 1 hostaddr values"),
            "{m}"
        );
        let m = assert_setting(params("hostaddr=db.example.com", &[]), "hostaddr");
        assert!(m.contains("invalid IP address"), "{m}");
        assert_setting(params("", &[("PGHOSTADDR", "nope")]), "PGHOSTADDR");
    }

    #[test]
    fn host_port_pairs_edge_cases() {
        let mut p = params("host=a,b", &[]).unwrap();
        p.ports.clear();
        assert_eq!(
            p.host_port_pairs(),
            vec![(tcp("a"), 5432), (tcp("b"), 5432)]
        );
        p.hosts.clear();
        assert_eq!(p.host_port_pairs(), vec![(default_host(), 5432)]);
    }

    // --- other keywords ---------------------------------------------------------------

    #[test]
    fn connect_timeout_libpq_semantics() {
        let t = |v: &str| params(&format!("connect_timeout={v}"), &[]).map(|p| p.connect_timeout);
        assert_eq!(t("10").unwrap(), Some(Duration::from_secs(10)));
        assert_eq!(t(" 3 ").unwrap(), Some(Duration::from_secs(3)));
        assert_eq!(t("1").unwrap(), Some(Duration::from_secs(2)));
        assert_eq!(t("0").unwrap(), None);
        assert_eq!(t("-5").unwrap(), None);
        for bad in ["abc", "2.5", "99999999999", "10s"] {
            let m = assert_setting(t(bad), "connect_timeout");
            assert!(m.contains("invalid integer value"), "{m}");
        }
        assert_setting(
            params("", &[("PGCONNECT_TIMEOUT", "x")]),
            "PGCONNECT_TIMEOUT",
        );
    }

    #[test]
    fn keepalive_settings() {
        let p = params(
            "keepalives=1 keepalives_idle=30 keepalives_interval=10 keepalives_count=3 tcp_user_timeout=5000",
            &[],
        )
        .unwrap();
        assert!(p.keepalives);
        assert_eq!(p.keepalives_idle, Some(Duration::from_secs(30)));
        assert_eq!(p.keepalives_interval, Some(Duration::from_secs(10)));
        assert_eq!(p.keepalives_count, Some(3));
        assert_eq!(p.tcp_user_timeout, Some(Duration::from_millis(5000)));
        let p = params(
            "keepalives=0 keepalives_idle=0 keepalives_interval=-1 keepalives_count=0 tcp_user_timeout=0",
            &[],
        )
        .unwrap();
        assert!(!p.keepalives);
        assert_eq!(
            (
                p.keepalives_idle,
                p.keepalives_interval,
                p.keepalives_count,
                p.tcp_user_timeout
            ),
            (None, None, None, None)
        );
        for k in [
            "keepalives",
            "keepalives_idle",
            "keepalives_interval",
            "keepalives_count",
            "tcp_user_timeout",
        ] {
            assert_setting(params(&format!("{k}=x"), &[]), k);
        }
    }

    #[test]
    fn sslmode_values() {
        for (v, want) in [
            ("disable", SslMode::Disable),
            ("allow", SslMode::Allow),
            ("prefer", SslMode::Prefer),
            ("require", SslMode::Require),
            ("verify-ca", SslMode::VerifyCa),
            ("verify-full", SslMode::VerifyFull),
        ] {
            assert_eq!(params(&format!("sslmode={v}"), &[]).unwrap().ssl.mode, want);
        }
        let m = assert_setting(params("sslmode=on", &[]), "sslmode");
        assert!(m.contains("invalid sslmode value \"on\""), "{m}");
        assert_setting(params("", &[("PGSSLMODE", "yes")]), "PGSSLMODE");
    }

    #[test]
    fn requiressl_is_sslmode() {
        assert_eq!(
            params("requiressl=1", &[]).unwrap().ssl.mode,
            SslMode::Require
        );
        assert_eq!(
            params("requiressl=0", &[]).unwrap().ssl.mode,
            SslMode::Prefer
        );
    }

    #[test]
    fn sslrootcert_system() {
        let p = params("sslrootcert=system", &[]).unwrap();
        assert_eq!(p.ssl.mode, SslMode::VerifyFull);
        assert_eq!(p.ssl.rootcert.as_deref(), Some("system"));
        let p = params("", &[("PGSSLROOTCERT", "system")]).unwrap();
        assert_eq!(p.ssl.mode, SslMode::VerifyFull);
        let m = assert_setting(params("sslrootcert=system sslmode=require", &[]), "sslmode");
        assert!(m.contains("weak sslmode"), "{m}");
        assert!(params("sslrootcert=system sslmode=verify-full", &[]).is_ok());
    }

    #[test]
    fn target_session_attrs_values() {
        for (v, want) in [
            ("any", TargetSessionAttrs::Any),
            ("read-write", TargetSessionAttrs::ReadWrite),
            ("read-only", TargetSessionAttrs::ReadOnly),
            ("primary", TargetSessionAttrs::Primary),
            ("standby", TargetSessionAttrs::Standby),
            ("prefer-standby", TargetSessionAttrs::PreferStandby),
        ] {
            assert_eq!(
                params(&format!("target_session_attrs={v}"), &[])
                    .unwrap()
                    .target_session_attrs,
                want
            );
        }
        assert_setting(
            params("target_session_attrs=master", &[]),
            "target_session_attrs",
        );
        assert_setting(
            params("", &[("PGTARGETSESSIONATTRS", "x")]),
            "PGTARGETSESSIONATTRS",
        );
    }

    #[test]
    fn application_name_and_fallback() {
        let name = |dsn: &str, env: &[(&str, &str)]| params(dsn, env).unwrap().application_name;
        assert_eq!(
            name("fallback_application_name=fb", &[]).as_deref(),
            Some("fb")
        );
        assert_eq!(
            name("application_name=app fallback_application_name=fb", &[]).as_deref(),
            Some("app")
        );
        assert_eq!(
            name("fallback_application_name=fb", &[("PGAPPNAME", "env")]).as_deref(),
            Some("env")
        );
        assert_eq!(name("application_name=''", &[("PGAPPNAME", "env")]), None);
    }

    #[test]
    fn ignored_keywords_accepted() {
        let p = params(
            "passfile=/x client_encoding=UTF8 channel_binding=prefer gssencmode=disable \
             sslnegotiation=direct sslcompression=1 sslsni=0 sslcertmode=allow sslpassword=k \
             ssl_min_protocol_version=TLSv1.2 ssl_max_protocol_version=TLSv1.3 \
             load_balance_hosts=random replication=false krbsrvname=postgres gsslib=gssapi \
             gssdelegation=0 require_auth='' service='' requirepeer='' sslcrldir=''",
            &[],
        )
        .unwrap();
        assert_eq!(p, params("", &[]).unwrap());
    }

    #[test]
    fn ignored_keywords_that_cannot_be_honoured_are_rejected() {
        for (dsn, setting) in [
            ("channel_binding=require", "channel_binding"),
            ("gssencmode=require", "gssencmode"),
            ("sslcertmode=require", "sslcertmode"),
            (
                "ssl_min_protocol_version=TLSv1.3",
                "ssl_min_protocol_version",
            ),
            ("require_auth=scram-sha-256", "require_auth"),
            ("service=mydb", "service"),
            ("requirepeer=postgres", "requirepeer"),
            ("replication=database", "replication"),
            ("sslcrldir=/crls", "sslcrldir"),
        ] {
            let m = assert_setting(params(dsn, &[]), setting);
            assert!(m.contains("not supported"), "{dsn}: {m}");
        }
        assert_setting(params("", &[("PGSERVICE", "mydb")]), "PGSERVICE");
        assert_setting(
            params("", &[("PGCHANNELBINDING", "require")]),
            "PGCHANNELBINDING",
        );
        // The DSN's value wins over the environment's.
        assert!(params(
            "channel_binding=disable",
            &[("PGCHANNELBINDING", "require")]
        )
        .is_ok());
    }

    #[test]
    fn ignored_keywords_invalid_values() {
        for (dsn, setting) in [
            ("sslcompression=2", "sslcompression"),
            ("sslsni=yes", "sslsni"),
            ("load_balance_hosts=roundrobin", "load_balance_hosts"),
            ("channel_binding=maybe", "channel_binding"),
            ("sslnegotiation=fast", "sslnegotiation"),
            ("ssl_max_protocol_version=SSLv3", "ssl_max_protocol_version"),
        ] {
            let m = assert_setting(params(dsn, &[]), setting);
            assert!(m.contains("invalid value"), "{dsn}: {m}");
        }
    }

    #[test]
    fn from_keywords_rejects_unknown_keywords() {
        let m = assert_setting(
            ConnectParams::from_keywords(&kv(&[("hots", "x")]), &*env_with_user(&[])),
            "hots",
        );
        assert_eq!(m, "unknown connection option");
    }

    #[test]
    fn describe_has_no_password() {
        let p = params(
            "host=127.0.0.1 port=5432 dbname=postgres user=postgres password=hunter2",
            &[],
        )
        .unwrap();
        assert_eq!(
            p.describe(),
            "host=127.0.0.1 port=5432 dbname=postgres user=postgres"
        );
        let p = params("host=/tmp,b port=1,2 dbname='my db' user=u", &[]).unwrap();
        assert_eq!(p.describe(), "host=/tmp,b port=1,2 dbname='my db' user=u");
        // describe() is itself a valid DSN.
        let again = params(&p.describe(), &[]).unwrap();
        assert_eq!(again.hosts, p.hosts);
        assert_eq!(again.dbname, "my db");
    }

    // --- pool settings ------------------------------------------------------------

    #[test]
    fn pool_defaults() {
        let c = pool_env(&[]);
        assert_eq!(c.min_size, 1);
        assert_eq!(c.max_size, 10);
        assert_eq!(c.timeout, Duration::from_secs(30));
        assert_eq!(c.max_lifetime, Some(Duration::from_secs(3600)));
        assert_eq!(c.max_idle, Some(Duration::from_secs(600)));
        assert!(c.pre_ping);
        assert_eq!(c.pre_ping_window, Duration::from_millis(500));
        assert_eq!(c.max_waiting, 0);
        assert_eq!(c.leak_threshold, None);
        assert_eq!(c.name, None);
        assert!(c.replicas.is_empty());
        assert_eq!(c.connect, params("", &[]).unwrap());
    }

    #[test]
    fn min_size_aliases() {
        for var in MIN_SIZE_VARS {
            let c = pool_env(&[(var, "3")]);
            assert_eq!(c.min_size, 3, "{var}");
        }
    }

    #[test]
    fn max_size_aliases() {
        for var in MAX_SIZE_VARS {
            assert_eq!(pool_env(&[(var, "7")]).max_size, 7, "{var}");
        }
        let c = pool_env(&[("DB_POOL_SIZE", "20"), ("DB_MAX_OVERFLOW", "40")]);
        assert_eq!((c.min_size, c.max_size), (20, 60));
    }

    #[test]
    fn alias_order() {
        let c = pool_env(&[
            ("PGPOOL_MIN_SIZE", "1"),
            ("PG_POOL_MIN", "2"),
            ("POSTGRES_POOL_MIN_SIZE", "3"),
            ("DB_POOL_SIZE", "4"),
            ("PGPOOL_MAX_SIZE", "11"),
            ("PG_POOL_MAX", "12"),
            ("POSTGRES_POOL_MAX_SIZE", "13"),
            ("DB_MAX_OVERFLOW", "10"),
        ]);
        assert_eq!((c.min_size, c.max_size), (1, 11));
        let c = pool_env(&[
            ("PG_POOL_MIN", "2"),
            ("POSTGRES_POOL_MIN_SIZE", "3"),
            ("DB_POOL_SIZE", "4"),
            ("PG_POOL_MAX", "12"),
            ("POSTGRES_POOL_MAX_SIZE", "13"),
        ]);
        assert_eq!((c.min_size, c.max_size), (2, 12));
        let c = pool_env(&[
            ("POSTGRES_POOL_MIN_SIZE", "3"),
            ("DB_POOL_SIZE", "4"),
            ("POSTGRES_POOL_MAX_SIZE", "13"),
        ]);
        assert_eq!((c.min_size, c.max_size), (3, 13));
        let c = pool_env(&[("DB_POOL_SIZE", "4")]);
        assert_eq!((c.min_size, c.max_size), (4, 14));
        // Canonical over aliases for the others too.
        let c = pool_env(&[
            ("PGPOOL_TIMEOUT", "1"),
            ("POSTGRES_POOL_TIMEOUT", "2"),
            ("PGPOOL_MAX_LIFETIME", "3"),
            ("DB_POOL_RECYCLE", "4"),
            ("PGPOOL_PRE_PING", "off"),
            ("DB_POOL_PRE_PING", "true"),
        ]);
        assert_eq!(c.timeout, Duration::from_secs(1));
        assert_eq!(c.max_lifetime, Some(Duration::from_secs(3)));
        assert!(!c.pre_ping);
    }

    #[test]
    fn empty_variables_count_as_unset() {
        let c = pool_env(&[
            ("PGPOOL_MAX_SIZE", ""),
            ("PG_POOL_MAX", "7"),
            ("PGPOOL_TIMEOUT", " "),
        ]);
        assert_eq!(c.max_size, 7);
        assert_eq!(c.timeout, Duration::from_secs(30));
    }

    #[test]
    fn sqlalchemy_sizes() {
        let c = pool_env(&[("DB_POOL_SIZE", "20")]);
        assert_eq!((c.min_size, c.max_size), (20, 30));
        let c = pool_env(&[("DB_MAX_OVERFLOW", "15")]);
        assert_eq!((c.min_size, c.max_size), (1, 20));
        let c = pool_env(&[("DB_POOL_SIZE", "0"), ("DB_MAX_OVERFLOW", "3")]);
        assert_eq!((c.min_size, c.max_size), (0, 3));
        let m = assert_setting(
            pool(
                None,
                &PoolOverrides::default(),
                &[("DB_MAX_OVERFLOW", "-1")],
            ),
            "DB_MAX_OVERFLOW",
        );
        assert!(m.contains("unlimited"), "{m}");
        assert_setting(
            pool(
                None,
                &PoolOverrides::default(),
                &[("DB_MAX_OVERFLOW", "lots")],
            ),
            "DB_MAX_OVERFLOW",
        );
        assert_setting(
            pool(
                None,
                &PoolOverrides::default(),
                &[("DB_POOL_SIZE", "x"), ("PGPOOL_MIN_SIZE", "1")],
            ),
            "DB_POOL_SIZE",
        );
    }

    #[test]
    fn default_max_rises_to_min() {
        let c = pool_env(&[("PG_POOL_MIN", "20")]);
        assert_eq!((c.min_size, c.max_size), (20, 20));
    }

    #[test]
    fn timeout_variables() {
        assert_eq!(
            pool_env(&[("PGPOOL_TIMEOUT", "5")]).timeout,
            Duration::from_secs(5)
        );
        assert_eq!(
            pool_env(&[("POSTGRES_POOL_TIMEOUT", "60.0")]).timeout,
            Duration::from_secs(60)
        );
        assert_eq!(
            pool_env(&[("PGPOOL_TIMEOUT", "0.25")]).timeout,
            Duration::from_millis(250)
        );
        assert_eq!(pool_env(&[("PGPOOL_TIMEOUT", "0")]).timeout, Duration::ZERO);
        for bad in ["abc", "inf", "NaN", "1e400", "10s"] {
            let m = assert_setting(
                pool(None, &PoolOverrides::default(), &[("PGPOOL_TIMEOUT", bad)]),
                "PGPOOL_TIMEOUT",
            );
            assert!(m.contains("invalid number of seconds"), "{bad}: {m}");
        }
        let m = assert_setting(
            pool(
                None,
                &PoolOverrides::default(),
                &[("POSTGRES_POOL_TIMEOUT", "-1")],
            ),
            "POSTGRES_POOL_TIMEOUT",
        );
        assert!(m.contains("negative"), "{m}");
        assert_setting(
            pool(
                None,
                &PoolOverrides::default(),
                &[("PGPOOL_TIMEOUT", "1e30")],
            ),
            "PGPOOL_TIMEOUT",
        );
    }

    #[test]
    fn lifetime_idle_and_leak_variables() {
        let life = |v: &str| pool_env(&[("DB_POOL_RECYCLE", v)]).max_lifetime;
        assert_eq!(life("600"), Some(Duration::from_secs(600)));
        assert_eq!(life("-1"), None);
        assert_eq!(life("0"), None);
        assert_eq!(life("never"), None);
        assert_eq!(
            pool_env(&[("PGPOOL_MAX_LIFETIME", "1.5")]).max_lifetime,
            Some(Duration::from_millis(1500))
        );
        assert_eq!(
            pool_env(&[("PGPOOL_MAX_LIFETIME", "OFF")]).max_lifetime,
            None
        );
        let m = assert_setting(
            pool(
                None,
                &PoolOverrides::default(),
                &[("DB_POOL_RECYCLE", "-5")],
            ),
            "DB_POOL_RECYCLE",
        );
        assert!(m.contains("negative"), "{m}");
        assert_setting(
            pool(
                None,
                &PoolOverrides::default(),
                &[("PGPOOL_MAX_LIFETIME", "1h")],
            ),
            "PGPOOL_MAX_LIFETIME",
        );

        assert_eq!(
            pool_env(&[("PGPOOL_MAX_IDLE", "30")]).max_idle,
            Some(Duration::from_secs(30))
        );
        assert_eq!(pool_env(&[("PGPOOL_MAX_IDLE", "0")]).max_idle, None);
        assert_setting(
            pool(None, &PoolOverrides::default(), &[("PGPOOL_MAX_IDLE", "x")]),
            "PGPOOL_MAX_IDLE",
        );

        let leak = |v: &str| pool_env(&[("PGPOOL_LEAK_THRESHOLD", v)]).leak_threshold;
        assert_eq!(leak("2.5"), Some(Duration::from_millis(2500)));
        assert_eq!(leak("0"), None);
        assert_eq!(leak("off"), None);
        assert_eq!(leak(""), None);
        assert_setting(
            pool(
                None,
                &PoolOverrides::default(),
                &[("PGPOOL_LEAK_THRESHOLD", "-2")],
            ),
            "PGPOOL_LEAK_THRESHOLD",
        );
    }

    #[test]
    fn pre_ping_variables() {
        for var in PRE_PING_VARS {
            for v in ["true", "TRUE", "1", "yes", "on", " On "] {
                assert!(pool_env(&[(var, v)]).pre_ping, "{var}={v}");
            }
            for v in ["false", "False", "0", "no", "off"] {
                assert!(!pool_env(&[(var, v)]).pre_ping, "{var}={v}");
            }
            let m = assert_setting(
                pool(None, &PoolOverrides::default(), &[(var, "maybe")]),
                var,
            );
            assert!(m.contains("invalid boolean 'maybe'"), "{m}");
        }
    }

    #[test]
    fn lazy_min_argument_and_variable() {
        assert!(!pool_env(&[]).lazy_min);
        assert!(pool_env(&[("PGPOOL_LAZY_MIN", "true")]).lazy_min);
        assert!(!pool_env(&[("PGPOOL_LAZY_MIN", "off")]).lazy_min);
        let o = PoolOverrides {
            lazy_min: Some(false),
            ..Default::default()
        };
        let c = PoolConfig::with_env(None, &o, &|k: &str| {
            (k == "PGPOOL_LAZY_MIN").then(|| "1".to_string())
        })
        .unwrap();
        assert!(!c.lazy_min, "the argument wins over the environment");
        assert_setting(
            pool(None, &PoolOverrides::default(), &[("PGPOOL_LAZY_MIN", "x")]),
            "PGPOOL_LAZY_MIN",
        );
    }

    #[test]
    fn max_waiting_variable() {
        assert_eq!(pool_env(&[("PGPOOL_MAX_WAITING", "50")]).max_waiting, 50);
        assert_setting(
            pool(
                None,
                &PoolOverrides::default(),
                &[("PGPOOL_MAX_WAITING", "-1")],
            ),
            "PGPOOL_MAX_WAITING",
        );
        assert_setting(
            pool(
                None,
                &PoolOverrides::default(),
                &[("PGPOOL_MAX_WAITING", "many")],
            ),
            "PGPOOL_MAX_WAITING",
        );
    }

    #[test]
    fn unparsable_sizes_name_the_variable() {
        let e = pool(None, &PoolOverrides::default(), &[("PG_POOL_MAX", "ten")]).unwrap_err();
        assert_eq!(
            e.to_string(),
            "invalid configuration PG_POOL_MAX: invalid integer 'ten'"
        );
        for var in MIN_SIZE_VARS.iter().chain(MAX_SIZE_VARS) {
            assert_setting(pool(None, &PoolOverrides::default(), &[(var, "1.5")]), var);
            let m = assert_setting(pool(None, &PoolOverrides::default(), &[(var, "-3")]), var);
            assert!(m.contains("must not be negative"), "{m}");
        }
    }

    #[test]
    fn size_validation() {
        let m = assert_setting(
            pool(
                None,
                &PoolOverrides::default(),
                &[("PG_POOL_MIN", "5"), ("PG_POOL_MAX", "2")],
            ),
            "PG_POOL_MIN",
        );
        assert!(
            m.contains("min_size 5 is greater than max_size 2 (from PG_POOL_MAX)"),
            "{m}"
        );
        let ov = PoolOverrides {
            max_size: Some(0),
            ..Default::default()
        };
        let m = assert_setting(pool(None, &ov, &[]), "max_size");
        assert!(m.contains("at least 1"), "{m}");
        assert_setting(
            pool(None, &PoolOverrides::default(), &[("PGPOOL_MAX_SIZE", "0")]),
            "PGPOOL_MAX_SIZE",
        );
        let ov = PoolOverrides {
            min_size: Some(4),
            max_size: Some(3),
            ..Default::default()
        };
        assert_setting(pool(None, &ov, &[]), "min_size");
        // Explicit max below an environment minimum.
        let ov = PoolOverrides {
            max_size: Some(3),
            ..Default::default()
        };
        assert_setting(
            pool(None, &ov, &[("PGPOOL_MIN_SIZE", "4")]),
            "PGPOOL_MIN_SIZE",
        );
    }

    #[test]
    fn arguments_beat_environment() {
        let ov = PoolOverrides {
            min_size: Some(2),
            max_size: Some(4),
            timeout: Some(Duration::from_secs(9)),
            max_lifetime: Some(Some(Duration::from_secs(99))),
            max_idle: Some(None),
            pre_ping: Some(false),
            max_waiting: Some(5),
            leak_threshold: Some(Some(Duration::from_secs(3))),
            name: Some("main".into()),
            ..Default::default()
        };
        let env = [
            ("PGPOOL_MIN_SIZE", "1"),
            ("PGPOOL_MAX_SIZE", "50"),
            ("PGPOOL_TIMEOUT", "1"),
            ("PGPOOL_MAX_LIFETIME", "1"),
            ("PGPOOL_MAX_IDLE", "1"),
            ("PGPOOL_PRE_PING", "true"),
            ("PGPOOL_MAX_WAITING", "1"),
            ("PGPOOL_LEAK_THRESHOLD", "1"),
            // Invalid values below an argument are never read.
            ("PG_POOL_MAX", "ten"),
        ];
        let c = pool(None, &ov, &env).unwrap();
        assert_eq!((c.min_size, c.max_size), (2, 4));
        assert_eq!(c.timeout, Duration::from_secs(9));
        assert_eq!(c.max_lifetime, Some(Duration::from_secs(99)));
        assert_eq!(c.max_idle, None);
        assert!(!c.pre_ping);
        assert_eq!(c.max_waiting, 5);
        assert_eq!(c.leak_threshold, Some(Duration::from_secs(3)));
        assert_eq!(c.name.as_deref(), Some("main"));
    }

    #[test]
    fn zero_duration_arguments_mean_never() {
        let ov = PoolOverrides {
            max_lifetime: Some(Some(Duration::ZERO)),
            max_idle: Some(Some(Duration::ZERO)),
            leak_threshold: Some(Some(Duration::ZERO)),
            ..Default::default()
        };
        let c = pool(None, &ov, &[]).unwrap();
        assert_eq!(
            (c.max_lifetime, c.max_idle, c.leak_threshold),
            (None, None, None)
        );
    }

    #[test]
    fn connection_precedence_argument_dsn_env_default() {
        let env = [
            ("PGHOST", "envhost"),
            ("PGPORT", "1111"),
            ("PGUSER", "envuser"),
        ];
        let ov = PoolOverrides {
            keywords: kv(&[("host", "arghost")]),
            ..Default::default()
        };
        let c = pool(Some("host=dsnhost port=2222"), &ov, &env).unwrap();
        assert_eq!(c.connect.hosts, vec![tcp("arghost")]); // argument
        assert_eq!(c.connect.ports, vec![2222]); // DSN
        assert_eq!(c.connect.user, "envuser"); // environment
        assert_eq!(c.connect.ssl.mode, SslMode::Prefer); // default
        let c = pool(Some("host=dsnhost"), &PoolOverrides::default(), &env).unwrap();
        assert_eq!(c.connect.hosts, vec![tcp("dsnhost")]);
        let c = pool(None, &PoolOverrides::default(), &env).unwrap();
        assert_eq!(c.connect.hosts, vec![tcp("envhost")]);
        let c = pool(None, &PoolOverrides::default(), &[]).unwrap();
        assert_eq!(c.connect.hosts, vec![default_host()]);
        // Unknown keyword arguments are rejected.
        let ov = PoolOverrides {
            keywords: kv(&[("dbnmae", "x")]),
            ..Default::default()
        };
        assert_setting(pool(None, &ov, &[]), "dbnmae");
    }

    #[test]
    fn database_url() {
        let env = [
            ("DATABASE_URL", "postgresql://u:pw@urlhost:5433/urldb"),
            ("PGHOST", "envhost"),
            ("PGAPPNAME", "envapp"),
        ];
        let c = pool(None, &PoolOverrides::default(), &env).unwrap();
        assert_eq!(c.connect.hosts, vec![tcp("urlhost")]);
        assert_eq!(c.connect.ports, vec![5433]);
        assert_eq!(c.connect.dbname, "urldb");
        assert_eq!(c.connect.user, "u");
        assert_eq!(c.connect.password.as_deref(), Some("pw"));
        assert_eq!(c.connect.application_name.as_deref(), Some("envapp"));
        // A blank DSN is no DSN.
        let c2 = pool(Some("  "), &PoolOverrides::default(), &env).unwrap();
        assert_eq!(c2, c);
        // An explicit DSN hides DATABASE_URL.
        let c = pool(Some("dbname=other"), &PoolOverrides::default(), &env).unwrap();
        assert_eq!(c.connect.hosts, vec![tcp("envhost")]);
        assert_eq!(c.connect.dbname, "other");
        assert_eq!(c.connect.password, None);
        // Syntax errors name DATABASE_URL.
        assert_setting(
            pool(
                None,
                &PoolOverrides::default(),
                &[("DATABASE_URL", "postgres://[::1")],
            ),
            "DATABASE_URL",
        );
        assert_setting(
            pool(Some("postgres://[::1"), &PoolOverrides::default(), &[]),
            "dsn",
        );
    }

    #[test]
    fn replicas() {
        let ov = PoolOverrides {
            replicas: vec![
                "host=replica1".into(),
                "postgresql://replica2:5433/ro".into(),
            ],
            ..Default::default()
        };
        let env = [
            ("PGUSER", "app"),
            ("PGPASSWORD", "envpw"),
            ("PGDATABASE", "main"),
        ];
        let c = pool(Some("host=primary"), &ov, &env).unwrap();
        assert_eq!(c.replicas.len(), 2);
        assert_eq!(c.replicas[0].hosts, vec![tcp("replica1")]);
        assert_eq!(c.replicas[0].user, "app");
        assert_eq!(c.replicas[0].password.as_deref(), Some("envpw"));
        assert_eq!(c.replicas[0].dbname, "main");
        assert_eq!(
            c.replicas[1].host_port_pairs(),
            vec![(tcp("replica2"), 5433)]
        );
        assert_eq!(c.replicas[1].dbname, "ro");
        let ov = PoolOverrides {
            replicas: vec!["host=ok".into(), "host='broken".into()],
            ..Default::default()
        };
        assert_setting(pool(None, &ov, &[]), "replicas[1]");
        let ov = PoolOverrides {
            replicas: vec!["host=ok port=x".into()],
            ..Default::default()
        };
        assert_setting(pool(None, &ov, &[]), "port");
    }

    // --- the seed systems ---------------------------------------------------------

    #[test]
    fn seed_veritas() {
        let c = pool_env(&[
            ("POSTGRES_HOST", "localhost"),
            ("POSTGRES_PORT", "6432"),
            ("POSTGRES_DATABASE", "veritas"),
            ("POSTGRES_USER", "postgres"),
            ("POSTGRES_PASSWORD", "secret"),
            ("PG_POOL_MIN", "1"),
            ("PG_POOL_MAX", "10"),
        ]);
        assert_eq!(
            c.connect.describe(),
            "host=localhost port=6432 dbname=veritas user=postgres"
        );
        assert_eq!((c.min_size, c.max_size), (1, 10));
    }

    #[test]
    fn seed_skills_engine() {
        let c = pool_env(&[
            ("DATABASE_URL", "postgresql://skills:pw@db:5432/skills"),
            ("POSTGRES_POOL_MAX_SIZE", "15"),
            ("POSTGRES_POOL_MIN_SIZE", "5"),
            ("POSTGRES_POOL_TIMEOUT", "30.0"),
        ]);
        assert_eq!((c.min_size, c.max_size), (5, 15));
        assert_eq!(c.timeout, Duration::from_secs(30));
        assert_eq!(c.connect.dbname, "skills");
    }

    #[test]
    fn seed_writeros() {
        let c = pool_env(&[
            ("DATABASE_URL", "postgresql+psycopg2://w:pw@db/writer"),
            ("DB_POOL_SIZE", "20"),
            ("DB_MAX_OVERFLOW", "40"),
            ("DB_POOL_RECYCLE", "3600"),
            ("DB_POOL_PRE_PING", "true"),
        ]);
        assert_eq!((c.min_size, c.max_size), (20, 60));
        assert_eq!(c.max_lifetime, Some(Duration::from_secs(3600)));
        assert!(c.pre_ping);
        assert_eq!(c.connect.hosts, vec![tcp("db")]);
    }

    // --- secrets ------------------------------------------------------------------

    const SECRET: &str = "Sup3rS3cretPw";

    #[track_caller]
    fn assert_no_secret(s: &str) {
        assert!(!s.contains(SECRET), "secret leaked: {s}");
        assert!(!s.contains("Sup3r"), "secret leaked: {s}");
        assert!(!s.contains("S3cret"), "secret leaked: {s}");
    }

    #[test]
    fn errors_never_contain_the_password() {
        let dsns = [
            format!("host=h password={SECRET} bogus=1"),
            format!("password='{SECRET}' port=abc"),
            format!("bogus=1 password={SECRET}"),
            format!("postgresql://u:{SECRET}@h/db?bogus=1"),
            format!("postgresql://u:{SECRET}@h:99999/db"),
            format!("postgresql://u:{SECRET}@h/db?sslmode=maybe"),
            format!("postgresql://h/db?password={SECRET}&bogus=1"),
            // Malformed: unquoted space, stray '&', '/' and '%' in a password.
            "password=Sup3r S3cretPw".to_owned(),
            "password=Sup3r S3cret=Pw".to_owned(),
            "postgresql://h/db?password=Sup3r&S3cretPw".to_owned(),
            "postgresql://h/db?password=Sup3r&S3cret=Pw".to_owned(),
            "postgresql://h/db?password=Sup3r=S3cretPw".to_owned(),
            "postgresql://u:Sup3r/S3cretPw@h/db".to_owned(),
            "postgresql://u:Sup3r%zzS3cretPw@h/db".to_owned(),
            "postgresql://u:Sup3r S3cretPw@h/db".to_owned(),
            "postgresql://h/db?password=Sup3r%00S3cretPw".to_owned(),
            "postgresql://h/db?sslpassword=Sup3r%zzS3cretPw".to_owned(),
        ];
        for dsn in &dsns {
            let r = pool(Some(dsn), &PoolOverrides::default(), &[]);
            let e = r.expect_err(dsn);
            assert_no_secret(&e.to_string());
            assert_no_secret(&format!("{e:?}"));
        }
        // A password from the environment next to a bad setting.
        let e = pool(
            None,
            &PoolOverrides::default(),
            &[("PGPASSWORD", SECRET), ("PGPORT", "x")],
        )
        .unwrap_err();
        assert_no_secret(&e.to_string());
    }

    #[test]
    fn unknown_keyword_next_to_a_password_is_still_named_elsewhere() {
        let (setting, message) =
            config_err(parse_dsn(&format!("password={SECRET} host=h bogus=1")));
        assert_eq!(
            (setting.as_str(), message.as_str()),
            ("bogus", "unknown connection option")
        );
    }

    #[test]
    fn debug_never_contains_the_password() {
        let ov = PoolOverrides {
            keywords: kv(&[("password", SECRET), ("sslpassword", SECRET)]),
            replicas: vec![
                format!("postgresql://u:{SECRET}@replica/db"),
                format!("host=r password='{SECRET}'"),
            ],
            ..Default::default()
        };
        let ov_debug = format!("{ov:?}");
        assert_no_secret(&ov_debug);
        assert!(ov_debug.contains("replica"), "{ov_debug}");
        let c = pool(
            Some(&format!("postgresql://u:{SECRET}@h/db")),
            &ov,
            &[("PGPASSWORD", SECRET)],
        )
        .unwrap();
        assert_eq!(c.connect.password.as_deref(), Some(SECRET));
        assert_eq!(c.replicas[0].password.as_deref(), Some(SECRET));
        for s in [
            format!("{c:?}"),
            format!("{c:#?}"),
            format!("{:?}", c.connect),
            c.connect.describe(),
            c.replicas[1].describe(),
        ] {
            assert_no_secret(&s);
        }
        assert!(format!("{c:?}").contains("********"));
    }

    #[test]
    fn redact_keyword_value_strings() {
        assert_eq!(
            redact_dsn(&format!("host=h password={SECRET} dbname=d")),
            "host=h password=******** dbname=d"
        );
        assert_eq!(
            redact_dsn(r"host=h password = 'a b\'c' dbname=d"),
            "host=h password = ******** dbname=d"
        );
        assert_eq!(
            redact_dsn("sslpassword=x password=y"),
            "sslpassword=******** password=********"
        );
        assert_eq!(redact_dsn("host=h port=5432"), "host=h port=5432");
        // Malformed: an unquoted space, an unterminated quote.
        assert_eq!(
            redact_dsn("password=Sup3r S3cretPw host=h"),
            "password=******** ******** host=h"
        );
        assert_eq!(
            redact_dsn("host=h password='Sup3r S3cre"),
            "host=h password=********"
        );
        assert_eq!(redact_dsn("password=a\\"), "password=********");
    }

    #[test]
    fn redact_uris() {
        for (uri, want) in [
            (
                format!("postgresql://u:{SECRET}@h:5432/db"),
                "postgresql://u:********@h:5432/db",
            ),
            (
                format!("postgres://u:{SECRET}@h1,h2/db?sslmode=require"),
                "postgres://u:********@h1,h2/db?sslmode=require",
            ),
            (
                format!("postgresql://h/db?password={SECRET}&sslmode=require"),
                "postgresql://h/db?password=********&sslmode=require",
            ),
            (
                format!("postgresql://h/db?pass%77ord={SECRET}"),
                "postgresql://h/db?pass%77ord=********",
            ),
            (
                format!("postgresql+asyncpg://u:{SECRET}@h/db"),
                "postgresql+asyncpg://u:********@h/db",
            ),
            (
                "postgresql://u:Sup3r@S3cretPw@h/db".to_owned(),
                "postgresql://u:********@h/db",
            ),
            (
                "postgresql://u:Sup3r/S3cretPw@h/db".to_owned(),
                "postgresql://u:********@h/db",
            ),
            (
                "postgresql://h/db?password=Sup3r@S3cretPw".to_owned(),
                "postgresql://h/db?password=********",
            ),
            (
                "postgresql://h:5432/db?password=Sup3r@S3cretPw".to_owned(),
                "postgresql://h:5432/db?password=********",
            ),
            (
                "postgresql://h?password=Sup3r@S3cretPw".to_owned(),
                "postgresql://h?password=********",
            ),
            (
                "postgresql://h/db?password=Sup3r&S3cretPw&port=1".to_owned(),
                "postgresql://h/db?password=********&********&port=1",
            ),
            (
                "postgresql://u@h/db?user=me@example.com".to_owned(),
                "postgresql://u@h/db?user=me@example.com",
            ),
            ("postgresql://h/db".to_owned(), "postgresql://h/db"),
        ] {
            assert_eq!(redact_dsn(&uri), want, "{uri}");
        }
    }

    #[test]
    fn uri_password_decode_errors_do_not_quote_it() {
        let m = assert_setting(parse_dsn("postgresql://u:Sup3r%zz@h/db"), "dsn");
        assert!(m.contains("in the password"), "{m}");
        assert_no_secret(&m);
    }
}
