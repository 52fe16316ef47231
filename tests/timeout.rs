//! Acquire timeout, strict FIFO service, max_waiting, close.
mod common;

use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use pgpool::Error;

#[test]
fn acquire_times_out_with_size_and_waiting_in_the_message() {
    let pool = common::pool(1, 2);
    let a = pool.get(None).unwrap();
    let b = pool.get(None).unwrap();
    let t = Instant::now();
    let e = pool.get(Some(Duration::from_millis(300))).unwrap_err();
    let waited = t.elapsed();
    assert!(waited >= Duration::from_millis(300), "{waited:?}");
    assert!(matches!(e, Error::Timeout { size: 2, .. }), "{e:?}");
    let msg = e.to_string();
    assert!(
        msg.contains("couldn't get a connection after 0.30 sec"),
        "{msg}"
    );
    assert!(msg.contains("pool size 2"), "{msg}");
    drop((a, b));
    assert!(pool.get(Some(Duration::from_millis(300))).is_ok());
    assert_eq!(pool.stats().requests_timeouts, 1);
}

#[test]
fn waiters_are_served_in_arrival_order() {
    let pool = common::pool(1, 1);
    let held = pool.get(None).unwrap();
    let order = Arc::new(Mutex::new(Vec::new()));
    let mut hs = Vec::new();
    for i in 0..8 {
        let p = pool.clone();
        let order = order.clone();
        hs.push(thread::spawn(move || {
            let c = p.get(Some(Duration::from_secs(10))).unwrap();
            order.lock().unwrap().push(i);
            thread::sleep(Duration::from_millis(5));
            drop(c);
        }));
        // make arrival order unambiguous
        while pool.stats().requests_waiting < i + 1 {
            thread::sleep(Duration::from_millis(1));
        }
    }
    drop(held);
    for h in hs {
        h.join().unwrap();
    }
    assert_eq!(*order.lock().unwrap(), (0..8).collect::<Vec<_>>());
}

#[test]
fn max_waiting_rejects_at_once() {
    let mut o = common::overrides(1, 1);
    o.max_waiting = Some(2);
    let pool = common::pool_on(&common::url(), &o);
    let held = pool.get(None).unwrap();
    let mut hs = Vec::new();
    for _ in 0..2 {
        let pool = pool.clone();
        hs.push(thread::spawn(move || {
            pool.get(Some(Duration::from_secs(10))).map(drop)
        }));
    }
    while pool.stats().requests_waiting < 2 {
        thread::sleep(Duration::from_millis(1));
    }
    let t = Instant::now();
    let e = pool.get(Some(Duration::from_secs(10))).unwrap_err();
    assert!(t.elapsed() < Duration::from_secs(1));
    assert!(
        matches!(e, Error::TooManyRequests { max_waiting: 2 }),
        "{e:?}"
    );
    drop(held);
    for h in hs {
        h.join().unwrap().unwrap();
    }
}

#[test]
fn close_wakes_waiters_and_refuses_checkouts() {
    let pool = common::pool(1, 1);
    let held = pool.get(None).unwrap();
    let p2 = pool.clone();
    let h = thread::spawn(move || p2.get(Some(Duration::from_secs(10))).map(drop));
    while pool.stats().requests_waiting < 1 {
        thread::sleep(Duration::from_millis(1));
    }
    pool.close();
    assert!(matches!(h.join().unwrap(), Err(Error::Closed)));
    assert!(matches!(pool.get(None), Err(Error::Closed)));
    drop(held); // returning to a closed pool is fine
    assert_eq!(pool.stats().pool_size, 0);
}

#[test]
fn resize_grows_and_shrinks() {
    let pool = common::pool(1, 2);
    let a = pool.get(None).unwrap();
    let b = pool.get(None).unwrap();
    assert!(pool.get(Some(Duration::from_millis(50))).is_err());
    pool.resize(1, 3).unwrap();
    let c = pool.get(Some(Duration::from_secs(2))).unwrap();
    drop((a, b, c));
    pool.resize(1, 1).unwrap();
    assert!(pool.stats().pool_size <= 1, "{:?}", pool.stats());
    assert!(pool.resize(3, 2).is_err());
}
