//! COPY: `copy_expert`, `copy_from`, `copy_to` (statements from `pgpool::statements`),
//! reading and writing the caller's file.

use std::cell::RefCell;

use pgpool::sql::Quoting;
use pgpool::statements;
use pgpool::statements::CopyDirection;
use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::{PyBytes, PyString, PyType};

use super::Cursor;
use crate::conn::map_err;

/// psycopg2's `copy_from` / `copy_to` statement for the cursor's connection.
pub(super) fn copy_table_sql(
    slf: &Bound<'_, Cursor>,
    dir: CopyDirection,
    table: &str,
    sep: &str,
    null: &str,
    columns: Option<&Bound<'_, PyAny>>,
) -> PyResult<String> {
    let py = slf.py();
    let conn = slf.borrow().open_conn(py)?;
    let q = conn.get().quoting(py);
    statements::copy_table(dir, table, &copy_columns(columns)?, sep, null, q)
        .map_err(|e| map_err(py, &e))
}

pub(super) fn copy_columns(columns: Option<&Bound<'_, PyAny>>) -> PyResult<Vec<String>> {
    let Some(cols) = columns.filter(|c| !c.is_none()) else {
        return Ok(Vec::new());
    };
    let mut names = Vec::new();
    for c in cols.try_iter()? {
        let c = c?;
        names.push(match c.cast::<PyBytes>() {
            Ok(b) => String::from_utf8_lossy(b.as_bytes()).into_owned(),
            Err(_) => c.extract()?,
        });
    }
    Ok(names)
}

pub(super) static TEXT_IO: PyOnceLock<Py<PyType>> = PyOnceLock::new();

/// What psycopg2 raises when `file.read()` fails during COPY FROM: the server's answer to
/// the CopyFail, a QueryCanceled.
pub(super) fn read_failed(py: Python<'_>, msg: &str) -> PyErr {
    let e = pgpool::DbError {
        severity: "ERROR".into(),
        severity_nonlocalized: Some("ERROR".into()),
        code: "57014".into(),
        message: format!("COPY from stdin failed: {msg}"),
        ..Default::default()
    };
    crate::errors::server_error(py, &e, None)
}

pub(super) fn copy(
    slf: &Bound<'_, Cursor>,
    py: Python<'_>,
    sql: String,
    file: &Bound<'_, PyAny>,
    size: isize,
) -> PyResult<()> {
    // Named cursors too: psycopg2 runs COPY on their connection like any cursor's.
    let conn = slf.borrow().open_conn(py)?;
    conn.get().check_not_async(py, "copy")?;
    {
        let mut me = slf.borrow_mut();
        me.reset();
        me.query = Some(PyBytes::new(py, sql.as_bytes()).unbind());
    }
    let standard = conn.get().quoting(py) != Quoting::Escape;
    let dir = statements::copy_direction(&sql, standard);
    if dir == CopyDirection::Neither {
        let r = conn.get().execute(py, &sql)?;
        return slf.borrow_mut().set_result(py, r);
    }
    let text_file = file.is_instance(TEXT_IO.import(py, "io", "TextIOBase")?)?;
    let file: Py<PyAny> = file.clone().unbind();
    let (r, user_err) = conn.get().with_state(py, |st, _intr| {
        let stash: RefCell<Option<PyErr>> = RefCell::new(None);
        let r = (|| {
            st.prepare_begin()?;
            let c = st.conn_mut()?;
            // str data goes in the session's client encoding, as psycopg2 sends it
            let enc = c.client_encoding();
            if dir == CopyDirection::In {
                let mut next = || -> pgpool::error::Result<Option<Vec<u8>>> {
                    crate::exit::attach(|py| {
                        let got = file.bind(py).call_method1("read", (size,)).and_then(
                            |d| -> PyResult<Vec<u8>> {
                                if let Ok(b) = d.cast::<PyBytes>() {
                                    Ok(b.as_bytes().to_vec())
                                } else if let Ok(s) = d.cast::<PyString>() {
                                    let s = s.extract::<String>()?;
                                    enc.encode(&s)
                                        .map(|b| b.into_owned())
                                        .map_err(|e| crate::errors::to_py(py, &e))
                                } else {
                                    Ok(d.call_method0("__bytes__")?
                                        .cast::<PyBytes>()?
                                        .as_bytes()
                                        .to_vec())
                                }
                            },
                        );
                        match got {
                            Ok(v) if v.is_empty() => Ok(None),
                            Ok(v) => Ok(Some(v)),
                            Err(e) => {
                                // psycopg2's CopyFail text; the server answers 57014.
                                let name = e
                                    .get_type(py)
                                    .name()
                                    .map(|n| n.to_string())
                                    .unwrap_or_default();
                                let msg = format!("error in .read() call: {name} {}", e.value(py));
                                *stash.borrow_mut() = Some(read_failed(py, &msg));
                                Err(pgpool::Error::Interface(msg))
                            }
                        }
                    })
                };
                c.copy_in(&sql, &mut next)
            } else {
                let mut sink = |data: &[u8]| -> pgpool::error::Result<()> {
                    crate::exit::attach(|py| {
                        let arg: PyResult<Bound<'_, PyAny>> = if text_file {
                            enc.decode(data)
                                .map(|s| PyString::new(py, &s).into_any())
                                .map_err(|e| crate::errors::to_py(py, &e))
                        } else {
                            Ok(PyBytes::new(py, data).into_any())
                        };
                        match arg.and_then(|a| file.bind(py).call_method1("write", (a,))) {
                            Ok(_) => Ok(()),
                            Err(e) => {
                                let msg = e.to_string();
                                *stash.borrow_mut() = Some(e);
                                Err(pgpool::Error::Interface(format!(
                                    "error in file.write(): {msg}"
                                )))
                            }
                        }
                    })
                };
                c.copy_out(&sql, &mut sink)
            }
        })();
        (r, stash.into_inner())
    })?;
    if let Some(e) = user_err {
        return Err(e);
    }
    let r = r.map_err(|e| map_err(py, &e))?;
    let mut me = slf.borrow_mut();
    // psycopg2 reads the status of the COPY_IN/COPY_OUT result: empty.
    me.status = Some(String::new());
    me.rowcount = r.rows_affected().map(|n| n as i64).unwrap_or(-1);
    Ok(())
}
