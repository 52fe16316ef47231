//! TLS with libpq's sslmode semantics, against the harness's TLS server
//! (`PGPOOL_TEST_TLS_URL`, certificates in `PGPOOL_TEST_TLS_DIR`) and servers without TLS
//! (the main server and PgBouncer answer 'N' to the SSLRequest). Where psql is installed,
//! outcomes are cross-checked against libpq's for the same connection string.
mod common;

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::thread;
use std::time::{Duration, Instant};

use pgpool::config::{PoolConfig, PoolOverrides};
use pgpool::{Connection, Error, Pool};

/// The TLS server's port and the certificate directory, or `None` (the test skips).
fn tls_env() -> Option<(u16, PathBuf)> {
    let url = std::env::var("PGPOOL_TEST_TLS_URL")
        .ok()
        .filter(|s| !s.is_empty());
    let dir = std::env::var("PGPOOL_TEST_TLS_DIR")
        .ok()
        .filter(|s| !s.is_empty());
    match (url, dir) {
        (Some(u), Some(d)) => Some((common::host_port(&u).1, PathBuf::from(d))),
        _ => {
            eprintln!("PGPOOL_TEST_TLS_URL / PGPOOL_TEST_TLS_DIR not set (scripts/test-env with PGPOOL_TEST_TLS=1 sets them); skipping");
            None
        }
    }
}

struct Tls {
    port: u16,
    dir: PathBuf,
}

impl Tls {
    fn file(&self, name: &str) -> String {
        self.dir.join(name).display().to_string()
    }
    /// A keyword DSN for the TLS server.
    fn dsn(&self, host: &str, user: &str, extra: &str) -> String {
        format!(
            "host={host} port={} user={user} dbname=postgres connect_timeout=10 {extra}",
            self.port
        )
    }
    fn ca(&self) -> String {
        format!("sslrootcert={}", self.file("ca.crt"))
    }
}

fn tls() -> Option<Tls> {
    tls_env().map(|(port, dir)| Tls { port, dir })
}

fn config(dsn: &str) -> pgpool::error::Result<PoolConfig> {
    PoolConfig::new(Some(dsn), &PoolOverrides::default())
}

/// A pool's configuration, checked as a pool is built (TLS files included).
fn pool_config(dsn: &str) -> pgpool::error::Result<PoolConfig> {
    let cfg = config(dsn)?;
    let mut lazy = cfg.clone();
    lazy.min_size = 0;
    Pool::new(lazy).map(|_| cfg)
}

fn connect(dsn: &str) -> pgpool::error::Result<Connection> {
    Connection::connect(&config(dsn)?.connect)
}

fn scalar(c: &mut Connection, sql: &str) -> String {
    common::scalar(c, sql).unwrap_or_default()
}

/// What pg_stat_ssl says about this connection: (ssl, version).
fn stat_ssl(c: &mut Connection) -> (bool, String) {
    let r = c
        .simple_query(
            "SELECT ssl, coalesce(version, '') FROM pg_stat_ssl WHERE pid = pg_backend_pid()",
            None,
        )
        .unwrap();
    (
        r.get(0, 0) == Some(&b"t"[..]),
        String::from_utf8_lossy(r.get(0, 1).unwrap()).into_owned(),
    )
}

/// libpq's outcome for `dsn` through psql: Some(Ok(ssl in use)) / Some(Err(message)),
/// None when psql is not installed.
fn psql(dsn: &str) -> Option<Result<bool, String>> {
    let out = Command::new("psql")
        .args(["-X", "-A", "-t", "-d", dsn, "-c"])
        .arg("SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()")
        .output()
        .ok()?;
    Some(if out.status.success() {
        Ok(String::from_utf8_lossy(&out.stdout).trim() == "t")
    } else {
        Err(String::from_utf8_lossy(&out.stderr).into_owned())
    })
}

/// Connects with pgpool and (when psql is there) with libpq; both must agree on success
/// and on TLS being used. Returns pgpool's connection or error.
fn both(dsn: &str) -> pgpool::error::Result<Connection> {
    let ours = connect(dsn);
    if let Some(libpq) = psql(dsn) {
        match (&ours, &libpq) {
            (Ok(c), Ok(ssl)) => assert_eq!(
                c.ssl_in_use(),
                *ssl,
                "TLS use differs from libpq's for {dsn}"
            ),
            (Err(_), Err(_)) => {}
            (o, l) => panic!(
                "pgpool and libpq disagree for {dsn}:\n  pgpool: {:?}\n  libpq:  {l:?}",
                o.as_ref().map(|c| c.ssl_in_use())
            ),
        }
    }
    ours
}

fn assert_tls(c: &mut Connection) {
    assert!(c.ssl_in_use());
    let (ssl, version) = stat_ssl(c);
    assert!(ssl, "pg_stat_ssl says not encrypted");
    assert_eq!(version, "TLSv1.3");
}

fn assert_plain(c: &mut Connection) {
    assert!(!c.ssl_in_use());
    assert!(!stat_ssl(c).0, "pg_stat_ssl says encrypted");
}

fn connection_error(e: Error) -> String {
    match e {
        Error::Connection(m) => m,
        other => panic!("expected a connection error, got {other:?}"),
    }
}

#[test]
fn each_sslmode_against_the_tls_server() {
    let Some(t) = tls() else { return };
    for (mode, tls) in [
        ("disable", false),
        ("allow", false), // plain first, and the server takes it
        ("prefer", true),
        ("require", true),
        ("verify-ca", true),
        ("verify-full", true),
    ] {
        let dsn = t.dsn(
            "localhost",
            "postgres",
            &format!("sslmode={mode} {}", t.ca()),
        );
        let mut c = both(&dsn).unwrap_or_else(|e| panic!("{mode}: {e}"));
        if tls {
            assert_tls(&mut c);
        } else {
            assert_plain(&mut c);
        }
        assert_eq!(scalar(&mut c, "SELECT 6 * 7"), "42", "{mode}");
    }
    // No sslmode: prefer.
    let mut c = both(&t.dsn("localhost", "postgres", "")).unwrap();
    assert_tls(&mut c);
}

#[test]
fn each_sslmode_against_servers_without_tls() {
    let Some(t) = tls() else { return };
    let mut targets = vec![("PostgreSQL", common::host_port(&common::url()))];
    if let Some(b) = common::bouncer_url() {
        targets.push(("PgBouncer", common::host_port(&b)));
    }
    for (what, (host, port)) in targets {
        for mode in [
            "disable",
            "allow",
            "prefer",
            "require",
            "verify-ca",
            "verify-full",
        ] {
            let dsn = format!(
                "host={host} port={port} user=postgres dbname=postgres sslmode={mode} {}",
                t.ca()
            );
            match both(&dsn) {
                Ok(mut c) => {
                    assert!(
                        matches!(mode, "disable" | "allow" | "prefer"),
                        "{what} {mode}: connected"
                    );
                    assert!(!c.ssl_in_use());
                    assert_eq!(scalar(&mut c, "SELECT 1"), "1");
                }
                Err(e) => {
                    assert!(
                        matches!(mode, "require" | "verify-ca" | "verify-full"),
                        "{what} {mode}: {e}"
                    );
                    let m = connection_error(e);
                    assert!(
                        m.contains("server does not support SSL, but SSL was required"),
                        "{m}"
                    );
                    assert!(m.contains(&format!("port {port}")), "{m}");
                }
            }
        }
    }
}

#[test]
fn verify_full_checks_the_host_name() {
    let Some(t) = tls() else { return };
    let mut c = both(&t.dsn(
        "localhost",
        "postgres",
        &format!("sslmode=verify-full {}", t.ca()),
    ))
    .unwrap();
    assert_tls(&mut c);
    // The certificate names DNS:localhost only.
    let e = both(&t.dsn(
        "127.0.0.1",
        "postgres",
        &format!("sslmode=verify-full {}", t.ca()),
    ))
    .unwrap_err();
    let m = connection_error(e);
    assert!(
        m.contains("server certificate for \"localhost\" does not match host name \"127.0.0.1\""),
        "{m}"
    );
    assert!(m.contains("connection to server at \"127.0.0.1\""), "{m}");
    // verify-ca does not look at the name.
    let mut c = both(&t.dsn(
        "127.0.0.1",
        "postgres",
        &format!("sslmode=verify-ca {}", t.ca()),
    ))
    .unwrap();
    assert_tls(&mut c);
}

#[test]
fn a_certificate_from_another_ca_is_refused() {
    let Some(t) = tls() else { return };
    let wrong = format!("sslrootcert={}", t.file("wrong-ca.crt"));
    for mode in ["verify-ca", "verify-full", "require"] {
        // require with a root certificate behaves like verify-ca (libpq).
        let e =
            both(&t.dsn("localhost", "postgres", &format!("sslmode={mode} {wrong}"))).unwrap_err();
        let m = connection_error(e);
        assert!(m.contains("certificate verify failed"), "{mode}: {m}");
        assert!(m.contains("wrong-ca.crt"), "{mode}: {m}");
    }
    // prefer makes libpq's second attempt without TLS after the failed handshake.
    let mut c = both(&t.dsn("localhost", "postgres", &format!("sslmode=prefer {wrong}"))).unwrap();
    assert_plain(&mut c);
}

#[test]
fn allow_and_prefer_make_a_second_attempt_after_a_server_error() {
    let Some(t) = tls() else { return };
    // tlsonly: pg_hba rejects it without TLS. allow tries plain, then TLS.
    let mut c = both(&t.dsn("localhost", "tlsonly", "sslmode=allow")).unwrap();
    assert_tls(&mut c);
    assert_eq!(scalar(&mut c, "SELECT current_user"), "tlsonly");
    let e = both(&t.dsn("localhost", "tlsonly", "sslmode=disable")).unwrap_err();
    assert!(e.to_string().contains("no encryption"), "{e}");
    // plainonly: pg_hba rejects it over TLS. prefer tries TLS, then plain.
    let mut c = both(&t.dsn("localhost", "plainonly", "sslmode=prefer")).unwrap();
    assert_plain(&mut c);
    assert_eq!(scalar(&mut c, "SELECT current_user"), "plainonly");
    let e = both(&t.dsn("localhost", "plainonly", "sslmode=require")).unwrap_err();
    assert!(e.to_string().contains("SSL encryption"), "{e}");
    assert_eq!(e.sqlstate(), Some("28000"));
}

#[test]
fn client_certificate_login() {
    let Some(t) = tls() else { return };
    let certs = format!(
        "sslcert={} sslkey={}",
        t.file("client.crt"),
        t.file("client.key")
    );
    let dsn = t.dsn(
        "localhost",
        "certuser",
        &format!("sslmode=verify-full {} {certs}", t.ca()),
    );
    let mut c = both(&dsn).unwrap();
    assert_tls(&mut c);
    assert_eq!(scalar(&mut c, "SELECT current_user"), "certuser");
    let r = c
        .simple_query(
            "SELECT client_dn FROM pg_stat_ssl WHERE pid = pg_backend_pid()",
            None,
        )
        .unwrap();
    assert_eq!(r.get(0, 0), Some(&b"/CN=certuser"[..]));

    // Through a pool too.
    let pool = common::pool_on(&dsn, &common::overrides(1, 2));
    let mut pc = pool.get(None).unwrap();
    assert_eq!(scalar(&mut pc, "SELECT current_user"), "certuser");
    drop(pc);

    // Without the certificate the server refuses.
    let none = format!("sslcert={} ", t.file("no-such.crt"));
    let e = both(&t.dsn(
        "localhost",
        "certuser",
        &format!("sslmode=verify-full {} {none}", t.ca()),
    ))
    .unwrap_err();
    assert!(e.to_string().contains("certificate"), "{e}");
}

#[test]
fn unusable_tls_files_are_config_errors_naming_the_setting() {
    let Some(t) = tls() else { return };
    let tmp = std::env::temp_dir().join(format!("pgpool-tls-test-{}", std::process::id()));
    std::fs::create_dir_all(&tmp).unwrap();
    let setting = |dsn: &str| match pool_config(dsn) {
        Err(Error::Config { setting, message }) => (setting, message),
        other => panic!("{dsn}: expected a config error, got {other:?}"),
    };

    let (s, m) = setting(&t.dsn(
        "localhost",
        "postgres",
        "sslmode=verify-full sslrootcert=/nonexistent/root.crt",
    ));
    assert_eq!(s, "sslrootcert");
    assert!(
        m.contains("\"/nonexistent/root.crt\" does not exist"),
        "{m}"
    );

    let garbage = tmp.join("garbage.crt");
    std::fs::write(&garbage, "not a certificate\n").unwrap();
    let (s, m) = setting(&t.dsn(
        "localhost",
        "postgres",
        &format!("sslmode=verify-ca sslrootcert={}", garbage.display()),
    ));
    assert_eq!(s, "sslrootcert");
    assert!(m.contains("garbage.crt"), "{m}");

    // A certificate without its key.
    let (s, m) = setting(&t.dsn(
        "localhost",
        "certuser",
        &format!(
            "sslcert={} sslkey={}",
            t.file("client.crt"),
            tmp.join("missing.key").display()
        ),
    ));
    assert_eq!(s, "sslkey");
    assert!(
        m.contains("certificate present, but not private key file"),
        "{m}"
    );

    // A key others can read (libpq refuses it too).
    let loose = tmp.join("loose.key");
    std::fs::copy(t.file("client.key"), &loose).unwrap();
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&loose, std::fs::Permissions::from_mode(0o644)).unwrap();
    }
    let (s, m) = setting(&t.dsn(
        "localhost",
        "certuser",
        &format!(
            "sslcert={} sslkey={}",
            t.file("client.crt"),
            loose.display()
        ),
    ));
    assert_eq!(s, "sslkey");
    assert!(m.contains("has group or world access"), "{m}");

    // A key that does not belong to the certificate.
    let other = tmp.join("other.key");
    std::fs::copy(t.dir.join("wrong-ca.key"), &other).unwrap();
    let (s, m) = setting(&t.dsn(
        "localhost",
        "certuser",
        &format!(
            "sslcert={} sslkey={}",
            t.file("client.crt"),
            other.display()
        ),
    ));
    assert_eq!(s, "sslkey");
    assert!(m.contains("does not match"), "{m}");

    // An explicit CRL must be usable.
    let (s, _) = setting(&t.dsn(
        "localhost",
        "postgres",
        &format!(
            "sslmode=verify-full {} sslcrl=/nonexistent/root.crl",
            t.ca()
        ),
    ));
    assert_eq!(s, "sslcrl");

    // TLS settings do not matter on a Unix socket (libpq ignores sslmode there).
    assert!(pool_config("host=/tmp sslmode=verify-full sslrootcert=/nonexistent/root.crt").is_ok());
    let _ = std::fs::remove_dir_all(&tmp);
}

#[test]
fn certificate_revocation_lists() {
    let Some(t) = tls() else { return };
    let dsn = |crl: &str| {
        t.dsn(
            "localhost",
            "postgres",
            &format!("sslmode=verify-full {} sslcrl={}", t.ca(), t.file(crl)),
        )
    };
    let mut c = both(&dsn("crl-empty.pem")).unwrap();
    assert_tls(&mut c);
    let m = connection_error(both(&dsn("crl-revoked.pem")).unwrap_err());
    assert!(
        m.contains("certificate verify failed") && m.contains("revoked"),
        "{m}"
    );
}

#[test]
fn sslrootcert_system_uses_the_platform_roots() {
    let Some(t) = tls() else { return };
    // The test CA is not among the platform's roots: the chain is checked against them.
    let dsn = t.dsn("localhost", "postgres", "sslrootcert=system");
    match connect(&dsn) {
        Err(Error::Connection(m)) => assert!(m.contains("certificate verify failed"), "{m}"),
        // A machine without any root certificate says so, naming the setting.
        Err(Error::Config { setting, .. }) => assert_eq!(setting, "sslrootcert"),
        other => panic!("{other:?}"),
    }
}

#[test]
fn unix_sockets_ignore_sslmode() {
    let Ok(dir) = std::env::var("PGPOOL_TEST_TMPDIR") else {
        return;
    };
    let (_, port) = common::host_port(&common::url());
    let dsn = format!("host={dir} port={port} user=postgres dbname=postgres sslmode=require");
    let mut c = both(&dsn).unwrap();
    assert!(!c.ssl_in_use());
    assert_eq!(scalar(&mut c, "SELECT 1"), "1");
}

#[test]
fn pool_connections_are_encrypted() {
    let Some(t) = tls() else { return };
    let dsn = t.dsn(
        "localhost",
        "postgres",
        &format!(
            "sslmode=verify-full {} application_name=pgpool-tls-pool",
            t.ca()
        ),
    );
    let pool: Pool = common::pool_on(&dsn, &common::overrides(3, 3));
    let held: Vec<_> = (0..3).map(|_| pool.get(None).unwrap()).collect();
    let pids: Vec<String> = held.iter().map(|c| c.backend_pid().to_string()).collect();
    let mut admin = connect(&t.dsn("localhost", "postgres", "sslmode=disable")).unwrap();
    let r = admin
        .simple_query(
            &format!(
                "SELECT s.ssl, s.version, a.application_name FROM pg_stat_ssl s \
                 JOIN pg_stat_activity a USING (pid) WHERE pid IN ({}) ORDER BY pid",
                pids.join(",")
            ),
            None,
        )
        .unwrap();
    assert_eq!(r.nrows(), 3);
    for i in 0..3 {
        assert_eq!(r.get(i, 0), Some(&b"t"[..]));
        assert_eq!(r.get(i, 1), Some(&b"TLSv1.3"[..]));
        assert_eq!(r.get(i, 2), Some(&b"pgpool-tls-pool"[..]));
    }
}

#[test]
fn scram_over_tls_with_channel_binding() {
    let Some(t) = tls() else { return };
    // Over TLS the server offers SCRAM-SHA-256-PLUS and pgpool binds to the certificate
    // (tls-server-end-point); a wrong binding would fail authentication.
    for mode in ["require", "verify-full", "disable"] {
        let mut c = both(&t.dsn(
            "localhost",
            "scramuser",
            &format!("password=scram-secret sslmode={mode} {}", t.ca()),
        ))
        .unwrap_or_else(|e| panic!("{mode}: {e}"));
        assert_eq!(c.ssl_in_use(), mode != "disable");
        assert_eq!(scalar(&mut c, "SELECT current_user"), "scramuser");
    }
    let e =
        connect(&t.dsn("localhost", "scramuser", "password=wrong sslmode=require")).unwrap_err();
    assert_eq!(e.sqlstate(), Some("28P01"), "{e:?}");
}

/// A proxy that forwards the server's bytes in two halves with a pause longer than the
/// connection's read poll interval (100 ms) in between: every TLS record read is cut in
/// the middle by a read timeout.
fn slow_proxy(upstream: u16, pause: Duration) -> u16 {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    thread::spawn(move || {
        for client in l.incoming() {
            let Ok(mut client) = client else { return };
            let Ok(mut server) = TcpStream::connect(("127.0.0.1", upstream)) else {
                continue;
            };
            let _ = client.set_nodelay(true);
            let _ = server.set_nodelay(true);
            let mut c2 = client.try_clone().unwrap();
            let mut s2 = server.try_clone().unwrap();
            thread::spawn(move || {
                let mut buf = vec![0u8; 1 << 16];
                while let Ok(n @ 1..) = client.read(&mut buf) {
                    if server.write_all(&buf[..n]).is_err() {
                        break;
                    }
                }
                let _ = server.shutdown(std::net::Shutdown::Both);
            });
            thread::spawn(move || {
                let mut buf = vec![0u8; 1 << 16];
                while let Ok(n @ 1..) = s2.read(&mut buf) {
                    let half = n.div_ceil(2);
                    if c2.write_all(&buf[..half]).is_err() {
                        break;
                    }
                    thread::sleep(pause);
                    if c2.write_all(&buf[half..n]).is_err() {
                        break;
                    }
                }
                let _ = c2.shutdown(std::net::Shutdown::Both);
            });
        }
    });
    port
}

#[test]
fn reads_time_out_mid_record_and_carry_on() {
    let Some(t) = tls() else { return };
    // A slow statement: the connection wakes up every 100 ms (the interrupt hook runs)
    // while the answer is pending, then reads it.
    let mut c = connect(&t.dsn(
        "localhost",
        "postgres",
        &format!("sslmode=verify-full {}", t.ca()),
    ))
    .unwrap();
    let ticks = AtomicUsize::new(0);
    let hook = || {
        ticks.fetch_add(1, Ordering::Relaxed);
        false
    };
    let started = Instant::now();
    let r = c
        .simple_query("SELECT pg_sleep(0.5), 'done'", Some(&hook))
        .unwrap();
    assert_eq!(r.get(0, 1), Some(&b"done"[..]));
    assert!(started.elapsed() >= Duration::from_millis(500));
    assert!(ticks.load(Ordering::Relaxed) >= 3, "{ticks:?}");

    // Every record cut in two by a 150 ms pause: the handshake, the startup and a large
    // result arrive through read timeouts in the middle of TLS records.
    let port = slow_proxy(t.port, Duration::from_millis(150));
    let dsn = format!(
        "host=localhost port={port} user=postgres dbname=postgres sslmode=verify-full {}",
        t.ca()
    );
    let mut c = connect(&dsn).unwrap();
    assert!(c.ssl_in_use());
    let ticks = AtomicUsize::new(0);
    let hook = || {
        ticks.fetch_add(1, Ordering::Relaxed);
        false
    };
    let r = c
        .simple_query(
            "SELECT i, repeat('x', 100) FROM generate_series(1, 3000) i",
            Some(&hook),
        )
        .unwrap();
    assert_eq!(r.nrows(), 3000);
    assert_eq!(r.get(2999, 0), Some(&b"3000"[..]));
    assert_eq!(r.get(2999, 1).map(|v| v.len()), Some(100));
    assert!(ticks.load(Ordering::Relaxed) >= 1, "no read timed out");
    assert_eq!(scalar(&mut c, "SELECT 'still in sync'"), "still in sync");
}

#[test]
fn cancel_goes_over_tls() {
    let Some(t) = tls() else { return };
    // A recording proxy in front of the TLS server sees the cancel connection open with
    // an SSLRequest too.
    let proxy = common::Proxy::start(("127.0.0.1".into(), t.port));
    let dsn = format!(
        "host=localhost port={} user=postgres dbname=postgres sslmode=verify-full {}",
        proxy.port,
        t.ca()
    );
    let mut c = connect(&dsn).unwrap();
    assert!(c.ssl_in_use());
    const SSL_REQUEST: [u8; 8] = [0, 0, 0, 8, 0x04, 0xd2, 0x16, 0x2f];
    let ssl_requests = || {
        proxy
            .chunks
            .lock()
            .unwrap()
            .iter()
            .filter(|ch| ch.starts_with(&SSL_REQUEST))
            .count()
    };
    assert_eq!(ssl_requests(), 1);
    let started = Instant::now();
    let hook = || started.elapsed() > Duration::from_millis(300);
    let e = c
        .simple_query("SELECT pg_sleep(30)", Some(&hook))
        .unwrap_err();
    assert_eq!(e.sqlstate(), Some("57014"), "{e:?}");
    assert!(started.elapsed() < Duration::from_secs(10));
    assert_eq!(
        ssl_requests(),
        2,
        "the cancel request did not start with SSLRequest"
    );
    // The connection is still usable.
    assert!(!c.is_broken());
    assert_eq!(scalar(&mut c, "SELECT 'after cancel'"), "after cancel");

    // A plain connection cancels on a plain socket.
    let mut c = connect(&format!(
        "host=127.0.0.1 port={} user=postgres dbname=postgres sslmode=disable",
        proxy.port
    ))
    .unwrap();
    let before = ssl_requests();
    let started = Instant::now();
    let hook = || started.elapsed() > Duration::from_millis(300);
    let e = c
        .simple_query("SELECT pg_sleep(30)", Some(&hook))
        .unwrap_err();
    assert_eq!(e.sqlstate(), Some("57014"), "{e:?}");
    assert_eq!(ssl_requests(), before);
}

#[test]
fn a_terminated_tls_backend_is_detected() {
    let Some(t) = tls() else { return };
    let dsn = t.dsn(
        "localhost",
        "postgres",
        &format!("sslmode=verify-full {}", t.ca()),
    );
    let pool = common::pool_on(&dsn, &common::overrides(1, 1));
    let pid = pool.get(None).unwrap().backend_pid();
    let mut admin = connect(&dsn).unwrap();
    scalar(&mut admin, &format!("SELECT pg_terminate_backend({pid})"));
    // Idle longer than the pre-ping window: the pool's non-blocking check sees it closed.
    thread::sleep(Duration::from_millis(700));
    let mut c = pool.get(None).unwrap();
    assert_ne!(c.backend_pid(), pid, "a dead TLS connection was handed out");
    assert_eq!(scalar(&mut c, "SELECT 1"), "1");

    // In use: fails once as a connection error.
    let pid = c.backend_pid();
    scalar(&mut admin, &format!("SELECT pg_terminate_backend({pid})"));
    thread::sleep(Duration::from_millis(100));
    let e = c.simple_query("SELECT 1", None).unwrap_err();
    assert!(e.is_connection_error(), "{e:?}");
    assert!(c.is_broken());
}

#[test]
fn tls_env_is_complete() {
    // The harness exports both variables or neither.
    let Some((_, dir)) = tls_env() else { return };
    for f in [
        "ca.crt",
        "wrong-ca.crt",
        "client.crt",
        "client.key",
        "crl-empty.pem",
        "crl-revoked.pem",
    ] {
        assert!(dir.join(f).is_file(), "{f} missing in {}", dir.display());
    }
}
