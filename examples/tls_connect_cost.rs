//! What TLS adds to the cost of a new connection: the median (and 90th percentile) time
//! of `Connection::connect` (TCP connect, SSLRequest and handshake when used, startup,
//! authentication, until ReadyForQuery), without and with TLS, against the harness's TLS
//! server:
//!
//!     scripts/test-env cargo run --release --example tls_connect_cost [N]
//!
//! N connects per row (default 200), the rows taking turns. Needs `PGPOOL_TEST_TLS_URL` and `PGPOOL_TEST_TLS_DIR`
//! (scripts/test-env sets them); `DATABASE_URL` (a server without TLS) adds the row for
//! `prefer` against a server that answers 'N'.
use std::time::{Duration, Instant};

use pgpool::config::{PoolConfig, PoolOverrides};
use pgpool::Connection;

fn port_of(url: &str) -> u16 {
    let hp = url.rsplit('@').next().unwrap().split('/').next().unwrap();
    hp.rsplit_once(':').unwrap().1.parse().unwrap()
}

/// Connects `n` times with every row's settings, the rows taking turns (so that load from
/// elsewhere on the machine falls on all rows alike), and prints each row's median and
/// 90th percentile.
fn measure(rows: &[(&str, String)], n: usize) {
    let cfgs: Vec<PoolConfig> = rows
        .iter()
        .map(|(_, dsn)| PoolConfig::new(Some(dsn), &PoolOverrides::default()).expect("config"))
        .collect();
    let mut times: Vec<Vec<Duration>> = vec![Vec::with_capacity(n); rows.len()];
    for round in 0..n + 5 {
        for (cfg, t) in cfgs.iter().zip(times.iter_mut()) {
            let s = Instant::now();
            let c = Connection::connect(&cfg.connect).expect("connect");
            let d = s.elapsed();
            drop(c);
            // The first rounds warm up (the TLS configuration is built on first use).
            if round >= 5 {
                t.push(d);
            }
        }
    }
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    for ((label, _), t) in rows.iter().zip(times.iter_mut()) {
        t.sort();
        println!(
            "{label:<52} median {:6.2} ms   p90 {:6.2} ms",
            ms(t[n / 2]),
            ms(t[n * 9 / 10])
        );
    }
}

fn main() {
    let n: usize = std::env::args()
        .nth(1)
        .map(|a| a.parse().expect("N"))
        .unwrap_or(200);
    let (Ok(url), Ok(dir)) = (
        std::env::var("PGPOOL_TEST_TLS_URL"),
        std::env::var("PGPOOL_TEST_TLS_DIR"),
    ) else {
        eprintln!(
            "PGPOOL_TEST_TLS_URL / PGPOOL_TEST_TLS_DIR not set: run through scripts/test-env"
        );
        std::process::exit(2);
    };
    let port = port_of(&url);
    let base = format!("host=localhost port={port} dbname=postgres");
    let ca = format!("sslrootcert={dir}/ca.crt");
    println!("{n} connects each, trust authentication unless noted (loopback):");
    let mut rows: Vec<(&str, String)> = vec![(
        "no TLS (sslmode=disable)",
        format!("{base} user=postgres sslmode=disable"),
    )];
    if let Ok(plain) = std::env::var("DATABASE_URL") {
        rows.push((
            "no TLS, server answers 'N' (sslmode=prefer)",
            format!(
                "host=127.0.0.1 port={} user=postgres dbname=postgres sslmode=prefer",
                port_of(&plain)
            ),
        ));
    }
    rows.extend([
        (
            "TLS 1.3, certificate not checked (sslmode=require)",
            format!("{base} user=postgres sslmode=require sslrootcert=/nonexistent"),
        ),
        (
            "TLS 1.3, sslmode=verify-full",
            format!("{base} user=postgres sslmode=verify-full {ca}"),
        ),
        (
            "TLS 1.3, verify-full + client certificate",
            format!(
                "{base} user=certuser sslmode=verify-full {ca} sslcert={dir}/client.crt sslkey={dir}/client.key"
            ),
        ),
        (
            "no TLS, SCRAM-SHA-256 (sslmode=disable)",
            format!("{base} user=scramuser password=scram-secret sslmode=disable"),
        ),
        (
            "TLS 1.3, verify-full, SCRAM-SHA-256-PLUS",
            format!("{base} user=scramuser password=scram-secret sslmode=verify-full {ca}"),
        ),
    ]);
    measure(&rows, n);
}
