//! Handles and ownership: which pointers handed to C are live.
//!
//! Every handle pgpool gives out (pool, connection, result, error, string) is recorded here by
//! address until it is freed. A `*_free` / `pgpool_release` of a pointer that is not live
//! (freed twice, never ours) is then ignored instead of freeing memory twice, and the
//! calls that take a connection answer `PGPOOL_INVALID_PARAMETER` for a released one:
//! the check looks the address up in this table and never reads the pointed-to memory,
//! so it is safe even after the memory was freed. It cannot tell a stale pointer from a
//! new handle that got the same address: it is a safety net, not a licence: the docs
//! say "call exactly once".
//!
//! Result accessors (`pgpool_result_value`, ...) are not checked: they are the hot path
//! and a result is immutable.
//!
//! The pool is an `Arc`: a call that uses it takes a counted reference under the table's
//! lock, so even a `pgpool_pool_free` racing with it (a caller bug) cannot free it under
//! the call.

use std::collections::BTreeMap;
use std::ffi::{c_char, CStr};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use super::error::Failure;

/// The kinds of handles.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    Pool,
    Conn,
    Result,
    Error,
    String,
}

/// `std`'s mutex, not parking_lot's: across `fork()` (see [`lock_for_fork`]) a parking_lot
/// mutex with parked waiters keeps them in parking_lot's process-global table, and in the
/// child an unlock could hand the lock to one of those threads, which do not exist there
/// (the child then blocked at its first call, about 1 fork in 5 under 16 busy threads).
static LIVE: Mutex<BTreeMap<usize, Kind>> = Mutex::new(BTreeMap::new());

fn live() -> MutexGuard<'static, BTreeMap<usize, Kind>> {
    LIVE.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Records a new live handle.
pub(crate) fn register(addr: usize, kind: Kind) {
    live().insert(addr, kind);
}

/// Forgets a handle; true when it was live with that kind (the caller may then free it).
pub(crate) fn unregister(addr: usize, kind: Kind) -> bool {
    let mut live = live();
    if live.get(&addr) == Some(&kind) {
        live.remove(&addr);
        true
    } else {
        false
    }
}

/// True when `addr` is a live handle of that kind.
pub(crate) fn is_live(addr: usize, kind: Kind) -> bool {
    live().get(&addr) == Some(&kind)
}

/// A counted reference to a live pool handle (an `Arc::into_raw` pointer), or `None`.
pub(crate) fn pool_ref<T>(p: *const T) -> Option<Arc<T>> {
    let live = live();
    if live.get(&(p as usize)) != Some(&Kind::Pool) {
        return None;
    }
    // SAFETY: registered pool pointers come from `Arc::into_raw` and stay registered
    // (holding their count) until `pgpool_pool_free` unregisters them under this lock.
    unsafe {
        Arc::increment_strong_count(p);
        Some(Arc::from_raw(p))
    }
}

/// Takes the table's lock for `fork()` (the `pthread_atfork` prepare handler), so the
/// child never inherits it locked by a thread that does not exist there, nor half-way
/// through an update. The guard is released by `runtime::after_fork_parent` /
/// `after_fork_child` (in the child, unlocking a `std` mutex only wakes nobody).
pub(crate) fn lock_for_fork() -> crate::runtime::ForkGuard {
    Box::new(live())
}

/// A required C string argument as UTF-8.
///
/// # Safety
/// `p` is NULL or a NUL-terminated string that outlives `'a`.
pub(crate) unsafe fn str_arg<'a>(p: *const c_char, name: &str) -> Result<&'a str, Failure> {
    if p.is_null() {
        return Err(Failure::null(name));
    }
    // SAFETY: by the caller's contract.
    let s = unsafe { CStr::from_ptr(p) };
    s.to_str()
        .map_err(|_| Failure::invalid(format!("argument `{name}` is not valid UTF-8")))
}

/// A required output pointer.
pub(crate) fn out_arg<T>(p: *mut T, name: &str) -> Result<*mut T, Failure> {
    if p.is_null() {
        Err(Failure::null(name))
    } else {
        Ok(p)
    }
}
