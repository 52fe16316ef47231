/* TLS through the C API (pgpool_pool_new with a conninfo), against the harness's TLS
 * server ($PGPOOL_TEST_TLS_URL, files in $PGPOOL_TEST_TLS_DIR) and the main server, which
 * has no TLS. Skipped when PGPOOL_TEST_TLS_URL is unset (PGPOOL_TEST_TLS=0). */
#include "test.h"

/* The port of a postgresql://user@host:port/db URL; 0 when there is none. */
static int url_port(const char *url) {
    const char *at = url ? strrchr(url, '@') : NULL;
    const char *colon = at ? strchr(at, ':') : NULL;
    return colon ? atoi(colon + 1) : 0;
}

static const char *tls_dir(void) {
    const char *d = getenv("PGPOOL_TEST_TLS_DIR");
    return d && *d ? d : NULL;
}

static int tls_port(void) {
    const char *u = getenv("PGPOOL_TEST_TLS_URL");
    if (!u || !*u || !tls_dir()) {
        t_skip("PGPOOL_TEST_TLS_URL / PGPOOL_TEST_TLS_DIR not set (scripts/test-env sets them)");
        return 0;
    }
    return url_port(u);
}

/* A pool on `host`:`port` as `user` with the extra conninfo `extra` (%s: the TLS dir). */
static const pgpool_pool *tls_pool(const char *host, int port, const char *user,
                                   const char *extra, uint32_t min_size, uint32_t max_size,
                                   uint32_t timeout_ms) {
    char conninfo[1024], ex[768];
    pgpool_options o;
    const pgpool_pool *pool = NULL;
    pgpool_error *err = NULL;
    const char *d = tls_dir();
    /* `extra` names files as DIR/name. */
    {
        const char *p = extra;
        size_t n = 0;
        while (*p && n + 1 < sizeof ex) {
            if (strncmp(p, "DIR/", 4) == 0 && n + strlen(d) + 2 < sizeof ex) {
                n += (size_t)snprintf(ex + n, sizeof ex - n, "%s/", d);
                p += 4;
            } else {
                ex[n++] = *p++;
            }
        }
        ex[n] = '\0';
    }
    snprintf(conninfo, sizeof conninfo,
             "host=%s port=%d user=%s dbname=postgres connect_timeout=10 %s", host, port, user,
             ex);
    pgpool_options_init(&o);
    o.min_size = min_size;
    o.max_size = max_size;
    o.acquire_timeout_ms = timeout_ms;
    if (!EXPECT_OK(pgpool_pool_new(conninfo, &o, &pool, &err))) return NULL;
    return pool;
}

/* Acquires from a fresh pool and returns `SELECT <what> FROM pg_stat_ssl` for the
 * connection itself (malloc'ed; "<ERROR>" on failure). */
static char *ssl_of(const pgpool_pool *pool, const char *what) {
    pgpool_error *err = NULL;
    pgpool_conn *c = NULL;
    char sql[256], *v;
    if (!pool || !EXPECT_OK(pgpool_acquire(pool, -1, &c, &err))) {
        v = malloc(8);
        if (v) strcpy(v, "<ERROR>");
        return v;
    }
    snprintf(sql, sizeof sql, "SELECT %s FROM pg_stat_ssl WHERE pid = pg_backend_pid()", what);
    v = t_value(c, sql, 0, NULL);
    pgpool_release(c);
    return v;
}

/* Expects acquiring from the pool to fail (PGPOOL_TIMEOUT: the pool retries until its
 * timeout) with a message containing `want` (the last connection error). */
static void expect_connect_error(const pgpool_pool *pool, const char *want) {
    pgpool_error *err = NULL;
    pgpool_conn *c = NULL;
    if (!pool) return;
    if (EXPECT_KEEP(PGPOOL_TIMEOUT, pgpool_acquire(pool, -1, &c, &err))) {
        __sync_fetch_and_add(&t_checks, 1);
        if (!strstr(pgpool_error_message(err), want))
            t_fail(__FILE__, __LINE__, "error message lacks \"%s\": %s", want,
                   pgpool_error_message(err));
        pgpool_error_free(err);
    }
    pgpool_pool_free(pool);
}

void test_tls_sslmodes(void) {
    static const char *const modes[] = {"require", "verify-ca", "verify-full"};
    size_t i;
    char *v;
    const pgpool_pool *pool;
    int port = tls_port();
    if (!port) return;
    for (i = 0; i < sizeof modes / sizeof modes[0]; i++) {
        char extra[128];
        snprintf(extra, sizeof extra, "sslmode=%s sslrootcert=DIR/ca.crt", modes[i]);
        pool = tls_pool("localhost", port, "postgres", extra, 0, 1, 10000);
        v = ssl_of(pool, "ssl::text || ' ' || version");
        CHECK_STR(v, "true TLSv1.3");
        free(v);
        pgpool_pool_free(pool);
    }
    /* disable: plain text against the TLS server. */
    pool = tls_pool("localhost", port, "postgres", "sslmode=disable", 0, 1, 10000);
    v = ssl_of(pool, "ssl");
    CHECK_STR(v, "f");
    free(v);
    pgpool_pool_free(pool);
}

void test_tls_verify_full_host_mismatch(void) {
    int port = tls_port();
    if (!port) return;
    /* The certificate names DNS:localhost only. */
    expect_connect_error(tls_pool("127.0.0.1", port, "postgres",
                                  "sslmode=verify-full sslrootcert=DIR/ca.crt", 0, 1, 1500),
                         "does not match host name \"127.0.0.1\"");
    /* verify-ca does not check the name. */
    {
        const pgpool_pool *pool = tls_pool("127.0.0.1", port, "postgres",
                                           "sslmode=verify-ca sslrootcert=DIR/ca.crt", 0, 1,
                                           10000);
        char *v = ssl_of(pool, "ssl");
        CHECK_STR(v, "t");
        free(v);
        pgpool_pool_free(pool);
    }
}

void test_tls_wrong_ca(void) {
    int port = tls_port();
    if (!port) return;
    expect_connect_error(tls_pool("localhost", port, "postgres",
                                  "sslmode=verify-ca sslrootcert=DIR/wrong-ca.crt", 0, 1, 1500),
                         "certificate verify failed");
    expect_connect_error(tls_pool("localhost", port, "postgres",
                                  "sslmode=verify-full sslrootcert=DIR/wrong-ca.crt", 0, 1, 1500),
                         "certificate verify failed");
}

void test_tls_against_a_server_without_tls(void) {
    int port = tls_port(), plain = url_port(t_dburl());
    const pgpool_pool *pool;
    char *v;
    if (!port) return;
    /* prefer falls back to plain text; require fails as libpq does. */
    pool = tls_pool("127.0.0.1", plain, "postgres", "sslmode=prefer sslrootcert=DIR/ca.crt", 0,
                    1, 10000);
    v = ssl_of(pool, "ssl");
    CHECK_STR(v, "f");
    free(v);
    pgpool_pool_free(pool);
    expect_connect_error(tls_pool("127.0.0.1", plain, "postgres", "sslmode=require", 0, 1, 1500),
                         "server does not support SSL, but SSL was required");
}

void test_tls_client_certificate(void) {
    int port = tls_port();
    const pgpool_pool *pool;
    pgpool_error *err = NULL;
    pgpool_conn *c = NULL;
    char *v;
    if (!port) return;
    pool = tls_pool("localhost", port, "certuser",
                    "sslmode=verify-full sslrootcert=DIR/ca.crt sslcert=DIR/client.crt "
                    "sslkey=DIR/client.key",
                    0, 1, 10000);
    if (pool && EXPECT_OK(pgpool_acquire(pool, -1, &c, &err))) {
        v = t_value(c, "SELECT current_user", 0, NULL);
        CHECK_STR(v, "certuser");
        free(v);
        v = t_value(c, "SELECT client_dn FROM pg_stat_ssl WHERE pid = pg_backend_pid()", 0, NULL);
        CHECK_STR(v, "/CN=certuser");
        free(v);
        pgpool_release(c);
    }
    pgpool_pool_free(pool);
    /* Without the certificate the server refuses (pg_hba: cert). */
    expect_connect_error(tls_pool("localhost", port, "certuser",
                                  "sslmode=verify-full sslrootcert=DIR/ca.crt "
                                  "sslcert=DIR/no-such.crt",
                                  0, 1, 1500),
                         "certificate");
}

void test_tls_pool_connections_encrypted(void) {
    int port = tls_port();
    const pgpool_pool *pool;
    pgpool_error *err = NULL;
    pgpool_conn *c[3] = {NULL, NULL, NULL};
    char *v;
    int i;
    if (!port) return;
    pool = tls_pool("localhost", port, "postgres",
                    "sslmode=verify-full sslrootcert=DIR/ca.crt application_name=pgpool-c-tls", 3,
                    3, 10000);
    if (!pool) return;
    for (i = 0; i < 3; i++)
        if (!EXPECT_OK(pgpool_acquire(pool, -1, &c[i], &err))) goto out;
    v = t_value(c[0],
                "SELECT count(*) FILTER (WHERE s.ssl AND s.version = 'TLSv1.3') || '/' || count(*) "
                "FROM pg_stat_ssl s JOIN pg_stat_activity a USING (pid) "
                "WHERE a.application_name = 'pgpool-c-tls'",
                0, NULL);
    CHECK_STR(v, "3/3");
    free(v);
out:
    for (i = 0; i < 3; i++) pgpool_release(c[i]);
    pgpool_pool_free(pool);
}

/* PGSSLMODE / PGSSLROOTCERT fill in what the conninfo leaves out, as with libpq. */
void test_tls_environment(void) {
    int port = tls_port();
    const pgpool_pool *pool;
    char path[512];
    char *v;
    if (!port) return;
    snprintf(path, sizeof path, "%s/ca.crt", tls_dir());
    setenv("PGSSLMODE", "verify-full", 1);
    setenv("PGSSLROOTCERT", path, 1);
    pool = tls_pool("localhost", port, "postgres", "", 0, 1, 10000);
    v = ssl_of(pool, "ssl");
    CHECK_STR(v, "t");
    free(v);
    pgpool_pool_free(pool);
    /* ...and the host-name check applies. */
    expect_connect_error(tls_pool("127.0.0.1", port, "postgres", "", 0, 1, 1500),
                         "does not match host name");
    unsetenv("PGSSLMODE");
    unsetenv("PGSSLROOTCERT");
}
