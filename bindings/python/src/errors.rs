//! Core errors → Python exceptions: server errors through `pgpool.errors._from_server`
//! (the class of each SQLSTATE, imported once), errors pgpool detects itself as the class
//! of their [`Kind`] (this file holds the one mapping).

use pyo3::exceptions::{
    PyIndexError, PyKeyError, PyOverflowError, PyRecursionError, PyTypeError, PyValueError,
};
use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::PyDict;

use pgpool::sql::{ParamError, ParamErrorKind};
use pgpool::types::{ParseError, ParseErrorKind};
use pgpool::{DbError, Error};

static FROM_SERVER: PyOnceLock<Py<PyAny>> = PyOnceLock::new();
static ERRORS: PyOnceLock<Py<PyModule>> = PyOnceLock::new();

/// What kind of error pgpool detected itself (not a server error): each has one Python
/// class ([`Kind::class`]).
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
    /// The exception class of the kind: psycopg2's DB-API classes, pgpool's pool errors,
    /// the builtins psycopg2 raises for bad arguments.
    fn class<'py>(self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        let name = match self {
            Kind::TypeError => return Ok(py.get_type::<PyTypeError>().into_any()),
            Kind::ValueError => return Ok(py.get_type::<PyValueError>().into_any()),
            Kind::KeyError => return Ok(py.get_type::<PyKeyError>().into_any()),
            Kind::Interface => "InterfaceError",
            Kind::Operational => "OperationalError",
            // A bad DSN or pool setting: psycopg2 raises ProgrammingError("invalid dsn").
            Kind::Programming | Kind::Config => "ProgrammingError",
            Kind::Data => "DataError",
            Kind::NotSupported => "NotSupportedError",
            Kind::PoolTimeout => "PoolTimeout",
            Kind::PoolClosed => "PoolClosed",
            Kind::TooManyRequests => "TooManyRequests",
            Kind::QueryCanceled => "QueryCanceled",
        };
        ERRORS
            .get_or_try_init(py, || py.import("pgpool.errors").map(Bound::unbind))?
            .bind(py)
            .getattr(name)
    }
}

fn exception_from(obj: Bound<'_, PyAny>) -> PyErr {
    PyErr::from_value(obj)
}

/// A client-side error of `kind`.
pub(crate) fn client_error(py: Python<'_>, kind: Kind, message: impl AsRef<str>) -> PyErr {
    let message = message.as_ref();
    if kind == Kind::QueryCanceled {
        // Ctrl-C (or another interrupt) cancelled the statement on the server: what
        // psycopg2 raises when the server reports the cancellation.
        let db = DbError {
            severity: "ERROR".into(),
            severity_nonlocalized: Some("ERROR".into()),
            code: "57014".into(),
            message: if message.is_empty() {
                "canceling statement due to user request".into()
            } else {
                message.into()
            },
            ..Default::default()
        };
        return server_error(py, &db, None);
    }
    match kind.class(py).and_then(|c| c.call1((message,))) {
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
        Error::InvalidParameter(m) => client_error(py, Kind::Programming, m),
        Error::Param(p) => param_error(py, p, None),
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

/// An interpolation error of `pgpool::sql`, as the exception psycopg2 raises. `seq_type`
/// names the Python type of a positional `vars` (psycopg2 says `list index out of range`
/// for a list).
pub(crate) fn param_error(py: Python<'_>, e: &ParamError, seq_type: Option<&str>) -> PyErr {
    let arg = match seq_type {
        Some(t) if t != "tuple" => e.message.replacen("tuple ind", &format!("{t} ind"), 1),
        _ => e.message.clone(),
    };
    match e.kind {
        ParamErrorKind::Programming => client_error(py, Kind::Programming, arg),
        ParamErrorKind::Key => client_error(py, Kind::KeyError, arg),
        ParamErrorKind::Index => PyIndexError::new_err(arg),
        ParamErrorKind::SurplusValues | ParamErrorKind::Type => {
            client_error(py, Kind::TypeError, arg)
        }
        ParamErrorKind::Value => client_error(py, Kind::ValueError, arg),
        ParamErrorKind::Overflow => PyOverflowError::new_err(arg),
        ParamErrorKind::Recursion => PyRecursionError::new_err(arg),
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
