/*
 * threads.c: one pool shared by several threads (the way a C service uses pgpool).
 *
 * Each worker checks a connection out, runs a parameterised query inside a transaction,
 * and hands the connection back; the pool hands connections to waiting threads in
 * arrival order. Configured from the environment (DATABASE_URL, ...).
 *
 *   make -C examples/c && DATABASE_URL=postgresql://postgres@localhost/postgres examples/c/threads
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pgpool.h"

#define NTHREADS 8
#define PER_THREAD 50

struct job {
    const pgpool_pool *pool; /* shared: the pool is thread-safe */
    int id;
    int ok;
};

static void *work(void *arg) {
    struct job *job = arg;
    int i;
    for (i = 0; i < PER_THREAD; i++) {
        pgpool_conn *c = NULL; /* ours alone until released */
        pgpool_result *r = NULL;
        pgpool_error *err = NULL;
        char a[16], b[16], want[32];
        const char *params[2] = {a, b};
        pgpool_code rc;

        snprintf(a, sizeof a, "%d", job->id);
        snprintf(b, sizeof b, "%d", i);
        snprintf(want, sizeof want, "%d", job->id * 1000 + i);

        rc = pgpool_acquire(job->pool, 10000, &c, &err); /* wait up to 10 s */
        if (rc == PGPOOL_OK) rc = pgpool_begin(c, &err);
        if (rc == PGPOOL_OK)
            rc = pgpool_exec(c, "SELECT $1::int * 1000 + $2::int", 2, params, &r, &err);
        if (rc == PGPOOL_OK) rc = pgpool_commit(c, &err);
        if (rc == PGPOOL_OK && strcmp(pgpool_result_value(r, 0, 0), want) == 0) {
            job->ok++;
        } else {
            fprintf(stderr, "thread %d: %s: %s\n", job->id, pgpool_code_name(rc),
                    pgpool_error_message(err));
        }
        pgpool_result_free(r);
        pgpool_error_free(err);
        pgpool_release(c); /* back to the pool (rolled back if still in a transaction) */
    }
    return NULL;
}

int main(void) {
    const pgpool_pool *pool = NULL;
    pgpool_error *err = NULL;
    pgpool_options opts;
    pgpool_stats st;
    pthread_t th[NTHREADS];
    struct job jobs[NTHREADS];
    int i, ok = 0;

    pgpool_options_init(&opts); /* everything else: environment, then defaults */
    opts.max_size = 4;          /* fewer connections than threads: some wait */
    if (pgpool_pool_new(NULL, &opts, &pool, &err) != PGPOOL_OK) {
        fprintf(stderr, "FAIL: %s\n", pgpool_error_message(err));
        pgpool_error_free(err);
        return 1;
    }
    for (i = 0; i < NTHREADS; i++) {
        jobs[i].pool = pool;
        jobs[i].id = i + 1;
        jobs[i].ok = 0;
        pthread_create(&th[i], NULL, work, &jobs[i]);
    }
    for (i = 0; i < NTHREADS; i++) {
        pthread_join(th[i], NULL);
        ok += jobs[i].ok;
    }
    pgpool_pool_stats(pool, &st);
    printf("%d of %d transactions ok on %u connections (%llu checkouts, %.1f ms waited)\n", ok,
           NTHREADS * PER_THREAD, st.size, (unsigned long long)st.requests,
           st.wait_us_total / 1000.0);
    pgpool_pool_free(pool);
    return ok == NTHREADS * PER_THREAD ? 0 : 1;
}
