//! Ending transactions and resetting the session: `COMMIT`/`ROLLBACK` with the reset of
//! what the session's users left behind in the same message (see `docs/DESIGN.md`,
//! "Session state").

use postgres_protocol::message::frontend;

use super::{io_err, Connection, Ended, Interrupt, TxEnd, TxStatus};
use crate::error::{Error, Result};
use crate::session::Dirty;

/// What a `COMMIT`/`ROLLBACK` did, from its command tag.
pub(super) fn ended_by(how: TxEnd, tag: &str) -> Ended {
    match how {
        TxEnd::Commit if tag != "ROLLBACK" => Ended::Committed,
        _ => Ended::RolledBack,
    }
}

impl Connection {
    /// Ends a transaction left open (rollback) and resets what the session's users left
    /// behind ([`crate::session`]), in one Query message; nothing is sent when there is
    /// neither. Used when a connection goes back to the pool.
    pub fn reset(&mut self) -> Result<()> {
        self.pending_begin = None;
        // A face's wait hook belongs to the user that set it, never to the next one.
        self.wait_hook = None;
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

    /// `COMMIT`, with the failed-commit rule: a transaction that failed earlier is rolled
    /// back by the server instead, and that is an error (SQLSTATE `25P02`), so a commit
    /// that did not happen never looks like one that did. Without a transaction it is a
    /// no-op. (psycopg2's `commit()` does not raise there; the Python face keeps its
    /// behaviour and uses [`end_transaction`](Self::end_transaction).)
    pub fn commit_checked(&mut self, intr: Option<Interrupt<'_>>) -> Result<()> {
        if self.end_transaction(TxEnd::Commit, false, intr)? == Ended::RolledBack {
            return Err(Error::Db(std::sync::Arc::new(crate::DbError {
                severity: "ERROR".into(),
                code: "25P02".into(),
                message: "the transaction failed earlier and was rolled back, not committed".into(),
                ..Default::default()
            })));
        }
        Ok(())
    }

    /// Changes the session's default transaction characteristics (`SET
    /// default_transaction_*`, in one message; nothing is sent for an empty change).
    pub fn set_session_defaults(
        &mut self,
        change: &crate::transaction::DefaultsChange,
        intr: Option<Interrupt<'_>>,
    ) -> Result<()> {
        let sets = change.statements();
        if sets.is_empty() {
            return Ok(());
        }
        self.simple_query(&sets.join(";"), intr).map(|_| ())
    }

    /// True when handing the connection back to its pool needs a round trip: a
    /// transaction reached the server, or the session has state to reset. (A queued
    /// `BEGIN` that never left is just dropped.) Faces return a connection without
    /// releasing their runtime's lock (Python's GIL, an event loop's thread) when false.
    pub fn release_needs_io(&self) -> bool {
        self.broken
            || self.role_suspect
            || self.tx != TxStatus::Idle
            || !(self.session.is_clean() || self.can_defer())
    }

    /// The session's reset can wait for the next user's first statement: only
    /// `DISCARD SEQUENCES` is needed (the `currval()`/`lastval()` an autocommit write may
    /// leave: nothing the pool or the next user's statement depends on before it runs),
    /// and no transaction pooler may hand the server connection to someone else
    /// meanwhile.
    fn can_defer(&self) -> bool {
        !self.behind_pooler && !self.session.is_clean() && Dirty::SEQUENCES.contains(self.session)
    }

    /// The deferred reset as a statement prefix (`"DISCARD SEQUENCES;"`), taken: empty when
    /// there is none.
    pub(super) fn take_deferred_prefix(&mut self) -> (String, Dirty) {
        let d = std::mem::replace(&mut self.deferred_reset, Dirty::NONE);
        let mut p = String::new();
        crate::session::reset_sql(d, &mut p);
        (p, d)
    }

    /// Sends the deferred reset on its own now (a round trip), for a statement that cannot
    /// carry it in front (extended protocol, COPY, a pipeline).
    pub(super) fn settle_deferred(&mut self, intr: Option<Interrupt<'_>>) -> Result<()> {
        if self.deferred_reset.is_clean() {
            return Ok(());
        }
        let (sql, _) = self.take_deferred_prefix();
        self.extended = false;
        frontend::query(&sql, &mut self.wbuf).map_err(|e| io_err("encode", e))?;
        self.flush()?;
        let (_, err) = self.read_until_ready_all(intr)?;
        if let Some(e) = err {
            self.broken = true;
            return Err(e);
        }
        Ok(())
    }

    /// `end` (if any) and the reset of `self.session`, in one Query message.
    pub(super) fn end_and_reset(
        &mut self,
        end: Option<TxEnd>,
        intr: Option<Interrupt<'_>>,
    ) -> Result<Ended> {
        self.pending_begin = None;
        if end.is_none() && self.can_defer() {
            // Rides in front of the next user's first statement (`take_deferred_prefix`).
            self.deferred_reset |= std::mem::replace(&mut self.session, Dirty::NONE);
            return Ok(Ended::Nothing);
        }
        if end.is_none() && self.session.is_clean() {
            return Ok(Ended::Nothing);
        }
        self.session |= std::mem::replace(&mut self.deferred_reset, Dirty::NONE);
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
}
