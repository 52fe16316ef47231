//! The process's one tokio runtime (waiting with timeouts, and the asyncio face later),
//! and fork detection.
//!
//! After `fork()` the child has none of the parent's threads: the parent's runtime is
//! leaked (dropping it would wait for threads that do not exist) and a new one is built on
//! first use. Faces call [`note_fork`] from their after-fork hook (Python's
//! `os.register_at_fork`, C's `pthread_atfork`); the pid is compared as well, so a fork
//! nobody reported is still noticed wherever the pool is about to wait or connect.
#![forbid(unsafe_code)]

use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use parking_lot::Mutex;
use tokio::runtime::{Builder, Runtime};

static GENERATION: AtomicU64 = AtomicU64::new(0);
static PID: AtomicU64 = AtomicU64::new(0);
static RUNTIME: Mutex<Option<(u64, Arc<Runtime>)>> = Mutex::new(None);

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
    let mut g = RUNTIME.lock();
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
