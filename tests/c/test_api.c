/* The API's contract without much database work: version, codes, options, NULL
 * arguments, stale handles. */
#include "test.h"

void test_version(void) {
    char want[64];
    snprintf(want, sizeof want, "%d.%d.%d", PGPOOL_VERSION_MAJOR, PGPOOL_VERSION_MINOR,
             PGPOOL_VERSION_PATCH);
    /* The header's macros, the library's version (Cargo.toml's) and each other agree. */
    CHECK_STR(PGPOOL_VERSION_STRING, want);
    CHECK_STR(pgpool_version(), PGPOOL_VERSION_STRING);
}

void test_code_names(void) {
    CHECK_U64(PGPOOL_OK, 0);
    CHECK_STR(pgpool_code_name(PGPOOL_OK), "PGPOOL_OK");
    CHECK_STR(pgpool_code_name(PGPOOL_TIMEOUT), "PGPOOL_TIMEOUT");
    CHECK_STR(pgpool_code_name(PGPOOL_CLOSED), "PGPOOL_CLOSED");
    CHECK_STR(pgpool_code_name(PGPOOL_DATABASE), "PGPOOL_DATABASE");
    CHECK_STR(pgpool_code_name(PGPOOL_CONNECTION), "PGPOOL_CONNECTION");
    CHECK_STR(pgpool_code_name(PGPOOL_CONFIG), "PGPOOL_CONFIG");
    CHECK_STR(pgpool_code_name(PGPOOL_NULL_PARAMETER), "PGPOOL_NULL_PARAMETER");
    CHECK_STR(pgpool_code_name(PGPOOL_INVALID_PARAMETER), "PGPOOL_INVALID_PARAMETER");
    CHECK_STR(pgpool_code_name(PGPOOL_INTERFACE), "PGPOOL_INTERFACE");
    CHECK_STR(pgpool_code_name(PGPOOL_TOO_MANY_REQUESTS), "PGPOOL_TOO_MANY_REQUESTS");
    CHECK_STR(pgpool_code_name(PGPOOL_PANIC), "PGPOOL_PANIC");
    CHECK_STR(pgpool_code_name(12345), "PGPOOL_UNKNOWN");
    CHECK_STR(pgpool_code_name(UINT32_MAX), "PGPOOL_UNKNOWN");
    /* pgpool_code is a uint32_t in C. */
    CHECK(sizeof(pgpool_code) == sizeof(uint32_t));
}

void test_options_init(void) {
    pgpool_options o;
    unsigned char *small;
    memset(&o, 0x55, sizeof o);
    pgpool_options_init(&o);
    CHECK_U64(o.struct_size, sizeof(pgpool_options));
    CHECK_U64(o.min_size, PGPOOL_DEFAULT);
    CHECK_U64(o.max_size, PGPOOL_DEFAULT);
    CHECK_U64(o.acquire_timeout_ms, PGPOOL_DEFAULT);
    CHECK_U64(o.max_lifetime_ms, PGPOOL_DEFAULT);
    CHECK_U64(o.max_idle_ms, PGPOOL_DEFAULT);
    CHECK_U64(o.connect_timeout_ms, PGPOOL_DEFAULT);
    CHECK(o.pre_ping == true);
    CHECK_U64(o.max_waiting, PGPOOL_DEFAULT);
    pgpool_options_init(NULL); /* ignored */

    /* A caller that knows a 12-byte struct: exactly 12 bytes are written (AddressSanitizer
     * and valgrind watch the heap block's end). */
    small = malloc(12);
    CHECK(small != NULL);
    if (small) {
        uint32_t v[3];
        pgpool_options_init_sized((pgpool_options *)(void *)small, 12);
        memcpy(v, small, sizeof v);
        CHECK_U64(v[0], 12);
        CHECK_U64(v[1], PGPOOL_DEFAULT);
        CHECK_U64(v[2], PGPOOL_DEFAULT);
        free(small);
    }
    pgpool_options_init_sized((pgpool_options *)(void *)&o, 2); /* too small: ignored */
}

/* The struct as the first release defined it (no max_waiting): what a program compiled against
 * that header passes. */
struct options_v1 {
    uint32_t struct_size;
    uint32_t min_size, max_size;
    uint32_t acquire_timeout_ms, max_lifetime_ms, max_idle_ms, connect_timeout_ms;
    bool pre_ping;
};

void test_options_older_struct(void) {
    pgpool_error *err = NULL;
    const pgpool_pool *pool = NULL;
    pgpool_stats st;
    struct options_v1 *v1 = malloc(sizeof *v1); /* heap: reads past its end are caught */
    uint32_t *tiny = malloc(3 * sizeof(uint32_t));
    if (!v1 || !tiny) {
        t_fail(__FILE__, __LINE__, "malloc");
        free(v1);
        free(tiny);
        return;
    }
    pgpool_options_init_sized((pgpool_options *)(void *)v1, sizeof *v1);
    CHECK_U64(v1->struct_size, sizeof *v1);
    v1->min_size = 0;
    v1->max_size = 3;
    if (EXPECT_OK(pgpool_pool_new(t_dburl(), (const pgpool_options *)(void *)v1, &pool, &err))) {
        EXPECT_OK(pgpool_pool_stats(pool, &st));
        CHECK_U64(st.max_size, 3);
        CHECK_U64(st.min_size, 0);
        pgpool_pool_free(pool);
        pool = NULL;
    }
    /* Only struct_size, min_size, max_size. */
    tiny[0] = 3 * sizeof(uint32_t);
    tiny[1] = 1;
    tiny[2] = 2;
    if (EXPECT_OK(pgpool_pool_new(t_dburl(), (const pgpool_options *)(void *)tiny, &pool, &err))) {
        EXPECT_OK(pgpool_pool_stats(pool, &st));
        CHECK_U64(st.max_size, 2);
        CHECK_U64(st.min_size, 1);
        pgpool_pool_free(pool);
        pool = NULL;
    }
    /* Forgot pgpool_options_init: struct_size 0. */
    tiny[0] = 0;
    EXPECT_KEEP(PGPOOL_INVALID_PARAMETER,
                pgpool_pool_new(t_dburl(), (const pgpool_options *)(void *)tiny, &pool, &err));
    CHECK(strstr(pgpool_error_message(err), "pgpool_options_init") != NULL);
    CHECK(pool == NULL);
    pgpool_error_free(err);
    free(v1);
    free(tiny);
}

void test_null_arguments(void) {
    pgpool_error *err = NULL;
    const pgpool_pool *pool = t_pool(1, 2, 5000);
    pgpool_conn *conn = NULL;
    pgpool_result *res = NULL;
    pgpool_stats st;
    const char *params[1] = {"1"};
    if (!pool) return;

    EXPECT_KEEP(PGPOOL_NULL_PARAMETER, pgpool_pool_new(NULL, NULL, NULL, &err));
    CHECK(strstr(pgpool_error_message(err), "out") != NULL);
    CHECK_STR(pgpool_error_sqlstate(err), "");
    pgpool_error_free(err);
    err = NULL;
    CHECK(pgpool_pool_new(NULL, NULL, NULL, NULL) == PGPOOL_NULL_PARAMETER); /* err NULL too */

    EXPECT(PGPOOL_NULL_PARAMETER, pgpool_acquire(NULL, 100, &conn, &err));
    EXPECT(PGPOOL_NULL_PARAMETER, pgpool_acquire(pool, 100, NULL, &err));
    CHECK(conn == NULL);
    EXPECT(PGPOOL_NULL_PARAMETER, pgpool_pool_close(NULL));
    EXPECT(PGPOOL_NULL_PARAMETER, pgpool_pool_stats(NULL, &st));
    EXPECT(PGPOOL_NULL_PARAMETER, pgpool_pool_stats(pool, NULL));
    EXPECT(PGPOOL_INVALID_PARAMETER, pgpool_pool_stats_sized(pool, &st, 0));

    if (EXPECT_OK(pgpool_acquire(pool, -1, &conn, &err))) {
        EXPECT(PGPOOL_NULL_PARAMETER, pgpool_exec(NULL, "SELECT 1", 0, NULL, &res, &err));
        EXPECT(PGPOOL_NULL_PARAMETER, pgpool_exec(conn, NULL, 0, NULL, &res, &err));
        EXPECT(PGPOOL_NULL_PARAMETER, pgpool_exec(conn, "SELECT $1", 1, NULL, &res, &err));
        CHECK(res == NULL);
        /* out NULL: run it, discard the result. */
        EXPECT_OK(pgpool_exec(conn, "SELECT $1", 1, params, NULL, &err));
        EXPECT_OK(pgpool_exec(conn, "SELECT 1", 0, NULL, NULL, NULL));
        EXPECT(PGPOOL_NULL_PARAMETER, pgpool_begin(NULL, &err));
        EXPECT(PGPOOL_NULL_PARAMETER, pgpool_commit(NULL, &err));
        EXPECT(PGPOOL_NULL_PARAMETER, pgpool_rollback(NULL, &err));
        pgpool_release(conn);
    }
    pgpool_release(NULL);

    CHECK_U64(pgpool_result_nrows(NULL), 0);
    CHECK_U64(pgpool_result_ncols(NULL), 0);
    CHECK(pgpool_result_colname(NULL, 0) == NULL);
    CHECK_U64(pgpool_result_coltype(NULL, 0), 0);
    CHECK(pgpool_result_value(NULL, 0, 0) == NULL);
    CHECK_U64(pgpool_result_affected(NULL), 0);
    pgpool_result_free(NULL);

    CHECK_STR(pgpool_error_message(NULL), "");
    CHECK_STR(pgpool_error_sqlstate(NULL), "");
    CHECK(pgpool_error_code(NULL) == PGPOOL_NULL_PARAMETER);
    pgpool_error_free(NULL);

    pgpool_pool_free(NULL);
    pgpool_pool_free(pool);
}

void test_double_free_and_stale_handles(void) {
    pgpool_error *err = NULL, *e2 = NULL;
    const pgpool_pool *pool = t_pool(0, 2, 5000);
    const pgpool_pool *other = t_pool(0, 1, 5000);
    pgpool_conn *conn = NULL, *sentinel = (pgpool_conn *)(uintptr_t)0x1;
    pgpool_result *res = NULL;
    pgpool_stats st;
    if (!pool || !other) return;

    /* A released connection: calls on it are refused, a second release is ignored. */
    if (EXPECT_OK(pgpool_acquire(pool, -1, &conn, &err))) {
        res = t_exec(conn, "SELECT 1");
        pgpool_release(conn);
        EXPECT(PGPOOL_INVALID_PARAMETER, pgpool_exec(conn, "SELECT 1", 0, NULL, NULL, &err));
        EXPECT(PGPOOL_INVALID_PARAMETER, pgpool_begin(conn, &err));
        EXPECT(PGPOOL_INVALID_PARAMETER, pgpool_commit(conn, &err));
        EXPECT(PGPOOL_INVALID_PARAMETER, pgpool_rollback(conn, &err));
        pgpool_release(conn);
        /* The result outlives its connection. */
        CHECK_STR(pgpool_result_value(res, 0, 0), "1");
        pgpool_result_free(res);
        pgpool_result_free(res);
    }
    /* Not a handle of ours at all. */
    EXPECT(PGPOOL_INVALID_PARAMETER, pgpool_exec(sentinel, "SELECT 1", 0, NULL, NULL, &err));
    pgpool_release(sentinel);

    /* An error freed twice. */
    CHECK(pgpool_acquire(NULL, 0, &conn, &e2) == PGPOOL_NULL_PARAMETER);
    CHECK(e2 != NULL);
    pgpool_error_free(e2);
    pgpool_error_free(e2);

    /* A pool freed twice; a freed pool is refused. */
    pgpool_pool_free(other);
    pgpool_pool_free(other);
    EXPECT(PGPOOL_INVALID_PARAMETER, pgpool_acquire(other, 10, &conn, &err));
    EXPECT(PGPOOL_INVALID_PARAMETER, pgpool_pool_stats(other, &st));
    EXPECT(PGPOOL_INVALID_PARAMETER, pgpool_pool_close(other));

    /* The live pool is unharmed. */
    if (EXPECT_OK(pgpool_acquire(pool, -1, &conn, &err))) {
        char *v = t_value(conn, "SELECT 2", 0, NULL);
        CHECK_STR(v, "2");
        free(v);
        pgpool_release(conn);
    }
    /* A connection released after its pool was freed. */
    if (EXPECT_OK(pgpool_acquire(pool, -1, &conn, &err))) {
        pgpool_pool_free(pool);
        CHECK(pgpool_exec(conn, "SELECT 1", 0, NULL, NULL, NULL) == PGPOOL_OK);
        pgpool_release(conn);
    } else {
        pgpool_pool_free(pool);
    }
}
