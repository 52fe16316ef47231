//! `cursor.description`'s items: psycopg2's `Column`.

use pyo3::exceptions::PyIndexError;
use pyo3::prelude::*;
use pyo3::types::{PyIterator, PySlice, PyString, PyTuple};

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
    pub(super) fn from_core(c: &pgpool::Column) -> Column {
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
