//! Connecting: every host in turn (libpq multi-host), TLS negotiation (libpq's sslmode
//! second attempts), the startup message, authentication (cleartext, MD5, SCRAM with
//! channel binding) and the post-startup check (`target_session_attrs`, pooler detection).

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Instant;

use bytes::BytesMut;

use super::auth::{Event, Startup, Transport};
use super::frames::ReadBuf;
use super::stream::{configure_tcp, open_socket, Stream};
use super::{describe_target, io_err, Connection, TxStatus, XactCounts, POLL_INTERVAL};
use crate::config::{ConnectParams, Host, SslMode, TargetSessionAttrs};
use crate::encoding::Encoding;
use crate::error::{Error, Result};
use crate::session::Dirty;

impl Connection {
    /// Opens a connection: every host in turn (libpq multi-host), startup, authentication,
    /// and `target_session_attrs`.
    pub fn connect(p: &ConnectParams) -> Result<Connection> {
        Self::connect_until(p, None)
    }

    /// [`Connection::connect`] for a connection of its own (no pool): unusable TLS
    /// settings are a configuration error naming the setting, as `crate::Pool::new`
    /// reports them, whether or not this attempt would have needed them.
    pub fn connect_checked(p: &ConnectParams) -> Result<Connection> {
        crate::tls::check(p)?;
        Self::connect(p)
    }

    /// [`Connection::connect`], each attempt also cut at `until` (a pool checkout's
    /// deadline): no attempt outlives it, whatever `connect_timeout` says.
    pub fn connect_until(p: &ConnectParams, until: Option<Instant>) -> Result<Connection> {
        let mut last: Option<Error> = None;
        for (host, port) in p.host_port_pairs() {
            if until.is_some_and(|u| Instant::now() >= u) {
                last.get_or_insert_with(|| Error::Connection("timeout expired".into()));
                break;
            }
            match Self::connect_one(p, &host, port, until) {
                Ok(mut c) => match c.check_session_attrs(p.target_session_attrs) {
                    Ok(true) => return Ok(c),
                    Ok(false) => {
                        last = Some(Error::Connection(format!(
                            "server at {} does not match target_session_attrs",
                            describe_target(&host, port)
                        )))
                    }
                    Err(e) => last = Some(e),
                },
                Err(e) => last = Some(e),
            }
        }
        Err(last.unwrap_or_else(|| Error::Connection("no host to connect to".into())))
    }

    /// One query after startup: whether the server matches `target_session_attrs`, and
    /// whether a pooler stands between us and it ([`Connection::behind_pooler`]: the
    /// backend's process id is not the one the startup reported, which a pooler makes up).
    pub(super) fn check_session_attrs(&mut self, t: TargetSessionAttrs) -> Result<bool> {
        let r = self.simple_query(
            "SELECT pg_backend_pid(), current_setting('transaction_read_only'), pg_is_in_recovery()",
            None,
        )?;
        let pid = r
            .get(0, 0)
            .and_then(|b| std::str::from_utf8(b).ok())
            .and_then(|s| s.parse::<i32>().ok());
        self.behind_pooler = pid != Some(self.pid);
        let read_only = r.get(0, 1) == Some(b"on");
        let in_recovery = r.get(0, 2) == Some(b"t");
        Ok(match t {
            TargetSessionAttrs::Any => true,
            TargetSessionAttrs::ReadWrite => !read_only,
            TargetSessionAttrs::ReadOnly => read_only,
            TargetSessionAttrs::Primary => !in_recovery,
            TargetSessionAttrs::Standby => in_recovery,
            // prefer-standby accepts a primary when no standby is found; the caller's host
            // loop only reaches here per host, so accept it (libpq retries a second pass).
            TargetSessionAttrs::PreferStandby => true,
        })
    }

    pub(super) fn connect_one(
        p: &ConnectParams,
        host: &Host,
        port: u16,
        until: Option<Instant>,
    ) -> Result<Connection> {
        // No password given: libpq's password file, read now (a changed file applies to
        // this connection).
        let with_file;
        let from_file = match &p.password {
            Some(_) => None,
            None => crate::config::passfile::location(p.passfile.as_deref()).and_then(|path| {
                crate::config::passfile::lookup(&path, host, port, &p.dbname, &p.user)
            }),
        };
        let p = match from_file {
            Some(pw) => {
                let mut q = p.clone();
                q.password = Some(pw);
                with_file = q;
                &with_file
            }
            None => p,
        };
        // sslmode applies to TCP only (libpq ignores it on Unix sockets). libpq's order:
        // `allow` tries plain first and TLS after a server error; `prefer` tries TLS first
        // and plain after a failed handshake or a server error over TLS.
        let tls = match host {
            Host::Tcp(_) => crate::tls::TlsConnector::new(&p.ssl)?,
            Host::Unix(_) => None,
        };
        let first = tls.as_ref().filter(|_| p.ssl.mode != SslMode::Allow);
        let mut retry = false;
        match Self::connect_attempt(p, host, port, first, until, &mut retry) {
            Err(e) if retry && matches!(p.ssl.mode, SslMode::Allow | SslMode::Prefer) => {
                let second = if first.is_some() { None } else { tls.as_ref() };
                log::debug!(
                    "{}: {e}; trying again {} TLS (sslmode={:?})",
                    describe_target(host, port),
                    if second.is_some() { "with" } else { "without" },
                    p.ssl.mode
                );
                Self::connect_attempt(p, host, port, second, until, &mut retry).map_err(
                    |e2| match (e, e2) {
                        (Error::Connection(m1), Error::Connection(m2)) => {
                            Error::Connection(format!("{m1}\n{m2}"))
                        }
                        (_, e2) => e2,
                    },
                )
            }
            r => r,
        }
    }

    /// One connection attempt, over TLS when `tls` is set (SSLRequest first; a server that
    /// answers 'N' gets plain text unless sslmode requires TLS). `retry` tells whether
    /// libpq would make its second attempt (`allow`/`prefer`) after this failure.
    pub(super) fn connect_attempt(
        p: &ConnectParams,
        host: &Host,
        port: u16,
        tls: Option<&crate::tls::TlsConnector>,
        until: Option<Instant>,
        retry: &mut bool,
    ) -> Result<Connection> {
        *retry = false;
        let target = describe_target(host, port);
        let failed = |e: Error| match e {
            Error::Connection(m) => {
                Error::Connection(format!("connection to server at {target} failed: {m}"))
            }
            other => other,
        };
        // connect_timeout, cut at `until`
        let started = Instant::now();
        let limit = match (p.connect_timeout, until) {
            (t, None) => t,
            (None, Some(u)) => Some(u.saturating_duration_since(started)),
            (Some(t), Some(u)) => Some(t.min(u.saturating_duration_since(started))),
        };
        if limit.is_some_and(|l| l.is_zero()) {
            return Err(Error::Connection(format!(
                "connection to server at {target} failed: timeout expired"
            )));
        }
        let stream = open_socket(host, port, limit).map_err(|e| {
            Error::Connection(format!("connection to server at {target} failed: {e}"))
        })?;
        if let Stream::Tcp(s) = &stream {
            configure_tcp(s, p).map_err(|e| io_err("socket options", e))?;
        }
        let now = Instant::now();
        // The whole startup is bounded by connect_timeout (libpq applies it to the
        // connection attempt as a whole).
        let deadline = limit.map(|t| started + t);
        let stream = match (stream, tls, host) {
            (Stream::Tcp(mut s), Some(t), Host::Tcp(name)) => {
                s.set_read_timeout(Some(POLL_INTERVAL))
                    .map_err(|e| io_err("socket options", e))?;
                if crate::tls::ssl_request(&mut s, deadline).map_err(failed)? {
                    match crate::tls::handshake(t, s, name, deadline) {
                        Ok(ts) => Stream::Tls(Box::new(ts)),
                        Err(e) => {
                            // (Not when connect_timeout ran out: that ends this host.)
                            *retry = deadline.is_none_or(|d| Instant::now() < d);
                            return Err(failed(e));
                        }
                    }
                } else if matches!(
                    p.ssl.mode,
                    SslMode::Require | SslMode::VerifyCa | SslMode::VerifyFull
                ) {
                    return Err(failed(Error::Connection(
                        "server does not support SSL, but SSL was required".into(),
                    )));
                } else {
                    Stream::Tcp(s)
                }
            }
            (s, _, _) => s,
        };
        let asked_tls = tls.is_some();
        let tls = match &stream {
            Stream::Tls(_) => tls.cloned(),
            _ => None,
        };
        let mut c = Connection::over(stream, (host.clone(), port), p, tls, now);
        c.stream
            .set_read_timeout(Some(POLL_INTERVAL))
            .map_err(|e| io_err("socket options", e))?;
        if let Err(e) = c.startup(p, deadline) {
            // libpq tries the other way after any server error at startup except "the
            // database system is starting up" (57P03), unless TLS was asked for and the
            // server refused it (then both ways were the same).
            if let Error::Db(d) = &e {
                *retry = d.code != "57P03" && c.ssl_in_use() == asked_tls;
            }
            return Err(failed(e));
        }
        Ok(c)
    }

    /// A connection in its state before the startup, over `stream` (connected to
    /// `target`).
    pub(super) fn over(
        stream: Stream,
        target: (Host, u16),
        p: &ConnectParams,
        tls: Option<crate::tls::TlsConnector>,
        now: Instant,
    ) -> Connection {
        Connection {
            stream,
            rb: ReadBuf::with_capacity(64 * 1024),
            wbuf: BytesMut::with_capacity(8 * 1024),
            params: HashMap::new(),
            pid: 0,
            secret: 0,
            target: Arc::new(target),
            connect_timeout: p.connect_timeout,
            tx: TxStatus::Unknown,
            broken: false,
            xacts: XactCounts::default(),
            tx_read_only: false,
            role_suspect: false,
            saw_commit: false,
            session: Dirty::NONE,
            standard_strings: true,
            encoding: Encoding::UTF8,
            unsupported_encoding: None,
            startup_encoding: p.client_encoding.unwrap_or(Encoding::UTF8),
            behind_pooler: false,
            pending_begin: None,
            notices: Vec::new(),
            notifications: Vec::new(),
            used_password: false,
            created: now,
            last_used: now,
            read_deadline: None,
            generation: crate::runtime::generation(),
            extended: false,
            tls,
            wait_hook: None,
            async_read: None,
            deferred_reset: Dirty::NONE,
        }
    }

    /// The startup exchange ([`Startup`]) over this connection's socket.
    pub(super) fn startup(&mut self, p: &ConnectParams, deadline: Option<Instant>) -> Result<()> {
        let transport = match &self.stream {
            Stream::Tls(t) => Transport::Tls(crate::tls::server_end_point(t)),
            _ => Transport::Plain,
        };
        let mut machine = Startup::start(p, transport, &mut self.wbuf)?;
        self.flush()?;
        loop {
            let (tag, len) = self.next_message(None, deadline)?;
            let at = self.rb.take(len);
            let event = machine.handle(tag, self.rb.get(at), self.encoding, &mut self.wbuf)?;
            match event {
                Event::Continue => {}
                Event::Parameter(k, v) => {
                    let (k, v) = (self.encoding.decode_lossy(k), self.encoding.decode_lossy(v));
                    self.note_parameter(k, v);
                }
                Event::BackendKey { pid, secret } => (self.pid, self.secret) = (pid, secret),
                Event::Ready(tx) => {
                    self.tx = tx;
                    self.used_password = machine.used_password();
                    return Ok(());
                }
            }
            if !self.wbuf.is_empty() {
                self.flush()?;
            }
        }
    }

    // ---------------------------------------------------------------- accessors
}
