//! Configuration from the environment only, against the real server. One test
//! per binary: it sets process environment variables.
mod common;

use pgpool::config::PoolConfig;

#[test]
fn seed_env_aliases_build_a_working_pool() {
    let (host, port) = common::host_port(&common::url());
    let url = common::url();
    std::env::remove_var("DATABASE_URL");
    std::env::set_var("POSTGRES_HOST", &host);
    std::env::set_var("POSTGRES_PORT", port.to_string());
    std::env::set_var("POSTGRES_DATABASE", "postgres");
    std::env::set_var("POSTGRES_USER", "postgres");
    std::env::set_var("PG_POOL_MIN", "2");
    std::env::set_var("PG_POOL_MAX", "7");
    std::env::set_var("POSTGRES_POOL_TIMEOUT", "3");
    let cfg = PoolConfig::from_env().expect("config from env");
    assert_eq!(cfg.min_size, 2);
    assert_eq!(cfg.max_size, 7);
    assert_eq!(cfg.timeout.as_secs(), 3);
    let pool = pgpool::Pool::new(cfg).unwrap();
    let mut c = pool.get(None).unwrap();
    assert_eq!(
        common::scalar(&mut c, "SELECT current_user").as_deref(),
        Some("postgres")
    );
    drop(c);

    // Unparsable numbers name the variable and never fall back silently.
    std::env::set_var("PG_POOL_MAX", "ten");
    let e = PoolConfig::from_env().unwrap_err().to_string();
    assert!(e.contains("PG_POOL_MAX"), "{e}");
    std::env::set_var("PG_POOL_MAX", "1");
    let e = PoolConfig::from_env().unwrap_err().to_string();
    assert!(e.contains("min"), "max < min is refused: {e}");
    std::env::set_var("PG_POOL_MAX", "7");

    // DATABASE_URL wins over the POSTGRES_* parts; a password never shows in errors.
    std::env::set_var(
        "DATABASE_URL",
        url.replace("postgres@", "postgres:s3cr3t@") + "?bogus_option=1",
    );
    let e = PoolConfig::from_env().unwrap_err().to_string();
    assert!(e.contains("bogus_option"), "{e}");
    assert!(!e.contains("s3cr3t"), "{e}");
    std::env::set_var("DATABASE_URL", &url);
    let cfg = PoolConfig::from_env().unwrap();
    assert!(!format!("{cfg:?}").contains("s3cr3t"));
}
