//! Configuration: libpq DSNs and URIs, the environment (every alias the seed systems use; README, "Configuration"),
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

use std::fmt;
use std::path::{Path, PathBuf};
use std::time::Duration;

mod dsn;
mod durations;
mod keywords;
mod params;
pub(crate) mod passfile;
mod redact;
mod settings;
#[cfg(test)]
mod tests;

pub use self::dsn::parse_dsn;
pub use self::durations::{
    duration_ms, duration_secs, optional_duration_ms, optional_duration_secs, MAX_DURATION,
};
use self::keywords::*;
pub use self::keywords::{is_known_keyword, IGNORED_KEYWORDS, USED_KEYWORDS};
pub use self::redact::{obscure_password, redact_dsn};

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
    /// `client_encoding` (`PGCLIENTENCODING`): the encoding asked for at startup; `None`
    /// (also for libpq's `auto`): UTF-8.
    pub client_encoding: Option<crate::encoding::Encoding>,
    /// `passfile` (`PGPASSFILE`): libpq's password file, read at each connect without a
    /// password of its own; `None`: `~/.pgpass` ([`passfile`]).
    pub passfile: Option<String>,
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
            .field("client_encoding", &self.client_encoding.map(|e| e.name))
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

/// Pool settings (README, "Configuration"). Build with [`PoolConfig::new`].
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
    /// `min_size` of each replica's pool (`None`: the primary's).
    pub replica_min_size: Option<usize>,
    /// `max_size` of each replica's pool (`None`: the primary's).
    pub replica_max_size: Option<usize>,
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
    /// `PGPOOL_PASSWORD_COMMAND`: a shell command run (`sh -c`) for every new connection's
    /// password — its standard output, trailing newline removed (an IAM token generator, a
    /// secrets CLI) — when no password provider is given in code. Never printed.
    pub password_command: Option<String>,
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
    /// `replica_min_size`
    pub replica_min_size: Option<usize>,
    /// `replica_max_size`
    pub replica_max_size: Option<usize>,
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
