//! LISTEN/NOTIFY on a connection, as psycopg2 has it: `notifies` (a list of
//! `extensions.Notify`, assignable), `poll()` reads what arrived without blocking,
//! `fileno()` is the socket to `select()` on (see `waiting` for asynchronous connections
//! and wait callbacks).

use pyo3::prelude::*;
use pyo3::types::PyList;

use pgpool::conn::Notification;

use super::{client_error, Connection, Kind};

impl Connection {
    fn notifies_obj(&self, py: Python<'_>) -> Py<PyAny> {
        self.notifies
            .lock()
            .get_or_insert_with(|| PyList::empty(py).into_any().unbind())
            .clone_ref(py)
    }

    /// Appends `extensions.Notify` objects to `notifies`.
    pub(super) fn add_notifications(&self, py: Python<'_>, ns: Vec<Notification>) -> PyResult<()> {
        let cls = py.import("pgpool._notify")?.getattr("Notify")?;
        let obj = self.notifies_obj(py);
        let obj = obj.bind(py);
        if obj.is_none() {
            return Ok(()); // `conn.notifies = None`: the application wants none kept
        }
        for n in ns {
            let item = cls.call1((n.pid, n.channel, n.payload))?;
            obj.call_method1("append", (item,))?;
        }
        Ok(())
    }
}

#[pymethods]
impl Connection {
    /// The notifications received (`extensions.Notify`), oldest first; psycopg2's
    /// `notifies` (the application pops them).
    #[getter(notifies)]
    fn get_notifies(&self, py: Python<'_>) -> Py<PyAny> {
        self.notifies_obj(py)
    }

    #[setter(notifies)]
    fn set_notifies(&self, value: Py<PyAny>) {
        *self.notifies.lock() = Some(value);
    }

    /// Reads what the server sent without blocking (notifications go to `notifies`);
    /// `POLL_OK` (0). Raises `OperationalError` when the connection was lost.
    /// On an asynchronous connection, reads what arrived of the connect or of the
    /// statement underway (`POLL_READ`, 1: wait for `fileno()` to be readable and poll
    /// again); inside a wait callback, says whether the socket is ready.
    fn poll(&self, py: Python<'_>) -> PyResult<i32> {
        self.poll_any(py)
    }

    /// The socket's file descriptor (wait on it with `select()`, then `poll()`).
    fn fileno(&self, py: Python<'_>) -> PyResult<i32> {
        let fd = self.known_fd();
        if fd >= 0 && (!self.is_closed() || self.executing()) {
            return Ok(fd);
        }
        self.check_open(py)?;
        self.locked(py, |st| st.conn_ref().map(|c| c.raw_fd()))
            .ok_or_else(|| client_error(py, Kind::Interface, "connection already closed"))
    }
}
