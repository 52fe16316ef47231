//! Network stalls: a connect that never gets an answer and a statement whose answer
//! never comes fail within the configured limits instead of hanging.
mod common;

use std::net::TcpListener;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use pgpool::Error;

#[test]
fn a_silent_server_fails_the_checkout_within_the_timeout() {
    // Accepts TCP connections and never says a word.
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    let _keep = std::thread::spawn(move || {
        let mut held = Vec::new();
        for s in l.incoming() {
            held.push(s);
        }
    });
    let mut o = common::overrides(0, 2);
    o.timeout = Some(Duration::from_millis(800));
    let pool = common::pool_on(
        &format!("postgresql://postgres@127.0.0.1:{port}/postgres"),
        &o,
    );
    let t = Instant::now();
    let e = pool.get(None).unwrap_err();
    let took = t.elapsed();
    assert!(took < Duration::from_secs(3), "hung for {took:?}");
    assert!(matches!(e, Error::Timeout { .. }), "{e:?}");
    assert!(e.to_string().contains("timeout expired"), "{e}");
}

#[test]
fn a_stalled_statement_fails_after_command_timeout_and_the_pool_recovers() {
    let proxy = common::Proxy::start(common::host_port(&common::url()));
    let mut o = common::overrides(1, 2);
    o.command_timeout = Some(Some(Duration::from_millis(700)));
    let pool = common::pool_on(
        &format!("postgresql://postgres@127.0.0.1:{}/postgres", proxy.port),
        &o,
    );
    let mut c = pool.get(None).unwrap();
    assert_eq!(common::scalar(&mut c, "SELECT 1").as_deref(), Some("1"));
    proxy.paused.store(true, Ordering::Relaxed);
    let t = Instant::now();
    let e = c.simple_query("SELECT 2", None).unwrap_err();
    let took = t.elapsed();
    assert!(
        took >= Duration::from_millis(700) && took < Duration::from_secs(3),
        "{took:?}"
    );
    assert!(e.is_connection_error(), "{e:?}");
    assert!(c.is_broken());
    drop(c);
    proxy.paused.store(false, Ordering::Relaxed);
    let mut c = pool.get(Some(Duration::from_secs(5))).unwrap();
    assert_eq!(common::scalar(&mut c, "SELECT 3").as_deref(), Some("3"));
    // A long query within the limit is not affected by the 100 ms poll ticks.
    assert!(c.simple_query("SELECT pg_sleep(0.3)", None).is_ok());
}
