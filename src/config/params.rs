//! [`ConnectParams`] from a DSN and the environment: libpq's resolution of each
//! connection keyword (see the module docs of [`crate::config`]).
#![forbid(unsafe_code)]

use std::collections::HashMap;
use std::net::IpAddr;
use std::path::PathBuf;
use std::time::Duration;

use super::dsn::is_space;
use super::keywords::{is_known_keyword, IGNORED_CHECKS};
use super::{
    default_host, ConnectParams, Host, SslConfig, SslMode, TargetSessionAttrs, DEFAULT_PORT,
};
use crate::error::{Error, Result};

// ---------------------------------------------------------------------------------------
// Connection parameters

/// Keyword values with their environment fallbacks.
pub(super) struct Lookup<'a> {
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
pub(super) fn env_value(env: &dyn Fn(&str) -> Option<String>, name: &str) -> Option<String> {
    env(name).filter(|v| !v.trim().is_empty())
}

/// libpq's `parse_int_param`: an `i32`, surrounding white space allowed.
pub(super) fn parse_libpq_int(setting: &str, value: &str) -> Result<i32> {
    value
        .trim_matches(is_space)
        .parse::<i32>()
        .map_err(|_| Error::config(setting, format!("invalid integer value \"{value}\"")))
}

/// A libpq integer in `unit`s, where zero or negative means "not set".
pub(super) fn parse_positive(setting: &str, value: &str) -> Result<Option<u64>> {
    let v = parse_libpq_int(setting, value)?;
    Ok(u64::try_from(v).ok().filter(|v| *v > 0))
}

pub(super) fn parse_sslmode(setting: &str, value: &str) -> Result<SslMode> {
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

pub(super) fn parse_target_session_attrs(setting: &str, value: &str) -> Result<TargetSessionAttrs> {
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

pub(super) fn parse_port(setting: &str, value: &str) -> Result<u16> {
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
pub(super) const OS_USER_VARS: &[&str] = if cfg!(windows) {
    &["USERNAME"]
} else {
    &["USER", "LOGNAME"]
};

/// The user name libpq would default to: `USER`, else `LOGNAME` (`USERNAME` on Windows),
/// else the owner of this process in `/etc/passwd`.
pub(super) fn os_user(env: &dyn Fn(&str) -> Option<String>) -> Option<String> {
    OS_USER_VARS
        .iter()
        .find_map(|v| env_value(env, v))
        .or_else(passwd_user)
}

#[cfg(unix)]
pub(super) fn passwd_user() -> Option<String> {
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
pub(super) fn passwd_user() -> Option<String> {
    None
}

/// A host list element: a path (or libpq's `@abstract` socket name) is a Unix socket
/// directory, anything else a TCP host; empty means the default host.
pub(super) fn host_from(value: &str) -> Host {
    if value.is_empty() {
        default_host()
    } else if value.starts_with('/') || value.starts_with('@') {
        Host::Unix(PathBuf::from(value))
    } else {
        Host::Tcp(value.to_owned())
    }
}

/// libpq's quoting of a keyword/value string value.
pub(super) fn quote_value(value: &str) -> String {
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
        let client_encoding = match l.get("client_encoding", &["PGCLIENTENCODING"]) {
            None => None,
            Some((_, v)) if v.eq_ignore_ascii_case("auto") => None,
            Some((_, v)) => Some(crate::encoding::Encoding::from_name(&v).ok_or_else(|| {
                Error::config(
                    "client_encoding",
                    format!("unsupported client encoding {v:?} (supported: {})", {
                        let names: Vec<&str> = crate::encoding::Encoding::names().collect();
                        names.join(", ")
                    }),
                )
            })?),
        };

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
            client_encoding,
            passfile: l.get("passfile", &["PGPASSFILE"]).map(|(_, v)| v),
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
