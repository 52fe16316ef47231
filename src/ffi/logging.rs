//! Logging for C programs: the core's `log` records (failed connects, recycling, lost
//! connections, unreachable replicas, leak warnings) handed to a callback the program
//! sets with `pgpool_set_log_callback`. Without one nothing is logged anywhere.
//!
//! libpgpool.so is its own shared object with its own copy of the `log` crate, so the
//! logger installed here is the only one in it (the Python module installs its own in its
//! own library). `log::set_logger` works once per process: the logger is installed on the
//! first call and stays; later calls swap the callback it forwards to.
//!
//! The callback runs on whichever thread logged the record (a caller's thread inside a
//! pgpool call, or a pool's maintenance thread), never while the core holds one of its
//! locks, and never while this module holds its own: the current sink is an `Arc`
//! cloned under a short lock. Each sink counts the calls in progress, so replacing it
//! can wait until the previous callback is no longer running (the caller may then free
//! its userdata).

use std::cell::Cell;
use std::ffi::{c_char, c_void, CString};
use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
use std::sync::Arc;
use std::time::Duration;

use std::sync::{Mutex, MutexGuard, PoisonError};

use log::{Level, LevelFilter, Metadata, Record};

use super::error::{finish, pgpool_code, Failure, FfiResult};
use super::panic::ffi_boundary;

/// `max_level` for `pgpool_set_log_callback`: nothing.
pub const PGPOOL_LOG_OFF: u32 = 0;
/// Errors.
pub const PGPOOL_LOG_ERROR: u32 = 1;
/// Warnings: the first failed connect of a series ("connection failed: ..."), an
/// unreachable replica, a connection checked out longer than `leak_threshold`.
pub const PGPOOL_LOG_WARN: u32 = 2;
/// Notable events: a dead idle connection discarded.
pub const PGPOOL_LOG_INFO: u32 = 3;
/// Details: repeated connect failures, connections replaced at `max_lifetime`, the second
/// attempt of `sslmode=prefer`/`allow`.
pub const PGPOOL_LOG_DEBUG: u32 = 4;
/// Everything, including the TLS library's trace (very verbose).
pub const PGPOOL_LOG_TRACE: u32 = 5;

/// A log callback: `level` is one of `PGPOOL_LOG_ERROR` .. `PGPOOL_LOG_TRACE`, `msg` a
/// NUL-terminated UTF-8 message valid only during the call (copy it to keep it), without
/// a trailing newline (a leak warning's message spans several lines), `userdata` the
/// pointer given to `pgpool_set_log_callback`.
pub type pgpool_log_callback =
    Option<unsafe extern "C" fn(level: u32, msg: *const c_char, userdata: *mut c_void)>;

struct Sink {
    cb: unsafe extern "C" fn(u32, *const c_char, *mut c_void),
    userdata: usize,
    /// For the core's records (target `pgpool::...`).
    core_max: LevelFilter,
    /// For other crates' records (rustls, ...): at most WARN unless TRACE was asked for.
    other_max: LevelFilter,
    /// Calls of `cb` in progress.
    in_flight: AtomicUsize,
}

/// The current sink; locked only to clone or replace the `Arc`. `std`'s mutex, for the
/// same reason as the handle table's (`crate::handles`): it is safe across `fork()`.
static SINK: Mutex<Option<Arc<Sink>>> = Mutex::new(None);

fn sink() -> MutexGuard<'static, Option<Arc<Sink>>> {
    SINK.lock().unwrap_or_else(PoisonError::into_inner)
}

thread_local! {
    /// The sink whose callback this thread is running (address), or 0: records logged
    /// from inside the callback (by pgpool calls it makes) are dropped, and replacing
    /// the callback from inside it does not wait for itself.
    static CALLING: Cell<usize> = const { Cell::new(0) };
}

struct Forwarder;
static FORWARDER: Forwarder = Forwarder;

fn is_core(target: &str) -> bool {
    target == "pgpool" || target.starts_with("pgpool::")
}

fn level_filter(max_level: u32) -> Option<LevelFilter> {
    Some(match max_level {
        PGPOOL_LOG_OFF => LevelFilter::Off,
        PGPOOL_LOG_ERROR => LevelFilter::Error,
        PGPOOL_LOG_WARN => LevelFilter::Warn,
        PGPOOL_LOG_INFO => LevelFilter::Info,
        PGPOOL_LOG_DEBUG => LevelFilter::Debug,
        PGPOOL_LOG_TRACE => LevelFilter::Trace,
        _ => return None,
    })
}

fn c_level(l: Level) -> u32 {
    match l {
        Level::Error => PGPOOL_LOG_ERROR,
        Level::Warn => PGPOOL_LOG_WARN,
        Level::Info => PGPOOL_LOG_INFO,
        Level::Debug => PGPOOL_LOG_DEBUG,
        Level::Trace => PGPOOL_LOG_TRACE,
    }
}

impl Sink {
    fn wants(&self, m: &Metadata<'_>) -> bool {
        let max = if is_core(m.target()) {
            self.core_max
        } else {
            self.other_max
        };
        m.level() <= max
    }
}

/// Counts a call in progress on a sink.
struct InFlight<'a>(&'a Sink);
impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        self.0.in_flight.fetch_sub(1, SeqCst);
        CALLING.with(|c| c.set(0));
    }
}

impl log::Log for Forwarder {
    fn enabled(&self, m: &Metadata<'_>) -> bool {
        sink().as_ref().is_some_and(|s| s.wants(m))
    }

    fn log(&self, record: &Record<'_>) {
        if CALLING.with(|c| c.get()) != 0 {
            return; // logged by a pgpool call made from inside the callback
        }
        // Counted while the lock is held, so `set` (replace, then wait) never misses one.
        let sink = {
            let guard = sink();
            let Some(sink) = guard.as_ref() else { return };
            if !sink.wants(record.metadata()) {
                return;
            }
            sink.in_flight.fetch_add(1, SeqCst);
            Arc::clone(sink)
        };
        let _in_flight = InFlight(&sink);
        CALLING.with(|c| c.set(Arc::as_ptr(&sink) as usize));
        let msg = record.args().to_string();
        let msg = CString::new(msg).unwrap_or_else(|e| {
            let mut v = e.into_vec();
            v.retain(|b| *b != 0);
            CString::new(v).expect("NULs removed")
        });
        // SAFETY: the callback and its userdata, as the program registered them; the
        // message lives until the call returns.
        unsafe {
            (sink.cb)(
                c_level(record.level()),
                msg.as_ptr(),
                sink.userdata as *mut c_void,
            )
        };
    }

    fn flush(&self) {}
}

/// Installs the forwarder as this library's `log` logger (once per process).
fn install() -> Result<(), Failure> {
    static INSTALLED: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    let ok = *INSTALLED.get_or_init(|| log::set_logger(&FORWARDER).is_ok());
    if ok {
        Ok(())
    } else {
        // Only possible when the library is linked into a Rust program (rlib) that
        // installed its own logger: the records already go there.
        Err(Failure::new(
            pgpool_code::PGPOOL_INTERFACE,
            "another `log` logger is installed in this process",
        ))
    }
}

/// Swaps the sink and waits until no call of the previous callback is running (other
/// than the one this thread may be inside of).
fn set(new: Option<Arc<Sink>>) {
    crate::runtime::register_fork_lock(
        crate::runtime::ForkLock::LogSink,
        lock_for_fork,
        Some(after_fork_child),
    );
    let max = new
        .as_ref()
        .map_or(LevelFilter::Off, |s| s.core_max.max(s.other_max));
    let old = std::mem::replace(&mut *sink(), new);
    log::set_max_level(max);
    let Some(old) = old else { return };
    let own = usize::from(CALLING.with(|c| c.get()) == Arc::as_ptr(&old) as usize);
    let mut spins = 0u32;
    while old.in_flight.load(SeqCst) > own {
        if spins < 100 {
            std::thread::yield_now();
            spins += 1;
        } else {
            std::thread::sleep(Duration::from_micros(200));
        }
    }
}

/// Takes the sink's lock for `fork()` (registered with `runtime`); released by
/// `runtime::after_fork_parent` / `after_fork_child`.
fn lock_for_fork() -> crate::runtime::ForkGuard {
    Box::new(sink())
}

/// In a forked child (after the locks are released): forgets the callback calls that
/// were in progress on threads that do not exist there, so replacing the callback does
/// not wait for them.
fn after_fork_child() {
    let guard = sink();
    if let Some(s) = guard.as_ref() {
        let own = usize::from(CALLING.with(|c| c.get()) == Arc::as_ptr(s) as usize);
        s.in_flight.store(own, SeqCst);
    }
}

/// Sets the function that receives pgpool's log records, or turns logging off.
///
/// `cb` is called for every record at `max_level` or more severe (`PGPOOL_LOG_ERROR`,
/// `PGPOOL_LOG_WARN`, `PGPOOL_LOG_INFO`, `PGPOOL_LOG_DEBUG`, `PGPOOL_LOG_TRACE`), with
/// `userdata` passed through. Records of the libraries pgpool uses (TLS) are passed on
/// from `PGPOOL_LOG_WARN` up only, unless `max_level` is `PGPOOL_LOG_TRACE`. NULL `cb` or
/// `max_level` `PGPOOL_LOG_OFF` turns logging off. Without a callback (the default)
/// nothing is logged, and nothing is ever printed to stderr.
///
/// The setting is process-wide (all pools) and may be changed at any time. When this
/// call returns, the previous callback is not running on any thread and will not be
/// called again, so its `userdata` may be freed (when called from inside the callback,
/// that call itself continues).
///
/// Threads: the callback may be called from any thread, concurrently: the threads calling
/// pgpool, and each pool's maintenance thread. It is never called while pgpool holds a
/// lock, so it may call pgpool functions (records they log are dropped, not passed to it
/// recursively); it should return quickly (it delays the thread that logged). It must
/// not wait for a thread that is itself calling `pgpool_set_log_callback`.
///
/// Errors: `PGPOOL_INVALID_PARAMETER` for a `max_level` that is none of the constants
/// (the previous setting stays). Thread-safe.
#[unsafe(no_mangle)]
pub extern "C" fn pgpool_set_log_callback(
    cb: pgpool_log_callback,
    userdata: *mut c_void,
    max_level: u32,
) -> pgpool_code {
    ffi_boundary! {
        let r: FfiResult = (|| {
            let Some(filter) = level_filter(max_level) else {
                return Err(Failure::invalid(format!(
                    "max_level {max_level} is not a PGPOOL_LOG_* constant (0 to 5)"
                )));
            };
            match cb {
                Some(cb) if filter != LevelFilter::Off => {
                    install()?;
                    set(Some(Arc::new(Sink {
                        cb,
                        userdata: userdata as usize,
                        core_max: filter,
                        other_max: if filter == LevelFilter::Trace {
                            filter
                        } else {
                            filter.min(LevelFilter::Warn)
                        },
                        in_flight: AtomicUsize::new(0),
                    })));
                }
                _ => set(None),
            }
            Ok(())
        })();
        finish(r, std::ptr::null_mut())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    use std::sync::Mutex as StdMutex;

    static SEEN: StdMutex<Vec<(u32, String, usize)>> = StdMutex::new(Vec::new());

    unsafe extern "C" fn record(level: u32, msg: *const c_char, userdata: *mut c_void) {
        ffi_boundary! {
            // SAFETY: a NUL-terminated message, valid during the call.
            let m = unsafe { std::ffi::CStr::from_ptr(msg) }.to_string_lossy().into_owned();
            if m.starts_with("ffi-log-test") {
                SEEN.lock().unwrap().push((level, m, userdata as usize));
            }
        }
    }

    fn emit(target: &str, level: Level, msg: &str) {
        log::logger().log(
            &Record::builder()
                .target(target)
                .level(level)
                .args(format_args!("{msg}"))
                .build(),
        );
    }

    #[test]
    fn records_reach_the_callback_up_to_the_level_and_stop_when_off() {
        let ud = 0x5eed as *mut c_void;
        assert_eq!(
            pgpool_set_log_callback(Some(record), ud, 6),
            pgpool_code::PGPOOL_INVALID_PARAMETER
        );
        assert_eq!(
            pgpool_set_log_callback(Some(record), ud, PGPOOL_LOG_DEBUG),
            pgpool_code::PGPOOL_OK
        );
        emit("pgpool::pool", Level::Warn, "ffi-log-test warn\0inside");
        emit("pgpool::conn", Level::Debug, "ffi-log-test debug");
        emit(
            "pgpool::conn",
            Level::Trace,
            "ffi-log-test trace (filtered)",
        );
        emit(
            "rustls::client",
            Level::Debug,
            "ffi-log-test rustls debug (filtered)",
        );
        emit("rustls::client", Level::Warn, "ffi-log-test rustls warn");
        assert_eq!(
            pgpool_set_log_callback(None, std::ptr::null_mut(), PGPOOL_LOG_WARN),
            pgpool_code::PGPOOL_OK
        );
        emit("pgpool::pool", Level::Error, "ffi-log-test after off");
        let seen = SEEN.lock().unwrap().clone();
        assert_eq!(
            seen,
            vec![
                (
                    PGPOOL_LOG_WARN,
                    "ffi-log-test warninside".to_string(),
                    0x5eed
                ),
                (PGPOOL_LOG_DEBUG, "ffi-log-test debug".to_string(), 0x5eed),
                (
                    PGPOOL_LOG_WARN,
                    "ffi-log-test rustls warn".to_string(),
                    0x5eed
                ),
            ]
        );
    }
}
