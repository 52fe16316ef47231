//! Pool settings: [`PoolConfig`] from the environment (every seed system's variables) and
//! the explicit [`PoolOverrides`].
#![forbid(unsafe_code)]

use std::time::Duration;

use super::dsn::parse_dsn;
use super::durations::{parse_duration, parse_optional_duration, MAX_DURATION};
use super::params::env_value;
use super::{
    ConnectParams, Host, PoolConfig, PoolOverrides, DEFAULT_MAX_IDLE, DEFAULT_MAX_LIFETIME,
    DEFAULT_MAX_SIZE, DEFAULT_MIN_SIZE, DEFAULT_PRE_PING_WINDOW, DEFAULT_TIMEOUT,
    SQLALCHEMY_MAX_OVERFLOW, SQLALCHEMY_POOL_SIZE,
};
use crate::error::{Error, Result};

// ---------------------------------------------------------------------------------------
// Pool configuration

/// `min_size` variables, in order.
pub(super) const MIN_SIZE_VARS: &[&str] = &[
    "PGPOOL_MIN_SIZE",
    "PG_POOL_MIN",
    "POSTGRES_POOL_MIN_SIZE",
    "DB_POOL_SIZE",
];
/// `max_size` variables, in order (then `DB_POOL_SIZE` + `DB_MAX_OVERFLOW`).
pub(super) const MAX_SIZE_VARS: &[&str] =
    &["PGPOOL_MAX_SIZE", "PG_POOL_MAX", "POSTGRES_POOL_MAX_SIZE"];
/// `timeout` variables, in order.
pub(super) const TIMEOUT_VARS: &[&str] = &["PGPOOL_TIMEOUT", "POSTGRES_POOL_TIMEOUT"];
/// `max_lifetime` variables, in order.
pub(super) const MAX_LIFETIME_VARS: &[&str] = &["PGPOOL_MAX_LIFETIME", "DB_POOL_RECYCLE"];
/// `pre_ping` variables, in order.
pub(super) const PRE_PING_VARS: &[&str] = &["PGPOOL_PRE_PING", "DB_POOL_PRE_PING"];

/// The first non-empty variable of `names`, with its name.
pub(super) fn env_first(
    env: &dyn Fn(&str) -> Option<String>,
    names: &[&'static str],
) -> Option<(&'static str, String)> {
    names
        .iter()
        .find_map(|n| env_value(env, n).map(|v| (*n, v)))
}

/// A count (size): a non-negative integer.
pub(super) fn parse_count(setting: &str, value: &str) -> Result<usize> {
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

pub(super) fn parse_bool(setting: &str, value: &str) -> Result<bool> {
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
pub(super) fn sqlalchemy_max_size(env: &dyn Fn(&str) -> Option<String>) -> Result<Option<usize>> {
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

/// An off-able duration given as an argument: zero means off, as `0` does in the
/// environment, and so does more than [`MAX_DURATION`] (as in [`optional_duration_secs`]).
pub(super) fn nonzero(d: Option<Duration>) -> Option<Duration> {
    d.filter(|d| !d.is_zero() && *d <= MAX_DURATION)
}

/// The acquire timeout given as an argument: at most [`MAX_DURATION`], as in
/// [`duration_secs`].
pub(super) fn checked_timeout(setting: &str, d: Duration) -> Result<Duration> {
    if d > MAX_DURATION {
        return Err(Error::config(
            setting,
            format!(
                "{} s is out of range (at most {} s, 100 years)",
                d.as_secs_f64(),
                MAX_DURATION.as_secs()
            ),
        ));
    }
    Ok(d)
}

/// Renames the `dsn` setting of a DSN syntax error to where the DSN came from.
pub(super) fn rename_dsn_setting(e: Error, to: &str) -> Error {
    match e {
        Error::Config { setting, message } if setting == "dsn" => Error::config(to, message),
        other => other,
    }
}

/// Replica URLs from the environment when no `replicas` argument is given, in order.
pub(super) const REPLICA_URL_VARS: &[&str] = &["REPLICA_DATABASE_URL", "DATABASE_REPLICA_URL"];

/// Seed 003's PgBouncer switch: with `USE_PGBOUNCER` true, the primary and the replicas
/// are reached through `PGBOUNCER_HOST` (default `localhost`) and `PGBOUNCER_PORT`
/// (default 6432) instead of their own host and port; user, password and database stay
/// the DSN's (PgBouncer's `[databases]` maps them). `None` when the switch is off.
pub(super) fn pgbouncer_route(
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<Option<(String, u16)>> {
    let on = match env_value(env, "USE_PGBOUNCER") {
        Some(v) => parse_bool("USE_PGBOUNCER", &v)?,
        None => false,
    };
    if !on {
        return Ok(None);
    }
    let host = env_value(env, "PGBOUNCER_HOST").unwrap_or_else(|| "localhost".into());
    let port = match env_value(env, "PGBOUNCER_PORT") {
        Some(v) => v
            .trim()
            .parse::<u16>()
            .ok()
            .filter(|p| *p > 0)
            .ok_or_else(|| Error::config("PGBOUNCER_PORT", format!("invalid port \"{v}\"")))?,
        None => 6432,
    };
    Ok(Some((host, port)))
}

/// The process environment, as the closure the `with_env` functions take.
pub(super) fn process_env(name: &str) -> Option<String> {
    std::env::var_os(name).map(|v| v.to_string_lossy().into_owned())
}

impl PoolConfig {
    /// The configuration from an optional DSN, explicit arguments and the process
    /// environment. See [`PoolConfig::with_env`]. (The TLS files are checked when a
    /// pool is built from it: `crate::Pool::new`.)
    pub fn new(dsn: Option<&str>, overrides: &PoolOverrides) -> Result<PoolConfig> {
        Self::with_env(dsn, overrides, &process_env)
    }

    /// The configuration from the process environment alone.
    pub fn from_env() -> Result<PoolConfig> {
        Self::with_env(None, &PoolOverrides::default(), &process_env)
    }

    /// Holds the durations to the rules of [`PoolConfig::with_env`] when the struct was
    /// filled by hand: a `timeout` over [`MAX_DURATION`] is an error, an off-able duration
    /// over it (or zero) is off. [`crate::Pool::new`] applies it.
    pub fn bound_durations(mut self) -> Result<PoolConfig> {
        self.timeout = checked_timeout("timeout", self.timeout)?;
        self.max_lifetime = nonzero(self.max_lifetime);
        self.max_idle = nonzero(self.max_idle);
        self.leak_threshold = nonzero(self.leak_threshold);
        self.command_timeout = nonzero(self.command_timeout);
        self.pre_ping_window = self.pre_ping_window.min(MAX_DURATION);
        for d in [
            &mut self.connect.connect_timeout,
            &mut self.connect.keepalives_idle,
            &mut self.connect.keepalives_interval,
            &mut self.connect.tcp_user_timeout,
        ] {
            *d = d.map(|d| d.min(MAX_DURATION));
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
    /// | `lazy_min` | `PGPOOL_LAZY_MIN` | off (`min_size` opened at creation); on when `min_size` comes from `DB_POOL_SIZE` (SQLAlchemy's `pool_size`: kept once opened) |
    /// | `max_size` | `PGPOOL_MAX_SIZE`, `PG_POOL_MAX`, `POSTGRES_POOL_MAX_SIZE`, `DB_POOL_SIZE`+`DB_MAX_OVERFLOW` | 10, or `min_size` if larger |
    /// | `replicas` | `REPLICA_DATABASE_URL`, `DATABASE_REPLICA_URL` (one URL) | none |
    /// | `replica_min_size` / `replica_max_size` | `PGPOOL_REPLICA_MIN_SIZE` / `PGPOOL_REPLICA_MAX_SIZE` | the primary's |
    ///
    /// With `USE_PGBOUNCER` true (seed 003), every host is replaced by `PGBOUNCER_HOST`
    /// (default `localhost`) and `PGBOUNCER_PORT` (default 6432).
    ///
    /// | `timeout` (s) | `PGPOOL_TIMEOUT`, `POSTGRES_POOL_TIMEOUT` | 30 |
    /// | `max_lifetime` (s) | `PGPOOL_MAX_LIFETIME`, `DB_POOL_RECYCLE` | 3600 |
    /// | `max_idle` (s) | `PGPOOL_MAX_IDLE` | 600 |
    /// | `pre_ping` | `PGPOOL_PRE_PING`, `DB_POOL_PRE_PING` | on (window 500 ms) |
    /// | `max_waiting` | `PGPOOL_MAX_WAITING` | 0 (unbounded) |
    /// | `leak_threshold` (s) | `PGPOOL_LEAK_THRESHOLD` | off |
    /// | `password_command` | `PGPOOL_PASSWORD_COMMAND` (a shell command printing the password; run per new connection) | none |
    ///
    /// Sizes are non-negative integers. Durations are seconds, fractions allowed, at most
    /// [`MAX_DURATION`] (100 years): `timeout` follows [`duration_secs`] (NaN, infinity,
    /// negative or longer is an error); `max_lifetime`, `max_idle`, `leak_threshold` and
    /// `command_timeout` follow [`optional_duration_secs`] (`0`, `-1` — SQLAlchemy's
    /// `pool_recycle=-1` —, `inf` or longer than 100 years mean never/off, as do `off`,
    /// `never`, `none`, `false` and `no`; NaN and other negatives are errors; a zero
    /// `Duration` argument means off too). Booleans: `true`/`false`, `1`/`0`, `yes`/`no`,
    /// `on`/`off`.
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
        let mut connect = ConnectParams::from_keywords(&kv, env)?;
        // Replica DSNs: the arguments, else the environment (seed 003's variable).
        let mut replica_dsns: Vec<(String, String)> = overrides
            .replicas
            .iter()
            .enumerate()
            .map(|(i, r)| (format!("replicas[{i}]"), r.clone()))
            .collect();
        if replica_dsns.is_empty() {
            if let Some((var, v)) = env_first(env, REPLICA_URL_VARS) {
                replica_dsns.push((var.to_string(), v));
            }
        }
        let mut replicas = replica_dsns
            .iter()
            .map(|(setting, r)| {
                let kv = parse_dsn(r).map_err(|e| rename_dsn_setting(e, setting))?;
                ConnectParams::from_keywords(&kv, env)
            })
            .collect::<Result<Vec<_>>>()?;
        if let Some((host, port)) = pgbouncer_route(env)? {
            for p in std::iter::once(&mut connect).chain(replicas.iter_mut()) {
                p.hosts = vec![Host::Tcp(host.clone())];
                p.ports = vec![port];
            }
        }

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
        let replica_min_size = match overrides.replica_min_size {
            Some(v) => Some(v),
            None => match env_first(env, &["PGPOOL_REPLICA_MIN_SIZE"]) {
                Some((var, v)) => Some(parse_count(var, &v)?),
                None => None,
            },
        };
        let replica_max_size = match overrides.replica_max_size {
            Some(v) => Some(v),
            None => match env_first(env, &["PGPOOL_REPLICA_MAX_SIZE"]) {
                Some((var, v)) => Some(parse_count(var, &v)?),
                None => None,
            },
        };
        let (rmin, rmax) = (
            replica_min_size.unwrap_or(min_size),
            replica_max_size.unwrap_or(max_size),
        );
        if (replica_min_size.is_some() || replica_max_size.is_some()) && rmax < 1 {
            return Err(Error::config("replica_max_size", "must be at least 1"));
        }
        if (replica_min_size.is_some() || replica_max_size.is_some()) && rmin > rmax {
            return Err(Error::config(
                "replica_min_size",
                format!("replica min_size {rmin} is greater than replica max_size {rmax}"),
            ));
        }

        let timeout = match overrides.timeout {
            Some(t) => checked_timeout("timeout", t)?,
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
                // Each seed's variable keeps its old meaning: `DB_POOL_SIZE` is
                // SQLAlchemy's `pool_size` (kept once opened, never opened at start);
                // `PG_POOL_MIN`/`POSTGRES_POOL_MIN_SIZE` were psycopg2 pools' `minconn`
                // (opened at creation).
                None => min_source == "DB_POOL_SIZE",
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
            replica_min_size,
            replica_max_size,
            timeout,
            max_lifetime,
            max_idle,
            pre_ping,
            pre_ping_window: DEFAULT_PRE_PING_WINDOW,
            max_waiting,
            leak_threshold,
            name: overrides.name.clone(),
            password_command: env_value(env, "PGPOOL_PASSWORD_COMMAND"),
        })
    }
}
