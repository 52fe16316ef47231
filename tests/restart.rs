//! Server restart under load, and a database that is down when the pool is created.
//! One test function: it stops and starts the shared throwaway server, so nothing else
//! may run beside it (cargo runs test binaries one after another).
mod common;

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use pgpool::Error;

#[test]
fn restart_and_down_at_start() {
    if common::pgctl(&["status"]).is_none() {
        eprintln!("PGPOOL_TEST_PGCTL not set (user DATABASE_URL); skipping");
        return;
    }
    server_restart_under_load();
    listener_survives_a_restart();
    database_down_at_start();
}

/// A `Listener` made before a server restart listens again after it (issue 15 item 3).
fn listener_survives_a_restart() {
    let params = pgpool::config::PoolConfig::new(
        Some(&common::url()),
        &pgpool::config::PoolOverrides::default(),
    )
    .expect("config")
    .connect;
    let mut l = pgpool::Listener::new(params, ["after_restart"]).expect("listener");
    assert_eq!(common::pgctl(&["restart", "-m", "fast", "-w"]), Some(true));
    let until = Instant::now() + Duration::from_secs(15);
    let mut got = Vec::new();
    while got.is_empty() && Instant::now() < until {
        if l.reconnects() >= 1 {
            let mut c = common::admin();
            c.simple_query("NOTIFY after_restart, 'back'", None)
                .expect("notify");
        }
        got = l.wait(Duration::from_millis(300), None).expect("wait");
    }
    assert_eq!(l.reconnects(), 1, "{:?}", l.last_error());
    assert_eq!(got.first().map(|n| n.payload.as_str()), Some("back"));
}

fn server_restart_under_load() {
    let pool = common::pool(4, 4);
    let stop = Arc::new(AtomicBool::new(false));
    let ok = Arc::new(AtomicU64::new(0));
    let mut hs = Vec::new();
    for t in 0..4u64 {
        let (pool, stop, ok) = (pool.clone(), stop.clone(), ok.clone());
        hs.push(thread::spawn(move || {
            let mut i = 0u64;
            while !stop.load(Ordering::Relaxed) {
                i += 1;
                let Ok(mut c) = pool.get(Some(Duration::from_secs(2))) else {
                    continue;
                };
                let v = (t * 1_000_000 + i).to_string();
                if let Ok(r) = c.query_params("SELECT $1::int8", &[Some(v.as_bytes())], None) {
                    assert_eq!(r.get(0, 0).unwrap(), v.as_bytes(), "mixed-up result");
                    ok.fetch_add(1, Ordering::Relaxed);
                }
            }
        }));
    }
    thread::sleep(Duration::from_millis(300));
    assert_eq!(common::pgctl(&["restart", "-m", "fast", "-w"]), Some(true));
    let up = Instant::now();
    let before = ok.load(Ordering::Relaxed);
    // Throughput is back within 2 s of the server accepting connections.
    while ok.load(Ordering::Relaxed) < before + 100 {
        assert!(
            up.elapsed() < Duration::from_secs(2),
            "no recovery within 2 s: {:?}",
            pool.stats()
        );
        thread::sleep(Duration::from_millis(10));
    }
    eprintln!("recovered {:?} after restart", up.elapsed());
    stop.store(true, Ordering::Relaxed);
    for h in hs {
        h.join().unwrap();
    }
    let s = pool.stats();
    assert!(
        s.connections_lost >= 1,
        "lost connections are counted: {s:?}"
    );
}

fn database_down_at_start() {
    assert_eq!(common::pgctl(&["stop", "-m", "fast", "-w"]), Some(true));
    let t = Instant::now();
    let mut o = common::overrides(2, 4);
    o.timeout = Some(Duration::from_millis(800));
    let pool = common::pool_on(&common::url(), &o);
    assert!(
        t.elapsed() < Duration::from_millis(200),
        "Pool() must return at once"
    );
    let t = Instant::now();
    let e = pool.get(None).unwrap_err();
    let waited = t.elapsed();
    assert!(
        waited >= Duration::from_millis(800) && waited < Duration::from_secs(3),
        "{waited:?}"
    );
    assert!(matches!(e, Error::Timeout { .. }), "{e:?}");
    let msg = e.to_string();
    assert!(
        msg.to_lowercase().contains("refused"),
        "the last connection error is named: {msg}"
    );
    assert_eq!(common::pgctl(&["start", "-w"]), Some(true));
    let mut c = pool
        .get(Some(Duration::from_secs(10)))
        .expect("the same pool works once the server is up");
    assert_eq!(common::scalar(&mut c, "SELECT 1").as_deref(), Some("1"));
    assert!(pool.stats().connections_errors >= 1);
}
