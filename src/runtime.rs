//! The process's one tokio runtime (waiting with timeouts, and the asyncio face later),
//! and fork detection.
//!
//! After `fork()` the child has none of the parent's threads: the parent's runtime is
//! leaked (dropping it would wait for threads that do not exist) and a new one is built on
//! first use. Faces call [`note_fork`] from their after-fork hook (Python's
//! `os.register_at_fork`, C's `pthread_atfork` hooks in `atfork`); the pid is compared as
//! well, so a fork nobody reported is still noticed wherever the pool is about to wait or
//! connect.
//!
//! # Locks across `fork()`
//! The child gets every lock as the parent's threads left it at the instant of the fork:
//! taken by a thread that does not exist there, or half-way through an update. So:
//! - the core's process-wide locks the child needs (this runtime slot, the TLS connector
//!   cache, the pools' fork-local table, the handle table, the C face's log sink) are `std` mutexes that [`before_fork`] takes and
//!   [`after_fork_parent`] / [`after_fork_child`] release (faces call them from their
//!   prepare/parent/child hooks), so no other thread holds them at the fork; `std`'s
//!   futex locks keep no waiter list in the process (unlike parking_lot's global parking
//!   table, whose entries for the parent's parked threads stay in the child and can hand
//!   the lock to a thread that is not there);
//! - a pool's own state (its deadpool pool, last error, leak registry, maintenance stop
//!   flag) is per fork generation: a child builds fresh state on first use and never
//!   takes a lock of the parent's (see `pool`).
#![forbid(unsafe_code)]

use std::any::Any;
use std::cell::RefCell;
use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock, PoisonError};

use tokio::runtime::{Builder, Runtime};

static GENERATION: AtomicU64 = AtomicU64::new(0);
static PID: AtomicU64 = AtomicU64::new(0);
static RUNTIME: Mutex<Option<(u64, Arc<Runtime>)>> = Mutex::new(None);

thread_local! {
    /// The guards [`before_fork`] took, on the forking thread (which is the child's only
    /// thread, so the child's handler finds them too).
    /// One frame per prepare hook that has not had its after-fork hook yet: a process
    /// with both faces runs two (Python's `os.register_at_fork` hook, then `fork()` runs
    /// the C face's `pthread_atfork` one), and their after-fork hooks run in the reverse
    /// order, each releasing its own frame. Only the outer frame holds the core's locks.
    static FORK_GUARDS: RefCell<Vec<Vec<Box<dyn Any>>>> = const { RefCell::new(Vec::new()) };
}

/// A lock guard kept by [`before_fork`] until the after-fork handler.
pub type ForkGuard = Box<dyn Any>;

/// The process-wide locks of other core modules that [`before_fork`] takes after the
/// runtime's own, in this order (leaf locks last). Each module registers its lock the
/// first time it uses it ([`register_fork_lock`]), so this module imports none of them.
#[derive(Clone, Copy, Debug)]
pub(crate) enum ForkLock {
    /// The TLS connector cache (`tls`).
    TlsCache = 0,
    /// The pools' fork-local table (`pool`).
    PoolTable = 1,
    /// The table of handles lent to foreign code (`handles`).
    Handles = 2,
    /// The C face's log sink (`ffi::logging`).
    LogSink = 3,
}

/// Per [`ForkLock`]: how to take it, and what to do in the child once it is released.
type ForkEntry = (fn() -> ForkGuard, Option<fn()>);

static FORK_LOCKS: [OnceLock<ForkEntry>; 4] = [const { OnceLock::new() }; 4];

/// Registers `take`, which takes the lock `which` for a fork, and `in_child`, run in a
/// forked child after every lock is released (a no-op once registered).
pub(crate) fn register_fork_lock(which: ForkLock, take: fn() -> ForkGuard, in_child: Option<fn()>) {
    let _ = FORK_LOCKS[which as usize].set((take, in_child));
}

/// The `fork()` prepare hook: takes the core's process-wide locks, so that no other
/// thread holds one at the fork. Call [`after_fork_parent`] or [`after_fork_child`] after
/// it, on the same thread.
pub fn before_fork() {
    let mut held: Vec<ForkGuard> = Vec::new();
    if FORK_GUARDS.with(|g| !g.borrow().is_empty()) {
        // Nested (the other face's hook): the core's locks are ours already.
        FORK_GUARDS.with(|g| g.borrow_mut().push(held));
        return;
    }
    held.push(Box::new(
        RUNTIME.lock().unwrap_or_else(PoisonError::into_inner),
    ));
    for (take, _) in FORK_LOCKS.iter().filter_map(OnceLock::get) {
        held.push(take());
    }
    FORK_GUARDS.with(|g| g.borrow_mut().push(held));
}

fn release_fork_guards() {
    // This hook's own frame (the innermost).
    let held = FORK_GUARDS.with(|g| g.borrow_mut().pop().unwrap_or_default());
    // The last taken first.
    for guard in held.into_iter().rev() {
        drop(guard);
    }
}

/// The `fork()` parent hook: releases what [`before_fork`] took.
pub fn after_fork_parent() {
    release_fork_guards();
}

/// The `fork()` child hook: releases what [`before_fork`] took (unlocking a `std` lock
/// here only wakes nobody) and tells the core it is a new process ([`note_fork`]).
pub fn after_fork_child() {
    note_fork();
    release_fork_guards();
    if FORK_GUARDS.with(|g| g.borrow().is_empty()) {
        for in_child in FORK_LOCKS.iter().filter_map(|e| e.get()?.1) {
            in_child();
        }
    }
}

/// Tells the core that this process is a freshly forked child.
pub fn note_fork() {
    GENERATION.fetch_add(1, Ordering::SeqCst);
}

/// The fork generation: it changes in a forked child. Cheap (one atomic load).
#[inline]
pub fn generation() -> u64 {
    GENERATION.load(Ordering::Relaxed)
}

/// Checks the pid as well (a syscall): bumps the generation if we are in a child that
/// nobody reported. Returns the generation.
pub fn check_fork() -> u64 {
    let pid = std::process::id() as u64;
    let old = PID.swap(pid, Ordering::SeqCst);
    if old != 0 && old != pid {
        note_fork();
    }
    generation()
}

/// The shared runtime (built on first use, rebuilt in a forked child).
pub fn runtime() -> Arc<Runtime> {
    let gen = check_fork();
    let mut g = RUNTIME.lock().unwrap_or_else(PoisonError::into_inner);
    if let Some((g0, rt)) = g.as_ref() {
        if *g0 == gen {
            return rt.clone();
        }
    }
    if let Some((_, old)) = g.take() {
        // The parent's runtime: its threads do not exist here. Never drop it.
        std::mem::forget(old);
    }
    let rt = Arc::new(
        Builder::new_multi_thread()
            .worker_threads(1)
            .thread_name("pgpool-rt")
            .enable_all()
            .build()
            .expect("cannot build the tokio runtime"),
    );
    *g = Some((gen, rt.clone()));
    rt
}

/// Runs a future to completion on the calling thread, with the shared runtime's timer
/// and reactor available.
pub fn block_on<F: Future>(f: F) -> F::Output {
    let rt = runtime();
    rt.block_on(f)
}
