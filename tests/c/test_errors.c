/* Every error path: server errors with their SQLSTATE, pool exhaustion, closing, waiter
 * limits, bad configuration, an unreachable database, a killed backend. */
#include "test.h"

#include <pthread.h>

void test_syntax_error(void) {
    pgpool_error *err = NULL;
    const pgpool_pool *pool = t_pool(0, 1, 10000);
    pgpool_conn *c = NULL;
    pgpool_result *r = (pgpool_result *)(uintptr_t)0x1;
    char *v;
    if (!pool) return;
    if (EXPECT_OK(pgpool_acquire(pool, -1, &c, &err))) {
        EXPECT_KEEP(PGPOOL_DATABASE, pgpool_exec(c, "SELEC 1", 0, NULL, &r, &err));
        CHECK_STR(pgpool_error_sqlstate(err), "42601");
        CHECK(strstr(pgpool_error_message(err), "syntax error") != NULL);
        CHECK(pgpool_error_code(err) == PGPOOL_DATABASE);
        CHECK(r == (pgpool_result *)(uintptr_t)0x1); /* untouched */
        pgpool_error_free(err);
        err = NULL;
        /* The same through the extended protocol. */
        {
            const char *p[1] = {"1"};
            EXPECT_KEEP(PGPOOL_DATABASE, pgpool_exec(c, "SELEC $1", 1, p, &r, &err));
            CHECK_STR(pgpool_error_sqlstate(err), "42601");
            pgpool_error_free(err);
            err = NULL;
        }
        /* A missing table: 42P01. No err pointer: just the code. */
        CHECK(pgpool_exec(c, "SELECT * FROM no_such_table_here", 0, NULL, NULL, NULL) ==
              PGPOOL_DATABASE);
        v = t_value(c, "SELECT 'fine'", 0, NULL);
        CHECK_STR(v, "fine");
        free(v);
        pgpool_release(c);
    }
    pgpool_pool_free(pool);
}

void test_unique_violation(void) {
    pgpool_error *err = NULL;
    const pgpool_pool *pool = t_pool(0, 1, 10000);
    pgpool_conn *c = NULL;
    const char *p[1] = {"1"};
    if (!pool) return;
    if (EXPECT_OK(pgpool_acquire(pool, -1, &c, &err))) {
        pgpool_result_free(t_exec(c, "CREATE TEMP TABLE uq (id int PRIMARY KEY)"));
        EXPECT_OK(pgpool_exec(c, "INSERT INTO uq VALUES ($1)", 1, p, NULL, &err));
        EXPECT_KEEP(PGPOOL_DATABASE, pgpool_exec(c, "INSERT INTO uq VALUES ($1)", 1, p, NULL, &err));
        CHECK_STR(pgpool_error_sqlstate(err), "23505");
        CHECK(strstr(pgpool_error_message(err), "duplicate key") != NULL);
        CHECK(strstr(pgpool_error_message(err), "DETAIL:") != NULL);
        pgpool_error_free(err);
        err = NULL;
        /* In a transaction: the transaction is aborted, the connection usable after it. */
        EXPECT_OK(pgpool_begin(c, &err));
        EXPECT(PGPOOL_DATABASE, pgpool_exec(c, "INSERT INTO uq VALUES ($1)", 1, p, NULL, &err));
        EXPECT_OK(pgpool_rollback(c, &err));
        EXPECT_OK(pgpool_exec(c, "SELECT 1", 0, NULL, NULL, &err));
        pgpool_release(c);
    }
    pgpool_pool_free(pool);
}

/* Issue 18 item 3: transaction blocks by outcome, checkouts given back and the time they
 * were held (pgpool_stats' appended fields). */
void test_stats_outcomes(void) {
    pgpool_error *err = NULL;
    const pgpool_pool *pool = t_pool(0, 1, 5000);
    pgpool_conn *c = NULL;
    pgpool_stats s0, s1;
    if (!pool) return;
    EXPECT_OK(pgpool_pool_stats(pool, &s0));
    if (EXPECT_OK(pgpool_acquire(pool, -1, &c, &err))) {
        EXPECT_OK(pgpool_begin(c, &err));
        EXPECT_OK(pgpool_exec(c, "SELECT 1", 0, NULL, NULL, &err));
        EXPECT_OK(pgpool_commit(c, &err));
        EXPECT_OK(pgpool_begin(c, &err));
        EXPECT_OK(pgpool_exec(c, "SELECT 1", 0, NULL, NULL, &err));
        EXPECT_OK(pgpool_rollback(c, &err));
        EXPECT_OK(pgpool_begin(c, &err));
        EXPECT_OK(pgpool_exec(c, "SELECT pg_sleep(0.02)", 0, NULL, NULL, &err));
        pgpool_release(c); /* inside the block: the pool rolls it back */
    }
    EXPECT_OK(pgpool_pool_stats(pool, &s1));
    CHECK_U64(s1.xact_committed - s0.xact_committed, 1);
    CHECK_U64(s1.xact_rolled_back - s0.xact_rolled_back, 2);
    CHECK_U64(s1.returns - s0.returns, 1);
    CHECK_U64(s1.returns_bad - s0.returns_bad, 0);
    CHECK(s1.hold_us_total - s0.hold_us_total >= 20000);
    pgpool_pool_free(pool);
}

/* Issue 18 items 1-2: pgpool_pool_drain and pgpool_pool_set_conninfo. */
void test_drain_and_set_conninfo(void) {
    pgpool_error *err = NULL;
    const pgpool_pool *pool = t_pool(0, 2, 5000);
    pgpool_conn *held = NULL, *c = NULL;
    char *pid_held = NULL, *v = NULL, conninfo[1024];
    if (!pool) return;
    if (!EXPECT_OK(pgpool_acquire(pool, -1, &held, &err))) goto out;
    pid_held = t_value(held, "SELECT pg_backend_pid()", 0, NULL);
    /* Held: the drain times out, the holder goes on undisturbed, others are served. */
    EXPECT_KEEP(PGPOOL_TIMEOUT, pgpool_pool_drain(pool, 150, &err));
    CHECK(strstr(pgpool_error_message(err), "drain") != NULL);
    pgpool_error_free(err);
    err = NULL;
    free(t_value(held, "SELECT 1", 0, NULL));
    if (EXPECT_OK(pgpool_acquire(pool, -1, &c, &err))) {
        v = t_value(c, "SELECT pg_backend_pid()", 0, NULL);
        CHECK(strcmp(v, pid_held) != 0);
        free(v);
        pgpool_release(c);
        c = NULL;
    }
    pgpool_release(held); /* retired: closed, not handed out again */
    held = NULL;
    EXPECT_OK(pgpool_pool_drain(pool, 2000, &err));
    EXPECT_OK(pgpool_pool_drain(pool, 0, &err));
    /* New settings: new connections use them. */
    snprintf(conninfo, sizeof conninfo, "%s%sapplication_name=v2", t_dburl(),
             strchr(t_dburl(), '?') ? "&" : "?");
    EXPECT_OK(pgpool_pool_set_conninfo(pool, conninfo, &err));
    if (EXPECT_OK(pgpool_acquire(pool, -1, &c, &err))) {
        v = t_value(c, "SHOW application_name", 0, NULL);
        CHECK_STR(v, "v2");
        free(v);
        pgpool_release(c);
    }
    EXPECT(PGPOOL_CONFIG, pgpool_pool_set_conninfo(pool, "postgresql://%zz", &err));
    EXPECT(PGPOOL_NULL_PARAMETER, pgpool_pool_set_conninfo(pool, NULL, &err));
out:
    free(pid_held);
    pgpool_release(held);
    pgpool_pool_free(pool);
}

static int64_t give_secret(void *userdata, char *buf, size_t size) {
    const char *pw = (const char *)userdata;
    size_t n = strlen(pw);
    if (n + 1 > size) return -1;
    memcpy(buf, pw, n + 1);
    return (int64_t)n;
}

static int64_t fail_secret(void *userdata, char *buf, size_t size) {
    (void)userdata;
    (void)buf;
    (void)size;
    return -1;
}

/* Issue 18 item 1: a password callback, against the TLS test server's scramuser (the
 * main server trusts everyone). */
void test_password_callback(void) {
    pgpool_error *err = NULL;
    const pgpool_pool *pool = NULL;
    pgpool_conn *c = NULL;
    pgpool_options o;
    const char *tls = getenv("PGPOOL_TEST_TLS_URL");
    const char *at;
    char conninfo[1024];
    char *v;
    if (!tls || !(at = strchr(tls, '@'))) return; /* no TLS server in this run */
    snprintf(conninfo, sizeof conninfo, "postgresql://scramuser%.*s/postgres?sslmode=disable",
             (int)(strcspn(at, "/")), at);
    pgpool_options_init(&o);
    o.min_size = 0;
    o.max_size = 1;
    o.acquire_timeout_ms = 3000;
    if (EXPECT_OK(pgpool_pool_new_with_password(conninfo, &o, give_secret,
                                                (void *)"scram-secret", &pool, &err))) {
        if (EXPECT_OK(pgpool_acquire(pool, -1, &c, &err))) {
            v = t_value(c, "SELECT current_user", 0, NULL);
            CHECK_STR(v, "scramuser");
            free(v);
            pgpool_release(c);
            c = NULL;
        }
        pgpool_pool_free(pool);
        pool = NULL;
    }
    o.acquire_timeout_ms = 300;
    if (EXPECT_OK(pgpool_pool_new_with_password(conninfo, &o, fail_secret, NULL, &pool, &err))) {
        EXPECT_KEEP(PGPOOL_TIMEOUT, pgpool_acquire(pool, -1, &c, &err));
        CHECK(strstr(pgpool_error_message(err), "password callback returned -1") != NULL);
        pgpool_error_free(err);
        err = NULL;
        pgpool_pool_free(pool);
        pool = NULL;
    }
    EXPECT(PGPOOL_NULL_PARAMETER,
           pgpool_pool_new_with_password(conninfo, &o, NULL, NULL, &pool, &err));
}

void test_pool_exhausted(void) {
    pgpool_error *err = NULL;
    const pgpool_pool *pool = t_pool(0, 2, 300); /* pool default: 300 ms */
    pgpool_conn *a = NULL, *b = NULL, *c = (pgpool_conn *)(uintptr_t)0x1;
    pgpool_stats st;
    double t0, ms;
    if (!pool) return;
    if (!EXPECT_OK(pgpool_acquire(pool, -1, &a, &err)) ||
        !EXPECT_OK(pgpool_acquire(pool, -1, &b, &err)))
        goto out;
    t0 = t_now_ms();
    EXPECT_KEEP(PGPOOL_TIMEOUT, pgpool_acquire(pool, 200, &c, &err));
    ms = t_now_ms() - t0;
    CHECK(ms >= 190 && ms < 1500);
    CHECK(strstr(pgpool_error_message(err), "couldn't get a connection") != NULL);
    CHECK_STR(pgpool_error_sqlstate(err), "");
    CHECK(c == (pgpool_conn *)(uintptr_t)0x1);
    pgpool_error_free(err);
    err = NULL;
    /* The pool's default timeout. */
    t0 = t_now_ms();
    EXPECT(PGPOOL_TIMEOUT, pgpool_acquire(pool, -1, &c, &err));
    ms = t_now_ms() - t0;
    CHECK(ms >= 290 && ms < 1500);
    /* 0: no wait at all. */
    t0 = t_now_ms();
    EXPECT(PGPOOL_TIMEOUT, pgpool_acquire(pool, 0, &c, &err));
    CHECK(t_now_ms() - t0 < 200);
    EXPECT_OK(pgpool_pool_stats(pool, &st));
    CHECK_U64(st.timeouts, 3);
    CHECK_U64(st.in_use, 2);
    /* Nobody waits now; the longest wait (the 300 ms default) stays as the high-water mark. */
    CHECK_U64(st.oldest_wait_ms, 0);
    CHECK(st.wait_high_water_ms >= 290);
    CHECK(st.wait_us_total >= 490000);
    /* A released connection goes to the next caller. */
    pgpool_release(b);
    b = NULL;
    if (EXPECT_OK(pgpool_acquire(pool, 1000, &c, &err))) pgpool_release(c);
out:
    pgpool_release(a);
    pgpool_release(b);
    pgpool_pool_free(pool);
}

struct waiter {
    const pgpool_pool *pool;
    int32_t timeout_ms;
    pgpool_code rc;
    double ms;
};

static void *wait_for_conn(void *arg) {
    struct waiter *w = arg;
    pgpool_conn *c = NULL;
    double t0 = t_now_ms();
    w->rc = pgpool_acquire(w->pool, w->timeout_ms, &c, NULL);
    w->ms = t_now_ms() - t0;
    pgpool_release(c);
    return NULL;
}

static void wait_until_waiting(const pgpool_pool *pool, uint32_t n) {
    pgpool_stats st;
    double deadline = t_now_ms() + 5000;
    while (t_now_ms() < deadline) {
        if (pgpool_pool_stats(pool, &st) == PGPOOL_OK && st.waiting >= n) return;
        t_sleep_ms(5);
    }
    t_fail(__FILE__, __LINE__, "no waiter showed up in the stats");
}

void test_closed_pool(void) {
    pgpool_error *err = NULL;
    const pgpool_pool *pool = t_pool(0, 1, 10000);
    pgpool_conn *held = NULL, *c = NULL;
    pthread_t th;
    struct waiter w;
    if (!pool) return;
    if (!EXPECT_OK(pgpool_acquire(pool, -1, &held, &err))) goto out;
    w.pool = pool;
    w.timeout_ms = 8000;
    w.rc = PGPOOL_OK;
    pthread_create(&th, NULL, wait_for_conn, &w);
    wait_until_waiting(pool, 1);
    EXPECT_OK(pgpool_pool_close(pool));
    pthread_join(th, NULL);
    /* The waiter is woken with PGPOOL_CLOSED, not left to time out. */
    CHECK(w.rc == PGPOOL_CLOSED);
    CHECK(w.ms < 3000);
    EXPECT_KEEP(PGPOOL_CLOSED, pgpool_acquire(pool, 100, &c, &err));
    CHECK(strstr(pgpool_error_message(err), "closed") != NULL);
    pgpool_error_free(err);
    err = NULL;
    EXPECT_OK(pgpool_pool_close(pool)); /* twice is fine */
    /* A connection checked out before the close still works, and can be released. */
    EXPECT_OK(pgpool_exec(held, "SELECT 1", 0, NULL, NULL, &err));
    pgpool_release(held);
out:
    pgpool_pool_free(pool);
}

void test_too_many_requests(void) {
    pgpool_error *err = NULL;
    pgpool_options o;
    const pgpool_pool *pool = NULL;
    pgpool_conn *held = NULL, *c = NULL;
    pthread_t th;
    struct waiter w;
    double t0;
    pgpool_options_init(&o);
    o.min_size = 0;
    o.max_size = 1;
    o.max_waiting = 1;
    if (!EXPECT_OK(pgpool_pool_new(t_dburl(), &o, &pool, &err))) return;
    if (!EXPECT_OK(pgpool_acquire(pool, -1, &held, &err))) goto out;
    w.pool = pool;
    w.timeout_ms = 5000;
    w.rc = PGPOOL_PANIC;
    pthread_create(&th, NULL, wait_for_conn, &w);
    wait_until_waiting(pool, 1);
    t0 = t_now_ms();
    EXPECT_KEEP(PGPOOL_TOO_MANY_REQUESTS, pgpool_acquire(pool, 5000, &c, &err));
    CHECK(t_now_ms() - t0 < 1000); /* at once, not after the timeout */
    CHECK(strstr(pgpool_error_message(err), "max_waiting") != NULL);
    pgpool_error_free(err);
    err = NULL;
    pgpool_release(held);
    pthread_join(th, NULL);
    CHECK(w.rc == PGPOOL_OK); /* the waiter got the released connection */
out:
    pgpool_pool_free(pool);
}

void test_bad_conninfo(void) {
    pgpool_error *err = NULL;
    const pgpool_pool *pool = (const pgpool_pool *)(uintptr_t)0x1;
    pgpool_options o;

    EXPECT_KEEP(PGPOOL_CONFIG, pgpool_pool_new("host=localhost no_such_keyword=1", NULL, &pool, &err));
    CHECK(strstr(pgpool_error_message(err), "no_such_keyword") != NULL);
    CHECK_STR(pgpool_error_sqlstate(err), "");
    pgpool_error_free(err);
    err = NULL;
    CHECK(pool == (const pgpool_pool *)(uintptr_t)0x1);
    EXPECT(PGPOOL_CONFIG, pgpool_pool_new("postgresql://[::1", NULL, &pool, &err));
    EXPECT(PGPOOL_CONFIG, pgpool_pool_new("host=localhost port=notaport", NULL, &pool, &err));
    EXPECT(PGPOOL_CONFIG, pgpool_pool_new("host=localhost sslmode=bogus", NULL, &pool, &err));
    /* Bad options: min above max, max 0. */
    pgpool_options_init(&o);
    o.min_size = 5;
    o.max_size = 2;
    EXPECT_KEEP(PGPOOL_CONFIG, pgpool_pool_new(t_dburl(), &o, &pool, &err));
    CHECK(strstr(pgpool_error_message(err), "min_size") != NULL);
    pgpool_error_free(err);
    err = NULL;
    o.min_size = 0;
    o.max_size = 0;
    EXPECT(PGPOOL_CONFIG, pgpool_pool_new(t_dburl(), &o, &pool, &err));
    /* Not UTF-8. */
    EXPECT(PGPOOL_INVALID_PARAMETER, pgpool_pool_new("host=\xff", NULL, &pool, &err));
    CHECK(pool == (const pgpool_pool *)(uintptr_t)0x1);
}

/* Issue 13 items 7 and 13: duration settings follow the core's rules in C too, from the
 * environment (the same variables as Python) and from pgpool_options. */
static void expect_env_config_error(const char *var, const char *value) {
    pgpool_error *err = NULL;
    const pgpool_pool *pool = NULL;
    setenv(var, value, 1);
    if (EXPECT_KEEP(PGPOOL_CONFIG, pgpool_pool_new(t_dburl(), NULL, &pool, &err))) {
        if (strstr(pgpool_error_message(err), var) == NULL)
            t_fail(__FILE__, __LINE__, "%s=%s: the message does not name it: %s", var, value,
                   pgpool_error_message(err));
        pgpool_error_free(err);
    }
    CHECK(pool == NULL);
    unsetenv(var);
}

static void expect_env_accepted(const char *var, const char *value) {
    pgpool_error *err = NULL;
    const pgpool_pool *pool = NULL;
    pgpool_conn *c = NULL;
    char *v;
    setenv(var, value, 1);
    if (EXPECT_OK(pgpool_pool_new(t_dburl(), NULL, &pool, &err))) {
        if (EXPECT_OK(pgpool_acquire(pool, 10000, &c, &err))) {
            v = t_value(c, "SELECT 'ok'", 0, NULL);
            CHECK_STR(v, "ok");
            free(v);
            pgpool_release(c);
        }
        pgpool_pool_free(pool);
    } else {
        t_fail(__FILE__, __LINE__, "%s=%s was rejected", var, value);
    }
    unsetenv(var);
}

void test_duration_settings(void) {
    static const char *const off_able[] = {"PGPOOL_MAX_LIFETIME", "DB_POOL_RECYCLE",
                                           "PGPOOL_MAX_IDLE", "PGPOOL_LEAK_THRESHOLD",
                                           "PGPOOL_COMMAND_TIMEOUT"};
    static const char *const off[] = {"0", "-1", "inf", "1e12", "3155760000"};
    static const char *const bad[] = {"nan", "-3", "-0.5", "-inf"};
    static const char *const bad_timeouts[] = {"nan", "-3", "inf", "1e300", "9.3e18",
                                               "9223372036854775807"};
    pgpool_error *err = NULL;
    pgpool_options o;
    const pgpool_pool *pool = NULL;
    pgpool_conn *c = NULL;
    size_t i, j;
    double t0;

    for (i = 0; i < sizeof off_able / sizeof *off_able; i++) {
        for (j = 0; j < sizeof off / sizeof *off; j++) expect_env_accepted(off_able[i], off[j]);
        for (j = 0; j < sizeof bad / sizeof *bad; j++) expect_env_config_error(off_able[i], bad[j]);
    }
    for (j = 0; j < sizeof bad_timeouts / sizeof *bad_timeouts; j++)
        expect_env_config_error("PGPOOL_TIMEOUT", bad_timeouts[j]);

    /* Options: the largest values are accepted (0 is never for lifetime and idle), and
     * the largest acquire timeout returns at once when a connection is free. */
    pgpool_options_init(&o);
    o.min_size = 1;
    o.max_size = 2;
    o.acquire_timeout_ms = UINT32_MAX - 1;
    o.max_lifetime_ms = 0;
    o.max_idle_ms = UINT32_MAX - 1;
    o.connect_timeout_ms = UINT32_MAX - 1;
    if (!EXPECT_OK(pgpool_pool_new(t_dburl(), &o, &pool, &err))) return;
    t0 = t_now_ms();
    if (EXPECT_OK(pgpool_acquire(pool, INT32_MAX, &c, &err))) {
        pgpool_result_free(t_exec(c, "SELECT 1"));
        pgpool_release(c);
    }
    if (EXPECT_OK(pgpool_acquire(pool, -1, &c, &err))) pgpool_release(c);
    CHECK(t_now_ms() - t0 < 10000);
    pgpool_pool_free(pool);
}

void test_database_unreachable(void) {
    pgpool_error *err = NULL;
    pgpool_options o;
    const pgpool_pool *pool = NULL;
    pgpool_conn *c = NULL;
    double t0;
    pgpool_options_init(&o);
    o.min_size = 1;
    o.acquire_timeout_ms = 600;
    /* Creating the pool succeeds: the database may come later. */
    if (!EXPECT_OK(pgpool_pool_new("host=127.0.0.1 port=1 user=nobody dbname=x", &o, &pool, &err)))
        return;
    t0 = t_now_ms();
    EXPECT_KEEP(PGPOOL_TIMEOUT, pgpool_acquire(pool, -1, &c, &err));
    CHECK(t_now_ms() - t0 >= 550);
    /* The message names the last connection error. */
    CHECK(strstr(pgpool_error_message(err), "last connection error") != NULL);
    pgpool_error_free(err);
    pgpool_pool_free(pool);
}

void test_terminated_backend(void) {
    pgpool_error *err = NULL;
    const pgpool_pool *pool = t_pool(0, 2, 10000);
    pgpool_conn *victim = NULL, *killer = NULL, *c = NULL;
    pgpool_stats st;
    char *pid = NULL, *v;
    if (!pool) return;
    if (!EXPECT_OK(pgpool_acquire(pool, -1, &victim, &err)) ||
        !EXPECT_OK(pgpool_acquire(pool, -1, &killer, &err)))
        goto out;
    pid = t_value(victim, "SELECT pg_backend_pid()", 0, NULL);
    {
        const char *p[1] = {pid};
        /* With a timeout, it returns once the backend is gone (PostgreSQL 14+). */
        v = t_value(killer, "SELECT pg_terminate_backend($1::int, 10000)", 1, p);
        CHECK_STR(v, "t");
        free(v);
    }
    pgpool_release(killer);
    killer = NULL;
    /* The next statement on the dead connection fails once, as a connection error... */
    EXPECT_KEEP(PGPOOL_CONNECTION, pgpool_exec(victim, "SELECT 1", 0, NULL, NULL, &err));
    pgpool_error_free(err);
    err = NULL;
    /* ...after which the connection refuses work until released. */
    CHECK(pgpool_exec(victim, "SELECT 1", 0, NULL, NULL, NULL) != PGPOOL_OK);
    pgpool_release(victim);
    victim = NULL;
    /* The pool discarded it; later checkouts work. */
    if (EXPECT_OK(pgpool_acquire(pool, -1, &c, &err))) {
        v = t_value(c, "SELECT pg_backend_pid()", 0, NULL);
        CHECK(strcmp(v, pid) != 0);
        free(v);
        pgpool_release(c);
    }
    EXPECT_OK(pgpool_pool_stats(pool, &st));
    CHECK(st.connections_lost >= 1);
out:
    free(pid);
    pgpool_release(victim);
    pgpool_release(killer);
    pgpool_pool_free(pool);
}
