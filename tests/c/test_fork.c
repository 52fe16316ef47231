/* fork(): the child never touches the parent's connections and can use pools of its own
 * (a new one, and the inherited one, which rebuilds itself); the parent's connections
 * still work after the child exits. */
#include "test.h"

#include <pthread.h>
#include <signal.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

/* In the child: returns the number of failures (the child's checks do not reach the
 * parent's counters). */
static int child_main(const pgpool_pool *inherited, pgpool_conn *parents_conn,
                      const char *parent_pid) {
    const pgpool_pool *pool = NULL;
    pgpool_conn *c = NULL;
    pgpool_result *r = NULL;
    int bad = 0;
    const char *v;

    /* A new pool. */
    if (pgpool_pool_new(NULL, NULL, &pool, NULL) != PGPOOL_OK) return 100;
    if (pgpool_acquire(pool, 10000, &c, NULL) != PGPOOL_OK) return 101;
    if (pgpool_exec(c, "SELECT pg_backend_pid()", 0, NULL, &r, NULL) != PGPOOL_OK) bad++;
    v = pgpool_result_value(r, 0, 0);
    if (!v || strcmp(v, parent_pid) == 0) bad++;
    pgpool_result_free(r);
    r = NULL;
    pgpool_release(c);
    c = NULL;
    pgpool_pool_free(pool);

    /* The parent's connection is not usable here (and using it must not disturb it). */
    if (pgpool_exec(parents_conn, "SELECT 1", 0, NULL, NULL, NULL) != PGPOOL_INTERFACE) bad++;
    pgpool_release(parents_conn);

    /* The inherited pool: it rebuilds itself with connections of the child's own. */
    if (pgpool_acquire(inherited, 10000, &c, NULL) != PGPOOL_OK) return bad + 102;
    if (pgpool_exec(c, "SELECT pg_backend_pid()", 0, NULL, &r, NULL) != PGPOOL_OK) bad++;
    v = pgpool_result_value(r, 0, 0);
    if (!v || strcmp(v, parent_pid) == 0) bad++;
    pgpool_result_free(r);
    pgpool_release(c);
    return bad;
}

void test_fork(void) {
    pgpool_error *err = NULL;
    const pgpool_pool *pool = t_pool(2, 4, 10000);
    pgpool_conn *held = NULL, *c = NULL;
    char *pid = NULL, *v;
    pid_t child;
    int status = 0;
    if (!pool) return;
    if (!EXPECT_OK(pgpool_acquire(pool, -1, &held, &err))) goto out;
    pid = t_value(held, "SELECT pg_backend_pid()", 0, NULL);
    /* Also leave an idle connection in the pool across the fork. */
    if (EXPECT_OK(pgpool_acquire(pool, -1, &c, &err))) {
        pgpool_result_free(t_exec(c, "SELECT 1"));
        pgpool_release(c);
        c = NULL;
    }
    fflush(stdout);
    fflush(stderr);
    child = fork();
    if (child == 0) {
        /* _exit: no atexit handlers, no leak report for the parent's state in the copy. */
        _exit(child_main(pool, held, pid));
    }
    CHECK(child > 0);
    if (child > 0) {
        CHECK(waitpid(child, &status, 0) == child);
        CHECK(WIFEXITED(status));
        if (WEXITSTATUS(status) != 0)
            t_fail(__FILE__, __LINE__, "the child reported %d failures", WEXITSTATUS(status));
    }
    /* The parent's held connection and its idle one still work. */
    v = t_value(held, "SELECT pg_backend_pid()", 0, NULL);
    CHECK_STR(v, pid);
    free(v);
    if (EXPECT_OK(pgpool_acquire(pool, -1, &c, &err))) {
        v = t_value(c, "SELECT 'parent ok'", 0, NULL);
        CHECK_STR(v, "parent ok");
        free(v);
        pgpool_release(c);
    }
    pgpool_release(held);
out:
    free(pid);
    pgpool_pool_free(pool);
}

/* Issue 13 item 3: fork() while 16 threads use the pool. The child inherits every lock
 * pgpool had as the parent's threads left it at the instant of the fork (taken, with
 * waiters parked, half-way through an update); its first pgpool calls must neither block
 * nor see torn state. 30 forks; each child uses the handle table (acquire, exec, release,
 * free), the inherited pool (rebuilt), a new pool, stats and the log callback, and must
 * exit within CHILD_DEADLINE_MS (a deadlocked child is killed and fails the test). */
#define FORK_THREADS 16
#define FORKS 30
#define CHILD_DEADLINE_MS 30000

struct busy {
    const pgpool_pool *pool;
    volatile int stop;
    long iters;
};

static void quiet_log(uint32_t level, const char *msg, void *userdata) {
    (void)level;
    (void)msg;
    __sync_fetch_and_add((long *)userdata, 1);
}

static void *busy_main(void *arg) {
    struct busy *b = arg;
    while (!b->stop) {
        pgpool_conn *c = NULL;
        pgpool_result *r = NULL;
        pgpool_stats st;
        if (pgpool_acquire(b->pool, 5000, &c, NULL) == PGPOOL_OK) {
            if (pgpool_exec(c, "SELECT 1", 0, NULL, &r, NULL) == PGPOOL_OK) pgpool_result_free(r);
            pgpool_release(c);
        }
        pgpool_pool_stats(b->pool, &st);
        __sync_fetch_and_add(&b->iters, 1);
    }
    return NULL;
}

/* The child's first pgpool calls; returns the number of failures (0 = ok). */
static int forked_child(const pgpool_pool *inherited) {
    const pgpool_pool *fresh = NULL;
    pgpool_conn *c = NULL;
    pgpool_result *r = NULL;
    pgpool_stats st;
    int bad = 0;
    const char *v;
    if (pgpool_pool_stats(inherited, &st) != PGPOOL_OK) bad++;
    if (pgpool_acquire(inherited, 10000, &c, NULL) != PGPOOL_OK) return bad + 10;
    if (pgpool_exec(c, "SELECT 41 + 1", 0, NULL, &r, NULL) != PGPOOL_OK) bad++;
    v = pgpool_result_value(r, 0, 0);
    if (!v || strcmp(v, "42") != 0) bad++;
    pgpool_result_free(r);
    pgpool_release(c);
    if (pgpool_pool_new(NULL, NULL, &fresh, NULL) != PGPOOL_OK) return bad + 20;
    if (pgpool_acquire(fresh, 10000, &c, NULL) != PGPOOL_OK) return bad + 30;
    if (pgpool_exec(c, "SELECT 'child'", 0, NULL, &r, NULL) != PGPOOL_OK) bad++;
    pgpool_result_free(r);
    pgpool_release(c);
    pgpool_pool_free(fresh);
    if (pgpool_set_log_callback(NULL, NULL, PGPOOL_LOG_OFF) != PGPOOL_OK) bad++;
    return bad;
}

void test_fork_under_threads(void) {
    pgpool_error *err = NULL;
    const pgpool_pool *pool = t_pool(2, 4, 10000);
    pthread_t th[FORK_THREADS];
    struct busy b;
    long logged = 0;
    int i, forks = 0, started = 0, finished = 0, hung = 0;
#if defined(__SANITIZE_ADDRESS__)
    /* GCC 12's AddressSanitizer allocator has no fork handling: a child forked while
     * another thread is inside malloc blocks on the allocator's own lock (seen: 1 fork
     * in ~400, the child stuck in __asan::Allocator::Allocate). That is the sanitizer,
     * not pgpool; the plain build under valgrind runs this test. */
    (void)err;
    (void)th;
    (void)b;
    (void)logged;
    (void)i;
    (void)forks;
    (void)started;
    (void)finished;
    (void)hung;
    pgpool_pool_free(pool);
    t_skip("AddressSanitizer's allocator is not fork-safe with threads (run under valgrind)");
    return;
#endif
    if (!pool) return;
    b.pool = pool;
    b.stop = 0;
    b.iters = 0;
    /* Records at DEBUG go through the callback's state on the busy threads. */
    EXPECT(PGPOOL_OK, pgpool_set_log_callback(quiet_log, &logged, PGPOOL_LOG_TRACE));
    for (i = 0; i < FORK_THREADS; i++)
        if (pthread_create(&th[i], NULL, busy_main, &b) == 0) started++;
    CHECK(started == FORK_THREADS);
    while (__sync_fetch_and_add(&b.iters, 0) < 200) t_sleep_ms(5);
    for (i = 0; i < FORKS && !hung; i++) {
        pid_t child;
        int status = 0;
        double t0;
        pid_t done = 0;
        fflush(stdout);
        fflush(stderr);
        child = fork();
        if (child == 0) _exit(forked_child(pool));
        forks++;
        CHECK(child > 0);
        if (child <= 0) break;
        t0 = t_now_ms();
        while ((done = waitpid(child, &status, WNOHANG)) == 0 &&
               t_now_ms() - t0 < CHILD_DEADLINE_MS)
            t_sleep_ms(2);
        if (done == 0) {
            t_fail(__FILE__, __LINE__, "fork %d: the child is stuck after %d ms (deadlock)", i,
                   CHILD_DEADLINE_MS);
            kill(child, SIGKILL);
            waitpid(child, &status, 0);
            hung = 1;
        } else if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
            t_fail(__FILE__, __LINE__, "fork %d: the child failed (status %d)", i, status);
        } else {
            finished++;
        }
        t_sleep_ms(10);
    }
    b.stop = 1;
    for (i = 0; i < started; i++) pthread_join(th[i], NULL);
    EXPECT(PGPOOL_OK, pgpool_set_log_callback(NULL, NULL, PGPOOL_LOG_OFF));
    CHECK(hung == 0);
    CHECK(finished == FORKS);
    printf("    %d forks under %d threads, %d children finished, %ld parent iterations\n",
           forks, FORK_THREADS, finished, b.iters);
    pgpool_pool_free(pool);
}
