//! Through PgBouncer in transaction mode: no named prepared statements, custom types,
//! 32 concurrent clients.
mod common;

use std::thread;
use std::time::Duration;

#[test]
fn thirty_two_clients_through_pgbouncer_transaction_mode() {
    let Some(url) = common::bouncer_url() else {
        eprintln!("PGBOUNCER_URL not set; skipping");
        return;
    };
    let pool = common::pool_on(&url, &common::overrides(4, 16));
    {
        let mut c = pool.get(None).unwrap();
        c.simple_query(
            "DROP TYPE IF EXISTS bouncer_mood CASCADE; CREATE TYPE bouncer_mood AS ENUM ('sad', 'ok', 'happy')",
            None,
        )
        .unwrap();
    }
    let mut hs = Vec::new();
    for t in 0..32u32 {
        let pool = pool.clone();
        hs.push(thread::spawn(move || {
            for i in 0..100u32 {
                let mut c = pool.get(Some(Duration::from_secs(30))).unwrap();
                let v = (t * 1000 + i).to_string();
                // parameters, a custom type (enum) in the result, and a transaction
                let r = c
                    .query_params(
                        "SELECT $1::int4 + 1, 'happy'::bouncer_mood",
                        &[Some(v.as_bytes())],
                        None,
                    )
                    .unwrap();
                assert_eq!(
                    r.get(0, 0).unwrap(),
                    (t * 1000 + i + 1).to_string().as_bytes()
                );
                assert_eq!(r.get(0, 1), Some(&b"happy"[..]));
                c.begin(&Default::default());
                let r = c
                    .simple_query(&format!("SELECT {v}::text, 'ok'::bouncer_mood"), None)
                    .unwrap();
                assert_eq!(r.get(0, 0).unwrap(), v.as_bytes());
                c.simple_query("COMMIT", None).unwrap();
            }
        }));
    }
    for h in hs {
        h.join().unwrap();
    }
    // No prepared statement ever existed on the servers behind PgBouncer.
    let mut c = pool.get(None).unwrap();
    assert_eq!(
        common::scalar(&mut c, "SELECT count(*) FROM pg_prepared_statements").as_deref(),
        Some("0")
    );
}
