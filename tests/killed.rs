//! Backends killed with pg_terminate_backend: pre-ping discards them without handing
//! them out; a dead connection in use fails once and is replaced.
mod common;

use std::thread;
use std::time::Duration;

use pgpool::Error;

#[test]
fn pre_ping_discards_a_terminated_idle_backend() {
    let pool = common::pool(1, 1);
    let pid = pool.get(None).unwrap().backend_pid();
    let mut admin = common::admin();
    common::scalar(&mut admin, &format!("SELECT pg_terminate_backend({pid})"));
    // idle longer than the pre-ping window (500 ms)
    thread::sleep(Duration::from_millis(700));
    let mut c = pool.get(None).unwrap();
    assert_ne!(c.backend_pid(), pid, "a dead connection was handed out");
    assert_eq!(common::scalar(&mut c, "SELECT 1").as_deref(), Some("1"));
    assert!(pool.stats().connections_lost >= 1);
}

#[test]
fn a_dead_connection_in_use_fails_once_then_the_pool_recovers() {
    let pool = common::pool(1, 1);
    let mut c = pool.get(None).unwrap();
    let pid = c.backend_pid();
    let mut admin = common::admin();
    common::scalar(&mut admin, &format!("SELECT pg_terminate_backend({pid})"));
    thread::sleep(Duration::from_millis(100));
    let e = c.simple_query("SELECT 1", None).unwrap_err();
    assert!(e.is_connection_error(), "{e:?}");
    assert!(c.is_broken());
    drop(c);
    let mut c = pool.get(None).unwrap();
    assert_ne!(c.backend_pid(), pid);
    assert_eq!(common::scalar(&mut c, "SELECT 2").as_deref(), Some("2"));
    let s = pool.stats();
    assert!(s.returns_bad >= 1 && s.connections_lost >= 1, "{s:?}");
}

#[test]
fn killing_every_backend_under_load_never_mixes_results() {
    // Its own application_name, so the kills spare the other tests of this binary.
    let url = format!("{}?application_name=killtest", common::url());
    let pool = common::pool_on(&url, &common::overrides(4, 4));
    let mut hs = Vec::new();
    for t in 0..8u64 {
        let pool = pool.clone();
        hs.push(thread::spawn(move || {
            let mut errors = 0;
            for i in 0..300u64 {
                let v = (t * 100_000 + i).to_string();
                let mut c = match pool.get(Some(Duration::from_secs(10))) {
                    Ok(c) => c,
                    Err(e) => panic!("checkout failed: {e}"),
                };
                match c.query_params("SELECT $1::int8 * 2", &[Some(v.as_bytes())], None) {
                    Ok(r) => {
                        let got: u64 = std::str::from_utf8(r.get(0, 0).unwrap())
                            .unwrap()
                            .parse()
                            .unwrap();
                        assert_eq!(got, (t * 100_000 + i) * 2, "mixed-up result");
                    }
                    Err(e) => {
                        assert!(e.is_connection_error(), "{e:?}");
                        errors += 1;
                    }
                }
            }
            errors
        }));
    }
    let mut admin = common::admin();
    for _ in 0..5 {
        thread::sleep(Duration::from_millis(30));
        common::scalar(
            &mut admin,
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity \
             WHERE application_name = 'killtest'",
        );
    }
    let errors: usize = hs.into_iter().map(|h| h.join().unwrap()).sum();
    // every later query works (past the pre-ping window, dead idle ones are discarded)
    thread::sleep(Duration::from_millis(600));
    let mut c = pool.get(None).unwrap();
    assert_eq!(common::scalar(&mut c, "SELECT 3").as_deref(), Some("3"));
    assert!(
        errors <= 5 * 4 + 4,
        "{errors} errors for 5 kills of 4 connections"
    );
    let _ = Error::Closed;
}
