//! Handles: which addresses of core objects lent to code outside Rust are live.
//!
//! Every handle the C API gives out (pool, connection, result, error, string), and a
//! Python pool lent to C code in the same process ([`export_pool`]), is recorded here by
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
use std::sync::{Arc, Mutex, MutexGuard, Once, PoisonError};

use crate::pool::Pool;
use crate::runtime::{self, ForkLock};

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

static FORK_LOCK: Once = Once::new();

fn live() -> MutexGuard<'static, BTreeMap<usize, Kind>> {
    LIVE.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Records a new live handle.
pub(crate) fn register(addr: usize, kind: Kind) {
    FORK_LOCK.call_once(|| runtime::register_fork_lock(ForkLock::Handles, lock_for_fork, None));
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

/// Takes the table's lock for `fork()` (registered with `runtime`), so the child never
/// inherits it locked by a thread that does not exist there, nor half-way through an
/// update. The guard is released by `runtime::after_fork_parent` / `after_fork_child` (in
/// the child, unlocking a `std` mutex only wakes nobody).
fn lock_for_fork() -> runtime::ForkGuard {
    Box::new(live())
}

/// Lends `pool` to C code by address: a new live pool handle (a counted reference, the
/// C API's `pgpool_pool *`), freed with `pgpool_pool_free`. The C API's own pools are
/// made here too. Installs the `pthread_atfork` hooks (C code may fork).
pub fn export_pool(pool: Pool) -> usize {
    crate::atfork::install();
    let p = Arc::into_raw(Arc::new(pool));
    register(p as usize, Kind::Pool);
    p as usize
}
