//! psycopg2 connection methods built on the others: `reset()`, and `lobject()` (large
//! objects, over the server's `lo_*` functions in `pgpool._lobject`).

use pyo3::prelude::*;

use super::Connection;

#[pymethods]
impl Connection {
    /// Back to the session's defaults: an open transaction is rolled back, then
    /// `DISCARD ALL` (psycopg2's `reset()`).
    fn reset(&self, py: Python<'_>) -> PyResult<()> {
        self.check_open(py)?;
        self.check_not_async(py, "reset")?;
        self.run(py, |st, intr| st.reset_session(intr))
    }

    /// A large object (`extensions.lobject`, or `lobject_factory`): `oid` 0 creates
    /// one (`new_oid`: with that oid; `new_file`: imported from that client file).
    #[pyo3(signature = (oid=0, mode="", new_oid=0, new_file=None, lobject_factory=None))]
    fn lobject(
        slf: &Bound<'_, Self>,
        oid: u32,
        mode: Option<&str>,
        new_oid: u32,
        new_file: Option<&Bound<'_, PyAny>>,
        lobject_factory: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<Py<PyAny>> {
        let py = slf.py();
        slf.get().check_open(py)?;
        slf.get().check_not_async(py, "lobject")?;
        slf.get()
            .locked(py, |st| st.tpc.check_not_prepared("lobject"))
            .map_err(|e| super::map_err(py, &e))?;
        let f = py.import("pgpool._lobject")?.getattr("lobject")?;
        Ok(f.call1((
            slf,
            oid,
            mode.unwrap_or(""),
            new_oid,
            new_file,
            lobject_factory,
        ))?
        .unbind())
    }

    /// psycopg2's `notices` may be replaced (by a `deque`, say): notices are then
    /// appended to that object.
    #[setter(notices)]
    fn set_notices(&self, value: Py<PyAny>) {
        self.replace_notices(value);
    }
}

#[pymethods]
impl Connection {
    /// psycopg2's `set_client_encoding(name)`: an open transaction is rolled back, then
    /// `SET client_encoding`; text is converted to and from it from then on. Names as
    /// PostgreSQL spells them (`latin1`, `EUC_JP`, `utf-8`, ...); an encoding pgpool
    /// cannot convert raises `NotSupportedError` and nothing is sent.
    fn set_client_encoding(&self, py: Python<'_>, encoding: &str) -> PyResult<()> {
        self.check_open(py)?;
        self.check_not_async(py, "set_client_encoding")?;
        let Some(enc) = pgpool::encoding::Encoding::from_name(encoding) else {
            return Err(crate::errors::client_error(
                py,
                crate::errors::Kind::NotSupported,
                format!(
                    "client encoding {encoding:?} is not supported by pgpool; supported: {}",
                    pgpool::encoding::Encoding::names()
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            ));
        };
        self.run(py, move |st, intr| {
            st.tpc.check_not_prepared("set_client_encoding")?;
            if st.conn_mut()?.client_encoding() == enc {
                return Ok(());
            }
            if st.in_tx {
                st.end(false, false, Some(intr))?;
            }
            let sql = format!("SET client_encoding TO '{}'", enc.name);
            st.conn_mut()?.simple_query(&sql, Some(intr)).map(|_| ())
        })
    }
}
