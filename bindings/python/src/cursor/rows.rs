//! Building rows: tuples, dicts, namedtuples, user typecasters (the tuples themselves,
//! and the early decoding, are `crate::predecode`'s).

use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::{PyDict, PyString, PyTuple};

use super::{Cursor, RowMode};
use crate::decode;
use crate::decode::Decoder;
use crate::errors::{client_error, Kind};

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
