/* Observability from C: the Prometheus exposition (pgpool_pool_prometheus, the same text
 * as the Python module's pool.prometheus()) and the log callback. */
#include "test.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <sys/socket.h>
#include <unistd.h>

/* The value of the sample line `name{pool="default"...} value` whose name and labels
 * start with `prefix`, parsed as a number; -1 when absent or unparsable. Checks every
 * sample line of the text has the form `name{labels} number`. */
static double metric(const char *text, const char *prefix, int *bad_lines) {
    double found = -1;
    const char *line = text;
    *bad_lines = 0;
    while (*line) {
        const char *end = strchr(line, '\n');
        size_t n = end ? (size_t)(end - line) : strlen(line);
        if (n > 0 && line[0] != '#') {
            char buf[512];
            const char *sp;
            char *num_end;
            double v;
            if (n >= sizeof buf) n = sizeof buf - 1;
            memcpy(buf, line, n);
            buf[n] = '\0';
            sp = strrchr(buf, ' ');
            v = sp ? strtod(sp + 1, &num_end) : 0;
            if (!sp || *num_end != '\0' || num_end == sp + 1 || strncmp(buf, "pgpool_", 7) != 0 ||
                !strchr(buf, '{') || sp[-1] != '}')
                (*bad_lines)++;
            else if (strncmp(buf, prefix, strlen(prefix)) == 0 && buf[strlen(prefix)] == '}')
                found = v;
            else if (strncmp(buf, prefix, strlen(prefix)) == 0 && found < 0)
                found = v;
        }
        if (!end) break;
        line = end + 1;
    }
    return found;
}

/* REPLICA_DATABASE_URL (read by the core's configuration) opens no replica pool in C:
 * the C API has no readonly checkout, so its connections would never be used. */
void test_no_replica_pools_in_c(void) {
    pgpool_error *err = NULL;
    const pgpool_pool *pool = NULL;
    char *text = NULL;
    setenv("REPLICA_DATABASE_URL", t_dburl(), 1);
    if (EXPECT_OK(pgpool_pool_new(t_dburl(), NULL, &pool, &err))) {
        EXPECT_OK(pgpool_pool_prometheus(pool, &text, NULL));
        CHECK(text != NULL && strstr(text, "replica") == NULL);
        pgpool_string_free(text);
        pgpool_pool_free(pool);
    }
    unsetenv("REPLICA_DATABASE_URL");
}

void test_prometheus(void) {
    pgpool_error *err = NULL;
    const pgpool_pool *pool = t_pool(1, 3, 10000);
    pgpool_conn *c = NULL;
    pgpool_stats st;
    char *text = NULL, *untouched = (char *)(uintptr_t)0x1;
    size_t len = 12345;
    int bad = 0;
    if (!pool) return;
    if (EXPECT_OK(pgpool_acquire(pool, -1, &c, &err))) {
        EXPECT_OK(pgpool_exec(c, "SELECT 1", 0, NULL, NULL, &err));
        /* One connection in use while the text is made. */
        EXPECT_OK(pgpool_pool_prometheus(pool, &text, &len));
        CHECK(text != NULL);
        if (text) {
            CHECK_U64(len, strlen(text));
            CHECK(metric(text, "pgpool_pool_in_use{pool=\"default\"", &bad) == 1);
            pgpool_string_free(text);
            text = NULL;
        }
        pgpool_release(c);
    }
    EXPECT_OK(pgpool_acquire(pool, -1, &c, &err));
    pgpool_release(c);
    /* len may be NULL. */
    EXPECT_OK(pgpool_pool_prometheus(pool, &text, NULL));
    EXPECT_OK(pgpool_pool_stats(pool, &st));
    CHECK(text != NULL);
    if (text) {
        CHECK(strstr(text, "# TYPE pgpool_pool_size gauge\n") != NULL);
        CHECK(strstr(text, "# TYPE pgpool_requests_total counter\n") != NULL);
        CHECK(strstr(text, "# TYPE pgpool_acquire_wait_seconds histogram\n") != NULL);
        CHECK(strstr(text, "pgpool_acquire_wait_seconds_bucket{pool=\"default\",le=\"+Inf\"} ") !=
              NULL);
        /* Every sample parses; the numbers are the stats'. */
        CHECK(metric(text, "pgpool_requests_total{pool=\"default\"", &bad) == (double)st.requests);
        CHECK_U64(bad, 0);
        CHECK(st.requests >= 2);
        CHECK(metric(text, "pgpool_pool_max{pool=\"default\"", &bad) == 3);
        CHECK(metric(text, "pgpool_pool_in_use{pool=\"default\"", &bad) == 0);
        CHECK(metric(text, "pgpool_connections_created_total{pool=\"default\"", &bad) ==
              (double)st.connections_created);
        CHECK(metric(text, "pgpool_acquire_wait_seconds_count{pool=\"default\"", &bad) >= 2);
        CHECK(text[strlen(text) - 1] == '\n');
        pgpool_string_free(text);
        pgpool_string_free(text); /* detected and ignored (do not rely on it) */
    }
    /* NULL-safety; outputs untouched on failure. */
    CHECK(pgpool_pool_prometheus(NULL, &untouched, &len) == PGPOOL_NULL_PARAMETER);
    CHECK(pgpool_pool_prometheus(pool, NULL, &len) == PGPOOL_NULL_PARAMETER);
    CHECK(untouched == (char *)(uintptr_t)0x1);
    pgpool_string_free(NULL);
    /* A closed pool still reports. */
    EXPECT_OK(pgpool_pool_close(pool));
    text = NULL;
    EXPECT_OK(pgpool_pool_prometheus(pool, &text, NULL));
    CHECK(text != NULL && strstr(text, "pgpool_pool_size{pool=\"default\"} 0\n") != NULL);
    pgpool_string_free(text);
    pgpool_pool_free(pool);
    /* A freed pool is not live. */
    CHECK(pgpool_pool_prometheus(pool, &untouched, NULL) == PGPOOL_INVALID_PARAMETER);
    CHECK(untouched == (char *)(uintptr_t)0x1);
}

/* ---- the log callback ---- */

struct log_sink {
    pthread_mutex_t lock;
    int calls;
    int warnings_connection_failed;
    int bad_level;
    int in_callback_stats_ok;
    const pgpool_pool *pool; /* the callback calls back into the library */
    char first[512];
};

static void on_log(uint32_t level, const char *msg, void *userdata) {
    struct log_sink *s = userdata;
    pgpool_stats st;
    /* Calling pgpool from the callback is allowed (no lock is held). */
    int stats_ok = s->pool == NULL || pgpool_pool_stats(s->pool, &st) == PGPOOL_OK;
    pthread_mutex_lock(&s->lock);
    s->calls++;
    if (level < PGPOOL_LOG_ERROR || level > PGPOOL_LOG_TRACE) s->bad_level++;
    if (level == PGPOOL_LOG_WARN && strstr(msg, "connection failed") != NULL)
        s->warnings_connection_failed++;
    if (!s->first[0]) snprintf(s->first, sizeof s->first, "%s", msg);
    s->in_callback_stats_ok += stats_ok;
    pthread_mutex_unlock(&s->lock);
}

/* A TCP port on 127.0.0.1 nothing listens on (bound, then closed). */
static int closed_port(void) {
    struct sockaddr_in a;
    socklen_t n = sizeof a;
    int port = 1, fd = socket(AF_INET, SOCK_STREAM, 0);
    memset(&a, 0, sizeof a);
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (fd >= 0 && bind(fd, (struct sockaddr *)&a, sizeof a) == 0 &&
        getsockname(fd, (struct sockaddr *)&a, &n) == 0)
        port = ntohs(a.sin_port);
    if (fd >= 0) close(fd);
    return port;
}

void test_log_callback(void) {
    pgpool_error *err = NULL;
    pgpool_options o;
    const pgpool_pool *pool = NULL;
    pgpool_conn *c = NULL;
    struct log_sink *s = calloc(1, sizeof *s);
    char conninfo[160];
    int calls;
    if (!s) return;
    pthread_mutex_init(&s->lock, NULL);

    /* Bad levels are refused; turning off without a callback is fine. */
    CHECK(pgpool_set_log_callback(on_log, s, 6) == PGPOOL_INVALID_PARAMETER);
    CHECK(pgpool_set_log_callback(on_log, s, UINT32_MAX) == PGPOOL_INVALID_PARAMETER);
    EXPECT_OK(pgpool_set_log_callback(NULL, NULL, PGPOOL_LOG_WARN));

    snprintf(conninfo, sizeof conninfo,
             "host=127.0.0.1 port=%d user=postgres dbname=postgres connect_timeout=2",
             closed_port());
    pgpool_options_init(&o);
    o.min_size = 1;
    o.acquire_timeout_ms = 400;
    if (!EXPECT_OK(pgpool_pool_new(conninfo, &o, &pool, &err))) goto out;
    s->pool = pool;
    EXPECT_OK(pgpool_set_log_callback(on_log, s, PGPOOL_LOG_WARN));
    /* The pool's connects fail (on this thread and the maintenance thread): the first
     * failure of the series is a warning naming the cause. */
    EXPECT_KEEP(PGPOOL_TIMEOUT, pgpool_acquire(pool, -1, &c, &err));
    CHECK(strstr(pgpool_error_message(err), "last connection error") != NULL);
    pgpool_error_free(err);
    err = NULL;
    {
        double t0 = t_now_ms();
        for (;;) {
            pthread_mutex_lock(&s->lock);
            calls = s->warnings_connection_failed;
            pthread_mutex_unlock(&s->lock);
            if (calls > 0 || t_now_ms() - t0 > 5000) break;
            t_sleep_ms(20);
        }
    }
    pthread_mutex_lock(&s->lock);
    CHECK(s->warnings_connection_failed >= 1);
    CHECK(strstr(s->first, "connection failed") != NULL);
    CHECK_U64(s->bad_level, 0);
    CHECK(s->in_callback_stats_ok == s->calls);
    pthread_mutex_unlock(&s->lock);

    /* Off (NULL callback): once the call returns, the callback is never called again, so
     * its userdata may go. */
    EXPECT_OK(pgpool_set_log_callback(NULL, NULL, PGPOOL_LOG_OFF));
    pthread_mutex_lock(&s->lock);
    calls = s->calls;
    pthread_mutex_unlock(&s->lock);
    CHECK(pgpool_acquire(pool, 200, &c, NULL) == PGPOOL_TIMEOUT);
    pthread_mutex_lock(&s->lock);
    CHECK(s->calls == calls);
    pthread_mutex_unlock(&s->lock);

    /* PGPOOL_LOG_ERROR: the warnings are below it. A new pool makes a new first failure. */
    pgpool_pool_free(pool);
    pool = NULL;
    s->pool = NULL;
    EXPECT_OK(pgpool_set_log_callback(on_log, s, PGPOOL_LOG_ERROR));
    if (EXPECT_OK(pgpool_pool_new(conninfo, &o, &pool, &err))) {
        CHECK(pgpool_acquire(pool, 200, &c, NULL) == PGPOOL_TIMEOUT);
        pthread_mutex_lock(&s->lock);
        CHECK(s->calls == calls);
        pthread_mutex_unlock(&s->lock);
    }
    EXPECT_OK(pgpool_set_log_callback(NULL, NULL, PGPOOL_LOG_OFF));
out:
    pgpool_pool_free(pool);
    pthread_mutex_destroy(&s->lock);
    free(s);
}
