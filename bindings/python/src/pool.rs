//! `Pool` and its two context managers (`pool.cursor()`, `pool.connection()`), the hot
//! path of the Python face.

use std::sync::Arc;
use std::time::{Duration, Instant};

use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::{PyDict, PyList, PyTuple};

use pgpool::config::PoolOverrides;
use pgpool::stats::{HOLD_BUCKETS_MS, WAIT_BUCKETS_MS};
use pgpool::transaction::{BlockOptions, Characteristics};
use pgpool::PoolConfig;

use crate::conn::{map_err, ConnSlot, Connection, PublicParams, SignalHook, State};
use crate::cursor::{Cursor, RowMode};
use crate::errors::{client_error, to_py, Kind};

/// A timeout argument, by the core's rule ([`pgpool::config::duration_secs`]: 0 to 100
/// years; NaN, infinity and negatives are errors naming the argument).
pub(crate) fn secs(py: Python<'_>, what: &str, v: f64) -> PyResult<Duration> {
    pgpool::config::duration_secs(what, v).map_err(|e| to_py(py, &e))
}

/// `max_lifetime` / `max_idle` / `leak_threshold` / `command_timeout`: `None` →
/// env/default; else the core's rule ([`pgpool::config::optional_duration_secs`]: 0, -1,
/// inf or more than 100 years → never/off; NaN and other negatives are errors).
fn opt_secs(py: Python<'_>, what: &str, v: Option<f64>) -> PyResult<Option<Option<Duration>>> {
    v.map(|v| pgpool::config::optional_duration_secs(what, v))
        .transpose()
        .map_err(|e| to_py(py, &e))
}

fn size(py: Python<'_>, what: &str, v: Option<i64>) -> PyResult<Option<usize>> {
    match v {
        None => Ok(None),
        Some(v) if v < 0 => Err(client_error(
            py,
            Kind::Config,
            format!("invalid configuration {what}: must not be negative, got {v}"),
        )),
        Some(v) => Ok(Some(v as usize)),
    }
}

/// libpq keyword arguments (`host=`, `port=5432`, ...): `str()` of each value, `None`
/// dropped (psycopg2's `make_dsn`).
pub(crate) fn keywords(kwargs: Option<&Bound<'_, PyDict>>) -> PyResult<Vec<(String, String)>> {
    let mut kv = Vec::new();
    if let Some(k) = kwargs {
        for (key, v) in k.iter() {
            if v.is_none() {
                continue;
            }
            kv.push((key.extract::<String>()?, v.str()?.extract::<String>()?));
        }
    }
    Ok(kv)
}

/// A connection pool. Subclassable from Python.
#[pyclass(frozen, subclass, weakref, module = "pgpool._pgpool", name = "Pool")]
pub struct Pool {
    pub(crate) pool: pgpool::Pool,
    /// The primary's facts (`conn.dsn`, `conn.info`): replaced by `set_conninfo`.
    pub(crate) facts: parking_lot::Mutex<Arc<PublicParams>>,
    /// The replicas' facts (`conn.dsn`, `conn.info` of a connection routed to one).
    replica_facts: Vec<Arc<PublicParams>>,
}

/// A histogram's cumulative counts as `[(upper_bound_ms, count), ..., (inf, total)]`.
fn buckets<'py>(py: Python<'py>, bounds: &[f64], counts: &[u64]) -> PyResult<Bound<'py, PyList>> {
    let out = PyList::empty(py);
    for (i, n) in counts.iter().enumerate() {
        out.append((bounds.get(i).copied().unwrap_or(f64::INFINITY), *n))?;
    }
    Ok(out)
}

/// A Python callable as the core's password provider: called with the GIL on the
/// connecting thread through `pgpool._credentials.provide` (which also awaits a
/// coroutine); its exception is the reason given, by type and message.
fn password_provider(cb: Py<PyAny>) -> pgpool::PasswordProvider {
    Arc::new(move || {
        // Not from a finalizing interpreter (a maintenance thread opening a connection
        // at exit): the attempt fails instead.
        Python::try_attach(|py| {
            let got = py
                .import("pgpool._credentials")
                .and_then(|m| m.call_method1("provide", (cb.bind(py),)))
                .and_then(|v| v.extract::<String>());
            got.map_err(|e| {
                let name = e
                    .get_type(py)
                    .name()
                    .map(|n| n.to_string())
                    .unwrap_or_default();
                format!("{name}: {}", e.value(py))
            })
        })
        .unwrap_or_else(|| Err("the Python interpreter is shutting down".into()))
    })
}

static FORMAT_STACK: PyOnceLock<Py<PyAny>> = PyOnceLock::new();
static AIO_CONNECTION: PyOnceLock<Py<PyAny>> = PyOnceLock::new();
static AIO_CURSOR: PyOnceLock<Py<PyAny>> = PyOnceLock::new();

/// The Python stack of the caller (`traceback.format_stack()`, joined), for leak warnings.
pub(crate) fn python_stack(py: Python<'_>) -> String {
    let stack = || -> PyResult<String> {
        let frames = FORMAT_STACK
            .import(py, "traceback", "format_stack")?
            .call0()?;
        let mut s = String::new();
        for f in frames.try_iter()? {
            s.push_str(&f?.extract::<String>()?);
        }
        Ok(s.trim_end().to_owned())
    };
    stack().unwrap_or_else(|e| format!("(no Python stack: {e})"))
}

impl Pool {
    /// The facts of the server `pc` is connected to: the primary's or a replica's.
    pub(crate) fn facts_for(&self, pc: &pgpool::PooledConnection) -> Arc<PublicParams> {
        match self.pool.replica_of(pc) {
            Some(i) => match self.replica_facts.get(i) {
                Some(f) => f.clone(),
                None => self.facts.lock().clone(),
            },
            None => self.facts.lock().clone(),
        }
    }

    /// Checks out a connection (from a replica for `readonly` work when the pool has
    /// some), with the GIL released; Ctrl-C ends the wait with KeyboardInterrupt.
    fn checkout(
        slf: &Bound<'_, Self>,
        timeout: Option<f64>,
        readonly: bool,
    ) -> PyResult<Py<Connection>> {
        let py = slf.py();
        let me = slf.get();
        let t = match timeout {
            Some(t) => Some(secs(py, "timeout", t)?),
            None => None,
        };
        // An idle connection is taken without releasing the GIL: the core's fast path
        // never connects, waits or queues, so there is nothing to wait for here.
        let (got, raised) = match me.pool.try_checkout_now(readonly) {
            Some(pc) => (Ok(pc), None),
            None => crate::exit::detach(py, || {
                let hook = SignalHook::new();
                let got = me
                    .pool
                    .get_interruptible(t, readonly, Some(&|| hook.check()));
                (got, hook.into_raised())
            }),
        };
        if let Some(e) = raised {
            if let Ok(pc) = got {
                crate::exit::detach(py, move || pc.release());
            }
            return Err(e);
        }
        let pc = got.map_err(|e| to_py(py, &e))?;
        if pc.tracks_leaks() {
            // Only with leak_threshold set: formatting a stack is not free.
            let stack = python_stack(py);
            pc.set_leak_context(move || stack);
        }
        let facts = me.facts_for(&pc);
        let c = Connection::new(
            py,
            ConnSlot::Pooled(pc),
            Some(slf.clone().into_any().unbind()),
            facts,
        )?;
        let c = Py::new(py, c)?;
        Connection::set_object(c.bind(py));
        Ok(c)
    }

    fn give_back(slf: &Bound<'_, Self>, conn: &Bound<'_, PyAny>, close: bool) -> PyResult<()> {
        let py = slf.py();
        let c = conn.cast::<Connection>().map_err(|_| {
            client_error(
                py,
                Kind::Programming,
                format!(
                    "putconn() takes a pgpool connection, not {}",
                    conn.get_type()
                        .name()
                        .map(|n| n.to_string())
                        .unwrap_or_default()
                ),
            )
        })?;
        let c = c.get();
        let mine = c.pool.as_ref().is_some_and(|p| p.as_ptr() == slf.as_ptr());
        if !mine {
            return Err(client_error(
                py,
                Kind::Programming,
                "can't return the connection: it does not belong to this pool",
            ));
        }
        match c.take_holder(py, ConnSlot::Returned) {
            ConnSlot::Pooled(pc) => {
                if !close && !pc.release_needs_io() {
                    // Nothing to roll back or reset: no I/O, so no need to release the GIL.
                    pc.release();
                } else {
                    crate::exit::detach(py, move || {
                        if close {
                            pc.discard();
                        } else {
                            pc.release();
                        }
                    });
                }
                Ok(())
            }
            ConnSlot::Returned => Err(client_error(
                py,
                Kind::Programming,
                "can't return the connection: it was already returned to the pool",
            )),
            // Closed by the user: its slot was freed then.
            ConnSlot::Closed => Ok(()),
            ConnSlot::Plain(p) => {
                // Cannot happen (pooled connections hold a PooledConnection); put it back.
                let _ = c.take_holder(py, ConnSlot::Plain(p));
                Err(client_error(
                    py,
                    Kind::Programming,
                    "not a pooled connection",
                ))
            }
        }
    }

    fn stats_dict<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let s = self.pool.stats();
        let d = PyDict::new(py);
        d.set_item("pool_min", s.pool_min)?;
        d.set_item("pool_max", s.pool_max)?;
        d.set_item("pool_size", s.pool_size)?;
        d.set_item("pool_available", s.pool_available)?;
        d.set_item("in_use", s.in_use)?;
        d.set_item("requests_waiting", s.requests_waiting)?;
        d.set_item("requests_num", s.requests_num)?;
        d.set_item("requests_queued", s.requests_queued)?;
        d.set_item("requests_wait_ms", s.requests_wait_ms)?;
        d.set_item("requests_timeouts", s.requests_timeouts)?;
        d.set_item("requests_rejected", s.requests_rejected)?;
        d.set_item("max_wait_ms", s.max_wait_ms)?;
        d.set_item("wait_high_water_ms", s.max_wait_ms)?;
        d.set_item("oldest_wait_ms", s.oldest_wait_ms)?;
        d.set_item("usage_ms", s.usage_ms)?;
        d.set_item("connections_num", s.connections_num)?;
        d.set_item("connections_errors", s.connections_errors)?;
        d.set_item("connections_lost", s.connections_lost)?;
        d.set_item("returns_bad", s.returns_bad)?;
        d.set_item("recycled_lifetime", s.recycled_lifetime)?;
        d.set_item("recycled_idle", s.recycled_idle)?;
        d.set_item("recycled_retired", s.recycled_retired)?;
        d.set_item("retired_role_change", s.retired_role_change)?;
        d.set_item("returns_implicit", s.returns_implicit)?;
        d.set_item("utilization", s.utilization())?;
        d.set_item(
            "wait_buckets",
            buckets(py, &WAIT_BUCKETS_MS, &s.wait_buckets)?,
        )?;
        d.set_item("returns_num", s.returns_num)?;
        d.set_item("xact_committed", s.xact_committed)?;
        d.set_item("xact_rolled_back", s.xact_rolled_back)?;
        d.set_item("returns_in_transaction", s.returns_in_transaction)?;
        d.set_item(
            "hold_buckets",
            buckets(py, &HOLD_BUCKETS_MS, &s.hold_buckets)?,
        )?;
        d.set_item(
            "create_buckets",
            buckets(py, &WAIT_BUCKETS_MS, &s.create_buckets)?,
        )?;
        d.set_item("requests_wait_us", s.requests_wait_us)?;
        d.set_item("usage_us", s.usage_us)?;
        d.set_item("create_us", s.create_us)?;
        Ok(d)
    }
}

/// The options of a `pool.cursor()` / `pool.connection()` block (and their asyncio
/// twins) as the core's one value. `isolation_level`: a number or a name, as
/// `connection.set_session` takes it.
pub(crate) fn block_options(
    autocommit: bool,
    readonly: bool,
    isolation_level: Option<&Bound<'_, PyAny>>,
) -> PyResult<BlockOptions> {
    let isolation = match isolation_level {
        Some(v) => crate::conn::parse_isolevel(v)?,
        None => None,
    };
    Ok(BlockOptions {
        autocommit,
        characteristics: Characteristics {
            isolation,
            readonly: readonly.then_some(true),
            deferrable: None,
        },
    })
}

/// The options of a block as one Python value, for the asyncio face's Python half
/// (`pgpool._aio`), which hands them back to the checkout unchanged.
#[pyclass(module = "pgpool._pgpool", name = "_BlockOptions", frozen)]
pub(crate) struct PyBlockOptions(pub(crate) BlockOptions);

#[pymethods]
impl PyBlockOptions {
    #[new]
    #[pyo3(signature = (*, autocommit=false, readonly=false, isolation_level=None))]
    fn new(
        autocommit: bool,
        readonly: bool,
        isolation_level: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<PyBlockOptions> {
        block_options(autocommit, readonly, isolation_level).map(PyBlockOptions)
    }
}

/// Applies the options of a fresh checkout: autocommit sessions get them as session
/// defaults (reset when the connection returns), transactions queue their BEGIN (it goes
/// out with the first statement). Shared by the sync and asyncio faces.
pub(crate) fn apply_opts(
    st: &mut State,
    o: &BlockOptions,
    intr: pgpool::Interrupt<'_>,
) -> pgpool::error::Result<()> {
    st.autocommit = o.autocommit;
    st.chars = o.characteristics;
    match o.session_defaults() {
        Some(change) => st.conn_mut()?.set_session_defaults(&change, Some(intr)),
        None if o.autocommit => Ok(()),
        None => st.prepare_begin(),
    }
}

/// Checks out, applies the options and queues BEGIN (it goes out with the first statement).
fn enter_conn(
    pool: &Bound<'_, Pool>,
    timeout: Option<f64>,
    o: &BlockOptions,
) -> PyResult<Py<Connection>> {
    let py = pool.py();
    let conn = Pool::checkout(pool, timeout, o.characteristics.readonly == Some(true))?;
    let o = *o;
    let r = if o.session_defaults().is_some() {
        // SET statements: round trips, so with the GIL released.
        conn.get().run(py, move |st, intr| apply_opts(st, &o, intr))
    } else {
        // Only state (a queued BEGIN): releasing the GIL here would cost a hand-off to
        // another thread and back (the connection is ours, its lock is free).
        conn.get()
            .locked(py, move |st| apply_opts(st, &o, &|| false))
            .map_err(|e| map_err(py, &e))
    };
    if let Err(e) = r {
        let _ = Pool::give_back(pool, conn.bind(py).as_any(), true);
        return Err(e);
    }
    Ok(conn)
}

/// COMMIT (or ROLLBACK when the block raised), then back to the pool.
fn exit_conn(pool: &Bound<'_, Pool>, conn: &Py<Connection>, ok: bool) -> PyResult<()> {
    let py = pool.py();
    let c = conn.get();
    if !c.is_closed() && c.end_block_without_io() {
        return Ok(());
    }
    if !c.is_closed() {
        if let Some(r) = finish_and_return(py, c, ok) {
            return r;
        }
    }
    let r = if c.is_closed() {
        Ok(())
    } else {
        c.run(py, |st, intr| st.end_block(ok, Some(intr)))
    };
    let back = Pool::give_back(pool, conn.bind(py).as_any(), false);
    r?;
    // A connection closed inside the block was already discarded: nothing to report.
    match back {
        Err(e) if c.is_closed() => {
            let _ = e;
            Ok(())
        }
        other => other,
    }
}

/// The end of a `pool.cursor()` / `pool.connection()` block in one GIL-free section:
/// COMMIT (ROLLBACK) and the connection straight back to the pool, so the next waiter
/// gets it without waiting for this thread to take the GIL again (with many threads
/// that wait is most of a block). `None`: the connection is not a pooled one held here
/// (the caller takes the general path).
fn finish_and_return(py: Python<'_>, c: &Connection, ok: bool) -> Option<PyResult<()>> {
    let (out, interrupted) = crate::exit::detach(py, || {
        let hook = SignalHook::new();
        let out = c.end_pooled_block(ok, &|| hook.check());
        (out, hook.into_raised())
    });
    let (r, after) = out?;
    Some((|| {
        c.apply_after(py, after)?;
        if let Some(e) = interrupted {
            return Err(e);
        }
        r.map_err(|e| map_err(py, &e))
    })())
}

#[pymethods]
impl Pool {
    #[new]
    #[pyo3(signature = (dsn=None, *, min_size=None, lazy_min=None, max_size=None, timeout=None, max_lifetime=None, max_idle=None, pre_ping=None, max_waiting=None, leak_threshold=None, command_timeout=None, name=None, replicas=None, replica_min_size=None, replica_max_size=None, **conn_kwargs))]
    #[allow(clippy::too_many_arguments)]
    fn py_new(
        py: Python<'_>,
        dsn: Option<String>,
        min_size: Option<i64>,
        lazy_min: Option<bool>,
        max_size: Option<i64>,
        timeout: Option<f64>,
        max_lifetime: Option<f64>,
        max_idle: Option<f64>,
        pre_ping: Option<bool>,
        max_waiting: Option<i64>,
        leak_threshold: Option<f64>,
        command_timeout: Option<f64>,
        name: Option<String>,
        replicas: Option<Vec<String>>,
        replica_min_size: Option<i64>,
        replica_max_size: Option<i64>,
        conn_kwargs: Option<&Bound<'_, PyDict>>,
    ) -> PyResult<Self> {
        // `password=callable`: a provider called for each new connection.
        let mut provider = None;
        let conn_kwargs = match conn_kwargs {
            Some(k) => match k.get_item("password")? {
                Some(pw) if pw.is_callable() => {
                    let k = k.copy()?;
                    k.del_item("password")?;
                    provider = Some(password_provider(pw.unbind()));
                    Some(k)
                }
                _ => Some(k.clone()),
            },
            None => None,
        };
        let conn_kwargs = conn_kwargs.as_ref();
        let o = PoolOverrides {
            min_size: size(py, "min_size", min_size)?,
            lazy_min,
            max_size: size(py, "max_size", max_size)?,
            replica_min_size: size(py, "replica_min_size", replica_min_size)?,
            replica_max_size: size(py, "replica_max_size", replica_max_size)?,
            timeout: match timeout {
                Some(t) => Some(secs(py, "timeout", t)?),
                None => None,
            },
            max_lifetime: opt_secs(py, "max_lifetime", max_lifetime)?,
            max_idle: opt_secs(py, "max_idle", max_idle)?,
            pre_ping,
            max_waiting: size(py, "max_waiting", max_waiting)?,
            leak_threshold: opt_secs(py, "leak_threshold", leak_threshold)?,
            command_timeout: opt_secs(py, "command_timeout", command_timeout)?,
            name,
            replicas: replicas.unwrap_or_default(),
            keywords: keywords(conn_kwargs)?,
        };
        let cfg = PoolConfig::new(dsn.as_deref(), &o).map_err(|e| to_py(py, &e))?;
        let facts = Arc::new(PublicParams::new(&cfg.connect, dsn.as_deref()));
        let replica_facts = cfg
            .replicas
            .iter()
            .enumerate()
            .map(|(i, p)| {
                let given =
                    (o.replicas.len() == cfg.replicas.len()).then(|| o.replicas[i].as_str());
                Arc::new(PublicParams::new(p, given))
            })
            .collect();
        let pool = match provider {
            Some(p) => pgpool::Pool::with_password_provider(cfg, p),
            None => pgpool::Pool::new(cfg),
        }
        .map_err(|e| to_py(py, &e))?;
        Ok(Pool {
            pool,
            facts: parking_lot::Mutex::new(facts),
            replica_facts,
        })
    }

    /// Accepts and ignores the constructor's arguments, so that Python subclasses can call
    /// `super().__init__(...)`.
    #[pyo3(signature = (*_args, **_kwargs))]
    fn __init__(&self, _args: &Bound<'_, PyTuple>, _kwargs: Option<&Bound<'_, PyDict>>) {}

    /// Checks out a connection, waiting up to `timeout` seconds (default: the pool's).
    /// `readonly=True` routes the checkout to the replicas (as `pool.cursor(readonly=True)`
    /// does) and makes the connection's transactions READ ONLY.
    #[pyo3(signature = (timeout=None, *, readonly=false))]
    fn getconn(
        slf: &Bound<'_, Self>,
        timeout: Option<f64>,
        readonly: bool,
    ) -> PyResult<Py<Connection>> {
        let conn = Self::checkout(slf, timeout, readonly)?;
        if readonly {
            conn.get()
                .locked(slf.py(), |st| st.chars.readonly = Some(true));
        }
        Ok(conn)
    }

    /// Returns a connection (an open transaction is rolled back, session state reset);
    /// `close=True` discards it instead.
    #[pyo3(signature = (conn, close=false))]
    fn putconn(slf: &Bound<'_, Self>, conn: &Bound<'_, PyAny>, close: bool) -> PyResult<()> {
        Self::give_back(slf, conn, close)
    }

    /// Replaces every connection (deploys, password rotation, failovers): idle ones
    /// close now, checked-out ones when they come back (their users finish undisturbed),
    /// new ones serve checkouts meanwhile. Waits up to `timeout` seconds (`None`: until
    /// done) for the checked-out ones; `PoolTimeout` if some are still out then (they
    /// retire when they come back all the same). `timeout=0` returns at once.
    #[pyo3(signature = (timeout=None))]
    fn drain(&self, py: Python<'_>, timeout: Option<f64>) -> PyResult<()> {
        let t = timeout.map(|t| secs(py, "timeout", t)).transpose()?;
        let p = self.pool.clone();
        crate::exit::detach(py, move || p.drain(t)).map_err(|e| to_py(py, &e))
    }

    /// New connection settings for the primary (a DSN and/or libpq keywords, as the
    /// constructor takes them; the pool settings stay): new connections use them, the
    /// connections open now retire as they come back.
    #[pyo3(signature = (dsn=None, **conn_kwargs))]
    fn set_conninfo(
        &self,
        py: Python<'_>,
        dsn: Option<String>,
        conn_kwargs: Option<&Bound<'_, PyDict>>,
    ) -> PyResult<()> {
        let o = PoolOverrides {
            keywords: keywords(conn_kwargs)?,
            ..Default::default()
        };
        let cfg = PoolConfig::new(dsn.as_deref(), &o).map_err(|e| to_py(py, &e))?;
        let facts = Arc::new(PublicParams::new(&cfg.connect, dsn.as_deref()));
        self.pool
            .set_connect(cfg.connect)
            .map_err(|e| to_py(py, &e))?;
        *self.facts.lock() = facts;
        Ok(())
    }

    /// New credentials for the primary's new connections (`user`, `password`; `None`
    /// keeps the current one); the connections open now retire as they come back.
    #[pyo3(signature = (*, user=None, password=None))]
    fn set_credentials(
        &self,
        py: Python<'_>,
        user: Option<String>,
        password: Option<String>,
    ) -> PyResult<()> {
        self.pool
            .set_credentials(user, password)
            .map_err(|e| to_py(py, &e))?;
        let given = self.facts.lock().dsn.clone();
        *self.facts.lock() = Arc::new(PublicParams::new(&self.pool.connect_params(), Some(&given)));
        Ok(())
    }

    /// `with pool.cursor(...) as cur:` — checkout, BEGIN (deferred) unless autocommit,
    /// COMMIT at the end (ROLLBACK on exception), connection returned.
    #[pyo3(signature = (*, autocommit=false, readonly=false, dict_rows=false, cursor_factory=None, isolation_level=None, timeout=None))]
    #[allow(clippy::too_many_arguments)]
    fn cursor(
        slf: &Bound<'_, Self>,
        autocommit: bool,
        readonly: bool,
        dict_rows: bool,
        cursor_factory: Option<Py<PyAny>>,
        isolation_level: Option<&Bound<'_, PyAny>>,
        timeout: Option<f64>,
    ) -> PyResult<PoolCursor> {
        let py = slf.py();
        Ok(PoolCursor {
            pool: slf.clone().unbind(),
            opts: block_options(autocommit, readonly, isolation_level)?,
            dict_rows,
            cursor_factory: cursor_factory.filter(|f| !f.is_none(py)),
            timeout,
            conn: None,
            cursor: None,
        })
    }

    /// `with pool.connection() as conn:` — a pooled connection, committed (or rolled back on
    /// exception) and returned at the end of the block.
    #[pyo3(signature = (timeout=None, *, autocommit=false, readonly=false, isolation_level=None))]
    fn connection(
        slf: &Bound<'_, Self>,
        timeout: Option<f64>,
        autocommit: bool,
        readonly: bool,
        isolation_level: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<PoolConnection> {
        Ok(PoolConnection {
            pool: slf.clone().unbind(),
            opts: block_options(autocommit, readonly, isolation_level)?,
            timeout,
            conn: None,
        })
    }

    /// `async with pool.connection_async() as conn:` — `connection()` for asyncio
    /// (`pgpool._aio.AsyncPoolConnection`).
    #[pyo3(signature = (timeout=None, *, autocommit=false, readonly=false, isolation_level=None))]
    fn connection_async<'py>(
        slf: &Bound<'py, Self>,
        timeout: Option<f64>,
        autocommit: bool,
        readonly: bool,
        isolation_level: Option<&Bound<'py, PyAny>>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let py = slf.py();
        if let Some(t) = timeout {
            secs(py, "timeout", t)?;
        }
        let opts = PyBlockOptions(block_options(autocommit, readonly, isolation_level)?);
        AIO_CONNECTION
            .import(py, "pgpool._aio", "AsyncPoolConnection")?
            .call1((slf, timeout, opts))
    }

    /// `async with pool.cursor_async() as cur:` — `cursor()` for asyncio
    /// (`pgpool._aio.AsyncPoolCursor`).
    #[pyo3(signature = (*, autocommit=false, readonly=false, dict_rows=false, cursor_factory=None, isolation_level=None, timeout=None))]
    #[allow(clippy::too_many_arguments)]
    fn cursor_async<'py>(
        slf: &Bound<'py, Self>,
        autocommit: bool,
        readonly: bool,
        dict_rows: bool,
        cursor_factory: Option<Py<PyAny>>,
        isolation_level: Option<&Bound<'py, PyAny>>,
        timeout: Option<f64>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let py = slf.py();
        if let Some(t) = timeout {
            secs(py, "timeout", t)?;
        }
        let opts = PyBlockOptions(block_options(autocommit, readonly, isolation_level)?);
        let factory = cursor_factory.filter(|f| !f.is_none(py));
        AIO_CURSOR
            .import(py, "pgpool._aio", "AsyncPoolCursor")?
            .call1((slf, timeout, opts, dict_rows, factory))
    }

    /// Gauges and counters, `utilization` and the acquire-wait histogram
    /// `wait_buckets`: `[(upper_bound_ms, cumulative_count), ..., (inf, total)]`.
    fn stats<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        self.stats_dict(py)
    }

    /// This pool as a C `pgpool_pool *` (an address) for the C API exported by this
    /// same extension module (load it with `ctypes.CDLL(pgpool._pgpool.__file__)`):
    /// C calls then share this pool's limits, queue and stats. Free the handle with
    /// `pgpool_pool_free` exactly once.
    fn _c_handle(&self) -> usize {
        pgpool::handles::export_pool(self.pool.clone())
    }

    /// The stats as Prometheus text exposition (gauges, counters, the acquire-wait
    /// histogram; one `pool` label per pool, replicas included).
    fn prometheus(&self, py: Python<'_>) -> String {
        let p = self.pool.clone();
        crate::exit::detach(py, move || p.prometheus())
    }

    /// Closes the pool: later checkouts raise PoolClosed, idle connections close now,
    /// checked-out ones when returned. With `timeout`, waits up to that many seconds for
    /// them to be returned.
    #[pyo3(signature = (timeout=None))]
    fn close(&self, py: Python<'_>, timeout: Option<f64>) -> PyResult<()> {
        let wait = timeout.map(|t| secs(py, "timeout", t)).transpose()?;
        let p = self.pool.clone();
        crate::exit::detach(py, move || {
            p.close();
            if let Some(t) = wait.filter(|t| !t.is_zero()) {
                let deadline = Instant::now() + t;
                while p.stats().in_use > 0 && Instant::now() < deadline {
                    std::thread::sleep(Duration::from_millis(10));
                }
            }
        });
        Ok(())
    }

    #[getter]
    fn closed(&self) -> bool {
        self.pool.is_closed()
    }

    /// A [`Listener`](crate::listen::Listener) on `channels`: a connection of its own
    /// (not one of the pool's), to the pool's server with its settings, made again when
    /// it is lost.
    #[pyo3(signature = (*channels))]
    fn listen(
        &self,
        py: Python<'_>,
        channels: &Bound<'_, pyo3::types::PyTuple>,
    ) -> PyResult<crate::listen::Listener> {
        let channels: Vec<String> = channels.extract()?;
        crate::listen::Listener::open(py, self.pool.config().connect.clone(), channels)
    }

    /// Changes the sizes (shrinking closes idle connections; busy ones when returned).
    fn resize(&self, py: Python<'_>, min_size: i64, max_size: i64) -> PyResult<()> {
        let min = size(py, "min_size", Some(min_size))?.unwrap_or(0);
        let max = size(py, "max_size", Some(max_size))?.unwrap_or(0);
        let p = self.pool.clone();
        crate::exit::detach(py, move || p.resize(min, max)).map_err(|e| to_py(py, &e))
    }

    /// Opens `min_size` connections now, waiting up to `timeout` seconds (PoolTimeout).
    #[pyo3(signature = (timeout=30.0))]
    fn wait(&self, py: Python<'_>, timeout: f64) -> PyResult<()> {
        let t = secs(py, "timeout", timeout)?;
        let p = self.pool.clone();
        crate::exit::detach(py, move || p.wait_ready(t)).map_err(|e| to_py(py, &e))
    }

    #[getter]
    fn name(&self) -> Option<String> {
        self.pool.config().name.clone()
    }

    /// The connection target, without password.
    #[getter]
    fn dsn(&self) -> String {
        self.facts.lock().dsn.clone()
    }

    /// The configured settings (seconds for durations, `None` for never/off).
    #[getter]
    fn config<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let c = self.pool.config();
        let d = PyDict::new(py);
        d.set_item("min_size", c.min_size)?;
        d.set_item("lazy_min", c.lazy_min)?;
        d.set_item("max_size", c.max_size)?;
        d.set_item("timeout", c.timeout.as_secs_f64())?;
        d.set_item("max_lifetime", c.max_lifetime.map(|x| x.as_secs_f64()))?;
        d.set_item("max_idle", c.max_idle.map(|x| x.as_secs_f64()))?;
        d.set_item("pre_ping", c.pre_ping)?;
        d.set_item("max_waiting", c.max_waiting)?;
        d.set_item("leak_threshold", c.leak_threshold.map(|x| x.as_secs_f64()))?;
        d.set_item(
            "command_timeout",
            c.command_timeout.map(|x| x.as_secs_f64()),
        )?;
        d.set_item("name", c.name.as_deref())?;
        d.set_item("dsn", &self.facts.lock().dsn)?;
        Ok(d)
    }

    /// Gets a connection, runs `SELECT 1`: `{"ok", "latency_ms", "error", "stats"}`. Never
    /// raises for a database problem.
    #[pyo3(signature = (timeout=None))]
    fn health_check<'py>(
        slf: &Bound<'py, Self>,
        timeout: Option<f64>,
    ) -> PyResult<Bound<'py, PyDict>> {
        let py = slf.py();
        let start = Instant::now();
        let outcome: PyResult<()> = (|| {
            let conn = Self::checkout(slf, timeout, false)?;
            let r = conn
                .get()
                .run(py, |st, intr| st.conn_mut()?.check_health(Some(intr)));
            Self::give_back(slf, conn.bind(py).as_any(), false)?;
            r
        })();
        let d = PyDict::new(py);
        d.set_item("ok", outcome.is_ok())?;
        d.set_item("latency_ms", start.elapsed().as_secs_f64() * 1000.0)?;
        match outcome {
            Ok(()) => d.set_item("error", py.None())?,
            Err(e) => d.set_item("error", e.value(py).str()?)?,
        }
        d.set_item("stats", slf.get().stats_dict(py)?)?;
        Ok(d)
    }

    fn __enter__(slf: Bound<'_, Self>) -> Bound<'_, Self> {
        slf
    }

    #[pyo3(signature = (_exc_type=None, _exc_value=None, _traceback=None))]
    fn __exit__(
        &self,
        py: Python<'_>,
        _exc_type: Option<&Bound<'_, PyAny>>,
        _exc_value: Option<&Bound<'_, PyAny>>,
        _traceback: Option<&Bound<'_, PyAny>>,
    ) -> bool {
        // No timeout: nothing to validate, cannot fail.
        let _ = self.close(py, None);
        false
    }

    fn __repr__(slf: &Bound<'_, Self>) -> PyResult<String> {
        let me = slf.get();
        let s = me.pool.stats();
        let cls = slf.get_type().qualname()?;
        let name = match &me.pool.config().name {
            Some(n) => format!(" {n:?}"),
            None => String::new(),
        };
        Ok(format!(
            "<{cls}{name} {} size={}/{} in_use={}{}>",
            me.facts.lock().dsn,
            s.pool_size,
            s.pool_max,
            s.in_use,
            if me.pool.is_closed() { " closed" } else { "" }
        ))
    }
}

/// `__exit__` of `pool.cursor()` and `pool.connection()`: the block's connection (if it
/// was entered) committed, or rolled back when the block raised, and returned. Never
/// swallows the block's exception.
fn exit_block(
    py: Python<'_>,
    pool: Py<Pool>,
    conn: Option<Py<Connection>>,
    exc_type: Option<&Bound<'_, PyAny>>,
) -> PyResult<bool> {
    if let Some(conn) = conn {
        let ok = exc_type.is_none_or(|t| t.is_none());
        exit_conn(pool.bind(py), &conn, ok)?;
    }
    Ok(false)
}

/// What `pool.cursor()` returns: a context manager yielding a cursor.
#[pyclass(module = "pgpool._pgpool", name = "PoolCursor")]
pub struct PoolCursor {
    pool: Py<Pool>,
    opts: BlockOptions,
    dict_rows: bool,
    cursor_factory: Option<Py<PyAny>>,
    timeout: Option<f64>,
    conn: Option<Py<Connection>>,
    cursor: Option<Py<PyAny>>,
}

#[pymethods]
impl PoolCursor {
    fn __enter__(slf: &Bound<'_, Self>) -> PyResult<Py<PyAny>> {
        let py = slf.py();
        let (pool, timeout, factory, dict_rows) = {
            let me = slf.borrow();
            if me.conn.is_some() {
                return Err(client_error(
                    py,
                    Kind::Programming,
                    "this pool.cursor() block is already entered",
                ));
            }
            (
                me.pool.clone_ref(py),
                me.timeout,
                me.cursor_factory.as_ref().map(|f| f.clone_ref(py)),
                me.dict_rows,
            )
        };
        let pool = pool.bind(py);
        let conn = enter_conn(pool, timeout, &slf.borrow().opts)?;
        let cur: PyResult<Py<PyAny>> = match factory {
            Some(f) => f
                .bind(py)
                .call1((conn.clone_ref(py), py.None()))
                .map(Bound::unbind),
            None => {
                let mode = if dict_rows {
                    RowMode::Dict(None)
                } else {
                    RowMode::Tuple
                };
                Py::new(py, Cursor::new(Some(conn.clone_ref(py)), None, mode)).map(|c| c.into_any())
            }
        };
        let cur = match cur {
            Ok(c) => c,
            Err(e) => {
                let _ = Pool::give_back(pool, conn.bind(py).as_any(), true);
                return Err(e);
            }
        };
        let mut me = slf.borrow_mut();
        me.conn = Some(conn);
        me.cursor = Some(cur.clone_ref(py));
        Ok(cur)
    }

    #[pyo3(signature = (exc_type=None, _exc_value=None, _traceback=None))]
    fn __exit__(
        slf: &Bound<'_, Self>,
        exc_type: Option<&Bound<'_, PyAny>>,
        _exc_value: Option<&Bound<'_, PyAny>>,
        _traceback: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<bool> {
        let py = slf.py();
        let (pool, conn) = {
            let mut me = slf.borrow_mut();
            me.cursor = None;
            (me.pool.clone_ref(py), me.conn.take())
        };
        exit_block(py, pool, conn, exc_type)
    }
}

/// What `pool.connection()` returns: a context manager yielding a pooled connection.
#[pyclass(module = "pgpool._pgpool", name = "PoolConnection")]
pub struct PoolConnection {
    pool: Py<Pool>,
    opts: BlockOptions,
    timeout: Option<f64>,
    conn: Option<Py<Connection>>,
}

#[pymethods]
impl PoolConnection {
    fn __enter__(slf: &Bound<'_, Self>) -> PyResult<Py<Connection>> {
        let py = slf.py();
        let (pool, timeout) = {
            let me = slf.borrow();
            if me.conn.is_some() {
                return Err(client_error(
                    py,
                    Kind::Programming,
                    "this pool.connection() block is already entered",
                ));
            }
            (me.pool.clone_ref(py), me.timeout)
        };
        let conn = enter_conn(pool.bind(py), timeout, &slf.borrow().opts)?;
        slf.borrow_mut().conn = Some(conn.clone_ref(py));
        Ok(conn)
    }

    #[pyo3(signature = (exc_type=None, _exc_value=None, _traceback=None))]
    fn __exit__(
        slf: &Bound<'_, Self>,
        exc_type: Option<&Bound<'_, PyAny>>,
        _exc_value: Option<&Bound<'_, PyAny>>,
        _traceback: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<bool> {
        let py = slf.py();
        let (pool, conn) = {
            let mut me = slf.borrow_mut();
            (me.pool.clone_ref(py), me.conn.take())
        };
        exit_block(py, pool, conn, exc_type)
    }
}
