//! psycopg2's two ways of not blocking the thread: the wait callback ("green" mode,
//! `extensions.set_wait_callback`, what gevent and eventlet install) and asynchronous
//! connections (`connect(dsn, async_=True)`, driven with `poll()`/`fileno()`). The
//! protocol side is the core's (`pgpool::conn::WaitHook`, `send_async`/`poll_async`);
//! here the Python objects: the global callback, what a connection needs to call it
//! while its state is locked, and the asynchronous statement's cursor.

use std::sync::atomic::{AtomicBool, AtomicI32, AtomicPtr, AtomicU8, Ordering};
use std::sync::Arc;

use parking_lot::Mutex;
use pyo3::prelude::*;
use pyo3::types::PyWeakrefReference;

use pgpool::conn::{AsyncPoll, Wait, WaitHook};

use super::{map_err_q, ConnSlot, Connection};
use crate::errors::{client_error, to_py, Kind};

/// psycopg2's `POLL_OK`, `POLL_READ`, `POLL_WRITE`.
const POLL_OK: i32 = 0;
const POLL_READ: i32 = 1;
const POLL_WRITE: i32 = 2;

/// The wait callback (`set_wait_callback`), process-wide as in psycopg2.
static CALLBACK: Mutex<Option<Py<PyAny>>> = parking_lot::const_mutex(None);
/// A callback is set (checked per statement without the lock).
static GREEN: AtomicBool = AtomicBool::new(false);

/// `extensions.set_wait_callback(f)`: from now on every connection calls `f(conn)`
/// where it would block; `f` polls the connection (`conn.poll()`) and waits on
/// `conn.fileno()` until `poll()` says `POLL_OK`. `None` removes it.
#[pyfunction]
pub(crate) fn set_wait_callback(f: Option<Py<PyAny>>) {
    let f = f.filter(|f| !Python::attach(|py| f.is_none(py)));
    GREEN.store(f.is_some(), Ordering::Release);
    *CALLBACK.lock() = f;
}

/// `extensions.get_wait_callback()`: the callback set, or `None`.
#[pyfunction]
pub(crate) fn get_wait_callback(py: Python<'_>) -> Option<Py<PyAny>> {
    CALLBACK.lock().as_ref().map(|f| f.clone_ref(py))
}

/// A wait callback is set.
pub(crate) fn green() -> bool {
    GREEN.load(Ordering::Acquire)
}

/// A connection object's non-blocking side, shared with the wait hook it installs.
#[derive(Default)]
pub(crate) struct Waiting {
    /// The Python object (set where it is made): what the callback is given. Borrowed:
    /// the hook only runs inside a method of that object.
    obj: AtomicPtr<pyo3::ffi::PyObject>,
    /// What the wait callback waits for now: 0 nothing (no callback running), 1 read,
    /// 2 write.
    want: AtomicU8,
    /// The socket (-1 before connected).
    fd: AtomicI32,
    /// What the callback raised: re-raised once the core call returned.
    raised: Mutex<Option<PyErr>>,
    /// An asynchronous connection (`async_=True`).
    is_async: AtomicBool,
    /// An asynchronous statement (or connect) is underway (`isexecuting()`).
    executing: AtomicBool,
    /// The cursor the asynchronous statement's result goes to (a weak reference) and
    /// its SQL (for the error).
    cursor: Mutex<Option<(Py<PyAny>, String)>>,
    /// An asynchronous connection not polled yet (psycopg2's connect is underway until
    /// `poll()` says `POLL_OK`).
    connecting: AtomicBool,
}

impl Waiting {
    pub(crate) fn new() -> Arc<Waiting> {
        let w = Waiting::default();
        w.fd.store(-1, Ordering::Relaxed);
        Arc::new(w)
    }

    /// Calls the wait callback for `what` with the connection object.
    fn call(&self, cb: &Py<PyAny>, what: Wait) -> pgpool::error::Result<()> {
        let obj = self.obj.load(Ordering::Acquire);
        self.want
            .store(if what == Wait::Read { 1 } else { 2 }, Ordering::Release);
        let r = crate::exit::attach(|py| {
            // SAFETY: `obj` is the connection object whose method is running (it holds a
            // reference to it): alive for the whole call.
            let obj = unsafe { Bound::from_borrowed_ptr(py, obj) };
            cb.bind(py).call1((obj,)).map(drop)
        });
        self.want.store(0, Ordering::Release);
        r.map_err(|e| {
            *self.raised.lock() = Some(e);
            pgpool::Error::Interface("the wait callback raised an exception".into())
        })
    }
}

/// True when `fd` is ready for `want` (1 read, 2 write), without waiting.
fn fd_ready(fd: i32, want: u8) -> bool {
    let mut p = libc::pollfd {
        fd,
        events: if want == 2 {
            libc::POLLOUT
        } else {
            libc::POLLIN
        },
        revents: 0,
    };
    // SAFETY: one valid pollfd, a zero timeout.
    let n = unsafe { libc::poll(&mut p, 1, 0) };
    n != 0
}

impl Connection {
    /// Records the Python object made over this connection (for the wait callback).
    pub(crate) fn set_object(slf: &Bound<'_, Self>) {
        slf.get().wait.obj.store(slf.as_ptr(), Ordering::Release);
    }

    /// The wait hook for a core call, when a wait callback is set (not on an
    /// asynchronous connection, which never waits).
    pub(super) fn green_hook(&self, py: Python<'_>) -> Option<WaitHook> {
        if !green() || self.is_async() || self.wait.obj.load(Ordering::Acquire).is_null() {
            return None;
        }
        let cb = CALLBACK.lock().as_ref()?.clone_ref(py);
        let w = self.wait.clone();
        Some(Arc::new(move |what| w.call(&cb, what)))
    }

    /// Installs `hook` on the core connection for the length of a call.
    pub(super) fn install_hook(&self, st: &mut super::State, hook: Option<WaitHook>) {
        if let Ok(c) = st.conn_mut() {
            if hook.is_some() {
                self.wait.fd.store(c.raw_fd(), Ordering::Release);
            }
            c.set_wait_hook(hook);
        }
    }

    /// After a core call in green mode: what the callback raised, the connection closed
    /// (its protocol state is unknown), as psycopg2 does.
    pub(super) fn callback_raised(&self, py: Python<'_>) -> Option<PyErr> {
        let e = self.wait.raised.lock().take()?;
        let h = self.take_holder(py, ConnSlot::Closed);
        crate::exit::detach(py, move || match h {
            ConnSlot::Plain(c) => c.close(),
            ConnSlot::Pooled(c) => c.discard(),
            _ => {}
        });
        Some(e)
    }

    pub(crate) fn is_async(&self) -> bool {
        self.wait.is_async.load(Ordering::Acquire)
    }

    /// An asynchronous statement or connect is underway.
    pub(crate) fn executing(&self) -> bool {
        self.wait.executing.load(Ordering::Acquire)
    }

    /// psycopg2's `EXC_IF_ASYNC_IN_PROGRESS`.
    pub(crate) fn check_not_executing(&self, py: Python<'_>, what: &str) -> PyResult<()> {
        if self.executing() {
            return Err(client_error(
                py,
                Kind::Programming,
                format!("{what} cannot be used while an asynchronous query is underway"),
            ));
        }
        Ok(())
    }

    /// psycopg2's `EXC_IF_CONN_ASYNC`.
    pub(crate) fn check_not_async(&self, py: Python<'_>, what: &str) -> PyResult<()> {
        if self.is_async() {
            return Err(client_error(
                py,
                Kind::Programming,
                format!("{what} cannot be used in asynchronous mode"),
            ));
        }
        Ok(())
    }

    /// The asynchronous connect. The connection is established here, the GIL released
    /// (libpq's `PQconnectStart` blocks for the host name lookup too; pgpool's connect
    /// does the whole startup), so that `fileno()` is the socket from the start (aiopg
    /// registers it once, right after `connect()`); for psycopg2's API the connect is
    /// underway (`isexecuting()`, `cancel()` refused) until the first `poll()`.
    pub(super) fn connect_async(
        &self,
        py: Python<'_>,
        params: pgpool::config::ConnectParams,
    ) -> PyResult<()> {
        let c = crate::exit::detach(py, move || pgpool::Connection::connect_checked(&params))
            .map_err(|e| to_py(py, &e))?;
        self.wait.is_async.store(true, Ordering::Release);
        self.wait.fd.store(c.raw_fd(), Ordering::Release);
        self.install_connected(py, c, true);
        self.wait.connecting.store(true, Ordering::Release);
        self.wait.executing.store(true, Ordering::Release);
        Ok(())
    }

    /// A new asynchronous connection object (`connect(dsn, async_=True)`).
    pub(crate) fn new_async(
        py: Python<'_>,
        params: pgpool::config::ConnectParams,
        facts: Arc<super::PublicParams>,
    ) -> PyResult<Py<Connection>> {
        let c = Connection::blank(super::State::new(ConnSlot::Closed), None);
        let _ = c.facts.set(facts);
        c.connect_async(py, params)?;
        let obj = Py::new(py, c)?;
        Connection::set_object(obj.bind(py));
        Ok(obj)
    }

    /// The connect is underway (not polled yet).
    pub(crate) fn connecting(&self) -> bool {
        self.wait.connecting.load(Ordering::Acquire)
    }

    /// `poll()` of an asynchronous connect: done at the first.
    fn poll_connecting(&self) -> Option<i32> {
        if !self.wait.connecting.swap(false, Ordering::AcqRel) {
            return None;
        }
        self.wait.executing.store(false, Ordering::Release);
        Some(POLL_OK)
    }

    /// `cursor.execute()` on an asynchronous connection: the statement goes out and
    /// `poll()` reads its answer into `cursor`.
    pub(crate) fn execute_async(
        &self,
        py: Python<'_>,
        cursor: &Bound<'_, PyAny>,
        sql: String,
    ) -> PyResult<()> {
        self.check_not_executing(py, "execute")?;
        let weak = PyWeakrefReference::new(cursor)?.into_any().unbind();
        let q = sql.clone();
        self.run(py, move |st, _| st.conn_mut()?.send_async(&q))?;
        *self.wait.cursor.lock() = Some((weak, sql));
        self.wait.executing.store(true, Ordering::Release);
        Ok(())
    }

    /// `poll()` of an asynchronous statement: `None` when none is underway.
    fn poll_statement(&self, py: Python<'_>) -> PyResult<Option<i32>> {
        if !self.executing() {
            return Ok(None);
        }
        let r = self.with_state(py, |st, _| st.conn_mut()?.poll_async())?;
        match r {
            Ok(AsyncPoll::Pending) => return Ok(Some(POLL_READ)),
            Ok(AsyncPoll::Write) => return Ok(Some(POLL_WRITE)),
            _ => {}
        }
        self.wait.executing.store(false, Ordering::Release);
        let (weak, sql) = self
            .wait
            .cursor
            .lock()
            .take()
            .expect("an asynchronous statement has its cursor");
        let cur = weak.bind(py).call0()?;
        let res = match r {
            Ok(AsyncPoll::Done(res)) => res,
            Ok(AsyncPoll::Pending | AsyncPoll::Write) => unreachable!("handled above"),
            Err(e) => {
                let e = map_err_q(py, &e, Some(&sql));
                return Err(if cur.is_none() {
                    e
                } else {
                    crate::cursor::raised_by(&cur, e)
                });
            }
        };
        if cur.is_none() {
            return Err(client_error(
                py,
                Kind::Interface,
                "the asynchronous cursor has disappeared",
            ));
        }
        let cur = cur.cast_into::<crate::cursor::Cursor>()?;
        cur.borrow_mut().set_result(py, res)?;
        Ok(Some(POLL_OK))
    }

    /// `conn.poll()`: psycopg2's `POLL_OK` / `POLL_READ` / `POLL_WRITE`.
    pub(super) fn poll_any(&self, py: Python<'_>) -> PyResult<i32> {
        // Inside the wait callback: the state is locked by the call waiting; say whether
        // the socket is ready for what it waits for.
        let want = self.wait.want.load(Ordering::Acquire);
        if want != 0 {
            let fd = self.wait.fd.load(Ordering::Acquire);
            return Ok(if fd_ready(fd, want) {
                POLL_OK
            } else if want == 2 {
                POLL_WRITE
            } else {
                POLL_READ
            });
        }
        if let Some(s) = self.poll_connecting() {
            return Ok(s);
        }
        self.check_open(py)?;
        if let Some(s) = self.poll_statement(py)? {
            return Ok(s);
        }
        self.run(py, |st, _| st.conn_mut()?.poll_input())?;
        Ok(POLL_OK)
    }

    /// `close()`: no asynchronous statement or connect is underway any more.
    pub(super) fn end_async(&self) {
        self.wait.executing.store(false, Ordering::Release);
        self.wait.connecting.store(false, Ordering::Release);
        *self.wait.cursor.lock() = None;
        self.wait.fd.store(-1, Ordering::Release);
    }

    /// The socket without the state lock (set once connected), -1 when unknown.
    pub(super) fn known_fd(&self) -> i32 {
        self.wait.fd.load(Ordering::Acquire)
    }
}
