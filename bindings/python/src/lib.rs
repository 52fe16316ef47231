//! `pgpool._pgpool`: the PyO3 face of the pgpool core. Translation only: every pool,
//! wire and SQL decision lives in the `pgpool` crate; this crate turns Python objects into
//! core values and back, and releases the GIL around every wait.
#![doc = include_str!("contract.md")]

use pyo3::prelude::*;
use pyo3::types::{PyDict, PyTuple};

mod adapt;
mod aio;
mod casters;
mod conn;
mod cursor;
mod decode;
mod errors;
mod exit;
mod listen;
mod pool;
mod predecode;
mod pylog;
mod register;

use conn::{ConnSlot, Connection, PublicParams};
use errors::to_py;

/// `connect(dsn=None, *, cursor_factory=None, **kwargs)`: one unpooled connection
/// (psycopg2's `connect`). `kwargs` are libpq keywords and win over the DSN's.
#[pyfunction]
#[pyo3(signature = (dsn=None, *, connection_factory=None, cursor_factory=None, **kwargs))]
fn connect(
    py: Python<'_>,
    dsn: Option<String>,
    connection_factory: Option<&Bound<'_, PyAny>>,
    cursor_factory: Option<&Bound<'_, PyAny>>,
    kwargs: Option<&Bound<'_, PyDict>>,
) -> PyResult<Py<Connection>> {
    if connection_factory.is_some_and(|f| !f.is_none()) {
        return Err(errors::client_error(
            py,
            errors::Kind::NotSupported,
            "connection_factory is not supported by pgpool",
        ));
    }
    let mut kv = pool::keywords(kwargs)?;
    let asynchronous = kv
        .iter()
        .any(|(k, v)| (k == "async" || k == "async_") && v != "False" && v != "0");
    kv.retain(|(k, _)| k != "async" && k != "async_");
    let o = pgpool::config::PoolOverrides {
        keywords: kv,
        ..Default::default()
    };
    let cfg = pgpool::PoolConfig::new(dsn.as_deref(), &o).map_err(|e| to_py(py, &e))?;
    if asynchronous {
        let facts = std::sync::Arc::new(PublicParams::new(&cfg.connect, dsn.as_deref()));
        let conn = Connection::new_async(py, cfg.connect.clone(), facts)?;
        if let Some(f) = cursor_factory.filter(|f| !f.is_none()) {
            conn.bind(py).setattr("cursor_factory", f)?;
        }
        return Ok(conn);
    }
    let params = cfg.connect.clone();
    let c = py
        .detach(move || pgpool::Connection::connect_checked(&params))
        .map_err(|e| to_py(py, &e))?;
    let facts = std::sync::Arc::new(PublicParams::new(&cfg.connect, dsn.as_deref()));
    let conn = Py::new(
        py,
        Connection::new(py, ConnSlot::Plain(Box::new(c)), None, facts)?,
    )?;
    Connection::set_object(conn.bind(py));
    if let Some(f) = cursor_factory.filter(|f| !f.is_none()) {
        conn.bind(py).setattr("cursor_factory", f)?;
    }
    Ok(conn)
}

/// `_parse_dsn(dsn)`: libpq's `PQconninfoParse` — the keywords a connection string or
/// URI sets, as a dict (a later value wins). ProgrammingError ("invalid dsn: ...", no
/// password in it) for a syntax error or an unknown keyword.
#[pyfunction]
fn _parse_dsn<'py>(py: Python<'py>, dsn: &str) -> PyResult<Bound<'py, PyDict>> {
    let invalid =
        |m: String| errors::client_error(py, errors::Kind::Config, format!("invalid dsn: {m}\n"));
    let kv = pgpool::config::parse_dsn(dsn).map_err(|e| {
        invalid(match e {
            // libpq's wording.
            pgpool::Error::Config { setting, message }
                if message == "unknown connection option" =>
            {
                format!("invalid connection option \"{setting}\"")
            }
            pgpool::Error::Config { message, .. } => message,
            other => other.to_string(),
        })
    })?;
    let d = PyDict::new(py);
    for (k, v) in kv {
        if !pgpool::config::is_known_keyword(&k) {
            // libpq's wording.
            return Err(invalid(format!("invalid connection option \"{k}\"")));
        }
        d.set_item(k, v)?;
    }
    Ok(d)
}

/// `_encodings()`: PostgreSQL encoding name -> Python codec, for every name of an
/// encoding the core speaks (psycopg2's `extensions.encodings`).
#[pyfunction]
fn _encodings(py: Python<'_>) -> PyResult<Bound<'_, PyDict>> {
    let d = PyDict::new(py);
    for (name, codec) in pgpool::encoding::Encoding::python_codecs() {
        d.set_item(name, codec)?;
    }
    Ok(d)
}

/// `value` as the SQL literal `execute` would put in place of `%s` (for `pgpool.sql.Literal`
/// and `pgpool.extensions.adapt`), quoted for `context`'s connection (a Connection or a
/// Cursor: it follows that connection's `standard_conforming_strings`) or, without one,
/// for `standard_conforming_strings = on`.
#[pyfunction]
#[pyo3(signature = (value, context=None))]
fn _quote(value: &Bound<'_, PyAny>, context: Option<&Bound<'_, PyAny>>) -> PyResult<String> {
    let py = value.py();
    let quoting = match context {
        Some(c) => match c.cast::<conn::Connection>() {
            Ok(conn) => conn.get().quoting(py),
            Err(_) => match c.cast::<cursor::Cursor>() {
                Ok(cur) => cur.borrow().quoting(py),
                Err(_) => pgpool::sql::Quoting::Standard,
            },
        },
        None => pgpool::sql::Quoting::Standard,
    };
    adapt::render(py, "%s", Some(PyTuple::new(py, [value])?.as_any()), |_| {
        quoting
    })
}

/// `os.register_at_fork(before=...)`: the core takes its process-wide locks, so that no
/// other thread holds one at the fork (see `pgpool::runtime`).
#[pyfunction]
fn _before_fork() {
    pgpool::runtime::before_fork();
}

/// `os.register_at_fork(after_in_parent=...)`: releases what `_before_fork` took.
#[pyfunction]
fn _after_fork_parent() {
    pgpool::runtime::after_fork_parent();
}

/// Tells the core this process is a fresh fork, releasing what `_before_fork` took
/// (registered with `os.register_at_fork`).
#[pyfunction]
fn _after_fork() {
    pgpool::runtime::after_fork_child();
    pylog::after_fork();
    // The forking thread is the child's main thread.
    exit::set_main_thread();
}

#[pymodule]
fn _pgpool(m: &Bound<'_, PyModule>) -> PyResult<()> {
    let py = m.py();
    m.add("__version__", pgpool::VERSION)?;
    m.add("__doc__", include_str!("contract.md"))?;
    m.add_class::<pool::Pool>()?;
    m.add_class::<pool::PoolCursor>()?;
    m.add_class::<pool::PoolConnection>()?;
    m.add_class::<pool::PyBlockOptions>()?;
    m.add_class::<Connection>()?;
    m.add_class::<conn::ConnectionInfo>()?;
    m.add_class::<cursor::Cursor>()?;
    m.add_class::<cursor::Column>()?;
    m.add_class::<listen::Listener>()?;
    m.add_function(wrap_pyfunction!(connect, m)?)?;
    m.add_function(wrap_pyfunction!(_quote, m)?)?;
    m.add_function(wrap_pyfunction!(_parse_dsn, m)?)?;
    m.add_function(wrap_pyfunction!(_encodings, m)?)?;
    m.add_function(wrap_pyfunction!(conn::set_wait_callback, m)?)?;
    m.add_function(wrap_pyfunction!(conn::get_wait_callback, m)?)?;
    m.add_function(wrap_pyfunction!(register::_register_caster, m)?)?;
    m.add_function(wrap_pyfunction!(casters::_register_adapter, m)?)?;
    m.add_function(wrap_pyfunction!(casters::_cast, m)?)?;
    m.add_class::<aio::LoopBridge>()?;
    m.add_class::<aio::Job>()?;
    m.add_function(wrap_pyfunction!(aio::_aio_checkout, m)?)?;
    m.add_function(wrap_pyfunction!(aio::_aio_execute, m)?)?;
    m.add_function(wrap_pyfunction!(aio::_aio_executemany, m)?)?;
    m.add_function(wrap_pyfunction!(aio::_aio_finish, m)?)?;
    m.add_function(wrap_pyfunction!(aio::_aio_exit, m)?)?;
    exit::install(py)?;
    pylog::install(py)?;
    let threading = py.import("threading")?;
    if threading
        .call_method0("current_thread")?
        .is(&threading.call_method0("main_thread")?)
    {
        exit::set_main_thread();
    }
    let after = wrap_pyfunction!(_after_fork, m)?;
    m.add_function(after.clone())?;
    let before = wrap_pyfunction!(_before_fork, m)?;
    let parent = wrap_pyfunction!(_after_fork_parent, m)?;
    let os = py.import("os")?;
    if os.hasattr("register_at_fork")? {
        let kw = PyDict::new(py);
        kw.set_item("before", before)?;
        kw.set_item("after_in_parent", parent)?;
        kw.set_item("after_in_child", after)?;
        os.getattr("register_at_fork")?
            .call(PyTuple::empty(py), Some(&kw))?;
    }
    Ok(())
}
