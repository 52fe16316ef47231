//! What a connection carries back to the pool: open transactions are rolled back and
//! session state does not leak to the next user.
mod common;

use pgpool::TxStatus;

#[test]
fn a_connection_returned_inside_a_transaction_is_rolled_back() {
    let pool = common::pool(1, 1);
    {
        let mut c = pool.get(None).unwrap();
        c.simple_query("CREATE TABLE IF NOT EXISTS reset_t (x int)", None)
            .unwrap();
        c.simple_query("TRUNCATE reset_t", None).unwrap();
        c.begin(&Default::default());
        c.simple_query("INSERT INTO reset_t VALUES (1)", None)
            .unwrap();
        assert_eq!(c.transaction_status(), TxStatus::InTransaction);
    }
    let mut c = pool.get(None).unwrap();
    assert_eq!(c.transaction_status(), TxStatus::Idle);
    assert_eq!(
        common::scalar(&mut c, "SELECT count(*) FROM reset_t").as_deref(),
        Some("0")
    );
    // a failed transaction too
    c.begin(&Default::default());
    assert!(c.simple_query("SELECT 1/0", None).is_err());
    assert_eq!(c.transaction_status(), TxStatus::InError);
    drop(c);
    let mut c = pool.get(None).unwrap();
    assert_eq!(common::scalar(&mut c, "SELECT 5").as_deref(), Some("5"));
}

#[test]
fn session_state_does_not_leak_to_the_next_user() {
    let pool = common::pool(1, 1);
    let pid;
    {
        let mut c = pool.get(None).unwrap();
        pid = c.backend_pid();
        c.simple_query("SET statement_timeout = 1234", None)
            .unwrap();
        c.simple_query("SET search_path = pg_catalog", None)
            .unwrap();
        c.simple_query("CREATE TEMP TABLE leak_t (x int)", None)
            .unwrap();
        c.simple_query("LISTEN leak_channel", None).unwrap();
        c.simple_query("SELECT pg_advisory_lock(4242)", None)
            .unwrap();
        c.simple_query("PREPARE leak_stmt AS SELECT 1", None)
            .unwrap();
        assert!(c.session_dirty());
    }
    let mut c = pool.get(None).unwrap();
    assert_eq!(c.backend_pid(), pid, "same server connection, reused");
    assert_eq!(
        common::scalar(&mut c, "SHOW statement_timeout").as_deref(),
        Some("0")
    );
    assert_eq!(
        common::scalar(&mut c, "SHOW search_path").as_deref(),
        Some("\"$user\", public")
    );
    assert_eq!(
        common::scalar(
            &mut c,
            "SELECT count(*) FROM pg_class WHERE relname = 'leak_t' AND relpersistence = 't'"
        )
        .as_deref(),
        Some("0")
    );
    assert_eq!(
        common::scalar(&mut c, "SELECT count(*) FROM pg_listening_channels()").as_deref(),
        Some("0")
    );
    assert_eq!(
        common::scalar(
            &mut c,
            "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND pid = pg_backend_pid()"
        )
        .as_deref(),
        Some("0")
    );
    assert_eq!(
        common::scalar(&mut c, "SELECT count(*) FROM pg_prepared_statements").as_deref(),
        Some("0")
    );
    assert!(!c.session_dirty());
}

#[test]
fn a_clean_connection_costs_no_reset_round_trip() {
    let pool = common::pool(1, 1);
    let mut c = pool.get(None).unwrap();
    c.simple_query("SELECT 1", None).unwrap();
    assert!(!c.session_dirty());
    assert_eq!(c.transaction_status(), TxStatus::Idle);
}
