//! One server connection, driven by the thread that holds it (see `docs/DESIGN.md`).
//!
//! The socket is blocking. A statement is written in one `write()` (with a pending
//! `BEGIN` in front of it) and its answer is read on the same thread: no runtime, no
//! channel, no hand-off. While waiting, reads time out every [`POLL_INTERVAL`] so the
//! caller's interrupt hook can ask for the query to be cancelled.
//!
//! One file per operation: `stream` (sockets, the cancel request), `frames` and
//! `message` (framing and decoding backend messages, no I/O), `auth` (the startup
//! exchange, no I/O), `startup` (hosts, TLS negotiation, driving `auth`), `read` (the
//! read loop; each message of an answer without I/O), `query` (simple and extended
//! protocol), `begin` (the queued BEGIN), `pipeline` (`executemany`), `copy`, `txn`
//! (transaction end and session reset), `green` (the wait hook and asynchronous
//! statements); this file holds the state and its accessors.
#![forbid(unsafe_code)]

use std::collections::HashMap;
use std::io::{self, Write};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::BytesMut;
use postgres_protocol::message::frontend;

use crate::config::Host;
use crate::encoding::Encoding;
use crate::error::{Error, Result};
use crate::result::QueryResult;
use crate::session::Dirty;
use crate::sql::Quoting;

mod auth;
mod begin;
mod copy;
mod frames;
mod green;
mod message;
mod notify;
mod pipeline;
mod query;
mod read;
mod startup;
mod stream;
mod txn;

pub use self::green::{AsyncPoll, Wait, WaitHook};
pub use self::notify::Notification;
pub use self::stream::CancelToken;
use self::{begin::PendingBegin, frames::ReadBuf, stream::*};

/// How often a blocked read wakes up to ask the interrupt hook.
pub const POLL_INTERVAL: Duration = Duration::from_millis(100);

/// How long a statement interrupted by the hook (Ctrl-C) waits for the server's answer
/// to the CancelRequest before giving up on the connection (a stalled network).
pub const CANCEL_GRACE: Duration = Duration::from_millis(800);

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

/// Transaction blocks ended, by outcome ([`Connection::take_xact_counts`]).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct XactCounts {
    /// Ended by a `COMMIT` the server accepted.
    pub committed: u64,
    /// Ended any other way (`ROLLBACK`, a `COMMIT` of a failed transaction).
    pub rolled_back: u64,
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
    /// Received bytes, framed into messages ([`frames::ReadBuf`]).
    rb: ReadBuf,
    wbuf: BytesMut,
    params: HashMap<String, String>,
    pid: i32,
    secret: i32,
    target: Arc<(Host, u16)>,
    connect_timeout: Option<Duration>,
    tx: TxStatus,
    broken: bool,
    /// Transaction blocks ended on the server since [`take_xact_counts`] last ran: how
    /// the pool counts committed and rolled-back transactions ([`crate::stats`]).
    xacts: XactCounts,
    /// The transaction was begun `READ ONLY` here ([`Connection::begin`]).
    tx_read_only: bool,
    /// See [`Connection::take_role_suspect`].
    role_suspect: bool,
    /// The answer being read carried a `COMMIT` command tag (so a transaction block
    /// that ends with it committed; anything else ending one rolled back).
    saw_commit: bool,
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
    pending_begin: Option<PendingBegin>,
    notices: Vec<Notice>,
    /// NOTIFY messages received and not taken yet ([`notify`]).
    notifications: Vec<Notification>,
    /// The server asked for the password during the startup.
    used_password: bool,
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
    /// A face's wait hook ([`green`]): called instead of blocking on the socket.
    wait_hook: Option<WaitHook>,
    /// The reset a previous pool user's session still needs, deferred to ride in front of
    /// the next statement ([`txn`]): only `DISCARD SEQUENCES` (what an autocommit write
    /// leaves), never behind a pooler.
    deferred_reset: Dirty,
    /// The answer being read of a statement sent with [`Connection::send_async`].
    async_read: Option<Box<green::AsyncRead>>,
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
    /// True when the server asked for the password at startup (libpq's
    /// `PQconnectionUsedPassword`).
    pub fn used_password(&self) -> bool {
        self.used_password
    }

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

    /// The transaction blocks ended on the server since the last call (a transaction
    /// block: the server's status went from in a transaction, or failed, back to idle),
    /// taken: committed (ended by a `COMMIT` the server accepted) and rolled back
    /// (`ROLLBACK`, a `COMMIT` of a failed transaction, the pool's rollback at return). A
    /// block begun and ended inside one multi-statement message is not seen.
    pub fn take_xact_counts(&mut self) -> XactCounts {
        std::mem::take(&mut self.xacts)
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
    /// Keeps a notice (the last 50).
    fn push_notice(&mut self, severity: String, code: String, message: String) {
        if self.notices.len() >= 50 {
            self.notices.remove(0);
        }
        self.notices.push(Notice {
            severity,
            code,
            message,
        });
    }

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

    /// Starts a transaction with characteristics `c`: its `BEGIN` (e.g. `BEGIN
    /// ISOLATION LEVEL SERIALIZABLE READ ONLY`) is queued to go out in the same write as
    /// the next statement, with no round trip of its own.
    pub fn begin(&mut self, c: &crate::transaction::Characteristics) {
        self.pending_begin = Some(PendingBegin::new(c));
        self.tx_read_only = c.readonly == Some(true);
    }

    /// True once since a statement was refused with SQLSTATE 25006 (read-only
    /// transaction) that nothing on the client side asked for — no `READ ONLY`
    /// transaction begun here, no setting changed in the session: the server may have
    /// become a standby (a failover behind a pooler or a virtual IP). Taken by the pool,
    /// which then checks the server's role when the connection comes back.
    pub fn take_role_suspect(&mut self) -> bool {
        std::mem::take(&mut self.role_suspect)
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
        if self.async_read.is_some() {
            return Err(Error::Interface(
                "another command is already in progress (an asynchronous statement)".into(),
            ));
        }
        if let Some(e) = &self.unsupported_encoding {
            return Err(Error::Interface(format!(
                "client_encoding {e:?} is not supported by pgpool: no statement runs on this connection until it goes back to its pool (whose reset restores the encoding) or is closed; supported: {}",
                Encoding::names().collect::<Vec<_>>().join(", ")
            )));
        }
        Ok(())
    }

    /// A liveness check: an empty query, one round trip.
    pub fn ping(&mut self) -> Result<()> {
        self.simple_query("", None).map(|_| ())
    }

    /// A health check that runs a statement (`SELECT 1`): the server answers queries, not
    /// only the protocol (what `ping`'s empty query checks).
    pub fn check_health(&mut self, intr: Option<Interrupt<'_>>) -> Result<()> {
        self.simple_query("SELECT 1", intr).map(|_| ())
    }

    /// True when the server already closed this idle connection (or sent it anything
    /// unexpected): checks the socket without blocking and without a round trip.
    pub fn poll_closed(&mut self) -> bool {
        if self.broken {
            return true;
        }
        match self.read_available() {
            Ok((0, false)) => false,
            // Data on an idle connection: most likely the FATAL 57P01 a terminated backend
            // sends before closing, else a NOTIFY or a ParameterStatus. The bytes stay in
            // the buffer; a round trip reads them in order and tells which.
            Ok((_, false)) => self.ping().is_err(),
            Ok((_, true)) | Err(_) => {
                self.broken = true;
                true
            }
        }
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

fn tx_from(b: u8) -> TxStatus {
    match b {
        b'I' => TxStatus::Idle,
        b'T' => TxStatus::InTransaction,
        b'E' => TxStatus::InError,
        _ => TxStatus::Unknown,
    }
}

fn describe_target(host: &Host, port: u16) -> String {
    match host {
        Host::Tcp(h) => format!("\"{h}\", port {port}"),
        Host::Unix(d) => format!("socket \"{}/.s.PGSQL.{port}\"", d.display()),
    }
}

#[cfg(test)]
#[path = "driver_tests.rs"]
mod driver_tests;
