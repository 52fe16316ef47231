//! Building rows: decoders per column, tuples, dicts, namedtuples, user typecasters, and
//! the early decoding of large results while they arrive.

#[allow(unused_imports)]
use super::*;

pub(super) fn decoders(r: &QueryResult) -> Vec<Decoder> {
    r.columns
        .iter()
        .map(|c| decode::decoder(c.type_oid))
        .collect()
}

/// Row `row` of `r` decoded, as a tuple of its values.
pub(super) fn row_tuple<'py>(
    py: Python<'py>,
    r: &QueryResult,
    decs: &[Decoder],
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
    pub(super) rows: Vec<Py<PyTuple>>,
    pub(super) decs: Vec<Decoder>,
    /// No more eager decoding for this result: a cell failed to decode (fetching that
    /// row raises, as psycopg2 does, from the lazy path) or the cap was reached.
    pub(super) stopped: bool,
}

/// Eager decoding stops after this many cells (about 50 MB of Python objects): beyond,
/// rows are decoded when fetched, so that iterating a huge result does not hold all of
/// it as objects at once.
pub(super) const EAGER_CELLS: usize = 1 << 20;

pub(super) fn take_predecoded(r: &mut QueryResult) -> Option<Predecoded> {
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

pub(super) static NAMEDTUPLE: PyOnceLock<Py<PyAny>> = PyOnceLock::new();

/// psycopg2's NamedTupleCursor field names: punctuation → `_`, a leading `_` or digit
/// gets an `f` prefix.
pub(super) fn nt_field(name: &str) -> String {
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
pub(super) fn make_row<'py>(slf: &Bound<'py, Cursor>, i: usize) -> PyResult<Bound<'py, PyAny>> {
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
pub(super) fn custom_row<'py>(
    cursor: &Bound<'py, PyAny>,
    cells: &[Option<Vec<u8>>],
    decs: &[Decoder],
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

pub(super) fn column_names<'py>(py: Python<'py>, me: &mut Cursor) -> PyResult<Bound<'py, PyTuple>> {
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
