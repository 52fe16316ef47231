//! Shared helpers for the integration tests: the throwaway server `scripts/test-env`
//! starts (or the user's `DATABASE_URL`).
#![allow(dead_code)]

use std::time::Duration;

use pgpool::config::{PoolConfig, PoolOverrides};
use pgpool::{Connection, Pool};

/// The server under test.
pub fn url() -> String {
    std::env::var("DATABASE_URL")
        .expect("DATABASE_URL is not set: run the tests through scripts/test-env (make test)")
}

/// PgBouncer in transaction mode in front of it, if the harness started one.
pub fn bouncer_url() -> Option<String> {
    std::env::var("PGBOUNCER_URL")
        .ok()
        .filter(|s| !s.is_empty())
}

/// Overrides with the given sizes and a short timeout.
pub fn overrides(min: usize, max: usize) -> PoolOverrides {
    PoolOverrides {
        min_size: Some(min),
        max_size: Some(max),
        timeout: Some(Duration::from_secs(5)),
        ..Default::default()
    }
}

/// A pool on `url` with `o`.
pub fn pool_on(url: &str, o: &PoolOverrides) -> Pool {
    Pool::new(PoolConfig::new(Some(url), o).expect("config")).expect("pool")
}

/// A pool on the server under test.
pub fn pool(min: usize, max: usize) -> Pool {
    pool_on(&url(), &overrides(min, max))
}

/// A plain connection for checks behind the pool's back.
pub fn admin() -> Connection {
    let cfg = PoolConfig::new(Some(&url()), &PoolOverrides::default()).expect("config");
    Connection::connect(&cfg.connect).expect("admin connection")
}

/// First cell of the first row as a string.
pub fn scalar(c: &mut Connection, sql: &str) -> Option<String> {
    let r = c.simple_query(sql, None).expect(sql);
    r.get(0, 0).map(|b| String::from_utf8_lossy(b).into_owned())
}

/// Runs the harness's pg_ctl wrapper (`PGPOOL_TEST_PGCTL`), if there is one.
pub fn pgctl(args: &[&str]) -> Option<bool> {
    let ctl = std::env::var("PGPOOL_TEST_PGCTL").ok()?;
    let st = std::process::Command::new(ctl)
        .args(args)
        .stdout(std::process::Stdio::null())
        .status()
        .expect("run pg_ctl wrapper");
    Some(st.success())
}

/// A TCP proxy in front of the server that records every chunk the client sends (one
/// `read()` on the proxy side per client `write()` for small writes on loopback).
pub struct Proxy {
    /// Port the proxy listens on (127.0.0.1).
    pub port: u16,
    /// Chunks client -> server, in order.
    pub chunks: std::sync::Arc<std::sync::Mutex<Vec<Vec<u8>>>>,
    /// While true, nothing is forwarded in either direction (a network stall).
    pub paused: std::sync::Arc<std::sync::atomic::AtomicBool>,
}

impl Proxy {
    /// Starts a proxy to `host:port`.
    pub fn start(upstream: (String, u16)) -> Proxy {
        use std::io::{Read, Write};
        use std::net::{TcpListener, TcpStream};
        use std::sync::{Arc, Mutex};
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = l.local_addr().unwrap().port();
        let chunks: Arc<Mutex<Vec<Vec<u8>>>> = Arc::new(Mutex::new(Vec::new()));
        let ch = chunks.clone();
        let paused = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let pz = paused.clone();
        std::thread::spawn(move || {
            for client in l.incoming() {
                let Ok(mut client) = client else { return };
                let Ok(mut server) = TcpStream::connect((upstream.0.as_str(), upstream.1)) else {
                    continue;
                };
                let _ = client.set_nodelay(true);
                let _ = server.set_nodelay(true);
                let mut c2 = client.try_clone().unwrap();
                let mut s2 = server.try_clone().unwrap();
                let ch = ch.clone();
                let (p1, p2) = (pz.clone(), pz.clone());
                let stall = move |p: &Arc<std::sync::atomic::AtomicBool>| {
                    while p.load(std::sync::atomic::Ordering::Relaxed) {
                        std::thread::sleep(std::time::Duration::from_millis(5));
                    }
                };
                std::thread::spawn(move || {
                    let mut buf = vec![0u8; 1 << 16];
                    loop {
                        let r = client.read(&mut buf);
                        stall(&p1);
                        match r {
                            Ok(0) | Err(_) => {
                                let _ = server.shutdown(std::net::Shutdown::Both);
                                return;
                            }
                            Ok(n) => {
                                ch.lock().unwrap().push(buf[..n].to_vec());
                                if server.write_all(&buf[..n]).is_err() {
                                    return;
                                }
                            }
                        }
                    }
                });
                std::thread::spawn(move || {
                    let mut buf = vec![0u8; 1 << 16];
                    loop {
                        let r = s2.read(&mut buf);
                        stall(&p2);
                        match r {
                            Ok(0) | Err(_) => {
                                let _ = c2.shutdown(std::net::Shutdown::Both);
                                return;
                            }
                            Ok(n) => {
                                if c2.write_all(&buf[..n]).is_err() {
                                    return;
                                }
                            }
                        }
                    }
                });
            }
        });
        Proxy {
            port,
            chunks,
            paused,
        }
    }
}

/// Host and port of a `postgresql://user@host:port/db` URL.
pub fn host_port(url: &str) -> (String, u16) {
    let rest = url.split("://").nth(1).unwrap();
    let rest = rest.rsplit('@').next().unwrap();
    let hp = rest.split('/').next().unwrap();
    let (h, p) = hp.rsplit_once(':').unwrap_or((hp, "5432"));
    (
        h.trim_matches(|c| c == '[' || c == ']').to_string(),
        p.parse().unwrap(),
    )
}
