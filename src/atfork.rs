//! `pthread_atfork` hooks, for processes whose face has no fork hook of its own (C code,
//! or C code beside Python calling a pool lent to it): the child rebuilds the runtime and
//! never touches the parent's connections (see `runtime`). Installed once per process.

use std::sync::Once;

static INSTALLED: Once = Once::new();

/// A hook's body, a panic kept from unwinding into C.
fn quietly(f: fn()) {
    let _ = std::panic::catch_unwind(f);
}

extern "C" fn before_fork() {
    quietly(crate::runtime::before_fork);
}

extern "C" fn after_fork_parent() {
    quietly(crate::runtime::after_fork_parent);
}

extern "C" fn after_fork_child() {
    quietly(crate::runtime::after_fork_child);
}

/// Registers the hooks (once per process).
pub(crate) fn install() {
    INSTALLED.call_once(|| {
        // SAFETY: plain function pointers that live as long as the process (the library
        // is linked with -z nodelete, so it is never unloaded).
        let rc = unsafe {
            libc::pthread_atfork(
                Some(before_fork),
                Some(after_fork_parent),
                Some(after_fork_child),
            )
        };
        if rc != 0 {
            log::warn!("pthread_atfork failed ({rc}): fork detection falls back to pid checks");
        }
    });
}
