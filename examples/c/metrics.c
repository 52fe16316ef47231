/* pgpool's observability from C: log records through a callback, and the Prometheus text
 * a /metrics endpoint would serve.
 *
 *   make -C examples/c run-metrics     (configure it with DATABASE_URL, PGHOST, ...)
 *
 * Prints the log records it receives on stderr (try a DATABASE_URL whose server is down:
 * "connection failed: ..." arrives as a warning) and the exposition on stdout. */
#include <pthread.h>
#include <stdio.h>

#include "pgpool.h"

static pthread_mutex_t log_lock = PTHREAD_MUTEX_INITIALIZER;

/* May run on any thread (callers' threads, the pool's maintenance thread), concurrently. */
static void on_log(uint32_t level, const char *msg, void *userdata) {
    static const char *const names[] = {"off", "ERROR", "WARN", "INFO", "DEBUG", "TRACE"};
    const char *prefix = userdata;
    pthread_mutex_lock(&log_lock);
    fprintf(stderr, "%s %s: %s\n", prefix, level <= PGPOOL_LOG_TRACE ? names[level] : "?", msg);
    pthread_mutex_unlock(&log_lock);
}

int main(void) {
    static char prefix[] = "[pgpool]";
    const pgpool_pool *pool = NULL;
    pgpool_conn *conn = NULL;
    pgpool_error *err = NULL;
    pgpool_options opts;
    char *text = NULL;
    int rc = 0;

    pgpool_set_log_callback(on_log, prefix, PGPOOL_LOG_INFO);
    pgpool_options_init(&opts);
    opts.acquire_timeout_ms = 3000;
    if (pgpool_pool_new(NULL /* DATABASE_URL, PGHOST... */, &opts, &pool, &err) != PGPOOL_OK)
        goto fail;
    if (pgpool_acquire(pool, -1, &conn, &err) != PGPOOL_OK) goto fail;
    if (pgpool_exec(conn, "SELECT 1", 0, NULL, NULL, &err) != PGPOOL_OK) goto fail;
    pgpool_release(conn);
    conn = NULL;
    goto report;
fail:
    fprintf(stderr, "%s: %s\n", pgpool_code_name(pgpool_error_code(err)),
            pgpool_error_message(err));
    pgpool_error_free(err);
    rc = 1;
report:
    /* What GET /metrics would answer (Content-Type: text/plain; version=0.0.4). */
    if (pool && pgpool_pool_prometheus(pool, &text, NULL) == PGPOOL_OK) {
        fputs(text, stdout);
        pgpool_string_free(text);
    }
    pgpool_release(conn);
    pgpool_pool_free(pool);
    /* Off: once this returns the callback is never called again. */
    pgpool_set_log_callback(NULL, NULL, PGPOOL_LOG_OFF);
    return rc;
}
