//! The read loop: framing backend messages from the socket (with the interrupt hook, the
//! client-side statement deadline and the cancel grace), and the handling of each message of
//! a statement's answer.

use std::io::{self, Read, Write};
use std::sync::Arc;
use std::time::Instant;

use postgres_protocol::message::frontend;

use super::message::{parse_error_fields, parse_row_description, short, Body};
use super::{io_err, tx_from, Connection, Interrupt, RowSink, Step, TxStatus, CANCEL_GRACE};
use crate::error::{Error, Result};
use crate::result::QueryResult;
use crate::session::Dirty;

/// The hint a read-only refusal nobody asked for gets (see
/// [`Connection::take_role_suspect`]).
pub(crate) const ROLE_SUSPECT_HINT: &str = "The server refused a write although no read-only \
transaction was asked for: if it became a standby (a failover), pgpool replaces this \
connection when it is returned, and retrying the transaction on a new connection may \
succeed.";

impl Connection {
    pub(super) fn flush(&mut self) -> Result<()> {
        if self.wbuf.is_empty() {
            return Ok(());
        }
        if let Some(hook) = self.wait_hook.clone() {
            if self.plain_socket() {
                return self.flush_green(&hook);
            }
        }
        let r = self.stream.write_all(&self.wbuf);
        self.wbuf.clear();
        r.map_err(|e| {
            self.broken = true;
            io_err("could not send data to server", e)
        })
    }

    /// Makes sure one whole message is buffered (reading the socket into the framing buffer as needed); returns its tag and length
    /// (the length field's value: body length + 4).
    pub(super) fn next_message(
        &mut self,
        intr: Option<Interrupt<'_>>,
        deadline: Option<Instant>,
    ) -> Result<(u8, usize)> {
        // When the interrupt hook asked to stop (a CancelRequest went out then).
        let mut cancelled: Option<Instant> = None;
        // When the wait started: read only when a read is needed (not once per message).
        let mut started: Option<Instant> = None;
        loop {
            match self.rb.peek() {
                Ok(Some(m)) => return Ok(m),
                Ok(None) => {}
                Err(e) => {
                    self.broken = true;
                    return Err(e);
                }
            }
            if let Some(hook) = self.wait_hook.clone() {
                // Green mode: the hook waits (and handles Ctrl-C) its own way.
                if !self.read_green(&hook)? {
                    self.broken = true;
                    return Err(Error::Connection(
                        "server closed the connection unexpectedly".into(),
                    ));
                }
                continue;
            }
            if self.read_deadline.is_some() && started.is_none() {
                started = Some(Instant::now());
            }
            match self.stream.read(self.rb.spare_mut()) {
                Ok(0) => {
                    self.broken = true;
                    return Err(Error::Connection(
                        "server closed the connection unexpectedly".into(),
                    ));
                }
                Ok(n) => self.rb.filled(n),
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
    pub(super) fn read_step(
        &mut self,
        cur: &mut QueryResult,
        err: &mut Option<Error>,
        intr: Option<Interrupt<'_>>,
    ) -> Result<Step> {
        let (tag, len) = self.next_message(intr, None)?;
        let at = self.rb.take(len);
        let step = self.handle_message(tag, at, cur, err);
        // What the message called for (a CopyFail) goes out now.
        self.flush()?;
        step
    }

    /// Handles one message of a statement's answer (its body at `at` in the read
    /// buffer): no I/O; a reply it calls for is queued in the write buffer.
    pub(super) fn handle_message(
        &mut self,
        tag: u8,
        at: std::ops::Range<usize>,
        cur: &mut QueryResult,
        err: &mut Option<Error>,
    ) -> Result<Step> {
        if tag == b'D' {
            if err.is_none() {
                let body = self.rb.get(at);
                if let Err(m) = cur.push_row(body) {
                    self.broken = true;
                    return Err(Error::Connection(format!("protocol error: {m}")));
                }
            }
            return Ok(Step::More);
        }
        let body = self.rb.get(at);
        match tag {
            b'T' => {
                let cols = parse_row_description(body, self.encoding)?;
                *cur = QueryResult::default();
                cur.start(cols);
            }
            b'C' => {
                let mut b = Body::new(body);
                cur.command_tag = b.cstr()?.to_string();
                if cur.command_tag == "COMMIT" {
                    self.saw_commit = true;
                }
                return Ok(Step::Done);
            }
            b'I' => {
                cur.command_tag.clear();
                return Ok(Step::Done);
            }
            b'Z' => {
                let was = self.tx;
                self.tx = tx_from(body.first().copied().unwrap_or(b'I'));
                if self.tx == TxStatus::Idle
                    && matches!(was, TxStatus::InTransaction | TxStatus::InError)
                {
                    if was == TxStatus::InTransaction && self.saw_commit {
                        self.xacts.committed += 1;
                    } else {
                        self.xacts.rolled_back += 1;
                    }
                }
                self.saw_commit = false;
                if self.tx == TxStatus::Idle {
                    self.tx_read_only = false;
                }
                self.last_used = Instant::now();
                return Ok(Step::Ready);
            }
            b'E' => {
                let mut e = parse_error_fields(body, self.encoding);
                let fatal = e.severity == "FATAL" || e.severity == "PANIC";
                if e.code == "25006"
                    && !self.tx_read_only
                    && !self.session.contains(Dirty::SETTINGS)
                {
                    self.role_suspect = true;
                    if e.hint.is_none() {
                        e.hint = Some(ROLE_SUSPECT_HINT.to_string());
                    }
                }
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
                self.push_notice(e.severity, e.code, e.message);
            }
            b'A' => {
                let body = body.to_vec();
                self.note_notification(&body)?;
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
            b'1' | b'2' | b'3' | b'n' | b't' | b's' => {}
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

    /// Reads the answer to a pipelined BEGIN (up to its ReadyForQuery).
    pub(super) fn read_begin(&mut self, intr: Option<Interrupt<'_>>) -> Result<()> {
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

    pub(super) fn read_until_ready(
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
                if cur.nrows() > sunk && err.is_none() && !self.rb.has_message() {
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

    /// Reads up to ReadyForQuery: the first statement's command tag (`None` when it
    /// failed) and the first error.
    pub(super) fn read_until_ready_all(
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
}
