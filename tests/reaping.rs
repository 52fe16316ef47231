//! min_size kept, max_lifetime (with jitter) and max_idle reaping.
mod common;

use std::thread;
use std::time::{Duration, Instant};

fn wait_for(what: &str, limit: Duration, mut f: impl FnMut() -> bool) {
    let t = Instant::now();
    while !f() {
        assert!(t.elapsed() < limit, "timed out waiting for {what}");
        thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn min_size_is_opened_in_the_background() {
    let pool = common::pool(3, 5);
    wait_for("3 connections", Duration::from_secs(5), || {
        pool.stats().pool_size >= 3
    });
    assert_eq!(pool.stats().in_use, 0);
}

#[test]
fn lifetime_replaces_idle_connections_never_checked_out_ones() {
    let mut o = common::overrides(2, 4);
    o.max_lifetime = Some(Some(Duration::from_millis(600)));
    let pool = common::pool_on(&common::url(), &o);
    let mut held = pool.get(None).unwrap();
    let held_pid = held.backend_pid();
    wait_for("lifetime recycling", Duration::from_secs(5), || {
        pool.stats().recycled_lifetime >= 1
    });
    // The checked-out connection was not touched and still works.
    assert_eq!(common::scalar(&mut held, "SELECT 1").as_deref(), Some("1"));
    assert_eq!(held.backend_pid(), held_pid);
    drop(held);
    // Once returned past its lifetime, it is replaced rather than handed out again.
    wait_for("replacement", Duration::from_secs(5), || {
        let c = pool.get(None).unwrap();
        c.backend_pid() != held_pid
    });
    wait_for("min_size restored", Duration::from_secs(5), || {
        pool.stats().pool_size >= 2
    });
}

#[test]
fn idle_connections_above_min_close_after_max_idle() {
    let mut o = common::overrides(1, 4);
    o.max_idle = Some(Some(Duration::from_millis(400)));
    let pool = common::pool_on(&common::url(), &o);
    let cs: Vec<_> = (0..4).map(|_| pool.get(None).unwrap()).collect();
    assert_eq!(pool.stats().pool_size, 4);
    drop(cs);
    wait_for("idle reaping", Duration::from_secs(5), || {
        pool.stats().pool_size == 1
    });
    assert_eq!(pool.stats().recycled_idle, 3);
    // and stays at min_size
    thread::sleep(Duration::from_millis(800));
    assert_eq!(pool.stats().pool_size, 1);
}

#[test]
fn lazy_min_opens_nothing_at_creation_and_keeps_min_size_once_reached() {
    let mut o = common::overrides(3, 5);
    o.lazy_min = Some(true);
    o.max_idle = Some(Some(Duration::from_millis(300)));
    let pool = common::pool_on(&common::url(), &o);
    // Eager pools open min_size within a maintenance round (250 ms); a lazy one opens
    // nothing until asked.
    thread::sleep(Duration::from_millis(900));
    assert_eq!(
        pool.stats().pool_size,
        0,
        "lazy_min opened connections at creation"
    );
    assert_eq!(pool.stats().connections_num, 0);
    // One checkout opens one connection, not min_size.
    drop(pool.get(None).unwrap());
    thread::sleep(Duration::from_millis(600));
    assert_eq!(pool.stats().pool_size, 1);
    // A burst to 5: the two above min_size close after max_idle, min_size stays.
    let cs: Vec<_> = (0..5).map(|_| pool.get(None).unwrap()).collect();
    assert_eq!(pool.stats().pool_size, 5);
    drop(cs);
    wait_for(
        "idle reaping down to min_size",
        Duration::from_secs(5),
        || pool.stats().pool_size == 3,
    );
    thread::sleep(Duration::from_millis(900));
    assert_eq!(
        pool.stats().pool_size,
        3,
        "lazy_min must keep min_size once reached"
    );
    assert_eq!(pool.stats().recycled_idle, 2);
    // wait_ready() is still an explicit warm-up.
    let mut o = common::overrides(2, 4);
    o.lazy_min = Some(true);
    let pool = common::pool_on(&common::url(), &o);
    pool.wait_ready(Duration::from_secs(5)).unwrap();
    assert_eq!(pool.stats().pool_size, 2);
}
