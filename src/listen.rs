//! A LISTEN session that outlives its server connection: [`Listener`] owns one
//! connection of its own (a LISTEN needs a session: not a pooled connection, which is
//! reset when it goes back, nor a transaction pooler's), LISTENs on its channels, and when
//! the connection is lost (a server restart, a failover, a network cut) connects again,
//! with a growing pause between attempts, and LISTENs on every channel again.
//!
//! Notifications sent while no connection was listening are lost (PostgreSQL keeps none
//! for a session that is gone): [`Listener::reconnects`] counts the gaps, so that an
//! application can re-read what it may have missed.

use std::collections::{BTreeSet, VecDeque};
use std::time::{Duration, Instant};

use crate::config::ConnectParams;
use crate::conn::{Connection, Interrupt, Notification};
use crate::error::{Error, Result};
use crate::statements::quote_ident;

/// The first pause before connecting again after a failed attempt; it doubles up to
/// [`MAX_BACKOFF`].
const FIRST_BACKOFF: Duration = Duration::from_millis(100);
/// The longest pause between two connection attempts.
const MAX_BACKOFF: Duration = Duration::from_secs(5);

/// A LISTEN session that reconnects (see the module documentation).
pub struct Listener {
    params: ConnectParams,
    conn: Option<Connection>,
    channels: BTreeSet<String>,
    pending: VecDeque<Notification>,
    reconnects: u64,
    /// When the next connection attempt may be made (after a failed one).
    next_attempt: Option<Instant>,
    backoff: Duration,
    last_error: Option<String>,
    closed: bool,
}

impl std::fmt::Debug for Listener {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Listener")
            .field("channels", &self.channels)
            .field("connected", &self.conn.is_some())
            .field("reconnects", &self.reconnects)
            .finish()
    }
}

impl Listener {
    /// Connects and LISTENs on `channels`. A failure to connect now is returned (the
    /// configuration or the server is wrong from the start); later losses are handled.
    pub fn new<I, S>(params: ConnectParams, channels: I) -> Result<Listener>
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        let mut l = Listener {
            params,
            conn: None,
            channels: channels.into_iter().map(Into::into).collect(),
            pending: VecDeque::new(),
            reconnects: 0,
            next_attempt: None,
            backoff: FIRST_BACKOFF,
            last_error: None,
            closed: false,
        };
        let mut c = Connection::connect_checked(&l.params)?;
        l.listen_all(&mut c)?;
        l.conn = Some(c);
        Ok(l)
    }

    fn listen_all(&self, c: &mut Connection) -> Result<()> {
        if self.channels.is_empty() {
            return Ok(());
        }
        let sql: Vec<String> = self
            .channels
            .iter()
            .map(|ch| format!("LISTEN {}", quote_ident(ch)))
            .collect();
        c.simple_query(&sql.join("; "), None).map(|_| ())
    }

    fn check_open(&self) -> Result<()> {
        if self.closed {
            return Err(Error::Interface("the listener is closed".into()));
        }
        Ok(())
    }

    /// LISTENs on `channel` too (now when connected, and after every reconnect).
    pub fn listen(&mut self, channel: &str) -> Result<()> {
        self.check_open()?;
        if let Some(c) = self.conn.as_mut() {
            if let Err(e) = c.simple_query(&format!("LISTEN {}", quote_ident(channel)), None) {
                if !c.is_broken() {
                    return Err(e); // the server refused it: not added
                }
                self.lost(e);
            }
        }
        self.channels.insert(channel.to_string());
        Ok(())
    }

    /// Stops listening on `channel` (`UNLISTEN`). False when it was not listened on.
    pub fn unlisten(&mut self, channel: &str) -> Result<bool> {
        self.check_open()?;
        if !self.channels.remove(channel) {
            return Ok(false);
        }
        if let Some(c) = self.conn.as_mut() {
            if let Err(e) = c.simple_query(&format!("UNLISTEN {}", quote_ident(channel)), None) {
                self.lost(e);
            }
        }
        self.pending.retain(|n| n.channel != channel);
        Ok(true)
    }

    /// The channels listened on, in order.
    pub fn channels(&self) -> impl Iterator<Item = &str> {
        self.channels.iter().map(String::as_str)
    }

    /// How many times the connection was lost and made again.
    pub fn reconnects(&self) -> u64 {
        self.reconnects
    }

    /// True while a connection is listening.
    pub fn is_connected(&self) -> bool {
        self.conn.is_some()
    }

    /// Why the last connection was lost or the last attempt failed, if it was.
    pub fn last_error(&self) -> Option<&str> {
        self.last_error.as_deref()
    }

    /// The socket to wait on (`select()`) while connected.
    pub fn raw_fd(&self) -> Option<std::os::fd::RawFd> {
        self.conn.as_ref().map(Connection::raw_fd)
    }

    fn lost(&mut self, e: Error) {
        self.last_error = Some(e.to_string());
        log::warn!("pgpool listener: connection lost ({e}); reconnecting");
        if let Some(c) = self.conn.take() {
            c.close();
        }
        self.next_attempt = None;
        self.backoff = FIRST_BACKOFF;
    }

    /// One connection attempt, when the pause after the last failed one is over.
    fn try_connect(&mut self) {
        if self.next_attempt.is_some_and(|t| Instant::now() < t) {
            return;
        }
        match Connection::connect_checked(&self.params).and_then(|mut c| {
            self.listen_all(&mut c)?;
            Ok(c)
        }) {
            Ok(c) => {
                self.conn = Some(c);
                self.reconnects += 1;
                self.next_attempt = None;
                self.backoff = FIRST_BACKOFF;
                log::info!(
                    "pgpool listener: connected again, listening on {} channel(s)",
                    self.channels.len()
                );
            }
            Err(e) => {
                self.last_error = Some(e.to_string());
                self.next_attempt = Some(Instant::now() + self.backoff);
                self.backoff = (self.backoff * 2).min(MAX_BACKOFF);
            }
        }
    }

    /// The notifications received, oldest first, waiting up to `timeout` for one when
    /// none is there (`Duration::ZERO`: only what already arrived). Empty when the time
    /// passed; a lost connection is made again meanwhile (also when the time passes
    /// before it could be: the next call tries again). `intr` may stop the wait
    /// ([`Error::Interrupted`]).
    pub fn wait(
        &mut self,
        timeout: Duration,
        intr: Option<Interrupt<'_>>,
    ) -> Result<Vec<Notification>> {
        self.check_open()?;
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(c) = self.conn.as_mut() {
                let left = deadline.saturating_duration_since(Instant::now());
                let r = if left.is_zero() {
                    c.poll_input()
                } else {
                    c.wait_input(left, intr)
                };
                let notes = c.take_notifications();
                self.pending.extend(notes);
                match r {
                    Ok(()) => {}
                    Err(Error::Interrupted) => return Err(Error::Interrupted),
                    Err(e) => self.lost(e),
                }
            }
            // Notices (a server's goodbye) are not for the listener's user: dropped.
            if let Some(c) = self.conn.as_mut() {
                let _ = c.take_notices();
                if c.is_broken() {
                    let e = Error::Connection("server closed the connection".into());
                    self.lost(e);
                }
            }
            if !self.pending.is_empty() {
                return Ok(self.pending.drain(..).collect());
            }
            let now = Instant::now();
            if now >= deadline {
                return Ok(Vec::new());
            }
            if self.conn.is_none() {
                self.try_connect();
                if self.conn.is_none() {
                    if intr.is_some_and(|f| f()) {
                        return Err(Error::Interrupted);
                    }
                    let until = self.next_attempt.unwrap_or(now).min(deadline);
                    std::thread::sleep(
                        until
                            .saturating_duration_since(Instant::now())
                            .min(crate::conn::POLL_INTERVAL),
                    );
                }
            }
        }
    }

    /// The next notification (oldest first), waiting up to `timeout` for one when none
    /// is there; `None` when the time passed. As [`wait`](Self::wait) otherwise.
    pub fn next(
        &mut self,
        timeout: Duration,
        intr: Option<Interrupt<'_>>,
    ) -> Result<Option<Notification>> {
        if let Some(n) = self.pending.pop_front() {
            return Ok(Some(n));
        }
        let mut got = self.wait(timeout, intr)?.into_iter();
        let first = got.next();
        self.pending.extend(got);
        Ok(first)
    }

    /// Closes the connection; the listener can no longer be used.
    pub fn close(&mut self) {
        self.closed = true;
        if let Some(c) = self.conn.take() {
            c.close();
        }
    }
}
