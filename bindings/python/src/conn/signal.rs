//! Ctrl-C during a wait with the GIL released: the main thread, and the interrupt hook.

use std::cell::RefCell;

use pyo3::prelude::*;

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
            active: crate::exit::signals_here(),
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
