//! Ctrl-C during a wait with the GIL released: the main thread, and the interrupt hook.

#[allow(unused_imports)]
use super::*;

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

/// The core's [`Interrupt`] hook for a wait with the GIL released (a statement, a pool
/// checkout): each call (every 100 ms) takes the GIL and runs Python's signal handlers.
/// The exception one raises (KeyboardInterrupt on Ctrl-C) is kept, to be raised once the
/// core call has returned; the hook then says stop. Python runs signal handlers on its
/// main thread only: on other threads the hook does nothing (and takes no GIL).
pub(crate) struct SignalHook {
    raised: RefCell<Option<PyErr>>,
    active: bool,
}

impl SignalHook {
    pub(crate) fn new() -> SignalHook {
        SignalHook {
            raised: RefCell::new(None),
            active: !MAIN_THREAD_KNOWN.load(Ordering::Acquire) || IS_MAIN_THREAD.with(|m| m.get()),
        }
    }

    /// True when a signal handler raised: the core should stop waiting.
    pub(crate) fn check(&self) -> bool {
        if !self.active {
            return false;
        }
        Python::attach(|py| match py.check_signals() {
            Ok(()) => false,
            Err(e) => {
                let mut s = self.raised.borrow_mut();
                if s.is_none() {
                    *s = Some(e);
                }
                true
            }
        })
    }

    /// The exception a signal handler raised, if any.
    pub(crate) fn into_raised(self) -> Option<PyErr> {
        self.raised.into_inner()
    }
}
