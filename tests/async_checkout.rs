//! `Pool::get_async` (the asyncio face's checkout) and `Pool::try_get_idle`: one FIFO
//! queue with the blocking checkouts, cancellation leaves it, no thread held while
//! waiting, no connect on the caller's thread for `try_get_idle`.
mod common;

use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use pgpool::Error;

#[test]
fn try_get_idle_never_connects() {
    let pool = common::pool(0, 2);
    assert!(pool.try_get_idle().is_none());
    assert_eq!(pool.stats().connections_num, 0);
    assert_eq!(pool.stats().connections_errors, 0);
    drop(pool.get(None).unwrap());
    let c = pool.try_get_idle().expect("an idle connection");
    assert_eq!(pool.stats().in_use, 1);
    // the only idle one is taken: a free slot is not used
    assert!(pool.try_get_idle().is_none());
    assert_eq!(pool.stats().connections_num, 1);
    drop(c);
}

#[test]
fn async_and_blocking_waiters_share_one_fifo_queue() {
    let pool = common::pool(1, 1);
    let held = pool.get(None).unwrap();
    let rt = pgpool::runtime::runtime();
    let order = Arc::new(Mutex::new(Vec::new()));
    let mut threads = Vec::new();
    let mut tasks = Vec::new();
    for i in 0..6 {
        let (p, order) = (pool.clone(), order.clone());
        if i % 2 == 0 {
            tasks.push(rt.spawn(async move {
                let c = p.get_async(None, std::future::pending()).await.unwrap();
                order.lock().unwrap().push(i);
                // the connection goes back from a blocking thread (a reset may talk)
                tokio::task::spawn_blocking(move || drop(c)).await.unwrap();
            }));
        } else {
            threads.push(thread::spawn(move || {
                let c = p.get(None).unwrap();
                order.lock().unwrap().push(i);
                drop(c);
            }));
        }
        let t = Instant::now();
        while pool.stats().requests_waiting < i + 1 {
            assert!(t.elapsed() < Duration::from_secs(2));
            thread::sleep(Duration::from_millis(2));
        }
    }
    drop(held);
    for t in tasks {
        rt.block_on(t).unwrap();
    }
    for t in threads {
        t.join().unwrap();
    }
    assert_eq!(*order.lock().unwrap(), vec![0, 1, 2, 3, 4, 5]);
}

#[test]
fn cancelling_an_async_wait_leaves_the_queue() {
    let pool = common::pool(1, 1);
    let held = pool.get(None).unwrap();
    let rt = pgpool::runtime::runtime();
    let notify = Arc::new(tokio::sync::Notify::new());
    let (p, n) = (pool.clone(), notify.clone());
    let task = rt.spawn(async move {
        p.get_async(None, async move { n.notified().await })
            .await
            .map(|_| ())
    });
    let t = Instant::now();
    while pool.stats().requests_waiting < 1 {
        assert!(t.elapsed() < Duration::from_secs(2));
        thread::sleep(Duration::from_millis(2));
    }
    notify.notify_one();
    let r = rt.block_on(task).unwrap();
    assert!(matches!(r, Err(Error::Interrupted)), "{r:?}");
    assert_eq!(pool.stats().requests_waiting, 0);
    drop(held);
    // the timeout of an async wait
    let held = pool.get(None).unwrap();
    let p = pool.clone();
    let r = rt.block_on(async move {
        p.get_async(Some(Duration::from_millis(200)), std::future::pending())
            .await
            .map(|_| ())
    });
    assert!(matches!(r, Err(Error::Timeout { .. })), "{r:?}");
    drop(held);
}
