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

/// `d` on the coarse clock, saturating: its 32.32 fixed point holds up to 2^32 s (136
/// years), and a plain conversion of a longer duration wraps around to a short one
/// (`max_lifetime=1e12` once replaced every connection at each check).
fn coarse(d: Duration) -> coarsetime::Duration {
    if d.as_secs() >= 1 << 32 {
        coarsetime::Duration::from_u64(u64::MAX)
    } else {
        coarsetime::Duration::from(d)
    }
}

/// Milliseconds since the first call (coarse clock).
fn coarse_ms() -> u64 {
    static BASE: std::sync::OnceLock<Coarse> = std::sync::OnceLock::new();
    let base = *BASE.get_or_init(Coarse::now);
    Coarse::now().duration_since(base).as_millis()
}

use deadpool::managed::{self, Metrics, Object, PoolError, RecycleError, RecycleResult, Timeouts};
use futures_util::FutureExt;
use parking_lot::Mutex;

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
///
/// One per fork generation (see [`GenState`]): what it guards with locks (the last
/// connection error, the leak registry) is this process's own.
#[derive(Debug)]
pub struct Manager {
    params: ConnectParams,
    shared: Arc<Shared>,
    last_error: Mutex<Option<String>>,
    /// Checked-out connections, tracked only when `leak_threshold` is set.
    leaks: Arc<Mutex<LeakRegistry>>,
}

#[derive(Debug)]
struct Shared {
    counters: Counters,
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
        // A checkout's deadline cuts the connect attempt (connect_timeout may be longer).
        let until = ACQUIRE_DEADLINE.with(|d| d.get());
        let connect = || Connection::connect_until(&self.params, until);
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
                // Up to 5 % negative jitter, so connections do not expire together. An
                // instant past the coarse clock's range is never reached: no expiry.
                let expires = self.shared.max_lifetime.and_then(|l| {
                    let jitter = l.mul_f64(fastrand::f64() * 0.05);
                    now.checked_add(coarse(l.saturating_sub(jitter)))
                });
                *self.last_error.lock() = None;
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
                    let mut last = self.last_error.lock();
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

/// What one process (fork generation) uses of a pool: its deadpool pool (whose manager
/// holds the last connection error and the leak registry) and its maintenance thread's
/// stop flag. A forked child never takes the parent's: the locks in there may be held by
/// threads that do not exist in the child, or be half-way through an update.
struct GenState {
    gen: u64,
    dp: DpPool,
    // std's Mutex/Condvar, not parking_lot's: parking_lot keeps parked threads in a
    // process-global table, and in a forked child the parent's parked maintenance
    // threads (which do not exist there) stay in it; notifying could then spin.
    stop: (std::sync::Mutex<bool>, std::sync::Condvar),
}

impl GenState {
    fn stop_maintenance(&self) {
        *self.stop.0.lock().unwrap_or_else(|e| e.into_inner()) = true;
        self.stop.1.notify_all();
    }
}

/// Pools whose state for the current generation could not be installed in their
/// `PoolInner::state` (a reader of the parent's held its lock at the fork, so it never
/// comes free in the child): found here instead, by pool id. A `std` mutex that
/// `runtime::before_fork` takes, so it is never held by another thread at a fork.
static FORK_LOCAL: std::sync::Mutex<Vec<(u64, Arc<GenState>)>> = std::sync::Mutex::new(Vec::new());

/// Takes [`FORK_LOCAL`]'s lock for `fork()` (see `runtime::before_fork`).
pub(crate) fn lock_for_fork() -> runtime::ForkGuard {
    Box::new(FORK_LOCAL.lock().unwrap_or_else(|e| e.into_inner()))
}

struct PoolInner {
    config: PoolConfig,
    shared: Arc<Shared>,
    /// This generation's state. `std`'s RwLock: only ever `try_*`-locked where a forked
    /// child may find it held by the parent's threads.
    state: std::sync::RwLock<Arc<GenState>>,
    min_size: AtomicUsize,
    max_size: AtomicUsize,
    waiting: AtomicUsize,
    closed: AtomicBool,
    id: u64,
    /// Sub-pools for `readonly` work (SPEC §6), tried round-robin.
    replicas: Vec<Pool>,
    rr: AtomicUsize,
    /// A replica whose connect failed is skipped until this coarse instant (ms ticks).
    down_until_ms: AtomicU64,
    /// Background filling backs off while connecting fails (coarse ms).
    fill_retry_at_ms: AtomicU64,
    fill_backoff_ms: AtomicU64,
}

#[derive(Default, Debug)]
struct LeakRegistry {
    next: u64,
    entries: std::collections::HashMap<u64, LeakEntry>,
}

#[derive(Debug)]
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
        last_error: Mutex::new(None),
        leaks: Arc::default(),
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
        let config = config.bound_durations()?;
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
            fill_retry_at_ms: AtomicU64::new(0),
            fill_backoff_ms: AtomicU64::new(0),
            min_size: AtomicUsize::new(config.min_size),
            max_size: AtomicUsize::new(config.max_size),
            state: std::sync::RwLock::new(Arc::new(GenState {
                gen: runtime::check_fork(),
                dp,
                stop: (std::sync::Mutex::new(false), std::sync::Condvar::new()),
            })),
            config,
            shared,
            waiting: AtomicUsize::new(0),
            closed: AtomicBool::new(false),
            id: NEXT_POOL_ID.fetch_add(1, Ordering::Relaxed),
        });
        let pool = Pool { inner };
        pool.start_maintenance(pool.current())?;
        Ok(pool)
    }

    /// Starts the maintenance thread of one generation's state.
    fn start_maintenance(&self, st: Arc<GenState>) -> Result<()> {
        let weak = Arc::downgrade(&self.inner);
        thread::Builder::new()
            .name(format!("pgpool-maint-{}", self.inner.id))
            .spawn(move || maintenance(weak, st))
            .map(drop)
            .map_err(|e| Error::Interface(format!("cannot start the maintenance thread: {e}")))
    }

    /// The configuration it was built with.
    pub fn config(&self) -> &PoolConfig {
        &self.inner.config
    }

    /// The deadpool pool of this process (rebuilt in a forked child).
    #[inline]
    fn dp(&self) -> DpPool {
        let gen = runtime::generation();
        if let Ok(g) = self.inner.state.try_read() {
            if g.gen == gen {
                return g.dp.clone();
            }
        }
        self.state_slow(gen).dp.clone()
    }

    /// This process's state (rebuilt in a forked child).
    fn current(&self) -> Arc<GenState> {
        let gen = runtime::generation();
        if let Ok(g) = self.inner.state.try_read() {
            if g.gen == gen {
                return g.clone();
            }
        }
        self.state_slow(gen)
    }

    /// A forked child's first use: fresh state for this generation, never touching a lock
    /// of the parent's (it may be held by a thread that is not here). Also the path when
    /// the state lock could not be read, which outside a child only happens for the
    /// moment another thread installs a generation's state.
    #[cold]
    fn state_slow(&self, gen: u64) -> Arc<GenState> {
        let mut local = FORK_LOCAL.lock().unwrap_or_else(|e| e.into_inner());
        // Another thread of this process may have done it meanwhile.
        if let Some((_, st)) = local
            .iter()
            .find(|(id, st)| *id == self.inner.id && st.gen == gen)
        {
            return st.clone();
        }
        // (`try_read` only fails while a writer holds it: a moment, or forever when the
        // writer is a thread of the parent's.)
        for _ in 0..1000 {
            match self.inner.state.try_read() {
                Ok(g) if g.gen == gen => return g.clone(),
                Ok(_) => break,
                Err(_) => thread::yield_now(),
            }
        }
        // The parent's connections are not ours: Connection never writes to an
        // inherited socket, and the parent's state is left as it is (dropped below only
        // when we could take its lock, so nobody else here holds it).
        let fresh = Arc::new(GenState {
            gen,
            dp: build_dp(
                &self.inner.config.connect,
                &self.inner.shared,
                self.inner.max_size.load(Ordering::Relaxed),
                self.inner.config.timeout,
            ),
            stop: (std::sync::Mutex::new(false), std::sync::Condvar::new()),
        });
        // Readers of the parent's that held the lock at the fork never release it here;
        // readers of ours release it at once, so try a little before giving up.
        let mut installed = false;
        for _ in 0..1000 {
            if let Ok(mut g) = self.inner.state.try_write() {
                let old = std::mem::replace(&mut *g, fresh.clone());
                drop(g);
                drop(old);
                installed = true;
                break;
            }
            thread::yield_now();
        }
        // Older generations' entries (an inherited table): never dropped, as above.
        let (keep, stale): (Vec<_>, Vec<_>) = std::mem::take(&mut *local)
            .into_iter()
            .partition(|(_, st)| st.gen == gen);
        *local = keep;
        std::mem::forget(stale);
        if !installed {
            local.push((self.inner.id, fresh.clone()));
        }
        drop(local);
        self.inner.waiting.store(0, Ordering::Relaxed);
        if !self.inner.closed.load(Ordering::Acquire) {
            // min_size is kept in the child too. A failure to start the thread leaves the
            // pool usable (connections open on demand).
            if let Err(e) = self.start_maintenance(fresh.clone()) {
                log::warn!("{e}");
            }
        }
        fresh
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
        let timeout = timeout.unwrap_or(self.inner.config.timeout);
        let (dp, start) = match self.first_poll(retry_connect, timeout) {
            FirstPoll::Done(r) => return r,
            FirstPoll::Queue(dp, start) => (dp, start),
        };
        self.get_slow(dp, start, timeout, retry_connect, intr)
    }

    /// The start of every checkout: an idle connection (or a free slot, connected on the
    /// spot) is ready at the first poll of deadpool's `get`, without a runtime.
    fn first_poll(&self, retry_connect: bool, timeout: Duration) -> FirstPoll {
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

    fn wrap(&self, dp: &DpPool, obj: Object<Manager>) -> PooledConnection {
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
        let st = self.dp().status();
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
        self.dp().manager().last_error.lock().clone()
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
        let st = self.current();
        st.stop_maintenance();
        let dp = st.dp.clone();
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
        let timeout = timeout.min(crate::config::MAX_DURATION);
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
        self.current().stop.1.notify_all();
    }
}

impl Drop for PoolInner {
    fn drop(&mut self) {
        // This process's maintenance thread, whether its state is installed here or in
        // FORK_LOCAL (never a lock of a parent's generation).
        let gen = runtime::generation();
        let mut local = FORK_LOCAL.lock().unwrap_or_else(|e| e.into_inner());
        let (mine, others): (Vec<_>, Vec<_>) = std::mem::take(&mut *local)
            .into_iter()
            .partition(|(id, st)| *id == self.id && st.gen == gen);
        *local = others;
        drop(local);
        for (_, st) in mine {
            st.stop_maintenance();
        }
        if let Ok(st) = self.state.try_read() {
            if st.gen == gen {
                st.stop_maintenance();
            }
        }
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

fn maintenance(weak: Weak<PoolInner>, st: Arc<GenState>) {
    loop {
        let Some(inner) = weak.upgrade() else { return };
        {
            let stop = st.stop.0.lock().unwrap_or_else(|e| e.into_inner());
            if *stop {
                return;
            }
            let (stop, _) = st
                .stop
                .1
                .wait_timeout(stop, MAINTENANCE_INTERVAL)
                .unwrap_or_else(|e| e.into_inner());
            if *stop {
                return;
            }
        }
        if inner.closed.load(Ordering::Acquire) || st.gen != runtime::generation() {
            return;
        }
        let dp = st.dp.clone();
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
                let mut reg = dp.manager().leaks.lock();
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
    /// Registry entry when `leak_threshold` is set (the registry of the generation it was
    /// checked out in).
    leak: Option<(u64, Arc<Mutex<LeakRegistry>>)>,
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
        if let Some((id, leaks)) = &self.leak {
            // Built before taking the registry lock: `context` may be slow or block.
            let context = context();
            if let Some(e) = leaks.lock().entries.get_mut(id) {
                e.context = Some(context);
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
        if obj.conn.is_inherited() {
            // A forked child holding the parent's connection: never touch it, nor the
            // parent's pool and leak registry (`Object::take` would lock the parent's
            // slots, which a thread that is not here may hold).
            std::mem::forget(obj);
            std::mem::forget(self.leak.take());
            return false;
        }
        if let Some((id, leaks)) = self.leak.take() {
            leaks.lock().entries.remove(&id);
        }
        let c = &self.shared.counters;
        let now = Coarse::now();
        c.usage_us.fetch_add(
            now.duration_since(self.acquired).as_micros(),
            Ordering::Relaxed,
        );
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
    /// The deadline of the checkout being polled on this thread: `Manager::create` cuts
    /// its connect attempt there.
    static ACQUIRE_DEADLINE: std::cell::Cell<Option<Instant>> = const { std::cell::Cell::new(None) };
    /// Set while [`Pool::get_async`]'s future is polled: `Manager::create` must not block
    /// a runtime worker, so it connects inside `block_in_place`.
    static ON_WORKER: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
    /// Set during [`Pool::try_get_idle`]: `Manager::create` fails at once.
    static NO_CREATE: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

/// Runs `f` with [`ACQUIRE_DEADLINE`] set to `deadline`.
fn with_deadline<T>(deadline: Option<Instant>, f: impl FnOnce() -> T) -> T {
    let old = ACQUIRE_DEADLINE.with(|d| d.replace(deadline));
    let r = f();
    ACQUIRE_DEADLINE.with(|d| d.set(old));
    r
}

/// Polls the inner future with [`ACQUIRE_DEADLINE`] set (each poll may run on another
/// runtime thread).
struct WithDeadline<F>(Option<Instant>, std::pin::Pin<Box<F>>);

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
                Some(self.wrap(&dp, obj))
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
        let timeout = timeout.unwrap_or(self.inner.config.timeout);
        let (dp, start) = match self.first_poll(true, timeout) {
            FirstPoll::Done(r) => return r,
            FirstPoll::Queue(dp, start) => (dp, start),
        };
        self.acquire_queued(dp, start, timeout, true, cancel).await
    }
}
