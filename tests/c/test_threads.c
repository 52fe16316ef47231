/* One pool shared by 16 threads; the server restarted under them. */
#include "test.h"

#include <pthread.h>
#include <unistd.h>

#define NTHREADS 16

struct worker {
    const pgpool_pool *pool;
    const char *table;
    int id;
    int iters;
    long queries;
};

/* Each thread mixes plain parameterised queries, committed and rolled-back transactions,
 * and reads of its own rows, and checks every result. */
static void *worker_main(void *arg) {
    struct worker *w = arg;
    pgpool_error *err = NULL;
    char ins[200], cnt[200], a[32], b[32], tag[32], want[64];
    long committed = 0;
    int i;
    snprintf(ins, sizeof ins, "INSERT INTO %s (tid, i) VALUES ($1, $2)", w->table);
    snprintf(cnt, sizeof cnt, "SELECT count(*), coalesce(sum(i), 0) FROM %s WHERE tid = $1",
             w->table);
    snprintf(tag, sizeof tag, "t%d", w->id);
    snprintf(a, sizeof a, "%d", w->id);
    for (i = 0; i < w->iters; i++) {
        pgpool_conn *c = NULL;
        pgpool_result *r = NULL;
        snprintf(b, sizeof b, "%d", i);
        if (!EXPECT_OK(pgpool_acquire(w->pool, -1, &c, &err))) continue;
        switch (i % 4) {
        case 0: {
            const char *p[4] = {b, tag, NULL, a};
            if (EXPECT_OK(pgpool_exec(c,
                                      "SELECT $1::int * 2, $2::text || '-' || $1, $3::int IS NULL, "
                                      "$4::int, g FROM generate_series(1, 3) g",
                                      4, p, &r, &err))) {
                size_t row;
                CHECK_U64(pgpool_result_nrows(r), 3);
                snprintf(want, sizeof want, "%d", i * 2);
                CHECK_STR(pgpool_result_value(r, 0, 0), want);
                snprintf(want, sizeof want, "%s-%d", tag, i);
                CHECK_STR(pgpool_result_value(r, 0, 1), want);
                CHECK_STR(pgpool_result_value(r, 0, 2), "t");
                CHECK_STR(pgpool_result_value(r, 0, 3), a);
                for (row = 0; row < 3; row++) {
                    snprintf(want, sizeof want, "%zu", row + 1);
                    CHECK_STR(pgpool_result_value(r, row, 4), want);
                }
                pgpool_result_free(r);
            }
            break;
        }
        case 1:
        case 3: {
            const char *p[2] = {a, b};
            EXPECT_OK(pgpool_begin(c, &err));
            if (EXPECT_OK(pgpool_exec(c, ins, 2, p, &r, &err))) {
                CHECK_U64(pgpool_result_affected(r), 1);
                pgpool_result_free(r);
            }
            if (i % 4 == 1) {
                if (EXPECT_OK(pgpool_commit(c, &err))) committed++;
            } else {
                EXPECT_OK(pgpool_rollback(c, &err));
            }
            break;
        }
        case 2: {
            const char *p[1] = {a};
            if (EXPECT_OK(pgpool_exec(c, cnt, 1, p, &r, &err))) {
                /* Only this thread writes rows with its tid: the count is exact. */
                snprintf(want, sizeof want, "%ld", committed);
                CHECK_STR(pgpool_result_value(r, 0, 0), want);
                pgpool_result_free(r);
            }
            break;
        }
        }
        w->queries++;
        pgpool_release(c);
    }
    return NULL;
}

void test_threads(void) {
    pgpool_error *err = NULL;
    const pgpool_pool *pool = t_pool(2, 8, 30000);
    pgpool_conn *c = NULL;
    pthread_t th[NTHREADS];
    struct worker w[NTHREADS];
    pgpool_stats st;
    char table[64], sql[256];
    int i, iters = t_iters(400);
    long total = 0;
    if (!pool) return;
    snprintf(table, sizeof table, "pgpool_c_mt_%ld", (long)getpid());
    if (!EXPECT_OK(pgpool_acquire(pool, -1, &c, &err))) goto out;
    snprintf(sql, sizeof sql, "DROP TABLE IF EXISTS %s; CREATE TABLE %s (tid int, i int)", table,
             table);
    pgpool_result_free(t_exec(c, sql));
    pgpool_release(c);
    c = NULL;

    for (i = 0; i < NTHREADS; i++) {
        w[i].pool = pool;
        w[i].table = table;
        w[i].id = i;
        w[i].iters = iters;
        w[i].queries = 0;
        CHECK(pthread_create(&th[i], NULL, worker_main, &w[i]) == 0);
    }
    for (i = 0; i < NTHREADS; i++) {
        pthread_join(th[i], NULL);
        total += w[i].queries;
    }
    CHECK(total == (long)NTHREADS * iters);

    EXPECT_OK(pgpool_pool_stats(pool, &st));
    CHECK(st.requests >= (uint64_t)NTHREADS * iters);
    CHECK_U64(st.in_use, 0);
    CHECK(st.size <= 8);
    CHECK_U64(st.timeouts, 0);
    printf("    %d threads x %d iterations, %u connections, %llu checkouts, %.1f ms waited\n", NTHREADS,
           iters, st.size, (unsigned long long)st.requests, st.wait_us_total / 1000.0);

    if (EXPECT_OK(pgpool_acquire(pool, -1, &c, &err))) {
        /* Rows committed: one for each i % 4 == 1. */
        char want[32], *v;
        snprintf(sql, sizeof sql, "SELECT count(*) FROM %s", table);
        snprintf(want, sizeof want, "%d", NTHREADS * ((iters + 2) / 4));
        v = t_value(c, sql, 0, NULL);
        CHECK_STR(v, want);
        free(v);
        snprintf(sql, sizeof sql, "DROP TABLE %s", table);
        pgpool_result_free(t_exec(c, sql));
        pgpool_release(c);
    }
out:
    pgpool_pool_free(pool);
}

/* ---- the server restarted under the threads ---- */

struct restarter {
    const pgpool_pool *pool;
    volatile int *phase; /* 0 before the restart, 1 while, 2 after */
    long ok_before, ok_after, failed, bad_code;
    int streak_after; /* consecutive successes after the restart */
};

static void *restart_worker(void *arg) {
    struct restarter *r = arg;
    int i = 0;
    double deadline = 0;
    for (;;) {
        pgpool_conn *c = NULL;
        pgpool_code rc;
        int phase = __sync_fetch_and_add(r->phase, 0);
        char v[32];
        const char *p[1] = {v};
        pgpool_result *res = NULL;
        if (phase == 2 && deadline == 0) deadline = t_now_ms() + 30000;
        if (phase == 2 && (r->streak_after >= 50 || t_now_ms() > deadline)) break;
        snprintf(v, sizeof v, "%d", i++);
        rc = pgpool_acquire(r->pool, 20000, &c, NULL);
        if (rc == PGPOOL_OK) {
            rc = pgpool_exec(c, "SELECT $1::int + 1", 1, p, &res, NULL);
            if (rc == PGPOOL_OK) {
                char want[32];
                snprintf(want, sizeof want, "%d", i);
                CHECK_STR(pgpool_result_value(res, 0, 0), want);
                pgpool_result_free(res);
            }
            pgpool_release(c);
        }
        if (rc == PGPOOL_OK) {
            if (phase == 2) {
                r->ok_after++;
                r->streak_after++;
            } else if (phase == 0) {
                r->ok_before++;
            }
        } else {
            r->failed++;
            r->streak_after = 0;
            /* A restart may only show as a broken connection (or a refused connect
             * retried until the timeout, which is far away). */
            if (rc != PGPOOL_CONNECTION && rc != PGPOOL_INTERFACE) {
                r->bad_code++;
                t_fail(__FILE__, __LINE__, "unexpected %s during the restart",
                       pgpool_code_name(rc));
            }
            t_sleep_ms(10);
        }
    }
    return NULL;
}

void test_server_restart(void) {
    const char *pgctl = getenv("PGPOOL_TEST_PGCTL");
    const pgpool_pool *pool;
    pthread_t th[NTHREADS];
    struct restarter r[NTHREADS];
    volatile int phase = 0;
    char cmd[1024];
    int i, rc;
    long failed = 0, ok_after = 0;
    pgpool_stats st;
    if (!pgctl || !*pgctl) {
        t_skip("PGPOOL_TEST_PGCTL is not set (run through scripts/test-env)");
        return;
    }
    pool = t_pool(4, 8, 20000);
    if (!pool) return;
    for (i = 0; i < NTHREADS; i++) {
        memset(&r[i], 0, sizeof r[i]);
        r[i].pool = pool;
        r[i].phase = &phase;
        pthread_create(&th[i], NULL, restart_worker, &r[i]);
    }
    t_sleep_ms(300);
    __sync_lock_test_and_set(&phase, 1);
    snprintf(cmd, sizeof cmd, "\"%s\" restart -m fast -w >/dev/null 2>&1", pgctl);
    rc = system(cmd);
    CHECK(rc == 0);
    __sync_lock_test_and_set(&phase, 2);
    for (i = 0; i < NTHREADS; i++) {
        pthread_join(th[i], NULL);
        failed += r[i].failed;
        ok_after += r[i].ok_after;
        CHECK(r[i].ok_before > 0);
        /* Every thread works again after the restart. */
        CHECK(r[i].streak_after >= 50);
    }
    CHECK(pgpool_pool_stats(pool, &st) == PGPOOL_OK);
    printf("    restart: %ld failed calls (broken connections), %ld ok after; %llu connections "
           "lost, %llu created\n",
           failed, ok_after, (unsigned long long)st.connections_lost,
           (unsigned long long)st.connections_created);
    pgpool_pool_free(pool);
}
