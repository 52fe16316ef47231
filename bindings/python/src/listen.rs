//! `Listener`: the core's reconnecting LISTEN session (`pgpool::Listener`) for Python:
//! `Pool.listen(*channels)`, `pgpool.listen(*channels, dsn=None)`. Waits release the GIL
//! and stop at Ctrl-C.

use std::time::Duration;

use parking_lot::Mutex;
use pyo3::prelude::*;
use pyo3::types::{PyList, PyTuple};

use pgpool::conn::Notification;

use crate::conn::SignalHook;
use crate::errors::to_py;

/// A LISTEN session on a connection of its own, made again (and listening again on
/// every channel) when it is lost. Notifications are `extensions.Notify` objects.
#[pyclass(frozen, module = "pgpool._pgpool", name = "Listener")]
pub struct Listener {
    inner: Mutex<pgpool::Listener>,
    /// `close()` was called (a wait on another thread stops at it).
    closing: std::sync::atomic::AtomicBool,
}

impl Listener {
    pub(crate) fn open(
        py: Python<'_>,
        params: pgpool::config::ConnectParams,
        channels: Vec<String>,
    ) -> PyResult<Listener> {
        let l = crate::exit::detach(py, move || pgpool::Listener::new(params, channels))
            .map_err(|e| to_py(py, &e))?;
        Ok(Listener {
            inner: Mutex::new(l),
            closing: std::sync::atomic::AtomicBool::new(false),
        })
    }

    /// Runs `f` on the core listener without the GIL, Ctrl-C checked.
    fn waiting<T: Send>(
        &self,
        py: Python<'_>,
        f: impl FnOnce(&mut pgpool::Listener, pgpool::Interrupt<'_>) -> pgpool::error::Result<T> + Send,
    ) -> PyResult<T> {
        let closing = &self.closing;
        let (r, raised) = crate::exit::detach(py, || {
            let hook = SignalHook::new();
            let r = f(&mut self.inner.lock(), &|| {
                closing.load(std::sync::atomic::Ordering::Acquire) || hook.check()
            });
            (r, hook.into_raised())
        });
        if let Some(e) = raised {
            return Err(e);
        }
        r.map_err(|e| to_py(py, &e))
    }

    /// Runs `f` on the core listener: at once when it is free, else without the GIL
    /// (a wait on another thread holds it until its next notification or timeout).
    fn with<T: Send>(
        &self,
        py: Python<'_>,
        f: impl FnOnce(&mut pgpool::Listener) -> T + Send,
    ) -> T {
        if let Some(mut g) = self.inner.try_lock() {
            return f(&mut g);
        }
        crate::exit::detach(py, || f(&mut self.inner.lock()))
    }

    fn notify(py: Python<'_>, n: Notification) -> PyResult<Py<PyAny>> {
        let cls = py.import("pgpool._notify")?.getattr("Notify")?;
        Ok(cls.call1((n.pid, n.channel, n.payload))?.unbind())
    }
}

/// Seconds (`None`: no limit) as the core's wait; a negative value is zero.
fn timeout_of(t: Option<f64>) -> Duration {
    match t {
        None => Duration::from_secs(3600 * 24 * 365),
        Some(s) if s.is_finite() && s > 0.0 => Duration::from_secs_f64(s.min(1e9)),
        Some(s) if s.is_infinite() && s > 0.0 => Duration::from_secs(3600 * 24 * 365),
        _ => Duration::ZERO,
    }
}

#[pymethods]
impl Listener {
    /// `Listener(*channels, dsn=None)`: connects to `dsn` (libpq string or URI; `None`:
    /// the environment, as `Pool()`) and LISTENs on `channels`.
    #[new]
    #[pyo3(signature = (*channels, dsn=None))]
    fn py_new(py: Python<'_>, channels: &Bound<'_, PyTuple>, dsn: Option<&str>) -> PyResult<Self> {
        let channels: Vec<String> = channels.extract()?;
        let cfg = pgpool::PoolConfig::new(dsn, &pgpool::config::PoolOverrides::default())
            .map_err(|e| to_py(py, &e))?;
        Listener::open(py, cfg.connect, channels)
    }

    /// The next notification, waiting up to `timeout` seconds (`None`: as long as it
    /// takes) for one; `None` when the time passed.
    #[pyo3(signature = (timeout=None))]
    fn get(&self, py: Python<'_>, timeout: Option<f64>) -> PyResult<Option<Py<PyAny>>> {
        let t = timeout_of(timeout);
        match self.waiting(py, move |l, intr| l.next(t, Some(intr))) {
            Ok(Some(n)) => Ok(Some(Self::notify(py, n)?)),
            Ok(None) => Ok(None),
            Err(e) if self.closing.load(std::sync::atomic::Ordering::Acquire) => {
                let _ = e;
                Err(crate::errors::client_error(
                    py,
                    crate::errors::Kind::Interface,
                    "the listener is closed",
                ))
            }
            Err(e) => Err(e),
        }
    }

    /// The notifications received, waiting up to `timeout` seconds for the first
    /// (0: only what already arrived).
    #[pyo3(signature = (timeout=0.0))]
    fn poll<'py>(&self, py: Python<'py>, timeout: Option<f64>) -> PyResult<Bound<'py, PyList>> {
        let t = timeout_of(Some(timeout.unwrap_or(0.0)));
        let got = self.waiting(py, move |l, intr| l.wait(t, Some(intr)))?;
        let out = PyList::empty(py);
        for n in got {
            out.append(Self::notify(py, n)?)?;
        }
        Ok(out)
    }

    fn __iter__(slf: PyRef<'_, Self>) -> PyRef<'_, Self> {
        slf
    }

    /// Iterating waits for each notification, forever; it ends at `close()`.
    fn __next__(&self, py: Python<'_>) -> PyResult<Option<Py<PyAny>>> {
        loop {
            if self.closing.load(std::sync::atomic::Ordering::Acquire) {
                return Ok(None);
            }
            match self.get(py, Some(1.0)) {
                Ok(Some(n)) => return Ok(Some(n)),
                Ok(None) => {}
                Err(_) if self.closing.load(std::sync::atomic::Ordering::Acquire) => {
                    return Ok(None)
                }
                Err(e) => return Err(e),
            }
        }
    }

    /// LISTENs on `channel` too (again after every reconnect).
    fn listen(&self, py: Python<'_>, channel: String) -> PyResult<()> {
        self.waiting(py, move |l, _| l.listen(&channel))
    }

    /// Stops listening on `channel`; False when it was not listened on.
    fn unlisten(&self, py: Python<'_>, channel: String) -> PyResult<bool> {
        self.waiting(py, move |l, _| l.unlisten(&channel))
    }

    /// The channels listened on.
    #[getter]
    fn channels(&self, py: Python<'_>) -> Vec<String> {
        self.with(py, |l| l.channels().map(str::to_owned).collect())
    }

    /// How many times the connection was lost and made again (notifications sent
    /// meanwhile were lost: re-read what may have been missed).
    #[getter]
    fn reconnects(&self, py: Python<'_>) -> u64 {
        self.with(py, |l| l.reconnects())
    }

    /// True while a connection is listening.
    #[getter]
    fn connected(&self, py: Python<'_>) -> bool {
        self.with(py, |l| l.is_connected())
    }

    /// Why the connection was last lost (or the last attempt failed), if it was.
    #[getter]
    fn last_error(&self, py: Python<'_>) -> Option<String> {
        self.with(py, |l| l.last_error().map(str::to_owned))
    }

    /// The socket to `select()` on while connected (-1 while not), then `poll()`.
    fn fileno(&self, py: Python<'_>) -> i32 {
        self.with(py, |l| l.raw_fd().unwrap_or(-1))
    }

    /// Closes the connection (a wait on another thread returns first).
    fn close(&self, py: Python<'_>) {
        self.closing
            .store(true, std::sync::atomic::Ordering::Release);
        crate::exit::detach(py, || self.inner.lock().close());
    }

    fn __enter__(slf: PyRef<'_, Self>) -> PyRef<'_, Self> {
        slf
    }

    #[pyo3(signature = (*_args))]
    fn __exit__(&self, py: Python<'_>, _args: &Bound<'_, PyTuple>) -> bool {
        self.close(py);
        false
    }

    fn __repr__(&self, py: Python<'_>) -> String {
        self.with(py, |l| {
            format!(
                "<pgpool.Listener channels={:?} connected={} reconnects={}>",
                l.channels().collect::<Vec<_>>(),
                l.is_connected(),
                l.reconnects()
            )
        })
    }
}
