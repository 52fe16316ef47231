//! Regressions found by the reliability drills (tests/DRILLS.md).
mod common;

use std::net::TcpListener;
use std::time::{Duration, Instant};

use pgpool::Error;

/// The acquire deadline counts from the call: the fast path's first connect attempt
/// (bounded by connect_timeout, by default the acquire timeout) is inside it. Against a
/// silent server a 0.8 s checkout used to fail after ~1.6 s.
#[test]
fn a_stalled_first_connect_is_inside_the_acquire_timeout() {
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
    for _ in 0..2 {
        let t = Instant::now();
        let e = pool.get(None).unwrap_err();
        let took = t.elapsed();
        assert!(matches!(e, Error::Timeout { .. }), "{e:?}");
        assert!(
            took >= Duration::from_millis(750) && took < Duration::from_millis(1300),
            "{took:?}"
        );
    }
    assert_eq!(pool.stats().requests_timeouts, 2);
}

/// An 08 error the server reports with severity ERROR (the Bind of an unnamed statement
/// with the wrong number of parameters: 08P01) leaves the connection usable, so it is
/// not a connection error (the C API returns PGPOOL_DATABASE, not PGPOOL_CONNECTION).
#[test]
fn a_protocol_violation_reported_as_error_is_not_a_connection_error() {
    let pool = common::pool(0, 1);
    let mut c = pool.get(None).unwrap();
    let e = c
        .query_params("SELECT $1::int, $2::int", &[Some(b"1".as_slice())], None)
        .unwrap_err();
    assert_eq!(e.sqlstate(), Some("08P01"), "{e:?}");
    assert!(!e.is_connection_error(), "{e:?}");
    assert!(!c.is_broken());
    assert_eq!(common::scalar(&mut c, "SELECT 4").as_deref(), Some("4"));
}
