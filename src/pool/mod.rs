//! The pool: deadpool's managed pool with our own [`Manager`], plus what deadpool lacks
//! (min_size kept by a maintenance thread, lifetime and idle reaping, pre-ping, acquire
//! with a deadline that survives a database outage, `max_waiting`, reset on return,
//! stats, fork safety).
#![forbid(unsafe_code)]

use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use deadpool::managed::{self};

use crate::config::PoolConfig;
use crate::error::{Error, Result};
use crate::runtime;
use crate::stats::{Counters, Stats};

mod checkout;
mod maintenance;
mod manager;
mod pooled;
#[cfg(test)]
mod tests;

use maintenance::*;
use manager::*;
pub use manager::{Conn, Manager, PasswordProvider};
pub use pooled::PooledConnection;

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

type DpPool = managed::Pool<Manager>;

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
    /// The clients waiting for a connection now: arrival ticket -> when they asked (for
    /// `oldest_wait_ms`). Per generation: a forked child starts with nobody waiting.
    waiters: std::sync::Mutex<std::collections::BTreeMap<u64, Instant>>,
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
    /// Arrival tickets of queued checkouts (see `GenState::waiters`).
    next_waiter: AtomicU64,
    closed: AtomicBool,
    id: u64,
    /// What new connections use now ([`Pool::set_connect`]; `config.connect` until
    /// then), for a forked child's fresh deadpool pool. Held only to clone or replace.
    connect: std::sync::Mutex<Arc<crate::config::ConnectParams>>,
    /// Sub-pools for `readonly` work (replicas), tried round-robin.
    replicas: Vec<Pool>,
    rr: AtomicUsize,
    /// A replica whose connect failed is skipped until this coarse instant (ms ticks).
    down_until_ms: AtomicU64,
    /// Background filling backs off while connecting fails (coarse ms).
    fill_retry_at_ms: AtomicU64,
    fill_backoff_ms: AtomicU64,
}

/// `PGPOOL_PASSWORD_COMMAND` as a provider: `sh -c command`, its standard output without
/// the trailing newline; a non-zero exit, no output or not finishing within `limit` is the
/// provider's error (naming the exit status and the first line of standard error).
fn command_provider(command: String, limit: Duration) -> PasswordProvider {
    Arc::new(move || {
        use std::io::Read;
        use std::process::{Command, Stdio};
        let mut child = Command::new("sh")
            .arg("-c")
            .arg(&command)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|e| format!("PGPOOL_PASSWORD_COMMAND could not start: {e}"))?;
        let mut out = child.stdout.take().expect("piped");
        let mut err = child.stderr.take().expect("piped");
        let reader = thread::spawn(move || {
            let (mut o, mut e) = (Vec::new(), Vec::new());
            let _ = out.read_to_end(&mut o);
            let _ = err.read_to_end(&mut e);
            (o, e)
        });
        let deadline = Instant::now() + limit.max(Duration::from_secs(1));
        let status = loop {
            match child.try_wait() {
                Ok(Some(s)) => break s,
                Ok(None) if Instant::now() < deadline => thread::sleep(Duration::from_millis(5)),
                Ok(None) => {
                    let _ = child.kill();
                    let _ = child.wait();
                    return Err(format!(
                        "PGPOOL_PASSWORD_COMMAND did not finish within {:.0} s",
                        limit.max(Duration::from_secs(1)).as_secs_f64()
                    ));
                }
                Err(e) => return Err(format!("PGPOOL_PASSWORD_COMMAND: {e}")),
            }
        };
        let (stdout, stderr) = reader.join().unwrap_or_default();
        if !status.success() {
            let first = String::from_utf8_lossy(&stderr);
            let first = first.lines().next().unwrap_or("").trim().to_string();
            return Err(format!(
                "PGPOOL_PASSWORD_COMMAND failed ({status}): {first}"
            ));
        }
        let mut pw = String::from_utf8(stdout).map_err(|_| {
            "PGPOOL_PASSWORD_COMMAND printed a password that is not UTF-8".to_string()
        })?;
        if pw.ends_with('\n') {
            pw.pop();
            if pw.ends_with('\r') {
                pw.pop();
            }
        }
        if pw.is_empty() {
            return Err("PGPOOL_PASSWORD_COMMAND printed nothing".into());
        }
        Ok(pw)
    })
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

impl Pool {
    /// Creates a pool. Returns at once: `min_size` connections are opened in the
    /// background (a database that is down is not an error here) — or, with
    /// [`PoolConfig::lazy_min`], only as checkouts need them, and kept once open.
    pub fn new(config: PoolConfig) -> Result<Pool> {
        Pool::build(config, None, false)
    }

    /// [`Pool::new`] with a password provider: called for every new connection (of the
    /// primary and of the replicas), its answer used as the password (rotating secrets,
    /// IAM tokens); an `Err` fails that connection attempt as a connection error naming
    /// the provider.
    pub fn with_password_provider(config: PoolConfig, provider: PasswordProvider) -> Result<Pool> {
        Pool::build(config, Some(provider), false)
    }

    fn build(
        config: PoolConfig,
        password: Option<PasswordProvider>,
        replica: bool,
    ) -> Result<Pool> {
        let password = password.or_else(|| {
            config
                .password_command
                .clone()
                .map(|cmd| command_provider(cmd, config.timeout))
        });
        runtime::register_fork_lock(runtime::ForkLock::PoolTable, lock_for_fork, None);
        let config = config.bound_durations()?;
        // Unusable TLS settings fail here, naming the setting, not at every connect.
        crate::tls::check(&config.connect)?;
        for r in &config.replicas {
            crate::tls::check(r)?;
        }
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
            epoch: AtomicU64::new(0),
            password: password.clone().map(Provider),
            expects_primary: !replica
                && !matches!(
                    config.connect.target_session_attrs,
                    crate::config::TargetSessionAttrs::ReadOnly
                        | crate::config::TargetSessionAttrs::Standby
                        | crate::config::TargetSessionAttrs::PreferStandby
                ),
        });
        let dp = build_dp(&config.connect, &shared, config.max_size, config.timeout);
        let mut replicas = Vec::with_capacity(config.replicas.len());
        for (i, r) in config.replicas.iter().enumerate() {
            let mut rc = config.clone();
            rc.connect = r.clone();
            rc.replicas = Vec::new();
            rc.min_size = config.replica_min_size.unwrap_or(config.min_size);
            rc.max_size = config.replica_max_size.unwrap_or(config.max_size);
            rc.name = Some(format!(
                "{}-replica{i}",
                config.name.as_deref().unwrap_or("pgpool")
            ));
            replicas.push(Pool::build(rc, password.clone(), true)?);
        }
        let connect = std::sync::Mutex::new(Arc::new(config.connect.clone()));
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
                waiters: Default::default(),
            })),
            config,
            shared,
            waiting: AtomicUsize::new(0),
            next_waiter: AtomicU64::new(0),
            closed: AtomicBool::new(false),
            id: NEXT_POOL_ID.fetch_add(1, Ordering::Relaxed),
            connect,
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
        // The settings in use (a parent's thread may have held their lock at the fork:
        // then the configured ones).
        let connect = match self.inner.connect.try_lock() {
            Ok(c) => c.clone(),
            Err(_) => Arc::new(self.inner.config.connect.clone()),
        };
        let fresh = Arc::new(GenState {
            gen,
            dp: build_dp(
                &connect,
                &self.inner.shared,
                self.inner.max_size.load(Ordering::Relaxed),
                self.inner.config.timeout,
            ),
            stop: (std::sync::Mutex::new(false), std::sync::Condvar::new()),
            waiters: Default::default(),
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
}

impl Pool {
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
            oldest_wait_ms: self
                .current()
                .waiters
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .values()
                .next()
                .map_or(0, |t| t.elapsed().as_millis() as u64),
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

    /// Retires every connection open now: idle ones close at once, checked-out ones when
    /// they come back (their users finish undisturbed); new ones replace them
    /// (`min_size` is refilled). Replicas too. Returns at once (see [`Pool::drain`]).
    pub fn retire_all(&self) {
        let epoch = self.inner.shared.epoch.fetch_add(1, Ordering::AcqRel) + 1;
        let removed = self.dp().retain(|c, _| c.epoch >= epoch).removed;
        let n = removed.len() as u64;
        drop(removed);
        self.inner
            .shared
            .counters
            .recycled_retired
            .fetch_add(n, Ordering::Relaxed);
        self.wake_maintenance();
        for r in &self.inner.replicas {
            r.retire_all();
        }
    }

    /// Drains the pool (deploys, password rotation, failovers): [`Pool::retire_all`],
    /// then waits up to `timeout` (`None`: without limit) for the checked-out
    /// connections of before to come back and close. Checkouts go on meanwhile, served by
    /// new connections. [`Error::Timeout`] when some are still out at the deadline (they
    /// retire when they come back all the same). A zero `timeout` does not wait.
    pub fn drain(&self, timeout: Option<Duration>) -> Result<()> {
        self.retire_all();
        if timeout.is_some_and(|t| t.is_zero()) {
            return Ok(());
        }
        let start = Instant::now();
        let deadline = timeout.map(|t| start + t.min(crate::config::MAX_DURATION));
        let mut pools = vec![self.clone()];
        pools.extend(self.inner.replicas.iter().cloned());
        loop {
            let left: usize = pools
                .iter()
                .map(|p| {
                    let epoch = p.inner.shared.epoch.load(Ordering::Acquire);
                    p.dp().manager().live.older_than(epoch)
                })
                .sum();
            if left == 0 {
                return Ok(());
            }
            if deadline.is_some_and(|d| Instant::now() >= d) {
                return Err(Error::Timeout {
                    timeout_secs: timeout.unwrap_or_default().as_secs_f64(),
                    size: left,
                    waiting: 0,
                    last_error: Some(format!(
                        "drain: {left} connection(s) checked out before it not returned yet"
                    )),
                });
            }
            thread::sleep(Duration::from_millis(2));
        }
    }

    /// Changes what new connections of the primary use (host, user, password, ...; the
    /// replicas keep theirs) and retires the connections open now as they come back
    /// ([`Pool::retire_all`]), for credentials rotated without a restart.
    pub fn set_connect(&self, params: crate::config::ConnectParams) -> Result<()> {
        crate::tls::check(&params)?;
        let params = Arc::new(params);
        *self.inner.connect.lock().unwrap_or_else(|e| e.into_inner()) = params.clone();
        *self.dp().manager().params.lock() = Arc::new(bounded_connect(
            (*params).clone(),
            self.inner.config.timeout,
        ));
        self.retire_all();
        Ok(())
    }

    /// [`Pool::set_connect`] with only the user and/or the password changed (`None`: kept).
    pub fn set_credentials(&self, user: Option<String>, password: Option<String>) -> Result<()> {
        let mut params = (*self.connect_params()).clone();
        if let Some(u) = user {
            params.user = u;
        }
        if let Some(p) = password {
            params.password = Some(p);
        }
        self.set_connect(params)
    }

    /// The connection settings new connections of the primary use now.
    pub fn connect_params(&self) -> Arc<crate::config::ConnectParams> {
        self.inner
            .connect
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
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
