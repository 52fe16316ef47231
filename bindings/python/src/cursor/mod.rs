//! `Cursor`: psycopg2's client-side cursor. Results arrive whole (text cells in one
//! buffer); rows are decoded into Python objects once: while a large result arrives
//! ([`predecode`]) or when fetched.

use pyo3::exceptions::{PyStopIteration, PyTypeError};
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyDict, PyList, PyTuple};

use pgpool::statements::{self, CopyDirection, FetchCount};
use pgpool::{QueryResult, TxStatus};

use crate::adapt;
use crate::conn::{map_err, Connection};
use crate::decode::Decoder;
use crate::errors::{client_error, Kind};
use crate::predecode::{decoders, row_tuple, take_predecoded};

mod column;
mod copy;
mod exec;
mod named;
mod rows;

pub use column::Column;
use copy::*;
use rows::*;

/// How rows are returned.
pub(crate) enum RowMode {
    /// Tuples (psycopg2's default cursor).
    Tuple,
    /// Dicts keyed by column name (RealDictCursor); with a factory, `factory(dict)`
    /// (e.g. an OrderedDict subclass).
    Dict(Option<Py<PyAny>>),
    /// `row_factory(cursor, values_tuple)` (DictCursor's DictRow).
    DictRow(Py<PyAny>),
    /// `collections.namedtuple` rows (NamedTupleCursor).
    NamedTuple,
}

impl RowMode {
    pub(crate) fn parse(
        py: Python<'_>,
        mode: &str,
        row_factory: Option<Py<PyAny>>,
    ) -> PyResult<RowMode> {
        Ok(match mode {
            "tuple" => RowMode::Tuple,
            "dict" => RowMode::Dict(row_factory),
            "namedtuple" => RowMode::NamedTuple,
            "dictrow" => match row_factory {
                Some(f) => RowMode::DictRow(f),
                None => {
                    return Err(client_error(
                        py,
                        Kind::ValueError,
                        "row_mode 'dictrow' needs row_factory=",
                    ))
                }
            },
            other => {
                return Err(client_error(
                    py,
                    Kind::ValueError,
                    format!(
                    "row_mode must be 'tuple', 'dict', 'dictrow' or 'namedtuple', not {other:?}"
                ),
                ))
            }
        })
    }

    fn name(&self) -> &'static str {
        match self {
            RowMode::Tuple => "tuple",
            RowMode::Dict(_) => "dict",
            RowMode::DictRow(_) => "dictrow",
            RowMode::NamedTuple => "namedtuple",
        }
    }
}

/// A result set being fetched.
struct Rows {
    r: QueryResult,
    decs: Vec<Decoder>,
    /// The value tuples of the first rows, decoded while the result arrived; each is
    /// handed out once (a row fetched again, after `scroll`, is decoded again).
    pre: Vec<Option<Py<PyTuple>>>,
    /// Per column, the user typecaster (`register_type`) that decodes it; empty when
    /// no column has one.
    custom: Vec<Option<Py<PyAny>>>,
    /// Column names as Python strings (dict rows), built on first use.
    names: Option<Py<PyTuple>>,
    /// The namedtuple class (namedtuple rows), built on first use.
    nt: Option<Py<PyAny>>,
    description: Option<Py<PyTuple>>,
}

/// A DB-API 2.0 cursor with psycopg2's semantics. Subclass it from Python and pass
/// `row_mode=` (and `row_factory=`) to `super().__init__(conn, name, ...)`.
#[pyclass(subclass, weakref, module = "pgpool._pgpool", name = "Cursor")]
pub struct Cursor {
    conn: Option<Py<Connection>>,
    name: Option<String>,
    closed: bool,
    mode: RowMode,
    rows: Option<Rows>,
    /// The last command's description when it returned no rows (always None).
    rowcount: i64,
    rownumber: usize,
    #[pyo3(get, set)]
    arraysize: isize,
    query: Option<Py<PyBytes>>,
    status: Option<String>,
    lastrowid: u32,
    /// psycopg2's `tzinfo_factory`: `None` here until set (psycopg2's default,
    /// `datetime.timezone`); set to `None`, timestamptz values come back naive.
    tzinfo_factory: Option<Option<Py<PyAny>>>,
    /// Named (server-side) cursors: `DECLARE ... WITH HOLD`, `[NO] SCROLL`, rows per
    /// `FETCH` when iterating, whether `execute` declared it, and the connection's
    /// transaction mark when it did (psycopg2's `curs->mark`).
    withhold: bool,
    scrollable: Option<bool>,
    #[pyo3(get, set)]
    itersize: isize,
    declared: bool,
    mark: u64,
    /// Typecasters registered for this cursor (`register_type(t, cursor)`).
    casters: std::collections::HashMap<u32, Py<PyAny>>,
}

impl Cursor {
    pub(crate) fn new(conn: Option<Py<Connection>>, name: Option<String>, mode: RowMode) -> Cursor {
        Cursor {
            conn,
            name,
            closed: false,
            mode,
            rows: None,
            rowcount: -1,
            rownumber: 0,
            arraysize: 1,
            query: None,
            status: None,
            lastrowid: 0,
            tzinfo_factory: None,
            withhold: false,
            scrollable: None,
            itersize: 2000,
            declared: false,
            mark: 0,
            casters: std::collections::HashMap::new(),
        }
    }

    pub(crate) fn register_casters(&mut self, py: Python<'_>, oids: &[u32], caster: &Py<PyAny>) {
        for o in oids {
            self.casters.insert(*o, caster.clone_ref(py));
        }
    }

    /// The user typecasters of `r`'s columns (cursor, then connection, then global
    /// registrations, as psycopg2 looks them up); empty when none applies.
    fn custom_casters(&self, py: Python<'_>, r: &QueryResult) -> Vec<Option<Py<PyAny>>> {
        let conn = self.conn.as_ref().map(|c| c.bind(py).clone());
        let tz = self.tz_casters(py, r);
        if self.casters.is_empty()
            && !crate::casters::any_global()
            && !conn.as_ref().is_some_and(|c| c.get().has_casters())
            && tz.is_none()
        {
            return Vec::new();
        }
        let v: Vec<Option<Py<PyAny>>> = r
            .columns
            .iter()
            .map(|c| {
                self.caster_for(py, c.type_oid).or_else(|| {
                    let tz = tz.as_ref()?.bind(py);
                    Some(tz.get_item(c.type_oid).ok()??.unbind())
                })
            })
            .collect();
        if v.iter().any(Option::is_some) {
            v
        } else {
            Vec::new()
        }
    }

    /// With a `tzinfo_factory` other than `datetime.timezone` (psycopg2's default) and a
    /// column of timestamptz or timetz (or arrays or ranges of them): the casters that
    /// give their values the factory's tzinfo, or none (`None` set: naive values), by
    /// type oid (`pgpool.tz._TZ_CASTERS`), for the columns no user typecaster claims.
    fn tz_casters(&self, py: Python<'_>, r: &QueryResult) -> Option<Py<PyDict>> {
        let f = self.tzinfo_factory.as_ref()?;
        if !r
            .columns
            .iter()
            .any(|c| matches!(c.type_oid, 1184 | 1266 | 1185 | 1270 | 3910 | 3911))
        {
            return None;
        }
        if let Some(f) = f {
            let default = py
                .import("datetime")
                .and_then(|m| m.getattr("timezone"))
                .ok()?;
            if f.bind(py).is(&default) {
                return None;
            }
        }
        let m = py.import("pgpool.tz").ok()?;
        Some(
            m.getattr("_TZ_CASTERS")
                .ok()?
                .cast_into::<PyDict>()
                .ok()?
                .unbind(),
        )
    }

    /// The typecaster `cast()` uses for `oid`: the cursor's, the connection's, then a
    /// global registration.
    fn caster_for(&self, py: Python<'_>, oid: u32) -> Option<Py<PyAny>> {
        self.casters
            .get(&oid)
            .map(|f| f.clone_ref(py))
            .or_else(|| self.conn.as_ref().and_then(|k| k.get().caster(py, oid)))
            .or_else(|| crate::casters::global(py, oid))
    }

    /// Row `row`'s cells, decoders and casters, to decode it without a borrow of the
    /// cursor (user typecasters get the cursor and may read it).
    #[allow(clippy::type_complexity)]
    fn raw_row(
        &self,
        py: Python<'_>,
        row: usize,
    ) -> (Vec<Option<Vec<u8>>>, Vec<Decoder>, Vec<Option<Py<PyAny>>>) {
        let rs = self.rows.as_ref().expect("checked");
        let cells = (0..rs.decs.len())
            .map(|c| rs.r.get(row, c).map(<[u8]>::to_vec))
            .collect();
        let custom = rs
            .custom
            .iter()
            .map(|f| f.as_ref().map(|f| f.clone_ref(py)))
            .collect();
        (cells, rs.decs.clone(), custom)
    }

    fn has_custom(&self) -> bool {
        self.rows.as_ref().is_some_and(|rs| !rs.custom.is_empty())
    }

    /// `withhold=` / `scrollable=` of `conn.cursor()`: named cursors only.
    pub(crate) fn set_server_options(
        &mut self,
        py: Python<'_>,
        withhold: bool,
        scrollable: Option<bool>,
    ) -> PyResult<()> {
        if withhold {
            self.set_withhold(py, true)?;
        }
        if scrollable.is_some() {
            self.set_scrollable(py, scrollable)?;
        }
        Ok(())
    }

    pub(crate) fn set_mark(&mut self, mark: u64) {
        self.mark = mark;
    }

    fn scroll_buffered(&mut self, py: Python<'_>, value: i64, mode: &str) -> PyResult<()> {
        if self.closed {
            return Err(client_error(py, Kind::Interface, "cursor already closed"));
        }
        let new = match mode {
            "relative" => self.rownumber as i64 + value,
            "absolute" => value,
            _ => {
                return Err(client_error(
                    py,
                    Kind::Programming,
                    "scroll mode must be 'relative' or 'absolute'",
                ))
            }
        };
        if self.rows.is_none() {
            return Err(client_error(py, Kind::Programming, "no results to fetch"));
        }
        if new < 0 || new >= self.rowcount {
            return Err(client_error(
                py,
                Kind::Programming,
                "scroll destination out of bounds",
            ));
        }
        self.rownumber = new as usize;
        Ok(())
    }

    /// The next row of the buffered result, `None` at its end.
    fn fetch_next(slf: &Bound<'_, Self>) -> PyResult<Option<Py<PyAny>>> {
        let py = slf.py();
        let i = {
            let mut me = slf.borrow_mut();
            me.check_fetch(py)?;
            let n = me.rows.as_ref().expect("checked").r.nrows();
            if me.rownumber >= n {
                return Ok(None);
            }
            me.rownumber += 1;
            me.rownumber - 1
        };
        Ok(Some(make_row(slf, i)?.unbind()))
    }

    /// The connection, checking psycopg2's EXC_IF_CURS_CLOSED.
    /// The quoting of a literal on this cursor's connection (Standard without one).
    pub(crate) fn quoting(&self, py: Python<'_>) -> pgpool::sql::Quoting {
        match &self.conn {
            Some(c) => c.get().quoting(py),
            None => pgpool::sql::Quoting::Standard,
        }
    }

    fn open_conn(&self, py: Python<'_>) -> PyResult<Py<Connection>> {
        let Some(c) = &self.conn else {
            return Err(client_error(
                py,
                Kind::Interface,
                "the cursor has no connection",
            ));
        };
        if self.closed || c.get().is_closed() {
            return Err(client_error(py, Kind::Interface, "cursor already closed"));
        }
        Ok(c.clone_ref(py))
    }

    /// Fetching only needs the buffered result: a cursor whose pooled connection went
    /// back to the pool at the end of its `with` block can still be read.
    fn check_fetch(&self, py: Python<'_>) -> PyResult<()> {
        if self.conn.is_none() {
            return Err(client_error(
                py,
                Kind::Interface,
                "the cursor has no connection",
            ));
        }
        if self.closed {
            return Err(client_error(py, Kind::Interface, "cursor already closed"));
        }
        if let Some(c) = &self.conn {
            c.get().check_not_executing(py, "fetch")?;
        }
        if self.rows.is_none() {
            return Err(client_error(py, Kind::Programming, "no results to fetch"));
        }
        Ok(())
    }

    pub(crate) fn reset(&mut self) {
        self.rows = None;
        self.rowcount = -1;
        self.rownumber = 0;
        self.status = None;
        self.lastrowid = 0;
    }

    /// The Python half of `execute` before the round trip (shared with the asyncio
    /// face): checks, the statement rendered client-side, the cursor reset.
    pub(crate) fn prepare_execute(
        slf: &Bound<'_, Self>,
        query: &Bound<'_, PyAny>,
        vars: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<(Py<Connection>, String)> {
        let py = slf.py();
        let conn = {
            let me = slf.borrow();
            let c = me.open_conn(py)?;
            me.check_named(py)?;
            c
        };
        let sql = adapt::render(py, &adapt::query_text(query, slf.as_any())?, vars, |q| {
            conn.get().quoting_for(py, q)
        })?;
        let mut me = slf.borrow_mut();
        me.reset();
        me.query = Some(PyBytes::new(py, sql.as_bytes()).unbind());
        Ok((conn, sql))
    }

    /// `executemany`'s checks (shared with the asyncio face).
    pub(crate) fn prepare_executemany(slf: &Bound<'_, Self>) -> PyResult<Py<Connection>> {
        let py = slf.py();
        let me = slf.borrow();
        let c = me.open_conn(py)?;
        if me.name.is_some() {
            return Err(client_error(
                py,
                Kind::Programming,
                "can't call .executemany() on named cursors",
            ));
        }
        Ok(c)
    }

    /// After `executemany`: the last statement sent and the total of rows affected.
    pub(crate) fn finish_executemany(&mut self, py: Python<'_>, last: Option<&str>, total: i64) {
        if let Some(s) = last {
            self.query = Some(PyBytes::new(py, s.as_bytes()).unbind());
        }
        self.rowcount = total;
    }

    /// psycopg2's `pq_fetch` for one result.
    pub(crate) fn set_result(&mut self, py: Python<'_>, mut r: QueryResult) -> PyResult<()> {
        self.status = if r.command_tag.is_empty() && !r.has_rows {
            None
        } else {
            Some(r.command_tag.clone())
        };
        if r.has_rows {
            self.rowcount = r.nrows() as i64;
            let decs = decoders(&r);
            let custom = self.custom_casters(py, &r);
            let pre = take_predecoded(&mut r)
                .filter(|_| custom.is_empty())
                .map(|p| p.rows.into_iter().map(Some).collect())
                .unwrap_or_default();
            self.rows = Some(Rows {
                r,
                decs,
                pre,
                custom,
                names: None,
                nt: None,
                description: None,
            });
            return Ok(());
        }
        if r.command_tag.is_empty() {
            return Err(client_error(
                py,
                Kind::Programming,
                "can't execute an empty query",
            ));
        }
        self.rowcount = r.rows_affected().map(|n| n as i64).unwrap_or(-1);
        let mut words = r.command_tag.split(' ');
        if words.next() == Some("INSERT") {
            self.lastrowid = words.next().and_then(|o| o.parse().ok()).unwrap_or(0);
        }
        Ok(())
    }

    /// The values of row `row`, as a tuple.
    fn values<'py>(&mut self, py: Python<'py>, row: usize) -> PyResult<Bound<'py, PyTuple>> {
        let rs = self.rows.as_mut().expect("checked");
        match rs.pre.get_mut(row).and_then(Option::take) {
            Some(t) => Ok(t.into_bound(py)),
            None => row_tuple(py, &rs.r, &rs.decs, row),
        }
    }
}

impl Cursor {
    fn execute_inner(
        slf: &Bound<'_, Self>,
        query: &Bound<'_, PyAny>,
        vars: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<()> {
        let py = slf.py();
        if Self::is_named(slf) {
            return Self::execute_named(slf, query, vars);
        }
        let asynchronous = match &slf.borrow().conn {
            Some(c) if c.get().is_async() => {
                c.get().check_not_executing(py, "execute")?;
                true
            }
            _ => false,
        };
        let (conn, sql) = Cursor::prepare_execute(slf, query, vars)?;
        if asynchronous {
            return conn.get().execute_async(py, slf.as_any(), sql);
        }
        let r = conn.get().execute(py, &sql)?;
        slf.borrow_mut().set_result(py, r)
    }
}

/// psycopg2's `exc.cursor`: the cursor whose call raised a pgpool error.
pub(crate) fn raised_by(cur: &Bound<'_, PyAny>, e: PyErr) -> PyErr {
    let py = cur.py();
    let v = e.value(py);
    if v.getattr("cursor").is_ok_and(|c| c.is_none()) {
        let _ = v.setattr("cursor", cur);
    }
    e
}

#[pymethods]
impl Cursor {
    /// `Cursor(conn, name=None, *, row_mode="tuple", row_factory=None)`. Construction is
    /// lenient (subclasses may take other arguments); `__init__` does the checks.
    #[new]
    #[pyo3(signature = (*args, **kwargs))]
    fn py_new(args: &Bound<'_, PyTuple>, kwargs: Option<&Bound<'_, PyDict>>) -> PyResult<Self> {
        let py = args.py();
        let conn = args
            .get_item(0)
            .ok()
            .or_else(|| kwargs.and_then(|k| k.get_item("conn").ok().flatten()))
            .and_then(|c| c.cast_into::<Connection>().ok())
            .map(Bound::unbind);
        let name = args
            .get_item(1)
            .ok()
            .or_else(|| kwargs.and_then(|k| k.get_item("name").ok().flatten()))
            .filter(|n| !n.is_none())
            .and_then(|n| n.str().ok()?.extract::<String>().ok());
        let mode = kwargs
            .and_then(|k| k.get_item("row_mode").ok().flatten())
            .and_then(|m| m.extract::<String>().ok());
        let factory = kwargs
            .and_then(|k| k.get_item("row_factory").ok().flatten())
            .filter(|f| !f.is_none())
            .map(Bound::unbind);
        let mode = RowMode::parse(py, mode.as_deref().unwrap_or("tuple"), factory)
            .unwrap_or(RowMode::Tuple);
        let mark = conn.as_ref().map(|c| c.get().mark(py)).unwrap_or(0);
        let mut cur = Cursor::new(conn, name, mode);
        cur.mark = mark;
        Ok(cur)
    }

    /// (Re)initialises the cursor: what Python subclasses call through `super().__init__`.
    #[pyo3(signature = (conn, name=None, *, row_mode=None, row_factory=None, **_kwargs))]
    fn __init__(
        &mut self,
        conn: &Bound<'_, PyAny>,
        name: Option<&Bound<'_, PyAny>>,
        row_mode: Option<&str>,
        row_factory: Option<Py<PyAny>>,
        _kwargs: Option<&Bound<'_, PyDict>>,
    ) -> PyResult<()> {
        let py = conn.py();
        let c = conn.cast::<Connection>().map_err(|_| {
            PyTypeError::new_err(format!(
                "argument 1 must be pgpool._pgpool.Connection, not {}",
                conn.get_type()
                    .name()
                    .map(|n| n.to_string())
                    .unwrap_or_default()
            ))
        })?;
        self.conn = Some(c.clone().unbind());
        self.mark = c.get().mark(py);
        self.name = match name.filter(|n| !n.is_none()) {
            Some(n) => Some(n.str()?.extract()?),
            None => None,
        };
        if row_mode.is_some() || row_factory.is_some() {
            self.mode = RowMode::parse(py, row_mode.unwrap_or("dictrow"), row_factory)?;
        }
        Ok(())
    }

    /// Executes `query` with `vars` interpolated client-side (psycopg2's pyformat).
    #[pyo3(signature = (query, vars=None))]
    fn execute(
        slf: &Bound<'_, Self>,
        query: &Bound<'_, PyAny>,
        vars: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<()> {
        Self::execute_inner(slf, query, vars).map_err(|e| raised_by(slf.as_any(), e))
    }

    /// Executes `query` once per item of `vars_list`, pipelined; `rowcount` is the total.
    fn executemany(
        slf: &Bound<'_, Self>,
        query: &Bound<'_, PyAny>,
        vars_list: &Bound<'_, PyAny>,
    ) -> PyResult<()> {
        Self::run_executemany(slf, query, vars_list).map_err(|e| raised_by(slf.as_any(), e))
    }

    /// The statement `execute` would send, as bytes.
    #[pyo3(signature = (query, vars=None))]
    fn mogrify<'py>(
        slf: &Bound<'py, Self>,
        query: &Bound<'py, PyAny>,
        vars: Option<&Bound<'py, PyAny>>,
    ) -> PyResult<Bound<'py, PyBytes>> {
        let py = slf.py();
        // As psycopg2: a closed cursor (or connection) still renders statements.
        let Some(conn) = slf.borrow().conn.as_ref().map(|c| c.clone_ref(py)) else {
            return Err(client_error(
                py,
                Kind::Interface,
                "the cursor has no connection",
            ));
        };
        let sql = adapt::render(py, &adapt::query_text(query, slf.as_any())?, vars, |q| {
            conn.get().quoting_for(py, q)
        })?;
        Ok(PyBytes::new(py, sql.as_bytes()))
    }

    /// `SELECT * FROM procname(%s, ...)` (named parameters for a dict); returns `parameters`.
    #[pyo3(signature = (procname, parameters=None))]
    fn callproc(
        slf: &Bound<'_, Self>,
        procname: &str,
        parameters: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<Py<PyAny>> {
        Self::run_callproc(slf, procname, parameters)
    }

    fn fetchone(slf: &Bound<'_, Self>) -> PyResult<Option<Py<PyAny>>> {
        if Self::is_named(slf) {
            Self::named_fetch(slf, FetchCount::Rows(1))?;
        }
        Self::fetch_next(slf)
    }

    #[pyo3(signature = (size=None))]
    fn fetchmany<'py>(slf: &Bound<'py, Self>, size: Option<isize>) -> PyResult<Bound<'py, PyList>> {
        let py = slf.py();
        if Self::is_named(slf) {
            let n = size.unwrap_or(slf.borrow().arraysize);
            Self::named_fetch(slf, FetchCount::Rows(n as i64))?;
        }
        let (start, end) = {
            let mut me = slf.borrow_mut();
            me.check_fetch(py)?;
            let n = me.rows.as_ref().expect("checked").r.nrows();
            let size = size.unwrap_or(me.arraysize).max(0) as usize;
            let start = me.rownumber.min(n);
            let end = start.saturating_add(size).min(n);
            me.rownumber = end;
            (start, end)
        };
        let out = PyList::empty(py);
        for i in start..end {
            out.append(make_row(slf, i)?)?;
        }
        Ok(out)
    }

    fn fetchall<'py>(slf: &Bound<'py, Self>) -> PyResult<Bound<'py, PyList>> {
        let py = slf.py();
        if Self::is_named(slf) {
            Self::named_fetch(slf, FetchCount::All)?;
        }
        let (start, end) = {
            let mut me = slf.borrow_mut();
            me.check_fetch(py)?;
            let n = me.rows.as_ref().expect("checked").r.nrows();
            let start = me.rownumber.min(n);
            me.rownumber = n;
            (start, n)
        };
        let out = PyList::empty(py);
        for i in start..end {
            out.append(make_row(slf, i)?)?;
        }
        Ok(out)
    }

    fn __iter__(slf: Bound<'_, Self>) -> Bound<'_, Self> {
        slf
    }

    fn __next__(slf: &Bound<'_, Self>) -> PyResult<Py<PyAny>> {
        if Self::is_named(slf) {
            // psycopg2's named iteration: `itersize` rows per FETCH, until one is empty.
            let (more, itersize) = {
                let me = slf.borrow();
                let left = me
                    .rows
                    .as_ref()
                    .is_some_and(|rs| me.rownumber < rs.r.nrows());
                (!left, me.itersize)
            };
            if more {
                Self::named_fetch(slf, FetchCount::Rows(itersize as i64))?;
            }
            return match Self::fetch_next(slf)? {
                Some(r) => Ok(r),
                None => Err(PyStopIteration::new_err(())),
            };
        }
        match Self::fetchone(slf)? {
            Some(r) => Ok(r),
            None => Err(PyStopIteration::new_err(())),
        }
    }

    #[pyo3(signature = (value, mode="relative"))]
    fn scroll(slf: &Bound<'_, Self>, value: i64, mode: &str) -> PyResult<()> {
        let py = slf.py();
        if let Some(c) = &slf.borrow().conn {
            c.get().check_not_executing(py, "scroll")?;
        }
        if Self::is_named(slf) {
            // `MOVE` on the server; psycopg2 keeps no result from it (and takes any mode
            // other than "absolute" as relative).
            let absolute = mode == "absolute";
            Self::named_command(slf, true, |n| statements::move_cursor(n, value, absolute))?;
            let mut me = slf.borrow_mut();
            me.rows = None;
            me.rowcount = -1;
            return Ok(());
        }
        slf.borrow_mut().scroll_buffered(py, value, mode)
    }

    /// The columns of the last result: psycopg2's 7-item `Column`s, `None` after a
    /// command that returns no rows.
    #[getter]
    fn description(&mut self, py: Python<'_>) -> PyResult<Option<Py<PyTuple>>> {
        let Some(rs) = self.rows.as_mut() else {
            return Ok(None);
        };
        if let Some(d) = &rs.description {
            return Ok(Some(d.clone_ref(py)));
        }
        let mut cols = Vec::with_capacity(rs.r.columns.len());
        for c in &rs.r.columns {
            cols.push(Py::new(py, Column::from_core(c))?);
        }
        let t = PyTuple::new(py, cols)?;
        rs.description = Some(t.clone().unbind());
        Ok(Some(t.unbind()))
    }

    #[getter]
    fn rowcount(&self) -> i64 {
        self.rowcount
    }

    #[getter]
    fn rownumber(&self) -> usize {
        self.rownumber
    }

    #[getter]
    fn lastrowid(&self) -> u32 {
        self.lastrowid
    }

    /// The last query sent, as bytes.
    #[getter]
    fn query(&self, py: Python<'_>) -> Option<Py<PyBytes>> {
        self.query.as_ref().map(|q| q.clone_ref(py))
    }

    /// The command tag of the last statement (`SELECT 1`, `INSERT 0 3`).
    #[getter]
    fn statusmessage(&self) -> Option<String> {
        self.status.clone()
    }

    #[getter]
    fn connection(&self, py: Python<'_>) -> Option<Py<Connection>> {
        self.conn.as_ref().map(|c| c.clone_ref(py))
    }

    #[getter]
    fn name(&self) -> Option<String> {
        self.name.clone()
    }

    #[getter]
    fn row_mode(&self) -> &'static str {
        self.mode.name()
    }

    #[getter]
    fn row_factory(&self, py: Python<'_>) -> Option<Py<PyAny>> {
        match &self.mode {
            RowMode::DictRow(f) | RowMode::Dict(Some(f)) => Some(f.clone_ref(py)),
            _ => None,
        }
    }

    /// psycopg2's `tzinfo_factory` (default `datetime.timezone`; `None`: naive values).
    #[getter]
    fn get_tzinfo_factory(&self, py: Python<'_>) -> PyResult<Option<Py<PyAny>>> {
        match &self.tzinfo_factory {
            Some(f) => Ok(f.as_ref().map(|f| f.clone_ref(py))),
            None => Ok(Some(py.import("datetime")?.getattr("timezone")?.unbind())),
        }
    }

    #[setter]
    fn set_tzinfo_factory(&mut self, value: Option<Py<PyAny>>) {
        self.tzinfo_factory = Some(value);
    }

    #[getter]
    fn closed(&self) -> bool {
        self.closed || self.conn.as_ref().is_some_and(|c| c.get().is_closed())
    }

    #[getter]
    fn withhold(&self) -> bool {
        self.withhold
    }

    #[setter]
    fn set_withhold(&mut self, py: Python<'_>, value: bool) -> PyResult<()> {
        if self.name.is_none() {
            return Err(client_error(
                py,
                Kind::Programming,
                "trying to set .withhold on unnamed cursor",
            ));
        }
        self.withhold = value;
        Ok(())
    }

    #[getter]
    fn scrollable(&self) -> Option<bool> {
        self.scrollable
    }

    #[setter]
    fn set_scrollable(&mut self, py: Python<'_>, value: Option<bool>) -> PyResult<()> {
        if self.name.is_none() {
            return Err(client_error(
                py,
                Kind::Programming,
                "trying to set .scrollable on unnamed cursor",
            ));
        }
        self.scrollable = value;
        Ok(())
    }

    /// Closes the cursor; a named one is closed on the server too (`CLOSE`), unless its
    /// transaction failed or it does not exist there (psycopg2's rules).
    fn close(slf: &Bound<'_, Self>) -> PyResult<()> {
        let py = slf.py();
        let conn = {
            let me = slf.borrow();
            if me.closed {
                return Ok(());
            }
            match (&me.name, &me.conn) {
                (Some(_), Some(c)) if !c.get().is_closed() => Some((c.clone_ref(py), me.declared)),
                _ => None,
            }
        };
        if let Some((conn, declared)) = conn {
            let status = conn.get().tx_status(py);
            if !matches!(status, TxStatus::Unknown | TxStatus::InError) {
                let exists = declared || {
                    // Never executed here: it may name a cursor opened by the server
                    // (a function returning a refcursor); close it only if it exists.
                    let name = slf.borrow().name.clone().unwrap_or_default();
                    let sql = statements::cursor_exists(&name, conn.get().quoting(py))
                        .map_err(|e| map_err(py, &e))?;
                    conn.get().execute(py, &sql)?.nrows() > 0
                };
                if exists {
                    Self::named_command(slf, false, statements::close_cursor)?;
                }
            }
        }
        slf.borrow_mut().closed = true;
        Ok(())
    }

    fn setinputsizes(&self, _sizes: &Bound<'_, PyAny>) {}

    #[pyo3(signature = (_size, _column=None))]
    fn setoutputsize(&self, _size: &Bound<'_, PyAny>, _column: Option<&Bound<'_, PyAny>>) {}

    fn nextset(&self, py: Python<'_>) -> PyResult<()> {
        Err(client_error(
            py,
            Kind::NotSupported,
            "nextset() not supported",
        ))
    }

    fn __enter__(slf: Bound<'_, Self>) -> Bound<'_, Self> {
        slf
    }

    /// Closes the cursor (only the cursor: the transaction is the connection's business).
    #[pyo3(signature = (_exc_type=None, _exc_value=None, _traceback=None))]
    fn __exit__(
        slf: &Bound<'_, Self>,
        _exc_type: Option<&Bound<'_, PyAny>>,
        _exc_value: Option<&Bound<'_, PyAny>>,
        _traceback: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<bool> {
        // A subclass's close() runs, as psycopg2 calls it.
        if slf.is_exact_instance_of::<Cursor>() {
            Self::close(slf)?;
        } else {
            slf.call_method0("close")?;
        }
        Ok(false)
    }

    /// `COPY ... FROM STDIN` reading `file.read(size)`, or `COPY ... TO STDOUT` writing to
    /// `file.write()`, as the statement says.
    #[pyo3(signature = (sql, file, size=8192))]
    fn copy_expert(
        slf: &Bound<'_, Self>,
        sql: &Bound<'_, PyAny>,
        file: &Bound<'_, PyAny>,
        size: isize,
    ) -> PyResult<()> {
        let py = slf.py();
        let sql = adapt::query_text(sql, slf.as_any())?;
        if !file.hasattr("read")? && !file.hasattr("write")? {
            return Err(PyTypeError::new_err(
                "file must be a readable file-like object for COPY FROM; a writable file-like object for COPY TO.",
            ));
        }
        copy(slf, py, sql, file, size).map_err(|e| raised_by(slf.as_any(), e))
    }

    #[pyo3(signature = (file, table, sep="\t", null="\\N", size=8192, columns=None))]
    #[allow(clippy::too_many_arguments)]
    fn copy_from(
        slf: &Bound<'_, Self>,
        file: &Bound<'_, PyAny>,
        table: &str,
        sep: &str,
        null: &str,
        size: isize,
        columns: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<()> {
        let py = slf.py();
        let sql = copy_table_sql(slf, CopyDirection::In, table, sep, null, columns)?;
        copy(slf, py, sql, file, size).map_err(|e| raised_by(slf.as_any(), e))
    }

    #[pyo3(signature = (file, table, sep="\t", null="\\N", columns=None))]
    fn copy_to(
        slf: &Bound<'_, Self>,
        file: &Bound<'_, PyAny>,
        table: &str,
        sep: &str,
        null: &str,
        columns: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<()> {
        let py = slf.py();
        let sql = copy_table_sql(slf, CopyDirection::Out, table, sep, null, columns)?;
        copy(slf, py, sql, file, 8192).map_err(|e| raised_by(slf.as_any(), e))
    }

    fn __repr__(slf: &Bound<'_, Self>) -> String {
        let me = slf.borrow();
        format!(
            "<pgpool.Cursor object at {:p}; closed: {}>",
            slf.as_ptr(),
            i32::from(me.closed())
        )
    }
}

/// `Connection.cursor()`: here, beside the class it makes (the connection's module does
/// not know cursors).
#[pymethods]
impl Connection {
    /// A new cursor. `cursor_factory` (or the connection's `cursor_factory`) is called as
    /// `factory(conn, name)`, as psycopg2 does.
    #[pyo3(signature = (name=None, cursor_factory=None, withhold=false, scrollable=None, *, row_mode=None, row_factory=None))]
    #[allow(clippy::too_many_arguments)]
    fn cursor(
        slf: &Bound<'_, Self>,
        name: Option<&Bound<'_, PyAny>>,
        cursor_factory: Option<&Bound<'_, PyAny>>,
        withhold: bool,
        scrollable: Option<&Bound<'_, PyAny>>,
        row_mode: Option<&str>,
        row_factory: Option<Py<PyAny>>,
    ) -> PyResult<Py<PyAny>> {
        let py = slf.py();
        slf.get().check_open(py)?;
        Connection::set_object(slf);
        if slf.get().is_async() && name.is_some_and(|n| !n.is_none()) {
            return Err(client_error(
                py,
                Kind::Programming,
                "asynchronous connections cannot produce named cursors",
            ));
        }
        let scrollable = match scrollable.filter(|s| !s.is_none()) {
            Some(s) => Some(s.is_truthy()?),
            None => None,
        };
        let name = name.filter(|n| !n.is_none());
        let factory = match cursor_factory.filter(|f| !f.is_none()) {
            Some(f) => Some(f.clone().unbind()),
            None => slf.get().default_cursor_factory(py),
        };
        if let Some(f) = factory {
            let c = f.bind(py).call1((slf, name))?;
            let Ok(cur) = c.cast::<Cursor>() else {
                return Err(client_error(
                    py,
                    Kind::TypeError,
                    "cursor factory must be subclass of pgpool._pgpool.Cursor",
                ));
            };
            cur.borrow_mut()
                .set_server_options(py, withhold, scrollable)?;
            return Ok(c.unbind());
        }
        let mode = RowMode::parse(py, row_mode.unwrap_or("tuple"), row_factory)?;
        let name = match name {
            Some(n) => Some(n.str()?.extract::<String>()?),
            None => None,
        };
        let mut cur = Cursor::new(Some(slf.clone().unbind()), name, mode);
        cur.set_server_options(py, withhold, scrollable)?;
        cur.set_mark(slf.get().mark(py));
        Ok(Py::new(py, cur)?.into_any())
    }
}

#[pymethods]
impl Cursor {
    /// psycopg2's `cursor.cast(oid, s)`: the text `s` (or `None`) of a value of type
    /// `oid` as the cursor would return it (its typecasters, the connection's, the
    /// global ones, then the builtin decoding).
    #[pyo3(signature = (oid, s))]
    fn cast(slf: &Bound<'_, Self>, oid: u32, s: Option<&str>) -> PyResult<Py<PyAny>> {
        let py = slf.py();
        let caster = slf.borrow().caster_for(py, oid);
        match caster {
            Some(c) => c.call1(py, (s, slf)),
            None => crate::casters::_cast(py, oid, s),
        }
    }
}
