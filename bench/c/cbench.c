/*
 * cbench.c: the C baseline of make bench. One `SELECT $1` with one text parameter, in a
 * loop on one connection, through
 *
 *   libpq          PQexecParams on a PGconn (the floor: what a C program pays today);
 *   pgpool_exec    pgpool_exec on a pgpool_conn held for the whole loop (target: at most
 *                  1.1x the libpq time per statement);
 *   pgpool_cycle   pgpool_acquire + pgpool_exec + pgpool_release per statement (the pool
 *                  cost on top; reported, no target).
 *
 * Each loop reads the value back (PQgetvalue / pgpool_result_value) and checks it, so
 * neither side skips work. The modes run in interleaved rounds (the order rotates each
 * round) against the same server; the median round is reported. Output: one JSON
 * object per line on stdout, per mode: {"mode", "n", "rounds", "us_per_op" (median),
 * "us_rounds"}.
 *
 *   cbench [-n ITERATIONS] [-r ROUNDS] [-w WARMUP] [-m MODES] [CONNINFO]
 *
 * MODES: a comma-separated subset of libpq,pgpool_exec,pgpool_cycle (default: all), e.g.
 * `-m pgpool_exec` to profile one loop alone (perf record -g bench/c/cbench -m ...).
 *
 * CONNINFO is a libpq conninfo string or postgresql:// URI (default: $DATABASE_URL),
 * given unchanged to PQconnectdb and pgpool_pool_new.
 */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <libpq-fe.h>

#include "pgpool.h"

#define MAX_ROUNDS 256

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static void die(const char *what, const char *msg) {
    fprintf(stderr, "cbench: %s: %s\n", what, msg ? msg : "(no message)");
    exit(1);
}

static void die_pgpool(const char *what, pgpool_code rc, pgpool_error *err) {
    fprintf(stderr, "cbench: %s: %s: %s\n", what, pgpool_code_name(rc), pgpool_error_message(err));
    pgpool_error_free(err);
    exit(1);
}

/* The parameter of iteration i, as text ("0".."9999", cycling). */
static const char *param_of(long i, char *buf, size_t len) {
    snprintf(buf, len, "%ld", i % 10000);
    return buf;
}

static void check_value(const char *got, const char *want) {
    if (got == NULL || strcmp(got, want) != 0)
        die("wrong value", got ? got : "NULL");
}

/* ---- the loops ------------------------------------------------------------------- */

static double loop_libpq(PGconn *conn, long n) {
    char buf[32];
    double t0 = now_s();
    for (long i = 0; i < n; i++) {
        const char *params[1];
        params[0] = param_of(i, buf, sizeof buf);
        PGresult *res = PQexecParams(conn, "SELECT $1", 1, NULL, params, NULL, NULL, 0);
        if (PQresultStatus(res) != PGRES_TUPLES_OK) die("PQexecParams", PQerrorMessage(conn));
        check_value(PQgetvalue(res, 0, 0), params[0]);
        PQclear(res);
    }
    return now_s() - t0;
}

static double loop_pgpool(pgpool_conn *conn, long n) {
    char buf[32];
    double t0 = now_s();
    for (long i = 0; i < n; i++) {
        const char *params[1];
        pgpool_result *res = NULL;
        pgpool_error *err = NULL;
        params[0] = param_of(i, buf, sizeof buf);
        pgpool_code rc = pgpool_exec(conn, "SELECT $1", 1, params, &res, &err);
        if (rc != PGPOOL_OK) die_pgpool("pgpool_exec", rc, err);
        check_value(pgpool_result_value(res, 0, 0), params[0]);
        pgpool_result_free(res);
    }
    return now_s() - t0;
}

static double loop_pgpool_cycle(const pgpool_pool *pool, long n) {
    char buf[32];
    double t0 = now_s();
    for (long i = 0; i < n; i++) {
        const char *params[1];
        pgpool_conn *conn = NULL;
        pgpool_result *res = NULL;
        pgpool_error *err = NULL;
        pgpool_code rc = pgpool_acquire(pool, -1, &conn, &err);
        if (rc != PGPOOL_OK) die_pgpool("pgpool_acquire", rc, err);
        params[0] = param_of(i, buf, sizeof buf);
        rc = pgpool_exec(conn, "SELECT $1", 1, params, &res, &err);
        if (rc != PGPOOL_OK) die_pgpool("pgpool_exec", rc, err);
        check_value(pgpool_result_value(res, 0, 0), params[0]);
        pgpool_result_free(res);
        pgpool_release(conn);
    }
    return now_s() - t0;
}

/* ---- main ------------------------------------------------------------------------- */

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

enum { M_LIBPQ, M_PGPOOL, M_CYCLE, N_MODES };
static const char *const MODE_NAMES[N_MODES] = {"libpq", "pgpool_exec", "pgpool_cycle"};

int main(int argc, char **argv) {
    long n = 20000, warmup = 1000;
    int rounds = 5, opt;
    bool on[N_MODES] = {true, true, true};
    while ((opt = getopt(argc, argv, "n:r:w:m:")) != -1) {
        switch (opt) {
        case 'n': n = atol(optarg); break;
        case 'r': rounds = atoi(optarg); break;
        case 'w': warmup = atol(optarg); break;
        case 'm':
            for (int m = 0; m < N_MODES; m++) {
                /* whole comma-separated names only */
                const char *p = optarg;
                size_t len = strlen(MODE_NAMES[m]);
                on[m] = false;
                while ((p = strstr(p, MODE_NAMES[m])) != NULL) {
                    if ((p == optarg || p[-1] == ',') && (p[len] == '\0' || p[len] == ',')) {
                        on[m] = true;
                        break;
                    }
                    p += len;
                }
            }
            break;
        default:
            fprintf(stderr, "usage: %s [-n ITERATIONS] [-r ROUNDS] [-w WARMUP] [-m MODES] [CONNINFO]\n",
                    argv[0]);
            return 2;
        }
    }
    if (n < 1 || rounds < 1 || rounds > MAX_ROUNDS || warmup < 0) die("arguments", "out of range");
    const char *conninfo = optind < argc ? argv[optind] : getenv("DATABASE_URL");
    if (conninfo == NULL || *conninfo == '\0') die("arguments", "no CONNINFO and no DATABASE_URL");

    PGconn *pq = PQconnectdb(conninfo);
    if (PQstatus(pq) != CONNECTION_OK) die("PQconnectdb", PQerrorMessage(pq));

    pgpool_options opts;
    pgpool_options_init(&opts);
    opts.min_size = 1;
    opts.max_size = 2;
    const pgpool_pool *pool = NULL;
    pgpool_error *err = NULL;
    pgpool_code rc = pgpool_pool_new(conninfo, &opts, &pool, &err);
    if (rc != PGPOOL_OK) die_pgpool("pgpool_pool_new", rc, err);
    pgpool_conn *held = NULL;
    rc = pgpool_acquire(pool, -1, &held, &err);
    if (rc != PGPOOL_OK) die_pgpool("pgpool_acquire", rc, err);

    /* warm-up: connections, caches, CPU frequency */
    if (on[M_LIBPQ]) loop_libpq(pq, warmup);
    if (on[M_PGPOOL]) loop_pgpool(held, warmup);
    if (on[M_CYCLE]) {
        /* the cycle mode needs the held connection back in the pool: acquire returns it */
        pgpool_release(held);
        loop_pgpool_cycle(pool, warmup);
        rc = pgpool_acquire(pool, -1, &held, &err);
        if (rc != PGPOOL_OK) die_pgpool("pgpool_acquire", rc, err);
    }

    double us[N_MODES][MAX_ROUNDS];
    for (int r = 0; r < rounds; r++) {
        for (int k = 0; k < N_MODES; k++) {
            int m = (k + r) % N_MODES; /* rotate the order each round */
            double t;
            if (!on[m]) continue;
            switch (m) {
            case M_LIBPQ: t = loop_libpq(pq, n); break;
            case M_PGPOOL: t = loop_pgpool(held, n); break;
            default:
                pgpool_release(held);
                t = loop_pgpool_cycle(pool, n);
                rc = pgpool_acquire(pool, -1, &held, &err);
                if (rc != PGPOOL_OK) die_pgpool("pgpool_acquire", rc, err);
                break;
            }
            us[m][r] = t * 1e6 / (double)n;
        }
    }

    for (int m = 0; m < N_MODES; m++) {
        double sorted[MAX_ROUNDS];
        if (!on[m]) continue;
        memcpy(sorted, us[m], sizeof(double) * (size_t)rounds);
        qsort(sorted, (size_t)rounds, sizeof(double), cmp_double);
        printf("{\"mode\": \"%s\", \"n\": %ld, \"rounds\": %d, \"us_per_op\": %.2f, \"us_rounds\": [",
               MODE_NAMES[m], n, rounds, sorted[rounds / 2]);
        for (int r = 0; r < rounds; r++) printf("%s%.2f", r ? ", " : "", us[m][r]);
        printf("]}\n");
    }

    pgpool_release(held);
    pgpool_pool_free(pool);
    PQfinish(pq);
    return 0;
}
