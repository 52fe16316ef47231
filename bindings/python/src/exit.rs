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
//! application's own hooks, which may still use pgpool), which then waits (without the
//! GIL, at most 2 s) for the threads already on their way to the GIL: from then on only
//! the main thread gets the GIL back through [`detach`] and [`attach`].

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use pyo3::marker::Ungil;
use pyo3::prelude::*;
use pyo3::types::{PyCFunction, PyDict, PyTuple};

thread_local! {
    /// This thread is Python's main thread (the one that runs signal handlers).
    static IS_MAIN_THREAD: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

/// Whether `IS_MAIN_THREAD` was set on the main thread (the module was imported there,
/// or this is a forked child). If not, every thread checks for signals.
static MAIN_THREAD_KNOWN: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

/// True on Python's main thread (as far as the module knows: see `set_main_thread`).
pub(crate) fn is_main_thread() -> bool {
    IS_MAIN_THREAD.with(|m| m.get())
}

/// Records the calling thread as Python's main thread (at import when it is, and in a
/// forked child, whose only thread is the main one).
pub(crate) fn set_main_thread() {
    IS_MAIN_THREAD.with(|m| m.set(true));
    MAIN_THREAD_KNOWN.store(true, Ordering::Release);
}

/// Whether a wait on this thread should run Python's signal handlers: on the main
/// thread, or on every thread while the main one is not known.
pub(crate) fn signals_here() -> bool {
    !MAIN_THREAD_KNOWN.load(Ordering::Acquire) || is_main_thread()
}

static EXITING: AtomicBool = AtomicBool::new(false);
/// Threads between "the interpreter is not exiting" and "I hold the GIL": the `atexit`
/// hook waits for them (GIL released) after setting [`EXITING`], so none of them takes
/// the GIL once finalization has begun. (SeqCst on both sides: a thread either sees the
/// flag, or the hook sees the thread counted.)
static IN_FLIGHT: AtomicUsize = AtomicUsize::new(0);

/// Before taking the GIL back: parks the calling thread for good when the interpreter is
/// exiting (unless it is the main thread, which runs the exit), else counts it in
/// flight until [`arrived`]. Returns whether it counted the thread.
fn leaving() -> bool {
    // SAFETY: PyGILState_Check only reads this thread's state; callable without the GIL.
    if is_main_thread() || unsafe { pyo3::ffi::PyGILState_Check() } == 1 {
        return false; // the main thread, or the GIL is already held: nothing to guard
    }
    IN_FLIGHT.fetch_add(1, Ordering::SeqCst);
    if EXITING.load(Ordering::SeqCst) {
        IN_FLIGHT.fetch_sub(1, Ordering::SeqCst);
        loop {
            std::thread::park();
        }
    }
    true
}

/// The GIL is held again: no longer in flight (when [`leaving`] counted us).
fn arrived(counted: bool) {
    if counted {
        IN_FLIGHT.fetch_sub(1, Ordering::SeqCst);
    }
}

/// `py.detach(f)`, except that a thread coming back after the interpreter began to exit
/// parks instead of taking the GIL (see the module docs).
pub(crate) fn detach<T, F>(py: Python<'_>, f: F) -> T
where
    F: Ungil + Send + FnOnce() -> T,
    T: Ungil + Send,
{
    let (r, counted) = py.detach(|| {
        let r = f();
        (r, leaving())
    });
    arrived(counted);
    r
}

/// `Python::attach(f)` from a GIL-free section (a callback into Python during a wait),
/// parking instead when the interpreter is exiting.
pub(crate) fn attach<R>(f: impl for<'py> FnOnce(Python<'py>) -> R) -> R {
    let counted = leaving();
    Python::attach(|py| {
        arrived(counted);
        f(py)
    })
}

/// Registers the `atexit` hook that sets the flag. Called once, at import.
pub(crate) fn install(py: Python<'_>) -> PyResult<()> {
    let hook = PyCFunction::new_closure(
        py,
        Some(c"_pgpool_interpreter_exit"),
        Some(c"From now on, threads inside pgpool never take the GIL back (exit)."),
        |args: &Bound<'_, PyTuple>, _kwargs: Option<&Bound<'_, PyDict>>| {
            EXITING.store(true, Ordering::SeqCst);
            // Threads already past the check take the GIL while we wait without it.
            args.py().detach(|| {
                let deadline = Instant::now() + Duration::from_secs(2);
                while IN_FLIGHT.load(Ordering::SeqCst) > 0 && Instant::now() < deadline {
                    std::thread::sleep(Duration::from_millis(1));
                }
            });
        },
    )?;
    py.import("atexit")?.call_method1("register", (hook,))?;
    Ok(())
}
