//! psycopg2's named (server-side) cursors: DECLARE on execute, FETCH per fetch call,
//! MOVE for scroll, CLOSE; the SQL comes from `pgpool::statements`.

use pgpool::statements;
use pgpool::statements::FetchCount;
use pyo3::prelude::*;
use pyo3::types::PyBytes;

use super::Cursor;
use crate::adapt;
use crate::conn::Connection;
use crate::errors::{client_error, Kind};

impl Cursor {
    /// psycopg2's `EXC_IF_NO_MARK`: a cursor without HOLD ends with its transaction.
    pub(super) fn check_mark(&self, py: Python<'_>, conn: &Py<Connection>) -> PyResult<()> {
        if !self.withhold && self.mark != conn.get().mark(py) {
            return Err(client_error(
                py,
                Kind::Programming,
                "named cursor isn't valid anymore",
            ));
        }
        Ok(())
    }

    pub(super) fn cursor_name(&self) -> &str {
        self.name.as_deref().unwrap_or_default()
    }

    /// `execute` on a named cursor: `DECLARE "name" [NO] SCROLL CURSOR WITH[OUT] HOLD
    /// FOR <query>`, as psycopg2 sends it.
    pub(super) fn execute_named(
        slf: &Bound<'_, Self>,
        query: &Bound<'_, PyAny>,
        vars: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<()> {
        let py = slf.py();
        let (conn, head) = {
            let me = slf.borrow();
            let c = me.open_conn(py)?;
            if me.declared {
                return Err(client_error(
                    py,
                    Kind::Programming,
                    "can't call .execute() on named cursors more than once",
                ));
            }
            if !me.withhold && c.get().autocommit(py) {
                return Err(client_error(
                    py,
                    Kind::Programming,
                    "can't use a named cursor outside of transactions",
                ));
            }
            me.check_mark(py, &c)?;
            let head = statements::declare_cursor(me.cursor_name(), me.scrollable, me.withhold);
            (c, head)
        };
        let sql = head
            + &adapt::render(py, &adapt::query_text(query, slf.as_any())?, vars, |q| {
                conn.get().quoting_for(py, q)
            })?;
        {
            let mut me = slf.borrow_mut();
            me.reset();
            me.query = Some(PyBytes::new(py, sql.as_bytes()).unbind());
        }
        let r = conn.get().execute(py, &sql)?;
        let mark = conn.get().mark(py);
        let mut me = slf.borrow_mut();
        me.set_result(py, r)?;
        me.declared = true;
        me.mark = mark;
        Ok(())
    }

    /// A statement on a named cursor's connection (`FETCH`, `MOVE`, `CLOSE`) once the
    /// cursor is checked; its result becomes the cursor's (the query stays the DECLARE).
    pub(super) fn named_command(
        slf: &Bound<'_, Self>,
        begin: bool,
        sql: impl FnOnce(&str) -> String,
    ) -> PyResult<()> {
        let py = slf.py();
        let (conn, sql, begin) = {
            let me = slf.borrow();
            let c = me.open_conn(py)?;
            me.check_mark(py, &c)?;
            // A WITH HOLD cursor outlives transactions: no BEGIN for it (psycopg2).
            (c, sql(me.cursor_name()), begin && !me.withhold)
        };
        let r = conn.get().execute_opt(py, &sql, begin)?;
        let mut me = slf.borrow_mut();
        me.reset();
        me.set_result(py, r)
    }

    /// `FETCH FORWARD <count> FROM "name"` into the cursor (psycopg2 fetches this way
    /// for every fetch call on a named cursor).
    pub(super) fn named_fetch(slf: &Bound<'_, Self>, count: FetchCount) -> PyResult<()> {
        Self::named_command(slf, true, |n| statements::fetch_cursor(n, count))
    }

    pub(super) fn is_named(slf: &Bound<'_, Self>) -> bool {
        slf.borrow().name.is_some()
    }

    pub(super) fn check_named(&self, py: Python<'_>) -> PyResult<()> {
        if self.name.is_some() {
            return Err(client_error(
                py,
                Kind::NotSupported,
                "server-side (named) cursors are not supported on the asyncio face",
            ));
        }
        Ok(())
    }
}
