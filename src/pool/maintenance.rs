//! The maintenance thread: keeps `min_size` open, reaps connections past their lifetime
//! or idle too long, warns about leaked checkouts.

use std::sync::atomic::Ordering;
use std::sync::{Arc, Weak};
use std::time::Duration;

use deadpool::managed::{PoolError, Timeouts};
use futures_util::FutureExt;

use super::{coarse, coarse_ms, Coarse, DpPool, GenState, PoolInner};
use crate::runtime;
use crate::stats::Counters;

/// How often the maintenance thread looks at the pool.
pub(super) const MAINTENANCE_INTERVAL: Duration = Duration::from_millis(250);

pub(super) struct ScopeGuard<F: FnMut()>(F);
impl<F: FnMut()> Drop for ScopeGuard<F> {
    fn drop(&mut self) {
        (self.0)()
    }
}
pub(super) fn scopeguard<F: FnMut()>(f: F) -> ScopeGuard<F> {
    ScopeGuard(f)
}

/// Opens connections (non-blocking checkouts) until `min_size` are open.
/// Returns false when a connection attempt failed.
pub(super) fn fill_min(inner: &PoolInner, dp: &DpPool) -> bool {
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

pub(super) fn maintenance(weak: Weak<PoolInner>, st: Arc<GenState>) {
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
