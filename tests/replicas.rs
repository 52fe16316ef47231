//! Read/write split over a real streaming replica, and failover of a multi-host DSN
//!. One test function: it builds a standby from the throwaway primary, then
//! stops the primary and promotes the standby, so nothing may run beside it.
mod common;

use std::process::Command;
use std::thread;
use std::time::{Duration, Instant};

use pgpool::config::{PoolConfig, PoolOverrides};
use pgpool::Pool;

struct Standby {
    runas: String,
    bin: String,
    dir: String,
    port: u16,
}

impl Standby {
    fn ctl(&self, args: &[&str]) -> bool {
        Command::new(&self.runas)
            .arg(format!("{}/pg_ctl", self.bin))
            .args(["-D", &self.dir])
            .args(args)
            .stdout(std::process::Stdio::null())
            .status()
            .map(|s| s.success())
            .unwrap_or(false)
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn build_standby() -> Option<Standby> {
    let runas = std::env::var("PGPOOL_TEST_RUNAS").ok()?;
    let bin = std::env::var("PGPOOL_TEST_PGBIN").ok()?;
    let tmp = std::env::var("PGPOOL_TEST_TMPDIR").ok()?;
    let (_, pport) = common::host_port(&common::url());
    let dir = format!("{tmp}/standby");
    let port = free_port();
    let ok = Command::new(&runas)
        .arg(format!("{bin}/pg_basebackup"))
        .args([
            "-h",
            "127.0.0.1",
            "-p",
            &pport.to_string(),
            "-U",
            "postgres",
            "-D",
            &dir,
            "-R",
            "-X",
            "stream",
        ])
        .status()
        .expect("pg_basebackup")
        .success();
    assert!(ok, "pg_basebackup failed");
    // its own port and socket dir
    let conf = format!("{dir}/postgresql.auto.conf");
    let add = format!("port = {port}\nunix_socket_directories = '{tmp}'\n");
    let st = Command::new(&runas)
        .args(["sh", "-c", &format!("printf %s \"$0\" >> {conf}",), &add])
        .status()
        .unwrap();
    assert!(st.success());
    let s = Standby {
        runas,
        bin,
        dir,
        port,
    };
    assert!(
        s.ctl(&["-l", &format!("{tmp}/standby.log"), "-w", "start"]),
        "standby start"
    );
    Some(s)
}

fn in_recovery(c: &mut pgpool::Connection) -> bool {
    common::scalar(c, "SELECT pg_is_in_recovery()").as_deref() == Some("t")
}

#[test]
fn readonly_routing_and_failover() {
    if common::pgctl(&["status"]).is_none() {
        eprintln!("no throwaway server (user DATABASE_URL); skipping");
        return;
    }
    let standby = build_standby().expect("harness variables");
    let primary = common::url();
    let (_, pport) = common::host_port(&primary);
    let replica = format!("postgresql://postgres@127.0.0.1:{}/postgres", standby.port);

    // 1. readonly work goes to the replica, writes to the primary
    let mut o = common::overrides(1, 4);
    o.replicas = vec![replica.clone()];
    let pool = Pool::new(PoolConfig::new(Some(&primary), &o).unwrap()).unwrap();
    for _ in 0..4 {
        let mut c = pool.get_readonly(None).unwrap();
        assert!(in_recovery(&mut c), "readonly work ran on the primary");
    }
    let mut c = pool.get(None).unwrap();
    assert!(!in_recovery(&mut c));
    drop(c);

    // 1b. a server that became a standby under a pool for writes (what a failover
    // behind a pooler or a virtual IP looks like; here the pool is simply pointed at
    // the standby): the refused write says it may be retried, the connection is
    // retired with every other one of before, and nothing asked-for counts.
    let rw = Pool::new(
        PoolConfig::new(
            Some(&format!(
                "host=127.0.0.1 port={} user=postgres dbname=postgres",
                standby.port
            )),
            &common::overrides(2, 4),
        )
        .unwrap(),
    )
    .unwrap();
    rw.wait_ready(Duration::from_secs(10)).unwrap();
    let first_pid;
    let refused = Instant::now();
    {
        let mut c = rw.get(None).unwrap();
        first_pid = c.backend_pid();
        let e = c
            .simple_query("CREATE TABLE role_change_t (x int)", None)
            .unwrap_err();
        let pgpool::Error::Db(d) = &e else {
            panic!("{e:?}")
        };
        assert_eq!(d.code, "25006");
        assert!(
            d.hint.as_deref().is_some_and(|h| h.contains("retrying")),
            "{d:?}"
        );
    }
    let s = rw.stats();
    assert_eq!(s.retired_role_change, 1, "{s:?}");
    eprintln!(
        "role change: refused write, its return and the role check in {:?}",
        refused.elapsed()
    );
    let t = Instant::now();
    for _ in 0..4 {
        let c = rw.get(None).unwrap();
        assert_ne!(c.backend_pid(), first_pid);
    }
    eprintln!(
        "role change: 4 checkouts on new connections {:?} after the retirement",
        t.elapsed()
    );
    assert!(rw.stats().recycled_retired >= 1, "{:?}", rw.stats());
    rw.close();
    // Asked-for read-only refusals are no role change: a READ ONLY transaction, and a
    // session set read-only.
    let p = Pool::new(PoolConfig::new(Some(&primary), &common::overrides(1, 1)).unwrap()).unwrap();
    let refused_without_hint = |c: &mut pgpool::Connection| {
        let e = c
            .simple_query("CREATE TABLE ro_t (x int)", None)
            .unwrap_err();
        assert!(
            matches!(&e, pgpool::Error::Db(d) if d.code == "25006" && d.hint.is_none()),
            "{e:?}"
        );
    };
    let mut c = p.get(None).unwrap();
    c.begin(&pgpool::transaction::Characteristics {
        readonly: Some(true),
        ..Default::default()
    });
    refused_without_hint(&mut c);
    drop(c);
    let mut c = p.get(None).unwrap();
    c.simple_query("SET default_transaction_read_only = on", None)
        .unwrap();
    refused_without_hint(&mut c);
    drop(c);
    assert_eq!(p.stats().retired_role_change, 0);
    p.close();

    // 2. replica down: readonly falls back to the primary, promptly
    assert!(standby.ctl(&["stop", "-m", "fast", "-w"]));
    thread::sleep(Duration::from_millis(700)); // past the pre-ping window
    let t = Instant::now();
    let mut c = pool.get_readonly(Some(Duration::from_secs(5))).unwrap();
    assert!(!in_recovery(&mut c), "fell back to the primary");
    assert!(t.elapsed() < Duration::from_secs(3), "{:?}", t.elapsed());
    drop(c);
    pool.close();
    assert!(standby.ctl(&["-w", "start"]));

    // 3. failover: multi-host DSN, target_session_attrs=read-write
    let dsn = format!(
        "host=127.0.0.1,127.0.0.1 port={pport},{} user=postgres dbname=postgres target_session_attrs=read-write connect_timeout=2",
        standby.port
    );
    let pool = Pool::new(
        PoolConfig::new(
            Some(&dsn),
            &PoolOverrides {
                min_size: Some(2),
                max_size: Some(4),
                timeout: Some(Duration::from_secs(10)),
                ..Default::default()
            },
        )
        .unwrap(),
    )
    .unwrap();
    {
        let mut c = pool.get(None).unwrap();
        assert!(!in_recovery(&mut c));
        c.simple_query("CREATE TABLE IF NOT EXISTS failover_t (x int)", None)
            .unwrap();
    }
    assert_eq!(common::pgctl(&["stop", "-m", "fast", "-w"]), Some(true));
    assert!(standby.ctl(&["promote", "-w"]));
    let t = Instant::now();
    loop {
        let ok = pool
            .get(Some(Duration::from_secs(1)))
            .and_then(|mut c| c.simple_query("INSERT INTO failover_t VALUES (1)", None))
            .is_ok();
        if ok {
            break;
        }
        assert!(
            t.elapsed() < Duration::from_secs(5),
            "writes not back within 5 s: {:?}",
            pool.stats()
        );
        thread::sleep(Duration::from_millis(50));
    }
    eprintln!("writes back {:?} after promotion", t.elapsed());
    pool.close();
    // Leave the harness as it was: the old primary back up (as a separate server), the
    // promoted standby stopped.
    assert!(standby.ctl(&["stop", "-m", "immediate", "-w"]));
    assert_eq!(common::pgctl(&["start", "-w"]), Some(true));
}
