//! Our deadpool [`Manager`]: opening a connection (within the acquire deadline), recycling
//! one on checkout (pre-ping, lifetime, idle), and the [`Conn`] wrapper with its bookkeeping.

use std::sync::Arc;
use std::time::Duration;

use deadpool::managed;
use deadpool::managed::{Metrics, RecycleError, RecycleResult};
use parking_lot::Mutex;

use super::checkout::{ACQUIRE_DEADLINE, NO_CREATE, ON_WORKER};
use super::pooled::LeakRegistry;
use super::{coarse, Coarse, DpPool};
use crate::config::ConnectParams;
use crate::conn::Connection;
use crate::error::{Error, Result};
use crate::stats::Counters;

/// A pooled server connection with the pool's bookkeeping.
#[derive(Debug)]
pub struct Conn {
    // Boxed: deadpool moves its objects by value through its futures and slots; a
    // pointer keeps the checkout path free of large copies.
    pub(super) conn: Box<Connection>,
    /// Replace after this instant (lifetime minus jitter).
    pub(super) expires: Option<Coarse>,
    /// When it last went back to the pool.
    pub(super) returned: Coarse,
    /// The pool's epoch it was opened in: a connection of an older epoch (before a
    /// [`drain`](super::Pool::drain) or a change of connection settings) is retired
    /// instead of handed out or taken back.
    pub(super) epoch: u64,
    /// Counts it among its generation's live connections of its epoch.
    pub(super) _live: Live,
}

/// The live connections of one fork generation, by epoch (what `drain` waits on).
#[derive(Debug, Default)]
pub(super) struct EpochTally(parking_lot::Mutex<std::collections::BTreeMap<u64, usize>>);

impl EpochTally {
    /// Live connections of epochs before `epoch`.
    pub(super) fn older_than(&self, epoch: u64) -> usize {
        self.0.lock().range(..epoch).map(|(_, n)| *n).sum()
    }
}

/// One live connection in an [`EpochTally`]; uncounted when dropped.
#[derive(Debug)]
pub(super) struct Live {
    tally: Arc<EpochTally>,
    epoch: u64,
}

impl Live {
    fn new(tally: &Arc<EpochTally>, epoch: u64) -> Live {
        *tally.0.lock().entry(epoch).or_insert(0) += 1;
        Live {
            tally: tally.clone(),
            epoch,
        }
    }
}

impl Drop for Live {
    fn drop(&mut self) {
        let mut m = self.tally.0.lock();
        if let Some(n) = m.get_mut(&self.epoch) {
            *n -= 1;
            if *n == 0 {
                m.remove(&self.epoch);
            }
        }
    }
}

/// Supplies the password of each new connection (a secrets manager, an IAM token): called
/// on the connecting thread; an `Err` is the reason, reported as a connection error
/// naming the provider (it must not contain the secret).
pub type PasswordProvider =
    Arc<dyn Fn() -> std::result::Result<String, String> + Send + Sync + 'static>;

/// deadpool's manager: opens connections on the calling thread (blocking), validates
/// them at checkout.
///
/// One per fork generation (see [`GenState`]): what it guards with locks (the last
/// connection error, the leak registry) is this process's own.
#[derive(Debug)]
pub struct Manager {
    /// What new connections use: replaced by [`set_connect`](super::Pool::set_connect).
    pub(super) params: Mutex<Arc<ConnectParams>>,
    /// Live connections by epoch.
    pub(super) live: Arc<EpochTally>,
    pub(super) shared: Arc<Shared>,
    pub(super) last_error: Mutex<Option<String>>,
    /// Checked-out connections, tracked only when `leak_threshold` is set.
    pub(super) leaks: Arc<Mutex<LeakRegistry>>,
}

#[derive(Debug)]
pub(super) struct Shared {
    pub(super) counters: Counters,
    pub(super) max_lifetime: Option<Duration>,
    pub(super) pre_ping: bool,
    pub(super) pre_ping_window: Duration,
    pub(super) command_timeout: Option<Duration>,
    /// The current epoch (see [`Conn::epoch`]).
    pub(super) epoch: std::sync::atomic::AtomicU64,
    /// Called for each new connection's password, if set.
    pub(super) password: Option<Provider>,
    /// A pool for writes (not a replica's, not `target_session_attrs` read-only/standby):
    /// a connection whose server turned out to be a standby is retired, with the rest.
    pub(super) expects_primary: bool,
}

/// A [`PasswordProvider`] in [`Shared`] (printed as whether there is one).
#[derive(Clone)]
pub(super) struct Provider(pub(super) PasswordProvider);

impl std::fmt::Debug for Provider {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("PasswordProvider")
    }
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
        // The epoch first: a connection opened with settings older than the epoch's
        // would otherwise pass for a new one.
        let epoch = self.shared.epoch.load(std::sync::atomic::Ordering::Acquire);
        let connect = || {
            let mut params = self.params.lock().clone();
            if let Some(provide) = &self.shared.password {
                let pw = (provide.0)().map_err(|why| {
                    Error::Connection(format!("the password provider failed: {why}"))
                })?;
                Arc::make_mut(&mut params).password = Some(pw);
            }
            Connection::connect_until(&params, until)
        };
        let started = std::time::Instant::now();
        let connected = if ON_WORKER.with(|w| w.get()) {
            tokio::task::block_in_place(connect)
        } else {
            connect()
        };
        match connected {
            Ok(mut conn) => {
                conn.set_read_deadline(self.shared.command_timeout);
                Counters::inc(&self.shared.counters.connections_num);
                self.shared
                    .counters
                    .record_create(started.elapsed().as_micros() as u64);
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
                    epoch,
                    _live: Live::new(&self.live, epoch),
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
        if c.epoch < self.shared.epoch.load(std::sync::atomic::Ordering::Acquire) {
            Counters::inc(&self.shared.counters.recycled_retired);
            return Err(RecycleError::message("retired (drain or new settings)"));
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

/// `params` as the pool connects with them: connecting runs on the thread that asked for
/// a connection, so without a DSN `connect_timeout` it must still not outlive the acquire
/// `timeout` (libpq's default would wait for the OS, minutes on a black-holed host).
pub(super) fn bounded_connect(mut params: ConnectParams, timeout: Duration) -> ConnectParams {
    if params.connect_timeout.is_none() {
        params.connect_timeout = Some(timeout.max(Duration::from_millis(100)));
    }
    params
}

pub(super) fn build_dp(
    params: &ConnectParams,
    shared: &Arc<Shared>,
    max: usize,
    timeout: Duration,
) -> DpPool {
    managed::Pool::builder(Manager {
        params: Mutex::new(Arc::new(bounded_connect(params.clone(), timeout))),
        live: Arc::default(),
        shared: shared.clone(),
        last_error: Mutex::new(None),
        leaks: Arc::default(),
    })
    .max_size(max)
    .runtime(deadpool::Runtime::Tokio1)
    .build()
    .expect("deadpool builder with a runtime cannot fail")
}
