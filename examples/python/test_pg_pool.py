#!/usr/bin/env python3
"""Drop-in smoke test: seed 000's ``tools/test_pg_pool.py``, run on pgpool.

Configured only as that service is, from the environment:

    POSTGRES_HOST, POSTGRES_PORT, POSTGRES_DATABASE (or POSTGRES_DB), POSTGRES_USER,
    POSTGRES_PASSWORD, PG_POOL_MIN, PG_POOL_MAX

Point POSTGRES_PORT at PgBouncer (6432) to test the route through it. Prints the pool
statistics and ``OK: Pool operational.``, or a clear error on stderr and exits 1.

    python examples/python/test_pg_pool.py
"""

from __future__ import annotations

import os
import sys
import threading

# The seed service reads POSTGRES_* only: a DATABASE_URL left in the environment would
# take precedence over them in pgpool, so it is ignored here.
if os.environ.pop("DATABASE_URL", None):
    print("note: DATABASE_URL ignored; this test is configured by POSTGRES_*")


def describe_target() -> str:
    env = os.environ
    host = env.get("POSTGRES_HOST") or env.get("PGHOST") or "(default)"
    port = env.get("POSTGRES_PORT") or env.get("PGPORT") or "(default)"
    db = env.get("POSTGRES_DATABASE") or env.get("POSTGRES_DB") or env.get("PGDATABASE")
    user = env.get("POSTGRES_USER") or env.get("PGUSER") or "(default)"
    pool = f"PG_POOL_MIN={env.get('PG_POOL_MIN', '(default)')} " + (
        f"PG_POOL_MAX={env.get('PG_POOL_MAX', '(default)')}"
    )
    return f"{user}@{host}:{port}/{db or '(default)'}  {pool}"


def main() -> int:
    try:
        import pgpool
        from pgpool import PostgresPool, get_cursor
    except ImportError as exc:
        print(f"FAIL: cannot import pgpool: {exc}", file=sys.stderr)
        print("      build it first: maturin develop --release", file=sys.stderr)
        return 1

    print(f"Target: {describe_target()}")
    try:
        # 1. seed 000's explicit API: get_conn / put_conn
        pool = PostgresPool.instance()
        conn = pool.get_conn()
        try:
            with conn.cursor() as cur:
                cur.execute("SELECT version()")
                (version,) = cur.fetchone()
            conn.commit()
        finally:
            pool.put_conn(conn)
        print(f"Server: {version.split(',')[0]}")

        # 2. the get_cursor() helper, as the services use it
        with get_cursor() as cur:
            cur.execute("SELECT 1")
            row = cur.fetchone()
        if row != (1,):
            raise AssertionError(f"SELECT 1 returned {row!r}")
        print(f"SELECT 1 -> {row}")

        # 3. a transaction with parameters (a temp table lives inside it, which also
        #    holds through PgBouncer in transaction mode)
        with get_cursor() as cur:
            cur.execute(
                "CREATE TEMP TABLE pgpool_smoke (id int, note text) ON COMMIT DROP"
            )
            cur.executemany(
                "INSERT INTO pgpool_smoke VALUES (%s, %s)",
                [(1, "one"), (2, "it's two"), (3, None)],
            )
            cur.execute(
                "SELECT count(*), max(note) FROM pgpool_smoke WHERE id IN %s",
                ((1, 2, 3),),
            )
            count, max_note = cur.fetchone()
        if (count, max_note) != (3, "one"):
            raise AssertionError(f"transaction check returned {(count, max_note)!r}")
        print(f"Transaction with parameters -> {count} rows")

        # 4. a rollback leaves nothing behind
        try:
            with get_cursor() as cur:
                cur.execute("SELECT 1/0")
        except pgpool.DataError as exc:
            print(f"Error mapping -> {type(exc).__name__} (SQLSTATE {exc.pgcode})")
        else:
            raise AssertionError("SELECT 1/0 did not raise")

        # 5. a few threads at once
        errors: list = []

        def worker(n: int) -> None:
            try:
                with get_cursor() as cur:
                    cur.execute("SELECT %s::int * 2", (n,))
                    if cur.fetchone() != (n * 2,):
                        errors.append(f"thread {n}: wrong result")
            except Exception as exc:  # reported below
                errors.append(f"thread {n}: {type(exc).__name__}: {exc}")

        threads = [threading.Thread(target=worker, args=(n,)) for n in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        if errors:
            raise AssertionError("; ".join(errors))
        print(f"Concurrent queries -> {len(threads)} threads OK")

        stats = pgpool.stats()
    except pgpool.Error as exc:
        print(f"FAIL: {type(exc).__name__}: {exc}".rstrip(), file=sys.stderr)
        return 1
    except Exception as exc:
        print(f"FAIL: {type(exc).__name__}: {exc}".rstrip(), file=sys.stderr)
        return 1

    print("Pool stats:")
    for key in (
        "pool_min",
        "pool_max",
        "pool_size",
        "pool_available",
        "in_use",
        "requests_waiting",
        "requests_num",
        "requests_queued",
        "requests_timeouts",
        "max_wait_ms",
        "connections_num",
        "connections_errors",
        "postgres_utilization",
        "postgres_waiting",
    ):
        print(f"  {key}: {stats.get(key)}")
    pgpool.close_pool()
    print("OK: Pool operational.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
