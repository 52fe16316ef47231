/* Hostile input through the C entry points (drill 9 of tests/DRILLS.md), run under AddressSanitizer
 * + UBSan by `make -C tests/c` (target `fuzz`), against $DATABASE_URL:
 *
 *   - a 10 MB parameter and a 10 MB statement round-trip exactly;
 *   - seeded random parameter bytes (invalid UTF-8 included): a valid UTF-8 value comes
 *     back byte for byte, an invalid one is a clear error (PGPOOL_DATABASE 22021 from
 *     the server, or PGPOOL_INVALID_PARAMETER), and the connection stays usable;
 *   - seeded random statement bytes: OK, PGPOOL_DATABASE or PGPOOL_INVALID_PARAMETER,
 *     never a panic or a broken connection;
 *   - parameter counts that do not match the statement, up to 70000 (more than the
 *     protocol's 16-bit count): a clear error, the connection in sync afterwards;
 *   - seeded random conninfo strings and option values: OK or a clear PGPOOL_CONFIG /
 *     PGPOOL_INVALID_PARAMETER with a message, never a panic (min_size 0: no connects).
 *
 * PGPOOL_FUZZ_SEED changes the seed; PGPOOL_FUZZ_ITERS the iterations (default 2000).
 * Prints "C fuzz: N checks, M failures". */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pgpool.h"

static long checks, failures;

#define CHECK(cond, ...)                                                       \
    do {                                                                       \
        checks++;                                                              \
        if (!(cond)) {                                                         \
            failures++;                                                        \
            fprintf(stderr, "    FAIL fuzz.c:%d: %s: ", __LINE__, #cond);      \
            fprintf(stderr, __VA_ARGS__);                                      \
            fputc('\n', stderr);                                               \
        }                                                                      \
    } while (0)

static uint64_t rng_state;
static uint32_t rnd(void) { /* xorshift64* */
    rng_state ^= rng_state >> 12;
    rng_state ^= rng_state << 25;
    rng_state ^= rng_state >> 27;
    return (uint32_t)((rng_state * 2685821657736338717ULL) >> 32);
}

/* 1 when the NUL-terminated s is valid UTF-8 (no overlongs, no surrogates, <= U+10FFFF). */
static int valid_utf8(const unsigned char *s) {
    while (*s) {
        unsigned c = *s, n, cp, i;
        if (c < 0x80) {
            s++;
            continue;
        } else if (c >= 0xC2 && c <= 0xDF) {
            n = 1;
            cp = c & 0x1F;
        } else if (c >= 0xE0 && c <= 0xEF) {
            n = 2;
            cp = c & 0x0F;
        } else if (c >= 0xF0 && c <= 0xF4) {
            n = 3;
            cp = c & 0x07;
        } else {
            return 0;
        }
        for (i = 1; i <= n; i++) {
            if ((s[i] & 0xC0) != 0x80) return 0;
            cp = (cp << 6) | (s[i] & 0x3F);
        }
        if ((n == 2 && cp < 0x800) || (n == 3 && cp < 0x10000) || cp > 0x10FFFF ||
            (cp >= 0xD800 && cp <= 0xDFFF))
            return 0;
        s += n + 1;
    }
    return 1;
}

/* Random bytes 0x01..0xFF (some ASCII, some UTF-8 sequences, some garbage). */
static void random_text(char *buf, size_t max) {
    size_t n = rnd() % max, i = 0;
    int raw = rnd() % 8 == 0; /* one string in 8 has raw random bytes */
    static const char *const pieces[] = {"'", "\\", "$1", "$$", "--", "/*", ";", "%s", "\xc3\xa9",
                                         "\xe2\x82\xac", "\xf0\x9f\x98\x80", "a", " ", "b", "SELECT",
                                         "\n", "E'", ")", "(", ",", "''", "0", "x", "'", "y", "z",
                                         "\xff", "\xc0\xaf", "\xed\xa0\x80", "\xe2\x82", "\x80"};
    while (i < n) {
        const char *p;
        size_t len;
        if (raw && rnd() % 3 == 0) {
            buf[i++] = (char)(1 + rnd() % 255);
            continue;
        }
        /* the last 5 pieces are invalid UTF-8: only in the raw strings */
        p = pieces[rnd() % (sizeof pieces / sizeof pieces[0] - (raw ? 0 : 5))];
        len = strlen(p);
        if (i + len > n) break;
        memcpy(buf + i, p, len);
        i += len;
    }
    buf[i] = '\0';
}

static int conn_usable(pgpool_conn *c) {
    pgpool_result *r = NULL;
    int ok = pgpool_exec(c, "SELECT 'alive'", 0, NULL, &r, NULL) == PGPOOL_OK &&
             pgpool_result_value(r, 0, 0) && strcmp(pgpool_result_value(r, 0, 0), "alive") == 0;
    pgpool_result_free(r);
    return ok;
}

static void fuzz_huge(pgpool_conn *c) {
    size_t n = 10u * 1024 * 1024, i;
    char *big = malloc(n + 1), *sql = malloc(n + 32);
    const char *params[1];
    pgpool_result *r = NULL;
    pgpool_error *err = NULL;
    pgpool_code rc;
    if (!big || !sql) {
        free(big);
        free(sql);
        CHECK(0, "out of memory");
        return;
    }
    for (i = 0; i < n; i++) big[i] = (char)('a' + i % 26);
    big[n] = '\0';
    params[0] = big;
    rc = pgpool_exec(c, "SELECT $1::text, length($1)", 1, params, &r, &err);
    CHECK(rc == PGPOOL_OK, "10 MB parameter: %s %s", pgpool_code_name(rc),
          pgpool_error_message(err));
    if (rc == PGPOOL_OK) {
        const char *v = pgpool_result_value(r, 0, 0);
        CHECK(v && strlen(v) == n && memcmp(v, big, n) == 0, "10 MB parameter round trip");
        CHECK(strcmp(pgpool_result_value(r, 0, 1), "10485760") == 0, "length %s",
              pgpool_result_value(r, 0, 1));
    }
    pgpool_result_free(r);
    pgpool_error_free(err);
    r = NULL;
    err = NULL;

    sprintf(sql, "SELECT length('");
    memcpy(sql + strlen("SELECT length('"), big, n);
    strcpy(sql + strlen("SELECT length('") + n, "')");
    rc = pgpool_exec(c, sql, 0, NULL, &r, &err);
    CHECK(rc == PGPOOL_OK, "10 MB statement: %s %s", pgpool_code_name(rc),
          pgpool_error_message(err));
    if (rc == PGPOOL_OK) CHECK(strcmp(pgpool_result_value(r, 0, 0), "10485760") == 0, "len");
    pgpool_result_free(r);
    pgpool_error_free(err);
    free(big);
    free(sql);
    CHECK(conn_usable(c), "connection after the 10 MB statements");
}

static void fuzz_params(pgpool_conn *c, int iters) {
    char buf[256];
    int i, valid = 0, refused = 0;
    for (i = 0; i < iters; i++) {
        const char *params[2];
        pgpool_result *r = NULL;
        pgpool_error *err = NULL;
        pgpool_code rc;
        random_text(buf, sizeof buf);
        params[0] = buf;
        params[1] = (rnd() % 4 == 0) ? NULL : "x";
        rc = pgpool_exec(c, "SELECT $1::text, $2::text", 2, params, &r, &err);
        if (valid_utf8((const unsigned char *)buf)) {
            CHECK(rc == PGPOOL_OK, "valid UTF-8 parameter refused: %s %s",
                  pgpool_code_name(rc), pgpool_error_message(err));
            if (rc == PGPOOL_OK) {
                const char *v = pgpool_result_value(r, 0, 0);
                CHECK(v && strcmp(v, buf) == 0, "parameter %d does not round-trip", i);
                CHECK((params[1] == NULL) == (pgpool_result_value(r, 0, 1) == NULL), "NULL");
            }
            valid++;
        } else {
            CHECK(rc == PGPOOL_INVALID_PARAMETER ||
                      (rc == PGPOOL_DATABASE &&
                       strcmp(pgpool_error_sqlstate(err), "22021") == 0),
                  "invalid UTF-8 parameter: %s %s %s", pgpool_code_name(rc),
                  pgpool_error_sqlstate(err), pgpool_error_message(err));
            CHECK(rc == PGPOOL_OK || pgpool_error_message(err)[0] != '\0', "no message");
            refused++;
        }
        pgpool_result_free(r);
        pgpool_error_free(err);
        if (i % 100 == 0) CHECK(conn_usable(c), "connection after parameter %d", i);
    }
    CHECK(conn_usable(c), "connection after the parameters");
    printf("  random parameters: %d round-tripped, %d refused with a clear error\n", valid,
           refused);
}

static void fuzz_sql(pgpool_conn *c, int iters) {
    char buf[256], sql[300];
    int i, ok = 0, db = 0, inval = 0;
    for (i = 0; i < iters; i++) {
        pgpool_result *r = NULL;
        pgpool_error *err = NULL;
        pgpool_code rc;
        random_text(buf, sizeof buf);
        /* half bare, half after a harmless prefix that makes it a string or a comment */
        switch (rnd() % 3) {
        case 0: snprintf(sql, sizeof sql, "%s", buf); break;
        case 1: snprintf(sql, sizeof sql, "SELECT 1 -- %s", buf); break;
        default: snprintf(sql, sizeof sql, "SELECT $q$%s$q$", buf); break;
        }
        rc = pgpool_exec(c, sql, 0, NULL, &r, &err);
        CHECK(rc == PGPOOL_OK || rc == PGPOOL_DATABASE || rc == PGPOOL_INVALID_PARAMETER,
              "statement %d: %s %s", i, pgpool_code_name(rc), pgpool_error_message(err));
        if (rc == PGPOOL_INVALID_PARAMETER)
            CHECK(!valid_utf8((const unsigned char *)sql), "valid UTF-8 refused: %s",
                  pgpool_error_message(err));
        ok += rc == PGPOOL_OK;
        db += rc == PGPOOL_DATABASE;
        inval += rc == PGPOOL_INVALID_PARAMETER;
        pgpool_result_free(r);
        pgpool_error_free(err);
        /* a random statement may have opened a transaction: leave none behind */
        pgpool_exec(c, "ROLLBACK", 0, NULL, NULL, NULL);
        if (i % 100 == 0) CHECK(conn_usable(c), "connection after statement %d", i);
    }
    CHECK(conn_usable(c), "connection after the statements");
    printf("  random statements: %d ok, %d server errors, %d refused before sending\n", ok,
           db, inval);
}

static void fuzz_param_counts(pgpool_conn *c) {
    static const size_t counts[] = {0, 1, 3, 1000, 65535, 65536, 70000};
    const char **params = calloc(70000, sizeof *params);
    size_t k, i;
    if (!params) return;
    for (i = 0; i < 70000; i++) params[i] = (i % 2) ? "7" : NULL;
    for (k = 0; k < sizeof counts / sizeof counts[0]; k++) {
        pgpool_result *r = NULL;
        pgpool_error *err = NULL;
        pgpool_code rc = pgpool_exec(c, "SELECT $1::int, $2::int", counts[k],
                                     counts[k] ? params : NULL, &r, &err);
        CHECK(rc == PGPOOL_DATABASE || rc == PGPOOL_INVALID_PARAMETER,
              "%zu parameters for 2 placeholders: %s %s", counts[k], pgpool_code_name(rc),
              pgpool_error_message(err));
        CHECK(rc == PGPOOL_OK || pgpool_error_message(err)[0] != '\0', "no message");
        pgpool_result_free(r);
        pgpool_error_free(err);
        CHECK(conn_usable(c), "connection after %zu parameters", counts[k]);
    }
    free(params);
}

static void fuzz_conninfo(int iters) {
    static const char *const keys[] = {"host", "port", "dbname", "user", "sslmode",
                                       "connect_timeout", "options", "application_name",
                                       "target_session_attrs", "keepalives_idle", "bogus"};
    char buf[200], val[64];
    int i, ok = 0, refused = 0;
    for (i = 0; i < iters; i++) {
        pgpool_options o;
        const pgpool_pool *pool = NULL;
        pgpool_error *err = NULL;
        pgpool_code rc;
        random_text(val, sizeof val);
        switch (rnd() % 4) {
        case 0: snprintf(buf, sizeof buf, "%s", val); break;
        case 1: snprintf(buf, sizeof buf, "%s=%s", keys[rnd() % 11], val); break;
        case 2: snprintf(buf, sizeof buf, "postgresql://%s", val); break;
        default: snprintf(buf, sizeof buf, "host=127.0.0.1 %s='%s'", keys[rnd() % 11], val);
        }
        pgpool_options_init(&o);
        o.min_size = 0; /* never connect: random host names are not looked up */
        if (rnd() % 4 == 0) o.max_size = rnd() % 3;
        if (rnd() % 4 == 0) o.acquire_timeout_ms = rnd();
        rc = pgpool_pool_new(buf, &o, &pool, &err);
        CHECK(rc == PGPOOL_OK || rc == PGPOOL_CONFIG || rc == PGPOOL_INVALID_PARAMETER,
              "conninfo %d: %s %s", i, pgpool_code_name(rc), pgpool_error_message(err));
        CHECK(rc == PGPOOL_OK || pgpool_error_message(err)[0] != '\0', "no message");
        CHECK((rc == PGPOOL_OK) == (pool != NULL), "pool written only on success");
        ok += rc == PGPOOL_OK;
        refused += rc != PGPOOL_OK;
        pgpool_pool_free(pool);
        pgpool_error_free(err);
    }
    printf("  random conninfo: %d accepted, %d refused with a message\n", ok, refused);
}

int main(void) {
    const char *url = getenv("DATABASE_URL");
    const char *seed_s = getenv("PGPOOL_FUZZ_SEED");
    const char *iters_s = getenv("PGPOOL_FUZZ_ITERS");
    int iters = iters_s && atoi(iters_s) > 0 ? atoi(iters_s) : 2000;
    const pgpool_pool *pool = NULL;
    pgpool_conn *c = NULL;
    pgpool_error *err = NULL;
    pgpool_options o;

    rng_state = seed_s ? strtoull(seed_s, NULL, 10) : 20261123ULL;
    if (rng_state == 0) rng_state = 1;
    setvbuf(stdout, NULL, _IOLBF, 0);
    if (!url || !*url) {
        fprintf(stderr, "DATABASE_URL is not set (run through scripts/test-env)\n");
        return 2;
    }
    printf("C fuzz (seed %llu, %d iterations)\n", (unsigned long long)rng_state, iters);
    pgpool_options_init(&o);
    o.min_size = 1;
    o.max_size = 1;
    if (pgpool_pool_new(url, &o, &pool, &err) != PGPOOL_OK ||
        pgpool_acquire(pool, 10000, &c, &err) != PGPOOL_OK) {
        fprintf(stderr, "fuzz: no connection: %s\n", pgpool_error_message(err));
        pgpool_error_free(err);
        pgpool_pool_free(pool);
        return 2;
    }
    fuzz_huge(c);
    fuzz_params(c, iters);
    fuzz_sql(c, iters);
    fuzz_param_counts(c);
    fuzz_conninfo(iters);
    pgpool_release(c);
    pgpool_pool_free(pool);
    printf("C fuzz: %ld checks, %ld failures\n", checks, failures);
    return failures ? 1 : 0;
}
