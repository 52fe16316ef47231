/* fork(): the child never touches the parent's connections and can use pools of its own
 * (a new one, and the inherited one, which rebuilds itself); the parent's connections
 * still work after the child exits. */
#include "test.h"

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
