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
}

/// deadpool's manager: opens connections on the calling thread (blocking), validates
/// them at checkout.
///
/// One per fork generation (see [`GenState`]): what it guards with locks (the last
/// connection error, the leak registry) is this process's own.
#[derive(Debug)]
pub struct Manager {
    pub(super) params: ConnectParams,
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

pub(super) fn build_dp(
    params: &ConnectParams,
    shared: &Arc<Shared>,
    max: usize,
    timeout: Duration,
) -> DpPool {
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
