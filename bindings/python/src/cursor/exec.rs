//! `executemany` (pipelined) and `callproc`.

use std::cell::RefCell;

use pgpool::statements;
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyIterator, PyString};

use super::Cursor;
use crate::adapt;
use crate::conn::map_err;
use crate::errors::{client_error, Kind};

impl Cursor {
    /// Executes `query` once per item of `vars_list`, pipelined; `rowcount` is the total.
    pub(super) fn run_executemany(
        slf: &Bound<'_, Self>,
        query: &Bound<'_, PyAny>,
        vars_list: &Bound<'_, PyAny>,
    ) -> PyResult<()> {
        let py = slf.py();
        let conn = Cursor::prepare_executemany(slf)?;
        conn.get().check_not_async(py, "executemany")?;
        let qtext = adapt::query_text(query, slf.as_any())?;
        let it: Py<PyIterator> = vars_list.try_iter()?.unbind();
        slf.borrow_mut().reset();
        let quoting = conn.get().quoting_for_batch(py);
        let (total, last, gen_err) = conn.get().with_state(py, |st, intr| {
            let stash: RefCell<Option<PyErr>> = RefCell::new(None);
            let last: RefCell<Option<String>> = RefCell::new(None);
            let r = (|| {
                st.prepare_begin()?;
                let c = st.conn_mut()?;
                let mut gen = std::iter::from_fn(|| {
                    crate::exit::attach(|py| {
                        let item = it.bind(py).clone().next()?;
                        let rendered =
                            item.and_then(|v| adapt::render(py, &qtext, Some(&v), |_| quoting));
                        Some(match rendered {
                            Ok(s) => {
                                *last.borrow_mut() = Some(s.clone());
                                Ok(s)
                            }
                            Err(e) => {
                                *stash.borrow_mut() = Some(e);
                                Err(pgpool::Error::InvalidParameter(
                                    "executemany: parameter error".into(),
                                ))
                            }
                        })
                    })
                });
                c.pipeline(&mut gen, Some(intr))
            })();
            (r, last.into_inner(), stash.into_inner())
        })?;
        if let Some(e) = gen_err {
            slf.borrow_mut().finish_executemany(py, last.as_deref(), -1);
            return Err(e);
        }
        let total = total.map_err(|e| {
            slf.borrow_mut().finish_executemany(py, last.as_deref(), -1);
            map_err(py, &e)
        })?;
        slf.borrow_mut()
            .finish_executemany(py, last.as_deref(), total as i64);
        Ok(())
    }

    /// `SELECT * FROM procname(%s, ...)` (named parameters for a dict); returns `parameters`.
    pub(super) fn run_callproc(
        slf: &Bound<'_, Self>,
        procname: &str,
        parameters: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<Py<PyAny>> {
        let py = slf.py();
        {
            let me = slf.borrow();
            me.open_conn(py)?;
            if me.name.is_some() {
                return Err(client_error(
                    py,
                    Kind::Programming,
                    "can't call .callproc() on named cursors",
                ));
            }
        }
        let params = parameters.filter(|p| !p.is_none());
        let n = match params {
            Some(p) => p.len()?,
            None => 0,
        };
        let using_dict = n > 0 && params.is_some_and(|p| p.is_instance_of::<PyDict>());
        let (sql, vals): (String, Bound<'_, PyAny>) = if using_dict {
            let d = params.expect("checked").cast::<PyDict>()?;
            let mut keys = Vec::new();
            for k in d.keys() {
                keys.push(k.extract::<String>()?);
            }
            (
                statements::callproc(procname, 0, &keys),
                d.values().into_any(),
            )
        } else {
            let vals = match params {
                Some(p) => p.clone(),
                None => py.None().into_bound(py),
            };
            (statements::callproc(procname, n, &[]), vals)
        };
        let q = PyString::new(py, &sql);
        Self::execute(
            slf,
            q.as_any(),
            if vals.is_none() { None } else { Some(&vals) },
        )?;
        if using_dict {
            Ok(py.None())
        } else {
            Ok(params
                .map(|p| p.clone().unbind())
                .unwrap_or_else(|| py.None()))
        }
    }
}
