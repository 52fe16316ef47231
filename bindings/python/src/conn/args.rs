//! Arguments and results translated for psycopg2: error mapping, isolation levels,
//! on/off values, transaction status codes.

use pgpool::transaction::Isolation;
use pgpool::TxStatus;
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use pyo3::types::PyString;

use crate::errors::{client_error, to_py_q, Kind};

/// Core error → Python, with psycopg2's class for COPY misuse through `execute`.
pub(crate) fn map_err(py: Python<'_>, e: &pgpool::Error) -> PyErr {
    map_err_q(py, e, None)
}

/// [`map_err`] for an error of statement `query`.
pub(crate) fn map_err_q(py: Python<'_>, e: &pgpool::Error, query: Option<&str>) -> PyErr {
    if let pgpool::Error::Interface(m) = e {
        if m.starts_with("can't execute COPY") {
            return client_error(py, Kind::Programming, m);
        }
    }
    to_py_q(py, e, query)
}

pub(crate) fn parse_isolevel(v: &Bound<'_, PyAny>) -> PyResult<Option<Isolation>> {
    if v.is_none() {
        return Ok(None);
    }
    if let Ok(i) = v.extract::<i64>() {
        return match Isolation::from_number(i) {
            Some(l) => Ok(Some(l)),
            None => Err(PyValueError::new_err(
                "isolation_level must be between 1 and 4",
            )),
        };
    }
    let s: String = match v.extract::<String>() {
        Ok(s) => s,
        Err(_) => v.str()?.extract()?,
    };
    Isolation::parse(&s)
        .ok_or_else(|| PyValueError::new_err(format!("bad value for isolation_level: '{s}'")))
}

pub(super) fn parse_onoff(v: &Bound<'_, PyAny>) -> PyResult<Option<bool>> {
    if v.is_none() {
        return Ok(None);
    }
    if let Ok(s) = v.cast::<PyString>() {
        let s: String = s.extract()?;
        if s.eq_ignore_ascii_case("default") {
            return Ok(None);
        }
        return Err(PyValueError::new_err(format!(
            "the only string accepted is 'default'; got {s}"
        )));
    }
    Ok(Some(v.is_truthy()?))
}

/// psycopg2.extensions' TRANSACTION_STATUS_* values.
pub(crate) fn tx_status_code(s: TxStatus) -> i32 {
    match s {
        TxStatus::Idle => 0,
        TxStatus::InTransaction => 2,
        TxStatus::InError => 3,
        TxStatus::Unknown => 4,
    }
}
