/* The C test suite of libpgpool: runs every test (or those named on the command line)
 * against $DATABASE_URL and prints "C tests: N passed, M failed". */
#include "test.h"

#include <pthread.h>
#include <stdarg.h>
#include <time.h>

long t_checks;
long t_failures;
static int t_skipped;
static pthread_mutex_t t_print_lock = PTHREAD_MUTEX_INITIALIZER;

void t_fail(const char *file, int line, const char *fmt, ...) {
    va_list ap;
    __sync_fetch_and_add(&t_failures, 1);
    pthread_mutex_lock(&t_print_lock);
    fprintf(stderr, "    FAIL %s:%d: ", file, line);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    pthread_mutex_unlock(&t_print_lock);
}

void t_skip(const char *why) {
    t_skipped = 1;
    printf("    skipped: %s\n", why);
}

int t_expect(pgpool_code got, pgpool_code want, pgpool_error **err, int keep,
             const char *expr, const char *file, int line) {
    int ok = got == want;
    __sync_fetch_and_add(&t_checks, 1);
    if (!ok) {
        t_fail(file, line, "%s: got %s, want %s (%s%s%s)", expr, pgpool_code_name(got),
               pgpool_code_name(want), pgpool_error_message(*err),
               *pgpool_error_sqlstate(*err) ? ", SQLSTATE " : "", pgpool_error_sqlstate(*err));
    } else if (got == PGPOOL_OK && *err != NULL) {
        ok = 0;
        t_fail(file, line, "%s: PGPOOL_OK but *err was written", expr);
    } else if (got != PGPOOL_OK && *err != NULL && pgpool_error_code(*err) != got) {
        ok = 0;
        t_fail(file, line, "%s: pgpool_error_code is %s, the call returned %s", expr,
               pgpool_code_name(pgpool_error_code(*err)), pgpool_code_name(got));
    }
    if (!keep || !ok) {
        pgpool_error_free(*err);
        *err = NULL;
    }
    return ok;
}

double t_now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1000.0 + ts.tv_nsec / 1e6;
}

void t_sleep_ms(int ms) {
    struct timespec ts;
    ts.tv_sec = ms / 1000;
    ts.tv_nsec = (long)(ms % 1000) * 1000000L;
    nanosleep(&ts, NULL);
}

const char *t_dburl(void) {
    return getenv("DATABASE_URL");
}

int t_iters(int dflt) {
    const char *s = getenv("PGPOOL_C_TEST_ITERS");
    int n = s ? atoi(s) : 0;
    return n > 0 ? n : dflt;
}

const pgpool_pool *t_pool(uint32_t min_size, uint32_t max_size, uint32_t timeout_ms) {
    pgpool_options o;
    const pgpool_pool *pool = NULL;
    pgpool_error *err = NULL;
    pgpool_options_init(&o);
    o.min_size = min_size;
    o.max_size = max_size;
    o.acquire_timeout_ms = timeout_ms;
    if (!EXPECT_OK(pgpool_pool_new(t_dburl(), &o, &pool, &err))) return NULL;
    return pool;
}

pgpool_result *t_exec(pgpool_conn *c, const char *sql) {
    pgpool_result *r = NULL;
    pgpool_error *err = NULL;
    if (!t_expect(pgpool_exec(c, sql, 0, NULL, &r, &err), PGPOOL_OK, &err, 0, sql, __FILE__,
                  __LINE__))
        return NULL;
    return r;
}

static char *dup(const char *s) {
    size_t n = strlen(s) + 1;
    char *d = malloc(n);
    if (d) memcpy(d, s, n);
    return d;
}

char *t_value(pgpool_conn *c, const char *sql, size_t nparams, const char *const *params) {
    pgpool_result *r = NULL;
    pgpool_error *err = NULL;
    char *v;
    if (!t_expect(pgpool_exec(c, sql, nparams, params, &r, &err), PGPOOL_OK, &err, 0, sql,
                  __FILE__, __LINE__))
        return dup("<ERROR>");
    if (pgpool_result_nrows(r) != 1 || pgpool_result_ncols(r) != 1) {
        t_fail(__FILE__, __LINE__, "%s: %zu rows x %zu columns, want 1 x 1", sql,
               pgpool_result_nrows(r), pgpool_result_ncols(r));
        pgpool_result_free(r);
        return dup("<ERROR>");
    }
    v = dup(pgpool_result_value(r, 0, 0) ? pgpool_result_value(r, 0, 0) : "<NULL>");
    pgpool_result_free(r);
    return v;
}

struct t_case {
    const char *name;
    void (*fn)(void);
};

#define T_ENTRY(name) {#name, test_##name},
static const struct t_case t_cases[] = {T_TESTS(T_ENTRY)};

int main(int argc, char **argv) {
    size_t i;
    int a, passed = 0, failed = 0, skipped = 0;
    long total_checks = 0;
    double t0 = t_now_ms();

    setvbuf(stdout, NULL, _IOLBF, 0);
    if (!t_dburl() || !*t_dburl()) {
        fprintf(stderr, "DATABASE_URL is not set (run through scripts/test-env)\n");
        return 2;
    }
    printf("libpgpool %s (header %s)\n", pgpool_version(), PGPOOL_VERSION_STRING);
    for (i = 0; i < sizeof t_cases / sizeof t_cases[0]; i++) {
        int selected = argc < 2;
        double start;
        for (a = 1; a < argc; a++)
            if (strstr(t_cases[i].name, argv[a])) selected = 1;
        if (!selected) continue;
        t_checks = 0;
        t_failures = 0;
        t_skipped = 0;
        printf("  %s\n", t_cases[i].name);
        start = t_now_ms();
        t_cases[i].fn();
        total_checks += t_checks;
        if (t_failures) {
            failed++;
            printf("  %s: FAILED (%ld of %ld checks) in %.0f ms\n", t_cases[i].name, t_failures,
                   t_checks, t_now_ms() - start);
        } else if (t_skipped && t_checks == 0) {
            skipped++;
        } else {
            passed++;
            printf("  %s: ok (%ld checks) in %.0f ms\n", t_cases[i].name, t_checks,
                   t_now_ms() - start);
        }
    }
    printf("C tests: %d passed, %d failed", passed, failed);
    if (skipped) printf(", %d skipped", skipped);
    printf(" (%ld checks, %.1f s)\n", total_checks, (t_now_ms() - t0) / 1000);
    return failed ? 1 : 0;
}
