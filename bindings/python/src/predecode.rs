//! The rows of a result as Python tuples: a decoder per column, and the early decoding
//! of large results while they arrive (the row sink of `execute`).

use pyo3::prelude::*;
use pyo3::types::PyTuple;

use pgpool::QueryResult;

use crate::decode::{self, Decoder};

pub(crate) fn decoders(r: &QueryResult) -> Vec<Decoder> {
    r.columns
        .iter()
        .map(|c| decode::decoder(c.type_oid))
        .collect()
}

/// Row `row` of `r` decoded, as a tuple of its values.
pub(crate) fn row_tuple<'py>(
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
    pub(crate) rows: Vec<Py<PyTuple>>,
    pub(crate) decs: Vec<Decoder>,
    /// No more eager decoding for this result: a cell failed to decode (fetching that
    /// row raises, as psycopg2 does, from the lazy path) or the cap was reached.
    pub(crate) stopped: bool,
}

/// Eager decoding stops after this many cells (about 50 MB of Python objects): beyond,
/// rows are decoded when fetched, so that iterating a huge result does not hold all of
/// it as objects at once.
pub(crate) const EAGER_CELLS: usize = 1 << 20;

pub(crate) fn take_predecoded(r: &mut QueryResult) -> Option<Predecoded> {
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
