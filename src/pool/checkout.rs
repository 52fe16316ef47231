//! Checking a connection out: the fast path, the FIFO wait with a deadline that survives a
//! database outage, readonly routing to replicas, and the async and non-blocking variants.

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use deadpool::managed::{Object, PoolError, Timeouts};
use futures_util::FutureExt;

use super::maintenance::scopeguard;
use super::manager::Manager;
use super::pooled::{LeakEntry, PooledConnection};
use super::{coarse_ms, Coarse, DpPool, Pool, REPLICA_DOWN_FOR};
use crate::error::{Error, Result};
use crate::runtime;
use crate::stats::Counters;

/// What the first poll of a checkout gave.
pub(super) enum FirstPoll {
    Done(Result<PooledConnection>),
    Queue(DpPool, Instant),
}

impl Pool {
    /// Checks out a connection, waiting up to `timeout` (default: the pool's). Waiters are
    /// served in arrival order. Connection failures are retried until the deadline; the
    /// timeout error names the last one.
    pub fn get(&self, timeout: Option<Duration>) -> Result<PooledConnection> {
        self.get_inner(timeout, true, None)
    }

    /// As [`Pool::get`], asking `intr` every 100 ms while waiting: when it returns true
    /// the wait ends with [`Error::Interrupted`] (the Python face checks for Ctrl-C).
    pub fn get_interruptible(
        &self,
        timeout: Option<Duration>,
        readonly: bool,
        intr: Option<crate::conn::Interrupt<'_>>,
    ) -> Result<PooledConnection> {
        if readonly && self.has_replicas() {
            return self.get_readonly_inner(timeout, intr);
        }
        self.get_inner(timeout, true, intr)
    }

    /// Checks out a connection for read-only work: from the replicas round-robin when
    /// there are any (a replica that cannot be reached is skipped for a few seconds),
    /// else — or when none is reachable — from the primary.
    pub fn get_readonly(&self, timeout: Option<Duration>) -> Result<PooledConnection> {
        self.get_readonly_inner(timeout, None)
    }

    pub(super) fn get_readonly_inner(
        &self,
        timeout: Option<Duration>,
        intr: Option<crate::conn::Interrupt<'_>>,
    ) -> Result<PooledConnection> {
        let n = self.inner.replicas.len();
        if n > 0 {
            let start = self.inner.rr.fetch_add(1, Ordering::Relaxed);
            let now_ms = coarse_ms();
            for k in 0..n {
                let r = &self.inner.replicas[(start + k) % n];
                if r.inner.down_until_ms.load(Ordering::Relaxed) > now_ms {
                    continue;
                }
                match r.get_inner(timeout, false, intr) {
                    Ok(c) => return Ok(c),
                    Err(Error::Connection(e)) => {
                        log::warn!("replica unreachable, skipping it for a while: {e}");
                        r.inner.down_until_ms.store(
                            now_ms + REPLICA_DOWN_FOR.as_millis() as u64,
                            Ordering::Relaxed,
                        );
                    }
                    Err(e) => return Err(e),
                }
            }
        }
        self.get_inner(timeout, true, intr)
    }

    /// True when this pool has replicas for read-only work.
    pub fn has_replicas(&self) -> bool {
        !self.inner.replicas.is_empty()
    }

    /// The index (in [`PoolConfig::replicas`] order) of the replica `pc` was checked out
    /// from; `None` for a connection of this pool itself.
    pub fn replica_of(&self, pc: &PooledConnection) -> Option<usize> {
        self.inner
            .replicas
            .iter()
            .position(|r| Arc::ptr_eq(&r.inner.shared, &pc.shared))
    }

    pub(super) fn get_inner(
        &self,
        timeout: Option<Duration>,
        retry_connect: bool,
        intr: Option<crate::conn::Interrupt<'_>>,
    ) -> Result<PooledConnection> {
        let timeout = timeout.unwrap_or(self.inner.config.timeout);
        let (dp, start) = match self.first_poll(retry_connect, timeout) {
            FirstPoll::Done(r) => return r,
            FirstPoll::Queue(dp, start) => (dp, start),
        };
        self.get_slow(dp, start, timeout, retry_connect, intr)
    }

    /// The start of every checkout: an idle connection (or a free slot, connected on the
    /// spot) is ready at the first poll of deadpool's `get`, without a runtime.
    pub(super) fn first_poll(&self, retry_connect: bool, timeout: Duration) -> FirstPoll {
        if self.inner.closed.load(Ordering::Acquire) {
            return FirstPoll::Done(Err(Error::Closed));
        }
        Counters::inc(&self.inner.shared.counters.requests_num);
        let dp = self.dp();
        // The deadline counts from here: this poll may itself spend up to
        // connect_timeout connecting (a silent server).
        let start = Instant::now();
        // timeout 0: no waiting for a busy slot, but a connect may still be made (bounded
        // by connect_timeout)
        let deadline = (!timeout.is_zero())
            .then(|| start.checked_add(timeout))
            .flatten();
        let polled = with_deadline(deadline, || dp.get().now_or_never());
        if let Some(r) = polled {
            match r {
                Ok(obj) => return FirstPoll::Done(Ok(self.wrap(&dp, obj))),
                Err(PoolError::Closed) => return FirstPoll::Done(Err(Error::Closed)),
                Err(PoolError::Backend(e)) if !retry_connect => {
                    return FirstPoll::Done(Err(Error::Connection(e.to_string())))
                }
                Err(_) => {} // a connect failed: the queued wait retries until the deadline
            }
        }
        FirstPoll::Queue(dp, start)
    }

    pub(super) fn get_slow(
        &self,
        dp: DpPool,
        start: Instant,
        timeout: Duration,
        retry_connect: bool,
        intr: Option<crate::conn::Interrupt<'_>>,
    ) -> Result<PooledConnection> {
        // The queued wait is the async one, run to completion on this thread (block_on):
        // the interrupt hook is asked every POLL_INTERVAL from here, so it may take the GIL.
        let ticker = async {
            match intr {
                Some(f) => loop {
                    tokio::time::sleep(crate::conn::POLL_INTERVAL).await;
                    if f() {
                        break;
                    }
                },
                None => std::future::pending::<()>().await,
            }
        };
        runtime::runtime().block_on(self.acquire_queued(dp, start, timeout, retry_connect, ticker))
    }

    /// The queued part of a checkout, shared by the blocking and the async faces: counts
    /// the waiter (and applies `max_waiting`), waits in deadpool's fair semaphore until
    /// the deadline, retries failed connects with backoff, and ends with
    /// [`Error::Interrupted`] when `cancel` completes first.
    pub(super) async fn acquire_queued<C>(
        &self,
        dp: DpPool,
        start: Instant,
        timeout: Duration,
        retry_connect: bool,
        cancel: C,
    ) -> Result<PooledConnection>
    where
        C: std::future::Future<Output = ()>,
    {
        let c = &self.inner.shared.counters;
        let max_waiting = self.inner.config.max_waiting;
        let waiting = self.inner.waiting.fetch_add(1, Ordering::AcqRel);
        let _guard = scopeguard(|| {
            self.inner.waiting.fetch_sub(1, Ordering::AcqRel);
        });
        if max_waiting > 0 && waiting >= max_waiting {
            Counters::inc(&c.requests_rejected);
            return Err(Error::TooManyRequests { max_waiting });
        }
        Counters::inc(&c.requests_queued);
        // Listed among the waiters until this checkout ends, however it ends.
        let gen = self.current();
        let ticket = self.inner.next_waiter.fetch_add(1, Ordering::Relaxed);
        gen.waiters
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(ticket, start);
        let _listed = scopeguard(|| {
            gen.waiters
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .remove(&ticket);
        });
        // Bounded (config::MAX_DURATION, 100 years): `start + timeout` cannot overflow.
        let timeout = timeout.min(crate::config::MAX_DURATION);
        let deadline = start + timeout;
        let mut backoff = Duration::from_millis(20);
        tokio::pin!(cancel);
        loop {
            let remaining = deadline.saturating_duration_since(Instant::now());
            // The fast path's connect attempt used the whole timeout: a further attempt
            // would block up to connect_timeout past the deadline.
            if remaining.is_zero() && !timeout.is_zero() {
                break;
            }
            let t = Timeouts {
                wait: Some(remaining.max(Duration::from_micros(1))),
                create: None,
                recycle: None,
            };
            let r = tokio::select! {
                r = WithDeadline((!timeout.is_zero()).then_some(deadline), Box::pin(dp.timeout_get(&t))) => r,
                _ = &mut cancel => return Err(Error::Interrupted),
            };
            match r {
                Ok(obj) => {
                    c.record_wait(start.elapsed().as_micros() as u64);
                    return Ok(self.wrap(&dp, obj));
                }
                Err(PoolError::Closed) => return Err(Error::Closed),
                Err(PoolError::Timeout(_)) => break,
                Err(PoolError::Backend(e)) if !retry_connect => {
                    return Err(Error::Connection(e.to_string()))
                }
                Err(_) => {
                    if self.inner.closed.load(Ordering::Acquire) {
                        return Err(Error::Closed);
                    }
                    let left = deadline.saturating_duration_since(Instant::now());
                    if left.is_zero() {
                        break;
                    }
                    tokio::select! {
                        _ = tokio::time::sleep(backoff.min(left)) => {}
                        _ = &mut cancel => return Err(Error::Interrupted),
                    }
                    backoff = (backoff * 2).min(Duration::from_millis(500));
                }
            }
            if Instant::now() >= deadline {
                break;
            }
        }
        Counters::inc(&c.requests_timeouts);
        c.record_wait(start.elapsed().as_micros() as u64);
        let st = dp.status();
        Err(Error::Timeout {
            timeout_secs: timeout.as_secs_f64(),
            size: st.size,
            waiting: self.inner.waiting.load(Ordering::Relaxed).saturating_sub(1),
            last_error: dp.manager().last_error.lock().clone(),
        })
    }

    pub(super) fn wrap(&self, dp: &DpPool, obj: Object<Manager>) -> PooledConnection {
        let acquired = Coarse::now();
        let leak = if self.inner.config.leak_threshold.is_some() {
            let leaks = dp.manager().leaks.clone();
            let mut reg = leaks.lock();
            reg.next += 1;
            let id = reg.next;
            reg.entries.insert(
                id,
                LeakEntry {
                    acquired,
                    context: None,
                    warned: false,
                },
            );
            drop(reg);
            Some((id, leaks))
        } else {
            None
        };
        PooledConnection {
            obj: Some(obj),
            shared: self.inner.shared.clone(),
            acquired,
            leak,
        }
    }
}

thread_local! {
    /// The deadline of the checkout being polled on this thread: `Manager::create` cuts
    /// its connect attempt there.
    pub(super) static ACQUIRE_DEADLINE: std::cell::Cell<Option<Instant>> = const { std::cell::Cell::new(None) };
    /// Set while [`Pool::get_async`]'s future is polled: `Manager::create` must not block
    /// a runtime worker, so it connects inside `block_in_place`.
    pub(super) static ON_WORKER: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
    /// Set during [`Pool::try_get_idle`]: `Manager::create` fails at once.
    pub(super) static NO_CREATE: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

/// Runs `f` with [`ACQUIRE_DEADLINE`] set to `deadline`.
pub(super) fn with_deadline<T>(deadline: Option<Instant>, f: impl FnOnce() -> T) -> T {
    let old = ACQUIRE_DEADLINE.with(|d| d.replace(deadline));
    let r = f();
    ACQUIRE_DEADLINE.with(|d| d.set(old));
    r
}

/// Polls the inner future with [`ACQUIRE_DEADLINE`] set (each poll may run on another
/// runtime thread).
pub(super) struct WithDeadline<F>(Option<Instant>, std::pin::Pin<Box<F>>);

impl<F: std::future::Future> std::future::Future for WithDeadline<F> {
    type Output = F::Output;
    fn poll(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<F::Output> {
        let deadline = self.0;
        with_deadline(deadline, || self.1.as_mut().poll(cx))
    }
}

/// Polls the inner future with [`ON_WORKER`] set.
pub(super) struct OnWorker<F>(std::pin::Pin<Box<F>>);

impl<F: std::future::Future> std::future::Future for OnWorker<F> {
    type Output = F::Output;
    fn poll(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<F::Output> {
        ON_WORKER.with(|w| w.set(true));
        let r = self.0.as_mut().poll(cx);
        ON_WORKER.with(|w| w.set(false));
        r
    }
}

impl Pool {
    /// [`Pool::get`] as a future, for faces with an event loop (Python's asyncio): the
    /// wait holds no thread. It runs on the shared runtime ([`runtime::runtime`]`.spawn`)
    /// and queues in the same FIFO semaphore as every blocking checkout, with the same
    /// timeout, `max_waiting`, connect retries and stats. When `cancel` completes first
    /// the wait ends with [`Error::Interrupted`] and leaves the queue. Primary only:
    /// readonly routing to replicas is [`Pool::get_interruptible`]'s.
    pub async fn get_async<C>(
        &self,
        timeout: Option<Duration>,
        cancel: C,
    ) -> Result<PooledConnection>
    where
        C: std::future::Future<Output = ()>,
    {
        OnWorker(Box::pin(self.get_async_inner(timeout, cancel))).await
    }

    /// The checkout fast path every face tries first: an idle connection taken now,
    /// without waiting, queueing or connecting — so a face may take it without releasing
    /// its runtime's lock (Python's GIL, an event loop's thread). `None` when the caller
    /// must take the general path: no idle connection, waiters queued before it, or
    /// `readonly` work on a pool with replicas (routing chooses the sub-pool).
    pub fn try_checkout_now(&self, readonly: bool) -> Option<PooledConnection> {
        if readonly && self.has_replicas() {
            return None;
        }
        self.try_get_idle()
    }

    /// An idle connection if one is ready now, without waiting, connecting or queueing
    /// (a free slot without an idle connection is not used): a checkout an event loop
    /// can do on its own thread. `None`: use [`Pool::get_async`]. Waiters already queued
    /// keep their turn (the semaphore is fair).
    pub fn try_get_idle(&self) -> Option<PooledConnection> {
        if self.inner.closed.load(Ordering::Acquire) {
            return None;
        }
        let dp = self.dp();
        if dp.status().available == 0 {
            return None;
        }
        // wait = 0: deadpool's try_acquire path, no Acquire future.
        let t = Timeouts {
            wait: Some(Duration::ZERO),
            create: None,
            recycle: None,
        };
        NO_CREATE.with(|w| w.set(true));
        let r = dp.timeout_get(&t).now_or_never();
        NO_CREATE.with(|w| w.set(false));
        match r {
            Some(Ok(obj)) => {
                Counters::inc(&self.inner.shared.counters.requests_num);
                Some(self.wrap(&dp, obj))
            }
            _ => None,
        }
    }

    pub(super) async fn get_async_inner<C>(
        &self,
        timeout: Option<Duration>,
        cancel: C,
    ) -> Result<PooledConnection>
    where
        C: std::future::Future<Output = ()>,
    {
        let timeout = timeout.unwrap_or(self.inner.config.timeout);
        let (dp, start) = match self.first_poll(true, timeout) {
            FirstPoll::Done(r) => return r,
            FirstPoll::Queue(dp, start) => (dp, start),
        };
        self.acquire_queued(dp, start, timeout, true, cancel).await
    }
}
