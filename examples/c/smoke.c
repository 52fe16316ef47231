/*
 * smoke.c: the C twin of the drop-in smoke test (examples/python/test_pg_pool.py).
 *
 * Configured only from the environment, as a service would be: DATABASE_URL, or libpq's
 * PGHOST/PGPORT/PGDATABASE/PGUSER/PGPASSWORD, or POSTGRES_HOST/POSTGRES_PORT/...; pool
 * sizes from PGPOOL_MIN_SIZE/PGPOOL_MAX_SIZE (or PG_POOL_MIN/PG_POOL_MAX), the acquire
 * timeout from PGPOOL_TIMEOUT. Prints the pool statistics and "OK: Pool operational.",
 * or a clear error on stderr and exits 1.
 *
 *   make -C examples/c && DATABASE_URL=postgresql://postgres@localhost/postgres examples/c/smoke
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pgpool.h"

static int fail(const char *what, pgpool_code rc, pgpool_error *err) {
    const char *state = pgpool_error_sqlstate(err);
    fprintf(stderr, "FAIL: %s: %s: %s%s%s%s\n", what, pgpool_code_name(rc),
            pgpool_error_message(err), *state ? " (SQLSTATE " : "", state, *state ? ")" : "");
    pgpool_error_free(err);
    return 1;
}

/* Runs SQL with text parameters; the result goes to *out (NULL: discarded). */
static pgpool_code run(pgpool_conn *c, const char *sql, size_t n, const char *const *params,
                       pgpool_result **out, pgpool_error **err) {
    return pgpool_exec(c, sql, n, params, out, err);
}

static int smoke(const pgpool_pool *pool) {
    pgpool_conn *c = NULL;
    pgpool_result *r = NULL;
    pgpool_error *err = NULL;
    pgpool_code rc;
    const char *ins[6] = {"1", "one", "2", "it's two", "3", NULL};
    const char *ids[1] = {"{1,2,3}"};

    /* 1. a connection and the server's version */
    if ((rc = pgpool_acquire(pool, -1, &c, &err)) != PGPOOL_OK)
        return fail("cannot get a connection", rc, err);
    if ((rc = run(c, "SELECT version()", 0, NULL, &r, &err)) != PGPOOL_OK) goto failed;
    printf("Server: %.60s\n", pgpool_result_value(r, 0, 0));
    pgpool_result_free(r);
    r = NULL;

    /* 2. a parameterised query */
    {
        const char *p[2] = {"40", "2"};
        if ((rc = run(c, "SELECT $1::int + $2::int", 2, p, &r, &err)) != PGPOOL_OK) goto failed;
        if (strcmp(pgpool_result_value(r, 0, 0), "42") != 0) {
            fprintf(stderr, "FAIL: SELECT 40 + 2 returned %s\n", pgpool_result_value(r, 0, 0));
            pgpool_result_free(r);
            pgpool_release(c);
            return 1;
        }
        printf("SELECT $1 + $2 -> %s\n", pgpool_result_value(r, 0, 0));
        pgpool_result_free(r);
        r = NULL;
    }

    /* 3. a transaction with parameters (the temp table lives inside it, which also holds
     *    through PgBouncer in transaction mode) */
    if ((rc = pgpool_begin(c, &err)) != PGPOOL_OK) goto failed;
    if ((rc = run(c, "CREATE TEMP TABLE pgpool_smoke (id int, note text) ON COMMIT DROP", 0,
                  NULL, NULL, &err)) != PGPOOL_OK)
        goto failed;
    if ((rc = run(c, "INSERT INTO pgpool_smoke VALUES ($1, $2), ($3, $4), ($5, $6)", 6, ins, &r,
                  &err)) != PGPOOL_OK)
        goto failed;
    printf("Inserted %llu rows\n", (unsigned long long)pgpool_result_affected(r));
    pgpool_result_free(r);
    r = NULL;
    if ((rc = run(c, "SELECT count(*), max(note), count(note) FROM pgpool_smoke WHERE id = ANY($1)",
                  1, ids, &r, &err)) != PGPOOL_OK)
        goto failed;
    if (strcmp(pgpool_result_value(r, 0, 0), "3") != 0 ||
        strcmp(pgpool_result_value(r, 0, 1), "one") != 0 ||
        strcmp(pgpool_result_value(r, 0, 2), "2") != 0) {
        fprintf(stderr, "FAIL: the transaction check returned (%s, %s, %s)\n",
                pgpool_result_value(r, 0, 0), pgpool_result_value(r, 0, 1),
                pgpool_result_value(r, 0, 2));
        pgpool_result_free(r);
        pgpool_release(c);
        return 1;
    }
    printf("Transaction with parameters -> %s rows\n", pgpool_result_value(r, 0, 0));
    pgpool_result_free(r);
    r = NULL;
    if ((rc = pgpool_commit(c, &err)) != PGPOOL_OK) goto failed;

    /* 4. a server error, reported with its SQLSTATE; the connection stays usable */
    rc = run(c, "SELECT 1/0", 0, NULL, NULL, &err);
    if (rc != PGPOOL_DATABASE || strcmp(pgpool_error_sqlstate(err), "22012") != 0) {
        fprintf(stderr, "FAIL: SELECT 1/0 returned %s\n", pgpool_code_name(rc));
        pgpool_error_free(err);
        pgpool_release(c);
        return 1;
    }
    printf("Error mapping -> %s (SQLSTATE %s)\n", pgpool_code_name(rc), pgpool_error_sqlstate(err));
    pgpool_error_free(err);
    err = NULL;

    pgpool_release(c);
    return 0;

failed:
    pgpool_result_free(r);
    pgpool_release(c);
    return fail("query failed", rc, err);
}

int main(int argc, char **argv) {
    const pgpool_pool *pool = NULL;
    pgpool_error *err = NULL;
    pgpool_stats st;
    pgpool_code rc;
    int bad;

    if (argc > 1 && strcmp(argv[1], "--version") == 0) {
        printf("libpgpool %s (pgpool.h %s)\n", pgpool_version(), PGPOOL_VERSION_STRING);
        return 0;
    }
    printf("libpgpool %s, configured from the environment\n", pgpool_version());
    /* NULL conninfo and options: everything from the environment. */
    if ((rc = pgpool_pool_new(NULL, NULL, &pool, &err)) != PGPOOL_OK)
        return fail("cannot create the pool", rc, err);
    bad = smoke(pool);
    if (pgpool_pool_stats(pool, &st) == PGPOOL_OK) {
        printf("Pool stats:\n");
        printf("  min_size: %u\n  max_size: %u\n  size: %u\n  available: %u\n  in_use: %u\n",
               st.min_size, st.max_size, st.size, st.available, st.in_use);
        printf("  waiting: %u\n  requests: %llu\n  timeouts: %llu\n  wait_us_total: %llu\n",
               st.waiting, (unsigned long long)st.requests, (unsigned long long)st.timeouts,
               (unsigned long long)st.wait_us_total);
        printf("  connections_created: %llu\n  connections_lost: %llu\n",
               (unsigned long long)st.connections_created,
               (unsigned long long)st.connections_lost);
    }
    pgpool_pool_free(pool);
    if (bad) return 1;
    printf("OK: Pool operational.\n");
    return 0;
}
