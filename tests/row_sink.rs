//! The core's row sink (`Connection::simple_query_with`): called while a large result
//! arrives, each time the rows read so far are handled and more are on their way; what it
//! attaches to the result travels with it. Against the real server.
mod common;

use pgpool::QueryResult;

/// Runs `sql` with a sink recording `nrows()` at each call and attaching the last one.
fn run(sql: &str) -> (pgpool::error::Result<QueryResult>, Vec<usize>) {
    let pool = common::pool_on(&common::url(), &common::overrides(1, 1));
    let mut c = pool.get(None).unwrap();
    let mut seen = Vec::new();
    let mut sink = |r: &mut QueryResult| {
        seen.push(r.nrows());
        r.extra.0 = Some(Box::new(r.nrows()));
    };
    let r = c.simple_query_with(sql, None, Some(&mut sink));
    (r, seen)
}

fn attached(r: &QueryResult) -> Option<usize> {
    r.extra
        .0
        .as_ref()
        .and_then(|b| b.downcast_ref::<usize>())
        .copied()
}

#[test]
fn a_large_result_is_handed_to_the_sink_as_it_arrives() {
    let (r, seen) = run("SELECT g, repeat('x', 40) FROM generate_series(1, 50000) g");
    let r = r.unwrap();
    assert_eq!(r.nrows(), 50_000);
    assert_eq!(r.get(49_999, 0), Some(&b"50000"[..]));
    // ~2.6 MB of rows through a 64 KB read buffer: many calls, each with more rows than
    // the last.
    assert!(seen.len() >= 10, "sink calls: {seen:?}");
    assert!(seen.windows(2).all(|w| w[0] < w[1]), "{seen:?}");
    assert!(*seen.last().unwrap() <= 50_000);
    assert_eq!(attached(&r), seen.last().copied());
}

#[test]
fn a_small_result_never_calls_the_sink() {
    let (r, seen) = run("SELECT 1, 'one'");
    let r = r.unwrap();
    assert_eq!(r.get(0, 1), Some(&b"one"[..]));
    assert!(seen.is_empty(), "{seen:?}");
    assert_eq!(attached(&r), None);
}

#[test]
fn only_the_last_statements_result_is_returned_with_what_was_attached_to_it() {
    let (r, seen) = run("SELECT g FROM generate_series(1, 50000) g; SELECT 7");
    let r = r.unwrap();
    assert_eq!(r.nrows(), 1);
    assert_eq!(r.get(0, 0), Some(&b"7"[..]));
    assert!(!seen.is_empty());
    // What the sink attached belonged to the first result.
    assert_eq!(attached(&r), None);
}

#[test]
fn a_statement_failing_midway_returns_its_error() {
    let (r, seen) = run("SELECT g, 1 / (g - 40000) FROM generate_series(1, 80000) g");
    match r {
        Err(pgpool::Error::Db(e)) => assert_eq!(e.code, "22012"),
        other => panic!("expected division_by_zero, got {other:?}"),
    }
    assert!(!seen.is_empty());
}
