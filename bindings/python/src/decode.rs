//! Text cells of a `QueryResult` → the Python objects psycopg2's default typecasters build.
//! The parsing is `pgpool::types`; this module only builds the objects.

use std::collections::HashMap;
use std::sync::Mutex;

use pyo3::exceptions::PyOverflowError;
use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::{
    PyBool, PyBytes, PyDate, PyDateTime, PyDelta, PyFloat, PyInt, PyList, PyMemoryView, PyString,
    PyTime, PyType, PyTzInfo,
};

use pgpool::types::{
    self, ArrayEvent, DateValue, ParseError, RangeKind, RangeValue, Time, TimestampValue, Typecast,
};

use crate::errors::parse_error;

/// How the cells of one column are decoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Decoder {
    /// A scalar.
    Scalar(Typecast),
    /// An array whose elements are cast with the given caster.
    Array(Typecast),
}

/// psycopg2's caster for a column of type `oid`.
pub(crate) fn decoder(oid: u32) -> Decoder {
    match types::array_typecast(oid) {
        Some(t) => Decoder::Array(t),
        None => Decoder::Scalar(types::typecast(oid)),
    }
}

static DECIMAL: PyOnceLock<Py<PyType>> = PyOnceLock::new();
static JSON_LOADS: PyOnceLock<Py<PyAny>> = PyOnceLock::new();
static DATE_MAX: PyOnceLock<Py<PyAny>> = PyOnceLock::new();
static DATE_MIN: PyOnceLock<Py<PyAny>> = PyOnceLock::new();
static DT_MAX: PyOnceLock<Py<PyAny>> = PyOnceLock::new();
static DT_MIN: PyOnceLock<Py<PyAny>> = PyOnceLock::new();
static DT_MAX_UTC: PyOnceLock<Py<PyAny>> = PyOnceLock::new();
static DT_MIN_UTC: PyOnceLock<Py<PyAny>> = PyOnceLock::new();
static RANGES: PyOnceLock<[Option<Py<PyAny>>; 4]> = PyOnceLock::new();
static TZ_CACHE: Mutex<Option<HashMap<i32, Py<PyTzInfo>>>> = Mutex::new(None);

fn cached<'py>(
    py: Python<'py>,
    cell: &'static PyOnceLock<Py<PyAny>>,
    f: impl FnOnce() -> PyResult<Bound<'py, PyAny>>,
) -> PyResult<Bound<'py, PyAny>> {
    Ok(cell
        .get_or_try_init(py, || f().map(Bound::unbind))?
        .bind(py)
        .clone())
}

fn dt_attr<'py>(py: Python<'py>, ty: &str, attr: &str) -> PyResult<Bound<'py, PyAny>> {
    py.import("datetime")?.getattr(ty)?.getattr(attr)
}

fn with_utc<'py>(dt: Bound<'py, PyAny>) -> PyResult<Bound<'py, PyAny>> {
    let py = dt.py();
    let kw = pyo3::types::PyDict::new(py);
    kw.set_item("tzinfo", PyTzInfo::utc(py)?)?;
    dt.call_method("replace", (), Some(&kw))
}

/// `datetime.timezone(timedelta(seconds=offset))`, one object per offset.
fn tz<'py>(py: Python<'py>, offset: i32) -> PyResult<Bound<'py, PyTzInfo>> {
    if let Some(t) = TZ_CACHE
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .as_ref()
        .and_then(|m| m.get(&offset))
    {
        return Ok(t.bind(py).clone());
    }
    let delta = PyDelta::new(
        py,
        offset.div_euclid(86400),
        offset.rem_euclid(86400),
        0,
        true,
    )?;
    let t = PyTzInfo::fixed_offset(py, delta)?;
    let mut g = TZ_CACHE.lock().unwrap_or_else(|e| e.into_inner());
    let m = g.get_or_insert_with(HashMap::new);
    if m.len() < 1024 {
        m.insert(offset, t.clone().unbind());
    }
    Ok(t)
}

fn text<'py>(py: Python<'py>, s: &[u8]) -> PyResult<Bound<'py, PyAny>> {
    match std::str::from_utf8(s) {
        Ok(s) => Ok(PyString::new(py, s).into_any()),
        // The exact UnicodeDecodeError Python would raise.
        Err(_) => Ok(PyBytes::new(py, s).call_method1("decode", ("utf-8",))?),
    }
}

fn time_obj<'py>(py: Python<'py>, t: &Time, offset: Option<i32>) -> PyResult<Bound<'py, PyAny>> {
    let tzinfo = match offset {
        Some(o) => Some(tz(py, o)?),
        None => None,
    };
    Ok(PyTime::new(py, t.hour, t.minute, t.second, t.micro, tzinfo.as_ref())?.into_any())
}

fn range_class<'py>(py: Python<'py>, kind: RangeKind) -> PyResult<Option<Bound<'py, PyAny>>> {
    let classes = RANGES.get_or_try_init(py, || -> PyResult<_> {
        let extras = py.import("pgpool.extras").ok();
        let get = |name: &str| {
            extras
                .as_ref()
                .and_then(|m| m.getattr(name).ok())
                .map(Bound::unbind)
        };
        Ok([
            get("NumericRange"),
            get("DateRange"),
            get("DateTimeRange"),
            get("DateTimeTZRange"),
        ])
    })?;
    let i = match kind {
        RangeKind::Int4 | RangeKind::Int8 | RangeKind::Numeric => 0,
        RangeKind::Date => 1,
        RangeKind::Timestamp => 2,
        RangeKind::TimestampTz => 3,
    };
    Ok(classes[i].as_ref().map(|c| c.bind(py).clone()))
}

/// Decodes one non-NULL value with caster `tc`.
pub(crate) fn scalar<'py>(py: Python<'py>, tc: Typecast, s: &[u8]) -> PyResult<Bound<'py, PyAny>> {
    match tc {
        Typecast::Str => text(py, s),
        Typecast::Int => match types::parse_i64(s) {
            Ok(i) => Ok(i.into_pyobject(py)?.into_any()),
            Err(e) if e.is_out_of_range() => py.get_type::<PyInt>().call1((text(py, s)?,)),
            Err(e) => Err(parse_error(py, &e)),
        },
        Typecast::Float => {
            let f = types::parse_f64(s).map_err(|e| parse_error(py, &e))?;
            Ok(PyFloat::new(py, f).into_any())
        }
        Typecast::Decimal => DECIMAL
            .import(py, "decimal", "Decimal")?
            .call1((text(py, s)?,)),
        Typecast::Bool => {
            let b = types::parse_bool(s).map_err(|e| parse_error(py, &e))?;
            Ok(PyBool::new(py, b).to_owned().into_any())
        }
        Typecast::Bytea => {
            let v = types::decode_bytea(s).map_err(|e| parse_error(py, &e))?;
            // psycopg2's buffer: items are 1-byte bytes (format 'c'), not ints.
            let mv = PyMemoryView::from(&PyBytes::new(py, &v))?;
            mv.call_method1(pyo3::intern!(py, "cast"), (pyo3::intern!(py, "c"),))
        }
        Typecast::Date => match types::parse_date(s).map_err(|e| parse_error(py, &e))? {
            DateValue::Date(d) => {
                let year = d.year;
                Ok(PyDate::new(py, year, d.month, d.day)?.into_any())
            }
            DateValue::Infinity => cached(py, &DATE_MAX, || dt_attr(py, "date", "max")),
            DateValue::NegInfinity => cached(py, &DATE_MIN, || dt_attr(py, "date", "min")),
        },
        Typecast::Time => {
            let t = types::parse_time(s).map_err(|e| parse_error(py, &e))?;
            time_obj(py, &t, t.offset_secs)
        }
        Typecast::Timestamp | Typecast::TimestampTz => {
            let aware = tc == Typecast::TimestampTz;
            match types::parse_timestamp(s).map_err(|e| parse_error(py, &e))? {
                TimestampValue::Timestamp(ts) => {
                    let tzinfo = match ts.offset_secs {
                        Some(o) => Some(tz(py, o)?),
                        None => None,
                    };
                    let (d, t) = (ts.date, ts.time);
                    Ok(PyDateTime::new(
                        py,
                        d.year,
                        d.month,
                        d.day,
                        t.hour,
                        t.minute,
                        t.second,
                        t.micro,
                        tzinfo.as_ref(),
                    )?
                    .into_any())
                }
                TimestampValue::Infinity if aware => cached(py, &DT_MAX_UTC, || {
                    with_utc(dt_attr(py, "datetime", "max")?)
                }),
                TimestampValue::NegInfinity if aware => cached(py, &DT_MIN_UTC, || {
                    with_utc(dt_attr(py, "datetime", "min")?)
                }),
                TimestampValue::Infinity => cached(py, &DT_MAX, || dt_attr(py, "datetime", "max")),
                TimestampValue::NegInfinity => {
                    cached(py, &DT_MIN, || dt_attr(py, "datetime", "min"))
                }
            }
        }
        Typecast::Interval => {
            let iv = types::parse_interval(s).map_err(|e| parse_error(py, &e))?;
            let (days, secs, us) = iv.to_timedelta_parts();
            let days32 = i32::try_from(days)
                .ok()
                .filter(|d| d.unsigned_abs() <= types::TIMEDELTA_MAX_DAYS as u32)
                .ok_or_else(|| {
                    PyOverflowError::new_err(format!(
                        "days={days}; must have magnitude <= 999999999"
                    ))
                })?;
            Ok(PyDelta::new(py, days32, secs, us, true)?.into_any())
        }
        Typecast::Json => JSON_LOADS
            .import(py, "json", "loads")?
            .call1((text(py, s)?,)),
        Typecast::Range(kind) => range(py, kind, s),
    }
}

fn range<'py>(py: Python<'py>, kind: RangeKind, s: &[u8]) -> PyResult<Bound<'py, PyAny>> {
    let Some(cls) = range_class(py, kind)? else {
        // No range classes in this build of the package: the text, as for unknown types.
        return text(py, s);
    };
    match types::parse_range(s).map_err(|e| parse_error(py, &e))? {
        RangeValue::Empty => {
            let kw = pyo3::types::PyDict::new(py);
            kw.set_item("empty", true)?;
            cls.call((), Some(&kw))
        }
        RangeValue::Range(r) => {
            let tc = kind.bound_typecast();
            let lower = match &r.lower {
                Some(b) => scalar(py, tc, b)?,
                None => py.None().into_bound(py),
            };
            let upper = match &r.upper {
                Some(b) => scalar(py, tc, b)?,
                None => py.None().into_bound(py),
            };
            cls.call1((lower, upper, r.bounds()))
        }
    }
}

enum ArrErr {
    Parse(ParseError),
    Py(PyErr),
}

impl From<ParseError> for ArrErr {
    fn from(e: ParseError) -> Self {
        ArrErr::Parse(e)
    }
}

/// An array literal → nested lists (NULL → None).
pub(crate) fn array<'py>(py: Python<'py>, tc: Typecast, s: &[u8]) -> PyResult<Bound<'py, PyAny>> {
    let mut stack: Vec<Bound<'py, PyList>> = Vec::new();
    let mut done: Option<Bound<'py, PyList>> = None;
    let r = types::walk_array(s, b',', |ev| -> Result<(), ArrErr> {
        match ev {
            ArrayEvent::Begin => stack.push(PyList::empty(py)),
            ArrayEvent::Element(e) => {
                let v = match e {
                    None => py.None().into_bound(py),
                    Some(t) => scalar(py, tc, &t).map_err(ArrErr::Py)?,
                };
                if let Some(top) = stack.last() {
                    top.append(v).map_err(ArrErr::Py)?;
                }
            }
            ArrayEvent::End => {
                if let Some(l) = stack.pop() {
                    match stack.last() {
                        Some(parent) => parent.append(l).map_err(ArrErr::Py)?,
                        None => done = Some(l),
                    }
                }
            }
        }
        Ok(())
    });
    match r {
        Ok(()) => Ok(done.unwrap_or_else(|| PyList::empty(py)).into_any()),
        Err(ArrErr::Parse(e)) => Err(parse_error(py, &e)),
        Err(ArrErr::Py(e)) => Err(e),
    }
}

/// Decodes one cell (`None` text = SQL NULL).
#[inline]
pub(crate) fn cell<'py>(
    py: Python<'py>,
    dec: Decoder,
    s: Option<&[u8]>,
) -> PyResult<Bound<'py, PyAny>> {
    match s {
        None => Ok(py.None().into_bound(py)),
        Some(s) => match dec {
            Decoder::Scalar(tc) => scalar(py, tc, s),
            Decoder::Array(tc) => array(py, tc, s),
        },
    }
}
