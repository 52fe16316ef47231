/* Statements: text output as psql prints it, parameters, affected rows, transactions,
 * release semantics, stats. */
#include "test.h"

#include <pthread.h>

#include <unistd.h>

struct expect_col {
    const char *expr;     /* SQL expression */
    const char *name;     /* column name */
    uint32_t oid;         /* type OID */
    const char *text;     /* psql's text, NULL for SQL NULL */
};

/* Each value checked against what `psql -At` prints for the same expression. */
static const struct expect_col cols[] = {
    {"42::int4", "i4", 23, "42"},
    {"9223372036854775807::int8", "i8", 20, "9223372036854775807"},
    {"(-32768)::int2", "i2", 21, "-32768"},
    {"123.4500::numeric", "num", 1700, "123.4500"},
    {"'NaN'::numeric", "nan", 1700, "NaN"},
    {"0.1::float8", "f8", 701, "0.1"},
    {"1e100::float8", "big", 701, "1e+100"},
    {"1.0e-7::float8", "small", 701, "1e-07"},
    {"1.5::float4", "f4", 700, "1.5"},
    {"'-Infinity'::float8", "ninf", 701, "-Infinity"},
    {"true", "t", 16, "t"},
    {"false", "f", 16, "f"},
    {"'2024-01-31'::date", "d", 1082, "2024-01-31"},
    {"'infinity'::date", "dinf", 1082, "infinity"},
    {"'2024-01-31 12:34:56.789'::timestamp", "ts", 1114, "2024-01-31 12:34:56.789"},
    {"'2024-01-31 12:00:00+00'::timestamptz", "tstz", 1184, "2024-01-31 12:00:00+00"},
    {"'12:34:56'::time", "tm", 1083, "12:34:56"},
    {"'1 day 2 hours'::interval", "iv", 1186, "1 day 02:00:00"},
    {"'\\x0102ff'::bytea", "ba", 17, "\\x0102ff"},
    {"'h\xc3\xa9llo'::text", "txt", 25, "h\xc3\xa9llo"},
    {"''::text", "empty", 25, ""},
    {"ARRAY[1,2,NULL]::int4[]", "arr", 1007, "{1,2,NULL}"},
    {"ARRAY['a b','c']", "tarr", 1009, "{\"a b\",c}"},
    {"'{{1,2},{3,4}}'::int4[]", "arr2", 1007, "{{1,2},{3,4}}"},
    {"'{\"a\": 1, \"b\": [1,2]}'::json", "js", 114, "{\"a\": 1, \"b\": [1,2]}"},
    {"'{\"a\": 1, \"b\": [1,2]}'::jsonb", "jsb", 3802, "{\"a\": 1, \"b\": [1, 2]}"},
    {"'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11'::uuid", "u", 2950,
     "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11"},
    {"NULL::int4", "null", 23, NULL},
};

#define NCOLS (sizeof cols / sizeof cols[0])

void test_text_output(void) {
    pgpool_error *err = NULL;
    const pgpool_pool *pool = t_pool(0, 1, 10000);
    pgpool_conn *conn = NULL;
    pgpool_result *r = NULL;
    char sql[4096];
    size_t i, n = 0;
    if (!pool) return;
    n += (size_t)snprintf(sql + n, sizeof sql - n, "SELECT ");
    for (i = 0; i < NCOLS; i++)
        n += (size_t)snprintf(sql + n, sizeof sql - n, "%s%s AS %s", i ? ", " : "", cols[i].expr,
                              cols[i].name);
    CHECK(n < sizeof sql);
    if (!EXPECT_OK(pgpool_acquire(pool, -1, &conn, &err))) goto out;
    /* In a transaction so SET LOCAL fixes the time zone for timestamptz. */
    EXPECT_OK(pgpool_begin(conn, &err));
    pgpool_result_free(t_exec(conn, "SET LOCAL TimeZone = 'UTC'"));
    /* Once through each protocol: simple (no parameters) and extended (a parameter). */
    if (EXPECT_OK(pgpool_exec(conn, sql, 0, NULL, &r, &err))) {
        CHECK_U64(pgpool_result_nrows(r), 1);
        CHECK_U64(pgpool_result_ncols(r), NCOLS);
        for (i = 0; i < NCOLS; i++) {
            CHECK_STR(pgpool_result_colname(r, i), cols[i].name);
            CHECK_U64(pgpool_result_coltype(r, i), cols[i].oid);
            CHECK_STR(pgpool_result_value(r, 0, i), cols[i].text);
        }
        /* Out of range. */
        CHECK(pgpool_result_value(r, 1, 0) == NULL);
        CHECK(pgpool_result_value(r, 0, NCOLS) == NULL);
        CHECK(pgpool_result_colname(r, NCOLS) == NULL);
        CHECK_U64(pgpool_result_coltype(r, NCOLS), 0);
        CHECK_U64(pgpool_result_affected(r), 1); /* SELECT 1 */
        pgpool_result_free(r);
        r = NULL;
    }
    {
        const char *p[1] = {"7"};
        strcat(sql, ", $1::int4 AS p");
        if (EXPECT_OK(pgpool_exec(conn, sql, 1, p, &r, &err))) {
            CHECK_U64(pgpool_result_ncols(r), NCOLS + 1);
            for (i = 0; i < NCOLS; i++) CHECK_STR(pgpool_result_value(r, 0, i), cols[i].text);
            CHECK_STR(pgpool_result_value(r, 0, NCOLS), "7");
            pgpool_result_free(r);
            r = NULL;
        }
    }
    EXPECT_OK(pgpool_commit(conn, &err));
    /* Many rows. */
    if (EXPECT_OK(pgpool_exec(conn, "SELECT g, g * 2 FROM generate_series(1, 1000) g", 0, NULL,
                              &r, &err))) {
        char want[32];
        CHECK_U64(pgpool_result_nrows(r), 1000);
        for (i = 0; i < 1000; i++) {
            snprintf(want, sizeof want, "%zu", (i + 1) * 2);
            CHECK_STR(pgpool_result_value(r, i, 1), want);
        }
        pgpool_result_free(r);
    }
    pgpool_release(conn);
out:
    pgpool_pool_free(pool);
}

void test_parameters(void) {
    pgpool_error *err = NULL;
    const pgpool_pool *pool = t_pool(0, 1, 10000);
    pgpool_conn *conn = NULL;
    pgpool_result *r = NULL, *sentinel = (pgpool_result *)(uintptr_t)0x1;
    char *v;
    if (!pool) return;
    if (!EXPECT_OK(pgpool_acquire(pool, -1, &conn, &err))) goto out;
    {
        const char *p[2] = {"2", "40"};
        v = t_value(conn, "SELECT $1::int + $2::int", 2, p);
        CHECK_STR(v, "42");
        free(v);
        /* Types inferred by the server: $1 + 1 makes $1 an integer. */
        v = t_value(conn, "SELECT $1 + 1", 1, p + 1);
        CHECK_STR(v, "41");
        free(v);
    }
    {
        /* NULL is SQL NULL. */
        const char *p[2] = {NULL, "x"};
        v = t_value(conn, "SELECT $1::text IS NULL", 1, p);
        CHECK_STR(v, "t");
        free(v);
        v = t_value(conn, "SELECT $1::text", 1, p);
        CHECK_STR(v, "<NULL>");
        free(v);
    }
    {
        /* Parameters are values, never SQL. */
        const char *hostile[1] = {"'); DROP TABLE pg_class; -- \\ \" $1 %s"};
        v = t_value(conn, "SELECT $1::text", 1, hostile);
        CHECK_STR(v, hostile[0]);
        free(v);
        char want[32];
        snprintf(want, sizeof want, "%zu", strlen(hostile[0]));
        v = t_value(conn, "SELECT length($1)", 1, hostile);
        CHECK_STR(v, want);
        free(v);
    }
    {
        const char *p[3] = {"{1,2,3}", "{\"k\": [true, null]}", "\\xdeadbeef"};
        v = t_value(conn, "SELECT array_length($1::int[], 1)", 1, p);
        CHECK_STR(v, "3");
        free(v);
        v = t_value(conn, "SELECT ($1::jsonb -> 'k' ->> 0)", 1, p + 1);
        CHECK_STR(v, "true");
        free(v);
        v = t_value(conn, "SELECT length($1::bytea)", 1, p + 2);
        CHECK_STR(v, "4");
        free(v);
    }
    {
        /* A value the type rejects: a server error, the connection stays usable. */
        const char *p[1] = {"abc"};
        r = sentinel;
        EXPECT_KEEP(PGPOOL_DATABASE, pgpool_exec(conn, "SELECT $1::int", 1, p, &r, &err));
        CHECK_STR(pgpool_error_sqlstate(err), "22P02");
        CHECK(r == sentinel); /* outputs untouched on failure */
        pgpool_error_free(err);
        err = NULL;
        /* Invalid UTF-8 in a parameter: the server refuses it. */
        p[0] = "\xff\xfe";
        EXPECT_KEEP(PGPOOL_DATABASE, pgpool_exec(conn, "SELECT $1::text", 1, p, &r, &err));
        CHECK_STR(pgpool_error_sqlstate(err), "22021");
        pgpool_error_free(err);
        err = NULL;
        /* More parameters than the protocol allows: refused before `params` is read. */
        EXPECT(PGPOOL_INVALID_PARAMETER, pgpool_exec(conn, "SELECT 1", 100000, p, &r, &err));
        /* Invalid UTF-8 in the SQL: refused before it is sent. */
        EXPECT(PGPOOL_INVALID_PARAMETER, pgpool_exec(conn, "SELECT '\xff'", 0, NULL, &r, &err));
        /* Several statements: allowed without parameters (the last result), refused by the
         * server with them. */
        v = t_value(conn, "SELECT 1; SELECT 2", 0, NULL);
        CHECK_STR(v, "2");
        free(v);
        p[0] = "1";
        EXPECT_KEEP(PGPOOL_DATABASE,
                    pgpool_exec(conn, "SELECT $1::int; SELECT 2", 1, p, &r, &err));
        CHECK_STR(pgpool_error_sqlstate(err), "42601");
        pgpool_error_free(err);
        err = NULL;
        v = t_value(conn, "SELECT 'still usable'", 0, NULL);
        CHECK_STR(v, "still usable");
        free(v);
    }
    {
        /* Empty statement. */
        if (EXPECT_OK(pgpool_exec(conn, "", 0, NULL, &r, &err))) {
            CHECK_U64(pgpool_result_nrows(r), 0);
            CHECK_U64(pgpool_result_ncols(r), 0);
            pgpool_result_free(r);
        }
    }
    pgpool_release(conn);
out:
    pgpool_pool_free(pool);
}

void test_affected_rows(void) {
    pgpool_error *err = NULL;
    const pgpool_pool *pool = t_pool(0, 1, 10000);
    pgpool_conn *conn = NULL;
    pgpool_result *r;
    const char *p[2];
    if (!pool) return;
    if (!EXPECT_OK(pgpool_acquire(pool, -1, &conn, &err))) goto out;
    r = t_exec(conn, "CREATE TEMP TABLE aff (id int PRIMARY KEY, v text)");
    CHECK_U64(pgpool_result_affected(r), 0);
    CHECK_U64(pgpool_result_ncols(r), 0);
    pgpool_result_free(r);
    r = t_exec(conn, "INSERT INTO aff SELECT g, 'v' || g FROM generate_series(1, 5) g");
    CHECK_U64(pgpool_result_affected(r), 5);
    CHECK_U64(pgpool_result_nrows(r), 0);
    pgpool_result_free(r);
    p[0] = "2";
    p[1] = "new";
    r = NULL;
    if (EXPECT_OK(pgpool_exec(conn, "UPDATE aff SET v = $2 WHERE id > $1", 2, p, &r, &err))) {
        CHECK_U64(pgpool_result_affected(r), 3);
        pgpool_result_free(r);
    }
    r = NULL;
    if (EXPECT_OK(pgpool_exec(conn, "DELETE FROM aff WHERE v = $1", 1, p + 1, &r, &err))) {
        CHECK_U64(pgpool_result_affected(r), 3);
        pgpool_result_free(r);
    }
    r = NULL;
    p[0] = "10";
    if (EXPECT_OK(pgpool_exec(conn, "INSERT INTO aff VALUES ($1, 'ten') RETURNING id, v", 1, p,
                              &r, &err))) {
        CHECK_U64(pgpool_result_affected(r), 1);
        CHECK_U64(pgpool_result_nrows(r), 1);
        CHECK_STR(pgpool_result_value(r, 0, 0), "10");
        CHECK_STR(pgpool_result_value(r, 0, 1), "ten");
        pgpool_result_free(r);
    }
    r = t_exec(conn, "UPDATE aff SET v = 'x' WHERE false");
    CHECK_U64(pgpool_result_affected(r), 0);
    pgpool_result_free(r);
    r = t_exec(conn, "SELECT * FROM aff");
    CHECK_U64(pgpool_result_affected(r), 3);
    CHECK_U64(pgpool_result_nrows(r), 3);
    pgpool_result_free(r);
    pgpool_release(conn);
out:
    pgpool_pool_free(pool);
}

/* A table name unique to this process (tests share the server with other runs). */
static void table_name(char *buf, size_t n, const char *stem) {
    snprintf(buf, n, "pgpool_c_%s_%ld", stem, (long)getpid());
}

static long count_rows(pgpool_conn *c, const char *table) {
    char sql[200];
    char *v;
    long n;
    snprintf(sql, sizeof sql, "SELECT count(*) FROM %s", table);
    v = t_value(c, sql, 0, NULL);
    n = strtol(v, NULL, 10);
    if (strcmp(v, "<ERROR>") == 0) n = -1;
    free(v);
    return n;
}

void test_transactions(void) {
    pgpool_error *err = NULL;
    const pgpool_pool *pool = t_pool(0, 2, 10000);
    pgpool_conn *a = NULL, *b = NULL;
    char t[100], sql[300];
    const char *p[1] = {"1"};
    if (!pool) return;
    table_name(t, sizeof t, "tx");
    if (!EXPECT_OK(pgpool_acquire(pool, -1, &a, &err))) goto out;
    if (!EXPECT_OK(pgpool_acquire(pool, -1, &b, &err))) goto out;
    snprintf(sql, sizeof sql, "DROP TABLE IF EXISTS %s; CREATE TABLE %s (id int PRIMARY KEY)", t, t);
    pgpool_result_free(t_exec(a, sql));
    snprintf(sql, sizeof sql, "INSERT INTO %s VALUES ($1)", t);

    /* Commit: visible to the other connection. */
    EXPECT_OK(pgpool_begin(a, &err));
    EXPECT_OK(pgpool_exec(a, sql, 1, p, NULL, &err));
    CHECK(count_rows(b, t) == 0); /* not yet */
    EXPECT_OK(pgpool_commit(a, &err));
    CHECK(count_rows(b, t) == 1);

    /* Rollback. */
    p[0] = "2";
    EXPECT_OK(pgpool_begin(a, &err));
    EXPECT_OK(pgpool_exec(a, sql, 1, p, NULL, &err));
    EXPECT_OK(pgpool_rollback(a, &err));
    CHECK(count_rows(b, t) == 1);

    /* An empty transaction costs nothing and is fine either way. */
    EXPECT_OK(pgpool_begin(a, &err));
    EXPECT_OK(pgpool_commit(a, &err));
    EXPECT_OK(pgpool_begin(a, &err));
    EXPECT_OK(pgpool_rollback(a, &err));

    /* A failed transaction cannot be committed: reported, and rolled back. */
    p[0] = "3";
    EXPECT_OK(pgpool_begin(a, &err));
    EXPECT_OK(pgpool_exec(a, sql, 1, p, NULL, &err));
    EXPECT(PGPOOL_DATABASE, pgpool_exec(a, "SELECT 1/0", 0, NULL, NULL, &err));
    EXPECT_KEEP(PGPOOL_DATABASE, pgpool_exec(a, "SELECT 1", 0, NULL, NULL, &err));
    CHECK_STR(pgpool_error_sqlstate(err), "25P02"); /* in_failed_sql_transaction */
    pgpool_error_free(err);
    err = NULL;
    EXPECT_KEEP(PGPOOL_DATABASE, pgpool_commit(a, &err));
    CHECK_STR(pgpool_error_sqlstate(err), "25P02");
    pgpool_error_free(err);
    err = NULL;
    CHECK(count_rows(b, t) == 1);
    CHECK(count_rows(a, t) == 1); /* a is usable again, outside a transaction */

    snprintf(sql, sizeof sql, "DROP TABLE %s", t);
    pgpool_result_free(t_exec(a, sql));
out:
    pgpool_release(a);
    pgpool_release(b);
    pgpool_pool_free(pool);
}

void test_release_rolls_back_and_resets(void) {
    pgpool_error *err = NULL;
    const pgpool_pool *pool = t_pool(0, 1, 10000); /* one connection: the same one comes back */
    pgpool_conn *c = NULL;
    char t[100], sql[300], *pid1 = NULL, *pid2 = NULL, *v;
    if (!pool) return;
    table_name(t, sizeof t, "rb");
    if (!EXPECT_OK(pgpool_acquire(pool, -1, &c, &err))) goto out;
    snprintf(sql, sizeof sql, "DROP TABLE IF EXISTS %s; CREATE TABLE %s (id int)", t, t);
    pgpool_result_free(t_exec(c, sql));
    pid1 = t_value(c, "SELECT pg_backend_pid()", 0, NULL);
    EXPECT_OK(pgpool_begin(c, &err));
    snprintf(sql, sizeof sql, "INSERT INTO %s VALUES (1), (2)", t);
    pgpool_result_free(t_exec(c, sql));
    pgpool_result_free(t_exec(c, "SET application_name = 'leaky'"));
    pgpool_release(c); /* inside the open transaction */
    c = NULL;

    if (!EXPECT_OK(pgpool_acquire(pool, -1, &c, &err))) goto out;
    pid2 = t_value(c, "SELECT pg_backend_pid()", 0, NULL);
    CHECK_STR(pid2, pid1); /* the same connection, reset, not replaced */
    CHECK(count_rows(c, t) == 0);
    v = t_value(c, "SELECT current_setting('application_name')", 0, NULL);
    CHECK(strcmp(v, "leaky") != 0);
    free(v);
    /* Not in a transaction any more: a SET LOCAL-free statement sees its own snapshot. */
    v = t_value(c, "SELECT now() = statement_timestamp()", 0, NULL);
    CHECK_STR(v, "t");
    free(v);
    snprintf(sql, sizeof sql, "DROP TABLE %s", t);
    pgpool_result_free(t_exec(c, sql));
    pgpool_release(c);
out:
    free(pid1);
    free(pid2);
    pgpool_pool_free(pool);
}

void test_stats(void) {
    pgpool_error *err = NULL;
    const pgpool_pool *pool = t_pool(2, 5, 10000);
    pgpool_stats st;
    pgpool_conn *c = NULL;
    double deadline = t_now_ms() + 10000;
    if (!pool) return;
    /* min_size connections open in the background. */
    do {
        EXPECT_OK(pgpool_pool_stats(pool, &st));
        if (st.size >= 2) break;
        t_sleep_ms(20);
    } while (t_now_ms() < deadline);
    CHECK_U64(st.size, 2);
    CHECK_U64(st.available, 2);
    CHECK_U64(st.min_size, 2);
    CHECK_U64(st.max_size, 5);
    CHECK_U64(st.in_use, 0);
    CHECK(st.connections_created >= 2);
    if (EXPECT_OK(pgpool_acquire(pool, -1, &c, &err))) {
        EXPECT_OK(pgpool_pool_stats(pool, &st));
        CHECK_U64(st.in_use, 1);
        CHECK_U64(st.available, 1);
        CHECK(st.requests >= 1);
        CHECK_U64(st.waiting, 0);
        CHECK_U64(st.timeouts, 0);
        pgpool_release(c);
    }
    EXPECT_OK(pgpool_pool_stats(pool, &st));
    CHECK_U64(st.in_use, 0);
    pgpool_pool_free(pool);
}

/* Issue 13 item 2: through a PgBouncer pool of ONE server connection (transaction mode),
 * client B never runs with the session state client A's blocks leave (A: BEGIN, SET ROLE,
 * SET search_path, COMMIT, release) while B's blocks run meanwhile on another thread, each
 * waiting in PgBouncer for the server connection A's COMMIT hands over. The reset rides
 * with A's COMMIT: pgpool detects the pooler (the backend's pid is not the one the
 * startup reported). */
struct leak_b {
    const pgpool_pool *pool;
    volatile int done;
    int blocks, leaked;
};

static void *leak_client_b(void *arg) {
    struct leak_b *b = arg;
    pgpool_error *err = NULL;
    while (!__sync_fetch_and_add(&b->done, 0)) {
        pgpool_conn *c = NULL;
        char *v;
        if (!EXPECT_OK(pgpool_acquire(b->pool, -1, &c, &err))) break;
        v = t_value(c,
                    "SELECT current_user = session_user AND "
                    "current_setting('search_path') NOT LIKE 'pgpool_c_leak%'",
                    0, NULL);
        __sync_fetch_and_add(&b->blocks, 1);
        b->leaked += strcmp(v, "t") != 0;
        free(v);
        pgpool_release(c);
    }
    return NULL;
}

void test_session_reset_through_pgbouncer(void) {
    pgpool_error *err = NULL;
    const char *url = getenv("PGBOUNCER_ONE_URL");
    const pgpool_pool *direct = NULL, *a = NULL;
    struct leak_b b = {NULL, 0, 0, 0};
    pgpool_conn *c = NULL;
    pgpool_options o;
    pthread_t th;
    int i, started = 0;
    if (!url || !*url) {
        t_skip("PGBOUNCER_ONE_URL is not set");
        return;
    }
    direct = t_pool(0, 1, 10000);
    if (!direct) return;
    if (!EXPECT_OK(pgpool_acquire(direct, -1, &c, &err))) goto out;
    pgpool_result_free(t_exec(c, "DO $$ BEGIN IF NOT EXISTS (SELECT FROM pg_roles WHERE "
                                 "rolname = 'pgpool_c_other') THEN CREATE ROLE pgpool_c_other; "
                                 "END IF; END $$; GRANT pgpool_c_other TO CURRENT_USER"));
    pgpool_release(c);
    c = NULL;
    pgpool_options_init(&o);
    o.min_size = 1;
    o.max_size = 1;
    o.acquire_timeout_ms = 20000;
    if (!EXPECT_OK(pgpool_pool_new(url, &o, &a, &err))) goto out;
    if (!EXPECT_OK(pgpool_pool_new(url, &o, &b.pool, &err))) goto out;
    if (pthread_create(&th, NULL, leak_client_b, &b) != 0) goto out;
    started = 1;
    /* At least 30 blocks of A, and on until B has run 10 of its own between them (under
       valgrind, which runs one thread at a time, B may get few turns in 30). */
    for (i = 0; i < 30 || (__sync_fetch_and_add(&b.blocks, 0) < 10 && i < 5000); i++) {
        if (!EXPECT_OK(pgpool_acquire(a, -1, &c, &err))) break;
        EXPECT_OK(pgpool_begin(c, &err));
        pgpool_result_free(t_exec(c, "SET ROLE pgpool_c_other"));
        pgpool_result_free(t_exec(c, "SET search_path TO pgpool_c_leak"));
        EXPECT_OK(pgpool_commit(c, &err));
        pgpool_release(c);
        c = NULL;
    }
out:
    if (started) {
        __sync_fetch_and_add(&b.done, 1);
        pthread_join(th, NULL);
        CHECK(b.blocks >= 10);
        CHECK(b.leaked == 0);
        if (b.leaked)
            fprintf(stderr, "    B saw A's role or search_path in %d of %d blocks\n", b.leaked,
                    b.blocks);
    }
    pgpool_release(c);
    pgpool_pool_free(a);
    pgpool_pool_free(b.pool);
    pgpool_pool_free(direct);
}
