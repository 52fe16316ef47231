//! A checked-out connection and its way back to the pool (rollback, session reset,
//! discard of a broken connection), with the leak registry.

use std::ops::{Deref, DerefMut};
use std::sync::Arc;
use std::time::Duration;

use deadpool::managed::Object;
use parking_lot::Mutex;

use super::manager::{Manager, Shared};
use super::Coarse;
use crate::conn::Connection;
use crate::stats::Counters;

#[derive(Default, Debug)]
pub(super) struct LeakRegistry {
    pub(super) next: u64,
    pub(super) entries: std::collections::HashMap<u64, LeakEntry>,
}

#[derive(Debug)]
pub(super) struct LeakEntry {
    pub(super) acquired: Coarse,
    pub(super) context: Option<String>,
    pub(super) warned: bool,
}

/// A checked-out connection. Dropping it returns it to the pool: an open transaction is
/// rolled back, changed session state reset, a broken connection discarded.
pub struct PooledConnection {
    pub(super) obj: Option<Object<Manager>>,
    pub(super) shared: Arc<Shared>,
    pub(super) acquired: Coarse,
    /// Registry entry when `leak_threshold` is set (the registry of the generation it was
    /// checked out in).
    pub(super) leak: Option<(u64, Arc<Mutex<LeakRegistry>>)>,
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

    pub(super) fn give_back(&mut self, close: bool) -> bool {
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
        if !close
            && matches!(
                obj.conn.transaction_status(),
                crate::conn::TxStatus::InTransaction | crate::conn::TxStatus::InError
            )
        {
            Counters::inc(&c.returns_in_transaction);
        }
        let retired = obj.epoch < self.shared.epoch.load(std::sync::atomic::Ordering::Acquire);
        if retired && !close {
            Counters::inc(&c.recycled_retired);
        }
        let mut ok = !close && !retired && obj.conn.reset().is_ok();
        let mut role_retired = false;
        if obj.conn.take_role_suspect() && self.shared.expects_primary && ok {
            // A write was refused as read-only with nothing asking for it: is the server
            // a standby now (a failover behind a pooler or a virtual IP)? Then every
            // connection of before is retired (they reached the same server).
            let standby = match obj.conn.simple_query("SELECT pg_is_in_recovery()", None) {
                Ok(r) => r.get(0, 0) != Some(b"f".as_slice()),
                Err(_) => true,
            };
            if standby {
                ok = false;
                role_retired = true;
                Counters::inc(&c.retired_role_change);
                self.shared
                    .epoch
                    .fetch_add(1, std::sync::atomic::Ordering::AcqRel);
                log::warn!(
                    "a pool connection's server is in recovery (a failover?): retiring the pool's connections"
                );
            }
        }
        // After the reset: its rollback of an open transaction counts.
        let xacts = obj.conn.take_xact_counts();
        c.record_hold(now.duration_since(self.acquired).as_micros(), xacts);
        if !ok {
            if !close && !retired && !role_retired {
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
