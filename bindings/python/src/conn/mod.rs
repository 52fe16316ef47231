//! `Connection`: a DB-API connection with psycopg2's semantics over one core connection
//! (pooled or not), kept behind a mutex that is only locked with the GIL released.

use std::sync::atomic::{AtomicU8, Ordering};

use parking_lot::Mutex;
use pyo3::exceptions::{PyTypeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyList, PyString, PyTuple};

use pgpool::conn::{CancelToken, Notice};
use pgpool::sql::Quoting;
use pgpool::transaction::{DefaultsChange, Isolation};
use pgpool::{Interrupt, PooledConnection, QueryResult, TxStatus};

use crate::errors::{client_error, to_py, Kind};

mod args;
mod compat;
mod facts;
mod notify;
mod signal;
mod state;
mod tpc;
mod waiting;

use args::parse_onoff;
pub(crate) use args::{map_err, map_err_q, parse_isolevel, tx_status_code};
pub(crate) use facts::{ConnectionInfo, PublicParams};
pub(crate) use signal::SignalHook;
pub(crate) use state::{CallOutcome, ConnSlot, State};
pub(crate) use waiting::{get_wait_callback, set_wait_callback};

/// What a connection object knows of its server connection, set once connected.
struct Ident {
    cancel: CancelToken,
    pid: i32,
    server_version: i32,
}

/// The facts of a connection object that is not connected (yet).
static NO_FACTS: PublicParams = PublicParams {
    dsn: String::new(),
    host: String::new(),
    port: pgpool::config::DEFAULT_PORT,
    user: String::new(),
    dbname: String::new(),
    options: String::new(),
    password: None,
};

/// A DB-API 2.0 connection with psycopg2's semantics. Subclassable with psycopg2's
/// constructor (`connection(dsn, async_=0)`): `__new__` takes any arguments and makes an
/// object that is not connected; `__init__` connects. The pool makes its objects
/// connected, without `__init__`.
#[pyclass(
    frozen,
    subclass,
    weakref,
    module = "pgpool._pgpool",
    name = "Connection"
)]
pub struct Connection {
    pub(crate) state: Mutex<State>,
    /// 0 open, 1 closed (or returned to its pool, or not connected), 2 broken (psycopg2).
    closed: AtomicU8,
    ident: std::sync::OnceLock<Ident>,
    /// The pool this connection belongs to (the Python `Pool` object), if any.
    pub(crate) pool: Option<Py<PyAny>>,
    /// psycopg2's `connection.notices`, created on first use (most connections never
    /// see a notice; a list per checkout is not free).
    /// Assignable (`conn.notices = deque()`): any object with `append`. Locked only with
    /// the GIL held, briefly.
    notices: Mutex<Option<Py<PyAny>>>,
    /// psycopg2's `notifies` (assignable like `notices`).
    notifies: Mutex<Option<Py<PyAny>>>,
    cursor_factory: Mutex<Option<Py<PyAny>>>,
    facts: std::sync::OnceLock<std::sync::Arc<PublicParams>>,
    /// Typecasters registered for this connection (`register_type(t, conn)`).
    casters: Mutex<std::collections::HashMap<u32, Py<PyAny>>>,
    /// `casters` is not empty (checked per statement without taking its lock).
    any_caster: std::sync::atomic::AtomicBool,
    /// Green and asynchronous mode ([`waiting`]).
    wait: std::sync::Arc<waiting::Waiting>,
    /// The state's `mark` (shared: read without the state lock).
    mark: std::sync::Arc<std::sync::atomic::AtomicU64>,
    /// libpq's `PQerrorMessage`: the error of the last call, as `pgerror` has it (cleared
    /// by a call that succeeds). `last_failed` says whether there is one (checked without
    /// the lock).
    last_error: Mutex<Option<String>>,
    last_failed: std::sync::atomic::AtomicBool,
}

impl Connection {
    pub(crate) fn new(
        py: Python<'_>,
        holder: ConnSlot,
        pool: Option<Py<PyAny>>,
        facts: std::sync::Arc<PublicParams>,
    ) -> PyResult<Connection> {
        Self::from_state(py, State::new(holder), pool, facts)
    }

    /// A connection object over a state prepared elsewhere (the asyncio checkout sets
    /// the transaction options on a runtime thread before the object exists).
    pub(crate) fn from_state(
        py: Python<'_>,
        state: State,
        pool: Option<Py<PyAny>>,
        facts: std::sync::Arc<PublicParams>,
    ) -> PyResult<Connection> {
        let (cancel, pid, server_version) = match &state.holder {
            ConnSlot::Plain(c) => (c.cancel_token(), c.backend_pid(), c.server_version()),
            ConnSlot::Pooled(c) => (c.cancel_token(), c.backend_pid(), c.server_version()),
            _ => {
                return Err(client_error(
                    py,
                    Kind::Interface,
                    "connection already closed",
                ))
            }
        };
        let c = Connection::blank(state, pool);
        c.closed.store(0, Ordering::Release);
        let _ = c.ident.set(Ident {
            cancel,
            pid,
            server_version,
        });
        let _ = c.facts.set(facts);
        Ok(c)
    }

    /// An object without a server connection (what `__new__` makes; closed).
    fn blank(state: State, pool: Option<Py<PyAny>>) -> Connection {
        Connection {
            mark: state.mark.clone(),
            last_error: Mutex::new(None),
            last_failed: std::sync::atomic::AtomicBool::new(false),
            state: Mutex::new(state),
            closed: AtomicU8::new(1),
            ident: std::sync::OnceLock::new(),
            pool,
            notices: Mutex::new(None),
            notifies: Mutex::new(None),
            cursor_factory: Mutex::new(None),
            facts: std::sync::OnceLock::new(),
            casters: Mutex::new(std::collections::HashMap::new()),
            any_caster: std::sync::atomic::AtomicBool::new(false),
            wait: waiting::Waiting::new(),
        }
    }

    /// The server process id (0 before `__init__`).
    pub(crate) fn backend_pid(&self) -> i32 {
        self.ident.get().map_or(0, |i| i.pid)
    }

    /// The server version as libpq's `PQserverVersion` (0 before `__init__`).
    pub(crate) fn server_version_num(&self) -> i32 {
        self.ident.get().map_or(0, |i| i.server_version)
    }

    /// The connection's facts (empty before `__init__`).
    pub(crate) fn facts(&self) -> &PublicParams {
        self.facts.get().map_or(&NO_FACTS, |f| f)
    }

    /// The facts of a connected object (`None` for one `__new__` made that `__init__`
    /// never connected, or whose connecting failed).
    pub(crate) fn facts_if_connected(&self) -> Option<&PublicParams> {
        self.ident.get()?;
        self.facts.get().map(|f| &**f)
    }

    /// psycopg2's `connection.__init__(dsn, async_=0)`: connects an object `__new__`
    /// made. The DSN (password masked) is set first, so that a subclass sees it even
    /// when connecting fails.
    fn init_connect(&self, py: Python<'_>, dsn: &str, asynchronous: bool) -> PyResult<()> {
        if self.ident.get().is_some() || self.facts.get().is_some() {
            return Err(client_error(
                py,
                Kind::Interface,
                "the connection is already initialised",
            ));
        }
        let overrides = pgpool::config::PoolOverrides::default();
        let cfg = match pgpool::PoolConfig::new(Some(dsn), &overrides) {
            Ok(cfg) => cfg,
            Err(e) => {
                let _ = self.facts.set(std::sync::Arc::new(PublicParams {
                    dsn: pgpool::config::redact_dsn(dsn),
                    host: String::new(),
                    port: pgpool::config::DEFAULT_PORT,
                    user: String::new(),
                    dbname: String::new(),
                    options: String::new(),
                    password: None,
                }));
                return Err(to_py(py, &e));
            }
        };
        let _ = self.facts.set(std::sync::Arc::new(PublicParams::new(
            &cfg.connect,
            Some(dsn),
        )));
        let params = cfg.connect.clone();
        if asynchronous {
            return self.connect_async(py, params);
        }
        let c = crate::exit::detach(py, move || pgpool::Connection::connect_checked(&params))
            .map_err(|e| to_py(py, &e))?;
        self.install_connected(py, c, false);
        Ok(())
    }

    /// Puts a new core connection in place (`__init__`, an asynchronous connect's end).
    fn install_connected(&self, py: Python<'_>, c: pgpool::Connection, autocommit: bool) {
        let ident = Ident {
            cancel: c.cancel_token(),
            pid: c.backend_pid(),
            server_version: c.server_version(),
        };
        let old = self.locked(py, move |st| {
            if autocommit {
                st.autocommit = true;
            }
            std::mem::replace(&mut st.holder, ConnSlot::Plain(Box::new(c)))
        });
        drop(old);
        let _ = self.ident.set(ident);
        self.closed.store(0, Ordering::Release);
    }

    /// Runs `f` on the state. Never waits for the lock while holding the GIL: the thread
    /// holding it may be waiting for the GIL (its interrupt hook).
    pub(crate) fn locked<T: Send>(
        &self,
        py: Python<'_>,
        f: impl FnOnce(&mut State) -> T + Send,
    ) -> T {
        if let Some(mut g) = self.state.try_lock() {
            return f(&mut g);
        }
        crate::exit::detach(py, || f(&mut self.state.lock()))
    }

    /// psycopg2's `conn->mark` (see [`State::mark`]).
    pub(crate) fn mark(&self, py: Python<'_>) -> u64 {
        let _ = py;
        self.mark.load(Ordering::Acquire)
    }

    /// The server's transaction status as of the last message (`Unknown` when closed or
    /// broken).
    pub(crate) fn tx_status(&self, py: Python<'_>) -> TxStatus {
        self.locked(py, |st| {
            st.conn_ref()
                .map(|c| c.transaction_status())
                .unwrap_or(TxStatus::Unknown)
        })
    }

    /// How the values of `query` are quoted on this connection: it follows the server's
    /// `standard_conforming_strings` (see `pgpool::sql::Quoting`). Standard when closed.
    pub(crate) fn quoting_for(&self, py: Python<'_>, query: &str) -> Quoting {
        let standard = self.locked(py, |st| {
            st.conn_ref()
                .is_none_or(|c| c.standard_conforming_strings())
        });
        Quoting::for_query(standard, query)
    }

    /// The connection's quoting for a literal on its own (no statement around it).
    pub(crate) fn quoting(&self, py: Python<'_>) -> Quoting {
        let standard = self.locked(py, |st| {
            st.conn_ref()
                .is_none_or(|c| c.standard_conforming_strings())
        });
        Quoting::of_setting(standard)
    }

    /// The quoting for statements rendered ahead and sent together (`executemany`):
    /// one of them may change `standard_conforming_strings` before the next is read, so
    /// [`Quoting::Portable`] unless the setting is already off.
    pub(crate) fn quoting_for_batch(&self, py: Python<'_>) -> Quoting {
        match self.quoting(py) {
            Quoting::Escape => Quoting::Escape,
            _ => Quoting::Portable,
        }
    }

    /// True in autocommit mode (named cursors without HOLD need a transaction).
    pub(crate) fn autocommit(&self, py: Python<'_>) -> bool {
        self.locked(py, |st| st.autocommit)
    }

    pub(crate) fn is_closed(&self) -> bool {
        self.closed.load(Ordering::Acquire) != 0
    }

    pub(crate) fn mark_closed(&self, v: u8) {
        self.closed.store(v, Ordering::Release);
    }

    pub(crate) fn check_open(&self, py: Python<'_>) -> PyResult<()> {
        if self.is_closed() {
            Err(client_error(
                py,
                Kind::Interface,
                "connection already closed",
            ))
        } else {
            Ok(())
        }
    }

    /// Runs `f` on the locked state with the GIL released. The interrupt hook checks for
    /// Ctrl-C (the core then cancels the statement server-side); a KeyboardInterrupt seen
    /// there is raised once the statement has returned, whatever its outcome.
    pub(crate) fn with_state<T, F>(&self, py: Python<'_>, f: F) -> PyResult<T>
    where
        T: Send,
        F: FnOnce(&mut State, Interrupt<'_>) -> T + Send,
    {
        // Green mode, as psycopg2 has it: the GIL stays held (the socket is used without
        // blocking, and the callback, Python code that may switch to another coroutine
        // on this thread, is called where the read or write would block).
        if let Some(hook) = self.green_hook(py) {
            if let Some(mut st) = self.state.try_lock() {
                self.install_hook(&mut st, Some(hook));
                // The hook points at this object: it never stays on the core connection
                // (which may go to another object's user), not even through a panic.
                let out = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                    f(&mut st, &|| false)
                }));
                self.install_hook(&mut st, None);
                let out = out.unwrap_or_else(|p| std::panic::resume_unwind(p));
                let after = st.take_after();
                drop(st);
                if let Some(e) = self.callback_raised(py) {
                    return Err(e);
                }
                self.apply_after(py, after)?;
                return Ok(out);
            }
            // Busy on another thread: wait for it without the GIL, then block as usual.
        }
        let (out, after, interrupted) = crate::exit::detach(py, || {
            let hook = SignalHook::new();
            let (out, after) = self.locked_run(f, &|| hook.check());
            (out, after, hook.into_raised())
        });
        self.apply_after(py, after)?;
        if let Some(e) = interrupted {
            return Err(e);
        }
        Ok(out)
    }

    /// The GIL-free half of [`with_state`](Self::with_state), shared with the asyncio
    /// face (which calls it on a runtime blocking thread): runs `f` on the locked state
    /// and collects the notices and whether the connection broke.
    pub(crate) fn locked_run<T, F>(&self, f: F, intr: Interrupt<'_>) -> (T, CallOutcome)
    where
        F: FnOnce(&mut State, Interrupt<'_>) -> T,
    {
        let mut st = self.state.lock();
        let out = f(&mut st, intr);
        let after = st.take_after();
        drop(st);
        (out, after)
    }

    /// COMMIT (ROLLBACK) and the pooled connection taken out, under one lock, for
    /// [`exit_conn`](crate::pool): GIL-free. `None` when it holds no pooled connection.
    pub(crate) fn finish_and_take(
        &self,
        commit: bool,
        intr: Interrupt<'_>,
    ) -> Option<(pgpool::error::Result<()>, CallOutcome, PooledConnection)> {
        let mut st = self.state.lock();
        if !matches!(st.holder, ConnSlot::Pooled(_)) {
            return None;
        }
        let r = st.end_block(commit, Some(intr));
        let after = st.take_after();
        let ConnSlot::Pooled(pc) = std::mem::replace(&mut st.holder, ConnSlot::Returned) else {
            unreachable!("checked above");
        };
        st.in_tx = false;
        drop(st);
        Some((r, after, pc))
    }

    /// The end of a block that needs no round trip — no transaction reached the server
    /// (none was started, or its BEGIN is still queued), the session is clean — done on
    /// the calling thread, GIL held: the connection goes back to the pool at once. False:
    /// not the case (or the connection is busy); the caller ends the block with
    /// [`Connection::end_pooled_block`] without the GIL. Shared by the sync and asyncio
    /// faces.
    pub(crate) fn end_block_without_io(&self) -> bool {
        let Some(mut st) = self.state.try_lock() else {
            return false;
        };
        let quiet = match &st.holder {
            ConnSlot::Pooled(pc) => !pc.release_needs_io(),
            ConnSlot::Returned | ConnSlot::Closed => true,
            ConnSlot::Plain(_) => false,
        };
        if !quiet {
            return false;
        }
        // No round trip: at most a queued BEGIN to drop.
        let _ = st.finish(false, None);
        st.in_tx = false;
        let h = std::mem::replace(&mut st.holder, ConnSlot::Returned);
        drop(st);
        if !self.is_closed() {
            self.mark_closed(1);
        }
        if let ConnSlot::Pooled(pc) = h {
            pc.release();
        }
        true
    }

    /// The end of a block whose connection broke or was closed inside it (the error was
    /// raised there): no transaction to end; a pooled connection still held goes back
    /// (the pool discards a broken one). May do I/O: call without the GIL.
    pub(crate) fn release_closed_block(&self) {
        let h = std::mem::replace(&mut self.state.lock().holder, ConnSlot::Returned);
        if let ConnSlot::Pooled(pc) = h {
            pc.release();
        }
    }

    /// The end of a pooled block without the GIL, shared by the sync and asyncio faces:
    /// COMMIT (`commit`) or ROLLBACK with the session reset ([`State::end_block`]), the
    /// connection straight back to the pool (the next waiter gets it at once), and the
    /// object marked closed (2 when the connection broke, else 1: psycopg2's putconn).
    /// `None` when the object holds no pooled connection (closed or returned inside the
    /// block: nothing to end). The caller applies the [`After`] with the GIL.
    pub(crate) fn end_pooled_block(
        &self,
        commit: bool,
        intr: Interrupt<'_>,
    ) -> Option<(pgpool::error::Result<()>, CallOutcome)> {
        let (r, after, pc) = self.finish_and_take(commit, intr)?;
        pc.release();
        self.mark_closed(if after.broken() { 2 } else { 1 });
        Some((r, after))
    }

    /// The Python half: marks a broken connection, appends the notices.
    pub(crate) fn apply_after(&self, py: Python<'_>, after: CallOutcome) -> PyResult<()> {
        if after.broken && !self.is_closed() {
            self.mark_closed(2);
        }
        if !after.notices.is_empty() {
            self.add_notices(py, &after.notices)?;
        }
        if !after.notifications.is_empty() {
            self.add_notifications(py, after.notifications)?;
        }
        Ok(())
    }

    /// [`with_state`](Self::with_state) for a core call, mapping its error.
    pub(crate) fn run<T, F>(&self, py: Python<'_>, f: F) -> PyResult<T>
    where
        T: Send,
        F: FnOnce(&mut State, Interrupt<'_>) -> pgpool::error::Result<T> + Send,
    {
        let r = self.with_state(py, f)?.map_err(|e| map_err(py, &e));
        self.note_outcome(py, r)
    }

    /// Records the error of a call for `info.error_message` (a success clears it).
    pub(crate) fn note_outcome<T>(&self, py: Python<'_>, r: PyResult<T>) -> PyResult<T> {
        match &r {
            Ok(_) => {
                if self.last_failed.swap(false, Ordering::AcqRel) {
                    *self.last_error.lock() = None;
                }
            }
            Err(e) => {
                let v = e.value(py);
                let text = match v.getattr("pgerror") {
                    Ok(p) if !p.is_none() => p.extract::<String>().ok(),
                    _ => None,
                }
                .or_else(|| v.str().ok().map(|s| format!("{s}\n")));
                *self.last_error.lock() = text;
                self.last_failed.store(true, Ordering::Release);
            }
        }
        r
    }

    /// libpq's `PQerrorMessage` (`None` when the last call succeeded).
    pub(crate) fn error_message(&self) -> Option<String> {
        if self.is_closed() && self.facts_if_connected().is_none() {
            return Some("connection pointer is NULL\n".into());
        }
        self.last_error.lock().clone()
    }

    /// Runs one statement (simple protocol; a pending BEGIN rides along).
    pub(crate) fn execute(&self, py: Python<'_>, sql: &str) -> PyResult<QueryResult> {
        self.execute_opt(py, sql, true)
    }

    /// [`execute`](Self::execute), `begin`: see [`State::statement`].
    pub(crate) fn execute_opt(
        &self,
        py: Python<'_>,
        sql: &str,
        begin: bool,
    ) -> PyResult<QueryResult> {
        // User typecasters run at fetch time, with the cursor: a result with a column
        // of a type that has one is not decoded early (the others still are).
        let cast_oids = self.caster_oids();
        let r = self
            .with_state(py, |st, intr| {
                st.statement(sql, intr, Some(&cast_oids), begin)
            })?
            .map_err(|e| map_err_q(py, &e, Some(sql)));
        self.note_outcome(py, r)
    }

    /// The `notices` object, a new list on first use.
    pub(super) fn notices_obj(&self, py: Python<'_>) -> Py<PyAny> {
        self.notices
            .lock()
            .get_or_insert_with(|| PyList::empty(py).into_any().unbind())
            .clone_ref(py)
    }

    pub(super) fn replace_notices(&self, value: Py<PyAny>) {
        *self.notices.lock() = Some(value);
    }

    fn add_notices(&self, py: Python<'_>, notices: &[Notice]) -> PyResult<()> {
        let obj = self.notices_obj(py);
        let obj = obj.bind(py);
        if obj.is_none() {
            return Ok(());
        }
        if let Ok(list) = obj.cast::<PyList>() {
            for n in notices {
                list.append(format!("{}:  {}\n", n.severity, n.message))?;
            }
            // psycopg2 keeps the last 50 of a list.
            let len = list.len();
            if len > 50 {
                list.del_slice(0, len - 50)?;
            }
            return Ok(());
        }
        for n in notices {
            obj.call_method1("append", (format!("{}:  {}\n", n.severity, n.message),))?;
        }
        Ok(())
    }

    fn commit_or_rollback(&self, py: Python<'_>, commit: bool) -> PyResult<()> {
        self.check_open(py)?;
        self.check_not_async(py, if commit { "commit" } else { "rollback" })?;
        self.run(py, move |st, intr| {
            st.tpc
                .check_plain_end(if commit { "commit" } else { "rollback" })?;
            st.finish(commit, Some(intr))
        })
    }

    /// psycopg2's `conn_set_session`.
    fn set_session_inner(
        &self,
        py: Python<'_>,
        autocommit: Option<bool>,
        change: DefaultsChange,
    ) -> PyResult<()> {
        self.check_open(py)?;
        self.check_not_async(py, "set_session")?;
        let in_tx = self.locked(py, |st| st.in_tx);
        if in_tx {
            return Err(client_error(
                py,
                Kind::Programming,
                "set_session cannot be used inside a transaction",
            ));
        }
        self.run(py, move |st, intr| -> pgpool::error::Result<()> {
            let want_ac = autocommit.unwrap_or(st.autocommit);
            let (send, chars) =
                pgpool::transaction::set_session(st.autocommit, &st.chars, want_ac, &change);
            st.conn_mut()?.set_session_defaults(&send, Some(intr))?;
            st.autocommit = want_ac;
            st.chars = chars;
            Ok(())
        })
    }

    /// Takes the core connection out (for `putconn`), leaving `Returned`.
    pub(crate) fn take_holder(&self, py: Python<'_>, to: ConnSlot) -> ConnSlot {
        let h = self.locked(py, |st| {
            st.in_tx = false;
            std::mem::replace(&mut st.holder, to)
        });
        if !self.is_closed() {
            self.mark_closed(1);
        }
        h
    }

    pub(crate) fn register_casters(&self, py: Python<'_>, oids: &[u32], caster: &Py<PyAny>) {
        let mut m = self.casters.lock();
        for o in oids {
            m.insert(*o, caster.clone_ref(py));
        }
        self.any_caster.store(true, Ordering::Release);
    }

    pub(crate) fn has_casters(&self) -> bool {
        self.any_caster.load(Ordering::Acquire)
    }

    /// The type OIDs with a typecaster registered on this connection or globally.
    pub(crate) fn caster_oids(&self) -> Vec<u32> {
        let mut oids = crate::casters::global_oids();
        if self.has_casters() {
            oids.extend(self.casters.lock().keys().copied());
        }
        oids
    }

    /// The caster registered on this connection for `oid`.
    pub(crate) fn caster(&self, py: Python<'_>, oid: u32) -> Option<Py<PyAny>> {
        self.casters.lock().get(&oid).map(|c| c.clone_ref(py))
    }

    pub(crate) fn default_cursor_factory(&self, py: Python<'_>) -> Option<Py<PyAny>> {
        self.cursor_factory.lock().as_ref().map(|f| f.clone_ref(py))
    }
    /// `__init__`'s arguments: the DSN and whether the connection is asynchronous
    /// (`async_`, or psycopg2's old `async` keyword).
    fn init_args(
        dsn: &Bound<'_, PyAny>,
        async_: Option<&Bound<'_, PyAny>>,
        kwargs: Option<&Bound<'_, PyDict>>,
    ) -> PyResult<(String, bool)> {
        let mut asynchronous = match async_ {
            Some(a) => a.is_truthy()?,
            None => false,
        };
        if let Some(kw) = kwargs {
            for (k, v) in kw.iter() {
                let k: String = k.extract()?;
                if k != "async" {
                    return Err(PyTypeError::new_err(format!(
                        "'{k}' is an invalid keyword argument for this function"
                    )));
                }
                asynchronous |= v.is_truthy()?;
            }
        }
        let Ok(dsn) = dsn.cast::<PyString>() else {
            return Err(PyTypeError::new_err(format!(
                "argument 1 must be str, not {}",
                dsn.get_type().name()?
            )));
        };
        Ok((dsn.to_str()?.to_owned(), asynchronous))
    }
}

impl Drop for Connection {
    /// A connection dropped without `putconn()`/`close()` goes back to its pool (rolled
    /// back, reset) or is closed; that may take a round trip, so not with the GIL held.
    fn drop(&mut self) {
        let h = std::mem::replace(&mut self.state.get_mut().holder, ConnSlot::Closed);
        if matches!(h, ConnSlot::Plain(_) | ConnSlot::Pooled(_)) {
            Python::attach(|py| crate::exit::detach(py, move || drop(h)));
        }
    }
}

#[pymethods]
impl Connection {
    /// `Connection(dsn, async_=0)`: takes any arguments (a subclass's `__init__` may take
    /// others, and connects); `Connection` itself, whose `__init__` Python does not call,
    /// connects here.
    #[new]
    #[classmethod]
    #[pyo3(signature = (*args, **kwargs))]
    fn py_new(
        cls: &Bound<'_, pyo3::types::PyType>,
        args: &Bound<'_, PyTuple>,
        kwargs: Option<&Bound<'_, PyDict>>,
    ) -> PyResult<Connection> {
        let py = cls.py();
        let c = Connection::blank(State::new(ConnSlot::Closed), None);
        if !cls.is(py.get_type::<Connection>()) {
            return Ok(c);
        }
        let kw = PyDict::new(py);
        if let Some(k) = kwargs {
            kw.update(k.as_mapping())?;
        }
        let dsn = match args.get_item(0) {
            Ok(d) => d,
            Err(_) => match kw.get_item("dsn")? {
                Some(d) => {
                    kw.del_item("dsn")?;
                    d
                }
                None => {
                    return Err(PyTypeError::new_err(
                        "Connection() missing required argument 'dsn' (pos 1)",
                    ))
                }
            },
        };
        let async_ = match args.get_item(1) {
            Ok(a) => Some(a),
            Err(_) => {
                let a = kw.get_item("async_")?;
                if a.is_some() {
                    kw.del_item("async_")?;
                }
                a
            }
        };
        let (dsn, asynchronous) = Self::init_args(&dsn, async_.as_ref(), Some(&kw))?;
        c.init_connect(py, &dsn, asynchronous)?;
        Ok(c)
    }

    /// psycopg2's `connection.__init__(dsn, async_=0)`: connects to `dsn` (a libpq
    /// connection string or URI; empty: from the environment); `async_`: an
    /// asynchronous connection (`poll()` says when it is established).
    #[pyo3(signature = (dsn, async_=None, **kwargs))]
    fn __init__(
        slf: &Bound<'_, Self>,
        dsn: &Bound<'_, PyAny>,
        async_: Option<&Bound<'_, PyAny>>,
        kwargs: Option<&Bound<'_, PyDict>>,
    ) -> PyResult<()> {
        let py = slf.py();
        let (dsn, asynchronous) = Self::init_args(dsn, async_, kwargs)?;
        Connection::set_object(slf);
        slf.get().init_connect(py, &dsn, asynchronous)
    }

    /// Commits the current transaction (nothing to do when none was started).
    fn commit(&self, py: Python<'_>) -> PyResult<()> {
        self.commit_or_rollback(py, true)
    }

    /// Rolls the current transaction back (no round trip when nothing was sent yet).
    fn rollback(&self, py: Python<'_>) -> PyResult<()> {
        self.commit_or_rollback(py, false)
    }

    /// Closes the connection (a pooled one is discarded: the pool opens a replacement).
    fn close(&self, py: Python<'_>) {
        if self.closed.load(Ordering::Acquire) == 1 {
            return;
        }
        let h = self.take_holder(py, ConnSlot::Closed);
        // A broken connection (2) is closed (1) now, as psycopg2's close() makes it.
        self.mark_closed(1);
        self.end_async();
        crate::exit::detach(py, move || match h {
            ConnSlot::Plain(c) => c.close(),
            ConnSlot::Pooled(c) => c.discard(),
            _ => {}
        });
    }

    /// 0 open, 1 closed, 2 broken (psycopg2).
    #[getter]
    fn closed(&self) -> u8 {
        self.closed.load(Ordering::Acquire)
    }

    #[getter]
    fn get_autocommit(&self, py: Python<'_>) -> bool {
        self.locked(py, |st| st.autocommit)
    }

    #[setter]
    fn set_autocommit(&self, py: Python<'_>, value: &Bound<'_, PyAny>) -> PyResult<()> {
        let v = value.is_truthy()?;
        self.set_session_inner(py, Some(v), DefaultsChange::default())
    }

    #[getter]
    fn get_isolation_level(&self, py: Python<'_>) -> Option<u8> {
        self.locked(py, |st| st.chars.isolation.map(Isolation::number))
    }

    #[setter]
    fn set_isolation_level(&self, py: Python<'_>, value: &Bound<'_, PyAny>) -> PyResult<()> {
        let l = parse_isolevel(value)?;
        let change = DefaultsChange {
            isolation: Some(l),
            ..Default::default()
        };
        self.set_session_inner(py, None, change)
    }

    /// Legacy psycopg2 method: rolls back, then 0 = autocommit, 1..4 = a level, None = default.
    #[pyo3(name = "set_isolation_level")]
    fn set_isolation_level_method(&self, py: Python<'_>, level: &Bound<'_, PyAny>) -> PyResult<()> {
        self.check_open(py)?;
        let lvl: Option<i64> = if level.is_none() {
            None
        } else {
            Some(level.extract()?)
        };
        if let Some(l) = lvl {
            if !(0..=4).contains(&l) {
                return Err(PyValueError::new_err(
                    "isolation level must be between 0 and 4",
                ));
            }
        }
        self.commit_or_rollback(py, false)?;
        let isolation = |l| DefaultsChange {
            isolation: Some(l),
            ..Default::default()
        };
        match lvl {
            Some(0) => self.set_session_inner(py, Some(true), DefaultsChange::default()),
            Some(l) => {
                self.set_session_inner(py, Some(false), isolation(Isolation::from_number(l)))
            }
            None => self.set_session_inner(py, Some(false), isolation(None)),
        }
    }

    #[getter]
    fn get_readonly(&self, py: Python<'_>) -> Option<bool> {
        self.locked(py, |st| st.chars.readonly)
    }

    #[setter]
    fn set_readonly(&self, py: Python<'_>, value: &Bound<'_, PyAny>) -> PyResult<()> {
        let change = DefaultsChange {
            readonly: Some(parse_onoff(value)?),
            ..Default::default()
        };
        self.set_session_inner(py, None, change)
    }

    #[getter]
    fn get_deferrable(&self, py: Python<'_>) -> Option<bool> {
        self.locked(py, |st| st.chars.deferrable)
    }

    #[setter]
    fn set_deferrable(&self, py: Python<'_>, value: &Bound<'_, PyAny>) -> PyResult<()> {
        let change = DefaultsChange {
            deferrable: Some(parse_onoff(value)?),
            ..Default::default()
        };
        self.set_session_inner(py, None, change)
    }

    /// psycopg2's `set_session()`; `None` leaves a setting unchanged.
    #[pyo3(signature = (isolation_level=None, readonly=None, deferrable=None, autocommit=None))]
    fn set_session(
        &self,
        py: Python<'_>,
        isolation_level: Option<&Bound<'_, PyAny>>,
        readonly: Option<&Bound<'_, PyAny>>,
        deferrable: Option<&Bound<'_, PyAny>>,
        autocommit: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<()> {
        fn nn<'a, 'py>(o: Option<&'a Bound<'py, PyAny>>) -> Option<&'a Bound<'py, PyAny>> {
            o.filter(|v| !v.is_none())
        }
        let iso = match nn(isolation_level) {
            Some(v) => Some(parse_isolevel(v)?),
            None => None,
        };
        let ro = match nn(readonly) {
            Some(v) => Some(parse_onoff(v)?),
            None => None,
        };
        let de = match nn(deferrable) {
            Some(v) => Some(parse_onoff(v)?),
            None => None,
        };
        let ac = match nn(autocommit) {
            Some(v) => Some(v.is_truthy()?),
            None => None,
        };
        let change = DefaultsChange {
            isolation: iso,
            readonly: ro,
            deferrable: de,
        };
        self.set_session_inner(py, ac, change)
    }

    /// The server version as libpq's `PQserverVersion` (150018 for 15.18).
    #[getter]
    fn server_version(&self) -> i32 {
        self.server_version_num()
    }

    #[getter]
    fn protocol_version(&self) -> i32 {
        3
    }

    fn get_backend_pid(&self, py: Python<'_>) -> PyResult<i32> {
        self.check_open(py)?;
        Ok(self.backend_pid())
    }

    /// `TRANSACTION_STATUS_*` of the server (a BEGIN still queued counts as idle, as the
    /// server has not seen it).
    fn get_transaction_status(&self, py: Python<'_>) -> i32 {
        if self.executing() {
            return 1; // TRANSACTION_STATUS_ACTIVE: a statement is underway
        }
        self.locked(py, |st| {
            st.conn_ref()
                .map(|c| tx_status_code(c.transaction_status()))
                .unwrap_or(4)
        })
    }

    fn get_parameter_status(&self, py: Python<'_>, parameter: &str) -> Option<String> {
        self.locked(py, |st| {
            st.conn_ref()
                .and_then(|c| c.parameter(parameter).map(str::to_owned))
        })
    }

    fn get_dsn_parameters<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let d = PyDict::new(py);
        d.set_item("user", &self.facts().user)?;
        d.set_item("dbname", &self.facts().dbname)?;
        d.set_item("host", &self.facts().host)?;
        d.set_item("port", self.facts().port.to_string())?;
        Ok(d)
    }

    /// `STATUS_READY` (1), `STATUS_BEGIN` (2) or `STATUS_PREPARED` (5).
    #[getter]
    fn status(&self, py: Python<'_>) -> i32 {
        self.locked(py, |st| {
            if st.tpc.is_prepared() {
                5
            } else if st.in_tx {
                2
            } else {
                1
            }
        })
    }

    /// The session's client encoding, as the server last reported it.
    #[getter]
    fn encoding(&self, py: Python<'_>) -> String {
        // psycopg2's spelling: PostgreSQL's name without `_` (`EUCJP`, `WIN1252`).
        let name = self.locked(py, |st| {
            st.conn_ref()
                .map(|c| c.client_encoding().name)
                .unwrap_or("UTF8")
        });
        name.replace('_', "")
    }

    #[getter]
    fn notices(&self, py: Python<'_>) -> Py<PyAny> {
        self.notices_obj(py)
    }

    /// The DSN without its password.
    #[getter]
    fn dsn(&self) -> String {
        self.facts().dsn.clone()
    }

    #[getter]
    fn info(slf: &Bound<'_, Self>) -> PyResult<Py<ConnectionInfo>> {
        Py::new(
            slf.py(),
            ConnectionInfo {
                conn: slf.clone().unbind(),
            },
        )
    }

    #[getter]
    fn pgpool_pool(&self, py: Python<'_>) -> Option<Py<PyAny>> {
        self.pool.as_ref().map(|p| p.clone_ref(py))
    }

    #[getter(cursor_factory)]
    fn get_cursor_factory(&self, py: Python<'_>) -> Option<Py<PyAny>> {
        self.default_cursor_factory(py)
    }

    #[setter(cursor_factory)]
    fn set_cursor_factory(&self, value: Option<Py<PyAny>>) {
        *self.cursor_factory.lock() = value;
    }

    /// 1 for an asynchronous connection (`connect(dsn, async_=True)`).
    #[getter]
    fn async_(&self) -> i32 {
        i32::from(self.is_async())
    }

    /// True while an asynchronous statement (or connect) is underway.
    fn isexecuting(&self) -> bool {
        self.executing()
    }

    /// Cancels the running statement (callable from any thread).
    fn cancel(&self, py: Python<'_>) -> PyResult<()> {
        if self.connecting() {
            return Err(client_error(
                py,
                Kind::Operational,
                "asynchronous connection attempt underway",
            ));
        }
        self.check_open(py)?;
        // Never wait for the state lock here: the statement to cancel holds it.
        if let Some(st) = self.state.try_lock() {
            st.tpc
                .check_not_prepared("cancel")
                .map_err(|e| map_err(py, &e))?;
        }
        let Some(ident) = self.ident.get() else {
            return Err(client_error(
                py,
                Kind::Interface,
                "connection already closed",
            ));
        };
        let t = ident.cancel.clone();
        crate::exit::detach(py, move || t.cancel()).map_err(|e| to_py(py, &e))
    }

    /// `with conn:` starts a transaction block; `__exit__` commits or rolls back. It does
    /// not close the connection (psycopg2).
    fn __enter__(slf: &Bound<'_, Self>) -> PyResult<Py<Self>> {
        let py = slf.py();
        let me = slf.get();
        me.check_open(py)?;
        let was = me.locked(py, |st| std::mem::replace(&mut st.entered, true));
        if was {
            return Err(client_error(
                py,
                Kind::Programming,
                "the connection cannot be re-entered recursively",
            ));
        }
        Ok(slf.clone().unbind())
    }

    #[pyo3(signature = (exc_type=None, exc_value=None, traceback=None))]
    /// Commits (or, after an exception, rolls back) through `self.commit()` /
    /// `self.rollback()`: a subclass's, if it overrides them, as psycopg2 calls them.
    fn __exit__(
        slf: &Bound<'_, Self>,
        exc_type: Option<&Bound<'_, PyAny>>,
        exc_value: Option<&Bound<'_, PyAny>>,
        traceback: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<bool> {
        let _ = (exc_value, traceback);
        let py = slf.py();
        slf.get().locked(py, |st| st.entered = false);
        let ok = exc_type.is_none_or(|t| t.is_none());
        if slf.is_exact_instance_of::<Connection>() {
            slf.get().commit_or_rollback(py, ok)?;
        } else {
            slf.call_method0(if ok { "commit" } else { "rollback" })?;
        }
        Ok(false)
    }

    fn __repr__(&self) -> String {
        format!(
            "<pgpool.Connection object at {:p}; dsn: '{}', closed: {}>",
            self as *const _,
            self.facts().dsn,
            self.closed()
        )
    }
}
