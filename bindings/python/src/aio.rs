//! The asyncio face's primitives; the classes users see are Python
//! (`pgpool/_aio.py`) over these.
//!
//! Connections are blocking sockets driven by the thread that holds them (docs/DESIGN.md),
//! so an asyncio operation runs the same blocking code as the sync face — the same
//! `State`, `Cursor` and pool functions — on a blocking thread of the process's one tokio
//! runtime (`pgpool::runtime`), never on the event loop:
//!
//! 1. on the loop thread (GIL held): checks, parameters adapted, the statement rendered
//!    (the sync code's own first half);
//! 2. on a runtime blocking thread, **without the GIL**: the checkout wait or the round
//!    trip (the sync code's GIL-free middle), polling a cancel flag every 100 ms like the
//!    sync face polls for Ctrl-C;
//! 3. back on the loop thread: the result is queued in the loop's [`LoopBridge`], whose
//!    socket pair wakes the loop (`loop.add_reader`); `drain()` runs each job's Python
//!    half (rows, errors, notices) and resolves its asyncio Future.
//!
//! Runtime threads never take the GIL nor touch a Python object (the Python handles a job
//! carries only travel through it), so there is nothing to guard at interpreter exit, and
//! one wake-up of the loop serves every job finished meanwhile.
//!
//! Cancellation (`task.cancel()`, `asyncio.timeout`, `wait_for`): the awaiting coroutine
//! calls [`Job::cancel`]; a checkout still waiting leaves the pool's queue within 100 ms,
//! a statement still running is cancelled on the server (CancelRequest) and its
//! connection stays usable. A connection checked out for a job that was cancelled
//! meanwhile goes straight back to the pool.

use std::io::{ErrorKind, Read, Write};
use std::os::fd::AsRawFd;
use std::os::unix::net::UnixStream;
use std::panic::AssertUnwindSafe;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use parking_lot::Mutex;
use pyo3::exceptions::PyRuntimeError;
use pyo3::prelude::*;
use tokio::sync::Notify;

use crate::adapt;
use crate::conn::{map_err, map_err_q, ConnSlot, Connection, State};
use crate::cursor::Cursor;
use crate::errors::to_py;
use crate::pool::{apply_opts, python_stack, secs, Pool, PyBlockOptions};

/// The Python half of a job, run by `drain()` on the loop thread. `cancelled`: the
/// awaiting Future was cancelled, there is nobody to give a result to (clean up only).
type Finisher = Box<dyn FnOnce(Python<'_>, bool) -> PyResult<Py<PyAny>> + Send>;

/// Boxes the Python half of a job (run later on the loop thread).
fn on_loop<F>(f: F) -> Finisher
where
    F: FnOnce(Python<'_>, bool) -> PyResult<Py<PyAny>> + Send + 'static,
{
    Box::new(f)
}

struct Done {
    fut: Py<PyAny>,
    finish: Finisher,
}

struct Inner {
    queue: Mutex<Vec<Done>>,
    rx: UnixStream,
    tx: UnixStream,
}

impl Inner {
    /// Queues a finished job; wakes the loop when the queue was empty (a drain reads the
    /// socket before taking the queue, so no job is ever left without a wake-up).
    fn push(&self, d: Done) {
        let was_empty = {
            let mut q = self.queue.lock();
            q.push(d);
            q.len() == 1
        };
        if was_empty {
            // A full socket buffer means a wake-up is pending already.
            let _ = (&self.tx).write(&[1]);
        }
    }
}

/// One per event loop (`pgpool._aio` keeps them): the queue of finished jobs and the
/// socket pair that wakes the loop (`loop.add_reader(bridge.fileno(), bridge.drain)`).
#[pyclass(frozen, module = "pgpool._pgpool", name = "_LoopBridge")]
pub struct LoopBridge {
    inner: Arc<Inner>,
}

#[pymethods]
impl LoopBridge {
    #[new]
    fn py_new() -> PyResult<Self> {
        let (rx, tx) = UnixStream::pair()?;
        rx.set_nonblocking(true)?;
        tx.set_nonblocking(true)?;
        Ok(LoopBridge {
            inner: Arc::new(Inner {
                queue: Mutex::new(Vec::new()),
                rx,
                tx,
            }),
        })
    }

    /// The file descriptor the loop watches for readability.
    fn fileno(&self) -> i32 {
        self.inner.rx.as_raw_fd()
    }

    /// Resolves the Futures of every finished job (the loop's reader callback).
    fn drain(&self, py: Python<'_>) -> PyResult<()> {
        let mut buf = [0u8; 256];
        loop {
            match (&self.inner.rx).read(&mut buf) {
                Ok(n) if n == buf.len() => continue,
                Ok(_) => break,
                Err(e) if e.kind() == ErrorKind::Interrupted => continue,
                Err(_) => break, // WouldBlock: drained
            }
        }
        let done = std::mem::take(&mut *self.inner.queue.lock());
        // Every job is resolved even if one of them fails here; the first such error is
        // reported (to the loop's exception handler) afterwards.
        let mut first_err = None;
        for Done { fut, finish } in done {
            let fut = fut.bind(py);
            let r = (|| -> PyResult<()> {
                let cancelled = fut.call_method0("done")?.is_truthy()?;
                let r = finish(py, cancelled);
                if cancelled {
                    return Ok(());
                }
                match r {
                    Ok(v) => fut.call_method1("set_result", (v,))?,
                    Err(e) => fut.call_method1("set_exception", (e.into_value(py),))?,
                };
                Ok(())
            })();
            if let Err(e) = r {
                first_err.get_or_insert(e);
            }
        }
        first_err.map_or(Ok(()), Err)
    }
}

/// A running job: `cancel()` asks it to stop (the awaiting task was cancelled).
#[pyclass(frozen, module = "pgpool._pgpool", name = "_Job")]
pub struct Job {
    ctl: Arc<Ctl>,
}

#[derive(Default)]
struct Ctl {
    /// Polled by blocking work (every 100 ms, with the core's interrupt hook).
    flag: AtomicBool,
    /// Wakes async work (a checkout waiting in the pool's queue) at once.
    notify: Notify,
}

#[pymethods]
impl Job {
    fn cancel(&self) {
        self.ctl.flag.store(true, Ordering::Release);
        self.ctl.notify.notify_one();
    }
}

/// Runs `work` on a blocking thread of the shared runtime; its finisher resolves `fut`.
fn spawn<W>(bridge: &LoopBridge, fut: Py<PyAny>, work: W) -> Job
where
    W: FnOnce(&AtomicBool) -> Finisher + Send + 'static,
{
    let ctl = Arc::new(Ctl::default());
    let c2 = ctl.clone();
    let inner = bridge.inner.clone();
    drop(pgpool::runtime::runtime().spawn_blocking(move || {
        let finish = std::panic::catch_unwind(AssertUnwindSafe(|| work(&c2.flag)))
            .unwrap_or_else(|_| panicked());
        inner.push(Done { fut, finish });
    }));
    Job { ctl }
}

/// Runs `work` as a task of the shared runtime (a wait that must hold no thread).
fn spawn_async<W, F>(bridge: &LoopBridge, fut: Py<PyAny>, work: W) -> Job
where
    W: FnOnce(Arc<Ctl>) -> F,
    F: std::future::Future<Output = Finisher> + Send + 'static,
{
    let ctl = Arc::new(Ctl::default());
    let task = work(ctl.clone());
    let inner = bridge.inner.clone();
    drop(pgpool::runtime::runtime().spawn(async move {
        let finish = futures_catch(task).await;
        inner.push(Done { fut, finish });
    }));
    Job { ctl }
}

/// The finisher of a job that panicked.
fn panicked() -> Finisher {
    on_loop(|_py, _| {
        Err(PyRuntimeError::new_err(
            "pgpool: internal error (panic) in an asyncio operation",
        ))
    })
}

/// Awaits `f`, turning a panic into [`panicked`]'s finisher.
async fn futures_catch<F: std::future::Future<Output = Finisher>>(f: F) -> Finisher {
    let mut f = std::pin::pin!(f);
    std::future::poll_fn(move |cx| {
        match std::panic::catch_unwind(AssertUnwindSafe(|| f.as_mut().poll(cx))) {
            Ok(p) => p,
            Err(_) => std::task::Poll::Ready(panicked()),
        }
    })
    .await
}

/// Gives a connection back to its pool off the loop (a reset may take a round trip).
fn release_off_loop(st: State) {
    drop(pgpool::runtime::runtime().spawn_blocking(move || {
        if let ConnSlot::Pooled(pc) = st.holder {
            pc.release();
        }
    }));
}

/// `await`-able checkout: `pool.connection_async()` / `cursor_async()`'s `__aenter__`.
/// Resolves to a `Connection` with the options applied (BEGIN queued unless autocommit).
/// `begin=False`: a plain checkout, as the sync `getconn(readonly=...)` (nothing queued,
/// the connection's own implicit BEGIN applies; the asyncio `Pool.getconn_async`).
#[pyfunction]
#[pyo3(signature = (bridge, fut, pool, timeout, opts, begin=true))]
pub(crate) fn _aio_checkout(
    py: Python<'_>,
    bridge: &LoopBridge,
    fut: Py<PyAny>,
    pool: Bound<'_, Pool>,
    timeout: Option<f64>,
    opts: &Bound<'_, PyBlockOptions>,
    begin: bool,
) -> PyResult<Job> {
    let t = match timeout {
        Some(t) => Some(secs(py, "timeout", t)?),
        None => None,
    };
    let o = opts.get().0;
    let readonly = o.characteristics.readonly == Some(true);
    let core = pool.get().pool.clone();
    // The caller's stack, for leak warnings (only when the pool tracks leaks).
    let stack = core
        .config()
        .leak_threshold
        .is_some()
        .then(|| python_stack(py));
    let pool: Py<Pool> = pool.unbind();
    // Blocking settings (session defaults) need a round trip: off the runtime's workers.
    let needs_io = begin && o.session_defaults().is_some();
    let after_get = move |pc: pgpool::PooledConnection, flag: &AtomicBool| -> Finisher {
        let intr = || flag.load(Ordering::Acquire);
        if let Some(s) = stack {
            pc.set_leak_context(move || s);
        }
        let facts = pool.get().facts_for(&pc);
        let mut st = State::new(ConnSlot::Pooled(pc));
        let applied = if begin {
            apply_opts(&mut st, &o, &intr)
        } else {
            st.chars.readonly = o.characteristics.readonly;
            Ok(())
        };
        if let Err(e) = applied {
            if let ConnSlot::Pooled(pc) = std::mem::replace(&mut st.holder, ConnSlot::Closed) {
                pc.discard();
            }
            return on_loop(move |py, _| Err(map_err(py, &e)));
        }
        on_loop(move |py, cancelled| {
            if cancelled {
                release_off_loop(st);
                return Ok(py.None());
            }
            let c = Connection::from_state(py, st, Some(pool.into_any()), facts)?;
            Ok(Py::new(py, c)?.into_any())
        })
    };
    let routed = readonly && core.has_replicas();
    if !needs_io {
        // An idle connection ready now: checked out on the loop's thread, no hop (the
        // options only queue a BEGIN: no round trip).
        if let Some(pc) = core.try_checkout_now(readonly) {
            let f = after_get(pc, &AtomicBool::new(false));
            resolve(fut.bind(py), f(py, false))?;
            return Ok(Job {
                ctl: Arc::default(),
            });
        }
    }
    if routed {
        // Readonly routing (replicas, round-robin, fallback) is the blocking checkout's.
        return Ok(spawn(bridge, fut, move |flag| {
            let intr = || flag.load(Ordering::Acquire);
            match core.get_interruptible(t, readonly, Some(&intr)) {
                Ok(pc) => after_get(pc, flag),
                Err(e) => on_loop(move |py, _| Err(to_py(py, &e))),
            }
        }));
    }
    Ok(spawn_async(bridge, fut, move |ctl| async move {
        let cancel = async { ctl.notify.notified().await };
        let pc = match core.get_async(t, cancel).await {
            Ok(pc) => pc,
            Err(e) => return on_loop(move |py, _| Err(to_py(py, &e))),
        };
        if needs_io {
            let rt = pgpool::runtime::runtime();
            let c2 = ctl.clone();
            match rt.spawn_blocking(move || after_get(pc, &c2.flag)).await {
                Ok(f) => f,
                Err(_) => panicked(),
            }
        } else {
            after_get(pc, &ctl.flag)
        }
    }))
}

/// `await cur.execute(query, vars)`: the sync `execute` with its round trip on a runtime
/// thread. Resolves to None.
#[pyfunction]
#[pyo3(signature = (bridge, fut, cursor, query, vars=None))]
pub(crate) fn _aio_execute(
    bridge: &LoopBridge,
    fut: Py<PyAny>,
    cursor: &Bound<'_, Cursor>,
    query: &Bound<'_, PyAny>,
    vars: Option<&Bound<'_, PyAny>>,
) -> PyResult<Job> {
    let (conn, sql) = Cursor::prepare_execute(cursor, query, vars)?;
    let cursor = cursor.clone().unbind();
    Ok(spawn(bridge, fut, move |flag| {
        let (r, after) = conn
            .get()
            .locked_run(|st, intr| st.statement(&sql, intr, None, true), &|| {
                flag.load(Ordering::Acquire)
            });
        on_loop(move |py, _cancelled| {
            conn.get().apply_after(py, after)?;
            let r = r.map_err(|e| map_err_q(py, &e, Some(&sql)))?;
            cursor.bind(py).borrow_mut().set_result(py, r)?;
            Ok(py.None())
        })
    }))
}

/// `await cur.executemany(query, vars_list)`: every statement is rendered first (on the
/// loop: adapting parameters is Python work), then pipelined on a runtime thread.
#[pyfunction]
pub(crate) fn _aio_executemany(
    bridge: &LoopBridge,
    fut: Py<PyAny>,
    cursor: &Bound<'_, Cursor>,
    query: &Bound<'_, PyAny>,
    vars_list: &Bound<'_, PyAny>,
) -> PyResult<Job> {
    let py = cursor.py();
    let conn = Cursor::prepare_executemany(cursor)?;
    let qtext = adapt::query_text(query, cursor.as_any())?;
    let quoting = conn.get().quoting_for_batch(py);
    let mut stmts = Vec::new();
    for v in vars_list.try_iter()? {
        stmts.push(adapt::render(py, &qtext, Some(&v?), |_| quoting)?);
    }
    cursor.borrow_mut().reset();
    let last = stmts.last().cloned();
    let cursor = cursor.clone().unbind();
    Ok(spawn(bridge, fut, move |flag| {
        let (r, after) = conn.get().locked_run(
            |st, intr| -> pgpool::error::Result<u64> {
                st.prepare_begin()?;
                let c = st.conn_mut()?;
                let mut it = stmts.into_iter().map(Ok);
                c.pipeline(&mut it, Some(intr))
            },
            &|| flag.load(Ordering::Acquire),
        );
        on_loop(move |py, _cancelled| {
            conn.get().apply_after(py, after)?;
            let mut cur = cursor.bind(py).borrow_mut();
            match r {
                Ok(total) => {
                    cur.finish_executemany(py, last.as_deref(), total as i64);
                    Ok(py.None())
                }
                Err(e) => {
                    cur.finish_executemany(py, last.as_deref(), -1);
                    Err(map_err(py, &e))
                }
            }
        })
    }))
}

/// `await conn.commit()` / `rollback()`.
#[pyfunction]
pub(crate) fn _aio_finish(
    py: Python<'_>,
    bridge: &LoopBridge,
    fut: Py<PyAny>,
    conn: Py<Connection>,
    commit: bool,
) -> PyResult<Job> {
    conn.get().check_open(py)?;
    Ok(spawn(bridge, fut, move |flag| {
        let (r, after) = conn
            .get()
            .locked_run(|st, intr| st.finish(commit, Some(intr)), &|| {
                flag.load(Ordering::Acquire)
            });
        on_loop(move |py, _cancelled| {
            conn.get().apply_after(py, after)?;
            r.map_err(|e| map_err(py, &e))?;
            Ok(py.None())
        })
    }))
}

/// The end of an `async with pool.connection_async()/cursor_async()` block: COMMIT (or
/// ROLLBACK when `ok` is false), then the connection goes back to the pool — all on a
/// runtime thread, and carried through even when the awaiting task is cancelled (a
/// cancelled block still returns its connection, rolled back).
#[pyfunction]
pub(crate) fn _aio_exit(
    py: Python<'_>,
    bridge: &LoopBridge,
    fut: Py<PyAny>,
    conn: Py<Connection>,
    ok: bool,
) -> PyResult<Job> {
    if conn.get().end_block_without_io() {
        resolve(fut.bind(py), Ok(py.None()))?;
        return Ok(Job {
            ctl: Arc::default(),
        });
    }
    Ok(spawn(bridge, fut, move |_flag| {
        let c = conn.get();
        let (r, after) = if c.is_closed() {
            c.release_closed_block();
            (Ok(()), None)
        } else {
            match c.end_pooled_block(ok, &|| false) {
                Some((r, after)) => (r, Some(after)),
                None => (Ok(()), None),
            }
        };
        on_loop(move |py, _cancelled| {
            if let Some(a) = after {
                conn.get().apply_after(py, a)?;
            }
            r.map_err(|e| map_err(py, &e))?;
            Ok(py.None())
        })
    }))
}

/// Resolves `fut` now (an operation that finished on the loop's thread).
fn resolve(fut: &Bound<'_, PyAny>, r: PyResult<Py<PyAny>>) -> PyResult<()> {
    match r {
        Ok(v) => fut.call_method1("set_result", (v,))?,
        Err(e) => fut.call_method1("set_exception", (e.into_value(fut.py()),))?,
    };
    Ok(())
}
