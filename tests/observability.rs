//! Stats and Prometheus exposition.
mod common;

use std::time::Duration;

#[test]
fn prometheus_exposition_has_gauges_counters_and_histogram() {
    let mut o = common::overrides(1, 2);
    o.name = Some("obs".into());
    let pool = common::pool_on(&common::url(), &o);
    let a = pool.get(None).unwrap();
    let b = pool.get(None).unwrap();
    assert!(pool.get(Some(Duration::from_millis(50))).is_err());
    drop((a, b));
    let text = pool.prometheus();
    for m in [
        "pgpool_pool_size{pool=\"obs\"} 2",
        "pgpool_pool_in_use{pool=\"obs\"} 0",
        "pgpool_requests_waiting{pool=\"obs\"} 0",
        "pgpool_requests_total{pool=\"obs\"} 3",
        "pgpool_requests_timeouts_total{pool=\"obs\"} 1",
        "pgpool_connections_created_total{pool=\"obs\"} 2",
        "# TYPE pgpool_acquire_wait_seconds histogram",
        "pgpool_acquire_wait_seconds_bucket{pool=\"obs\",le=\"+Inf\"} 3",
        "pgpool_acquire_wait_seconds_count{pool=\"obs\"} 3",
    ] {
        assert!(text.contains(m), "missing {m:?} in\n{text}");
    }
    // cumulative buckets never decrease
    let counts: Vec<u64> = text
        .lines()
        .filter(|l| l.starts_with("pgpool_acquire_wait_seconds_bucket"))
        .map(|l| l.rsplit(' ').next().unwrap().parse().unwrap())
        .collect();
    assert!(counts.windows(2).all(|w| w[0] <= w[1]), "{counts:?}");
    // the timed-out wait (50 ms) is not in the 10 ms bucket but is in the 100 ms one
    assert!(text.contains("le=\"0.01\"} 2"), "{text}");
    assert!(text.contains("le=\"0.1\"} 3"), "{text}");
}

#[test]
fn dropped_connections_are_returned_and_counted() {
    let mut o = common::overrides(1, 1);
    o.leak_threshold = Some(Some(Duration::from_millis(100)));
    let pool = common::pool_on(&common::url(), &o);
    let c = pool.get(None).unwrap();
    assert!(c.tracks_leaks());
    c.set_leak_context(|| "test stack".into());
    drop(c); // not release(): an implicit return
    let c = pool.get(Some(Duration::from_secs(1))).unwrap();
    assert!(c.release());
    let s = pool.stats();
    assert_eq!(s.returns_implicit, 1, "{s:?}");
    assert_eq!(s.pool_size, 1);
}
