//! Core errors → Python exceptions, through the two factories of `pgpool.errors`
//! (`_from_server(fields)` and `_client_error(kind, message)`), imported once.

use pyo3::exceptions::{PyIndexError, PyOverflowError, PyRecursionError, PyRuntimeError};
use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::PyDict;

use pgpool::types::{ParseError, ParseErrorKind};
use pgpool::{DbError, Error};

static FROM_SERVER: PyOnceLock<Py<PyAny>> = PyOnceLock::new();
static CLIENT_ERROR: PyOnceLock<Py<PyAny>> = PyOnceLock::new();

/// The `kind` argument of `pgpool.errors._client_error`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    Interface,
    Operational,
    Programming,
    Data,
    NotSupported,
    PoolTimeout,
    PoolClosed,
    TooManyRequests,
    Config,
    TypeError,
    ValueError,
    KeyError,
    QueryCanceled,
}

impl Kind {
    fn as_str(self) -> &'static str {
        match self {
            Kind::Interface => "interface",
            Kind::Operational => "operational",
            Kind::Programming => "programming",
            Kind::Data => "data",
            Kind::NotSupported => "not_supported",
            Kind::PoolTimeout => "pool_timeout",
            Kind::PoolClosed => "pool_closed",
            Kind::TooManyRequests => "too_many_requests",
            Kind::Config => "config",
            Kind::TypeError => "type_error",
            Kind::ValueError => "value_error",
            Kind::KeyError => "key_error",
            Kind::QueryCanceled => "query_canceled",
        }
    }
}

fn exception_from(obj: Bound<'_, PyAny>) -> PyErr {
    PyErr::from_value(obj)
}

/// A client-side error of `kind`, built by `pgpool.errors._client_error`.
pub(crate) fn client_error(py: Python<'_>, kind: Kind, message: impl AsRef<str>) -> PyErr {
    let f = match CLIENT_ERROR.import(py, "pgpool.errors", "_client_error") {
        Ok(f) => f,
        Err(e) => return e,
    };
    match f.call1((kind.as_str(), message.as_ref())) {
        Ok(exc) => exception_from(exc),
        Err(e) => e,
    }
}

fn opt<'py>(d: &Bound<'py, PyDict>, key: &str, v: &Option<String>) -> PyResult<()> {
    d.set_item(key, v.as_deref())
}

/// A server error, built by `pgpool.errors._from_server(fields)`.
/// `query`: the statement as sent, for libpq's `LINE n:` display of the error position.
pub(crate) fn server_error(py: Python<'_>, e: &DbError, query: Option<&str>) -> PyErr {
    let build = || -> PyResult<PyErr> {
        let d = PyDict::new(py);
        d.set_item("severity", &e.severity)?;
        d.set_item("severity_nonlocalized", e.severity_nonlocalized.as_deref())?;
        d.set_item("sqlstate", &e.code)?;
        d.set_item("message_primary", &e.message)?;
        opt(&d, "message_detail", &e.detail)?;
        opt(&d, "message_hint", &e.hint)?;
        opt(&d, "statement_position", &e.position)?;
        opt(&d, "internal_position", &e.internal_position)?;
        opt(&d, "internal_query", &e.internal_query)?;
        opt(&d, "context", &e.context)?;
        opt(&d, "schema_name", &e.schema_name)?;
        opt(&d, "table_name", &e.table_name)?;
        opt(&d, "column_name", &e.column_name)?;
        opt(&d, "datatype_name", &e.datatype_name)?;
        opt(&d, "constraint_name", &e.constraint_name)?;
        opt(&d, "source_file", &e.source_file)?;
        opt(&d, "source_line", &e.source_line)?;
        opt(&d, "source_function", &e.source_function)?;
        d.set_item("pgerror", e.pgerror())?;
        if let Some(q) = query {
            d.set_item("query", q)?;
        }
        let f = FROM_SERVER.import(py, "pgpool.errors", "_from_server")?;
        Ok(exception_from(f.call1((d,))?))
    };
    build().unwrap_or_else(|e| e)
}

/// Maps a core error to the Python exception the `pgpool` package raises for it.
pub(crate) fn to_py(py: Python<'_>, e: &Error) -> PyErr {
    to_py_q(py, e, None)
}

/// [`to_py`] for an error of statement `query`.
pub(crate) fn to_py_q(py: Python<'_>, e: &Error, query: Option<&str>) -> PyErr {
    match e {
        Error::Config { .. } => client_error(py, Kind::Config, e.to_string()),
        Error::Timeout { .. } => client_error(py, Kind::PoolTimeout, e.to_string()),
        Error::Closed => client_error(py, Kind::PoolClosed, e.to_string()),
        Error::TooManyRequests { .. } => client_error(py, Kind::TooManyRequests, e.to_string()),
        Error::Connection(m) => client_error(py, Kind::Operational, m),
        Error::Db(db) => server_error(py, db, query),
        Error::InvalidParameter(m) => param_error(py, m, None),
        Error::Interface(m) => client_error(py, Kind::Interface, m),
        Error::Interrupted => client_error(py, Kind::QueryCanceled, e.to_string()),
        Error::Encoding {
            python,
            decoding,
            data,
            message,
            ..
        } => codec_error(py, python, *decoding, data, message),
    }
}

/// The exception Python's own codec raises for what the core could not convert
/// (`UnicodeDecodeError` / `UnicodeEncodeError`, as psycopg2 and psycopg 3 raise them).
fn codec_error(py: Python<'_>, codec: &str, decoding: bool, data: &[u8], message: &str) -> PyErr {
    let raised = if decoding {
        pyo3::types::PyBytes::new(py, data).call_method1("decode", (codec,))
    } else {
        pyo3::types::PyString::new(py, &String::from_utf8_lossy(data))
            .call_method1("encode", (codec,))
    };
    match raised {
        Err(e) => e,
        Ok(_) => pyo3::exceptions::PyValueError::new_err(message.to_owned()),
    }
}

/// An interpolation error of `pgpool::sql` (`"<Class>: <argument>"`). `seq_type` names the
/// Python type of a positional `vars` (psycopg2 says `list index out of range` for a list).
pub(crate) fn param_error(py: Python<'_>, message: &str, seq_type: Option<&str>) -> PyErr {
    let Some((class, arg)) = pgpool::sql::python_exception(message) else {
        return client_error(py, Kind::Programming, message);
    };
    let arg = match seq_type {
        Some(t) if t != "tuple" => arg.replacen("tuple ind", &format!("{t} ind"), 1),
        _ => arg.to_owned(),
    };
    match class {
        "ProgrammingError" => client_error(py, Kind::Programming, arg),
        "KeyError" => client_error(py, Kind::KeyError, arg),
        "IndexError" => PyIndexError::new_err(arg),
        "TypeError" => client_error(py, Kind::TypeError, arg),
        "ValueError" => client_error(py, Kind::ValueError, arg),
        "RecursionError" => PyRecursionError::new_err(arg),
        _ => PyRuntimeError::new_err(arg),
    }
}

/// A text value the server sent that cannot be decoded (`pgpool::types`).
pub(crate) fn parse_error(py: Python<'_>, e: &ParseError) -> PyErr {
    match e.kind {
        ParseErrorKind::DataError => client_error(py, Kind::Data, &e.message),
        ParseErrorKind::InterfaceError => client_error(py, Kind::Interface, &e.message),
        ParseErrorKind::ValueError => client_error(py, Kind::ValueError, &e.message),
        ParseErrorKind::NotSupportedError => client_error(py, Kind::NotSupported, &e.message),
        ParseErrorKind::OutOfRange => PyOverflowError::new_err(e.message.clone()),
    }
}
