//! Python objects → `pgpool::sql::Value`, as psycopg2's default adapters see them.

use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::{
    PyBool, PyByteArray, PyBytes, PyDict, PyFloat, PyInt, PyList, PyMemoryView, PyString, PyTuple,
    PyType,
};

use pgpool::sql::{ParamErrorKind, Quoting, Value};

use crate::errors::{client_error, param_error, Kind};

static DECIMAL: PyOnceLock<Py<PyType>> = PyOnceLock::new();
static UUID: PyOnceLock<Py<PyType>> = PyOnceLock::new();
static DATE: PyOnceLock<Py<PyType>> = PyOnceLock::new();
static DATETIME: PyOnceLock<Py<PyType>> = PyOnceLock::new();
static TIME: PyOnceLock<Py<PyType>> = PyOnceLock::new();
static TIMEDELTA: PyOnceLock<Py<PyType>> = PyOnceLock::new();

fn ty<'py>(
    py: Python<'py>,
    cell: &'static PyOnceLock<Py<PyType>>,
    m: &str,
    n: &str,
) -> PyResult<&'py Bound<'py, PyType>> {
    cell.import(py, m, n)
}

/// psycopg2's "can't adapt type 'X'" (a ProgrammingError).
fn cant_adapt(obj: &Bound<'_, PyAny>) -> PyErr {
    let py = obj.py();
    let name = obj
        .get_type()
        .name()
        .map(|n| n.to_string())
        .unwrap_or_else(|_| "?".into());
    client_error(py, Kind::Programming, format!("can't adapt type '{name}'"))
}

fn text_of(obj: &Bound<'_, PyAny>) -> PyResult<String> {
    obj.str()?.extract::<String>()
}

fn isoformat(obj: &Bound<'_, PyAny>) -> PyResult<String> {
    obj.call_method0(pyo3::intern!(obj.py(), "isoformat"))?
        .extract::<String>()
}

fn has_tz(obj: &Bound<'_, PyAny>) -> PyResult<bool> {
    Ok(!obj.getattr(pyo3::intern!(obj.py(), "tzinfo"))?.is_none())
}

/// psycopg2's interval literal: `'%d days %d.%06d seconds'::interval`.
fn timedelta(obj: &Bound<'_, PyAny>) -> PyResult<Value> {
    let py = obj.py();
    let days: i64 = obj.getattr(pyo3::intern!(py, "days"))?.extract()?;
    let secs: i64 = obj.getattr(pyo3::intern!(py, "seconds"))?.extract()?;
    let us: i64 = obj.getattr(pyo3::intern!(py, "microseconds"))?.extract()?;
    Ok(Value::Typed {
        text: format!("{days} days {secs}.{us:06} seconds"),
        cast: Some("interval".into()),
    })
}

fn bytes_of(obj: &Bound<'_, PyAny>) -> PyResult<Vec<u8>> {
    if let Ok(b) = obj.cast::<PyBytes>() {
        return Ok(b.as_bytes().to_vec());
    }
    if let Ok(b) = obj.cast::<PyByteArray>() {
        return Ok(b.to_vec());
    }
    // memoryview and other buffers
    let b = obj.call_method0(pyo3::intern!(obj.py(), "tobytes"))?;
    Ok(b.cast::<PyBytes>()?.as_bytes().to_vec())
}

fn int_value(obj: &Bound<'_, PyAny>) -> PyResult<Value> {
    match obj.extract::<i64>() {
        Ok(i) => Ok(Value::Int(i)),
        Err(_) => {
            // Beyond 64 bits (or an int subclass with a custom __str__): the decimal text
            // of the int value itself, as psycopg2 (`int.__repr__`) renders it.
            let as_int = obj.py().get_type::<PyInt>().call1((obj,))?;
            Ok(Value::BigInt(as_int.repr()?.extract()?))
        }
    }
}

/// What [`adapt_one`] made of an object: a value, or a tuple/list whose items are still
/// to adapt.
enum Step<'py> {
    Done(Value),
    Seq(bool, Vec<Bound<'py, PyAny>>),
}

/// How many `adapt` calls may be in progress on one thread: an adapter (`register_adapter`)
/// whose result needs adapting again calls it anew, and adapters may chain or cycle.
const MAX_ADAPTER_DEPTH: usize = 32;

thread_local! {
    static ADAPT_DEPTH: std::cell::Cell<usize> = const { std::cell::Cell::new(0) };
}

struct DepthGuard;
impl Drop for DepthGuard {
    fn drop(&mut self) {
        ADAPT_DEPTH.with(|d| d.set(d.get().saturating_sub(1)));
    }
}

fn nesting_error() -> PyErr {
    match pgpool::sql::nesting_error() {
        pgpool::Error::Param(p) => pyo3::exceptions::PyRecursionError::new_err(p.message),
        e => pyo3::exceptions::PyRecursionError::new_err(e.to_string()),
    }
}

/// Adapts one Python object (psycopg2's `adapt(obj)`), tuples and lists included, with an
/// explicit stack (no recursion: a deeply nested parameter cannot overflow the thread's
/// stack, 256 KB threads included). Nested deeper than `pgpool::sql::MAX_NESTING`, or
/// adapters chained deeper than [`MAX_ADAPTER_DEPTH`], is a `RecursionError`, as psycopg2
/// raises when it runs out of Python's recursion limit.
pub(crate) fn adapt(obj: &Bound<'_, PyAny>) -> PyResult<Value> {
    let depth = ADAPT_DEPTH.with(|d| {
        let n = d.get() + 1;
        d.set(n);
        n
    });
    let _guard = DepthGuard;
    if depth > MAX_ADAPTER_DEPTH {
        return Err(pyo3::exceptions::PyRecursionError::new_err(format!(
            "maximum recursion depth exceeded while adapting a parameter (adapters \
             returning values to adapt again, more than {MAX_ADAPTER_DEPTH} deep)"
        )));
    }
    let (tuple, items) = match adapt_one(obj)? {
        Step::Done(v) => return Ok(v),
        Step::Seq(tuple, items) => (tuple, items),
    };
    // Open containers: (is a tuple, items left, values so far).
    type Frame<'py> = (bool, std::vec::IntoIter<Bound<'py, PyAny>>, Vec<Value>);
    let mut stack: Vec<Frame<'_>> = Vec::new();
    let n = items.len();
    stack.push((tuple, items.into_iter(), Vec::with_capacity(n)));
    loop {
        let Some(top) = stack.last_mut() else {
            // Unreachable: the root's frame returns below.
            return Ok(Value::Null);
        };
        match top.1.next() {
            Some(item) => match adapt_one(&item)? {
                Step::Done(v) => top.2.push(v),
                Step::Seq(tuple, items) => {
                    if stack.len() >= pgpool::sql::MAX_NESTING {
                        return Err(nesting_error());
                    }
                    let n = items.len();
                    stack.push((tuple, items.into_iter(), Vec::with_capacity(n)));
                }
            },
            None => {
                let Some((tuple, _, values)) = stack.pop() else {
                    return Ok(Value::Null);
                };
                let v = if tuple {
                    Value::Tuple(values)
                } else {
                    Value::Array(values)
                };
                match stack.last_mut() {
                    Some(parent) => parent.2.push(v),
                    None => return Ok(v),
                }
            }
        }
    }
}

fn items<'py>(it: impl Iterator<Item = Bound<'py, PyAny>>) -> Vec<Bound<'py, PyAny>> {
    it.collect()
}

/// One object: a value, or the items of a tuple/list (see [`adapt`]).
fn adapt_one<'py>(obj: &Bound<'py, PyAny>) -> PyResult<Step<'py>> {
    adapt_inner(obj).map(|r| match r {
        Ok(v) => Step::Done(v),
        Err(seq) => seq,
    })
}

/// `Ok(Ok(value))`, or `Ok(Err(Step::Seq))` for a tuple/list.
fn adapt_inner<'py>(obj: &Bound<'py, PyAny>) -> PyResult<Result<Value, Step<'py>>> {
    let py = obj.py();
    if obj.is_none() {
        return Ok(Ok(Value::Null));
    }
    // An adapter registered for exactly this type (`register_adapter`) wins, as it
    // replaces psycopg2's own.
    if let Some(a) = crate::casters::adapter_for(obj, true)? {
        return adapted(obj, &a).map(Ok);
    }
    // Exact builtin types first (the common case), then the library types, then the
    // ISQLQuote protocol (`getquoted()`), then subclasses of the builtins.
    if obj.is_exact_instance_of::<PyBool>() {
        return Ok(Ok(Value::Bool(obj.is_truthy()?)));
    }
    if obj.is_exact_instance_of::<PyInt>() {
        return int_value(obj).map(Ok);
    }
    if obj.is_exact_instance_of::<PyString>() {
        return Ok(Ok(Value::Str(obj.cast::<PyString>()?.extract::<String>()?)));
    }
    if obj.is_exact_instance_of::<PyFloat>() {
        return Ok(Ok(Value::Float(obj.extract::<f64>()?)));
    }
    if obj.is_exact_instance_of::<PyBytes>()
        || obj.is_instance_of::<PyByteArray>()
        || obj.is_instance_of::<PyMemoryView>()
    {
        return Ok(Ok(Value::Bytes(bytes_of(obj)?)));
    }
    if obj.is_exact_instance_of::<PyTuple>() {
        return Ok(Err(Step::Seq(true, items(obj.cast::<PyTuple>()?.iter()))));
    }
    if obj.is_exact_instance_of::<PyList>() {
        return Ok(Err(Step::Seq(false, items(obj.cast::<PyList>()?.iter()))));
    }
    if obj.is_instance(ty(py, &DECIMAL, "decimal", "Decimal")?)? {
        return Ok(Ok(Value::Decimal(text_of(obj)?)));
    }
    if obj.is_instance(ty(py, &DATETIME, "datetime", "datetime")?)? {
        let cast = if has_tz(obj)? {
            "timestamptz"
        } else {
            "timestamp"
        };
        return Ok(Ok(Value::Typed {
            text: isoformat(obj)?,
            cast: Some(cast.into()),
        }));
    }
    if obj.is_instance(ty(py, &DATE, "datetime", "date")?)? {
        return Ok(Ok(Value::Typed {
            text: isoformat(obj)?,
            cast: Some("date".into()),
        }));
    }
    if obj.is_instance(ty(py, &TIME, "datetime", "time")?)? {
        let cast = if has_tz(obj)? { "timetz" } else { "time" };
        return Ok(Ok(Value::Typed {
            text: isoformat(obj)?,
            cast: Some(cast.into()),
        }));
    }
    if obj.is_instance(ty(py, &TIMEDELTA, "datetime", "timedelta")?)? {
        return timedelta(obj).map(Ok);
    }
    if obj.is_instance(ty(py, &UUID, "uuid", "UUID")?)? {
        return Ok(Ok(Value::Typed {
            text: text_of(obj)?,
            cast: Some("uuid".into()),
        }));
    }
    // An adapter registered for a base class (e.g. `register_adapter(dict, Json)` for a
    // dict subclass).
    if let Some(a) = crate::casters::adapter_for(obj, false)? {
        return adapted(obj, &a).map(Ok);
    }
    if obj.is_instance_of::<PyDict>() {
        return Err(cant_adapt(obj));
    }
    if let Ok(getquoted) = obj.getattr(pyo3::intern!(py, "getquoted")) {
        return quoted(&getquoted.call0()?).map(Ok);
    }
    // Subclasses of the builtins (IntEnum, str subclasses, ...): psycopg2 walks the MRO.
    if obj.is_instance_of::<PyBool>() {
        return Ok(Ok(Value::Bool(obj.is_truthy()?)));
    }
    if obj.is_instance_of::<PyInt>() {
        return int_value(obj).map(Ok);
    }
    if obj.is_instance_of::<PyFloat>() {
        return Ok(Ok(Value::Float(obj.extract::<f64>()?)));
    }
    if obj.is_instance_of::<PyString>() {
        return Ok(Ok(Value::Str(obj.cast::<PyString>()?.extract::<String>()?)));
    }
    if obj.is_instance_of::<PyBytes>() {
        return Ok(Ok(Value::Bytes(bytes_of(obj)?)));
    }
    if obj.is_instance_of::<PyTuple>() {
        return Ok(Err(Step::Seq(true, items(obj.cast::<PyTuple>()?.iter()))));
    }
    if obj.is_instance_of::<PyList>() {
        return Ok(Err(Step::Seq(false, items(obj.cast::<PyList>()?.iter()))));
    }
    Err(cant_adapt(obj))
}

/// What `getquoted()` returned (bytes or str), as SQL text.
fn quoted(q: &Bound<'_, PyAny>) -> PyResult<Value> {
    let sql = if let Ok(b) = q.cast::<PyBytes>() {
        String::from_utf8(b.as_bytes().to_vec()).map_err(|_| {
            client_error(
                q.py(),
                Kind::Programming,
                "getquoted() returned bytes that are not UTF-8",
            )
        })?
    } else {
        q.extract::<String>()?
    };
    Ok(Value::Raw(sql))
}

/// `adapter(obj)`: an ISQLQuote object (`getquoted()`), or else a value adapted as usual.
fn adapted(obj: &Bound<'_, PyAny>, adapter: &Bound<'_, PyAny>) -> PyResult<Value> {
    let py = obj.py();
    let a = adapter.call1((obj,))?;
    if let Ok(getquoted) = a.getattr(pyo3::intern!(py, "getquoted")) {
        return quoted(&getquoted.call0()?);
    }
    if a.get_type().is(obj.get_type()) {
        return Err(cant_adapt(obj)); // an adapter that returns its argument as is
    }
    adapt(&a)
}

/// `vars` of `execute()`, adapted. psycopg2 adapts only the values the placeholders use; we
/// adapt everything up front and keep the first failure aside, raising it only when
/// interpolation would have needed that value.
pub(crate) enum Vars {
    Positional {
        values: Vec<Value>,
        /// Index and error of the first value that could not be adapted.
        failed: Option<(usize, PyErr)>,
        /// The Python type name of the sequence (`tuple`, `list`, ...), for messages.
        type_name: String,
    },
    Named {
        pairs: Vec<(String, Value)>,
        /// Keys whose value could not be adapted (left out of `pairs`).
        failed: Vec<(String, PyErr)>,
    },
}

impl Vars {
    /// Adapts `vars` (a mapping → named, anything else → a sequence).
    pub(crate) fn from_py(vars: &Bound<'_, PyAny>) -> PyResult<Vars> {
        let py = vars.py();
        let is_mapping = vars.is_instance_of::<PyDict>()
            || (!vars.is_instance_of::<PyTuple>()
                && !vars.is_instance_of::<PyList>()
                && !vars.is_instance_of::<PyString>()
                && vars.hasattr(pyo3::intern!(py, "keys"))?);
        if is_mapping {
            let mut pairs = Vec::new();
            let mut failed = Vec::new();
            let mut add = |k: Bound<'_, PyAny>, v: Bound<'_, PyAny>| -> PyResult<()> {
                // psycopg2 looks keys up with the placeholder's text: only str keys match.
                let Ok(key) = k.extract::<String>() else {
                    return Ok(());
                };
                match adapt(&v) {
                    Ok(val) => pairs.push((key, val)),
                    Err(e) => failed.push((key, e)),
                }
                Ok(())
            };
            if let Ok(d) = vars.cast::<PyDict>() {
                for (k, v) in d.iter() {
                    add(k, v)?;
                }
            } else {
                for k in vars.call_method0(pyo3::intern!(py, "keys"))?.try_iter()? {
                    let k = k?;
                    let v = vars.get_item(&k)?;
                    add(k, v)?;
                }
            }
            return Ok(Vars::Named { pairs, failed });
        }
        let type_name = vars.get_type().name()?.to_string();
        let mut values = Vec::new();
        let mut failed = None;
        let mut push = |i: usize, o: Bound<'_, PyAny>| match adapt(&o) {
            Ok(v) => values.push(v),
            Err(e) => {
                values.push(Value::Null);
                if failed.is_none() {
                    failed = Some((i, e));
                }
            }
        };
        if let Ok(t) = vars.cast::<PyTuple>() {
            for (i, o) in t.iter().enumerate() {
                push(i, o);
            }
        } else if let Ok(l) = vars.cast::<PyList>() {
            for (i, o) in l.iter().enumerate() {
                push(i, o);
            }
        } else {
            let it = vars.try_iter().map_err(|_| {
                client_error(
                    py,
                    Kind::TypeError,
                    format!("'{type_name}' object does not support indexing"),
                )
            })?;
            for (i, o) in it.enumerate() {
                push(i, o?);
            }
        }
        Ok(Vars::Positional {
            values,
            failed,
            type_name,
        })
    }

    /// Interpolates `query` with these parameters (psycopg2's `execute`/`mogrify`),
    /// literals quoted for `q`.
    pub(crate) fn interpolate(self, py: Python<'_>, query: &str, q: Quoting) -> PyResult<String> {
        match self {
            Vars::Positional {
                values,
                failed,
                type_name,
            } => {
                let r = pgpool::sql::interpolate(
                    query,
                    Some(pgpool::sql::Params::Positional(&values)),
                    q,
                );
                match (r, failed) {
                    (Ok(_), Some((_, e))) => Err(e),
                    (Ok(s), None) => Ok(s),
                    (Err(pgpool::Error::Param(p)), failed) => {
                        // Too many values: psycopg2 never adapts the extra ones.
                        if let Some((_, e)) = failed {
                            if p.kind != ParamErrorKind::SurplusValues {
                                return Err(e);
                            }
                        }
                        Err(param_error(py, &p, Some(&type_name)))
                    }
                    (Err(e), _) => Err(crate::errors::to_py(py, &e)),
                }
            }
            Vars::Named { pairs, failed } => {
                match pgpool::sql::interpolate(query, Some(pgpool::sql::Params::Named(&pairs)), q) {
                    Ok(s) => Ok(s),
                    Err(pgpool::Error::Param(p)) => {
                        if p.kind == ParamErrorKind::Key {
                            if let Some(pos) = failed.iter().position(|(k, _)| *k == p.message) {
                                let mut failed = failed;
                                return Err(failed.swap_remove(pos).1);
                            }
                        }
                        Err(param_error(py, &p, None))
                    }
                    Err(e) => Err(crate::errors::to_py(py, &e)),
                }
            }
        }
    }
}

/// `query % vars` as psycopg2 does it: `vars=None` leaves the query untouched. `q`
/// gives the quoting of the literals from the query (e.g. the connection's
/// [`Connection::quoting_for`](crate::conn::Connection::quoting_for)); it is only
/// asked for when there are values.
pub(crate) fn render(
    py: Python<'_>,
    query: &str,
    vars: Option<&Bound<'_, PyAny>>,
    q: impl FnOnce(&str) -> Quoting,
) -> PyResult<String> {
    match vars {
        Some(v) if !v.is_none() => Vars::from_py(v)?.interpolate(py, query, q(query)),
        _ => pgpool::sql::interpolate(query, None, Quoting::Standard)
            .map_err(|e| crate::errors::to_py(py, &e)),
    }
}

/// The text of a query given as `str` or `bytes` (UTF-8), or as a `pgpool.sql` object
/// rendered for `cursor` (its literals quoted for the cursor's connection).
pub(crate) fn query_text(q: &Bound<'_, PyAny>, cursor: &Bound<'_, PyAny>) -> PyResult<String> {
    if let Ok(s) = q.cast::<PyString>() {
        return s.extract::<String>();
    }
    if let Ok(b) = q.cast::<PyBytes>() {
        return String::from_utf8(b.as_bytes().to_vec()).map_err(|e| {
            client_error(
                q.py(),
                Kind::ValueError,
                format!("the query is not valid UTF-8: {e}"),
            )
        });
    }
    // `pgpool.sql` objects (psycopg2's `sql.Composable`): their text, rendered for the
    // cursor (as psycopg2 does), so that literals follow the connection's quoting.
    if q.hasattr("as_string")? {
        let s = q.call_method1("as_string", (cursor,))?;
        if s.is_instance_of::<PyString>() {
            return s.extract::<String>();
        }
    }
    Err(client_error(
        q.py(),
        Kind::TypeError,
        format!(
            "argument 1 must be a string or unicode object: got {} instead",
            q.get_type().name()?
        ),
    ))
}
