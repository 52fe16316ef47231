//! `register_type(caster, scope)`: a typecaster for the whole process, one connection or
//! one cursor.

use pyo3::prelude::*;

use crate::casters;
use crate::conn::Connection;
use crate::cursor::Cursor;
use crate::errors::{client_error, Kind};

/// `register_type(caster, scope)`: `scope` None (global), a connection or a cursor.
#[pyfunction]
#[pyo3(signature = (oids, caster, scope=None))]
pub(crate) fn _register_caster(
    py: Python<'_>,
    oids: Vec<u32>,
    caster: Py<PyAny>,
    scope: Option<&Bound<'_, PyAny>>,
) -> PyResult<()> {
    match scope.filter(|s| !s.is_none()) {
        None => casters::register_global(py, &oids, &caster),
        Some(s) => {
            if let Ok(c) = s.cast::<Connection>() {
                c.get().register_casters(py, &oids, &caster);
            } else if let Ok(c) = s.cast::<Cursor>() {
                c.borrow_mut().register_casters(py, &oids, &caster);
            } else {
                return Err(client_error(
                    py,
                    Kind::TypeError,
                    "argument 2 must be a connection, cursor or None",
                ));
            }
        }
    }
    Ok(())
}
