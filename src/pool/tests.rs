//! Pool policy without a database: FIFO service, timeouts naming the last error,
//! `max_waiting`, `min_size`, lifetime and idle reaping, resize, close — against
//! [`FakeServer`], a few lines of the PostgreSQL protocol in a thread (startup, simple
//! queries, terminate), so the pool's own code runs for real, sockets included.

use super::*;
use crate::config::PoolOverrides;

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::AtomicU32;
use std::sync::mpsc;

/// A PostgreSQL server that knows just enough protocol for a pool: it accepts every
/// startup (trust), answers simple queries with an empty result (and the post-startup
/// check with its own backend pid, so it does not look like a pooler), tracks the
/// transaction status BEGIN/COMMIT/ROLLBACK set, and counts connections.
struct FakeServer {
    port: u16,
    /// Connections accepted so far.
    accepted: Arc<AtomicUsize>,
    /// Connections open now.
    open: Arc<AtomicUsize>,
    /// While set, new connections are closed at once (the server "refuses").
    refuse: Arc<AtomicBool>,
}

impl FakeServer {
    fn start() -> FakeServer {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let accepted = Arc::new(AtomicUsize::new(0));
        let open = Arc::new(AtomicUsize::new(0));
        let refuse = Arc::new(AtomicBool::new(false));
        let (a, o, r) = (accepted.clone(), open.clone(), refuse.clone());
        thread::spawn(move || {
            static PID: AtomicU32 = AtomicU32::new(1000);
            for stream in listener.incoming() {
                let Ok(stream) = stream else { continue };
                if r.load(Ordering::SeqCst) {
                    drop(stream);
                    continue;
                }
                a.fetch_add(1, Ordering::SeqCst);
                o.fetch_add(1, Ordering::SeqCst);
                let o = o.clone();
                let pid = PID.fetch_add(1, Ordering::SeqCst);
                thread::spawn(move || {
                    let _ = serve(stream, pid);
                    o.fetch_sub(1, Ordering::SeqCst);
                });
            }
        });
        FakeServer {
            port,
            accepted,
            open,
            refuse,
        }
    }

    fn dsn(&self) -> String {
        format!(
            "host=127.0.0.1 port={} user=fake dbname=fake sslmode=disable",
            self.port
        )
    }

    fn accepted(&self) -> usize {
        self.accepted.load(Ordering::SeqCst)
    }

    fn open(&self) -> usize {
        self.open.load(Ordering::SeqCst)
    }
}

fn msg(out: &mut Vec<u8>, kind: u8, body: &[u8]) {
    out.push(kind);
    out.extend_from_slice(&(body.len() as u32 + 4).to_be_bytes());
    out.extend_from_slice(body);
}

fn cstr(b: &mut Vec<u8>, s: &str) {
    b.extend_from_slice(s.as_bytes());
    b.push(0);
}

fn read_exact(s: &mut TcpStream, n: usize) -> std::io::Result<Vec<u8>> {
    let mut buf = vec![0; n];
    s.read_exact(&mut buf)?;
    Ok(buf)
}

fn serve(mut s: TcpStream, pid: u32) -> std::io::Result<()> {
    // Startup packet (an SSLRequest first would get 'N'; sslmode=disable sends none).
    let len = u32::from_be_bytes(read_exact(&mut s, 4)?.try_into().unwrap()) as usize;
    read_exact(&mut s, len - 4)?;
    let mut out = Vec::new();
    msg(&mut out, b'R', &0u32.to_be_bytes());
    for (k, v) in [
        ("server_version", "15.0"),
        ("server_encoding", "UTF8"),
        ("client_encoding", "UTF8"),
        ("DateStyle", "ISO, MDY"),
        ("integer_datetimes", "on"),
        ("standard_conforming_strings", "on"),
    ] {
        let mut b = Vec::new();
        cstr(&mut b, k);
        cstr(&mut b, v);
        msg(&mut out, b'S', &b);
    }
    let mut k = pid.to_be_bytes().to_vec();
    k.extend_from_slice(&7u32.to_be_bytes());
    msg(&mut out, b'K', &k);
    msg(&mut out, b'Z', b"I");
    s.write_all(&out)?;
    let mut status = b'I';
    loop {
        let head = read_exact(&mut s, 5)?;
        let len = u32::from_be_bytes(head[1..5].try_into().unwrap()) as usize;
        let body = read_exact(&mut s, len - 4)?;
        match head[0] {
            b'X' => return Ok(()),
            b'Q' => {
                let text = String::from_utf8_lossy(&body[..body.len() - 1]).into_owned();
                let mut out = Vec::new();
                if text.trim().is_empty() {
                    msg(&mut out, b'I', &[]);
                } else if text.contains("pg_backend_pid()") {
                    let mut t = 3u16.to_be_bytes().to_vec();
                    for name in ["pid", "ro", "rec"] {
                        cstr(&mut t, name);
                        t.extend_from_slice(&[0; 6]); // table oid, column number
                        t.extend_from_slice(&25u32.to_be_bytes()); // text
                        t.extend_from_slice(&(-1i16).to_be_bytes());
                        t.extend_from_slice(&(-1i32).to_be_bytes());
                        t.extend_from_slice(&0u16.to_be_bytes());
                    }
                    msg(&mut out, b'T', &t);
                    let mut d = 3u16.to_be_bytes().to_vec();
                    for v in [pid.to_string(), "off".into(), "f".into()] {
                        d.extend_from_slice(&(v.len() as u32).to_be_bytes());
                        d.extend_from_slice(v.as_bytes());
                    }
                    msg(&mut out, b'D', &d);
                    let mut c = Vec::new();
                    cstr(&mut c, "SELECT 1");
                    msg(&mut out, b'C', &c);
                } else {
                    for stmt in text.split(';').map(str::trim).filter(|t| !t.is_empty()) {
                        let word = stmt
                            .split_whitespace()
                            .next()
                            .unwrap_or_default()
                            .to_ascii_uppercase();
                        let tag = match word.as_str() {
                            "BEGIN" => {
                                status = b'T';
                                "BEGIN"
                            }
                            "COMMIT" | "ROLLBACK" => {
                                status = b'I';
                                if word == "COMMIT" {
                                    "COMMIT"
                                } else {
                                    "ROLLBACK"
                                }
                            }
                            "SET" | "RESET" => "SET",
                            _ => "SELECT 0",
                        };
                        let mut c = Vec::new();
                        cstr(&mut c, tag);
                        msg(&mut out, b'C', &c);
                    }
                }
                msg(&mut out, b'Z', &[status]);
                s.write_all(&out)?;
            }
            // Nothing else is used by these tests.
            _ => return Ok(()),
        }
    }
}

fn pool(server: &FakeServer, o: PoolOverrides) -> Pool {
    Pool::new(PoolConfig::new(Some(&server.dsn()), &o).unwrap()).unwrap()
}

fn sizes(min: usize, max: usize) -> PoolOverrides {
    PoolOverrides {
        min_size: Some(min),
        max_size: Some(max),
        ..Default::default()
    }
}

/// Waits (up to 10 s) for `cond`; false if it never held. Only a bound on how long a
/// test may take, never what it checks.
fn eventually(mut cond: impl FnMut() -> bool) -> bool {
    let until = Instant::now() + Duration::from_secs(10);
    while Instant::now() < until {
        if cond() {
            return true;
        }
        thread::sleep(Duration::from_millis(5));
    }
    cond()
}

#[test]
fn a_fake_server_serves_a_checkout() {
    let server = FakeServer::start();
    let p = pool(&server, sizes(0, 2));
    let mut c = p.get(None).unwrap();
    c.begin(&Default::default());
    c.simple_query("SELECT 1", None).unwrap();
    assert_eq!(c.transaction_status(), crate::TxStatus::InTransaction);
    assert!(!c.behind_pooler());
    drop(c);
    let s = p.stats();
    assert_eq!((s.pool_size, s.in_use, s.pool_available), (1, 0, 1));
    assert_eq!(server.accepted(), 1);
}

#[test]
fn waiters_are_served_in_arrival_order() {
    let server = FakeServer::start();
    let p = pool(&server, sizes(0, 1));
    let held = p.get(None).unwrap();
    let (tx, rx) = mpsc::channel();
    let mut threads = Vec::new();
    for i in 0..5 {
        let (p2, tx) = (p.clone(), tx.clone());
        threads.push(thread::spawn(move || {
            let c = p2.get(Some(Duration::from_secs(30))).unwrap();
            tx.send(i).unwrap();
            drop(c);
        }));
        // The next waiter arrives only once this one is queued.
        assert!(eventually(|| p.stats().requests_waiting == i + 1));
    }
    drop(held);
    for t in threads {
        t.join().unwrap();
    }
    let order: Vec<usize> = rx.try_iter().collect();
    assert_eq!(order, [0, 1, 2, 3, 4]);
}

#[test]
fn a_timeout_names_the_last_connection_error() {
    let server = FakeServer::start();
    server.refuse.store(true, Ordering::SeqCst);
    let p = pool(&server, sizes(0, 1));
    let e = p.get(Some(Duration::from_millis(300))).unwrap_err();
    assert!(matches!(e, Error::Timeout { .. }), "{e:?}");
    let text = e.to_string();
    assert!(
        text.contains("last connection error: connection to server at \"127.0.0.1\""),
        "{text}"
    );
    assert!(
        text.contains("server closed the connection unexpectedly"),
        "{text}"
    );
    assert!(p.stats().requests_timeouts >= 1);
    // The server comes back: the next checkout connects.
    server.refuse.store(false, Ordering::SeqCst);
    assert!(p.get(Some(Duration::from_secs(10))).is_ok());
}

#[test]
fn a_full_pool_times_out_and_max_waiting_rejects_at_once() {
    let server = FakeServer::start();
    let p = pool(
        &server,
        PoolOverrides {
            max_waiting: Some(1),
            ..sizes(0, 1)
        },
    );
    let held = p.get(None).unwrap();
    let e = p.get(Some(Duration::from_millis(100))).unwrap_err();
    assert!(matches!(e, Error::Timeout { .. }), "{e:?}");

    let p2 = p.clone();
    let waiter = thread::spawn(move || p2.get(Some(Duration::from_secs(30))).map(drop));
    assert!(eventually(|| p.stats().requests_waiting == 1));
    let e = p.get(Some(Duration::from_secs(30))).unwrap_err();
    assert!(
        matches!(e, Error::TooManyRequests { max_waiting: 1 }),
        "{e:?}"
    );
    assert_eq!(p.stats().requests_rejected, 1);
    drop(held);
    waiter.join().unwrap().unwrap();
}

#[test]
fn min_size_is_opened_in_the_background_and_lazy_min_waits_for_checkouts() {
    let server = FakeServer::start();
    let p = pool(&server, sizes(3, 5));
    assert!(eventually(|| p.stats().pool_size == 3));
    assert_eq!(server.open(), 3);

    let lazy_server = FakeServer::start();
    let lazy = pool(
        &lazy_server,
        PoolOverrides {
            lazy_min: Some(true),
            ..sizes(2, 5)
        },
    );
    thread::sleep(MAINTENANCE_INTERVAL * 3);
    assert_eq!(lazy_server.accepted(), 0);
    drop(lazy.get(None).unwrap());
    assert_eq!(lazy_server.accepted(), 1);
}

#[test]
fn lifetime_and_idle_limits_replace_connections() {
    let server = FakeServer::start();
    let p = pool(
        &server,
        PoolOverrides {
            max_lifetime: Some(Some(Duration::from_millis(200))),
            ..sizes(1, 2)
        },
    );
    assert!(eventually(|| server.accepted() >= 1));
    // Replaced (closed and opened again) once past its lifetime, min_size kept.
    assert!(eventually(
        || p.stats().recycled_lifetime >= 1 && server.accepted() >= 2
    ));
    assert!(eventually(|| p.stats().pool_size == 1));

    let idle_server = FakeServer::start();
    let idle = pool(
        &idle_server,
        PoolOverrides {
            max_idle: Some(Some(Duration::from_millis(200))),
            ..sizes(0, 3)
        },
    );
    let (a, b) = (idle.get(None).unwrap(), idle.get(None).unwrap());
    drop((a, b));
    assert_eq!(idle.stats().pool_size, 2);
    // Idle past max_idle and above min_size (0): closed.
    assert!(eventually(
        || idle.stats().pool_size == 0 && idle_server.open() == 0
    ));
    assert!(idle.stats().recycled_idle >= 2);
}

#[test]
fn resize_and_close() {
    let server = FakeServer::start();
    let p = pool(&server, sizes(0, 1));
    let held = p.get(None).unwrap();
    assert!(p.get(Some(Duration::from_millis(50))).is_err());
    p.resize(0, 2).unwrap();
    let second = p.get(Some(Duration::from_secs(10))).unwrap();
    assert_eq!(p.stats().pool_max, 2);
    assert!(p.resize(3, 2).is_err());
    drop((held, second));
    p.close();
    assert!(p.is_closed());
    assert!(matches!(p.get(None), Err(Error::Closed)));
    assert!(eventually(|| server.open() == 0));
}

#[test]
fn a_broken_connection_is_not_reused() {
    let server = FakeServer::start();
    let p = pool(&server, sizes(0, 1));
    let mut c = p.get(None).unwrap();
    c.mark_broken();
    drop(c);
    assert!(eventually(|| server.open() == 0));
    drop(p.get(None).unwrap());
    assert_eq!(server.accepted(), 2);
}

#[test]
fn oldest_wait_is_the_age_of_the_oldest_waiter_now() {
    let server = FakeServer::start();
    let p = pool(&server, sizes(0, 1));
    assert_eq!(p.stats().oldest_wait_ms, 0);
    let held = p.get(None).unwrap();
    let p2 = p.clone();
    let waiter = thread::spawn(move || p2.get(Some(Duration::from_secs(30))).map(drop));
    assert!(eventually(|| p.stats().requests_waiting == 1));
    thread::sleep(Duration::from_millis(200));
    let s = p.stats();
    assert!(s.oldest_wait_ms >= 200, "{}", s.oldest_wait_ms);
    drop(held);
    waiter.join().unwrap().unwrap();
    let s = p.stats();
    assert_eq!(s.oldest_wait_ms, 0, "nobody waits now");
    assert!(s.max_wait_ms >= 200, "the high-water mark stays");
    // A waiter that times out leaves the list too.
    let held = p.get(None).unwrap();
    assert!(p.get(Some(Duration::from_millis(50))).is_err());
    assert_eq!(p.stats().oldest_wait_ms, 0);
    drop(held);
}

#[test]
fn password_command_output_errors_and_timeout() {
    let ok = super::command_provider("printf 's3cr:et\\n'".into(), Duration::from_secs(5));
    assert_eq!(ok().unwrap(), "s3cr:et");
    let failing = super::command_provider(
        "echo 'token service unreachable' >&2; exit 3".into(),
        Duration::from_secs(5),
    );
    let e = failing().unwrap_err();
    assert!(
        e.contains("failed") && e.contains("token service unreachable"),
        "{e}"
    );
    let empty = super::command_provider("true".into(), Duration::from_secs(5));
    assert!(empty().unwrap_err().contains("printed nothing"));
    let t = std::time::Instant::now();
    let slow = super::command_provider("sleep 10".into(), Duration::from_millis(10));
    assert!(slow().unwrap_err().contains("did not finish"));
    assert!(t.elapsed() < Duration::from_secs(5), "{:?}", t.elapsed());
}
