//! `Cursor`: psycopg2's client-side cursor. Results arrive whole (text cells in one
//! buffer); rows are decoded into Python objects once: while a large result arrives
//! ([`predecode`]) or when fetched.

use std::cell::RefCell;

use pyo3::exceptions::{PyIndexError, PyStopIteration, PyTypeError};
use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::{PyBytes, PyDict, PyIterator, PyList, PySlice, PyString, PyTuple, PyType};

use pgpool::sql::Quoting;
use pgpool::statements::{self, CopyDirection, FetchCount};
use pgpool::{QueryResult, TxStatus};

use crate::adapt;
use crate::conn::{map_err, Connection};
use crate::decode::{self, Dec};
use crate::errors::{client_error, Kind};

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
    decs: Vec<Dec>,
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
    #[pyo3(get, set)]
    tzinfo_factory: Option<Py<PyAny>>,
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
        if self.casters.is_empty()
            && !crate::casters::any_global()
            && !conn.as_ref().is_some_and(|c| c.get().has_casters())
        {
            return Vec::new();
        }
        let v: Vec<Option<Py<PyAny>>> = r
            .columns
            .iter()
            .map(|c| {
                let oid = c.type_oid;
                self.casters
                    .get(&oid)
                    .map(|f| f.clone_ref(py))
                    .or_else(|| conn.as_ref().and_then(|k| k.get().caster(py, oid)))
                    .or_else(|| crate::casters::global(py, oid))
            })
            .collect();
        if v.iter().any(Option::is_some) {
            v
        } else {
            Vec::new()
        }
    }

    /// Row `row`'s cells, decoders and casters, to decode it without a borrow of the
    /// cursor (user typecasters get the cursor and may read it).
    #[allow(clippy::type_complexity)]
    fn raw_row(
        &self,
        py: Python<'_>,
        row: usize,
    ) -> (Vec<Option<Vec<u8>>>, Vec<Dec>, Vec<Option<Py<PyAny>>>) {
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

    /// psycopg2's `EXC_IF_NO_MARK`: a cursor without HOLD ends with its transaction.
    fn check_mark(&self, py: Python<'_>, conn: &Py<Connection>) -> PyResult<()> {
        if !self.withhold && self.mark != conn.get().mark(py) {
            return Err(client_error(
                py,
                Kind::Programming,
                "named cursor isn't valid anymore",
            ));
        }
        Ok(())
    }

    fn cursor_name(&self) -> &str {
        self.name.as_deref().unwrap_or_default()
    }

    /// `execute` on a named cursor: `DECLARE "name" [NO] SCROLL CURSOR WITH[OUT] HOLD
    /// FOR <query>`, as psycopg2 sends it.
    fn execute_named(
        slf: &Bound<'_, Self>,
        query: &Bound<'_, PyAny>,
        vars: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<()> {
        let py = slf.py();
        let (conn, head) = {
            let me = slf.borrow();
            let c = me.open_conn(py)?;
            if me.declared {
                return Err(client_error(
                    py,
                    Kind::Programming,
                    "can't call .execute() on named cursors more than once",
                ));
            }
            if !me.withhold && c.get().autocommit(py) {
                return Err(client_error(
                    py,
                    Kind::Programming,
                    "can't use a named cursor outside of transactions",
                ));
            }
            me.check_mark(py, &c)?;
            let head = statements::declare_cursor(me.cursor_name(), me.scrollable, me.withhold);
            (c, head)
        };
        let sql = head
            + &adapt::render(py, &adapt::query_text(query, slf.as_any())?, vars, |q| {
                conn.get().quoting_for(py, q)
            })?;
        {
            let mut me = slf.borrow_mut();
            me.reset();
            me.query = Some(PyBytes::new(py, sql.as_bytes()).unbind());
        }
        let r = conn.get().execute(py, &sql)?;
        let mark = conn.get().mark(py);
        let mut me = slf.borrow_mut();
        me.set_result(py, r)?;
        me.declared = true;
        me.mark = mark;
        Ok(())
    }

    /// A statement on a named cursor's connection (`FETCH`, `MOVE`, `CLOSE`) once the
    /// cursor is checked; its result becomes the cursor's (the query stays the DECLARE).
    fn named_command(
        slf: &Bound<'_, Self>,
        begin: bool,
        sql: impl FnOnce(&str) -> String,
    ) -> PyResult<()> {
        let py = slf.py();
        let (conn, sql, begin) = {
            let me = slf.borrow();
            let c = me.open_conn(py)?;
            me.check_mark(py, &c)?;
            // A WITH HOLD cursor outlives transactions: no BEGIN for it (psycopg2).
            (c, sql(me.cursor_name()), begin && !me.withhold)
        };
        let r = conn.get().execute_opt(py, &sql, begin)?;
        let mut me = slf.borrow_mut();
        me.reset();
        me.set_result(py, r)
    }

    /// `FETCH FORWARD <count> FROM "name"` into the cursor (psycopg2 fetches this way
    /// for every fetch call on a named cursor).
    fn named_fetch(slf: &Bound<'_, Self>, count: FetchCount) -> PyResult<()> {
        Self::named_command(slf, true, |n| statements::fetch_cursor(n, count))
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

    fn is_named(slf: &Bound<'_, Self>) -> bool {
        slf.borrow().name.is_some()
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
        if self.rows.is_none() {
            return Err(client_error(py, Kind::Programming, "no results to fetch"));
        }
        Ok(())
    }

    fn check_named(&self, py: Python<'_>) -> PyResult<()> {
        if self.name.is_some() {
            return Err(client_error(
                py,
                Kind::NotSupported,
                "server-side (named) cursors are not supported on the asyncio face",
            ));
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

fn decoders(r: &QueryResult) -> Vec<Dec> {
    r.columns
        .iter()
        .map(|c| decode::decoder(c.type_oid))
        .collect()
}

/// Row `row` of `r` decoded, as a tuple of its values.
fn row_tuple<'py>(
    py: Python<'py>,
    r: &QueryResult,
    decs: &[Dec],
    row: usize,
) -> PyResult<Bound<'py, PyTuple>> {
    let mut v = Vec::with_capacity(decs.len());
    for (c, dec) in decs.iter().enumerate() {
        v.push(decode::cell(py, *dec, r.get(row, c))?);
    }
    PyTuple::new(py, v)
}

/// Rows decoded while the result arrives (the [`pgpool::conn::RowSink`] of `execute`).
pub(crate) struct Predecoded {
    rows: Vec<Py<PyTuple>>,
    decs: Vec<Dec>,
    /// No more eager decoding for this result: a cell failed to decode (fetching that
    /// row raises, as psycopg2 does, from the lazy path) or the cap was reached.
    stopped: bool,
}

/// Eager decoding stops after this many cells (about 50 MB of Python objects): beyond,
/// rows are decoded when fetched, so that iterating a huge result does not hold all of
/// it as objects at once.
const EAGER_CELLS: usize = 1 << 20;

fn take_predecoded(r: &mut QueryResult) -> Option<Predecoded> {
    r.extra
        .0
        .take()
        .and_then(|b| b.downcast::<Predecoded>().ok())
        .map(|b| *b)
}

/// The row sink of `execute`: while the server is still sending a large result, decode
/// the rows received so far (taking the GIL), so that building the Python objects
/// overlaps with the server producing the rest instead of following it. Decoding is a
/// pure function of the column type and the text (the casters are fixed at execute
/// time, as psycopg2's are), so doing it early changes nothing but when.
pub(crate) fn predecode(r: &mut QueryResult) {
    if !r.has_rows {
        return;
    }
    let mut pre = take_predecoded(r).unwrap_or_else(|| Predecoded {
        rows: Vec::new(),
        decs: decoders(r),
        stopped: false,
    });
    let n = r.nrows();
    if !pre.stopped && pre.rows.len() < n {
        crate::exit::attach(|py| {
            let ncols = pre.decs.len().max(1);
            for i in pre.rows.len()..n {
                if (i + 1) * ncols > EAGER_CELLS {
                    pre.stopped = true;
                    break;
                }
                match row_tuple(py, r, &pre.decs, i) {
                    Ok(t) => pre.rows.push(t.unbind()),
                    Err(_) => {
                        pre.stopped = true;
                        break;
                    }
                }
            }
        });
    }
    r.extra.0 = Some(Box::new(pre));
}

static NAMEDTUPLE: PyOnceLock<Py<PyAny>> = PyOnceLock::new();

/// psycopg2's NamedTupleCursor field names: punctuation → `_`, a leading `_` or digit
/// gets an `f` prefix.
fn nt_field(name: &str) -> String {
    const PUNCT: &str = " !\"#$%&'()*+,-./:;<=>?@[\\]^`{|}~";
    let mut s: String = name
        .chars()
        .map(|c| if PUNCT.contains(c) { '_' } else { c })
        .collect();
    if s.starts_with('_') || s.starts_with(|c: char| c.is_ascii_digit()) {
        s.insert(0, 'f');
    }
    s
}

/// Builds row `i` (the borrow of the cursor is released before calling Python row
/// factories, which may read the cursor).
fn make_row<'py>(slf: &Bound<'py, Cursor>, i: usize) -> PyResult<Bound<'py, PyAny>> {
    let py = slf.py();
    let mut me = slf.borrow_mut();
    let vals = if me.has_custom() {
        let (cells, decs, custom) = me.raw_row(py, i);
        drop(me);
        let v = custom_row(slf.as_any(), &cells, &decs, &custom)?;
        me = slf.borrow_mut();
        if me.rows.is_none() {
            // A typecaster ran another statement on this cursor meanwhile.
            return Err(client_error(py, Kind::Programming, "no results to fetch"));
        }
        v
    } else {
        me.values(py, i)?
    };
    match &me.mode {
        RowMode::Tuple => Ok(vals.into_any()),
        RowMode::Dict(factory) => {
            let factory = factory.as_ref().map(|f| f.clone_ref(py));
            let names = column_names(py, &mut me)?;
            drop(me);
            let d = PyDict::new(py);
            for (k, v) in names.iter().zip(vals.iter()) {
                d.set_item(k, v)?;
            }
            match factory {
                Some(f) => f.bind(py).call1((d,)),
                None => Ok(d.into_any()),
            }
        }
        RowMode::NamedTuple => {
            let rs = me.rows.as_mut().expect("checked");
            let cls = match &rs.nt {
                Some(c) => c.bind(py).clone(),
                None => {
                    let fields: Vec<String> =
                        rs.r.columns.iter().map(|c| nt_field(&c.name)).collect();
                    let nt = NAMEDTUPLE.import(py, "collections", "namedtuple")?;
                    let kw = PyDict::new(py);
                    kw.set_item("module", "pgpool.extras")?;
                    let cls = nt.call(("Record", fields), Some(&kw))?;
                    rs.nt = Some(cls.clone().unbind());
                    cls
                }
            };
            drop(me);
            cls.call1(vals)
        }
        RowMode::DictRow(f) => {
            let f = f.clone_ref(py);
            drop(me);
            f.bind(py).call1((slf, vals))
        }
    }
}

/// A row with user typecasters: `caster(text or None, cursor)` for their columns.
fn custom_row<'py>(
    cursor: &Bound<'py, PyAny>,
    cells: &[Option<Vec<u8>>],
    decs: &[Dec],
    custom: &[Option<Py<PyAny>>],
) -> PyResult<Bound<'py, PyTuple>> {
    let py = cursor.py();
    let mut v = Vec::with_capacity(cells.len());
    for (c, cell) in cells.iter().enumerate() {
        v.push(match custom.get(c).and_then(Option::as_ref) {
            Some(f) => {
                let text = cell.as_deref().map(String::from_utf8_lossy);
                f.bind(py).call1((text, cursor))?
            }
            None => decode::cell(py, decs[c], cell.as_deref())?,
        });
    }
    PyTuple::new(py, v)
}

fn column_names<'py>(py: Python<'py>, me: &mut Cursor) -> PyResult<Bound<'py, PyTuple>> {
    let rs = me.rows.as_mut().expect("checked");
    if let Some(n) = &rs.names {
        return Ok(n.bind(py).clone());
    }
    let t = PyTuple::new(
        py,
        rs.r.columns.iter().map(|c| PyString::intern(py, &c.name)),
    )?;
    rs.names = Some(t.clone().unbind());
    Ok(t)
}

/// psycopg2's `copy_from` / `copy_to` statement for the cursor's connection.
fn copy_table_sql(
    slf: &Bound<'_, Cursor>,
    dir: CopyDirection,
    table: &str,
    sep: &str,
    null: &str,
    columns: Option<&Bound<'_, PyAny>>,
) -> PyResult<String> {
    let py = slf.py();
    let conn = slf.borrow().open_conn(py)?;
    let q = conn.get().quoting(py);
    statements::copy_table(dir, table, &copy_columns(columns)?, sep, null, q)
        .map_err(|e| map_err(py, &e))
}

fn copy_columns(columns: Option<&Bound<'_, PyAny>>) -> PyResult<Vec<String>> {
    let Some(cols) = columns.filter(|c| !c.is_none()) else {
        return Ok(Vec::new());
    };
    let mut names = Vec::new();
    for c in cols.try_iter()? {
        let c = c?;
        names.push(match c.cast::<PyBytes>() {
            Ok(b) => String::from_utf8_lossy(b.as_bytes()).into_owned(),
            Err(_) => c.extract()?,
        });
    }
    Ok(names)
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
        let py = slf.py();
        if Self::is_named(slf) {
            return Self::execute_named(slf, query, vars);
        }
        let (conn, sql) = Cursor::prepare_execute(slf, query, vars)?;
        let r = conn.get().execute(py, &sql)?;
        slf.borrow_mut().set_result(py, r)
    }

    /// Executes `query` once per item of `vars_list`, pipelined; `rowcount` is the total.
    fn executemany(
        slf: &Bound<'_, Self>,
        query: &Bound<'_, PyAny>,
        vars_list: &Bound<'_, PyAny>,
    ) -> PyResult<()> {
        let py = slf.py();
        let conn = Cursor::prepare_executemany(slf)?;
        let qtext = adapt::query_text(query, slf.as_any())?;
        let it: Py<PyIterator> = vars_list.try_iter()?.unbind();
        slf.borrow_mut().reset();
        let quoting = conn.get().quoting_for_batch(py);
        let (total, last, gen_err) = conn.get().with_state(py, |st, intr| {
            let stash: RefCell<Option<PyErr>> = RefCell::new(None);
            let last: RefCell<Option<String>> = RefCell::new(None);
            let r = (|| {
                st.prepare_begin()?;
                let c = st.conn_mut()?;
                let mut gen = std::iter::from_fn(|| {
                    crate::exit::attach(|py| {
                        let item = it.bind(py).clone().next()?;
                        let rendered =
                            item.and_then(|v| adapt::render(py, &qtext, Some(&v), |_| quoting));
                        Some(match rendered {
                            Ok(s) => {
                                *last.borrow_mut() = Some(s.clone());
                                Ok(s)
                            }
                            Err(e) => {
                                *stash.borrow_mut() = Some(e);
                                Err(pgpool::Error::InvalidParameter(
                                    "executemany: parameter error".into(),
                                ))
                            }
                        })
                    })
                });
                c.pipeline(&mut gen, Some(intr))
            })();
            (r, last.into_inner(), stash.into_inner())
        })?;
        if let Some(e) = gen_err {
            slf.borrow_mut().finish_executemany(py, last.as_deref(), -1);
            return Err(e);
        }
        let total = total.map_err(|e| {
            slf.borrow_mut().finish_executemany(py, last.as_deref(), -1);
            map_err(py, &e)
        })?;
        slf.borrow_mut()
            .finish_executemany(py, last.as_deref(), total as i64);
        Ok(())
    }

    /// The statement `execute` would send, as bytes.
    #[pyo3(signature = (query, vars=None))]
    fn mogrify<'py>(
        slf: &Bound<'py, Self>,
        query: &Bound<'py, PyAny>,
        vars: Option<&Bound<'py, PyAny>>,
    ) -> PyResult<Bound<'py, PyBytes>> {
        let py = slf.py();
        let conn = slf.borrow().open_conn(py)?;
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
        let py = slf.py();
        {
            let me = slf.borrow();
            me.open_conn(py)?;
            if me.name.is_some() {
                return Err(client_error(
                    py,
                    Kind::Programming,
                    "can't call .callproc() on named cursors",
                ));
            }
        }
        let params = parameters.filter(|p| !p.is_none());
        let n = match params {
            Some(p) => p.len()?,
            None => 0,
        };
        let using_dict = n > 0 && params.is_some_and(|p| p.is_instance_of::<PyDict>());
        let (sql, vals): (String, Bound<'_, PyAny>) = if using_dict {
            let d = params.expect("checked").cast::<PyDict>()?;
            let mut keys = Vec::new();
            for k in d.keys() {
                keys.push(k.extract::<String>()?);
            }
            (
                statements::callproc(procname, 0, &keys),
                d.values().into_any(),
            )
        } else {
            let vals = match params {
                Some(p) => p.clone(),
                None => py.None().into_bound(py),
            };
            (statements::callproc(procname, n, &[]), vals)
        };
        let q = PyString::new(py, &sql);
        Self::execute(
            slf,
            q.as_any(),
            if vals.is_none() { None } else { Some(&vals) },
        )?;
        if using_dict {
            Ok(py.None())
        } else {
            Ok(params
                .map(|p| p.clone().unbind())
                .unwrap_or_else(|| py.None()))
        }
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
        Self::close(slf)?;
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
        copy(slf, py, sql, file, size)
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
        copy(slf, py, sql, file, size)
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
        copy(slf, py, sql, file, 8192)
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

static TEXT_IO: PyOnceLock<Py<PyType>> = PyOnceLock::new();

/// What psycopg2 raises when `file.read()` fails during COPY FROM: the server's answer to
/// the CopyFail, a QueryCanceled.
fn read_failed(py: Python<'_>, msg: &str) -> PyErr {
    let e = pgpool::DbError {
        severity: "ERROR".into(),
        severity_nonlocalized: Some("ERROR".into()),
        code: "57014".into(),
        message: format!("COPY from stdin failed: {msg}"),
        ..Default::default()
    };
    crate::errors::server_error(py, &e, None)
}

fn copy(
    slf: &Bound<'_, Cursor>,
    py: Python<'_>,
    sql: String,
    file: &Bound<'_, PyAny>,
    size: isize,
) -> PyResult<()> {
    // Named cursors too: psycopg2 runs COPY on their connection like any cursor's.
    let conn = slf.borrow().open_conn(py)?;
    {
        let mut me = slf.borrow_mut();
        me.reset();
        me.query = Some(PyBytes::new(py, sql.as_bytes()).unbind());
    }
    let standard = conn.get().quoting(py) != Quoting::Escape;
    let dir = statements::copy_direction(&sql, standard);
    if dir == CopyDirection::Neither {
        let r = conn.get().execute(py, &sql)?;
        return slf.borrow_mut().set_result(py, r);
    }
    let text_file = file.is_instance(TEXT_IO.import(py, "io", "TextIOBase")?)?;
    let file: Py<PyAny> = file.clone().unbind();
    let (r, user_err) = conn.get().with_state(py, |st, _intr| {
        let stash: RefCell<Option<PyErr>> = RefCell::new(None);
        let r = (|| {
            st.prepare_begin()?;
            let c = st.conn_mut()?;
            // str data goes in the session's client encoding, as psycopg2 sends it
            let enc = c.client_encoding();
            if dir == CopyDirection::In {
                let mut next = || -> pgpool::error::Result<Option<Vec<u8>>> {
                    crate::exit::attach(|py| {
                        let got = file.bind(py).call_method1("read", (size,)).and_then(
                            |d| -> PyResult<Vec<u8>> {
                                if let Ok(b) = d.cast::<PyBytes>() {
                                    Ok(b.as_bytes().to_vec())
                                } else if let Ok(s) = d.cast::<PyString>() {
                                    let s = s.extract::<String>()?;
                                    enc.encode(&s)
                                        .map(|b| b.into_owned())
                                        .map_err(|e| crate::errors::to_py(py, &e))
                                } else {
                                    Ok(d.call_method0("__bytes__")?
                                        .cast::<PyBytes>()?
                                        .as_bytes()
                                        .to_vec())
                                }
                            },
                        );
                        match got {
                            Ok(v) if v.is_empty() => Ok(None),
                            Ok(v) => Ok(Some(v)),
                            Err(e) => {
                                // psycopg2's CopyFail text; the server answers 57014.
                                let name = e
                                    .get_type(py)
                                    .name()
                                    .map(|n| n.to_string())
                                    .unwrap_or_default();
                                let msg = format!("error in .read() call: {name} {}", e.value(py));
                                *stash.borrow_mut() = Some(read_failed(py, &msg));
                                Err(pgpool::Error::Interface(msg))
                            }
                        }
                    })
                };
                c.copy_in(&sql, &mut next)
            } else {
                let mut sink = |data: &[u8]| -> pgpool::error::Result<()> {
                    crate::exit::attach(|py| {
                        let arg: PyResult<Bound<'_, PyAny>> = if text_file {
                            enc.decode(data)
                                .map(|s| PyString::new(py, &s).into_any())
                                .map_err(|e| crate::errors::to_py(py, &e))
                        } else {
                            Ok(PyBytes::new(py, data).into_any())
                        };
                        match arg.and_then(|a| file.bind(py).call_method1("write", (a,))) {
                            Ok(_) => Ok(()),
                            Err(e) => {
                                let msg = e.to_string();
                                *stash.borrow_mut() = Some(e);
                                Err(pgpool::Error::Interface(format!(
                                    "error in file.write(): {msg}"
                                )))
                            }
                        }
                    })
                };
                c.copy_out(&sql, &mut sink)
            }
        })();
        (r, stash.into_inner())
    })?;
    if let Some(e) = user_err {
        return Err(e);
    }
    let r = r.map_err(|e| map_err(py, &e))?;
    let mut me = slf.borrow_mut();
    // psycopg2 reads the status of the COPY_IN/COPY_OUT result: empty.
    me.status = Some(String::new());
    me.rowcount = r.rows_affected().map(|n| n as i64).unwrap_or(-1);
    Ok(())
}

/// One item of `cursor.description`: psycopg2's `Column`, a 7-item sequence with names.
#[pyclass(frozen, sequence, module = "pgpool._pgpool", name = "Column")]
pub struct Column {
    #[pyo3(get)]
    name: String,
    #[pyo3(get)]
    type_code: u32,
    #[pyo3(get)]
    internal_size: Option<i32>,
    #[pyo3(get)]
    precision: Option<i32>,
    #[pyo3(get)]
    scale: Option<i32>,
    #[pyo3(get)]
    table_oid: Option<u32>,
    #[pyo3(get)]
    table_column: Option<i16>,
}

impl Column {
    /// psycopg2's `_make_column`: sizes from `typlen`/`typmod`, precision and scale for
    /// numeric only.
    fn from_core(c: &pgpool::Column) -> Column {
        const NUMERIC: u32 = 1700;
        let mut fmod = c.type_modifier;
        if fmod > 0 {
            fmod -= 4;
        }
        let internal_size = if c.type_size == -1 {
            if c.type_oid == NUMERIC {
                fmod >> 16
            } else {
                fmod
            }
        } else {
            i32::from(c.type_size)
        };
        let (precision, scale) = if c.type_oid == NUMERIC {
            (Some((fmod >> 16) & 0xFFFF), Some(fmod & 0xFFFF))
        } else {
            (None, None)
        };
        Column {
            name: c.name.clone(),
            type_code: c.type_oid,
            internal_size: Some(internal_size),
            precision,
            scale,
            table_oid: (c.table_oid != 0).then_some(c.table_oid),
            table_column: (c.column_id > 0).then_some(c.column_id),
        }
    }

    fn items<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyTuple>> {
        let none = py.None().into_bound(py);
        PyTuple::new(
            py,
            [
                self.name.clone().into_pyobject(py)?.into_any(),
                self.type_code.into_pyobject(py)?.into_any(),
                none.clone(),
                self.internal_size.into_pyobject(py)?,
                self.precision.into_pyobject(py)?,
                self.scale.into_pyobject(py)?,
                none,
            ],
        )
    }
}

#[pymethods]
impl Column {
    #[getter]
    fn display_size(&self) -> Option<i32> {
        None
    }

    #[getter]
    fn null_ok(&self) -> Option<bool> {
        None
    }

    fn __len__(&self) -> usize {
        7
    }

    fn __getitem__<'py>(
        &self,
        py: Python<'py>,
        idx: &Bound<'py, PyAny>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let t = self.items(py)?;
        if let Ok(s) = idx.cast::<PySlice>() {
            return t.as_any().get_item(s);
        }
        let i: isize = idx.extract()?;
        let j = if i < 0 { i + 7 } else { i };
        if !(0..7).contains(&j) {
            return Err(PyIndexError::new_err("tuple index out of range"));
        }
        t.get_item(j as usize)
    }

    fn __iter__<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyIterator>> {
        self.items(py)?.try_iter()
    }

    fn __eq__(&self, py: Python<'_>, other: &Bound<'_, PyAny>) -> PyResult<bool> {
        let mine = self.items(py)?;
        if let Ok(o) = other.cast::<Column>() {
            return mine.eq(o.get().items(py)?);
        }
        if other.is_instance_of::<PyTuple>() {
            return mine.eq(other);
        }
        Ok(false)
    }

    fn __hash__(&self, py: Python<'_>) -> PyResult<isize> {
        self.items(py)?.hash()
    }

    fn __repr__(&self, py: Python<'_>) -> PyResult<String> {
        let name = PyString::new(py, &self.name).repr()?;
        Ok(format!("Column(name={name}, type_code={})", self.type_code))
    }

    fn __reduce__<'py>(
        slf: &Bound<'py, Self>,
    ) -> PyResult<(Bound<'py, PyAny>, Bound<'py, PyTuple>)> {
        let py = slf.py();
        let t = slf.get().items(py)?;
        Ok((py.get_type::<PyTuple>().into_any(), PyTuple::new(py, [t])?))
    }
}
