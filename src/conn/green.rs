//! Waiting without blocking the thread, as psycopg2 offers it:
//!
//! - the wait hook ("green" mode, psycopg2's `set_wait_callback`): where the read loop
//!   would block on the socket, it reads without blocking and, when nothing came, calls
//!   the face's hook, which waits its own way (a coroutine library's `select`) and
//!   returns; the loop then reads again. Writes (non-TLS) do the same.
//! - asynchronous statements (psycopg2's `async_=True` connections): [`send_async`]
//!   writes a statement and returns; [`poll_async`] reads what arrived without blocking
//!   and says whether the answer is complete. The answer is handled message by message
//!   by the same code as a blocking statement's (`read::handle_message`).
//!
//! [`send_async`]: Connection::send_async
//! [`poll_async`]: Connection::poll_async

use std::io::{self, Write};

use bytes::Buf;
use std::sync::Arc;

use super::{io_err, Connection, Step};
use crate::encoding::Encoding;
use crate::error::{Error, Result};
use crate::result::QueryResult;

/// What the read loop waits for when it calls the wait hook.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Wait {
    /// The socket to be readable.
    Read,
    /// The socket to be writable.
    Write,
}

/// A face's wait hook: waits until the socket may be ready for `Wait` (it may return
/// early: the caller checks again). An error stops the statement and the connection is
/// given up (the protocol state is unknown).
pub type WaitHook = Arc<dyn Fn(Wait) -> Result<()> + Send + Sync>;

/// An asynchronous statement's answer, read so far.
pub(super) struct AsyncRead {
    cur: QueryResult,
    last: QueryResult,
    err: Option<Error>,
    started_in: Encoding,
}

/// What [`Connection::poll_async`] found.
#[derive(Debug)]
pub enum AsyncPoll {
    /// The answer is not complete: wait for the socket to be readable and poll again.
    Pending,
    /// The statement is not sent whole yet: wait for the socket to be writable and poll
    /// again.
    Write,
    /// The answer is complete: the last statement's result.
    Done(QueryResult),
}

impl Connection {
    /// Sets (or clears) the wait hook: see the module documentation.
    pub fn set_wait_hook(&mut self, hook: Option<WaitHook>) {
        self.wait_hook = hook;
    }

    /// True while the wait hook is set.
    pub fn has_wait_hook(&self) -> bool {
        self.wait_hook.is_some()
    }

    /// With a wait hook: reads what is there without blocking, calling the hook while
    /// nothing is. `Ok(true)`: bytes arrived; `Ok(false)`: the server closed the socket
    /// (after what was read before).
    pub(super) fn read_green(&mut self, hook: &WaitHook) -> Result<bool> {
        loop {
            match self.read_available() {
                Ok((0, false)) => {
                    if let Err(e) = hook(Wait::Read) {
                        self.broken = true;
                        return Err(e);
                    }
                }
                Ok((_, false)) => return Ok(true),
                Ok((n, true)) => return Ok(n > 0),
                Err(e) => {
                    self.broken = true;
                    return Err(io_err("could not receive data from server", e));
                }
            }
        }
    }

    /// With a wait hook, on a plain socket: writes the buffer without blocking, calling
    /// the hook while the socket is full. (A TLS stream writes blocking: a record is
    /// encrypted and written whole.)
    pub(super) fn flush_green(&mut self, hook: &WaitHook) -> Result<()> {
        let mut sent = 0;
        let mut r = self.stream.set_nonblocking(true).map(|_| ());
        while r.is_ok() && sent < self.wbuf.len() {
            match self.stream.write(&self.wbuf[sent..]) {
                Ok(0) => r = Err(io::Error::from(io::ErrorKind::WriteZero)),
                Ok(n) => sent += n,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    if let Err(e) = hook(Wait::Write) {
                        let _ = self.stream.set_nonblocking(false);
                        self.wbuf.clear();
                        self.broken = true;
                        return Err(e);
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => r = Err(e),
            }
        }
        let restored = self.stream.set_nonblocking(false);
        self.wbuf.clear();
        r.and(restored).map_err(|e| {
            self.broken = true;
            io_err("could not send data to server", e)
        })
    }

    /// Writes what the socket takes without blocking (a plain socket; a TLS stream
    /// writes the whole buffer, blocking); the rest stays in the buffer.
    fn write_some(&mut self) -> Result<()> {
        if !self.plain_socket() {
            return self.flush();
        }
        let mut r = self.stream.set_nonblocking(true).map(|_| ());
        while r.is_ok() && !self.wbuf.is_empty() {
            match self.stream.write(&self.wbuf) {
                Ok(0) => r = Err(io::Error::from(io::ErrorKind::WriteZero)),
                Ok(n) => self.wbuf.advance(n),
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => r = Err(e),
            }
        }
        let restored = self.stream.set_nonblocking(false);
        r.and(restored).map_err(|e| {
            self.wbuf.clear();
            self.broken = true;
            io_err("could not send data to server", e)
        })
    }

    /// True for a plain (non-TLS) socket: the one [`flush_green`](Self::flush_green)
    /// writes without blocking.
    pub(super) fn plain_socket(&self) -> bool {
        !matches!(self.stream, super::Stream::Tls(_))
    }

    /// Sends `sql` with the simple query protocol (several statements allowed) and
    /// returns without reading the answer: [`poll_async`](Self::poll_async) reads it.
    /// Nothing else can be sent until it is complete. A pending BEGIN rides in front.
    pub fn send_async(&mut self, sql: &str) -> Result<()> {
        self.start_simple(sql)?;
        self.settle_deferred(None)?;
        match self.pending_begin.take() {
            None => self.put_query(sql)?,
            Some(begin) => {
                let (q, _) = begin.prefixed(sql);
                if let Err(e) = self.put_query(&q) {
                    self.pending_begin = Some(begin);
                    return Err(e);
                }
            }
        }
        self.write_some()?;
        self.async_read = Some(Box::new(AsyncRead {
            cur: QueryResult::default(),
            last: QueryResult::default(),
            err: None,
            started_in: self.encoding,
        }));
        Ok(())
    }

    /// True while an asynchronous statement's answer is not complete.
    pub fn async_pending(&self) -> bool {
        self.async_read.is_some()
    }

    /// Reads what arrived of the asynchronous statement's answer without blocking. The
    /// first error of the answer is returned once it is complete (the server stops at
    /// it); a connection error at once. Without an asynchronous statement: reads what
    /// the server sent to the idle connection ([`poll_input`](Self::poll_input)).
    pub fn poll_async(&mut self) -> Result<AsyncPoll> {
        let Some(mut a) = self.async_read.take() else {
            self.poll_input()?;
            return Ok(AsyncPoll::Done(QueryResult::default()));
        };
        if !self.wbuf.is_empty() {
            self.write_some()?;
            if !self.wbuf.is_empty() {
                self.async_read = Some(a);
                return Ok(AsyncPoll::Write);
            }
        }
        let closed = match self.read_available() {
            Ok((_, closed)) => closed,
            Err(e) => {
                self.broken = true;
                return Err(io_err("could not receive data from server", e));
            }
        };
        loop {
            let (tag, len) = match self.rb.peek() {
                Ok(Some(m)) => m,
                Ok(None) => break,
                Err(e) => {
                    self.broken = true;
                    return Err(e);
                }
            };
            let at = self.rb.take(len);
            let step = self.handle_message(tag, at, &mut a.cur, &mut a.err)?;
            // What the message called for (a CopyFail) goes out now.
            self.flush()?;
            match step {
                Step::Done => a.last = std::mem::take(&mut a.cur),
                Step::More => {}
                Step::Ready => {
                    let a = *a;
                    return match a.err {
                        Some(e) => Err(e),
                        None => {
                            let mut last = a.last;
                            if !self.encoding.is_utf8() || self.encoding != a.started_in {
                                last.transcode(self.encoding)?;
                            }
                            Ok(AsyncPoll::Done(last))
                        }
                    };
                }
            }
        }
        if closed {
            self.broken = true;
            return Err(Error::Connection(
                "server closed the connection unexpectedly".into(),
            ));
        }
        self.async_read = Some(a);
        Ok(AsyncPoll::Pending)
    }
}
