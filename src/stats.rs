//! Pool statistics (README, "Python" and "C" list them): counters kept with atomics, read as a plain snapshot.
#![forbid(unsafe_code)]

use std::sync::atomic::{AtomicU64, Ordering};

/// A snapshot of a pool's gauges and counters. Never contains a password.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Stats {
    /// `min_size`
    pub pool_min: usize,
    /// `max_size`
    pub pool_max: usize,
    /// Connections open (idle + in use).
    pub pool_size: usize,
    /// Idle connections.
    pub pool_available: usize,
    /// Connections checked out.
    pub in_use: usize,
    /// Clients waiting for a connection now.
    pub requests_waiting: usize,
    /// Checkouts requested since creation.
    pub requests_num: u64,
    /// Checkouts that had to wait.
    pub requests_queued: u64,
    /// Total time spent waiting, ms.
    pub requests_wait_ms: u64,
    /// Total time spent waiting, µs (the C API's `wait_us_total`).
    pub requests_wait_us: u64,
    /// Checkouts that timed out.
    pub requests_timeouts: u64,
    /// Checkouts rejected by `max_waiting`.
    pub requests_rejected: u64,
    /// The longest wait since the pool was created, ms: a high-water mark that never
    /// goes down (also as `wait_high_water_ms`). For alerting use `oldest_wait_ms`.
    pub max_wait_ms: u64,
    /// How long the oldest client waiting now has waited, ms (0 when nobody waits):
    /// PgBouncer's `maxwait`.
    pub oldest_wait_ms: u64,
    /// Total time connections were held, ms.
    pub usage_ms: u64,
    /// Total time connections were held, µs (the C API's `hold_us_total`).
    pub usage_us: u64,
    /// Connections opened.
    pub connections_num: u64,
    /// Failed connection attempts.
    pub connections_errors: u64,
    /// Connections found dead (killed backends, server restarts, network errors).
    pub connections_lost: u64,
    /// Connections returned broken or that failed their reset.
    pub returns_bad: u64,
    /// Connections closed at the end of their lifetime.
    pub recycled_lifetime: u64,
    /// Connections closed after `max_idle`.
    pub recycled_idle: u64,
    /// Connections retired by a drain or a change of connection settings (closed when
    /// found idle or given back).
    pub recycled_retired: u64,
    /// Connect-time histogram (a new connection's TCP/TLS handshake, startup and
    /// authentication): counts of connects <= each bound in [`WAIT_BUCKETS_MS`]
    /// (cumulative), the last entry +Inf; its count is `connections_num`.
    pub create_buckets: Vec<u64>,
    /// Total time spent opening connections, µs.
    pub create_us: u64,
    /// Connections retired because their server turned out to be a standby (a write
    /// refused as read-only, then `pg_is_in_recovery()` true): the pool's other
    /// connections of before retire with them.
    pub retired_role_change: u64,
    /// Connections dropped by their user without being returned (returned anyway).
    pub returns_implicit: u64,
    /// Acquire-wait histogram: counts of waits <= each bound in [`WAIT_BUCKETS_MS`]
    /// (cumulative, as Prometheus expects), the last entry is +Inf.
    pub wait_buckets: Vec<u64>,
    /// Checkouts given back (returned, discarded or dropped): the count of the hold
    /// histogram.
    pub returns_num: u64,
    /// Checkout-hold histogram (checkout to return, PgBouncer's `avg_xact_time` for a
    /// pool whose users hold a connection per transaction): counts of holds <= each bound
    /// in [`HOLD_BUCKETS_MS`] (cumulative), the last entry is +Inf; its sum is
    /// `usage_ms`.
    pub hold_buckets: Vec<u64>,
    /// Transaction blocks on pool connections that ended committed (PgBouncer's
    /// `xact_count` is their sum with `xact_rolled_back`).
    pub xact_committed: u64,
    /// Transaction blocks that ended rolled back: by the user, by a `COMMIT` of a failed
    /// transaction, or by the pool at return.
    pub xact_rolled_back: u64,
    /// Connections returned with a transaction still open (the pool rolled it back).
    pub returns_in_transaction: u64,
}

impl Stats {
    /// `in_use / pool_max`.
    pub fn utilization(&self) -> f64 {
        if self.pool_max == 0 {
            0.0
        } else {
            self.in_use as f64 / self.pool_max as f64
        }
    }
}

impl Stats {
    /// Prometheus text exposition (version 0.0.4) of these stats, with `# HELP` and
    /// `# TYPE` lines, labelled `pool="<name>"`.
    pub fn prometheus(&self, pool: &str) -> String {
        Stats::prometheus_many(&[(pool, self)])
    }

    /// The exposition of several pools (a pool and its replicas) in one text: each
    /// family's `# HELP`/`# TYPE` once, then its samples for every pool, as the format
    /// requires (a family's lines form one group).
    pub fn prometheus_many(pools: &[(&str, &Stats)]) -> String {
        let labels: Vec<String> = pools
            .iter()
            .map(|(name, _)| {
                name.replace('\\', "\\\\")
                    .replace('"', "\\\"")
                    .replace('\n', "\\n")
            })
            .collect();
        let metrics: Vec<_> = pools.iter().map(|(_, s)| s.metrics()).collect();
        let mut out = String::with_capacity(2048 + 2048 * pools.len());
        let Some(first) = metrics.first() else {
            return out;
        };
        for (i, (name, kind, help, _)) in first.iter().enumerate() {
            out.push_str(&format!("# HELP {name} {help}\n# TYPE {name} {kind}\n"));
            for (label, m) in labels.iter().zip(&metrics) {
                out.push_str(&format!("{name}{{pool=\"{label}\"}} {}\n", m[i].3));
            }
        }
        fn waits(s: &Stats) -> (&[u64], u64) {
            (&s.wait_buckets, s.requests_wait_us)
        }
        fn holds(s: &Stats) -> (&[u64], u64) {
            (&s.hold_buckets, s.usage_us)
        }
        fn creates(s: &Stats) -> (&[u64], u64) {
            (&s.create_buckets, s.create_us)
        }
        type Of = fn(&Stats) -> (&[u64], u64);
        let histograms: [(&str, &str, &[f64], Of); 3] = [
            (
                "pgpool_acquire_wait_seconds",
                "Time spent waiting for a connection.",
                &WAIT_BUCKETS_MS,
                waits,
            ),
            (
                "pgpool_hold_seconds",
                "How long connections were held, checkout to return.",
                &HOLD_BUCKETS_MS,
                holds,
            ),
            (
                "pgpool_connect_seconds",
                "How long opening a connection took (handshake, startup, authentication).",
                &WAIT_BUCKETS_MS,
                creates,
            ),
        ];
        for (name, help, bounds, of) in histograms {
            out.push_str(&format!("# HELP {name} {help}\n# TYPE {name} histogram\n"));
            for (label, (_, s)) in labels.iter().zip(pools) {
                let (buckets, sum_us) = of(s);
                for (i, b) in bounds.iter().enumerate() {
                    let c = buckets.get(i).copied().unwrap_or(0);
                    out.push_str(&format!(
                        "{name}_bucket{{pool=\"{label}\",le=\"{}\"}} {c}\n",
                        b / 1000.0
                    ));
                }
                let total = buckets.last().copied().unwrap_or(0);
                out.push_str(&format!(
                    "{name}_bucket{{pool=\"{label}\",le=\"+Inf\"}} {total}\n"
                ));
                out.push_str(&format!(
                    "{name}_sum{{pool=\"{label}\"}} {}\n",
                    sum_us as f64 / 1e6
                ));
                out.push_str(&format!("{name}_count{{pool=\"{label}\"}} {total}\n"));
            }
        }
        out
    }

    fn metrics(&self) -> Vec<(&'static str, &'static str, &'static str, f64)> {
        vec![
            (
                "pgpool_pool_size",
                "gauge",
                "Connections open (idle and in use).",
                self.pool_size as f64,
            ),
            (
                "pgpool_pool_idle",
                "gauge",
                "Idle connections.",
                self.pool_available as f64,
            ),
            (
                "pgpool_pool_in_use",
                "gauge",
                "Connections checked out.",
                self.in_use as f64,
            ),
            (
                "pgpool_requests_waiting",
                "gauge",
                "Clients waiting for a connection.",
                self.requests_waiting as f64,
            ),
            (
                "pgpool_oldest_wait_seconds",
                "gauge",
                "How long the oldest client waiting now has waited (PgBouncer's maxwait).",
                self.oldest_wait_ms as f64 / 1000.0,
            ),
            (
                "pgpool_wait_high_water_seconds",
                "gauge",
                "The longest wait for a connection since the pool was created.",
                self.max_wait_ms as f64 / 1000.0,
            ),
            (
                "pgpool_pool_min",
                "gauge",
                "Configured min_size.",
                self.pool_min as f64,
            ),
            (
                "pgpool_pool_max",
                "gauge",
                "Configured max_size.",
                self.pool_max as f64,
            ),
            (
                "pgpool_utilization",
                "gauge",
                "in_use / max_size.",
                self.utilization(),
            ),
            (
                "pgpool_requests_total",
                "counter",
                "Checkouts requested.",
                self.requests_num as f64,
            ),
            (
                "pgpool_requests_queued_total",
                "counter",
                "Checkouts that had to wait.",
                self.requests_queued as f64,
            ),
            (
                "pgpool_requests_timeouts_total",
                "counter",
                "Checkouts that timed out.",
                self.requests_timeouts as f64,
            ),
            (
                "pgpool_requests_rejected_total",
                "counter",
                "Checkouts rejected by max_waiting.",
                self.requests_rejected as f64,
            ),
            (
                "pgpool_connections_created_total",
                "counter",
                "Connections opened.",
                self.connections_num as f64,
            ),
            (
                "pgpool_connections_errors_total",
                "counter",
                "Failed connection attempts.",
                self.connections_errors as f64,
            ),
            (
                "pgpool_connections_lost_total",
                "counter",
                "Connections found dead.",
                self.connections_lost as f64,
            ),
            (
                "pgpool_returns_bad_total",
                "counter",
                "Connections returned broken or failing their reset.",
                self.returns_bad as f64,
            ),
            (
                "pgpool_recycled_lifetime_total",
                "counter",
                "Connections closed at max_lifetime.",
                self.recycled_lifetime as f64,
            ),
            (
                "pgpool_recycled_idle_total",
                "counter",
                "Connections closed after max_idle.",
                self.recycled_idle as f64,
            ),
            (
                "pgpool_recycled_retired_total",
                "counter",
                "Connections retired by a drain or new connection settings.",
                self.recycled_retired as f64,
            ),
            (
                "pgpool_retired_role_change_total",
                "counter",
                "Connections retired because their server became a standby (failover).",
                self.retired_role_change as f64,
            ),
            (
                "pgpool_returns_implicit_total",
                "counter",
                "Connections dropped by their user without being returned (returned anyway).",
                self.returns_implicit as f64,
            ),
            (
                "pgpool_usage_seconds_total",
                "counter",
                "Time connections were held.",
                self.usage_ms as f64 / 1000.0,
            ),
            (
                "pgpool_xact_committed_total",
                "counter",
                "Transaction blocks on pool connections that ended committed.",
                self.xact_committed as f64,
            ),
            (
                "pgpool_xact_rolled_back_total",
                "counter",
                "Transaction blocks that ended rolled back (by the user, a failed COMMIT, or the pool at return).",
                self.xact_rolled_back as f64,
            ),
            (
                "pgpool_returns_in_transaction_total",
                "counter",
                "Connections returned with a transaction open (rolled back by the pool).",
                self.returns_in_transaction as f64,
            ),
        ]
    }
}

/// Upper bounds (ms) of the checkout-hold histogram buckets.
pub const HOLD_BUCKETS_MS: [f64; 12] = [
    1.0, 5.0, 10.0, 50.0, 100.0, 500.0, 1000.0, 5000.0, 10000.0, 30000.0, 60000.0, 300000.0,
];

/// Upper bounds (ms) of the acquire-wait histogram buckets.
pub const WAIT_BUCKETS_MS: [f64; 10] =
    [0.1, 0.5, 1.0, 5.0, 10.0, 50.0, 100.0, 500.0, 1000.0, 5000.0];

/// The index of the bucket of `bounds` (ms) that `us` falls in (`bounds.len()`: +Inf).
fn bucket(bounds: &[f64], us: u64) -> usize {
    let ms = us as f64 / 1000.0;
    bounds.iter().position(|b| ms <= *b).unwrap_or(bounds.len())
}

/// Per-bucket counts as Prometheus's cumulative counts, starting from `base`.
fn cumulative(base: u64, buckets: &[AtomicU64]) -> Vec<u64> {
    let mut acc = base;
    buckets
        .iter()
        .map(|b| {
            acc += b.load(Ordering::Relaxed);
            acc
        })
        .collect()
}

/// The live counters of a pool.
#[derive(Debug, Default)]
pub(crate) struct Counters {
    pub(crate) requests_num: AtomicU64,
    pub(crate) requests_queued: AtomicU64,
    pub(crate) requests_wait_us: AtomicU64,
    pub(crate) requests_timeouts: AtomicU64,
    pub(crate) requests_rejected: AtomicU64,
    pub(crate) max_wait_us: AtomicU64,
    pub(crate) usage_us: AtomicU64,
    pub(crate) connections_num: AtomicU64,
    pub(crate) connections_errors: AtomicU64,
    pub(crate) connections_lost: AtomicU64,
    pub(crate) returns_bad: AtomicU64,
    pub(crate) recycled_lifetime: AtomicU64,
    pub(crate) recycled_idle: AtomicU64,
    pub(crate) recycled_retired: AtomicU64,
    pub(crate) retired_role_change: AtomicU64,
    pub(crate) returns_implicit: AtomicU64,
    pub(crate) wait_buckets: [AtomicU64; 11],
    pub(crate) hold_buckets: [AtomicU64; 13],
    pub(crate) create_buckets: [AtomicU64; 11],
    pub(crate) create_us: AtomicU64,
    pub(crate) xact_committed: AtomicU64,
    pub(crate) xact_rolled_back: AtomicU64,
    pub(crate) returns_in_transaction: AtomicU64,
}

impl Counters {
    #[inline]
    pub(crate) fn inc(c: &AtomicU64) {
        c.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn record_wait(&self, us: u64) {
        self.requests_wait_us.fetch_add(us, Ordering::Relaxed);
        self.max_wait_us.fetch_max(us, Ordering::Relaxed);
        self.wait_buckets[bucket(&WAIT_BUCKETS_MS, us)].fetch_add(1, Ordering::Relaxed);
    }

    /// A connection opened in `us` microseconds.
    pub(crate) fn record_create(&self, us: u64) {
        self.create_us.fetch_add(us, Ordering::Relaxed);
        self.create_buckets[bucket(&WAIT_BUCKETS_MS, us)].fetch_add(1, Ordering::Relaxed);
    }

    /// A checkout given back after `us` microseconds, with the transactions it ended.
    pub(crate) fn record_hold(&self, us: u64, xacts: crate::conn::XactCounts) {
        self.usage_us.fetch_add(us, Ordering::Relaxed);
        self.hold_buckets[bucket(&HOLD_BUCKETS_MS, us)].fetch_add(1, Ordering::Relaxed);
        if xacts.committed > 0 {
            self.xact_committed
                .fetch_add(xacts.committed, Ordering::Relaxed);
        }
        if xacts.rolled_back > 0 {
            self.xact_rolled_back
                .fetch_add(xacts.rolled_back, Ordering::Relaxed);
        }
    }

    pub(crate) fn fill(&self, s: &mut Stats) {
        let g = |c: &AtomicU64| c.load(Ordering::Relaxed);
        s.requests_num = g(&self.requests_num);
        s.requests_queued = g(&self.requests_queued);
        s.requests_wait_us = g(&self.requests_wait_us);
        s.requests_wait_ms = s.requests_wait_us / 1000;
        s.requests_timeouts = g(&self.requests_timeouts);
        s.requests_rejected = g(&self.requests_rejected);
        s.max_wait_ms = g(&self.max_wait_us) / 1000;
        s.usage_us = g(&self.usage_us);
        s.usage_ms = s.usage_us / 1000;
        s.connections_num = g(&self.connections_num);
        s.connections_errors = g(&self.connections_errors);
        s.connections_lost = g(&self.connections_lost);
        s.returns_bad = g(&self.returns_bad);
        s.recycled_lifetime = g(&self.recycled_lifetime);
        s.recycled_idle = g(&self.recycled_idle);
        s.recycled_retired = g(&self.recycled_retired);
        s.retired_role_change = g(&self.retired_role_change);
        s.returns_implicit = g(&self.returns_implicit);
        s.xact_committed = g(&self.xact_committed);
        s.xact_rolled_back = g(&self.xact_rolled_back);
        s.returns_in_transaction = g(&self.returns_in_transaction);
        s.hold_buckets = cumulative(0, &self.hold_buckets);
        s.create_buckets = cumulative(0, &self.create_buckets);
        s.create_us = g(&self.create_us);
        s.returns_num = s.hold_buckets.last().copied().unwrap_or(0);
        // Waits that never queued count in the first bucket.
        let fast = s
            .requests_num
            .saturating_sub(s.requests_queued)
            .saturating_sub(s.requests_rejected);
        s.wait_buckets = cumulative(fast, &self.wait_buckets);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exposition_groups_each_family_across_pools() {
        let a = Stats {
            pool_size: 2,
            returns_implicit: 1,
            wait_buckets: (1..=11).collect(),
            ..Default::default()
        };
        let b = Stats {
            pool_size: 3,
            ..Default::default()
        };
        let text = Stats::prometheus_many(&[("p", &a), ("p-replica0", &b)]);
        // Each sample follows the `# TYPE` of its own family, and each family appears once.
        let mut family = "";
        let mut seen = std::collections::HashSet::new();
        for line in text.lines() {
            if let Some(rest) = line.strip_prefix("# TYPE ") {
                family = rest.split(' ').next().unwrap();
                assert!(seen.insert(family), "{family} twice in\n{text}");
            } else if !line.starts_with('#') {
                let name = line.split('{').next().unwrap();
                let suffix = name.strip_prefix(family);
                assert!(
                    matches!(suffix, Some("" | "_bucket" | "_sum" | "_count")),
                    "{line:?} outside family {family}"
                );
            }
        }
        assert!(text
            .contains("pgpool_pool_size{pool=\"p\"} 2\npgpool_pool_size{pool=\"p-replica0\"} 3\n"));
        assert!(text.contains("pgpool_returns_implicit_total{pool=\"p\"} 1\n"));
        assert!(text.contains("pgpool_acquire_wait_seconds_count{pool=\"p\"} 11\n"));
        assert!(text.contains("pgpool_acquire_wait_seconds_count{pool=\"p-replica0\"} 0\n"));
    }
}
