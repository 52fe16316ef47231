//! Two-phase commit (DB-API's `tpc_*` methods) without I/O: where a connection stands,
//! which calls psycopg2 allows in each state (with its error messages), and the
//! statements each call sends. A face keeps a [`TwoPhase`] beside its transaction flag
//! and sends what is built here. See `docs/DESIGN.md`, "Transactions".

use crate::error::{Error, ParamError, ParamErrorKind, Result};
use crate::sql::{quote_string, Quoting};

/// Lists the transactions prepared on the server (`tpc_recover()`), one row each: `gid`,
/// `prepared` (timestamptz), `owner`, `database`.
pub const RECOVER_SQL: &str = "SELECT gid, prepared, owner, database FROM pg_prepared_xacts";

/// A connection's two-phase state, with the transaction id (the text of the DB-API xid,
/// e.g. `42_Z3RyaWQ=_YnF1YWw=` for an XA xid) once `tpc_begin` ran.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub enum TwoPhase {
    /// No two-phase transaction (psycopg2's `tpc_xid` is NULL).
    #[default]
    Off,
    /// `tpc_begin` ran; the transaction is open (psycopg2's `STATUS_BEGIN`).
    Begun(String),
    /// `tpc_prepare` ran: the server holds the transaction, the session is outside any
    /// (psycopg2's `STATUS_PREPARED`).
    Prepared(String),
}

/// How `tpc_commit()` / `tpc_rollback()` without an argument end the connection's own
/// two-phase transaction.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum OwnEnd {
    /// Not prepared: an ordinary COMMIT or ROLLBACK (DB-API's one-phase optimisation).
    OnePhase,
    /// Prepared: this `COMMIT PREPARED` / `ROLLBACK PREPARED` statement.
    Prepared(String),
}

fn refuse(message: String) -> Error {
    Error::Param(ParamError {
        kind: ParamErrorKind::Programming,
        message,
    })
}

/// `PREPARE TRANSACTION 'tid'` and the like: `command` followed by the id as a literal.
pub fn command_sql(command: &str, tid: &str, q: Quoting) -> Result<String> {
    let mut sql = String::with_capacity(command.len() + tid.len() + 4);
    sql.push_str(command);
    sql.push(' ');
    quote_string(tid, q, &mut sql)?;
    Ok(sql)
}

fn finish_command(commit: bool) -> &'static str {
    if commit {
        "COMMIT PREPARED"
    } else {
        "ROLLBACK PREPARED"
    }
}

impl TwoPhase {
    /// `tpc_prepare` ran (psycopg2's `STATUS_PREPARED`).
    pub fn is_prepared(&self) -> bool {
        matches!(self, TwoPhase::Prepared(_))
    }

    /// A two-phase transaction is begun or prepared.
    pub fn is_active(&self) -> bool {
        !matches!(self, TwoPhase::Off)
    }

    /// `tpc_begin(xid)`: allowed outside a transaction and outside autocommit mode. The
    /// caller then starts the transaction as for any statement.
    pub fn begin(&mut self, tid: String, in_tx: bool, autocommit: bool) -> Result<()> {
        if in_tx || self.is_active() {
            return Err(refuse(
                "tpc_begin cannot be used inside a transaction".into(),
            ));
        }
        if autocommit {
            return Err(refuse(
                "tpc_begin can't be called in autocommit mode".into(),
            ));
        }
        *self = TwoPhase::Begun(tid);
        Ok(())
    }

    /// `tpc_prepare()`: the `PREPARE TRANSACTION` to send; [`mark_prepared`] once it
    /// succeeded.
    ///
    /// [`mark_prepared`]: Self::mark_prepared
    pub fn prepare_sql(&self, q: Quoting) -> Result<String> {
        match self {
            TwoPhase::Off => Err(refuse(
                "tpc_prepare must be called inside a two-phase transaction".into(),
            )),
            TwoPhase::Prepared(_) => Err(self.refuse_prepared("tpc_prepare")),
            TwoPhase::Begun(tid) => command_sql("PREPARE TRANSACTION", tid, q),
        }
    }

    /// The `PREPARE TRANSACTION` succeeded.
    pub fn mark_prepared(&mut self) {
        if let TwoPhase::Begun(tid) = std::mem::take(self) {
            *self = TwoPhase::Prepared(tid);
        }
    }

    /// `tpc_commit()` / `tpc_rollback()` without an argument. The state goes back to
    /// [`TwoPhase::Off`] (call [`end`](Self::end)) once the statement succeeded.
    pub fn finish_own(&self, commit: bool, q: Quoting) -> Result<OwnEnd> {
        match self {
            TwoPhase::Off => Err(refuse(
                "tpc_commit/tpc_rollback with no parameter must be called in a \
                 two-phase transaction"
                    .into(),
            )),
            TwoPhase::Begun(_) => Ok(OwnEnd::OnePhase),
            TwoPhase::Prepared(tid) => {
                command_sql(finish_command(commit), tid, q).map(OwnEnd::Prepared)
            }
        }
    }

    /// `tpc_commit(xid)` / `tpc_rollback(xid)` of a recovered transaction: only outside
    /// any transaction (`in_tx`: an ordinary one is open).
    pub fn finish_recovered(
        &self,
        commit: bool,
        tid: &str,
        in_tx: bool,
        q: Quoting,
    ) -> Result<String> {
        if in_tx || self.is_active() {
            return Err(refuse(
                "tpc_commit/tpc_rollback with a xid must be called outside a transaction".into(),
            ));
        }
        command_sql(finish_command(commit), tid, q)
    }

    /// The two-phase transaction ended (or the session was reset).
    pub fn end(&mut self) {
        *self = TwoPhase::Off;
    }

    /// `commit()` and `rollback()` are refused during a two-phase transaction (`what`
    /// names the call in the message).
    pub fn check_plain_end(&self, what: &str) -> Result<()> {
        if self.is_active() {
            return Err(refuse(format!(
                "{what} cannot be used during a two-phase transaction"
            )));
        }
        Ok(())
    }

    /// Calls refused while a prepared transaction waits for its second phase
    /// (statements, `cancel`, `tpc_recover`, session changes).
    pub fn check_not_prepared(&self, what: &str) -> Result<()> {
        if self.is_prepared() {
            return Err(self.refuse_prepared(what));
        }
        Ok(())
    }

    fn refuse_prepared(&self, what: &str) -> Error {
        refuse(format!(
            "{what} cannot be used with a prepared two-phase transaction"
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn message(e: Error) -> String {
        match e {
            Error::Param(p) => {
                assert_eq!(p.kind, ParamErrorKind::Programming);
                p.message
            }
            other => panic!("unexpected error {other:?}"),
        }
    }

    #[test]
    fn a_prepared_transaction_commits_with_its_quoted_id() {
        let mut t = TwoPhase::default();
        t.begin("x'1".into(), false, false).unwrap();
        assert_eq!(
            t.finish_own(true, Quoting::Standard).unwrap(),
            OwnEnd::OnePhase
        );
        assert_eq!(
            t.prepare_sql(Quoting::Standard).unwrap(),
            "PREPARE TRANSACTION 'x''1'"
        );
        t.mark_prepared();
        assert!(t.is_prepared());
        assert_eq!(
            t.finish_own(false, Quoting::Standard).unwrap(),
            OwnEnd::Prepared("ROLLBACK PREPARED 'x''1'".into())
        );
        assert_eq!(
            message(t.check_not_prepared("execute").unwrap_err()),
            "execute cannot be used with a prepared two-phase transaction"
        );
        t.end();
        assert_eq!(t, TwoPhase::Off);
    }

    #[test]
    fn psycopg2s_refusals() {
        let mut t = TwoPhase::default();
        assert!(message(t.begin("a".into(), true, false).unwrap_err()).contains("inside"));
        assert!(message(t.begin("a".into(), false, true).unwrap_err()).contains("autocommit"));
        assert!(
            message(t.prepare_sql(Quoting::Standard).unwrap_err()).contains("inside a two-phase")
        );
        assert!(t.finish_own(true, Quoting::Standard).is_err());
        assert_eq!(
            t.finish_recovered(true, "a\\b", false, Quoting::Escape)
                .unwrap(),
            "COMMIT PREPARED E'a\\\\b'"
        );
        assert!(t
            .finish_recovered(true, "a", true, Quoting::Standard)
            .is_err());
        t.begin("a".into(), false, false).unwrap();
        assert!(t.begin("b".into(), false, false).is_err());
        assert_eq!(
            message(t.check_plain_end("commit").unwrap_err()),
            "commit cannot be used during a two-phase transaction"
        );
        assert!(t.check_not_prepared("execute").is_ok());
        assert!(t
            .finish_recovered(false, "a", false, Quoting::Standard)
            .is_err());
    }
}
