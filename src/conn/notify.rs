//! LISTEN/NOTIFY: the NotificationResponse messages the server sends (during a statement's
//! answer or while the connection is idle), kept until the face takes them, and a
//! non-blocking read of what arrived on an idle connection (psycopg2's `poll()`).

use std::io::{self, Read};
use std::time::{Duration, Instant};

use super::message::{parse_error_fields, Body};
use super::Connection;
use crate::error::{Error, Result};

/// A notification (`NOTIFY channel, 'payload'`) received on a connection that LISTENs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Notification {
    /// The process id of the notifying server process.
    pub pid: i32,
    /// The channel.
    pub channel: String,
    /// The payload (empty when none was given).
    pub payload: String,
}

/// A connection keeps at most this many notifications nobody took (the oldest go first).
const MAX_KEPT: usize = 10_000;

impl Connection {
    /// Records a NotificationResponse (`body`: the message after its length).
    pub(super) fn note_notification(&mut self, body: &[u8]) -> Result<()> {
        let mut b = Body::new(body);
        let pid = b.i32()?;
        let channel = self.encoding.decode_lossy(b.cbytes()?);
        let payload = self.encoding.decode_lossy(b.cbytes()?);
        if self.notifications.len() >= MAX_KEPT {
            self.notifications.remove(0);
        }
        self.notifications.push(Notification {
            pid,
            channel,
            payload,
        });
        Ok(())
    }

    /// The notifications received since the last call, oldest first.
    pub fn take_notifications(&mut self) -> Vec<Notification> {
        std::mem::take(&mut self.notifications)
    }

    /// True when notifications wait to be taken (no syscall).
    pub fn has_notifications(&self) -> bool {
        !self.notifications.is_empty()
    }

    /// The socket's file descriptor (to wait for readability with `select()`; a TLS
    /// connection's is the TCP socket's).
    pub fn raw_fd(&self) -> std::os::fd::RawFd {
        self.stream.raw_fd()
    }

    /// Reads what is on the socket into the framing buffer without blocking (until
    /// it would block): the number of bytes read, and whether the server closed it.
    pub(super) fn read_available(&mut self) -> io::Result<(usize, bool)> {
        self.stream.set_nonblocking(true)?;
        let mut total = 0;
        let r = loop {
            self.rb.make_room();
            match self.stream.read(self.rb.spare_mut()) {
                Ok(0) => break Ok((total, true)),
                Ok(n) => {
                    self.rb.filled(n);
                    total += n;
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break Ok((total, false)),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => break Err(e),
            }
        };
        let _ = self.stream.set_nonblocking(false);
        r
    }

    /// Reads what the server sent to this idle connection, without blocking, and
    /// handles it: notifications and notices are kept, parameter changes applied. A
    /// FATAL error (the server shutting down, the backend terminated) is kept as a
    /// notice, as libpq does; the socket closing without one marks the connection broken
    /// and is returned.
    pub fn poll_input(&mut self) -> Result<()> {
        self.check_usable()?;
        let (closed, failure) = match self.read_available() {
            Ok((_, closed)) => (closed, None),
            Err(e) => (false, Some(e)),
        };
        // Handle every whole message first: a FATAL error precedes the close.
        let fatal = match self.handle_idle_messages() {
            Ok(fatal) => fatal,
            Err(e) => {
                self.broken = true;
                return Err(e);
            }
        };
        if let Some(e) = failure {
            self.broken = true;
            return Err(super::io_err("could not receive data from server", e));
        }
        // As libpq: the server's goodbye (FATAL, then the close) is a notice now; the
        // next statement (or poll) finds the connection closed.
        if closed && !fatal {
            self.broken = true;
            return Err(Error::Connection(
                "server closed the connection unexpectedly".into(),
            ));
        }
        Ok(())
    }

    /// Waits up to `timeout` for the server to send something to this idle connection
    /// (a notification, a notice, a parameter change) and handles what came, as
    /// [`poll_input`](Self::poll_input) does: returns at the first arrival, or when
    /// `timeout` passes (not an error: the connection stays usable), or when `intr` asks
    /// to stop ([`Error::Interrupted`]).
    pub fn wait_input(
        &mut self,
        timeout: Duration,
        intr: Option<super::Interrupt<'_>>,
    ) -> Result<()> {
        self.check_usable()?;
        let deadline = Instant::now() + timeout;
        loop {
            self.poll_input()?;
            if !self.notifications.is_empty() {
                return Ok(());
            }
            let now = Instant::now();
            if now >= deadline {
                return Ok(());
            }
            if intr.is_some_and(|f| f()) {
                return Err(Error::Interrupted);
            }
            // Sleep on the socket: a read that times out after a poll interval at most.
            let tick = (deadline - now).min(super::POLL_INTERVAL);
            let _ = self
                .stream
                .set_read_timeout(Some(tick.max(Duration::from_millis(1))));
            let r = self.stream.read(self.rb.spare_mut());
            let _ = self.stream.set_read_timeout(Some(super::POLL_INTERVAL));
            match r {
                Ok(0) => {
                    self.broken = true;
                    return Err(Error::Connection(
                        "server closed the connection unexpectedly".into(),
                    ));
                }
                Ok(n) => self.rb.filled(n),
                Err(e)
                    if e.kind() == io::ErrorKind::WouldBlock
                        || e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => {
                    self.broken = true;
                    return Err(super::io_err("could not receive data from server", e));
                }
            }
        }
    }

    /// The messages buffered on an idle connection: only asynchronous ones may come.
    /// True when the server said goodbye (a FATAL error).
    fn handle_idle_messages(&mut self) -> Result<bool> {
        let mut fatal = false;
        while let Some((tag, len)) = self.rb.peek()? {
            let at = self.rb.take(len);
            let body = self.rb.get(at).to_vec();
            match tag {
                b'A' => self.note_notification(&body)?,
                b'N' => {
                    let e = parse_error_fields(&body, self.encoding);
                    self.push_notice(e.severity, e.code, e.message);
                }
                b'S' => {
                    let mut b = Body::new(&body);
                    let k = self.encoding.decode_lossy(b.cbytes()?);
                    let v = self.encoding.decode_lossy(b.cbytes()?);
                    self.note_parameter(k, v);
                }
                b'E' => {
                    let e = parse_error_fields(&body, self.encoding);
                    if e.severity != "FATAL" && e.severity != "PANIC" {
                        return Err(Error::Db(std::sync::Arc::new(e)));
                    }
                    fatal = true;
                    self.push_notice(e.severity, e.code, e.message);
                }
                other => {
                    return Err(Error::Connection(format!(
                        "unexpected message {:?} from the server on an idle connection",
                        other as char
                    )))
                }
            }
        }
        Ok(fatal)
    }
}
