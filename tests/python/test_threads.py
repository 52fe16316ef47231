"""Threads: the GIL is released around every wait, 16 threads make progress at once
."""

from __future__ import annotations

import threading
import time

import pgpool


def test_sixteen_threads_query_concurrently(dsn):
    with pgpool.Pool(dsn, min_size=16, max_size=16, timeout=30) as pool:
        pool.wait(10)
        barrier = threading.Barrier(16)
        results: dict[int, list] = {}
        errors: list[str] = []

        def work(n: int) -> None:
            try:
                barrier.wait()
                with pool.cursor() as cur:
                    cur.execute("SELECT %s, pg_sleep(0.5)", (n,))
                    results[n] = [cur.fetchone()[0]]
                for i in range(20):
                    with pool.cursor() as cur:
                        cur.execute("SELECT %s::int + %s", (n, i))
                        results[n].append(cur.fetchone()[0])
            except Exception as exc:
                errors.append(f"{n}: {type(exc).__name__}: {exc}")

        threads = [threading.Thread(target=work, args=(n,)) for n in range(16)]
        started = time.monotonic()
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)
        elapsed = time.monotonic() - started
        assert errors == []
        assert sorted(results) == list(range(16))
        for n, values in results.items():
            assert values == [n] + [n + i for i in range(20)]
        # 16 sleeps of 0.5 s in parallel, not one after the other (8 s)
        assert elapsed < 4, elapsed


def test_gil_released_while_waiting_for_server(dsn):
    with pgpool.Pool(dsn, min_size=1, max_size=1) as pool:
        ticks = [0]
        stop = threading.Event()

        def spin():
            while not stop.is_set():
                ticks[0] += 1
                time.sleep(0.001)

        t = threading.Thread(target=spin)
        t.start()
        try:
            with pool.cursor() as cur:
                before = ticks[0]
                cur.execute("SELECT pg_sleep(0.5)")
                during = ticks[0] - before
        finally:
            stop.set()
            t.join()
        assert during > 50, during


def test_gil_released_while_waiting_for_pool(dsn):
    with pgpool.Pool(dsn, min_size=1, max_size=1, timeout=2) as pool:
        held = pool.getconn()
        ticks = [0]
        stop = threading.Event()

        def spin():
            while not stop.is_set():
                ticks[0] += 1
                time.sleep(0.001)

        t = threading.Thread(target=spin)
        t.start()
        try:
            before = ticks[0]
            try:
                pool.getconn(timeout=0.5)
            except pgpool.PoolTimeout:
                pass
            during = ticks[0] - before
        finally:
            stop.set()
            t.join()
            pool.putconn(held)
        assert during > 50, during


def test_threads_share_one_connection_sequentially(conn):
    """threadsafety = 2: threads may share a connection (one statement at a time)."""
    assert pgpool.threadsafety == 2
    errors = []
    lock = threading.Lock()

    def work(n):
        try:
            for i in range(10):
                with lock:
                    with conn.cursor() as cur:
                        cur.execute("SELECT %s", (n * 10 + i,))
                        assert cur.fetchone() == (n * 10 + i,)
        except Exception as exc:
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(n,)) for n in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    conn.rollback()
    assert errors == []
