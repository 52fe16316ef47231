//! User typecasters and adapters (psycopg2's `register_type` / `register_adapter`): the
//! process-wide registries the Python helpers in `pgpool.extensions` fill (registrations
//! on one connection or cursor are `crate::register`'s). Empty registries cost one
//! atomic load per result (casters) or per parameter (adapters).

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};

use parking_lot::Mutex;
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyType};

/// oid → caster, registered globally.
static GLOBAL: Mutex<Option<HashMap<u32, Py<PyAny>>>> = Mutex::new(None);
/// Set once a caster was registered globally.
static ANY_GLOBAL: AtomicBool = AtomicBool::new(false);

/// True once a typecaster was registered globally (every result then looks casters
/// up; connection and cursor registrations are checked on their own objects).
pub(crate) fn any_global() -> bool {
    ANY_GLOBAL.load(Ordering::Acquire)
}

/// The type OIDs with a global caster (none, without a lock, until one is registered).
pub(crate) fn global_oids() -> Vec<u32> {
    if !any_global() {
        return Vec::new();
    }
    GLOBAL
        .lock()
        .as_ref()
        .map(|m| m.keys().copied().collect())
        .unwrap_or_default()
}

/// The global caster for `oid`.
pub(crate) fn global(py: Python<'_>, oid: u32) -> Option<Py<PyAny>> {
    GLOBAL
        .lock()
        .as_ref()
        .and_then(|m| m.get(&oid))
        .map(|c| c.clone_ref(py))
}

/// Registers `caster` for `oids` globally (`register_type(caster)` without a scope).
pub(crate) fn register_global(py: Python<'_>, oids: &[u32], caster: &Py<PyAny>) {
    let mut g = GLOBAL.lock();
    let m = g.get_or_insert_with(HashMap::new);
    for o in oids {
        m.insert(*o, caster.clone_ref(py));
    }
    ANY_GLOBAL.store(true, Ordering::Release);
}

/// The builtin caster of `oid` applied to `value` (what `extensions.DECIMAL(value, cur)`
/// and the other predefined typecasters do).
#[pyfunction]
pub(crate) fn _cast(py: Python<'_>, oid: u32, value: Option<&str>) -> PyResult<Py<PyAny>> {
    crate::decode::cell(py, crate::decode::decoder(oid), value.map(str::as_bytes))
        .map(Bound::unbind)
}

static ADAPTERS: Mutex<Option<Py<PyDict>>> = Mutex::new(None);
static ANY_ADAPTER: AtomicBool = AtomicBool::new(false);

/// `register_adapter(type, adapter)`.
#[pyfunction]
pub(crate) fn _register_adapter(typ: &Bound<'_, PyType>, adapter: Py<PyAny>) -> PyResult<()> {
    let py = typ.py();
    let d = ADAPTERS
        .lock()
        .get_or_insert_with(|| PyDict::new(py).unbind())
        .clone_ref(py);
    d.bind(py).set_item(typ, adapter)?;
    ANY_ADAPTER.store(true, Ordering::Release);
    Ok(())
}

/// The adapter registered for the type of `obj` (`exact`), or for one of its base
/// classes in MRO order (psycopg2 looks the exact type up first, then walks the MRO).
pub(crate) fn adapter_for<'py>(
    obj: &Bound<'py, PyAny>,
    exact: bool,
) -> PyResult<Option<Bound<'py, PyAny>>> {
    if !ANY_ADAPTER.load(Ordering::Acquire) {
        return Ok(None);
    }
    let py = obj.py();
    let Some(d) = ADAPTERS.lock().as_ref().map(|d| d.clone_ref(py)) else {
        return Ok(None);
    };
    let d = d.bind(py);
    let t = obj.get_type();
    if exact {
        return d.get_item(&t);
    }
    for base in t.getattr(pyo3::intern!(py, "__mro__"))?.try_iter()?.skip(1) {
        if let Some(a) = d.get_item(base?)? {
            return Ok(Some(a));
        }
    }
    Ok(None)
}
