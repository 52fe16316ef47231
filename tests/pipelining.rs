//! BEGIN leaves in the same write as the first statement: a transaction block costs two
//! round trips (statement, COMMIT), asserted on the bytes a proxy sees, not on time.
mod common;

fn count(hay: &[u8], needle: &[u8]) -> usize {
    hay.windows(needle.len()).filter(|w| *w == needle).count()
}

#[test]
fn begin_rides_with_the_first_statement() {
    let (host, port) = common::host_port(&common::url());
    let proxy = common::Proxy::start((host, port));
    let url = format!("postgresql://postgres@127.0.0.1:{}/postgres", proxy.port);
    let pool = common::pool_on(&url, &common::overrides(1, 1));
    let mut c = pool.get(None).unwrap();
    proxy.chunks.lock().unwrap().clear();

    c.begin(&Default::default());
    let r = c.simple_query("SELECT 41 + 1", None).unwrap();
    assert_eq!(r.get(0, 0), Some(&b"42"[..]));
    c.simple_query("COMMIT", None).unwrap();
    let chunks = proxy.chunks.lock().unwrap().clone();
    assert_eq!(
        chunks.len(),
        2,
        "expected 2 writes (BEGIN+SELECT, COMMIT): {chunks:?}"
    );
    // one Query message: 'Q', length, "BEGIN;SELECT 41 + 1" and its NUL
    assert_eq!(chunks[0][0], b'Q');
    assert_eq!(count(&chunks[0], b"BEGIN;SELECT 41 + 1\0"), 1);
    assert_eq!(count(&chunks[1], b"COMMIT\0"), 1);

    // The extended protocol (C face) too: Parse/Bind/Describe/Execute/Sync after BEGIN.
    proxy.chunks.lock().unwrap().clear();
    c.begin(&Default::default());
    let r = c
        .query_params("SELECT $1::int + 1", &[Some(b"1")], None)
        .unwrap();
    assert_eq!(r.get(0, 0), Some(&b"2"[..]));
    c.simple_query("COMMIT", None).unwrap();
    let chunks = proxy.chunks.lock().unwrap().clone();
    assert_eq!(chunks.len(), 2, "{chunks:?}");
    assert_eq!(count(&chunks[0], b"BEGIN\0"), 1);
    assert_eq!(count(&chunks[0], b"SELECT $1::int + 1\0"), 1);
    // unnamed statement: Parse's name is empty (a 'P' message followed by a NUL name)
    assert_eq!(count(&chunks[0], b"\0SELECT $1::int + 1\0"), 1);
}

#[test]
fn pipeline_sends_many_statements_per_write() {
    let (host, port) = common::host_port(&common::url());
    let proxy = common::Proxy::start((host, port));
    let url = format!("postgresql://postgres@127.0.0.1:{}/postgres", proxy.port);
    let pool = common::pool_on(&url, &common::overrides(1, 1));
    let mut c = pool.get(None).unwrap();
    c.simple_query("CREATE TEMP TABLE pipe_t (x int)", None)
        .unwrap();
    proxy.chunks.lock().unwrap().clear();
    let n = c
        .pipeline(
            &mut (0..1000).map(|i| Ok(format!("INSERT INTO pipe_t VALUES ({i})"))),
            None,
        )
        .unwrap();
    assert_eq!(n, 1000);
    let chunks = proxy.chunks.lock().unwrap().len();
    // 1000 statements in batches of 256 -> 4 round trips; TCP may split a large write.
    assert!(chunks <= 12, "{chunks} writes for 1000 statements");
    assert_eq!(
        common::scalar(&mut c, "SELECT count(*) FROM pipe_t").as_deref(),
        Some("1000")
    );
    // Stops at the first error, like psycopg2's executemany.
    let e = c
        .pipeline(
            &mut [
                "INSERT INTO pipe_t VALUES (1)",
                "INSERT INTO pipe_t VALUES ('x')",
                "INSERT INTO pipe_t VALUES (3)",
            ]
            .iter()
            .map(|s| Ok(s.to_string())),
            None,
        )
        .unwrap_err();
    assert_eq!(e.sqlstate(), Some("22P02"));
}

#[test]
fn pipeline_inside_a_transaction_packs_statements() {
    let (host, port) = common::host_port(&common::url());
    let proxy = common::Proxy::start((host, port));
    let url = format!("postgresql://postgres@127.0.0.1:{}/postgres", proxy.port);
    let pool = common::pool_on(&url, &common::overrides(1, 1));
    let mut c = pool.get(None).unwrap();
    c.simple_query("CREATE TEMP TABLE pack_t (x int, s text)", None)
        .unwrap();
    proxy.chunks.lock().unwrap().clear();
    c.begin(&Default::default());
    // statements ending in a line comment, and one with a ';' inside a literal
    let n = c
        .pipeline(
            &mut (0..1000)
                .map(|i| Ok(format!("INSERT INTO pack_t VALUES ({i}, 'a;b') -- row {i}"))),
            None,
        )
        .unwrap();
    assert_eq!(n, 1000);
    assert_eq!(c.transaction_status(), pgpool::TxStatus::InTransaction);
    let chunks = proxy.chunks.lock().unwrap().len();
    assert!(
        chunks <= 6,
        "{chunks} writes for 1000 statements in 100-statement messages"
    );
    c.simple_query("COMMIT", None).unwrap();
    assert_eq!(
        common::scalar(&mut c, "SELECT count(*) FROM pack_t WHERE s = 'a;b'").as_deref(),
        Some("1000")
    );
    // The first error is reported and aborts the transaction.
    c.begin(&Default::default());
    let e = c
        .pipeline(
            &mut (0..300).map(|i| {
                Ok(if i == 150 {
                    "INSERT INTO pack_t VALUES ('x')".to_string()
                } else {
                    format!("INSERT INTO pack_t VALUES ({i})")
                })
            }),
            None,
        )
        .unwrap_err();
    assert_eq!(e.sqlstate(), Some("22P02"));
    assert_eq!(c.transaction_status(), pgpool::TxStatus::InError);
    c.simple_query("ROLLBACK", None).unwrap();
    assert_eq!(
        common::scalar(&mut c, "SELECT count(*) FROM pack_t").as_deref(),
        Some("1000")
    );
    // An empty batch sends nothing and leaves BEGIN pending.
    c.begin(&Default::default());
    assert_eq!(c.pipeline(&mut std::iter::empty(), None).unwrap(), 0);
    assert!(c.has_pending_begin());
}
