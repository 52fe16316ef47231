//! DB-API's two-phase commit on a connection (`xid`, `tpc_*`): the rules and statements
//! are the core's (`pgpool::tpc`); the xid objects are `pgpool.extensions.Xid`.

use pyo3::prelude::*;
use pyo3::types::{PyDict, PyList, PyString};

use pgpool::tpc::{OwnEnd, RECOVER_SQL};

use super::{map_err, Connection};

fn xid_class(py: Python<'_>) -> PyResult<Bound<'_, PyAny>> {
    py.import("pgpool.extensions")?.getattr("Xid")
}

/// psycopg2's `xid_ensure`: an `Xid` as is, anything else through `Xid.from_string`.
fn ensure_xid<'py>(xid: &Bound<'py, PyAny>) -> PyResult<Bound<'py, PyAny>> {
    let cls = xid_class(xid.py())?;
    if xid.is_instance(&cls)? {
        Ok(xid.clone())
    } else {
        cls.call_method1("from_string", (xid,))
    }
}

/// The server's transaction id of an xid (its `str()`).
fn tid_of(xid: &Bound<'_, PyAny>) -> PyResult<String> {
    Ok(xid.str()?.to_str()?.to_owned())
}

#[pymethods]
impl Connection {
    /// A transaction id for the `tpc_*` methods (`extensions.Xid`).
    fn xid(
        &self,
        py: Python<'_>,
        format_id: &Bound<'_, PyAny>,
        gtrid: &Bound<'_, PyAny>,
        bqual: &Bound<'_, PyAny>,
    ) -> PyResult<Py<PyAny>> {
        Ok(xid_class(py)?.call1((format_id, gtrid, bqual))?.unbind())
    }

    /// Begins a two-phase transaction with the id `xid` (an `Xid` or a string).
    fn tpc_begin(&self, py: Python<'_>, xid: &Bound<'_, PyAny>) -> PyResult<()> {
        self.check_open(py)?;
        self.check_not_async(py, "tpc_begin")?;
        let tid = tid_of(&ensure_xid(xid)?)?;
        self.run(py, move |st, _| {
            st.tpc.begin(tid, st.in_tx, st.autocommit)?;
            st.prepare_begin()
        })
    }

    /// The first phase: `PREPARE TRANSACTION` (the session is then outside any
    /// transaction, `status` is `STATUS_PREPARED`).
    fn tpc_prepare(&self, py: Python<'_>) -> PyResult<()> {
        self.check_open(py)?;
        self.check_not_async(py, "tpc_prepare")?;
        let q = self.quoting(py);
        self.run(py, move |st, intr| {
            let sql = st.tpc.prepare_sql(q)?;
            // A BEGIN still queued rides along.
            st.conn_mut()?.simple_query_with(&sql, Some(intr), None)?;
            st.tpc.mark_prepared();
            if std::mem::replace(&mut st.in_tx, false) {
                st.bump_mark();
            }
            Ok(())
        })
    }

    /// Commits the two-phase transaction begun here (without `xid`: prepared or not),
    /// or the recovered one `xid` (outside any transaction).
    #[pyo3(signature = (xid=None))]
    fn tpc_commit(&self, py: Python<'_>, xid: Option<&Bound<'_, PyAny>>) -> PyResult<()> {
        self.tpc_finish(py, xid, true)
    }

    /// Rolls back like [`tpc_commit`](Self::tpc_commit) commits.
    #[pyo3(signature = (xid=None))]
    fn tpc_rollback(&self, py: Python<'_>, xid: Option<&Bound<'_, PyAny>>) -> PyResult<()> {
        self.tpc_finish(py, xid, false)
    }

    /// The transactions prepared on the server, as `Xid`s with `prepared`, `owner` and
    /// `database` set. The connection's transaction state is kept (a transaction this
    /// started is rolled back).
    fn tpc_recover(slf: &Bound<'_, Self>) -> PyResult<Py<PyList>> {
        let py = slf.py();
        let me = slf.get();
        me.check_open(py)?;
        me.locked(py, |st| st.tpc.check_not_prepared("tpc_recover"))
            .map_err(|e| map_err(py, &e))?;
        let was_in_tx = me.locked(py, |st| st.in_tx);
        let kwargs = PyDict::new(py);
        kwargs.set_item("cursor_factory", py.get_type::<crate::cursor::Cursor>())?;
        let cur = slf.call_method("cursor", (), Some(&kwargs))?;
        cur.call_method1("execute", (RECOVER_SQL,))?;
        let rows = cur.call_method0("fetchall")?;
        cur.call_method0("close")?;
        let cls = xid_class(py)?;
        let out = PyList::empty(py);
        for row in rows.try_iter()? {
            let row = row?;
            let xid = cls.call_method1("from_string", (row.get_item(0)?,))?;
            for (i, attr) in ["prepared", "owner", "database"].iter().enumerate() {
                xid.setattr(PyString::new(py, attr), row.get_item(i + 1)?)?;
            }
            out.append(xid)?;
        }
        if !was_in_tx && me.locked(py, |st| st.in_tx) {
            me.commit_or_rollback(py, false)?;
        }
        Ok(out.unbind())
    }
}

impl Connection {
    fn tpc_finish(
        &self,
        py: Python<'_>,
        xid: Option<&Bound<'_, PyAny>>,
        commit: bool,
    ) -> PyResult<()> {
        self.check_open(py)?;
        self.check_not_async(py, if commit { "tpc_commit" } else { "tpc_rollback" })?;
        let q = self.quoting(py);
        let recovered = match xid {
            Some(x) => Some(tid_of(&ensure_xid(x)?)?),
            None => None,
        };
        self.run(py, move |st, intr| {
            if let Some(tid) = recovered {
                let sql = st.tpc.finish_recovered(commit, &tid, st.in_tx, q)?;
                st.conn_mut()?.simple_query_with(&sql, Some(intr), None)?;
                return Ok(());
            }
            match st.tpc.finish_own(commit, q)? {
                OwnEnd::OnePhase => st.finish(commit, Some(intr))?,
                OwnEnd::Prepared(sql) => {
                    st.conn_mut()?.simple_query_with(&sql, Some(intr), None)?;
                }
            }
            st.tpc.end();
            Ok(())
        })
    }
}
