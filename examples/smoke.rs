//! The Rust smoke test `make demo` runs: a pool from the environment, a few statements,
//! the stats, and `OK: Pool operational.`
use std::process::ExitCode;
use std::time::Duration;

use pgpool::config::PoolConfig;
use pgpool::Pool;

fn run() -> Result<(), pgpool::Error> {
    let cfg = PoolConfig::from_env()?;
    println!("pgpool {} -> {}", pgpool::VERSION, cfg.connect.describe());
    let pool = Pool::new(cfg)?;
    {
        let mut c = pool.get(None)?;
        let r = c.simple_query("SELECT version()", None)?;
        println!(
            "server: {}",
            String::from_utf8_lossy(r.get(0, 0).unwrap_or_default())
        );
        c.begin(&Default::default());
        c.simple_query("CREATE TEMP TABLE smoke (id int, name text)", None)?;
        let r = c.query_params(
            "INSERT INTO smoke VALUES ($1, $2), ($3, $4)",
            &[Some(b"1"), Some(b"one"), Some(b"2"), None],
            None,
        )?;
        println!("inserted {} rows", r.rows_affected().unwrap_or(0));
        let r = c.query_params(
            "SELECT count(*), count(name) FROM smoke WHERE id >= $1",
            &[Some(b"1")],
            None,
        )?;
        let n = String::from_utf8_lossy(r.get(0, 0).unwrap_or_default()).into_owned();
        if n != "2" {
            return Err(pgpool::Error::Interface(format!(
                "expected 2 rows, got {n}"
            )));
        }
        c.simple_query("ROLLBACK", None)?;
    }
    let threads: Vec<_> = (0..4)
        .map(|i| {
            let pool = pool.clone();
            std::thread::spawn(move || -> Result<(), pgpool::Error> {
                for _ in 0..25 {
                    let mut c = pool.get(Some(Duration::from_secs(10)))?;
                    let v = i.to_string();
                    c.query_params("SELECT $1::int", &[Some(v.as_bytes())], None)?;
                }
                Ok(())
            })
        })
        .collect();
    for t in threads {
        t.join().expect("thread")?;
    }
    println!("stats: {:?}", pool.stats());
    pool.close();
    Ok(())
}

fn main() -> ExitCode {
    match run() {
        Ok(()) => {
            println!("OK: Pool operational.");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("FAILED: pool not operational: {e}");
            ExitCode::FAILURE
        }
    }
}
