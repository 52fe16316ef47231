//! One server connection, driven by the thread that holds it (see `docs/DESIGN.md`).
//!
//! The socket is blocking. A statement is written in one `write()` (with a pending
//! `BEGIN` in front of it) and its answer is read on the same thread: no runtime, no
//! channel, no hand-off. While waiting, reads time out every [`POLL_INTERVAL`] so the
//! caller's interrupt hook can ask for the query to be cancelled.
#![forbid(unsafe_code)]

use std::collections::HashMap;
use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpStream, ToSocketAddrs};
use std::os::unix::net::UnixStream;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::BytesMut;
use postgres_protocol::authentication::sasl::{self, ChannelBinding, ScramSha256};
use postgres_protocol::message::frontend;
use postgres_protocol::IsNull;

use crate::config::{ConnectParams, Host, SslMode, TargetSessionAttrs};
use crate::encoding::Encoding;
use crate::error::{DbError, Error, Result};
use crate::result::{Column, QueryResult};
use crate::session::Dirty;
use crate::sql::Quoting;

/// How often a blocked read wakes up to ask the interrupt hook.
pub const POLL_INTERVAL: Duration = Duration::from_millis(100);

/// How long a statement interrupted by the hook (Ctrl-C) waits for the server's answer
/// to the CancelRequest before giving up on the connection (a stalled network).
pub const CANCEL_GRACE: Duration = Duration::from_millis(800);

/// Statements per Query message when `pipeline` packs them (inside a transaction).
const PACK: usize = 100;

/// Packed Query messages per write (inside a transaction).
const PACKS_PER_WRITE: usize = 4;

/// The caller's interrupt hook: returns true when the running statement must be cancelled
/// (the Python face checks for Ctrl-C here).
pub type Interrupt<'a> = &'a (dyn Fn() -> bool + 'a);

/// Called while a statement's rows arrive, each time the rows read so far are all
/// handled and the next ones are not there yet (the read would wait for the server):
/// a face can turn the rows received so far into its own objects (kept in
/// [`QueryResult::extra`]) while the server produces the rest. Never called for a
/// result that arrives in one read.
pub type RowSink<'a> = &'a mut dyn FnMut(&mut QueryResult);

/// How to end a transaction.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TxEnd {
    /// `COMMIT`.
    Commit,
    /// `ROLLBACK`.
    Rollback,
}

/// How [`Connection::end_transaction`] ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ended {
    /// There was no transaction (or its `BEGIN` never left the client): nothing sent.
    Nothing,
    /// Committed.
    Committed,
    /// Rolled back: asked for, or a `COMMIT` of a transaction that had failed (the server
    /// rolls it back and says `ROLLBACK`).
    RolledBack,
}

/// Transaction status, from the last ReadyForQuery.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TxStatus {
    /// Not in a transaction.
    Idle,
    /// In a transaction block.
    InTransaction,
    /// In a failed transaction block.
    InError,
    /// Unknown (the connection is broken).
    Unknown,
}

enum Stream {
    Tcp(TcpStream),
    Unix(UnixStream),
    /// TLS over TCP (`src/tls.rs`); boxed: rustls's state is large.
    Tls(Box<crate::tls::TlsStream>),
}

impl Stream {
    fn set_read_timeout(&self, d: Option<Duration>) -> io::Result<()> {
        match self {
            Stream::Tcp(s) => s.set_read_timeout(d),
            Stream::Unix(s) => s.set_read_timeout(d),
            Stream::Tls(s) => s.sock.set_read_timeout(d),
        }
    }
    fn set_write_timeout(&self, d: Option<Duration>) -> io::Result<()> {
        match self {
            Stream::Tcp(s) => s.set_write_timeout(d),
            Stream::Unix(s) => s.set_write_timeout(d),
            Stream::Tls(s) => s.sock.set_write_timeout(d),
        }
    }
}

impl Read for Stream {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            Stream::Tcp(s) => s.read(buf),
            Stream::Unix(s) => s.read(buf),
            // A timed-out read (WouldBlock) leaves a partial record buffered in rustls; the
            // next read carries on. EOF without close_notify reads as EOF, like plain TCP.
            Stream::Tls(s) => match s.read(buf) {
                Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => Ok(0),
                r => r,
            },
        }
    }
}

impl Write for Stream {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self {
            Stream::Tcp(s) => s.write(buf),
            Stream::Unix(s) => s.write(buf),
            // rustls's write() keeps socket errors for later: flush to see them now.
            Stream::Tls(s) => {
                let n = s.write(buf)?;
                s.flush()?;
                Ok(n)
            }
        }
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// A server error's statement position moved back by `by` characters (the length of what
/// was sent in front of the caller's statement). A position inside that prefix is kept.
fn shift_position(e: Error, by: usize) -> Error {
    match e {
        Error::Db(mut db) => {
            if let Some(p) = db.position.as_deref().and_then(|p| p.parse::<usize>().ok()) {
                if p > by {
                    Arc::make_mut(&mut db).position = Some((p - by).to_string());
                }
            }
            Error::Db(db)
        }
        e => e,
    }
}

/// What is needed to cancel the running statement of a connection, from any thread.
#[derive(Debug, Clone)]
pub struct CancelToken {
    target: Arc<(Host, u16)>,
    connect_timeout: Option<Duration>,
    pid: i32,
    secret: i32,
    /// Set when the connection uses TLS: the cancel request goes over TLS too.
    tls: Option<crate::tls::TlsConnector>,
}

impl CancelToken {
    /// Sends a CancelRequest on a new connection (as libpq's `PQcancel`), over TLS when
    /// the connection uses TLS (as libpq 17's `PQcancelBlocking`: servers and proxies that
    /// only accept TLS connections get the request too).
    pub fn cancel(&self) -> Result<()> {
        let s = open_socket(&self.target.0, self.target.1, self.connect_timeout)
            .map_err(|e| Error::Connection(format!("cancel: {e}")))?;
        let mut s = match (s, &self.tls, &self.target.0) {
            (Stream::Tcp(mut t), Some(tls), Host::Tcp(name)) => {
                let deadline =
                    Instant::now() + self.connect_timeout.unwrap_or(Duration::from_secs(10));
                let cancel_err = |e: Error| Error::Connection(format!("cancel: {e}"));
                t.set_read_timeout(Some(POLL_INTERVAL))
                    .map_err(|e| Error::Connection(format!("cancel: {e}")))?;
                if crate::tls::ssl_request(&mut t, Some(deadline)).map_err(cancel_err)? {
                    let ts =
                        crate::tls::handshake(tls, t, name, Some(deadline)).map_err(cancel_err)?;
                    Stream::Tls(Box::new(ts))
                } else {
                    Stream::Tcp(t)
                }
            }
            (s, _, _) => s,
        };
        let mut buf = BytesMut::with_capacity(16);
        frontend::cancel_request(self.pid, self.secret, &mut buf);
        s.write_all(&buf)
            .map_err(|e| Error::Connection(format!("cancel: {e}")))?;
        // The server closes the connection when it has read the request.
        let _ = s.set_read_timeout(Some(Duration::from_secs(2)));
        let mut b = [0u8; 1];
        let _ = s.read(&mut b);
        Ok(())
    }
}

/// A notice (or warning) the server sent.
#[derive(Debug, Clone)]
pub struct Notice {
    /// Severity (`NOTICE`, `WARNING`, ...).
    pub severity: String,
    /// SQLSTATE (`01000`, `25P01`, ...).
    pub code: String,
    /// Message.
    pub message: String,
}

/// One connection to the server.
pub struct Connection {
    stream: Stream,
    rbuf: Vec<u8>,
    rpos: usize,
    rend: usize,
    wbuf: BytesMut,
    params: HashMap<String, String>,
    pid: i32,
    secret: i32,
    target: Arc<(Host, u16)>,
    connect_timeout: Option<Duration>,
    tx: TxStatus,
    broken: bool,
    /// What the users since the last reset may have left in the session.
    session: Dirty,
    /// The server's `standard_conforming_strings` (reported at startup and on change).
    standard_strings: bool,
    /// The session's `client_encoding` (reported at startup and on change): text is
    /// converted from and to it at the wire ([`crate::encoding`]).
    encoding: Encoding,
    /// A `client_encoding` the server switched to that pgpool cannot convert: every
    /// statement fails with a clear error until it is changed back (the pool's reset
    /// does).
    unsupported_encoding: Option<String>,
    /// The client encoding asked for at startup (what a reset restores).
    startup_encoding: Encoding,
    /// The server connection is a transaction pooler's (PgBouncer): its backend process
    /// id is not the one the pooler gave us. Every transaction end may hand the server
    /// connection to another client, so the reset rides with each one.
    behind_pooler: bool,
    pending_begin: Option<String>,
    notices: Vec<Notice>,
    created: Instant,
    last_used: Instant,
    /// Client-side limit for one statement's answer (network stall), `None`: none.
    read_deadline: Option<Duration>,
    /// Fork generation it was opened in: a forked child never writes to it.
    generation: u64,
    /// True while the statement being read was sent with the extended protocol.
    extended: bool,
    /// The TLS settings, when the connection uses TLS (for the cancel connection).
    tls: Option<crate::tls::TlsConnector>,
}

impl std::fmt::Debug for Connection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Connection")
            .field("target", &self.target)
            .field("pid", &self.pid)
            .field("tx", &self.tx)
            .field("broken", &self.broken)
            .finish()
    }
}

fn io_err(context: &str, e: io::Error) -> Error {
    Error::Connection(format!("{context}: {e}"))
}

fn open_socket(host: &Host, port: u16, timeout: Option<Duration>) -> io::Result<Stream> {
    match host {
        Host::Unix(dir) => {
            let path = dir.join(format!(".s.PGSQL.{port}"));
            let s = UnixStream::connect(&path)
                .map_err(|e| io::Error::new(e.kind(), format!("{} ({e})", path.display())))?;
            Ok(Stream::Unix(s))
        }
        Host::Tcp(name) => {
            let addrs: Vec<SocketAddr> = (name.as_str(), port).to_socket_addrs()?.collect();
            let mut last = io::Error::new(io::ErrorKind::NotFound, format!("{name}: no address"));
            for addr in addrs {
                let r = match timeout {
                    Some(t) => TcpStream::connect_timeout(&addr, t),
                    None => TcpStream::connect(addr),
                };
                match r {
                    Ok(s) => return Ok(Stream::Tcp(s)),
                    Err(e) => last = io::Error::new(e.kind(), format!("{addr}: {e}")),
                }
            }
            Err(last)
        }
    }
}

fn configure_tcp(s: &TcpStream, p: &ConnectParams) -> io::Result<()> {
    s.set_nodelay(true)?;
    let sock = socket2::SockRef::from(s);
    if p.keepalives {
        let mut ka = socket2::TcpKeepalive::new()
            .with_time(p.keepalives_idle.unwrap_or(Duration::from_secs(60)));
        if let Some(i) = p.keepalives_interval {
            ka = ka.with_interval(i);
        }
        if let Some(c) = p.keepalives_count {
            ka = ka.with_retries(c);
        }
        sock.set_tcp_keepalive(&ka)?;
    }
    if let Some(t) = p.tcp_user_timeout {
        sock.set_tcp_user_timeout(Some(t))?;
    }
    Ok(())
}

/// A cursor over a backend message body.
struct Body<'a> {
    b: &'a [u8],
    pos: usize,
}

impl<'a> Body<'a> {
    fn new(b: &'a [u8]) -> Self {
        Body { b, pos: 0 }
    }
    fn u8(&mut self) -> Result<u8> {
        let v = *self.b.get(self.pos).ok_or_else(short)?;
        self.pos += 1;
        Ok(v)
    }
    fn i16(&mut self) -> Result<i16> {
        let s = self.b.get(self.pos..self.pos + 2).ok_or_else(short)?;
        self.pos += 2;
        Ok(i16::from_be_bytes([s[0], s[1]]))
    }
    fn i32(&mut self) -> Result<i32> {
        let s = self.b.get(self.pos..self.pos + 4).ok_or_else(short)?;
        self.pos += 4;
        Ok(i32::from_be_bytes([s[0], s[1], s[2], s[3]]))
    }
    fn cstr(&mut self) -> Result<&'a str> {
        let rest = self.b.get(self.pos..).ok_or_else(short)?;
        let end = rest.iter().position(|&c| c == 0).ok_or_else(short)?;
        self.pos += end + 1;
        std::str::from_utf8(&rest[..end])
            .map_err(|_| Error::Connection("invalid UTF-8 from server".into()))
    }
    /// A NUL-terminated string's bytes (in the client encoding).
    fn cbytes(&mut self) -> Result<&'a [u8]> {
        let rest = self.b.get(self.pos..).ok_or_else(short)?;
        let end = rest.iter().position(|&c| c == 0).ok_or_else(short)?;
        self.pos += end + 1;
        Ok(&rest[..end])
    }
    fn rest(&self) -> &'a [u8] {
        &self.b[self.pos.min(self.b.len())..]
    }
}

fn short() -> Error {
    Error::Connection("protocol error: short message from server".into())
}

/// An ErrorResponse's or NoticeResponse's fields (text in the client encoding `enc`;
/// what does not decode is replaced, so that the message always gets through).
fn parse_error_fields(body: &[u8], enc: Encoding) -> DbError {
    let mut e = DbError::default();
    let mut b = Body::new(body);
    while let Ok(code) = b.u8() {
        if code == 0 {
            break;
        }
        let Ok(v) = b.cbytes() else { break };
        let v = enc.decode_lossy(v);
        match code {
            b'S' => e.severity = v,
            b'V' => e.severity_nonlocalized = Some(v),
            b'C' => e.code = v,
            b'M' => e.message = v,
            b'D' => e.detail = Some(v),
            b'H' => e.hint = Some(v),
            b'P' => e.position = Some(v),
            b'p' => e.internal_position = Some(v),
            b'q' => e.internal_query = Some(v),
            b'W' => e.context = Some(v),
            b's' => e.schema_name = Some(v),
            b't' => e.table_name = Some(v),
            b'c' => e.column_name = Some(v),
            b'd' => e.datatype_name = Some(v),
            b'n' => e.constraint_name = Some(v),
            b'F' => e.source_file = Some(v),
            b'L' => e.source_line = Some(v),
            b'R' => e.source_function = Some(v),
            _ => {}
        }
    }
    e
}

fn parse_row_description(body: &[u8], enc: Encoding) -> Result<Vec<Column>> {
    let mut b = Body::new(body);
    let n = b.i16()? as usize;
    let mut cols = Vec::with_capacity(n);
    for _ in 0..n {
        let name = enc.decode_lossy(b.cbytes()?);
        let table_oid = b.i32()? as u32;
        let column_id = b.i16()?;
        let type_oid = b.i32()? as u32;
        let type_size = b.i16()?;
        let type_modifier = b.i32()?;
        let _format = b.i16()?;
        cols.push(Column {
            name,
            table_oid,
            column_id,
            type_oid,
            type_size,
            type_modifier,
        });
    }
    Ok(cols)
}

/// What reading one statement's answer produced.
enum Step {
    /// A statement finished (CommandComplete / EmptyQueryResponse).
    Done,
    /// ReadyForQuery.
    Ready,
    /// Nothing to report yet.
    More,
}

impl Connection {
    /// Opens a connection: every host in turn (libpq multi-host), startup, authentication,
    /// and `target_session_attrs`.
    pub fn connect(p: &ConnectParams) -> Result<Connection> {
        Self::connect_until(p, None)
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
    fn check_session_attrs(&mut self, t: TargetSessionAttrs) -> Result<bool> {
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

    fn connect_one(
        p: &ConnectParams,
        host: &Host,
        port: u16,
        until: Option<Instant>,
    ) -> Result<Connection> {
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
    fn connect_attempt(
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
        let mut c = Connection {
            stream,
            rbuf: vec![0; 64 * 1024],
            rpos: 0,
            rend: 0,
            wbuf: BytesMut::with_capacity(8 * 1024),
            params: HashMap::new(),
            pid: 0,
            secret: 0,
            target: Arc::new((host.clone(), port)),
            connect_timeout: p.connect_timeout,
            tx: TxStatus::Unknown,
            broken: false,
            session: Dirty::NONE,
            standard_strings: true,
            encoding: Encoding::UTF8,
            unsupported_encoding: None,
            startup_encoding: p.client_encoding.unwrap_or(Encoding::UTF8),
            behind_pooler: false,
            pending_begin: None,
            notices: Vec::new(),
            created: now,
            last_used: now,
            read_deadline: None,
            generation: crate::runtime::generation(),
            extended: false,
            tls,
        };
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

    fn startup(&mut self, p: &ConnectParams, deadline: Option<Instant>) -> Result<()> {
        let mut params: Vec<(&str, &str)> = vec![
            ("user", p.user.as_str()),
            ("database", p.dbname.as_str()),
            (
                "client_encoding",
                p.client_encoding.unwrap_or(Encoding::UTF8).name,
            ),
            ("DateStyle", "ISO"),
        ];
        if let Some(a) = &p.application_name {
            params.push(("application_name", a));
        }
        if let Some(o) = &p.options {
            params.push(("options", o));
        }
        frontend::startup_message(params.iter().copied(), &mut self.wbuf)
            .map_err(|e| io_err("startup", e))?;
        self.flush()?;
        let mut scram: Option<ScramSha256> = None;
        loop {
            let (tag, len) = self.next_message(None, deadline)?;
            let body = self.rbuf[self.rpos + 5..self.rpos + 1 + len].to_vec();
            self.rpos += 1 + len;
            match tag {
                b'R' => {
                    let mut b = Body::new(&body);
                    match b.i32()? {
                        0 => {}
                        3 => {
                            let pw = password(p)?;
                            frontend::password_message(pw.as_bytes(), &mut self.wbuf)
                                .map_err(|e| io_err("auth", e))?;
                            self.flush()?;
                        }
                        5 => {
                            let salt = b.rest();
                            if salt.len() < 4 {
                                return Err(short());
                            }
                            let pw = password(p)?;
                            let h = postgres_protocol::authentication::md5_hash(
                                p.user.as_bytes(),
                                pw.as_bytes(),
                                [salt[0], salt[1], salt[2], salt[3]],
                            );
                            frontend::password_message(h.as_bytes(), &mut self.wbuf)
                                .map_err(|e| io_err("auth", e))?;
                            self.flush()?;
                        }
                        10 => {
                            let mut mechs = Vec::new();
                            while let Ok(m) = b.cstr() {
                                if m.is_empty() {
                                    break;
                                }
                                mechs.push(m.to_string());
                            }
                            let plus = mechs.iter().any(|m| m == sasl::SCRAM_SHA_256_PLUS);
                            if !plus && !mechs.iter().any(|m| m == sasl::SCRAM_SHA_256) {
                                return Err(Error::Connection(format!(
                                    "unsupported SASL mechanisms {mechs:?}"
                                )));
                            }
                            let pw = password(p)?;
                            // libpq's channel_binding=prefer: SCRAM-SHA-256-PLUS with
                            // tls-server-end-point over TLS when the server offers it.
                            let (mech, cb) = match &self.stream {
                                Stream::Tls(t) => match crate::tls::server_end_point(t) {
                                    Some(h) if plus => (
                                        sasl::SCRAM_SHA_256_PLUS,
                                        ChannelBinding::tls_server_end_point(h),
                                    ),
                                    // The server would bind but we cannot: say so ('n').
                                    _ if plus => {
                                        (sasl::SCRAM_SHA_256, ChannelBinding::unsupported())
                                    }
                                    // We could bind, the server does not offer it ('y').
                                    _ => (sasl::SCRAM_SHA_256, ChannelBinding::unrequested()),
                                },
                                _ => (sasl::SCRAM_SHA_256, ChannelBinding::unsupported()),
                            };
                            let s = ScramSha256::new(pw.as_bytes(), cb);
                            frontend::sasl_initial_response(mech, s.message(), &mut self.wbuf)
                                .map_err(|e| io_err("auth", e))?;
                            self.flush()?;
                            scram = Some(s);
                        }
                        11 => {
                            let s = scram.as_mut().ok_or_else(short)?;
                            s.update(b.rest()).map_err(|e| io_err("SCRAM", e))?;
                            frontend::sasl_response(s.message(), &mut self.wbuf)
                                .map_err(|e| io_err("auth", e))?;
                            self.flush()?;
                        }
                        12 => {
                            let s = scram.as_mut().ok_or_else(short)?;
                            s.finish(b.rest()).map_err(|e| io_err("SCRAM", e))?;
                        }
                        other => {
                            return Err(Error::Connection(format!(
                                "unsupported authentication method {other}"
                            )))
                        }
                    }
                }
                b'S' => {
                    let mut b = Body::new(&body);
                    let k = self.encoding.decode_lossy(b.cbytes()?);
                    let v = self.encoding.decode_lossy(b.cbytes()?);
                    self.note_parameter(k, v);
                }
                b'K' => {
                    let mut b = Body::new(&body);
                    self.pid = b.i32()?;
                    self.secret = b.i32()?;
                }
                b'Z' => {
                    self.tx = tx_from(body.first().copied().unwrap_or(b'I'));
                    return Ok(());
                }
                b'E' => {
                    let e = parse_error_fields(&body, self.encoding);
                    return Err(Error::Db(Arc::new(e)));
                }
                b'N' => {}
                b'v' => {} // NegotiateProtocolVersion: we ask for nothing optional
                _ => {
                    return Err(Error::Connection(format!(
                        "unexpected message '{}' during startup",
                        tag as char
                    )))
                }
            }
        }
    }

    // ---------------------------------------------------------------- accessors

    /// The server process id (`pg_backend_pid()`).
    pub fn backend_pid(&self) -> i32 {
        self.pid
    }

    /// A server parameter reported at startup or later (`server_version`, `TimeZone`, ...).
    pub fn parameter(&self, name: &str) -> Option<&str> {
        self.params.get(name).map(|s| s.as_str())
    }

    /// `server_version` as libpq's `PQserverVersion` (150018 for 15.18).
    pub fn server_version(&self) -> i32 {
        let v = self.parameter("server_version").unwrap_or("0");
        let mut it = v
            .split(|c: char| !c.is_ascii_digit())
            .filter(|s| !s.is_empty())
            .map(|s| s.parse::<i32>().unwrap_or(0));
        let major = it.next().unwrap_or(0);
        let minor = it.next().unwrap_or(0);
        if major >= 10 {
            major * 10000 + minor
        } else {
            let patch = it.next().unwrap_or(0);
            major * 10000 + minor * 100 + patch
        }
    }

    /// Transaction status after the last statement.
    pub fn transaction_status(&self) -> TxStatus {
        if self.broken {
            TxStatus::Unknown
        } else {
            self.tx
        }
    }

    /// True once an I/O or protocol error (or a fatal server error) made it unusable.
    pub fn is_broken(&self) -> bool {
        self.broken
    }

    /// Marks the connection unusable (the pool discards it).
    pub fn mark_broken(&mut self) {
        self.broken = true;
    }

    /// True when a statement may have changed session state (SET, LISTEN, temp tables,
    /// advisory locks, ...) since the last reset.
    pub fn session_dirty(&self) -> bool {
        !self.session.is_clean()
    }

    /// What may have changed in the session since the last reset.
    pub fn session_state(&self) -> Dirty {
        self.session
    }

    /// Marks session settings as changed (the face knows better, e.g. `set_session`).
    pub fn mark_session_dirty(&mut self) {
        self.session |= Dirty::SETTINGS;
    }

    /// Records what `sql` may leave in the session ([`crate::session::scan`]).
    fn scan_session(&mut self, sql: &str) {
        self.session |= crate::session::scan(sql, self.standard_strings);
    }

    /// The server's `standard_conforming_strings`, as last reported.
    pub fn standard_conforming_strings(&self) -> bool {
        self.standard_strings
    }

    /// The session's client encoding (text from and to the faces is UTF-8; the connection
    /// converts; COPY data is passed as it is, for the face to convert).
    pub fn client_encoding(&self) -> Encoding {
        self.encoding
    }

    /// Writes a Query message with `sql` in the client encoding.
    fn put_query(&mut self, sql: &str) -> Result<()> {
        let bytes = self.encoding.encode(sql)?;
        let len = i32::try_from(bytes.len() + 5)
            .map_err(|_| Error::InvalidParameter("the query is too long".into()))?;
        self.wbuf.extend_from_slice(b"Q");
        self.wbuf.extend_from_slice(&len.to_be_bytes());
        self.wbuf.extend_from_slice(&bytes);
        self.wbuf.extend_from_slice(&[0]);
        Ok(())
    }

    /// How the values of `query` must be quoted on this connection (see [`Quoting`]).
    pub fn quoting_for(&self, query: &str) -> Quoting {
        Quoting::for_query(self.standard_strings, query)
    }

    /// True when the server connection is a transaction pooler's (see
    /// [`Connection::end_transaction`]).
    pub fn behind_pooler(&self) -> bool {
        self.behind_pooler
    }

    /// A `ParameterStatus` (at startup or later).
    fn note_parameter(&mut self, k: String, v: String) {
        if k == "standard_conforming_strings" {
            self.standard_strings = v != "off";
        }
        if k == "client_encoding" {
            match Encoding::from_name(&v) {
                Some(e) => {
                    self.encoding = e;
                    self.unsupported_encoding = None;
                }
                None => self.unsupported_encoding = Some(v.clone()),
            }
        }
        self.params.insert(k, v);
    }

    /// A token to cancel the running statement from another thread.
    pub fn cancel_token(&self) -> CancelToken {
        CancelToken {
            target: self.target.clone(),
            connect_timeout: self.connect_timeout,
            pid: self.pid,
            secret: self.secret,
            tls: self.tls.clone(),
        }
    }

    /// True when the connection is encrypted with TLS (libpq's `PQsslInUse`).
    pub fn ssl_in_use(&self) -> bool {
        matches!(self.stream, Stream::Tls(_))
    }

    /// When the connection was opened.
    pub fn created(&self) -> Instant {
        self.created
    }

    /// When a statement last finished on it (or it was opened).
    pub fn last_used(&self) -> Instant {
        self.last_used
    }

    /// Notices received since the last call.
    pub fn take_notices(&mut self) -> Vec<Notice> {
        std::mem::take(&mut self.notices)
    }

    /// A client-side limit on the wait for one statement's answer (network stall
    /// protection on top of keepalives); `None` disables it.
    pub fn set_read_deadline(&mut self, d: Option<Duration>) {
        self.read_deadline = d;
    }

    /// Queues `BEGIN` (or e.g. `BEGIN ISOLATION LEVEL SERIALIZABLE READ ONLY`) to go out
    /// in the same write as the next statement.
    pub fn begin_deferred(&mut self, begin_sql: impl Into<String>) {
        self.pending_begin = Some(begin_sql.into());
    }

    /// True when a deferred `BEGIN` has not been sent yet.
    pub fn has_pending_begin(&self) -> bool {
        self.pending_begin.is_some()
    }

    /// Drops a deferred `BEGIN` that was never sent (commit/rollback of an empty
    /// transaction need no round trip).
    pub fn clear_pending_begin(&mut self) -> bool {
        self.pending_begin.take().is_some()
    }

    // ---------------------------------------------------------------- I/O

    fn flush(&mut self) -> Result<()> {
        if self.wbuf.is_empty() {
            return Ok(());
        }
        let r = self.stream.write_all(&self.wbuf);
        self.wbuf.clear();
        r.map_err(|e| {
            self.broken = true;
            io_err("could not send data to server", e)
        })
    }

    /// Makes sure one whole message is buffered at `rpos`; returns its tag and length
    /// (the length field's value: body length + 4).
    fn next_message(
        &mut self,
        intr: Option<Interrupt<'_>>,
        deadline: Option<Instant>,
    ) -> Result<(u8, usize)> {
        // When the interrupt hook asked to stop (a CancelRequest went out then).
        let mut cancelled: Option<Instant> = None;
        // When the wait started: read only when a read is needed (not once per message).
        let mut started: Option<Instant> = None;
        loop {
            let avail = self.rend - self.rpos;
            if avail >= 5 {
                let b = &self.rbuf[self.rpos..];
                let len = u32::from_be_bytes([b[1], b[2], b[3], b[4]]) as usize;
                if len < 4 {
                    self.broken = true;
                    return Err(Error::Connection(
                        "protocol error: bad message length".into(),
                    ));
                }
                if avail > len {
                    return Ok((b[0], len));
                }
                // need more: make room
                if self.rpos + 1 + len > self.rbuf.len() {
                    self.rbuf.copy_within(self.rpos..self.rend, 0);
                    self.rend -= self.rpos;
                    self.rpos = 0;
                    if 1 + len > self.rbuf.len() {
                        self.rbuf.resize((1 + len).next_power_of_two(), 0);
                    }
                }
            } else if self.rpos > 0 && self.rpos == self.rend {
                self.rpos = 0;
                self.rend = 0;
            } else if self.rpos + 5 > self.rbuf.len() {
                self.rbuf.copy_within(self.rpos..self.rend, 0);
                self.rend -= self.rpos;
                self.rpos = 0;
            }
            if self.read_deadline.is_some() && started.is_none() {
                started = Some(Instant::now());
            }
            match self.stream.read(&mut self.rbuf[self.rend..]) {
                Ok(0) => {
                    self.broken = true;
                    return Err(Error::Connection(
                        "server closed the connection unexpectedly".into(),
                    ));
                }
                Ok(n) => self.rend += n,
                // SO_RCVTIMEO expiry is EAGAIN (WouldBlock) on Linux: a poll tick. A
                // TimedOut (ETIMEDOUT: keepalives / tcp_user_timeout gave up) is fatal.
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    if let Some(d) = deadline {
                        if Instant::now() >= d {
                            self.broken = true;
                            return Err(Error::Connection("timeout expired".into()));
                        }
                    }
                    if let (Some(limit), Some(started)) = (self.read_deadline, started) {
                        if started.elapsed() >= limit {
                            self.broken = true;
                            // Best effort, off this thread: the path may be stalled too.
                            let token = self.cancel_token();
                            let _ = std::thread::Builder::new()
                                .name("pgpool-cancel".into())
                                .spawn(move || token.cancel());
                            return Err(Error::Connection(format!(
                                "no answer from the server within {:.1} s (network stall?)",
                                limit.as_secs_f64()
                            )));
                        }
                    }
                    if let Some(f) = intr {
                        match cancelled {
                            None => {
                                if f() {
                                    cancelled = Some(Instant::now());
                                    // The statement ends with 57014 and the connection
                                    // stays usable. Sent off this thread: the network may
                                    // be stalled, and this one keeps watching the clock.
                                    let token = self.cancel_token();
                                    let _ = std::thread::Builder::new()
                                        .name("pgpool-cancel".into())
                                        .spawn(move || token.cancel());
                                }
                            }
                            // No answer to the cancel in time, or asked again: the server
                            // cannot be reached; the connection is given up.
                            Some(at) if at.elapsed() >= CANCEL_GRACE || f() => {
                                self.broken = true;
                                return Err(Error::Connection(format!(
                                    "statement interrupted; the server did not answer the cancel request within {:.1} s, the connection is closed",
                                    at.elapsed().as_secs_f64()
                                )));
                            }
                            Some(_) => {}
                        }
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => {
                    self.broken = true;
                    return Err(io_err("could not receive data from server", e));
                }
            }
        }
    }

    /// Reads and handles one message of a statement's answer into `cur`.
    fn read_step(
        &mut self,
        cur: &mut QueryResult,
        err: &mut Option<Error>,
        intr: Option<Interrupt<'_>>,
    ) -> Result<Step> {
        let (tag, len) = self.next_message(intr, None)?;
        let start = self.rpos + 5;
        let end = self.rpos + 1 + len;
        self.rpos = end;
        if tag == b'D' {
            if err.is_none() {
                let body = &self.rbuf[start..end];
                if let Err(m) = cur.push_row(body) {
                    self.broken = true;
                    return Err(Error::Connection(format!("protocol error: {m}")));
                }
            }
            return Ok(Step::More);
        }
        let body = &self.rbuf[start..end];
        match tag {
            b'T' => {
                let cols = parse_row_description(body, self.encoding)?;
                *cur = QueryResult::default();
                cur.start(cols);
            }
            b'C' => {
                let mut b = Body::new(body);
                cur.command_tag = b.cstr()?.to_string();
                return Ok(Step::Done);
            }
            b'I' => {
                cur.command_tag.clear();
                return Ok(Step::Done);
            }
            b'Z' => {
                self.tx = tx_from(body.first().copied().unwrap_or(b'I'));
                self.last_used = Instant::now();
                return Ok(Step::Ready);
            }
            b'E' => {
                let e = parse_error_fields(body, self.encoding);
                let fatal = e.severity == "FATAL" || e.severity == "PANIC";
                let e = Error::Db(Arc::new(e));
                // Only a FATAL/PANIC ends the session (the server closes it after);
                // an ERROR-level 08xxx/57P0x raised by e.g. PL/pgSQL leaves it usable,
                // as psycopg2 keeps it.
                if fatal {
                    self.broken = true;
                }
                if err.is_none() {
                    *err = Some(e);
                }
                if fatal {
                    // The server closes the connection after a FATAL error.
                    return Err(err.take().unwrap_or_else(short));
                }
            }
            b'N' => {
                let e = parse_error_fields(body, self.encoding);
                if self.notices.len() >= 50 {
                    self.notices.remove(0);
                }
                self.notices.push(Notice {
                    severity: e.severity,
                    code: e.code,
                    message: e.message,
                });
            }
            b'S' => {
                let mut b = Body::new(body);
                let k = self.encoding.decode_lossy(b.cbytes()?);
                let v = self.encoding.decode_lossy(b.cbytes()?);
                if k != "in_hot_standby" {
                    self.session |= Dirty::SETTINGS;
                }
                self.note_parameter(k, v);
            }
            b'1' | b'2' | b'3' | b'n' | b't' | b's' | b'A' => {}
            b'G' => {
                // COPY FROM STDIN through a plain execute: refuse it, as psycopg2 does.
                frontend::copy_fail(
                    "COPY FROM STDIN is not supported here; use copy_expert()",
                    &mut self.wbuf,
                )
                .map_err(|e| io_err("copy", e))?;
                // After a CopyFail the server waits for a Sync in the extended protocol
                // only (it ignored the caller's Sync during copy-in); in the simple
                // protocol a Sync would produce a second ReadyForQuery.
                if self.extended {
                    frontend::sync(&mut self.wbuf);
                }
                self.flush()?;
                if err.is_none() {
                    *err = Some(Error::Interface(
                        "can't execute COPY FROM: use the copy_from() method instead".into(),
                    ));
                }
            }
            b'H' => {
                if err.is_none() {
                    *err = Some(Error::Interface(
                        "can't execute COPY TO: use the copy_to() method instead".into(),
                    ));
                }
            }
            b'd' | b'c' => {}
            _ => {
                self.broken = true;
                return Err(Error::Connection(format!(
                    "protocol error: unexpected message '{}'",
                    tag as char
                )));
            }
        }
        Ok(Step::More)
    }

    fn check_usable(&self) -> Result<()> {
        if self.is_inherited() {
            return Err(Error::Interface(
                "connection inherited from the parent process after fork(); it cannot be used here"
                    .into(),
            ));
        }
        if self.broken {
            return Err(Error::Interface("connection already closed".into()));
        }
        Ok(())
    }

    /// [`check_usable`](Self::check_usable), and text can be converted for the session
    /// (its client encoding is one pgpool speaks): before a statement of the face's.
    fn check_sendable(&self) -> Result<()> {
        self.check_usable()?;
        if let Some(e) = &self.unsupported_encoding {
            return Err(Error::Interface(format!(
                "client_encoding {e:?} is not supported by pgpool: no statement runs on this connection until it goes back to its pool (whose reset restores the encoding) or is closed; supported: {}",
                Encoding::names().collect::<Vec<_>>().join(", ")
            )));
        }
        Ok(())
    }

    /// Writes a pending BEGIN in front of what follows.
    fn put_pending_begin(&mut self) -> Result<bool> {
        if let Some(b) = self.pending_begin.take() {
            frontend::query(&b, &mut self.wbuf).map_err(|e| io_err("encode", e))?;
            Ok(true)
        } else {
            Ok(false)
        }
    }

    /// Reads the answer to a pipelined BEGIN (up to its ReadyForQuery).
    fn read_begin(&mut self, intr: Option<Interrupt<'_>>) -> Result<()> {
        let mut r = QueryResult::default();
        let mut err = None;
        loop {
            if let Step::Ready = self.read_step(&mut r, &mut err, intr)? {
                break;
            }
        }
        match err {
            Some(e) => Err(e),
            None => Ok(()),
        }
    }

    /// Runs SQL with the simple query protocol (no parameters; several statements
    /// allowed; no prepared statement of any kind). Returns the last statement's result,
    /// as psycopg2 does. One round trip, a deferred BEGIN included.
    pub fn simple_query(&mut self, sql: &str, intr: Option<Interrupt<'_>>) -> Result<QueryResult> {
        self.simple_query_with(sql, intr, None)
    }

    /// [`simple_query`](Self::simple_query), calling `sink` as the rows arrive (see
    /// [`RowSink`]).
    pub fn simple_query_with(
        &mut self,
        sql: &str,
        intr: Option<Interrupt<'_>>,
        sink: Option<RowSink<'_>>,
    ) -> Result<QueryResult> {
        self.check_sendable()?;
        self.extended = false;
        if sql.as_bytes().contains(&0) {
            return Err(Error::InvalidParameter(
                "the query contains NUL (0x00) characters".into(),
            ));
        }
        self.scan_session(sql);
        match self.pending_begin.take() {
            None => {
                self.put_query(sql)?;
                self.flush()?;
                self.read_until_ready(intr, sink)
            }
            Some(begin) => {
                // One Query message "BEGIN;<sql>": one write, and one flush and one
                // wake-up on the server side (two Query messages cost two).
                let mut q = String::with_capacity(begin.len() + 1 + sql.len());
                q.push_str(&begin);
                q.push(';');
                q.push_str(sql);
                if let Err(e) = self.put_query(&q) {
                    self.pending_begin = Some(begin);
                    return Err(e);
                }
                self.flush()?;
                // An error position counts from the start of "BEGIN;<sql>": make it
                // count from the start of <sql>, the statement the caller knows.
                let r = self
                    .read_until_ready(intr, sink)
                    .map_err(|e| shift_position(e, begin.len() + 1));
                if r.is_err() && self.tx == TxStatus::Idle && !self.broken {
                    // The server parses the whole message before running any of it: a
                    // syntax error means BEGIN did not run either. Keep the transaction
                    // pending, so what follows still runs inside one.
                    self.pending_begin = Some(begin);
                }
                r
            }
        }
    }

    /// True when a whole message is already in the read buffer.
    fn message_buffered(&self) -> bool {
        let avail = self.rend - self.rpos;
        if avail < 5 {
            return false;
        }
        let b = &self.rbuf[self.rpos..];
        avail > u32::from_be_bytes([b[1], b[2], b[3], b[4]]) as usize
    }

    fn read_until_ready(
        &mut self,
        intr: Option<Interrupt<'_>>,
        mut sink: Option<RowSink<'_>>,
    ) -> Result<QueryResult> {
        let mut cur = QueryResult::default();
        let mut last = QueryResult::default();
        let mut err = None;
        let mut sunk = 0;
        // Rows arrive in the client encoding: a face's sink only sees UTF-8 ones.
        if !self.encoding.is_utf8() {
            sink = None;
        }
        let started_in = self.encoding;
        loop {
            if let Some(f) = sink.as_mut() {
                if cur.nrows() > sunk && err.is_none() && !self.message_buffered() {
                    f(&mut cur);
                    sunk = cur.nrows();
                } else if cur.nrows() < sunk {
                    sunk = 0; // the next statement's result
                }
            }
            match self.read_step(&mut cur, &mut err, intr)? {
                Step::Done => last = std::mem::take(&mut cur),
                Step::Ready => break,
                Step::More => {}
            }
        }
        match err {
            Some(e) => Err(e),
            None => {
                // The server reports a new client_encoding just before ReadyForQuery,
                // after the rows of the statements that followed the change: the last
                // result is in the encoding in force now.
                if !self.encoding.is_utf8() || self.encoding != started_in {
                    last.transcode(self.encoding)?;
                }
                Ok(last)
            }
        }
    }

    /// Runs one statement with `$1..$n` text parameters through the unnamed statement of
    /// the extended protocol, types inferred by the server (libpq's `PQexecParams` with
    /// `paramTypes = NULL`). `None` is SQL NULL. Results in text form.
    pub fn query_params(
        &mut self,
        sql: &str,
        params: &[Option<&[u8]>],
        intr: Option<Interrupt<'_>>,
    ) -> Result<QueryResult> {
        self.check_sendable()?;
        self.extended = true;
        if params.len() > i16::MAX as usize {
            return Err(Error::InvalidParameter(format!(
                "too many parameters ({}; at most {})",
                params.len(),
                i16::MAX
            )));
        }
        if sql.as_bytes().contains(&0) {
            return Err(Error::InvalidParameter(
                "the query contains NUL (0x00) characters".into(),
            ));
        }
        self.scan_session(sql);
        let begin = self.pending_begin.take();
        if let Some(begin) = &begin {
            // BEGIN through the unnamed statement too, with no Sync of its own: one
            // write, one Sync, one flush on the server for the whole block.
            frontend::parse("", begin, std::iter::empty(), &mut self.wbuf)
                .map_err(|e| io_err("encode", e))?;
            frontend::bind(
                "",
                "",
                std::iter::empty(),
                std::iter::empty::<Option<&[u8]>>(),
                |_, _| Ok(IsNull::Yes),
                std::iter::empty(),
                &mut self.wbuf,
            )
            .map_err(|_| Error::InvalidParameter("could not encode BEGIN".into()))?;
            frontend::execute("", 0, &mut self.wbuf).map_err(|e| io_err("encode", e))?;
        }
        if let Err(e) = self.encode_extended(sql, params) {
            self.wbuf.clear();
            self.pending_begin = begin;
            return Err(e);
        }
        frontend::sync(&mut self.wbuf);
        self.flush()?;
        self.read_until_ready(intr, None)
    }

    fn encode_extended(&mut self, sql: &str, params: &[Option<&[u8]>]) -> Result<()> {
        // Text in the client encoding: the statement, and the parameters (UTF-8 from the
        // faces) unless the session is UTF-8 already.
        let enc = self.encoding;
        let query = enc.encode(sql)?;
        let converted: Vec<Option<std::borrow::Cow<'_, [u8]>>> = if enc.is_utf8() {
            params
                .iter()
                .map(|p| p.map(std::borrow::Cow::Borrowed))
                .collect()
        } else {
            params
                .iter()
                .map(|p| match p {
                    None => Ok(None),
                    Some(v) => {
                        let text = std::str::from_utf8(v).map_err(|_| {
                            Error::InvalidParameter(format!(
                                "a parameter is not UTF-8 text (client_encoding {} is converted from UTF-8)",
                                enc.name
                            ))
                        })?;
                        Ok(Some(std::borrow::Cow::Owned(enc.encode(text)?.into_owned())))
                    }
                })
                .collect::<Result<_>>()?
        };
        // Parse: unnamed statement, the query, every parameter type left to the server
        let len = 4 + 1 + query.len() + 1 + 2 + 4 * params.len();
        let len = i32::try_from(len)
            .map_err(|_| Error::InvalidParameter("the query is too long".into()))?;
        self.wbuf.extend_from_slice(b"P");
        self.wbuf.extend_from_slice(&len.to_be_bytes());
        self.wbuf.extend_from_slice(&[0]);
        self.wbuf.extend_from_slice(&query);
        self.wbuf.extend_from_slice(&[0]);
        self.wbuf
            .extend_from_slice(&(params.len() as i16).to_be_bytes());
        for _ in params {
            self.wbuf.extend_from_slice(&0u32.to_be_bytes());
        }
        let r = frontend::bind(
            "",
            "",
            std::iter::once(0i16), // all parameters in text form
            converted.iter().map(|c| c.as_deref()),
            |p, buf| match p {
                Some(v) => {
                    buf.extend_from_slice(v);
                    Ok(IsNull::No)
                }
                None => Ok(IsNull::Yes),
            },
            std::iter::once(0i16), // all results in text form
            &mut self.wbuf,
        );
        if r.is_err() {
            self.wbuf.clear();
            return Err(Error::InvalidParameter(
                "could not encode parameters".into(),
            ));
        }
        frontend::describe(b'P', "", &mut self.wbuf).map_err(|e| io_err("encode", e))?;
        frontend::execute("", 0, &mut self.wbuf).map_err(|e| io_err("encode", e))?;
        Ok(())
    }

    /// Runs many parameterless statements pipelined (`executemany`), packed [`PACK`] to a
    /// Query message (`s1\n;\ns2\n;\n...`). Stops at the first error, as psycopg2's
    /// `executemany` does, and returns the total of rows affected.
    ///
    /// Inside a transaction (or with a `BEGIN` queued, which leads the first message)
    /// packing means exactly what one statement at a time means — the first error
    /// aborts the transaction and is the one reported — and several messages go out per
    /// write. In autocommit each statement is its own transaction, as one at a time:
    /// a `COMMIT` follows each in the message (a multi-statement message is otherwise one
    /// implicit transaction), and one message is in flight at a time, so that after an
    /// error nothing more runs: the statements before it stay committed, those after it
    /// never run. A statement that cannot run inside a transaction block (`VACUUM`,
    /// `CREATE DATABASE`, `... CONCURRENTLY`, transaction control, ...) goes in a message
    /// of its own.
    pub fn pipeline(
        &mut self,
        stmts: &mut dyn Iterator<Item = Result<String>>,
        intr: Option<Interrupt<'_>>,
    ) -> Result<u64> {
        self.check_sendable()?;
        let autocommit = self.tx == TxStatus::Idle && self.pending_begin.is_none();
        self.extended = false;
        let per_write = if autocommit { 1 } else { PACKS_PER_WRITE };
        let mut total = 0u64;
        let mut begin = self.pending_begin.take();
        let mut q = String::new();
        // A statement read but not sent yet (it needs a message of its own).
        let mut held: Option<String> = None;
        loop {
            let mut msgs = 0;
            let mut gen_err = None;
            let mut exhausted = false;
            while msgs < per_write && !exhausted {
                q.clear();
                let begin_here = begin.take();
                if let Some(b) = &begin_here {
                    q.push_str(b);
                    q.push_str("\n;\n");
                }
                let mut k = 0;
                while k < PACK {
                    let st = match held.take().map(Ok).or_else(|| stmts.next()) {
                        None => {
                            exhausted = true;
                            break;
                        }
                        Some(Err(e)) => {
                            gen_err = Some(e);
                            exhausted = true;
                            break;
                        }
                        Some(Ok(st)) => st,
                    };
                    if st.as_bytes().contains(&0) {
                        gen_err = Some(Error::InvalidParameter(
                            "the query contains NUL (0x00) characters".into(),
                        ));
                        exhausted = true;
                        break;
                    }
                    if let Err(e) = self.encoding.encode(&st) {
                        gen_err = Some(e);
                        exhausted = true;
                        break;
                    }
                    let alone = autocommit && needs_own_message(&st, self.standard_strings);
                    if alone && k > 0 {
                        held = Some(st);
                        break;
                    }
                    self.scan_session(&st);
                    if autocommit && k > 0 {
                        q.push_str("COMMIT\n;\n");
                    }
                    // The separator on its own line: a statement may end in a `--`
                    // comment.
                    q.push_str(&st);
                    q.push_str("\n;\n");
                    k += 1;
                    if alone {
                        break;
                    }
                }
                if k == 0 {
                    // Nothing to send in this message: a pending BEGIN stays pending.
                    begin = begin_here;
                    break;
                }
                // (every statement in it was checked to convert)
                self.put_query(&q)?;
                msgs += 1;
                if held.is_some() {
                    break;
                }
            }
            if msgs == 0 {
                self.pending_begin = begin;
                return match gen_err {
                    Some(e) => Err(e),
                    None => Ok(total),
                };
            }
            self.flush()?;
            let mut first_err: Option<Error> = None;
            for _ in 0..msgs {
                let mut cur = QueryResult::default();
                let mut err = None;
                loop {
                    match self.read_step(&mut cur, &mut err, intr)? {
                        Step::Done => {
                            total += cur.rows_affected().unwrap_or(0);
                            cur = QueryResult::default();
                        }
                        Step::Ready => break,
                        Step::More => {}
                    }
                }
                if first_err.is_none() {
                    first_err = err;
                }
            }
            if autocommit {
                // Our COMMITs of the message's implicit transaction: the server warns
                // that there is no (explicit) transaction in progress.
                self.notices.retain(|n| n.code != "25P01");
            }
            if let Some(e) = first_err {
                return Err(e);
            }
            if let Some(e) = gen_err {
                return Err(e);
            }
            if exhausted && held.is_none() {
                return Ok(total);
            }
        }
    }

    /// `COPY ... FROM STDIN`: `next_chunk` supplies data until it returns `Ok(None)`.
    /// An error from `next_chunk` aborts the COPY (CopyFail) and is returned.
    pub fn copy_in(
        &mut self,
        sql: &str,
        next_chunk: &mut dyn FnMut() -> Result<Option<Vec<u8>>>,
    ) -> Result<QueryResult> {
        self.check_sendable()?;
        self.extended = false;
        self.encoding.encode(sql)?; // (checked before a queued BEGIN goes out)
        let begin = self.put_pending_begin()?;
        self.put_query(sql)?;
        self.flush()?;
        if begin {
            if let Err(e) = self.read_begin(None) {
                let _ = self.read_until_ready(None, None);
                return Err(e);
            }
        }
        // Wait for CopyInResponse (or an error / a result that is not COPY FROM STDIN).
        let mut cur = QueryResult::default();
        let mut err: Option<Error> = None;
        loop {
            let (tag, len) = self.next_message(None, None)?;
            if tag == b'G' {
                self.rpos += 1 + len;
                break;
            }
            if tag == b'H' {
                // COPY TO STDOUT given to copy_in: drain it.
                err = Some(Error::Interface(
                    "the statement is a COPY TO; use copy_to()/copy_expert() with a writable file"
                        .into(),
                ));
            }
            if let Step::Ready = self.read_step(&mut cur, &mut err, None)? {
                return Err(err.unwrap_or_else(|| {
                    Error::Interface("the statement is not a COPY FROM STDIN".into())
                }));
            }
        }
        let mut user_err = None;
        loop {
            match next_chunk() {
                Ok(Some(data)) => {
                    if data.is_empty() {
                        continue;
                    }
                    // CopyData: 'd' + len + data
                    self.wbuf.extend_from_slice(b"d");
                    self.wbuf
                        .extend_from_slice(&((data.len() + 4) as u32).to_be_bytes());
                    self.wbuf.extend_from_slice(&data);
                    if self.wbuf.len() >= 64 * 1024 {
                        self.flush()?;
                    }
                }
                Ok(None) => {
                    frontend::copy_done(&mut self.wbuf);
                    break;
                }
                Err(e) => {
                    let msg = e.to_string();
                    frontend::copy_fail(&msg.replace('\0', " "), &mut self.wbuf)
                        .map_err(|e| io_err("encode", e))?;
                    user_err = Some(e);
                    break;
                }
            }
        }
        self.flush()?;
        let r = self.read_until_ready(None, None);
        match user_err {
            Some(e) => Err(e),
            None => r,
        }
    }

    /// `COPY ... TO STDOUT`: every row chunk goes to `sink`. Returns the COPY's result
    /// (its command tag carries the row count).
    pub fn copy_out(
        &mut self,
        sql: &str,
        sink: &mut dyn FnMut(&[u8]) -> Result<()>,
    ) -> Result<QueryResult> {
        self.check_sendable()?;
        self.extended = false;
        self.encoding.encode(sql)?; // (checked before a queued BEGIN goes out)
        let begin = self.put_pending_begin()?;
        self.put_query(sql)?;
        self.flush()?;
        if begin {
            if let Err(e) = self.read_begin(None) {
                let _ = self.read_until_ready(None, None);
                return Err(e);
            }
        }
        let mut cur = QueryResult::default();
        let mut last = QueryResult::default();
        let mut err: Option<Error> = None;
        let mut saw_copy = false;
        loop {
            let (tag, len) = self.next_message(None, None)?;
            match tag {
                b'H' => {
                    saw_copy = true;
                    self.rpos += 1 + len;
                }
                b'd' => {
                    let start = self.rpos + 5;
                    let end = self.rpos + 1 + len;
                    if err.is_none() {
                        if let Err(e) = sink(&self.rbuf[start..end]) {
                            err = Some(e);
                        }
                    }
                    self.rpos = end;
                }
                b'G' => {
                    self.rpos += 1 + len;
                    frontend::copy_fail("the statement is a COPY FROM; use copy_from()/copy_expert() with a readable file", &mut self.wbuf)
                        .map_err(|e| io_err("encode", e))?;
                    self.flush()?;
                    if err.is_none() {
                        err = Some(Error::Interface("the statement is a COPY FROM STDIN; use copy_from()/copy_expert() with a readable file".into()));
                    }
                }
                _ => match self.read_step(&mut cur, &mut err, None)? {
                    Step::Done => last = std::mem::take(&mut cur),
                    Step::Ready => break,
                    Step::More => {}
                },
            }
        }
        if let Some(e) = err {
            return Err(e);
        }
        if !saw_copy {
            return Err(Error::Interface(
                "the statement is not a COPY TO STDOUT".into(),
            ));
        }
        Ok(last)
    }

    /// A liveness check: an empty query, one round trip.
    pub fn ping(&mut self) -> Result<()> {
        self.simple_query("", None).map(|_| ())
    }

    /// True when the server already closed this idle connection (or sent it anything
    /// unexpected): checks the socket without blocking and without a round trip.
    pub fn poll_closed(&mut self) -> bool {
        if self.broken {
            return true;
        }
        if self.rpos == self.rend {
            self.rpos = 0;
            self.rend = 0;
        }
        let nb = |s: &Stream, on: bool| match s {
            Stream::Tcp(t) => t.set_nonblocking(on),
            Stream::Unix(u) => u.set_nonblocking(on),
            Stream::Tls(t) => t.sock.set_nonblocking(on),
        };
        if nb(&self.stream, true).is_err() {
            self.broken = true;
            return true;
        }
        let r = self.stream.read(&mut self.rbuf[self.rend..]);
        let _ = nb(&self.stream, false);
        match r {
            Ok(0) => {
                self.broken = true;
                true
            }
            // Data on an idle connection: most likely the FATAL 57P01 a terminated backend
            // sends before closing, else a NOTIFY or a ParameterStatus. The bytes stay in
            // the buffer; a round trip reads them in order and tells which.
            Ok(n) => {
                self.rend += n;
                self.ping().is_err()
            }
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => false,
            Err(_) => {
                self.broken = true;
                true
            }
        }
    }

    /// Ends a transaction left open (rollback) and resets what the session's users left
    /// behind ([`crate::session`]), in one Query message; nothing is sent when there is
    /// neither. Used when a connection goes back to the pool.
    pub fn reset(&mut self) -> Result<()> {
        self.pending_begin = None;
        self.extended = false;
        if self.broken {
            return Err(Error::Interface("connection is broken".into()));
        }
        let end = (self.tx != TxStatus::Idle).then_some(TxEnd::Rollback);
        let r = self.end_and_reset(end, None).map(|_| ());
        self.notices.clear();
        r
    }

    /// Ends the transaction psycopg2 (or a C caller) opened: `COMMIT` or `ROLLBACK`, or
    /// nothing at all when its `BEGIN` is still queued (dropped) or there is none.
    ///
    /// `block_end`: the connection goes back to its pool right after, so the reset of
    /// what the session's users left behind ([`crate::session`]) goes out in the same
    /// Query message as the `COMMIT`/`ROLLBACK`: the server connection is never idle
    /// between them, so a transaction pooler (PgBouncer) cannot hand it to another
    /// client with the state still in it. Behind a pooler ([`Connection::behind_pooler`])
    /// every transaction end hands the server connection over, so the reset rides with
    /// each one. When `COMMIT` fails (a deferred constraint) the server skips the rest
    /// of the message; the transaction is rolled back then, and the reset follows in a
    /// message of its own.
    pub fn end_transaction(
        &mut self,
        how: TxEnd,
        block_end: bool,
        intr: Option<Interrupt<'_>>,
    ) -> Result<Ended> {
        self.check_usable()?;
        if self.pending_begin.take().is_some() && self.tx == TxStatus::Idle {
            // BEGIN never left: nothing to end; a block end still resets
            if block_end || self.behind_pooler {
                self.end_and_reset(None, intr)?;
            }
            return Ok(Ended::Nothing);
        }
        if self.tx == TxStatus::Idle && !block_end {
            return Ok(Ended::Nothing);
        }
        let end = (self.tx != TxStatus::Idle).then_some(how);
        if block_end || self.behind_pooler {
            return self.end_and_reset(end, intr);
        }
        let sql = match how {
            TxEnd::Commit => "COMMIT",
            TxEnd::Rollback => "ROLLBACK",
        };
        let r = self.simple_query(sql, intr)?;
        Ok(ended_by(how, &r.command_tag))
    }

    /// `end` (if any) and the reset of `self.session`, in one Query message.
    fn end_and_reset(&mut self, end: Option<TxEnd>, intr: Option<Interrupt<'_>>) -> Result<Ended> {
        self.pending_begin = None;
        if end.is_none() && self.session.is_clean() {
            return Ok(Ended::Nothing);
        }
        let mut sql = String::with_capacity(64);
        if let Some(how) = end {
            sql.push_str(match how {
                TxEnd::Commit => "COMMIT;",
                TxEnd::Rollback => "ROLLBACK;",
            });
        }
        let dirty = self.session;
        crate::session::reset_sql(dirty, &mut sql);
        if self.behind_pooler && dirty.contains(Dirty::SETTINGS) {
            // Through a pooler, RESET ALL goes back to the pooler's server connection's
            // defaults, not to what this connection asked for at startup: ask again.
            sql.push_str("SET client_encoding TO '");
            sql.push_str(self.startup_encoding.name);
            sql.push_str("';SET DateStyle TO 'ISO';");
        }
        // `sql` is our own text: straight to the protocol (no session scan).
        self.extended = false;
        frontend::query(&sql, &mut self.wbuf).map_err(|e| io_err("encode", e))?;
        self.flush()?;
        let (first_tag, err) = self.read_until_ready_all(intr)?;
        if let Some(e) = err {
            match (end, first_tag) {
                (Some(how), Some(tag)) => {
                    // The transaction ended; a reset statement failed: the session is in
                    // an unknown state, so the connection is not reused.
                    log::warn!("session reset failed, discarding the connection: {e}");
                    self.broken = true;
                    return Ok(ended_by(how, &tag));
                }
                (Some(_), None) if !dirty.is_clean() && self.tx == TxStatus::Idle => {
                    // COMMIT failed (the server rolled back) and the reset was skipped
                    // with the rest of the message: it goes out on its own.
                    if let Err(e2) = self.end_and_reset(None, None) {
                        self.broken = true;
                        log::warn!("session reset after a failed COMMIT failed: {e2}");
                    }
                }
                (None, _) => self.broken = true,
                _ => {}
            }
            if self.tx != TxStatus::Idle {
                self.broken = true;
            }
            return Err(e);
        }
        if self.tx != TxStatus::Idle {
            self.broken = true;
            return Err(Error::Interface(
                "reset left the connection in a transaction".into(),
            ));
        }
        // (the reset's own ParameterStatus messages marked settings again)
        self.session = Dirty::NONE;
        Ok(match end {
            None => Ended::Nothing,
            Some(how) => ended_by(how, first_tag.as_deref().unwrap_or_default()),
        })
    }

    /// Reads up to ReadyForQuery: the first statement's command tag (`None` when it
    /// failed) and the first error.
    fn read_until_ready_all(
        &mut self,
        intr: Option<Interrupt<'_>>,
    ) -> Result<(Option<String>, Option<Error>)> {
        let mut cur = QueryResult::default();
        let mut err = None;
        let mut first_tag: Option<String> = None;
        loop {
            match self.read_step(&mut cur, &mut err, intr)? {
                Step::Done => {
                    if first_tag.is_none() && err.is_none() {
                        first_tag = Some(std::mem::take(&mut cur.command_tag));
                    }
                    cur = QueryResult::default();
                }
                Step::Ready => break,
                Step::More => {}
            }
        }
        Ok((first_tag, err))
    }

    /// Closes the connection politely (Terminate), ignoring errors.
    pub fn close(mut self) {
        self.terminate();
    }

    /// True when this process is a fork of the one that opened the connection: the
    /// socket belongs to the parent and must not be written to.
    pub fn is_inherited(&self) -> bool {
        self.generation != crate::runtime::generation()
    }

    fn terminate(&mut self) {
        if !self.broken && !self.is_inherited() {
            self.wbuf.clear();
            frontend::terminate(&mut self.wbuf);
            let _ = self
                .stream
                .set_write_timeout(Some(Duration::from_millis(100)));
            let _ = self.stream.write_all(&self.wbuf);
            self.broken = true;
        }
    }
}

impl Drop for Connection {
    fn drop(&mut self) {
        self.terminate();
    }
}

/// What a `COMMIT`/`ROLLBACK` did, from its command tag.
fn ended_by(how: TxEnd, tag: &str) -> Ended {
    match how {
        TxEnd::Commit if tag != "ROLLBACK" => Ended::Committed,
        _ => Ended::RolledBack,
    }
}

/// True when `sql` cannot run inside a transaction block (or in a multi-statement
/// message, which is one): `VACUUM`, `CREATE/DROP DATABASE`, `... CONCURRENTLY`,
/// `CREATE/DROP TABLESPACE`, `ALTER SYSTEM`, `CLUSTER`, `DISCARD ALL`, subscriptions,
/// transaction control. Conservative: every statement starting with one of those words.
fn needs_own_message(sql: &str, standard: bool) -> bool {
    let mut words = crate::lexer::Lexer::new(sql, standard).filter_map(|t| match t {
        crate::lexer::Tok::Word(w) => Some(w),
        _ => None,
    });
    let Some(first) = words.next() else {
        return false;
    };
    const ALONE: [&str; 16] = [
        "abort",
        "alter",
        "begin",
        "checkpoint",
        "cluster",
        "commit",
        "create",
        "discard",
        "drop",
        "end",
        "prepare",
        "reindex",
        "release",
        "rollback",
        "savepoint",
        "vacuum",
    ];
    ALONE.iter().any(|w| first.eq_ignore_ascii_case(w)) || first.eq_ignore_ascii_case("start")
}

fn tx_from(b: u8) -> TxStatus {
    match b {
        b'I' => TxStatus::Idle,
        b'T' => TxStatus::InTransaction,
        b'E' => TxStatus::InError,
        _ => TxStatus::Unknown,
    }
}

fn password(p: &ConnectParams) -> Result<&str> {
    p.password.as_deref().ok_or_else(|| {
        Error::Connection(
            "the server requested password-based authentication, but no password was provided"
                .into(),
        )
    })
}

fn describe_target(host: &Host, port: u16) -> String {
    match host {
        Host::Tcp(h) => format!("\"{h}\", port {port}"),
        Host::Unix(d) => format!("socket \"{}/.s.PGSQL.{port}\"", d.display()),
    }
}
