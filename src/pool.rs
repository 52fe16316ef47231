//! The pool: deadpool's managed pool with our own [`Manager`], plus what deadpool lacks
//! (min_size kept by a maintenance thread, lifetime and idle reaping, pre-ping, acquire
//! with a deadline that survives a database outage, `max_waiting`, reset on return,
//! stats, fork safety).
#![forbid(unsafe_code)]

use std::ops::{Deref, DerefMut};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Weak};
use std::thread;
use std::time::{Duration, Instant};

/// The pool's own timestamps (idle since, expiry, checkout time) use the coarse
/// monotonic clock: millisecond resolution is plenty for them, and it costs a few
/// nanoseconds where `Instant::now()` costs ~30 ns on the checkout path.
type Coarse = coarsetime::Instant;

fn coarse(d: Duration) -> coarsetime::Duration {
    coarsetime::Duration::from(d)
}

/// Milliseconds since the first call (coarse clock).
fn coarse_ms() -> u64 {
    static BASE: std::sync::OnceLock<Coarse> = std::sync::OnceLock::new();
    let base = *BASE.get_or_init(Coarse::now);
    Coarse::now().duration_since(base).as_millis()
}

use deadpool::managed::{self, Metrics, Object, PoolError, RecycleError, RecycleResult, Timeouts};
use futures_util::FutureExt;
use parking_lot::{Mutex, RwLock};

use crate::config::{ConnectParams, PoolConfig};
use crate::conn::Connection;
use crate::error::{Error, Result};
use crate::runtime;
use crate::stats::{Counters, Stats};

/// How often the maintenance thread looks at the pool.
const MAINTENANCE_INTERVAL: Duration = Duration::from_millis(250);

/// A pooled server connection with the pool's bookkeeping.
#[derive(Debug)]
pub struct Conn {
    // Boxed: deadpool moves its objects by value through its futures and slots; a
    // pointer keeps the checkout path free of large copies.
    conn: Box<Connection>,
    /// Replace after this instant (lifetime minus jitter).
    expires: Option<Coarse>,
    /// When it last went back to the pool.
    returned: Coarse,
}

/// deadpool's manager: opens connections on the calling thread (blocking), validates
/// them at checkout.
#[derive(Debug)]
pub struct Manager {
    params: ConnectParams,
    shared: Arc<Shared>,
}

#[derive(Debug)]
struct Shared {
    counters: Counters,
    last_error: Mutex<Option<String>>,
    max_lifetime: Option<Duration>,
    pre_ping: bool,
    pre_ping_window: Duration,
    command_timeout: Option<Duration>,
}

impl managed::Manager for Manager {
    type Type = Conn;
    type Error = Error;

    async fn create(&self) -> Result<Conn> {
        // Blocking on purpose: checkouts run on the caller's thread and the maintenance
        // thread is ours; a connection belongs to whoever drives it. An async checkout
        // ([`Pool::get_async`]) polled on a runtime worker connects in `block_in_place`.
        if NO_CREATE.with(|w| w.get()) {
            // [`Pool::try_get_idle`]: only an idle connection will do.
            return Err(Error::Interface("no idle connection".into()));
        }
        let connect = || Connection::connect(&self.params);
        let connected = if ON_WORKER.with(|w| w.get()) {
            tokio::task::block_in_place(connect)
        } else {
            connect()
        };
        match connected {
            Ok(mut conn) => {
                conn.set_read_deadline(self.shared.command_timeout);
                Counters::inc(&self.shared.counters.connections_num);
                let now = Coarse::now();
                let expires = self.shared.max_lifetime.map(|l| {
                    // up to 5 % negative jitter, so connections do not expire together
                    let jitter = l.mul_f64(fastrand::f64() * 0.05);
                    now + coarse(l - jitter)
                });
                *self.shared.last_error.lock() = None;
                Ok(Conn {
                    conn: Box::new(conn),
                    expires,
                    returned: now,
                })
            }
            Err(e) => {
                Counters::inc(&self.shared.counters.connections_errors);
                // Warn when connecting starts failing (or fails differently); repeats of
                // the same error while the database stays down are debug-level. Logged
                // after the lock is released: loggers (a C callback, Python's logging)
                // may call back into the pool.
                let msg = e.to_string();
                let repeated = {
                    let mut last = self.shared.last_error.lock();
                    let repeated = last.as_deref() == Some(msg.as_str());
                    *last = Some(msg);
                    repeated
                };
                if !repeated {
                    log::warn!("connection failed: {e}");
                } else {
                    log::debug!("connection failed again: {e}");
                }
                Err(e)
            }
        }
    }

    async fn recycle(&self, c: &mut Conn, _m: &Metrics) -> RecycleResult<Error> {
        if c.conn.is_broken() || c.conn.is_inherited() {
            Counters::inc(&self.shared.counters.connections_lost);
            return Err(RecycleError::message("connection is broken"));
        }
        let now = Coarse::now();
        if let Some(exp) = c.expires {
            if now >= exp {
                Counters::inc(&self.shared.counters.recycled_lifetime);
                log::debug!("connection reached max_lifetime, replacing it");
                return Err(RecycleError::message("max_lifetime reached"));
            }
        }
        if self.shared.pre_ping
            && now.duration_since(c.returned) > coarse(self.shared.pre_ping_window)
            && c.conn.poll_closed()
        {
            Counters::inc(&self.shared.counters.connections_lost);
            log::info!("discarding a dead idle connection (pre-ping)");
            return Err(RecycleError::message("pre-ping failed"));
        }
        Ok(())
    }
}

type DpPool = managed::Pool<Manager>;

/// What the first poll of a checkout gave.
enum FirstPoll {
    Done(Result<PooledConnection>),
    Queue(DpPool, Instant),
}

struct PoolInner {
    config: PoolConfig,
    shared: Arc<Shared>,
    dp: RwLock<(u64, DpPool)>,
    min_size: AtomicUsize,
    max_size: AtomicUsize,
    waiting: AtomicUsize,
    closed: AtomicBool,
    // std's Mutex/Condvar, not parking_lot's: parking_lot keeps parked threads in a
    // process-global table, and in a forked child the parent's parked maintenance
    // threads (which do not exist there) stay in it; notifying could then spin.
    stop: (std::sync::Mutex<bool>, std::sync::Condvar),
    id: u64,
    /// Sub-pools for `readonly` work (SPEC §6), tried round-robin.
    replicas: Vec<Pool>,
    rr: AtomicUsize,
    /// A replica whose connect failed is skipped until this coarse instant (ms ticks).
    down_until_ms: AtomicU64,
    /// Checked-out connections, tracked only when `leak_threshold` is set.
    leaks: Mutex<LeakRegistry>,
    /// Background filling backs off while connecting fails (coarse ms).
    fill_retry_at_ms: AtomicU64,
    fill_backoff_ms: AtomicU64,
}

#[derive(Default)]
struct LeakRegistry {
    next: u64,
    entries: std::collections::HashMap<u64, LeakEntry>,
}

struct LeakEntry {
    acquired: Coarse,
    context: Option<String>,
    warned: bool,
}

/// How long a replica that refused a connection is skipped by readonly routing.
const REPLICA_DOWN_FOR: Duration = Duration::from_secs(5);

static NEXT_POOL_ID: AtomicU64 = AtomicU64::new(1);

/// A connection pool. Cheap to clone (an `Arc`); share it between threads.
#[derive(Clone)]
pub struct Pool {
    inner: Arc<PoolInner>,
}

impl std::fmt::Debug for Pool {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Pool")
            .field("name", &self.inner.config.name)
            .field("connect", &self.inner.config.connect)
            .field("stats", &self.stats())
            .finish()
    }
}

fn build_dp(params: &ConnectParams, shared: &Arc<Shared>, max: usize, timeout: Duration) -> DpPool {
    let mut params = params.clone();
    // Connecting runs on the thread that asked for a connection: without a DSN
    // connect_timeout it must still not outlive the acquire timeout (libpq's default
    // would wait for the OS, minutes on a black-holed host).
    if params.connect_timeout.is_none() {
        params.connect_timeout = Some(timeout.max(Duration::from_millis(100)));
    }
    managed::Pool::builder(Manager {
        params,
        shared: shared.clone(),
    })
    .max_size(max)
    .runtime(deadpool::Runtime::Tokio1)
    .build()
    .expect("deadpool builder with a runtime cannot fail")
}

impl Pool {
    /// Creates a pool. Returns at once: `min_size` connections are opened in the
    /// background (a database that is down is not an error here) — or, with
    /// [`PoolConfig::lazy_min`], only as checkouts need them, and kept once open.
    pub fn new(config: PoolConfig) -> Result<Pool> {
        if config.max_size == 0 {
            return Err(Error::config("max_size", "must be at least 1"));
        }
        if config.min_size > config.max_size {
            return Err(Error::config(
                "min_size",
                format!(
                    "min_size {} is larger than max_size {}",
                    config.min_size, config.max_size
                ),
            ));
        }
        let shared = Arc::new(Shared {
            counters: Counters::default(),
            last_error: Mutex::new(None),
            max_lifetime: config.max_lifetime,
            pre_ping: config.pre_ping,
            pre_ping_window: config.pre_ping_window,
            command_timeout: config.command_timeout,
        });
        let dp = build_dp(&config.connect, &shared, config.max_size, config.timeout);
        let mut replicas = Vec::with_capacity(config.replicas.len());
        for (i, r) in config.replicas.iter().enumerate() {
            let mut rc = config.clone();
            rc.connect = r.clone();
            rc.replicas = Vec::new();
            rc.name = Some(format!(
                "{}-replica{i}",
                config.name.as_deref().unwrap_or("pgpool")
            ));
            replicas.push(Pool::new(rc)?);
        }
        let inner = Arc::new(PoolInner {
            replicas,
            rr: AtomicUsize::new(0),
            down_until_ms: AtomicU64::new(0),
            leaks: Mutex::new(LeakRegistry::default()),
            fill_retry_at_ms: AtomicU64::new(0),
            fill_backoff_ms: AtomicU64::new(0),
            min_size: AtomicUsize::new(config.min_size),
            max_size: AtomicUsize::new(config.max_size),
            dp: RwLock::new((runtime::check_fork(), dp)),
            config,
            shared,
            waiting: AtomicUsize::new(0),
            closed: AtomicBool::new(false),
            stop: (std::sync::Mutex::new(false), std::sync::Condvar::new()),
            id: NEXT_POOL_ID.fetch_add(1, Ordering::Relaxed),
        });
        let weak = Arc::downgrade(&inner);
        thread::Builder::new()
            .name(format!("pgpool-maint-{}", inner.id))
            .spawn(move || maintenance(weak))
            .map_err(|e| Error::Interface(format!("cannot start the maintenance thread: {e}")))?;
        Ok(Pool { inner })
    }

    /// The configuration it was built with.
    pub fn config(&self) -> &PoolConfig {
        &self.inner.config
    }

    /// The deadpool pool of this process (rebuilt in a forked child).
    fn dp(&self) -> DpPool {
        let gen = runtime::generation();
        {
            let g = self.inner.dp.read();
            if g.0 == gen {
                return g.1.clone();
            }
        }
        let mut g = self.inner.dp.write();
        if g.0 != gen {
            // A forked child: the parent's connections are not ours. Dropping them only
            // closes our copies of the sockets (Connection never writes to an inherited
            // socket).
            let fresh = build_dp(
                &self.inner.config.connect,
                &self.inner.shared,
                self.inner.max_size.load(Ordering::Relaxed),
                self.inner.config.timeout,
            );
            let old = std::mem::replace(&mut *g, (gen, fresh));
            drop(old);
            self.inner.waiting.store(0, Ordering::Relaxed);
        }
        g.1.clone()
    }

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

    fn get_readonly_inner(
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

    fn get_inner(
        &self,
        timeout: Option<Duration>,
        retry_connect: bool,
        intr: Option<crate::conn::Interrupt<'_>>,
    ) -> Result<PooledConnection> {
        let (dp, start) = match self.first_poll(retry_connect) {
            FirstPoll::Done(r) => return r,
            FirstPoll::Queue(dp, start) => (dp, start),
        };
        self.get_slow(
            dp,
            start,
            timeout.unwrap_or(self.inner.config.timeout),
            retry_connect,
            intr,
        )
    }

    /// The start of every checkout: an idle connection (or a free slot, connected on the
    /// spot) is ready at the first poll of deadpool's `get`, without a runtime.
    fn first_poll(&self, retry_connect: bool) -> FirstPoll {
        if self.inner.closed.load(Ordering::Acquire) {
            return FirstPoll::Done(Err(Error::Closed));
        }
        Counters::inc(&self.inner.shared.counters.requests_num);
        let dp = self.dp();
        // The deadline counts from here: this poll may itself spend up to
        // connect_timeout connecting (a silent server).
        let start = Instant::now();
        if let Some(r) = dp.get().now_or_never() {
            match r {
                Ok(obj) => return FirstPoll::Done(Ok(self.wrap(obj))),
                Err(PoolError::Closed) => return FirstPoll::Done(Err(Error::Closed)),
                Err(PoolError::Backend(e)) if !retry_connect => {
                    return FirstPoll::Done(Err(Error::Connection(e.to_string())))
                }
                Err(_) => {} // a connect failed: the queued wait retries until the deadline
            }
        }
        FirstPoll::Queue(dp, start)
    }

    fn get_slow(
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
    async fn acquire_queued<C>(
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
                r = dp.timeout_get(&t) => r,
                _ = &mut cancel => return Err(Error::Interrupted),
            };
            match r {
                Ok(obj) => {
                    c.record_wait(start.elapsed().as_micros() as u64);
                    return Ok(self.wrap(obj));
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
            last_error: self.inner.shared.last_error.lock().clone(),
        })
    }

    fn wrap(&self, obj: Object<Manager>) -> PooledConnection {
        let acquired = Coarse::now();
        let leak_id = if self.inner.config.leak_threshold.is_some() {
            let mut reg = self.inner.leaks.lock();
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
            Some(id)
        } else {
            None
        };
        PooledConnection {
            obj: Some(obj),
            shared: self.inner.shared.clone(),
            acquired,
            leak: leak_id.map(|id| (id, Arc::downgrade(&self.inner))),
        }
    }

    /// Renders the stats as Prometheus text exposition (gauges, counters and the
    /// acquire-wait histogram), labelled with the pool's name.
    pub fn prometheus(&self) -> String {
        let name = self.inner.config.name.as_deref().unwrap_or("default");
        let mut all = vec![(name, self.stats())];
        for r in &self.inner.replicas {
            all.push((r.inner.config.name.as_deref().unwrap_or(""), r.stats()));
        }
        let refs: Vec<(&str, &Stats)> = all.iter().map(|(n, s)| (*n, s)).collect();
        Stats::prometheus_many(&refs)
    }

    /// A snapshot of the pool's gauges and counters.
    pub fn stats(&self) -> Stats {
        let st = self.inner.dp.read().1.status();
        let mut s = Stats {
            pool_min: self.inner.min_size.load(Ordering::Relaxed),
            pool_max: self.inner.max_size.load(Ordering::Relaxed),
            pool_size: st.size,
            pool_available: st.available,
            in_use: st.size - st.available,
            requests_waiting: self.inner.waiting.load(Ordering::Relaxed),
            ..Default::default()
        };
        self.inner.shared.counters.fill(&mut s);
        s
    }

    /// The last connection error, if the last attempt failed.
    pub fn last_error(&self) -> Option<String> {
        self.inner.shared.last_error.lock().clone()
    }

    /// Changes the sizes. Shrinking closes idle connections above the new maximum;
    /// checked-out ones close when returned.
    pub fn resize(&self, min_size: usize, max_size: usize) -> Result<()> {
        if max_size == 0 {
            return Err(Error::config("max_size", "must be at least 1"));
        }
        if min_size > max_size {
            return Err(Error::config(
                "min_size",
                format!("min_size {min_size} is larger than max_size {max_size}"),
            ));
        }
        self.inner.min_size.store(min_size, Ordering::Relaxed);
        self.inner.max_size.store(max_size, Ordering::Relaxed);
        self.dp().resize(max_size);
        self.wake_maintenance();
        Ok(())
    }

    /// Closes the pool: waiters and later checkouts get [`Error::Closed`]; idle
    /// connections close now, checked-out ones when they are returned.
    pub fn close(&self) {
        if self.inner.closed.swap(true, Ordering::AcqRel) {
            return;
        }
        *self.inner.stop.0.lock().unwrap_or_else(|e| e.into_inner()) = true;
        self.inner.stop.1.notify_all();
        let dp = self.dp();
        dp.close();
        let removed = dp.retain(|_, _| false).removed;
        drop(removed);
        for r in &self.inner.replicas {
            r.close();
        }
    }

    /// True once [`Pool::close`] was called.
    pub fn is_closed(&self) -> bool {
        self.inner.closed.load(Ordering::Acquire)
    }

    /// Opens connections until `min_size` are open (what the maintenance thread does in
    /// the background), waiting up to `timeout`. For callers that want a warm pool (also
    /// with `lazy_min`: an explicit warm-up).
    pub fn wait_ready(&self, timeout: Duration) -> Result<()> {
        let deadline = Instant::now() + timeout;
        loop {
            let _ = fill_min(&self.inner, &self.dp());
            if self.stats().pool_size >= self.inner.min_size.load(Ordering::Relaxed) {
                return Ok(());
            }
            if Instant::now() >= deadline {
                return Err(Error::Timeout {
                    timeout_secs: timeout.as_secs_f64(),
                    size: self.stats().pool_size,
                    waiting: 0,
                    last_error: self.last_error(),
                });
            }
            thread::sleep(Duration::from_millis(50));
        }
    }

    fn wake_maintenance(&self) {
        self.inner.stop.1.notify_all();
    }
}

impl Drop for PoolInner {
    fn drop(&mut self) {
        *self.stop.0.lock().unwrap_or_else(|e| e.into_inner()) = true;
        self.stop.1.notify_all();
    }
}

struct ScopeGuard<F: FnMut()>(F);
impl<F: FnMut()> Drop for ScopeGuard<F> {
    fn drop(&mut self) {
        (self.0)()
    }
}
fn scopeguard<F: FnMut()>(f: F) -> ScopeGuard<F> {
    ScopeGuard(f)
}

/// Opens connections (non-blocking checkouts) until `min_size` are open.
/// Returns false when a connection attempt failed.
fn fill_min(inner: &PoolInner, dp: &DpPool) -> bool {
    let min = inner.min_size.load(Ordering::Relaxed);
    let mut held = Vec::new();
    let mut ok = true;
    while dp.status().size < min && held.len() < min {
        let t = Timeouts {
            wait: Some(Duration::ZERO),
            create: None,
            recycle: None,
        };
        match dp.timeout_get(&t).now_or_never() {
            Some(Ok(o)) => held.push(o),
            Some(Err(PoolError::Backend(_))) => {
                ok = false;
                break;
            }
            _ => break,
        }
    }
    for mut o in held {
        o.returned = Coarse::now();
        drop(o);
    }
    ok
}

fn maintenance(weak: Weak<PoolInner>) {
    loop {
        let Some(inner) = weak.upgrade() else { return };
        {
            let stop = inner.stop.0.lock().unwrap_or_else(|e| e.into_inner());
            if *stop {
                return;
            }
            let (stop, _) = inner
                .stop
                .1
                .wait_timeout(stop, MAINTENANCE_INTERVAL)
                .unwrap_or_else(|e| e.into_inner());
            if *stop {
                return;
            }
        }
        if inner.closed.load(Ordering::Acquire) {
            return;
        }
        let gen = runtime::generation();
        let dp = {
            let g = inner.dp.read();
            if g.0 != gen {
                // A forked child: this thread does not exist there; nothing to do here.
                continue;
            }
            g.1.clone()
        };
        // Reap idle connections: expired lifetime, or idle too long above min_size.
        let now = Coarse::now();
        let min = inner.min_size.load(Ordering::Relaxed);
        let size = dp.status().size;
        let mut may_close_idle = size.saturating_sub(min);
        let max_idle = inner.config.max_idle;
        let counters = &inner.shared.counters;
        let removed = dp
            .retain(|c, _| {
                if c.conn.is_broken() {
                    Counters::inc(&counters.connections_lost);
                    return false;
                }
                if c.expires.is_some_and(|e| now >= e) {
                    Counters::inc(&counters.recycled_lifetime);
                    return false;
                }
                if let Some(mi) = max_idle {
                    if may_close_idle > 0 && now.duration_since(c.returned) >= coarse(mi) {
                        may_close_idle -= 1;
                        Counters::inc(&counters.recycled_idle);
                        return false;
                    }
                }
                true
            })
            .removed;
        drop(removed); // closes them, outside deadpool's lock
        let now_ms = coarse_ms();
        // lazy_min: min_size is only a floor for reaping; checkouts open the connections.
        if !inner.config.lazy_min && now_ms >= inner.fill_retry_at_ms.load(Ordering::Relaxed) {
            if fill_min(&inner, &dp) {
                inner.fill_backoff_ms.store(0, Ordering::Relaxed);
            } else {
                // 250 ms, doubling up to 5 s, while the database stays unreachable.
                let b = (inner.fill_backoff_ms.load(Ordering::Relaxed) * 2).clamp(250, 5000);
                inner.fill_backoff_ms.store(b, Ordering::Relaxed);
                inner.fill_retry_at_ms.store(now_ms + b, Ordering::Relaxed);
            }
        }
        if let Some(th) = inner.config.leak_threshold {
            let th = coarse(th);
            // Collected under the lock, logged after it: a logger may block (the Python
            // face's takes the GIL) and must not do so while holding the registry.
            let mut leaked = Vec::new();
            {
                let mut reg = inner.leaks.lock();
                for e in reg.entries.values_mut() {
                    let held = now.duration_since(e.acquired);
                    if !e.warned && held >= th {
                        e.warned = true;
                        leaked.push((held, e.context.clone()));
                    }
                }
            }
            for (held, context) in leaked {
                log::warn!(
                    "a connection has been checked out for {:.1} s (leak_threshold {:.1} s); acquired at:\n{}",
                    held.as_f64(),
                    th.as_f64(),
                    context.as_deref().unwrap_or("(no stack recorded)")
                );
            }
        }
    }
}

/// A checked-out connection. Dropping it returns it to the pool: an open transaction is
/// rolled back, changed session state reset, a broken connection discarded.
pub struct PooledConnection {
    obj: Option<Object<Manager>>,
    shared: Arc<Shared>,
    acquired: Coarse,
    /// Registry entry when `leak_threshold` is set.
    leak: Option<(u64, Weak<PoolInner>)>,
}

impl std::fmt::Debug for PooledConnection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PooledConnection")
            .field("conn", &self.obj.as_ref().map(|o| &o.conn))
            .finish()
    }
}

impl PooledConnection {
    /// How long it has been checked out.
    pub fn held_for(&self) -> Duration {
        Coarse::now().duration_since(self.acquired).into()
    }

    /// Attaches a description of who checked it out (e.g. a Python stack), logged if it
    /// is held past `leak_threshold`. Free when no threshold is set.
    pub fn set_leak_context(&self, context: impl FnOnce() -> String) {
        if let Some((id, w)) = &self.leak {
            if let Some(inner) = w.upgrade() {
                // Built before taking the registry lock: `context` may be slow or block.
                let context = context();
                if let Some(e) = inner.leaks.lock().entries.get_mut(id) {
                    e.context = Some(context);
                }
            }
        }
    }

    /// True when the pool tracks leaks (so a face knows whether a context is wanted).
    pub fn tracks_leaks(&self) -> bool {
        self.leak.is_some()
    }

    /// Returns it to the pool now (as dropping does), reporting whether the reset
    /// succeeded (`false`: it was discarded).
    pub fn release(mut self) -> bool {
        self.give_back(false)
    }

    /// Closes the connection instead of returning it (psycopg2's `putconn(close=True)`).
    pub fn discard(mut self) {
        self.give_back(true);
    }

    fn give_back(&mut self, close: bool) -> bool {
        let Some(mut obj) = self.obj.take() else {
            return false;
        };
        if let Some((id, w)) = self.leak.take() {
            if let Some(inner) = w.upgrade() {
                inner.leaks.lock().entries.remove(&id);
            }
        }
        let c = &self.shared.counters;
        let now = Coarse::now();
        c.usage_us.fetch_add(
            now.duration_since(self.acquired).as_micros(),
            Ordering::Relaxed,
        );
        if obj.conn.is_inherited() {
            // A forked child holding the parent's connection: never touch it.
            let conn = Object::take(obj);
            std::mem::forget(conn);
            return false;
        }
        let ok = !close && obj.conn.reset().is_ok();
        if !ok {
            if !close {
                Counters::inc(&c.returns_bad);
                if obj.conn.is_broken() {
                    Counters::inc(&c.connections_lost);
                }
            }
            let conn = Object::take(obj);
            drop(conn);
            return false;
        }
        obj.returned = now;
        drop(obj);
        true
    }
}

impl Deref for PooledConnection {
    type Target = Connection;
    fn deref(&self) -> &Connection {
        &self.obj.as_ref().expect("connection already returned").conn
    }
}

impl DerefMut for PooledConnection {
    fn deref_mut(&mut self) -> &mut Connection {
        &mut self.obj.as_mut().expect("connection already returned").conn
    }
}

impl Drop for PooledConnection {
    fn drop(&mut self) {
        if self.obj.is_some() {
            // Dropped without release()/discard(): still returned, and counted.
            Counters::inc(&self.shared.counters.returns_implicit);
            self.give_back(false);
        }
    }
}

thread_local! {
    /// Set while [`Pool::get_async`]'s future is polled: `Manager::create` must not block
    /// a runtime worker, so it connects inside `block_in_place`.
    static ON_WORKER: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
    /// Set during [`Pool::try_get_idle`]: `Manager::create` fails at once.
    static NO_CREATE: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

/// Polls the inner future with [`ON_WORKER`] set.
struct OnWorker<F>(std::pin::Pin<Box<F>>);

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
                Some(self.wrap(obj))
            }
            _ => None,
        }
    }

    async fn get_async_inner<C>(
        &self,
        timeout: Option<Duration>,
        cancel: C,
    ) -> Result<PooledConnection>
    where
        C: std::future::Future<Output = ()>,
    {
        let (dp, start) = match self.first_poll(true) {
            FirstPoll::Done(r) => return r,
            FirstPoll::Queue(dp, start) => (dp, start),
        };
        let timeout = timeout.unwrap_or(self.inner.config.timeout);
        self.acquire_queued(dp, start, timeout, true, cancel).await
    }
}
