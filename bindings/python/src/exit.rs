//! Interpreter exit. At exit Python abandons daemon threads, and one that then tries to
//! take the GIL back is stopped with `pthread_exit`, whose forced unwinding through
//! Rust frames aborts the whole process ("FATAL: exception not rethrown", exit code
//! 134). So a thread of ours that comes back from a GIL-free wait (a statement, a
//! checkout, COPY) after the interpreter began to exit never takes the GIL again: it
//! parks for good, and the process exits as it would with psycopg2 (whose C frames
//! unwind quietly). The main thread is never parked: it is the one that exits, and it
//! runs the finalizers.
//!
//! The flag is set by an `atexit` hook registered at import (so it runs after the
//! application's own hooks, which may still use pgpool): from then on only the main
//! thread gets the GIL back through [`detach`] and [`attach`].

use std::sync::atomic::{AtomicBool, Ordering};

use pyo3::marker::Ungil;
use pyo3::prelude::*;
use pyo3::types::{PyCFunction, PyDict, PyTuple};

static EXITING: AtomicBool = AtomicBool::new(false);

/// Parks the calling thread for good when the interpreter is exiting, unless it is the
/// main thread or holds the GIL (parking then would stop the exit itself).
fn park_if_exiting() {
    if EXITING.load(Ordering::Acquire) && !crate::conn::is_main_thread() {
        // SAFETY: PyGILState_Check only reads this thread's state; callable without the GIL.
        if unsafe { pyo3::ffi::PyGILState_Check() } == 1 {
            return;
        }
        loop {
            std::thread::park();
        }
    }
}

/// `py.detach(f)`, except that a thread coming back after the interpreter began to exit
/// parks instead of taking the GIL (see the module docs).
pub(crate) fn detach<T, F>(py: Python<'_>, f: F) -> T
where
    F: Ungil + Send + FnOnce() -> T,
    T: Ungil + Send,
{
    py.detach(|| {
        let r = f();
        park_if_exiting();
        r
    })
}

/// `Python::attach(f)` from a GIL-free section (a callback into Python during a wait),
/// parking instead when the interpreter is exiting.
pub(crate) fn attach<R>(f: impl for<'py> FnOnce(Python<'py>) -> R) -> R {
    park_if_exiting();
    Python::attach(f)
}

/// Registers the `atexit` hook that sets the flag. Called once, at import.
pub(crate) fn install(py: Python<'_>) -> PyResult<()> {
    let hook = PyCFunction::new_closure(
        py,
        Some(c"_pgpool_interpreter_exit"),
        Some(c"From now on, threads inside pgpool never take the GIL back (exit)."),
        |_args: &Bound<'_, PyTuple>, _kwargs: Option<&Bound<'_, PyDict>>| {
            EXITING.store(true, Ordering::Release);
        },
    )?;
    py.import("atexit")?.call_method1("register", (hook,))?;
    Ok(())
}
