/* The C test suite's tiny harness: checks that count and report, helpers shared by the
 * test files. C99 + POSIX (pthreads). */
#ifndef PGPOOL_C_TEST_H
#define PGPOOL_C_TEST_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pgpool.h"

/* Counters of the running test (updated atomically: checks run on many threads). */
extern long t_checks;
extern long t_failures;

void t_fail(const char *file, int line, const char *fmt, ...)
#ifdef __GNUC__
    __attribute__((format(printf, 3, 4)))
#endif
    ;
void t_skip(const char *why);

/* Expects `got` == `want`. On a mismatch prints the error's message and SQLSTATE. Frees
 * `*err` (and sets it to NULL) unless `keep`. Also checks the contract that `*err` is
 * written only on failure. Returns 1 when it matched. */
int t_expect(pgpool_code got, pgpool_code want, pgpool_error **err, int keep,
             const char *expr, const char *file, int line);

#define CHECK(cond)                                                           \
    do {                                                                      \
        __sync_fetch_and_add(&t_checks, 1);                                   \
        if (!(cond)) t_fail(__FILE__, __LINE__, "CHECK(%s)", #cond);          \
    } while (0)

/* Compares two C strings, either of which may be NULL. */
#define CHECK_STR(got, want)                                                  \
    do {                                                                      \
        const char *g_ = (got), *w_ = (want);                                 \
        __sync_fetch_and_add(&t_checks, 1);                                   \
        if ((g_ == NULL) != (w_ == NULL) || (g_ && strcmp(g_, w_) != 0))      \
            t_fail(__FILE__, __LINE__, "%s: got %s%s%s, want %s%s%s", #got,   \
                   g_ ? "\"" : "", g_ ? g_ : "NULL", g_ ? "\"" : "",          \
                   w_ ? "\"" : "", w_ ? w_ : "NULL", w_ ? "\"" : "");         \
    } while (0)

#define CHECK_U64(got, want)                                                  \
    do {                                                                      \
        unsigned long long g_ = (unsigned long long)(got);                    \
        unsigned long long w_ = (unsigned long long)(want);                   \
        __sync_fetch_and_add(&t_checks, 1);                                   \
        if (g_ != w_)                                                         \
            t_fail(__FILE__, __LINE__, "%s: got %llu, want %llu", #got, g_, w_); \
    } while (0)

/* Every test declares `pgpool_error *err = NULL;` and passes `&err` to the calls. */
#define EXPECT(want, call) t_expect((call), (want), &err, 0, #call, __FILE__, __LINE__)
#define EXPECT_KEEP(want, call) t_expect((call), (want), &err, 1, #call, __FILE__, __LINE__)
#define EXPECT_OK(call) EXPECT(PGPOOL_OK, call)

/* ---- helpers (main.c) ---- */

/* Milliseconds on a monotonic clock. */
double t_now_ms(void);
void t_sleep_ms(int ms);
/* The test database's URL ($DATABASE_URL). */
const char *t_dburl(void);
/* How many iterations the heavy tests run ($PGPOOL_C_TEST_ITERS, default `dflt`). */
int t_iters(int dflt);

/* A pool on $DATABASE_URL with these sizes and acquire timeout (ms); NULL on failure
 * (reported). */
const pgpool_pool *t_pool(uint32_t min_size, uint32_t max_size, uint32_t timeout_ms);
/* Runs SQL (no parameters), expecting success; returns the result (caller frees) or NULL. */
pgpool_result *t_exec(pgpool_conn *c, const char *sql);
/* Runs a one-value query and returns a malloc'ed copy of the value ("<NULL>" for SQL NULL,
 * "<ERROR>" on failure, reported). */
char *t_value(pgpool_conn *c, const char *sql, size_t nparams, const char *const *params);

/* ---- the tests ---- */
#define T_TESTS(X)                                                            \
    X(version)                                                                \
    X(code_names)                                                             \
    X(options_init)                                                           \
    X(options_older_struct)                                                   \
    X(null_arguments)                                                         \
    X(double_free_and_stale_handles)                                          \
    X(text_output)                                                            \
    X(parameters)                                                             \
    X(affected_rows)                                                          \
    X(transactions)                                                           \
    X(release_rolls_back_and_resets)                                          \
    X(session_reset_through_pgbouncer)                                        \
    X(stats)                                                                  \
    X(syntax_error)                                                           \
    X(unique_violation)                                                       \
    X(pool_exhausted)                                                         \
    X(stats_outcomes)                                                         \
    X(drain_and_set_conninfo)                                                 \
    X(password_callback)                                                      \
    X(closed_pool)                                                            \
    X(too_many_requests)                                                      \
    X(bad_conninfo)                                                           \
    X(duration_settings)                                                      \
    X(database_unreachable)                                                   \
    X(terminated_backend)                                                     \
    X(threads)                                                                \
    X(fork)                                                                   \
    X(fork_under_threads)                                                     \
    X(server_restart)                                                         \
    X(prometheus)                                                             \
    X(no_replica_pools_in_c)                                                  \
    X(log_callback)                                                           \
    X(tls_sslmodes)                                                           \
    X(tls_verify_full_host_mismatch)                                          \
    X(tls_wrong_ca)                                                           \
    X(tls_against_a_server_without_tls)                                       \
    X(tls_client_certificate)                                                 \
    X(tls_pool_connections_encrypted)                                         \
    X(tls_environment)

#define T_DECLARE(name) void test_##name(void);
T_TESTS(T_DECLARE)

#endif
