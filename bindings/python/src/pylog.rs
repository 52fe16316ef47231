//! The core's `log` records → the Python logger `pgpool`: failed connects,
//! recycling, dead connections, unreachable replicas, leak warnings.
//!
//! Records come from the callers' threads (inside core calls, GIL released) and from each
//! pool's maintenance thread (a plain std thread, never a runtime worker). Each forwarded
//! record takes the GIL briefly; the core only logs rare events, so every record of the
//! core at DEBUG and above is forwarded and the Python logger's own level and handlers
//! decide (configuring `logging` after `import pgpool` works). Records of other crates
//! (rustls) are forwarded from WARNING up only.
//!
//! Interpreter shutdown: an `atexit` hook stops forwarding and waits (GIL released, at most
//! a second) for records already on their way, so no thread tries to take the GIL of a
//! finalizing interpreter (it would be stopped or hang there). `Python::try_attach` also
//! refuses once the interpreter is gone.

use std::ffi::c_int;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering::SeqCst};
use std::time::{Duration, Instant};

use log::{Level, LevelFilter, Metadata, Record};
use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::{PyCFunction, PyDict, PyTuple};

/// `logging.getLogger("pgpool")`.
static LOGGER: PyOnceLock<Py<PyAny>> = PyOnceLock::new();
/// Set by the `atexit` hook: records are dropped from then on.
static SHUTTING_DOWN: AtomicBool = AtomicBool::new(false);
/// Records between the shutdown check and the end of their Python call.
static IN_FLIGHT: AtomicUsize = AtomicUsize::new(0);

struct Bridge;
static BRIDGE: Bridge = Bridge;

/// The Python `logging` level of a `log` level.
fn py_level(l: Level) -> c_int {
    match l {
        Level::Error => 40,
        Level::Warn => 30,
        Level::Info => 20,
        Level::Debug | Level::Trace => 10,
    }
}

fn is_core(target: &str) -> bool {
    target == "pgpool" || target.starts_with("pgpool::")
}

struct InFlight;
impl InFlight {
    fn enter() -> InFlight {
        IN_FLIGHT.fetch_add(1, SeqCst);
        InFlight
    }
}
impl Drop for InFlight {
    fn drop(&mut self) {
        IN_FLIGHT.fetch_sub(1, SeqCst);
    }
}

impl log::Log for Bridge {
    fn enabled(&self, m: &Metadata<'_>) -> bool {
        let max = if is_core(m.target()) {
            Level::Debug
        } else {
            Level::Warn
        };
        m.level() <= max
    }

    fn log(&self, record: &Record<'_>) {
        if !self.enabled(record.metadata()) {
            return;
        }
        // Counted before the check, so the atexit hook (flag, then wait) never misses one.
        let _in_flight = InFlight::enter();
        if SHUTTING_DOWN.load(SeqCst) {
            return;
        }
        let msg = record.args().to_string(); // formatted before taking the GIL
        Python::try_attach(|py| {
            // A failing handler reports itself (logging's handleError); nothing to add.
            let _ = emit(py, record, &msg);
        });
    }

    fn flush(&self) {}
}

fn emit(py: Python<'_>, record: &Record<'_>, msg: &str) -> PyResult<()> {
    let logger = LOGGER
        .get_or_try_init(py, || -> PyResult<Py<PyAny>> {
            Ok(py
                .import("logging")?
                .call_method1("getLogger", ("pgpool",))?
                .unbind())
        })?
        .bind(py);
    let level = py_level(record.level());
    if !logger.call_method1("isEnabledFor", (level,))?.is_truthy()? {
        return Ok(());
    }
    // makeRecord(name, level, fn, lno, msg, args, exc_info, func): the record points at
    // the Rust source, not at whatever Python frame happens to be on this thread.
    let rec = logger.call_method1(
        "makeRecord",
        (
            "pgpool",
            level,
            record.file().unwrap_or("<pgpool core>"),
            record.line().unwrap_or(0),
            msg,
            PyTuple::empty(py),
            py.None(),
            record.module_path().unwrap_or(record.target()),
        ),
    )?;
    logger.call_method1("handle", (rec,))?;
    Ok(())
}

/// Installs the bridge as the `log` logger of this extension and registers the shutdown
/// hook with `atexit`. Called once, at import.
pub(crate) fn install(py: Python<'_>) -> PyResult<()> {
    if log::set_logger(&BRIDGE).is_ok() {
        log::set_max_level(LevelFilter::Debug);
    }
    let stop = PyCFunction::new_closure(
        py,
        Some(c"_pgpool_stop_logging"),
        Some(c"Stops forwarding pgpool's log records (interpreter shutdown)."),
        |args: &Bound<'_, PyTuple>, _kwargs: Option<&Bound<'_, PyDict>>| {
            SHUTTING_DOWN.store(true, SeqCst);
            // Records already past the check may need the GIL to finish.
            args.py().detach(|| {
                let deadline = Instant::now() + Duration::from_secs(1);
                while IN_FLIGHT.load(SeqCst) > 0 && Instant::now() < deadline {
                    std::thread::sleep(Duration::from_millis(1));
                }
            });
        },
    )?;
    py.import("atexit")?.call_method1("register", (stop,))?;
    Ok(())
}

/// In a forked child: the threads that were forwarding records do not exist there.
pub(crate) fn after_fork() {
    IN_FLIGHT.store(0, SeqCst);
}
