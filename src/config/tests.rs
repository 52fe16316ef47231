//! Tests of the configuration modules.

use std::collections::HashMap;

use super::settings::{MAX_SIZE_VARS, MIN_SIZE_VARS, PRE_PING_VARS};
use super::*;
use crate::error::{Error, Result};

type Env = Box<dyn Fn(&str) -> Option<String>>;

/// A fake environment holding exactly `vars`.
fn env_of(vars: &[(&str, &str)]) -> Env {
    let map: HashMap<String, String> = vars
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect();
    Box::new(move |k| map.get(k).cloned())
}

/// `vars` plus `USER=tester`, so the default user never depends on the machine.
fn env_with_user(vars: &[(&str, &str)]) -> Env {
    let mut all = vec![("USER", "tester")];
    all.extend_from_slice(vars);
    env_of(&all)
}

fn kv(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect()
}

fn params(dsn: &str, vars: &[(&str, &str)]) -> Result<ConnectParams> {
    ConnectParams::from_keywords(&parse_dsn(dsn)?, &*env_with_user(vars))
}

fn pool(dsn: Option<&str>, ov: &PoolOverrides, vars: &[(&str, &str)]) -> Result<PoolConfig> {
    PoolConfig::with_env(dsn, ov, &*env_with_user(vars))
}

fn pool_env(vars: &[(&str, &str)]) -> PoolConfig {
    pool(None, &PoolOverrides::default(), vars).unwrap()
}

/// The (setting, message) of a configuration error.
#[track_caller]
fn config_err<T: fmt::Debug>(r: Result<T>) -> (String, String) {
    match r {
        Err(Error::Config { setting, message }) => (setting, message),
        other => panic!("expected a configuration error, got {other:?}"),
    }
}

#[track_caller]
fn assert_setting<T: fmt::Debug>(r: Result<T>, setting: &str) -> String {
    let (s, m) = config_err(r);
    assert_eq!(s, setting, "message: {m}");
    m
}

fn tcp(h: &str) -> Host {
    Host::Tcp(h.to_owned())
}

fn unix(d: &str) -> Host {
    Host::Unix(PathBuf::from(d))
}

// --- keyword/value strings -------------------------------------------------------

#[test]
fn kv_simple() {
    assert_eq!(
        parse_dsn("host=db port=5433 dbname=app user=u password=p").unwrap(),
        kv(&[
            ("host", "db"),
            ("port", "5433"),
            ("dbname", "app"),
            ("user", "u"),
            ("password", "p")
        ])
    );
}

#[test]
fn kv_spaces_around_equals_and_tabs() {
    assert_eq!(
        parse_dsn("  host = db\tport=  5433 \n dbname =app  ").unwrap(),
        kv(&[("host", "db"), ("port", "5433"), ("dbname", "app")])
    );
}

#[test]
fn kv_quoting_and_escapes() {
    assert_eq!(
        parse_dsn(r"password='a b\'c\\d' dbname='my db'").unwrap(),
        kv(&[("password", r"a b'c\d"), ("dbname", "my db")])
    );
    // A backslash escapes unquoted too.
    assert_eq!(
        parse_dsn(r"dbname=a\ b user=x\'y").unwrap(),
        kv(&[("dbname", "a b"), ("user", "x'y")])
    );
    // No space needed after a quoted value (libpq).
    assert_eq!(
        parse_dsn("host='h'port=5").unwrap(),
        kv(&[("host", "h"), ("port", "5")])
    );
}

#[test]
fn kv_empty_values() {
    assert_eq!(
        parse_dsn("host='' password='' dbname=x").unwrap(),
        kv(&[("host", ""), ("password", ""), ("dbname", "x")])
    );
    // As in libpq, white space after '=' is skipped, so an unquoted empty value takes
    // the next word.
    assert_eq!(
        parse_dsn("password= dbname=x").unwrap(),
        kv(&[("password", "dbname=x")])
    );
    assert!(parse_dsn("").unwrap().is_empty());
    assert!(parse_dsn("   ").unwrap().is_empty());
}

#[test]
fn kv_later_keyword_wins() {
    let p = params("host=a host=b", &[]).unwrap();
    assert_eq!(p.hosts, vec![tcp("b")]);
}

#[test]
fn kv_syntax_errors() {
    let m = assert_setting(parse_dsn("host"), "dsn");
    assert!(m.contains("missing \"=\" after \"host\""), "{m}");
    let m = assert_setting(parse_dsn("host=a dbname='abc"), "dsn");
    assert!(m.contains("unterminated quoted string"), "{m}");
    let m = assert_setting(parse_dsn("=x"), "dsn");
    assert!(m.contains("missing keyword"), "{m}");
}

#[test]
fn kv_unknown_keyword_is_named() {
    let m = assert_setting(parse_dsn("host=a bogus=1"), "bogus");
    assert_eq!(m, "unknown connection option");
    // libpq keywords are case-sensitive.
    assert_setting(parse_dsn("Host=a"), "Host");
    // `ssl` is only a URI query parameter (JDBC).
    assert_setting(parse_dsn("ssl=true"), "ssl");
}

#[test]
fn every_libpq_keyword_is_accepted() {
    for k in USED_KEYWORDS.iter().chain(IGNORED_KEYWORDS) {
        let parsed = parse_dsn(&format!("{k}=''")).unwrap();
        assert_eq!(parsed, kv(&[(k, "")]));
        ConnectParams::from_keywords(&parsed, &*env_with_user(&[]))
            .unwrap_or_else(|e| panic!("{k}: {e}"));
    }
}

#[test]
fn keyword_tables_are_consistent() {
    for k in IGNORED_KEYWORDS {
        assert!(
            IGNORED_CHECKS.iter().any(|(c, _, _)| c == k),
            "{k} has no check"
        );
        assert!(!USED_KEYWORDS.contains(k), "{k} is both used and ignored");
    }
    assert_eq!(IGNORED_CHECKS.len(), IGNORED_KEYWORDS.len());
    for s in SECRET_KEYWORDS {
        assert!(is_known_keyword(s));
    }
}

// --- URIs ------------------------------------------------------------------------

#[test]
fn uri_full() {
    assert_eq!(
        parse_dsn("postgresql://uri-user:secret@host:12345/db").unwrap(),
        kv(&[
            ("user", "uri-user"),
            ("password", "secret"),
            ("host", "host"),
            ("port", "12345"),
            ("dbname", "db")
        ])
    );
    assert_eq!(
        parse_dsn("postgres://uri-user@host/db").unwrap(),
        kv(&[("user", "uri-user"), ("host", "host"), ("dbname", "db")])
    );
}

#[test]
fn uri_partial_forms() {
    let cases: &[(&str, &[(&str, &str)])] = &[
        ("postgresql://", &[]),
        ("postgres:///", &[]),
        ("postgres:///db", &[("dbname", "db")]),
        ("postgresql://host", &[("host", "host")]),
        ("postgresql://host/", &[("host", "host")]),
        (
            "postgresql://host:12345",
            &[("host", "host"), ("port", "12345")],
        ),
        ("postgresql://uri-user@", &[("user", "uri-user")]),
        ("postgres://@host", &[("host", "host")]),
        ("postgres://host:/", &[("host", "host")]),
        ("postgres://:12345/", &[("port", "12345")]),
        ("postgresql://host?", &[("host", "host")]),
        ("postgresql://%68ost/", &[("host", "host")]),
        (
            "postgres://uri-user@/db",
            &[("user", "uri-user"), ("dbname", "db")],
        ),
        (
            "postgres://?host=/path/to/socket/dir",
            &[("host", "/path/to/socket/dir")],
        ),
        (
            "postgres://otheruser@:12345/db?host=/path/to/socket",
            &[
                ("user", "otheruser"),
                ("port", "12345"),
                ("dbname", "db"),
                ("host", "/path/to/socket"),
            ],
        ),
    ];
    for (uri, want) in cases {
        assert_eq!(parse_dsn(uri).unwrap(), kv(want), "{uri}");
    }
}

#[test]
fn uri_query_parameters() {
    assert_eq!(
        parse_dsn("postgresql://host/db?user=uri-user&port=12345").unwrap(),
        kv(&[
            ("host", "host"),
            ("dbname", "db"),
            ("user", "uri-user"),
            ("port", "12345")
        ])
    );
    // Percent-encoded keyword.
    assert_eq!(
        parse_dsn("postgresql://host/db?u%73er=someotheruser").unwrap(),
        kv(&[
            ("host", "host"),
            ("dbname", "db"),
            ("user", "someotheruser")
        ])
    );
    // Leading and trailing spaces are dropped (libpq).
    assert_eq!(
        parse_dsn("postgresql://host?  user = uri-user & port  = 12345 ").unwrap(),
        kv(&[("host", "host"), ("user", "uri-user"), ("port", "12345")])
    );
    // JDBC's ssl=true.
    assert_eq!(
        parse_dsn("postgresql://host?ssl=true").unwrap(),
        kv(&[("host", "host"), ("sslmode", "require")])
    );
    assert_setting(parse_dsn("postgresql://host?ssl=false"), "ssl");
}

#[test]
fn uri_query_errors() {
    assert_eq!(
        assert_setting(parse_dsn("postgresql://host/db?u%7aer=x"), "uzer"),
        "unknown connection option"
    );
    let m = assert_setting(parse_dsn("postgresql://host?zzz"), "dsn");
    assert!(m.contains("missing key/value separator"), "{m}");
    let m = assert_setting(parse_dsn("postgresql://host?value1&value2"), "dsn");
    assert!(m.contains("\"value1\""), "{m}");
    let m = assert_setting(parse_dsn("postgresql://host?key=key=value"), "dsn");
    assert!(m.contains("extra key/value separator"), "{m}");
    let m = assert_setting(
        parse_dsn("postgresql://host?  user user  =  uri  & port = 12345 12 "),
        "dsn",
    );
    assert!(m.contains("unexpected spaces"), "{m}");
}

#[test]
fn uri_percent_decoding_errors() {
    for (uri, want) in [
        (
            "postgres://host?dbname=%XXfoo",
            "invalid percent-encoded token",
        ),
        ("postgresql://a%00b", "forbidden value %00"),
        ("postgresql://%zz", "invalid percent-encoded token"),
        ("postgresql://%1", "invalid percent-encoded token"),
        ("postgresql://%", "invalid percent-encoded token"),
        ("postgresql://h/%ff", "invalid UTF-8"),
    ] {
        let m = assert_setting(parse_dsn(uri), "dsn");
        assert!(m.contains(want), "{uri}: {m}");
    }
}

#[test]
fn uri_percent_decoding() {
    assert_eq!(
        parse_dsn("postgresql://us%65r:p%40ss%2Fw%3Ard%20x@h/my%20db").unwrap(),
        kv(&[
            ("user", "user"),
            ("password", "p@ss/w:rd x"),
            ("host", "h"),
            ("dbname", "my db")
        ])
    );
    // '+' is not a space in libpq URIs.
    assert_eq!(
        parse_dsn("postgresql://h/a+b").unwrap(),
        kv(&[("host", "h"), ("dbname", "a+b")])
    );
    // UTF-8.
    assert_eq!(
        parse_dsn("postgresql://h/%C3%A9t%C3%A9").unwrap(),
        kv(&[("host", "h"), ("dbname", "été")])
    );
}

#[test]
fn uri_ipv6() {
    assert_eq!(
        parse_dsn("postgresql://[::1]:12345/db").unwrap(),
        kv(&[("host", "::1"), ("port", "12345"), ("dbname", "db")])
    );
    assert_eq!(
        parse_dsn("postgresql://[2001:db8::1234]/").unwrap(),
        kv(&[("host", "2001:db8::1234")])
    );
    assert_eq!(
        parse_dsn("postgresql://[::1]").unwrap(),
        kv(&[("host", "::1")])
    );
    let p = params("postgresql://[::1]:6432/db", &[]).unwrap();
    assert_eq!(p.host_port_pairs(), vec![(tcp("::1"), 6432)]);
}

#[test]
fn uri_ipv6_errors() {
    let m = assert_setting(parse_dsn("postgres://[::1"), "dsn");
    assert!(m.contains("matching \"]\""), "{m}");
    let m = assert_setting(parse_dsn("postgres://[]"), "dsn");
    assert!(m.contains("may not be empty"), "{m}");
    let m = assert_setting(parse_dsn("postgres://[::1]z"), "dsn");
    assert!(
        m.contains("unexpected character \"z\" at position 17"),
        "{m}"
    );
}

#[test]
fn uri_unix_socket_hosts() {
    assert_eq!(
        parse_dsn("postgresql://%2Fvar%2Frun%2Fpostgresql/db").unwrap(),
        kv(&[("host", "/var/run/postgresql"), ("dbname", "db")])
    );
    let p = params("postgres://%2Fvar%2Flib%2Fpostgresql:5433/dbname", &[]).unwrap();
    assert_eq!(p.hosts, vec![unix("/var/lib/postgresql")]);
    assert_eq!(p.ports, vec![5433]);
    assert_eq!(p.dbname, "dbname");
    let p = params("postgres://u@/db?host=/tmp", &[]).unwrap();
    assert_eq!(p.hosts, vec![unix("/tmp")]);
}

#[test]
fn uri_multi_host() {
    assert_eq!(
        parse_dsn("postgresql://h1:5432,h2:5433/db").unwrap(),
        kv(&[("host", "h1,h2"), ("port", "5432,5433"), ("dbname", "db")])
    );
    let p = params("postgresql://h1,h2:5433,[::1]:5434/db", &[]).unwrap();
    assert_eq!(
        p.host_port_pairs(),
        vec![(tcp("h1"), 5432), (tcp("h2"), 5433), (tcp("::1"), 5434)]
    );
    let p = params(
        "postgresql://u:pw@h1,h2/db?target_session_attrs=read-write",
        &[],
    )
    .unwrap();
    assert_eq!(p.hosts, vec![tcp("h1"), tcp("h2")]);
    // libpq's port list is "," here: one empty (default) port per host.
    assert_eq!(p.ports, vec![5432, 5432]);
    assert_eq!(p.target_session_attrs, TargetSessionAttrs::ReadWrite);
}

#[test]
fn uri_sqlalchemy_driver_scheme() {
    assert_eq!(
        parse_dsn("postgresql+psycopg2://u:p@h:5/db").unwrap(),
        parse_dsn("postgresql://u:p@h:5/db").unwrap()
    );
    assert_eq!(
        parse_dsn("postgres+asyncpg://h/db").unwrap(),
        kv(&[("host", "h"), ("dbname", "db")])
    );
    // Not a URI: parsed (and rejected) as keyword/value.
    assert_setting(parse_dsn("postgre://"), "dsn");
    assert_setting(parse_dsn("postgresql+://h"), "dsn");
}

#[test]
fn uri_unencoded_at_signs() {
    // '@' in the password: the last '@' of the authority ends the user information.
    assert_eq!(
        parse_dsn("postgresql://u:p@ss@host/db").unwrap(),
        kv(&[
            ("user", "u"),
            ("password", "p@ss"),
            ("host", "host"),
            ("dbname", "db")
        ])
    );
    // Azure-style user names.
    assert_eq!(
        parse_dsn("postgresql://me@srv:pw@host/db").unwrap()[0],
        ("user".to_owned(), "me@srv".to_owned())
    );
    // '@' inside a query value is not user information.
    assert_eq!(
        parse_dsn("postgresql://host?user=me@example.com").unwrap(),
        kv(&[("host", "host"), ("user", "me@example.com")])
    );
    // '?' in a password is fine.
    assert_eq!(
        parse_dsn("postgresql://u:p?ss@host").unwrap()[1],
        ("password".to_owned(), "p?ss".to_owned())
    );
}

#[test]
fn uri_with_surrounding_whitespace() {
    assert_eq!(
        parse_dsn("  postgresql://h/db\n").unwrap(),
        kv(&[("host", "h"), ("dbname", "db")])
    );
}

// --- connection parameters: defaults and the environment --------------------------

#[test]
fn defaults() {
    let p = params("", &[]).unwrap();
    assert_eq!(p.hosts, vec![default_host()]);
    assert_eq!(p.ports, vec![5432]);
    assert_eq!(p.user, "tester");
    assert_eq!(p.dbname, "tester");
    assert_eq!(p.password, None);
    assert_eq!(p.options, None);
    assert_eq!(p.application_name, None);
    assert_eq!(p.connect_timeout, None);
    assert!(p.keepalives);
    assert_eq!(p.keepalives_idle, None);
    assert_eq!(p.keepalives_interval, None);
    assert_eq!(p.keepalives_count, None);
    assert_eq!(p.tcp_user_timeout, None);
    assert_eq!(p.target_session_attrs, TargetSessionAttrs::Any);
    assert_eq!(p.ssl, SslConfig::default());
    assert_eq!(p.ssl.mode, SslMode::Prefer);
}

#[test]
fn default_host_follows_the_socket_directory() {
    let want = if Path::new(DEFAULT_SOCKET_DIR).is_dir() {
        unix(DEFAULT_SOCKET_DIR)
    } else {
        tcp("localhost")
    };
    assert_eq!(default_host(), want);
}

#[test]
fn default_user_from_os_variables() {
    let p = ConnectParams::from_keywords(&[], &*env_of(&[("LOGNAME", "logname")])).unwrap();
    assert_eq!(p.user, "logname");
    assert_eq!(p.dbname, "logname");
    let p =
        ConnectParams::from_keywords(&[], &*env_of(&[("USER", "u1"), ("LOGNAME", "u2")])).unwrap();
    assert_eq!(p.user, "u1");
    // Empty counts as unset.
    let p =
        ConnectParams::from_keywords(&[], &*env_of(&[("USER", ""), ("LOGNAME", "u2")])).unwrap();
    assert_eq!(p.user, "u2");
}

#[test]
fn libpq_environment() {
    let p = params(
        "",
        &[
            ("PGHOST", "pghost"),
            ("PGPORT", "6543"),
            ("PGDATABASE", "pgdb"),
            ("PGUSER", "pguser"),
            ("PGPASSWORD", "pgpass"),
            ("PGAPPNAME", "app"),
            ("PGCONNECT_TIMEOUT", "7"),
            ("PGSSLMODE", "verify-ca"),
            ("PGSSLROOTCERT", "/root.crt"),
            ("PGSSLCERT", "/client.crt"),
            ("PGSSLKEY", "/client.key"),
            ("PGSSLCRL", "/crl.pem"),
            ("PGTARGETSESSIONATTRS", "primary"),
            ("PGOPTIONS", "-c search_path=x"),
        ],
    )
    .unwrap();
    assert_eq!(p.hosts, vec![tcp("pghost")]);
    assert_eq!(p.ports, vec![6543]);
    assert_eq!(p.dbname, "pgdb");
    assert_eq!(p.user, "pguser");
    assert_eq!(p.password.as_deref(), Some("pgpass"));
    assert_eq!(p.application_name.as_deref(), Some("app"));
    assert_eq!(p.connect_timeout, Some(Duration::from_secs(7)));
    assert_eq!(p.target_session_attrs, TargetSessionAttrs::Primary);
    assert_eq!(p.options.as_deref(), Some("-c search_path=x"));
    assert_eq!(
        p.ssl,
        SslConfig {
            mode: SslMode::VerifyCa,
            rootcert: Some("/root.crt".into()),
            cert: Some("/client.crt".into()),
            key: Some("/client.key".into()),
            crlfile: Some("/crl.pem".into()),
        }
    );
}

#[test]
fn pghostaddr() {
    let p = params("", &[("PGHOSTADDR", "10.0.0.1")]).unwrap();
    assert_eq!(p.hosts, vec![tcp("10.0.0.1")]);
}

#[test]
fn seed_postgres_variables() {
    let p = params(
        "",
        &[
            ("POSTGRES_HOST", "pg"),
            ("POSTGRES_PORT", "6432"),
            ("POSTGRES_DATABASE", "veritas"),
            ("POSTGRES_USER", "postgres"),
            ("POSTGRES_PASSWORD", "pw"),
        ],
    )
    .unwrap();
    assert_eq!(p.hosts, vec![tcp("pg")]);
    assert_eq!(p.ports, vec![6432]);
    assert_eq!(p.dbname, "veritas");
    assert_eq!(p.user, "postgres");
    assert_eq!(p.password.as_deref(), Some("pw"));
}

#[test]
fn postgres_db_alias_and_its_order() {
    let p = params("", &[("POSTGRES_DB", "docker")]).unwrap();
    assert_eq!(p.dbname, "docker");
    let p = params(
        "",
        &[
            ("POSTGRES_DB", "docker"),
            ("POSTGRES_DATABASE", "veritas"),
            ("PGDATABASE", "pg"),
        ],
    )
    .unwrap();
    assert_eq!(p.dbname, "veritas");
    let p = params("", &[("POSTGRES_DB", "docker"), ("PGDATABASE", "pg")]).unwrap();
    assert_eq!(p.dbname, "docker");
}

#[test]
fn postgres_variables_beat_pg_variables() {
    let both = [
        ("POSTGRES_HOST", "a"),
        ("PGHOST", "b"),
        ("POSTGRES_PORT", "1111"),
        ("PGPORT", "2222"),
        ("POSTGRES_USER", "ua"),
        ("PGUSER", "ub"),
        ("POSTGRES_PASSWORD", "pa"),
        ("PGPASSWORD", "pb"),
        ("POSTGRES_DATABASE", "da"),
        ("PGDATABASE", "db"),
    ];
    let p = params("", &both).unwrap();
    assert_eq!(
        (
            p.hosts[0].clone(),
            p.ports[0],
            p.user.as_str(),
            p.password.as_deref(),
            p.dbname.as_str()
        ),
        (tcp("a"), 1111, "ua", Some("pa"), "da")
    );
    // An empty POSTGRES_* variable is unset: PG* applies.
    let p = params("", &[("POSTGRES_HOST", ""), ("PGHOST", "b")]).unwrap();
    assert_eq!(p.hosts, vec![tcp("b")]);
}

#[test]
fn dsn_beats_environment() {
    let env = [
        ("PGHOST", "envhost"),
        ("POSTGRES_PORT", "1111"),
        ("PGUSER", "envuser"),
        ("PGPASSWORD", "envpass"),
        ("PGDATABASE", "envdb"),
        ("PGSSLMODE", "disable"),
    ];
    let p = params(
        "host=dsnhost port=2222 user=dsnuser password=dsnpass dbname=dsndb sslmode=require",
        &env,
    )
    .unwrap();
    assert_eq!(p.hosts, vec![tcp("dsnhost")]);
    assert_eq!(p.ports, vec![2222]);
    assert_eq!(p.user, "dsnuser");
    assert_eq!(p.password.as_deref(), Some("dsnpass"));
    assert_eq!(p.dbname, "dsndb");
    assert_eq!(p.ssl.mode, SslMode::Require);
    // What the DSN leaves out comes from the environment.
    let p = params("host=dsnhost", &env).unwrap();
    assert_eq!(p.ports, vec![1111]);
    assert_eq!(p.user, "envuser");
    assert_eq!(p.password.as_deref(), Some("envpass"));
    assert_eq!(p.ssl.mode, SslMode::Disable);
}

#[test]
fn explicit_empty_value_means_default_and_hides_environment() {
    let env = [
        ("PGHOST", "envhost"),
        ("PGDATABASE", "envdb"),
        ("PGPORT", "1111"),
    ];
    let p = params("host='' dbname='' port=''", &env).unwrap();
    assert_eq!(p.hosts, vec![default_host()]);
    assert_eq!(p.dbname, "tester");
    assert_eq!(p.ports, vec![5432]);
    // A URI's empty path does not set dbname, so PGDATABASE applies (libpq).
    let p = params("postgresql://h/", &env).unwrap();
    assert_eq!(p.dbname, "envdb");
}

#[test]
fn dbname_defaults_to_user() {
    let p = params("user=alice", &[]).unwrap();
    assert_eq!(p.dbname, "alice");
    let p = params("", &[("POSTGRES_USER", "bob")]).unwrap();
    assert_eq!(p.dbname, "bob");
}

// --- hosts and ports ------------------------------------------------------------

#[test]
fn socket_directory_hosts() {
    assert_eq!(params("host=/tmp", &[]).unwrap().hosts, vec![unix("/tmp")]);
    assert_eq!(
        params("", &[("PGHOST", "/var/run/postgresql")])
            .unwrap()
            .hosts,
        vec![unix("/var/run/postgresql")]
    );
    // libpq's abstract-namespace socket names.
    assert_eq!(params("host=@pg", &[]).unwrap().hosts, vec![unix("@pg")]);
    let p = params("host=/tmp port=5433", &[]).unwrap();
    assert_eq!(p.host_port_pairs(), vec![(unix("/tmp"), 5433)]);
}

#[test]
fn multi_host_ports() {
    let p = params("host=a,b,c port=6000", &[]).unwrap();
    assert_eq!(
        p.host_port_pairs(),
        vec![(tcp("a"), 6000), (tcp("b"), 6000), (tcp("c"), 6000)]
    );
    let p = params("host=a,b,c port=1,2,3", &[]).unwrap();
    assert_eq!(
        p.host_port_pairs(),
        vec![(tcp("a"), 1), (tcp("b"), 2), (tcp("c"), 3)]
    );
    let p = params("host=a,/tmp", &[]).unwrap();
    assert_eq!(
        p.host_port_pairs(),
        vec![(tcp("a"), 5432), (unix("/tmp"), 5432)]
    );
    // Empty elements are defaults.
    let p = params("host=a,,b port=5433,,5434", &[]).unwrap();
    assert_eq!(
        p.host_port_pairs(),
        vec![(tcp("a"), 5433), (default_host(), 5432), (tcp("b"), 5434)]
    );
}

#[test]
fn port_count_mismatch() {
    let m = assert_setting(params("host=a,b,c port=1,2", &[]), "port");
    assert!(
        m.contains("could not match 2 port numbers to 3 hosts"),
        "{m}"
    );
    let m = assert_setting(params("host=a,b,c", &[("PGPORT", "1,2")]), "PGPORT");
    assert!(m.contains("could not match"), "{m}");
    assert_setting(params("port=1,2", &[]), "port");
}

#[test]
fn invalid_ports() {
    for bad in ["abc", "0", "65536", "-1", "5432x", "54.32"] {
        let m = assert_setting(params(&format!("port={bad}"), &[]), "port");
        assert!(m.contains("invalid port number"), "{m}");
    }
    assert_setting(params("", &[("PGPORT", "x")]), "PGPORT");
    assert_setting(params("", &[("POSTGRES_PORT", "x")]), "POSTGRES_PORT");
    assert_eq!(params("port=' 5433 '", &[]).unwrap().ports, vec![5433]);
    // In a URI a non-numeric port is not quoted (it may be part of a password).
    let m = assert_setting(params("postgresql://h:abc/db", &[]), "dsn");
    assert!(m.contains("invalid port number in URI"), "{m}");
    assert_setting(params("postgresql://h:0/db", &[]), "port");
}

#[test]
fn hostaddr() {
    let p = params("hostaddr=127.0.0.1", &[]).unwrap();
    assert_eq!(p.hosts, vec![tcp("127.0.0.1")]);
    // hostaddr wins over host, element by element; an empty element falls back to host.
    let p = params("host=a,b hostaddr=10.0.0.1,", &[]).unwrap();
    assert_eq!(p.hosts, vec![tcp("10.0.0.1"), tcp("b")]);
    let p = params("hostaddr=::1", &[]).unwrap();
    assert_eq!(p.hosts, vec![tcp("::1")]);
    let m = assert_setting(params("host=a,b hostaddr=10.0.0.1", &[]), "host");
    assert!(
        m.contains("could not match 2 host names to 1 hostaddr values"),
        "{m}"
    );
    let m = assert_setting(params("hostaddr=db.example.com", &[]), "hostaddr");
    assert!(m.contains("invalid IP address"), "{m}");
    assert_setting(params("", &[("PGHOSTADDR", "nope")]), "PGHOSTADDR");
}

#[test]
fn host_port_pairs_edge_cases() {
    let mut p = params("host=a,b", &[]).unwrap();
    p.ports.clear();
    assert_eq!(
        p.host_port_pairs(),
        vec![(tcp("a"), 5432), (tcp("b"), 5432)]
    );
    p.hosts.clear();
    assert_eq!(p.host_port_pairs(), vec![(default_host(), 5432)]);
}

// --- other keywords ---------------------------------------------------------------

#[test]
fn connect_timeout_libpq_semantics() {
    let t = |v: &str| params(&format!("connect_timeout={v}"), &[]).map(|p| p.connect_timeout);
    assert_eq!(t("10").unwrap(), Some(Duration::from_secs(10)));
    assert_eq!(t(" 3 ").unwrap(), Some(Duration::from_secs(3)));
    assert_eq!(t("1").unwrap(), Some(Duration::from_secs(2)));
    assert_eq!(t("0").unwrap(), None);
    assert_eq!(t("-5").unwrap(), None);
    for bad in ["abc", "2.5", "99999999999", "10s"] {
        let m = assert_setting(t(bad), "connect_timeout");
        assert!(m.contains("invalid integer value"), "{m}");
    }
    assert_setting(
        params("", &[("PGCONNECT_TIMEOUT", "x")]),
        "PGCONNECT_TIMEOUT",
    );
}

#[test]
fn keepalive_settings() {
    let p = params(
        "keepalives=1 keepalives_idle=30 keepalives_interval=10 keepalives_count=3 tcp_user_timeout=5000",
        &[],
    )
    .unwrap();
    assert!(p.keepalives);
    assert_eq!(p.keepalives_idle, Some(Duration::from_secs(30)));
    assert_eq!(p.keepalives_interval, Some(Duration::from_secs(10)));
    assert_eq!(p.keepalives_count, Some(3));
    assert_eq!(p.tcp_user_timeout, Some(Duration::from_millis(5000)));
    let p = params(
        "keepalives=0 keepalives_idle=0 keepalives_interval=-1 keepalives_count=0 tcp_user_timeout=0",
        &[],
    )
    .unwrap();
    assert!(!p.keepalives);
    assert_eq!(
        (
            p.keepalives_idle,
            p.keepalives_interval,
            p.keepalives_count,
            p.tcp_user_timeout
        ),
        (None, None, None, None)
    );
    for k in [
        "keepalives",
        "keepalives_idle",
        "keepalives_interval",
        "keepalives_count",
        "tcp_user_timeout",
    ] {
        assert_setting(params(&format!("{k}=x"), &[]), k);
    }
}

#[test]
fn sslmode_values() {
    for (v, want) in [
        ("disable", SslMode::Disable),
        ("allow", SslMode::Allow),
        ("prefer", SslMode::Prefer),
        ("require", SslMode::Require),
        ("verify-ca", SslMode::VerifyCa),
        ("verify-full", SslMode::VerifyFull),
    ] {
        assert_eq!(params(&format!("sslmode={v}"), &[]).unwrap().ssl.mode, want);
    }
    let m = assert_setting(params("sslmode=on", &[]), "sslmode");
    assert!(m.contains("invalid sslmode value \"on\""), "{m}");
    assert_setting(params("", &[("PGSSLMODE", "yes")]), "PGSSLMODE");
}

#[test]
fn requiressl_is_sslmode() {
    assert_eq!(
        params("requiressl=1", &[]).unwrap().ssl.mode,
        SslMode::Require
    );
    assert_eq!(
        params("requiressl=0", &[]).unwrap().ssl.mode,
        SslMode::Prefer
    );
}

#[test]
fn sslrootcert_system() {
    let p = params("sslrootcert=system", &[]).unwrap();
    assert_eq!(p.ssl.mode, SslMode::VerifyFull);
    assert_eq!(p.ssl.rootcert.as_deref(), Some("system"));
    let p = params("", &[("PGSSLROOTCERT", "system")]).unwrap();
    assert_eq!(p.ssl.mode, SslMode::VerifyFull);
    let m = assert_setting(params("sslrootcert=system sslmode=require", &[]), "sslmode");
    assert!(m.contains("weak sslmode"), "{m}");
    assert!(params("sslrootcert=system sslmode=verify-full", &[]).is_ok());
}

#[test]
fn target_session_attrs_values() {
    for (v, want) in [
        ("any", TargetSessionAttrs::Any),
        ("read-write", TargetSessionAttrs::ReadWrite),
        ("read-only", TargetSessionAttrs::ReadOnly),
        ("primary", TargetSessionAttrs::Primary),
        ("standby", TargetSessionAttrs::Standby),
        ("prefer-standby", TargetSessionAttrs::PreferStandby),
    ] {
        assert_eq!(
            params(&format!("target_session_attrs={v}"), &[])
                .unwrap()
                .target_session_attrs,
            want
        );
    }
    assert_setting(
        params("target_session_attrs=master", &[]),
        "target_session_attrs",
    );
    assert_setting(
        params("", &[("PGTARGETSESSIONATTRS", "x")]),
        "PGTARGETSESSIONATTRS",
    );
}

#[test]
fn application_name_and_fallback() {
    let name = |dsn: &str, env: &[(&str, &str)]| params(dsn, env).unwrap().application_name;
    assert_eq!(
        name("fallback_application_name=fb", &[]).as_deref(),
        Some("fb")
    );
    assert_eq!(
        name("application_name=app fallback_application_name=fb", &[]).as_deref(),
        Some("app")
    );
    assert_eq!(
        name("fallback_application_name=fb", &[("PGAPPNAME", "env")]).as_deref(),
        Some("env")
    );
    assert_eq!(name("application_name=''", &[("PGAPPNAME", "env")]), None);
}

#[test]
fn ignored_keywords_accepted() {
    let p = params(
        "passfile=/x client_encoding=UTF8 channel_binding=prefer gssencmode=disable \
         sslnegotiation=direct sslcompression=1 sslsni=0 sslcertmode=allow sslpassword=k \
         ssl_min_protocol_version=TLSv1.2 ssl_max_protocol_version=TLSv1.3 \
         load_balance_hosts=random replication=false krbsrvname=postgres gsslib=gssapi \
         gssdelegation=0 require_auth='' service='' requirepeer='' sslcrldir=''",
        &[],
    )
    .unwrap();
    // client_encoding is honoured (src/encoding.rs), and passfile (config::passfile),
    // not ignored
    assert_eq!(p.client_encoding, Some(crate::encoding::Encoding::UTF8));
    assert_eq!(p.passfile.as_deref(), Some("/x"));
    let mut p = p;
    p.client_encoding = None;
    p.passfile = None;
    assert_eq!(p, params("", &[]).unwrap());
    assert_eq!(
        params("", &[("PGPASSFILE", "/y")])
            .unwrap()
            .passfile
            .as_deref(),
        Some("/y")
    );
}

#[test]
fn client_encoding_keyword_and_environment() {
    let enc = |dsn: &str, env: &[(&str, &str)]| {
        params(dsn, env).map(|p| p.client_encoding.map(|e| e.name))
    };
    assert_eq!(enc("client_encoding=latin1", &[]).unwrap(), Some("LATIN1"));
    assert_eq!(
        enc("", &[("PGCLIENTENCODING", "WIN1252")]).unwrap(),
        Some("WIN1252")
    );
    assert_eq!(enc("client_encoding=auto", &[]).unwrap(), None);
    assert_eq!(enc("", &[]).unwrap(), None);
    let e = enc("client_encoding=EUC_TW", &[]).unwrap_err().to_string();
    assert!(e.contains("client_encoding") && e.contains("EUC_TW"), "{e}");
}

#[test]
fn ignored_keywords_that_cannot_be_honoured_are_rejected() {
    for (dsn, setting) in [
        ("channel_binding=require", "channel_binding"),
        ("gssencmode=require", "gssencmode"),
        ("sslcertmode=require", "sslcertmode"),
        (
            "ssl_min_protocol_version=TLSv1.3",
            "ssl_min_protocol_version",
        ),
        ("require_auth=scram-sha-256", "require_auth"),
        ("service=mydb", "service"),
        ("requirepeer=postgres", "requirepeer"),
        ("replication=database", "replication"),
        ("sslcrldir=/crls", "sslcrldir"),
    ] {
        let m = assert_setting(params(dsn, &[]), setting);
        assert!(m.contains("not supported"), "{dsn}: {m}");
    }
    assert_setting(params("", &[("PGSERVICE", "mydb")]), "PGSERVICE");
    assert_setting(
        params("", &[("PGCHANNELBINDING", "require")]),
        "PGCHANNELBINDING",
    );
    // The DSN's value wins over the environment's.
    assert!(params(
        "channel_binding=disable",
        &[("PGCHANNELBINDING", "require")]
    )
    .is_ok());
}

#[test]
fn ignored_keywords_invalid_values() {
    for (dsn, setting) in [
        ("sslcompression=2", "sslcompression"),
        ("sslsni=yes", "sslsni"),
        ("load_balance_hosts=roundrobin", "load_balance_hosts"),
        ("channel_binding=maybe", "channel_binding"),
        ("sslnegotiation=fast", "sslnegotiation"),
        ("ssl_max_protocol_version=SSLv3", "ssl_max_protocol_version"),
    ] {
        let m = assert_setting(params(dsn, &[]), setting);
        assert!(m.contains("invalid value"), "{dsn}: {m}");
    }
}

#[test]
fn from_keywords_rejects_unknown_keywords() {
    let m = assert_setting(
        ConnectParams::from_keywords(&kv(&[("hots", "x")]), &*env_with_user(&[])),
        "hots",
    );
    assert_eq!(m, "unknown connection option");
}

#[test]
fn describe_has_no_password() {
    let p = params(
        "host=127.0.0.1 port=5432 dbname=postgres user=postgres password=hunter2",
        &[],
    )
    .unwrap();
    assert_eq!(
        p.describe(),
        "host=127.0.0.1 port=5432 dbname=postgres user=postgres"
    );
    let p = params("host=/tmp,b port=1,2 dbname='my db' user=u", &[]).unwrap();
    assert_eq!(p.describe(), "host=/tmp,b port=1,2 dbname='my db' user=u");
    // describe() is itself a valid DSN.
    let again = params(&p.describe(), &[]).unwrap();
    assert_eq!(again.hosts, p.hosts);
    assert_eq!(again.dbname, "my db");
}

// --- pool settings ------------------------------------------------------------

#[test]
fn pool_defaults() {
    let c = pool_env(&[]);
    assert_eq!(c.min_size, 1);
    assert_eq!(c.max_size, 10);
    assert_eq!(c.timeout, Duration::from_secs(30));
    assert_eq!(c.max_lifetime, Some(Duration::from_secs(3600)));
    assert_eq!(c.max_idle, Some(Duration::from_secs(600)));
    assert!(c.pre_ping);
    assert_eq!(c.pre_ping_window, Duration::from_millis(500));
    assert_eq!(c.max_waiting, 0);
    assert_eq!(c.leak_threshold, None);
    assert_eq!(c.name, None);
    assert!(c.replicas.is_empty());
    assert_eq!(c.connect, params("", &[]).unwrap());
}

#[test]
fn min_size_aliases() {
    for var in MIN_SIZE_VARS {
        let c = pool_env(&[(var, "3")]);
        assert_eq!(c.min_size, 3, "{var}");
    }
}

#[test]
fn max_size_aliases() {
    for var in MAX_SIZE_VARS {
        assert_eq!(pool_env(&[(var, "7")]).max_size, 7, "{var}");
    }
    let c = pool_env(&[("DB_POOL_SIZE", "20"), ("DB_MAX_OVERFLOW", "40")]);
    assert_eq!((c.min_size, c.max_size), (20, 60));
}

#[test]
fn alias_order() {
    let c = pool_env(&[
        ("PGPOOL_MIN_SIZE", "1"),
        ("PG_POOL_MIN", "2"),
        ("POSTGRES_POOL_MIN_SIZE", "3"),
        ("DB_POOL_SIZE", "4"),
        ("PGPOOL_MAX_SIZE", "11"),
        ("PG_POOL_MAX", "12"),
        ("POSTGRES_POOL_MAX_SIZE", "13"),
        ("DB_MAX_OVERFLOW", "10"),
    ]);
    assert_eq!((c.min_size, c.max_size), (1, 11));
    let c = pool_env(&[
        ("PG_POOL_MIN", "2"),
        ("POSTGRES_POOL_MIN_SIZE", "3"),
        ("DB_POOL_SIZE", "4"),
        ("PG_POOL_MAX", "12"),
        ("POSTGRES_POOL_MAX_SIZE", "13"),
    ]);
    assert_eq!((c.min_size, c.max_size), (2, 12));
    let c = pool_env(&[
        ("POSTGRES_POOL_MIN_SIZE", "3"),
        ("DB_POOL_SIZE", "4"),
        ("POSTGRES_POOL_MAX_SIZE", "13"),
    ]);
    assert_eq!((c.min_size, c.max_size), (3, 13));
    let c = pool_env(&[("DB_POOL_SIZE", "4")]);
    assert_eq!((c.min_size, c.max_size), (4, 14));
    // Canonical over aliases for the others too.
    let c = pool_env(&[
        ("PGPOOL_TIMEOUT", "1"),
        ("POSTGRES_POOL_TIMEOUT", "2"),
        ("PGPOOL_MAX_LIFETIME", "3"),
        ("DB_POOL_RECYCLE", "4"),
        ("PGPOOL_PRE_PING", "off"),
        ("DB_POOL_PRE_PING", "true"),
    ]);
    assert_eq!(c.timeout, Duration::from_secs(1));
    assert_eq!(c.max_lifetime, Some(Duration::from_secs(3)));
    assert!(!c.pre_ping);
}

#[test]
fn empty_variables_count_as_unset() {
    let c = pool_env(&[
        ("PGPOOL_MAX_SIZE", ""),
        ("PG_POOL_MAX", "7"),
        ("PGPOOL_TIMEOUT", " "),
    ]);
    assert_eq!(c.max_size, 7);
    assert_eq!(c.timeout, Duration::from_secs(30));
}

#[test]
fn sqlalchemy_sizes() {
    let c = pool_env(&[("DB_POOL_SIZE", "20")]);
    assert_eq!((c.min_size, c.max_size), (20, 30));
    let c = pool_env(&[("DB_MAX_OVERFLOW", "15")]);
    assert_eq!((c.min_size, c.max_size), (1, 20));
    let c = pool_env(&[("DB_POOL_SIZE", "0"), ("DB_MAX_OVERFLOW", "3")]);
    assert_eq!((c.min_size, c.max_size), (0, 3));
    let m = assert_setting(
        pool(
            None,
            &PoolOverrides::default(),
            &[("DB_MAX_OVERFLOW", "-1")],
        ),
        "DB_MAX_OVERFLOW",
    );
    assert!(m.contains("unlimited"), "{m}");
    assert_setting(
        pool(
            None,
            &PoolOverrides::default(),
            &[("DB_MAX_OVERFLOW", "lots")],
        ),
        "DB_MAX_OVERFLOW",
    );
    assert_setting(
        pool(
            None,
            &PoolOverrides::default(),
            &[("DB_POOL_SIZE", "x"), ("PGPOOL_MIN_SIZE", "1")],
        ),
        "DB_POOL_SIZE",
    );
}

#[test]
fn default_max_rises_to_min() {
    let c = pool_env(&[("PG_POOL_MIN", "20")]);
    assert_eq!((c.min_size, c.max_size), (20, 20));
}

#[test]
fn timeout_variables() {
    assert_eq!(
        pool_env(&[("PGPOOL_TIMEOUT", "5")]).timeout,
        Duration::from_secs(5)
    );
    assert_eq!(
        pool_env(&[("POSTGRES_POOL_TIMEOUT", "60.0")]).timeout,
        Duration::from_secs(60)
    );
    assert_eq!(
        pool_env(&[("PGPOOL_TIMEOUT", "0.25")]).timeout,
        Duration::from_millis(250)
    );
    assert_eq!(pool_env(&[("PGPOOL_TIMEOUT", "0")]).timeout, Duration::ZERO);
    for bad in ["abc", "inf", "NaN", "1e400", "10s"] {
        let m = assert_setting(
            pool(None, &PoolOverrides::default(), &[("PGPOOL_TIMEOUT", bad)]),
            "PGPOOL_TIMEOUT",
        );
        assert!(m.contains("invalid number of seconds"), "{bad}: {m}");
    }
    let m = assert_setting(
        pool(
            None,
            &PoolOverrides::default(),
            &[("POSTGRES_POOL_TIMEOUT", "-1")],
        ),
        "POSTGRES_POOL_TIMEOUT",
    );
    assert!(m.contains("negative"), "{m}");
    assert_setting(
        pool(
            None,
            &PoolOverrides::default(),
            &[("PGPOOL_TIMEOUT", "1e30")],
        ),
        "PGPOOL_TIMEOUT",
    );
}

#[test]
fn lifetime_idle_and_leak_variables() {
    let life = |v: &str| pool_env(&[("DB_POOL_RECYCLE", v)]).max_lifetime;
    assert_eq!(life("600"), Some(Duration::from_secs(600)));
    assert_eq!(life("-1"), None);
    assert_eq!(life("0"), None);
    assert_eq!(life("never"), None);
    assert_eq!(
        pool_env(&[("PGPOOL_MAX_LIFETIME", "1.5")]).max_lifetime,
        Some(Duration::from_millis(1500))
    );
    assert_eq!(
        pool_env(&[("PGPOOL_MAX_LIFETIME", "OFF")]).max_lifetime,
        None
    );
    let m = assert_setting(
        pool(
            None,
            &PoolOverrides::default(),
            &[("DB_POOL_RECYCLE", "-5")],
        ),
        "DB_POOL_RECYCLE",
    );
    assert!(m.contains("negative"), "{m}");
    assert_setting(
        pool(
            None,
            &PoolOverrides::default(),
            &[("PGPOOL_MAX_LIFETIME", "1h")],
        ),
        "PGPOOL_MAX_LIFETIME",
    );

    assert_eq!(
        pool_env(&[("PGPOOL_MAX_IDLE", "30")]).max_idle,
        Some(Duration::from_secs(30))
    );
    assert_eq!(pool_env(&[("PGPOOL_MAX_IDLE", "0")]).max_idle, None);
    assert_setting(
        pool(None, &PoolOverrides::default(), &[("PGPOOL_MAX_IDLE", "x")]),
        "PGPOOL_MAX_IDLE",
    );

    let leak = |v: &str| pool_env(&[("PGPOOL_LEAK_THRESHOLD", v)]).leak_threshold;
    assert_eq!(leak("2.5"), Some(Duration::from_millis(2500)));
    assert_eq!(leak("0"), None);
    assert_eq!(leak("off"), None);
    assert_eq!(leak(""), None);
    assert_setting(
        pool(
            None,
            &PoolOverrides::default(),
            &[("PGPOOL_LEAK_THRESHOLD", "-2")],
        ),
        "PGPOOL_LEAK_THRESHOLD",
    );
}

/// Issue 13 items 7 and 13: one rule per kind of duration setting, whatever the face.
#[test]
fn duration_kinds_reject_nan_negatives_and_out_of_range() {
    // The acquire timeout.
    assert_eq!(duration_secs("timeout", 0.0).unwrap(), Duration::ZERO);
    assert_eq!(
        duration_secs("timeout", 2.5).unwrap(),
        Duration::from_millis(2500)
    );
    assert_eq!(
        duration_secs("timeout", MAX_DURATION.as_secs_f64()).unwrap(),
        MAX_DURATION
    );
    for bad in [
        f64::NAN,
        -f64::NAN,
        -1.0,
        -0.001,
        f64::INFINITY,
        f64::NEG_INFINITY,
        1e300,
        9.3e18,
        MAX_DURATION.as_secs_f64() + 1.0,
    ] {
        let e = duration_secs("timeout", bad).unwrap_err();
        assert!(
            matches!(&e, Error::Config { setting, .. } if setting == "timeout"),
            "{bad}: {e}"
        );
    }
    // Off-able durations: 0, -1, inf and beyond 100 years are off.
    for setting in [
        "max_lifetime",
        "max_idle",
        "leak_threshold",
        "command_timeout",
    ] {
        for off in [0.0, -0.0, -1.0, f64::INFINITY, 1e12, 1e300, 9.3e18] {
            assert_eq!(
                optional_duration_secs(setting, off).unwrap(),
                None,
                "{setting}={off}"
            );
        }
        assert_eq!(
            optional_duration_secs(setting, 1.5).unwrap(),
            Some(Duration::from_millis(1500))
        );
        assert_eq!(
            optional_duration_secs(setting, MAX_DURATION.as_secs_f64()).unwrap(),
            Some(MAX_DURATION)
        );
        for bad in [f64::NAN, -3.0, -0.5, -1.5, f64::NEG_INFINITY] {
            let e = optional_duration_secs(setting, bad).unwrap_err();
            assert!(
                matches!(&e, Error::Config { setting: s, .. } if s == setting),
                "{setting}={bad}: {e}"
            );
        }
    }
    // Milliseconds (C).
    assert_eq!(
        duration_ms("x", u32::MAX.into()).unwrap(),
        Duration::from_millis(u32::MAX.into())
    );
    assert!(duration_ms("x", u64::MAX).is_err());
    assert_eq!(optional_duration_ms("x", 0).unwrap(), None);
    assert_eq!(optional_duration_ms("x", u64::MAX).unwrap(), None);
    assert_eq!(
        optional_duration_ms("x", 1500).unwrap(),
        Some(Duration::from_millis(1500))
    );
}

/// The environment follows the same rules as the arguments.
#[test]
fn duration_variables_follow_the_kinds() {
    let vars = [
        ("PGPOOL_MAX_LIFETIME", "max_lifetime"),
        ("DB_POOL_RECYCLE", "max_lifetime"),
        ("PGPOOL_MAX_IDLE", "max_idle"),
        ("PGPOOL_LEAK_THRESHOLD", "leak_threshold"),
        ("PGPOOL_COMMAND_TIMEOUT", "command_timeout"),
    ];
    let get = |field: &str, c: &PoolConfig| match field {
        "max_lifetime" => c.max_lifetime,
        "max_idle" => c.max_idle,
        "leak_threshold" => c.leak_threshold,
        _ => c.command_timeout,
    };
    for (var, field) in vars {
        for off in ["0", "-1", "inf", "Infinity", "1e12", "1e400", "never"] {
            assert_eq!(get(field, &pool_env(&[(var, off)])), None, "{var}={off}");
        }
        assert_eq!(
            get(field, &pool_env(&[(var, "3155760000")])),
            Some(MAX_DURATION)
        );
        for bad in ["nan", "NaN", "-3", "-0.5", "-inf"] {
            assert_setting(pool(None, &PoolOverrides::default(), &[(var, bad)]), var);
        }
    }
    for bad in ["nan", "-3", "inf", "1e12", "9.3e18"] {
        assert_setting(
            pool(None, &PoolOverrides::default(), &[("PGPOOL_TIMEOUT", bad)]),
            "PGPOOL_TIMEOUT",
        );
    }
}

/// Durations given as `Duration`s (the Rust API) are held to the same bound.
#[test]
fn duration_overrides_are_bounded() {
    let ov = PoolOverrides {
        timeout: Some(Duration::MAX),
        ..PoolOverrides::default()
    };
    assert_setting(pool(None, &ov, &[]), "timeout");
    let ov = PoolOverrides {
        max_lifetime: Some(Some(Duration::MAX)),
        max_idle: Some(Some(Duration::from_secs(u64::MAX / 2))),
        leak_threshold: Some(Some(Duration::MAX)),
        command_timeout: Some(Some(Duration::MAX)),
        ..PoolOverrides::default()
    };
    let c = pool(None, &ov, &[]).unwrap();
    assert_eq!(
        (
            c.max_lifetime,
            c.max_idle,
            c.leak_threshold,
            c.command_timeout
        ),
        (None, None, None, None)
    );
    let mut c = pool_env(&[]);
    c.timeout = Duration::MAX;
    assert!(c.clone().bound_durations().is_err());
    c.timeout = Duration::from_secs(1);
    c.max_lifetime = Some(Duration::MAX);
    c.connect.connect_timeout = Some(Duration::MAX);
    let c = c.bound_durations().unwrap();
    assert_eq!(c.max_lifetime, None);
    assert_eq!(c.connect.connect_timeout, Some(MAX_DURATION));
}

#[test]
fn pre_ping_variables() {
    for var in PRE_PING_VARS {
        for v in ["true", "TRUE", "1", "yes", "on", " On "] {
            assert!(pool_env(&[(var, v)]).pre_ping, "{var}={v}");
        }
        for v in ["false", "False", "0", "no", "off"] {
            assert!(!pool_env(&[(var, v)]).pre_ping, "{var}={v}");
        }
        let m = assert_setting(
            pool(None, &PoolOverrides::default(), &[(var, "maybe")]),
            var,
        );
        assert!(m.contains("invalid boolean 'maybe'"), "{m}");
    }
}

#[test]
fn lazy_min_argument_and_variable() {
    assert!(!pool_env(&[]).lazy_min);
    assert!(pool_env(&[("PGPOOL_LAZY_MIN", "true")]).lazy_min);
    assert!(!pool_env(&[("PGPOOL_LAZY_MIN", "off")]).lazy_min);
    // Each seed's variable keeps its old behaviour: SQLAlchemy's pool_size is lazy,
    // psycopg2 pools' minconn (seeds 000 and 001) eager; PGPOOL_LAZY_MIN decides over it.
    let c = pool_env(&[("DB_POOL_SIZE", "20")]);
    assert!(c.lazy_min && c.min_size == 20);
    assert!(!pool_env(&[("DB_POOL_SIZE", "20"), ("PGPOOL_LAZY_MIN", "0")]).lazy_min);
    assert!(!pool_env(&[("PG_POOL_MIN", "3")]).lazy_min);
    assert!(!pool_env(&[("POSTGRES_POOL_MIN_SIZE", "3")]).lazy_min);
    assert!(!pool_env(&[("PGPOOL_MIN_SIZE", "3"), ("DB_POOL_SIZE", "20")]).lazy_min);
    let o = PoolOverrides {
        lazy_min: Some(false),
        ..Default::default()
    };
    let c = PoolConfig::with_env(None, &o, &|k: &str| {
        (k == "PGPOOL_LAZY_MIN").then(|| "1".to_string())
    })
    .unwrap();
    assert!(!c.lazy_min, "the argument wins over the environment");
    assert_setting(
        pool(None, &PoolOverrides::default(), &[("PGPOOL_LAZY_MIN", "x")]),
        "PGPOOL_LAZY_MIN",
    );
}

#[test]
fn max_waiting_variable() {
    assert_eq!(pool_env(&[("PGPOOL_MAX_WAITING", "50")]).max_waiting, 50);
    assert_setting(
        pool(
            None,
            &PoolOverrides::default(),
            &[("PGPOOL_MAX_WAITING", "-1")],
        ),
        "PGPOOL_MAX_WAITING",
    );
    assert_setting(
        pool(
            None,
            &PoolOverrides::default(),
            &[("PGPOOL_MAX_WAITING", "many")],
        ),
        "PGPOOL_MAX_WAITING",
    );
}

#[test]
fn unparsable_sizes_name_the_variable() {
    let e = pool(None, &PoolOverrides::default(), &[("PG_POOL_MAX", "ten")]).unwrap_err();
    assert_eq!(
        e.to_string(),
        "invalid configuration PG_POOL_MAX: invalid integer 'ten'"
    );
    for var in MIN_SIZE_VARS.iter().chain(MAX_SIZE_VARS) {
        assert_setting(pool(None, &PoolOverrides::default(), &[(var, "1.5")]), var);
        let m = assert_setting(pool(None, &PoolOverrides::default(), &[(var, "-3")]), var);
        assert!(m.contains("must not be negative"), "{m}");
    }
}

#[test]
fn size_validation() {
    let m = assert_setting(
        pool(
            None,
            &PoolOverrides::default(),
            &[("PG_POOL_MIN", "5"), ("PG_POOL_MAX", "2")],
        ),
        "PG_POOL_MIN",
    );
    assert!(
        m.contains("min_size 5 is greater than max_size 2 (from PG_POOL_MAX)"),
        "{m}"
    );
    let ov = PoolOverrides {
        max_size: Some(0),
        ..Default::default()
    };
    let m = assert_setting(pool(None, &ov, &[]), "max_size");
    assert!(m.contains("at least 1"), "{m}");
    assert_setting(
        pool(None, &PoolOverrides::default(), &[("PGPOOL_MAX_SIZE", "0")]),
        "PGPOOL_MAX_SIZE",
    );
    let ov = PoolOverrides {
        min_size: Some(4),
        max_size: Some(3),
        ..Default::default()
    };
    assert_setting(pool(None, &ov, &[]), "min_size");
    // Explicit max below an environment minimum.
    let ov = PoolOverrides {
        max_size: Some(3),
        ..Default::default()
    };
    assert_setting(
        pool(None, &ov, &[("PGPOOL_MIN_SIZE", "4")]),
        "PGPOOL_MIN_SIZE",
    );
}

#[test]
fn arguments_beat_environment() {
    let ov = PoolOverrides {
        min_size: Some(2),
        max_size: Some(4),
        timeout: Some(Duration::from_secs(9)),
        max_lifetime: Some(Some(Duration::from_secs(99))),
        max_idle: Some(None),
        pre_ping: Some(false),
        max_waiting: Some(5),
        leak_threshold: Some(Some(Duration::from_secs(3))),
        name: Some("main".into()),
        ..Default::default()
    };
    let env = [
        ("PGPOOL_MIN_SIZE", "1"),
        ("PGPOOL_MAX_SIZE", "50"),
        ("PGPOOL_TIMEOUT", "1"),
        ("PGPOOL_MAX_LIFETIME", "1"),
        ("PGPOOL_MAX_IDLE", "1"),
        ("PGPOOL_PRE_PING", "true"),
        ("PGPOOL_MAX_WAITING", "1"),
        ("PGPOOL_LEAK_THRESHOLD", "1"),
        // Invalid values below an argument are never read.
        ("PG_POOL_MAX", "ten"),
    ];
    let c = pool(None, &ov, &env).unwrap();
    assert_eq!((c.min_size, c.max_size), (2, 4));
    assert_eq!(c.timeout, Duration::from_secs(9));
    assert_eq!(c.max_lifetime, Some(Duration::from_secs(99)));
    assert_eq!(c.max_idle, None);
    assert!(!c.pre_ping);
    assert_eq!(c.max_waiting, 5);
    assert_eq!(c.leak_threshold, Some(Duration::from_secs(3)));
    assert_eq!(c.name.as_deref(), Some("main"));
}

#[test]
fn zero_duration_arguments_mean_never() {
    let ov = PoolOverrides {
        max_lifetime: Some(Some(Duration::ZERO)),
        max_idle: Some(Some(Duration::ZERO)),
        leak_threshold: Some(Some(Duration::ZERO)),
        ..Default::default()
    };
    let c = pool(None, &ov, &[]).unwrap();
    assert_eq!(
        (c.max_lifetime, c.max_idle, c.leak_threshold),
        (None, None, None)
    );
}

#[test]
fn connection_precedence_argument_dsn_env_default() {
    let env = [
        ("PGHOST", "envhost"),
        ("PGPORT", "1111"),
        ("PGUSER", "envuser"),
    ];
    let ov = PoolOverrides {
        keywords: kv(&[("host", "arghost")]),
        ..Default::default()
    };
    let c = pool(Some("host=dsnhost port=2222"), &ov, &env).unwrap();
    assert_eq!(c.connect.hosts, vec![tcp("arghost")]); // argument
    assert_eq!(c.connect.ports, vec![2222]); // DSN
    assert_eq!(c.connect.user, "envuser"); // environment
    assert_eq!(c.connect.ssl.mode, SslMode::Prefer); // default
    let c = pool(Some("host=dsnhost"), &PoolOverrides::default(), &env).unwrap();
    assert_eq!(c.connect.hosts, vec![tcp("dsnhost")]);
    let c = pool(None, &PoolOverrides::default(), &env).unwrap();
    assert_eq!(c.connect.hosts, vec![tcp("envhost")]);
    let c = pool(None, &PoolOverrides::default(), &[]).unwrap();
    assert_eq!(c.connect.hosts, vec![default_host()]);
    // Unknown keyword arguments are rejected.
    let ov = PoolOverrides {
        keywords: kv(&[("dbnmae", "x")]),
        ..Default::default()
    };
    assert_setting(pool(None, &ov, &[]), "dbnmae");
}

#[test]
fn database_url() {
    let env = [
        ("DATABASE_URL", "postgresql://u:pw@urlhost:5433/urldb"),
        ("PGHOST", "envhost"),
        ("PGAPPNAME", "envapp"),
    ];
    let c = pool(None, &PoolOverrides::default(), &env).unwrap();
    assert_eq!(c.connect.hosts, vec![tcp("urlhost")]);
    assert_eq!(c.connect.ports, vec![5433]);
    assert_eq!(c.connect.dbname, "urldb");
    assert_eq!(c.connect.user, "u");
    assert_eq!(c.connect.password.as_deref(), Some("pw"));
    assert_eq!(c.connect.application_name.as_deref(), Some("envapp"));
    // A blank DSN is no DSN.
    let c2 = pool(Some("  "), &PoolOverrides::default(), &env).unwrap();
    assert_eq!(c2, c);
    // An explicit DSN hides DATABASE_URL.
    let c = pool(Some("dbname=other"), &PoolOverrides::default(), &env).unwrap();
    assert_eq!(c.connect.hosts, vec![tcp("envhost")]);
    assert_eq!(c.connect.dbname, "other");
    assert_eq!(c.connect.password, None);
    // Syntax errors name DATABASE_URL.
    assert_setting(
        pool(
            None,
            &PoolOverrides::default(),
            &[("DATABASE_URL", "postgres://[::1")],
        ),
        "DATABASE_URL",
    );
    assert_setting(
        pool(Some("postgres://[::1"), &PoolOverrides::default(), &[]),
        "dsn",
    );
}

#[test]
fn replicas() {
    let ov = PoolOverrides {
        replicas: vec![
            "host=replica1".into(),
            "postgresql://replica2:5433/ro".into(),
        ],
        ..Default::default()
    };
    let env = [
        ("PGUSER", "app"),
        ("PGPASSWORD", "envpw"),
        ("PGDATABASE", "main"),
    ];
    let c = pool(Some("host=primary"), &ov, &env).unwrap();
    assert_eq!(c.replicas.len(), 2);
    assert_eq!(c.replicas[0].hosts, vec![tcp("replica1")]);
    assert_eq!(c.replicas[0].user, "app");
    assert_eq!(c.replicas[0].password.as_deref(), Some("envpw"));
    assert_eq!(c.replicas[0].dbname, "main");
    assert_eq!(
        c.replicas[1].host_port_pairs(),
        vec![(tcp("replica2"), 5433)]
    );
    assert_eq!(c.replicas[1].dbname, "ro");
    let ov = PoolOverrides {
        replicas: vec!["host=ok".into(), "host='broken".into()],
        ..Default::default()
    };
    assert_setting(pool(None, &ov, &[]), "replicas[1]");
    let ov = PoolOverrides {
        replicas: vec!["host=ok port=x".into()],
        ..Default::default()
    };
    assert_setting(pool(None, &ov, &[]), "port");
}

// --- the seed systems ---------------------------------------------------------

#[test]
fn seed_veritas() {
    let c = pool_env(&[
        ("POSTGRES_HOST", "localhost"),
        ("POSTGRES_PORT", "6432"),
        ("POSTGRES_DATABASE", "veritas"),
        ("POSTGRES_USER", "postgres"),
        ("POSTGRES_PASSWORD", "secret"),
        ("PG_POOL_MIN", "1"),
        ("PG_POOL_MAX", "10"),
    ]);
    assert_eq!(
        c.connect.describe(),
        "host=localhost port=6432 dbname=veritas user=postgres"
    );
    assert_eq!((c.min_size, c.max_size), (1, 10));
}

#[test]
fn seed_skills_engine() {
    let c = pool_env(&[
        ("DATABASE_URL", "postgresql://skills:pw@db:5432/skills"),
        ("POSTGRES_POOL_MAX_SIZE", "15"),
        ("POSTGRES_POOL_MIN_SIZE", "5"),
        ("POSTGRES_POOL_TIMEOUT", "30.0"),
    ]);
    assert_eq!((c.min_size, c.max_size), (5, 15));
    assert_eq!(c.timeout, Duration::from_secs(30));
    assert_eq!(c.connect.dbname, "skills");
}

#[test]
fn seed_writeros() {
    let c = pool_env(&[
        ("DATABASE_URL", "postgresql+psycopg2://w:pw@db/writer"),
        ("DB_POOL_SIZE", "20"),
        ("DB_MAX_OVERFLOW", "40"),
        ("DB_POOL_RECYCLE", "3600"),
        ("DB_POOL_PRE_PING", "true"),
    ]);
    assert_eq!((c.min_size, c.max_size), (20, 60));
    assert_eq!(c.max_lifetime, Some(Duration::from_secs(3600)));
    assert!(c.pre_ping);
    assert_eq!(c.connect.hosts, vec![tcp("db")]);
}

// --- secrets ------------------------------------------------------------------

const SECRET: &str = "Sup3rS3cretPw";

#[track_caller]
fn assert_no_secret(s: &str) {
    assert!(!s.contains(SECRET), "secret leaked: {s}");
    assert!(!s.contains("Sup3r"), "secret leaked: {s}");
    assert!(!s.contains("S3cret"), "secret leaked: {s}");
}

#[test]
fn errors_never_contain_the_password() {
    let dsns = [
        format!("host=h password={SECRET} bogus=1"),
        format!("password='{SECRET}' port=abc"),
        format!("bogus=1 password={SECRET}"),
        format!("postgresql://u:{SECRET}@h/db?bogus=1"),
        format!("postgresql://u:{SECRET}@h:99999/db"),
        format!("postgresql://u:{SECRET}@h/db?sslmode=maybe"),
        format!("postgresql://h/db?password={SECRET}&bogus=1"),
        // Malformed: unquoted space, stray '&', '/' and '%' in a password.
        "password=Sup3r S3cretPw".to_owned(),
        "password=Sup3r S3cret=Pw".to_owned(),
        "postgresql://h/db?password=Sup3r&S3cretPw".to_owned(),
        "postgresql://h/db?password=Sup3r&S3cret=Pw".to_owned(),
        "postgresql://h/db?password=Sup3r=S3cretPw".to_owned(),
        "postgresql://u:Sup3r/S3cretPw@h/db".to_owned(),
        "postgresql://u:Sup3r%zzS3cretPw@h/db".to_owned(),
        "postgresql://u:Sup3r S3cretPw@h/db".to_owned(),
        "postgresql://h/db?password=Sup3r%00S3cretPw".to_owned(),
        "postgresql://h/db?sslpassword=Sup3r%zzS3cretPw".to_owned(),
    ];
    for dsn in &dsns {
        let r = pool(Some(dsn), &PoolOverrides::default(), &[]);
        let e = r.expect_err(dsn);
        assert_no_secret(&e.to_string());
        assert_no_secret(&format!("{e:?}"));
    }
    // A password from the environment next to a bad setting.
    let e = pool(
        None,
        &PoolOverrides::default(),
        &[("PGPASSWORD", SECRET), ("PGPORT", "x")],
    )
    .unwrap_err();
    assert_no_secret(&e.to_string());
}

#[test]
fn unknown_keyword_next_to_a_password_is_still_named_elsewhere() {
    let (setting, message) = config_err(parse_dsn(&format!("password={SECRET} host=h bogus=1")));
    assert_eq!(
        (setting.as_str(), message.as_str()),
        ("bogus", "unknown connection option")
    );
}

#[test]
fn debug_never_contains_the_password() {
    let ov = PoolOverrides {
        keywords: kv(&[("password", SECRET), ("sslpassword", SECRET)]),
        replicas: vec![
            format!("postgresql://u:{SECRET}@replica/db"),
            format!("host=r password='{SECRET}'"),
        ],
        ..Default::default()
    };
    let ov_debug = format!("{ov:?}");
    assert_no_secret(&ov_debug);
    assert!(ov_debug.contains("replica"), "{ov_debug}");
    let c = pool(
        Some(&format!("postgresql://u:{SECRET}@h/db")),
        &ov,
        &[("PGPASSWORD", SECRET)],
    )
    .unwrap();
    assert_eq!(c.connect.password.as_deref(), Some(SECRET));
    assert_eq!(c.replicas[0].password.as_deref(), Some(SECRET));
    for s in [
        format!("{c:?}"),
        format!("{c:#?}"),
        format!("{:?}", c.connect),
        c.connect.describe(),
        c.replicas[1].describe(),
    ] {
        assert_no_secret(&s);
    }
    assert!(format!("{c:?}").contains("********"));
}

#[test]
fn obscure_password_as_psycopg2_shows_a_dsn() {
    // No secret: unchanged (a URI stays a URI).
    assert_eq!(obscure_password("host=h  dbname=d"), "host=h  dbname=d");
    assert_eq!(obscure_password("postgres://u@h/d"), "postgres://u@h/d");
    assert_eq!(
        obscure_password(&format!("dbname=nosuch password={SECRET}")),
        "dbname=nosuch password=xxx"
    );
    assert_eq!(
        obscure_password(&format!("postgres://someone:{SECRET}@localhost/nosuch")),
        "user=someone password=xxx host=localhost dbname=nosuch"
    );
    assert_eq!(
        obscure_password(&format!(
            "sslpassword={SECRET} application_name='a b' password=y"
        )),
        "sslpassword=xxx application_name='a b' password=xxx"
    );
    // Unparsable: redacted the other way, never shown.
    assert_no_secret(&obscure_password(&format!("password='{SECRET}")));
}

#[test]
fn redact_keyword_value_strings() {
    assert_eq!(
        redact_dsn(&format!("host=h password={SECRET} dbname=d")),
        "host=h password=******** dbname=d"
    );
    assert_eq!(
        redact_dsn(r"host=h password = 'a b\'c' dbname=d"),
        "host=h password = ******** dbname=d"
    );
    assert_eq!(
        redact_dsn("sslpassword=x password=y"),
        "sslpassword=******** password=********"
    );
    assert_eq!(redact_dsn("host=h port=5432"), "host=h port=5432");
    // Malformed: an unquoted space, an unterminated quote.
    assert_eq!(
        redact_dsn("password=Sup3r S3cretPw host=h"),
        "password=******** ******** host=h"
    );
    assert_eq!(
        redact_dsn("host=h password='Sup3r S3cre"),
        "host=h password=********"
    );
    assert_eq!(redact_dsn("password=a\\"), "password=********");
}

#[test]
fn redact_uris() {
    for (uri, want) in [
        (
            format!("postgresql://u:{SECRET}@h:5432/db"),
            "postgresql://u:********@h:5432/db",
        ),
        (
            format!("postgres://u:{SECRET}@h1,h2/db?sslmode=require"),
            "postgres://u:********@h1,h2/db?sslmode=require",
        ),
        (
            format!("postgresql://h/db?password={SECRET}&sslmode=require"),
            "postgresql://h/db?password=********&sslmode=require",
        ),
        (
            format!("postgresql://h/db?pass%77ord={SECRET}"),
            "postgresql://h/db?pass%77ord=********",
        ),
        (
            format!("postgresql+asyncpg://u:{SECRET}@h/db"),
            "postgresql+asyncpg://u:********@h/db",
        ),
        (
            "postgresql://u:Sup3r@S3cretPw@h/db".to_owned(),
            "postgresql://u:********@h/db",
        ),
        (
            "postgresql://u:Sup3r/S3cretPw@h/db".to_owned(),
            "postgresql://u:********@h/db",
        ),
        (
            "postgresql://h/db?password=Sup3r@S3cretPw".to_owned(),
            "postgresql://h/db?password=********",
        ),
        (
            "postgresql://h:5432/db?password=Sup3r@S3cretPw".to_owned(),
            "postgresql://h:5432/db?password=********",
        ),
        (
            "postgresql://h?password=Sup3r@S3cretPw".to_owned(),
            "postgresql://h?password=********",
        ),
        (
            "postgresql://h/db?password=Sup3r&S3cretPw&port=1".to_owned(),
            "postgresql://h/db?password=********&********&port=1",
        ),
        (
            "postgresql://u@h/db?user=me@example.com".to_owned(),
            "postgresql://u@h/db?user=me@example.com",
        ),
        ("postgresql://h/db".to_owned(), "postgresql://h/db"),
    ] {
        assert_eq!(redact_dsn(&uri), want, "{uri}");
    }
}

#[test]
fn uri_password_decode_errors_do_not_quote_it() {
    let m = assert_setting(parse_dsn("postgresql://u:Sup3r%zz@h/db"), "dsn");
    assert!(m.contains("in the password"), "{m}");
    assert_no_secret(&m);
}

#[test]
fn use_pgbouncer_routes_primary_and_replicas_through_pgbouncer() {
    // Seed 003's switch, off by default.
    let url = "postgresql://app:pw@db.internal:5432/soulsense";
    let replica = "postgresql://app:pw@replica.internal:5433/soulsense";
    let vars = [("DATABASE_URL", url), ("REPLICA_DATABASE_URL", replica)];
    let c = pool_env(&vars);
    assert_eq!(c.connect.hosts, [tcp("db.internal")]);
    assert_eq!(c.replicas.len(), 1);
    assert_eq!(c.replicas[0].hosts, [tcp("replica.internal")]);

    let mut on = vars.to_vec();
    on.extend([("USE_PGBOUNCER", "true"), ("PGBOUNCER_HOST", "pgbouncer")]);
    let c = pool_env(&on);
    for p in std::iter::once(&c.connect).chain(&c.replicas) {
        assert_eq!(p.hosts, [tcp("pgbouncer")]);
        assert_eq!(p.ports, [6432]);
        assert_eq!(p.dbname, "soulsense");
        assert_eq!(p.user, "app");
    }
    on.push(("PGBOUNCER_PORT", "7432"));
    assert_eq!(pool_env(&on).connect.ports, [7432]);
    let c = pool_env(&[("DATABASE_URL", url), ("USE_PGBOUNCER", "1")]);
    assert_eq!(
        (c.connect.hosts.clone(), c.connect.ports.clone()),
        (vec![tcp("localhost")], vec![6432])
    );
    assert_setting(
        pool(
            None,
            &PoolOverrides::default(),
            &[("USE_PGBOUNCER", "maybe")],
        ),
        "USE_PGBOUNCER",
    );
    assert_setting(
        pool(
            None,
            &PoolOverrides::default(),
            &[("USE_PGBOUNCER", "true"), ("PGBOUNCER_PORT", "0")],
        ),
        "PGBOUNCER_PORT",
    );
    // The second name of the replica variable; an argument wins over both.
    let c = pool_env(&[("DATABASE_REPLICA_URL", replica)]);
    assert_eq!(c.replicas[0].hosts, [tcp("replica.internal")]);
    let o = PoolOverrides {
        replicas: vec!["host=other".into()],
        ..Default::default()
    };
    let c = pool(None, &o, &[("REPLICA_DATABASE_URL", replica)]).unwrap();
    assert_eq!(c.replicas.len(), 1);
    assert_eq!(c.replicas[0].hosts, [tcp("other")]);
    assert_setting(
        pool(
            None,
            &PoolOverrides::default(),
            &[("REPLICA_DATABASE_URL", "postgresql://%zz")],
        ),
        "REPLICA_DATABASE_URL",
    );
}

#[test]
fn replica_sizes_of_their_own() {
    // Seed 003: primary 20 + 10, replica 30 + 15.
    let vars = [
        ("DB_POOL_SIZE", "20"),
        ("DB_MAX_OVERFLOW", "10"),
        ("PGPOOL_REPLICA_MIN_SIZE", "30"),
        ("PGPOOL_REPLICA_MAX_SIZE", "45"),
    ];
    let c = pool_env(&vars);
    assert_eq!((c.min_size, c.max_size), (20, 30));
    assert_eq!(
        (c.replica_min_size, c.replica_max_size),
        (Some(30), Some(45))
    );
    let c = pool_env(&[]);
    assert_eq!((c.replica_min_size, c.replica_max_size), (None, None));
    let o = PoolOverrides {
        replica_max_size: Some(5),
        ..Default::default()
    };
    let c = pool(None, &o, &[("PGPOOL_REPLICA_MAX_SIZE", "45")]).unwrap();
    assert_eq!(c.replica_max_size, Some(5), "the argument wins");
    assert_setting(
        pool(
            None,
            &PoolOverrides::default(),
            &[("PGPOOL_REPLICA_MAX_SIZE", "0")],
        ),
        "replica_max_size",
    );
    assert_setting(
        pool(
            None,
            &PoolOverrides::default(),
            &[
                ("PGPOOL_REPLICA_MIN_SIZE", "8"),
                ("PGPOOL_REPLICA_MAX_SIZE", "4"),
            ],
        ),
        "replica_min_size",
    );
    assert_setting(
        pool(
            None,
            &PoolOverrides::default(),
            &[("PGPOOL_REPLICA_MIN_SIZE", "x")],
        ),
        "PGPOOL_REPLICA_MIN_SIZE",
    );
}
