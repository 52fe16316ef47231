//! psycopg2's transaction state of a connection (autocommit, characteristics, the
//! transaction flag and mark) over the core connection it holds; no PyO3 types.

use pgpool::conn::Notice;
use pgpool::transaction::Characteristics;
use pgpool::{Interrupt, PooledConnection, QueryResult};

/// What the Python object holds.
pub(crate) enum ConnSlot {
    /// Boxed: a core connection is several hundred bytes, the other variants are small.
    Plain(Box<pgpool::Connection>),
    Pooled(PooledConnection),
    /// Given back to its pool (`putconn`, end of a `with pool.connection()` block).
    Returned,
    /// `close()`d.
    Closed,
}

/// psycopg2's session characteristics and transaction flag.
pub(crate) struct State {
    pub(crate) holder: ConnSlot,
    pub(crate) autocommit: bool,
    /// The characteristics of the transactions it starts (`None`s: the server's
    /// defaults).
    pub(crate) chars: Characteristics,
    /// psycopg2's `CONN_STATUS_BEGIN`: a transaction was started (its BEGIN may still be
    /// queued in the core, to ride with the next statement).
    pub(crate) in_tx: bool,
    /// Inside `with conn:` (psycopg2 2.9 starts a transaction there even in autocommit).
    pub(crate) entered: bool,
    /// psycopg2's `conn->mark`: counts the transactions ended, so that a named cursor
    /// (a server cursor without HOLD) knows when its transaction is gone.
    pub(crate) mark: std::sync::Arc<std::sync::atomic::AtomicU64>,
    /// The two-phase transaction (`tpc_begin` .. `tpc_commit`), if any.
    pub(crate) tpc: pgpool::tpc::TwoPhase,
}

impl State {
    pub(crate) fn new(holder: ConnSlot) -> State {
        State {
            holder,
            autocommit: false,
            chars: Characteristics::default(),
            in_tx: false,
            entered: false,
            mark: Default::default(),
            tpc: pgpool::tpc::TwoPhase::Off,
        }
    }

    /// A transaction ended: `mark` counts one more (read without the state lock, by the
    /// connection object, so that making a cursor never waits for a running statement).
    pub(crate) fn bump_mark(&mut self) {
        self.mark.fetch_add(1, std::sync::atomic::Ordering::Release);
    }

    pub(crate) fn conn_mut(&mut self) -> pgpool::error::Result<&mut pgpool::Connection> {
        match &mut self.holder {
            ConnSlot::Plain(c) => Ok(&mut **c),
            ConnSlot::Pooled(c) => Ok(c),
            ConnSlot::Returned | ConnSlot::Closed => {
                Err(pgpool::Error::Interface("connection already closed".into()))
            }
        }
    }

    pub(crate) fn conn_ref(&self) -> Option<&pgpool::Connection> {
        match &self.holder {
            ConnSlot::Plain(c) => Some(&**c),
            ConnSlot::Pooled(c) => Some(c),
            _ => None,
        }
    }

    /// The notices of the last call, and whether the connection broke during it.
    pub(crate) fn take_after(&mut self) -> CallOutcome {
        let conn: Option<&mut pgpool::Connection> = match &mut self.holder {
            ConnSlot::Plain(c) => Some(&mut **c),
            ConnSlot::Pooled(c) => Some(c),
            _ => None,
        };
        let (notices, notifications, broken) = match conn {
            Some(c) => {
                let n = if c.has_notifications() {
                    c.take_notifications()
                } else {
                    Vec::new()
                };
                (c.take_notices(), n, c.is_broken())
            }
            None => (Vec::new(), Vec::new(), false),
        };
        if broken {
            self.in_tx = false;
        }
        CallOutcome {
            notices,
            notifications,
            broken,
        }
    }

    /// Queues the BEGIN of a new transaction when the next statement needs one
    /// (psycopg2's `pq_begin_locked`). It goes out in the statement's own write.
    pub(crate) fn prepare_begin(&mut self) -> pgpool::error::Result<()> {
        if self.in_tx || (self.autocommit && !self.entered) {
            return Ok(());
        }
        let chars = self.chars;
        self.conn_mut()?.begin(&chars);
        self.in_tx = true;
        Ok(())
    }

    /// One statement, simple protocol (a pending BEGIN rides along). `decode_early`
    /// (the type OIDs that have a user typecaster): the rows of a large result with no
    /// column of those types are decoded as they arrive (takes the GIL meanwhile; not on
    /// the asyncio face's runtime threads: `None`). `begin`: start a transaction first
    /// when none is open (psycopg2's `no_begin` is the opposite: a named cursor's CLOSE,
    /// and FETCH/MOVE on a WITH HOLD cursor, run in the transaction if there is one,
    /// else on their own).
    pub(crate) fn statement(
        &mut self,
        sql: &str,
        intr: Interrupt<'_>,
        decode_early: Option<&[u32]>,
        begin: bool,
    ) -> pgpool::error::Result<QueryResult> {
        self.tpc.check_not_prepared("execute")?;
        if begin {
            self.prepare_begin()?;
        }
        let mut early = |r: &mut QueryResult| {
            let cast = decode_early.unwrap_or_default();
            if cast.is_empty() || !r.columns.iter().any(|c| cast.contains(&c.type_oid)) {
                crate::predecode::predecode(r);
            }
        };
        let sink: Option<pgpool::conn::RowSink<'_>> = if decode_early.is_some() {
            Some(&mut early)
        } else {
            None
        };
        self.conn_mut()?.simple_query_with(sql, Some(intr), sink)
    }

    /// COMMIT or ROLLBACK the transaction psycopg2 thinks is open; no round trip when its
    /// BEGIN was never sent.
    pub(crate) fn finish(
        &mut self,
        commit: bool,
        intr: Option<Interrupt<'_>>,
    ) -> pgpool::error::Result<()> {
        if !self.in_tx {
            return Ok(());
        }
        self.end(commit, false, intr)
    }

    /// The end of a pooled block: COMMIT (`commit`) or ROLLBACK of the transaction
    /// psycopg2 thinks is open (any other is rolled back), with the session reset in the
    /// same message (the core's `Connection::end_transaction`).
    pub(crate) fn end_block(
        &mut self,
        commit: bool,
        intr: Option<Interrupt<'_>>,
    ) -> pgpool::error::Result<()> {
        self.end(commit && self.in_tx, true, intr)
    }

    /// psycopg2's `reset()`: ROLLBACK of an open transaction, `DISCARD ALL`, and the
    /// connection's defaults again (not autocommit, the server's transaction
    /// characteristics), as psycopg2 has them after it (the prepared transaction of a
    /// two-phase commit stays on the server, for `tpc_recover`).
    pub(crate) fn reset_session(&mut self, intr: Interrupt<'_>) -> pgpool::error::Result<()> {
        if self.in_tx {
            self.end(false, false, Some(intr))?;
        }
        self.tpc.end();
        self.bump_mark();
        let conn = self.conn_mut()?;
        conn.simple_query("DISCARD ALL", Some(intr))?;
        // psycopg2's conn_setup after the reset: the session's defaults again (DISCARD
        // ALL reset the server's side).
        self.autocommit = false;
        self.chars = Characteristics::default();
        Ok(())
    }

    pub(super) fn end(
        &mut self,
        commit: bool,
        block_end: bool,
        intr: Option<Interrupt<'_>>,
    ) -> pgpool::error::Result<()> {
        if std::mem::replace(&mut self.in_tx, false) {
            self.bump_mark();
        }
        self.tpc.end();
        let how = if commit {
            pgpool::conn::TxEnd::Commit
        } else {
            pgpool::conn::TxEnd::Rollback
        };
        self.conn_mut()?
            .end_transaction(how, block_end, intr)
            .map(|_| ())
    }
}

/// What one call under the connection lock produced, besides its own result.
pub(crate) struct CallOutcome {
    pub(super) notices: Vec<Notice>,
    pub(super) notifications: Vec<pgpool::conn::Notification>,
    pub(super) broken: bool,
}

impl CallOutcome {
    /// The connection was lost during the call.
    pub(crate) fn broken(&self) -> bool {
        self.broken
    }
}
