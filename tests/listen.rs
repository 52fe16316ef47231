//! `pgpool::Listener`: LISTEN on a connection of its own that is made again (and LISTENs
//! again) when it is lost. The server restart case is in `restart.rs` (it stops the
//! shared server); here the listener's backend is terminated instead.
mod common;

use std::time::{Duration, Instant};

use pgpool::config::{PoolConfig, PoolOverrides};
use pgpool::Listener;

fn params() -> pgpool::config::ConnectParams {
    PoolConfig::new(Some(&common::url()), &PoolOverrides::default())
        .expect("config")
        .connect
}

fn notify(channel: &str, payload: &str) {
    let mut c = common::admin();
    c.simple_query(&format!("NOTIFY \"{channel}\", '{payload}'"), None)
        .expect("notify");
}

/// What arrives within `within` (at least one notification, unless none comes).
fn received(l: &mut Listener, within: Duration) -> Vec<(String, String)> {
    let until = Instant::now() + within;
    loop {
        let got = l
            .wait(until.saturating_duration_since(Instant::now()), None)
            .unwrap();
        if !got.is_empty() || Instant::now() >= until {
            return got.into_iter().map(|n| (n.channel, n.payload)).collect();
        }
    }
}

#[test]
fn notifications_arrive_and_channels_change() {
    let mut l = Listener::new(params(), ["jobs", "Mixed Case"]).unwrap();
    assert_eq!(l.channels().collect::<Vec<_>>(), ["Mixed Case", "jobs"]);
    // Nothing yet: a zero wait returns at once, a short one after its time.
    assert!(l.wait(Duration::ZERO, None).unwrap().is_empty());
    let t = Instant::now();
    assert!(l.wait(Duration::from_millis(150), None).unwrap().is_empty());
    assert!(t.elapsed() >= Duration::from_millis(150));
    notify("jobs", "1");
    notify("Mixed Case", "2");
    let mut got = received(&mut l, Duration::from_secs(5));
    if got.len() < 2 {
        got.extend(received(&mut l, Duration::from_secs(5)));
    }
    assert_eq!(
        got,
        [
            ("jobs".into(), "1".into()),
            ("Mixed Case".into(), "2".into())
        ]
    );
    assert!(l.unlisten("jobs").unwrap());
    assert!(!l.unlisten("jobs").unwrap());
    l.listen("other").unwrap();
    notify("jobs", "ignored");
    notify("other", "3");
    assert_eq!(
        received(&mut l, Duration::from_secs(5)),
        [("other".into(), "3".into())]
    );
    l.close();
    assert!(l.wait(Duration::ZERO, None).is_err());
}

#[test]
fn a_terminated_backend_is_replaced_and_listens_again() {
    let mut l = Listener::new(params(), ["restartable"]).unwrap();
    let mut admin = common::admin();
    let pid = common::scalar(
        &mut admin,
        "SELECT pid FROM pg_stat_activity WHERE query LIKE 'LISTEN%restartable%'",
    )
    .expect("the listener's backend");
    common::scalar(&mut admin, &format!("SELECT pg_terminate_backend({pid})"));
    // The loss is noticed and the connection made again within the wait.
    let until = Instant::now() + Duration::from_secs(10);
    while l.reconnects() == 0 && Instant::now() < until {
        l.wait(Duration::from_millis(100), None).unwrap();
    }
    assert_eq!(l.reconnects(), 1, "{:?}", l.last_error());
    assert!(l.is_connected());
    notify("restartable", "after");
    assert_eq!(
        received(&mut l, Duration::from_secs(5)),
        [("restartable".into(), "after".into())]
    );
}

#[test]
fn a_listener_is_interruptible() {
    let mut l = Listener::new(params(), ["quiet"]).unwrap();
    let t = Instant::now();
    let r = l.wait(
        Duration::from_secs(30),
        Some(&|| t.elapsed() > Duration::from_millis(200)),
    );
    assert!(matches!(r, Err(pgpool::Error::Interrupted)));
    assert!(t.elapsed() < Duration::from_secs(5));
}
