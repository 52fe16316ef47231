#!/usr/bin/env python3
"""Operations drill (issue 18): password rotation and drain under load, no failed request.

    scripts/test-env .venv/bin/python bench/ops_drill.py

1. Rotation: 16 threads run 2 ms statements through a pool whose password comes from a
   provider, on the harness's TLS server (its ``scramuser`` logs in with scram-sha-256);
   five times the role's password changes (ALTER ROLE), the provider starts giving the new
   one and the pool is drained. Reports requests, failures, p99/max latency and each
   drain's duration.
2. Drain: the same load on the main server, five drains of 8 connections.

Needs PGPOOL_TEST_TLS_URL and DATABASE_URL (scripts/test-env sets both); puts the role's
password back to the one the tests use.
"""

from __future__ import annotations

import os
import threading
import time
from typing import Callable, List, Tuple

import pgpool
from pgpool.extensions import encrypt_password

SECRET = "scram-secret"


class Load:
    """``threads`` threads running ``SELECT pg_sleep(0.002)`` through ``pool.cursor()``."""

    def __init__(self, pool: pgpool.Pool, threads: int) -> None:
        self.pool = pool
        self.ok = 0
        self.errors: List[BaseException] = []
        self.latencies: List[float] = []
        self.done = threading.Event()
        self.threads = [threading.Thread(target=self._work) for _ in range(threads)]
        for t in self.threads:
            t.start()

    def _work(self) -> None:
        while not self.done.is_set():
            t = time.perf_counter()
            try:
                with self.pool.cursor() as c:
                    c.execute("SELECT pg_sleep(0.002)")
                self.ok += 1
                self.latencies.append(time.perf_counter() - t)
            except Exception as e:  # noqa: BLE001 - counted
                self.errors.append(e)

    def stop(self) -> None:
        self.done.set()
        for t in self.threads:
            t.join()


def drained_under_load(
    p: pgpool.Pool, before: Callable[[int], None], pause: float
) -> Tuple[Load, List[float]]:
    """16 threads of load on ``p``; five times ``before(i)`` then a drain (timed), a
    ``pause`` after each; the load stopped."""
    p.wait(5)
    load = Load(p, 16)
    time.sleep(1)
    drains = []
    for i in range(5):
        before(i)
        t0 = time.monotonic()
        p.drain(timeout=10)
        drains.append(time.monotonic() - t0)
        time.sleep(pause)
    load.stop()
    return load, drains


def main() -> None:
    tls = os.environ["PGPOOL_TEST_TLS_URL"]
    host = tls.split("@", 1)[1].split("/", 1)[0]
    dsn = f"postgresql://scramuser@{host}/postgres?sslmode=disable"
    admin = pgpool.connect(tls + "?sslmode=disable")
    admin.autocommit = True

    def set_password(pw: str) -> None:
        secret = encrypt_password(pw, "scramuser", admin, "scram-sha-256")
        admin.cursor().execute(f"ALTER ROLE scramuser PASSWORD '{secret}'")

    box = {"pw": SECRET}
    try:
        with pgpool.Pool(
            dsn, password=lambda: box["pw"], min_size=4, max_size=8, timeout=10
        ) as p:

            def rotate(i: int) -> None:
                set_password(f"rotated-{i}")
                box["pw"] = f"rotated-{i}"

            load, drains = drained_under_load(p, rotate, 0.5)
            lat = sorted(load.latencies)
            s = p.stats()
            print(
                f"rotation, 16 threads, 5 rotations: {load.ok} requests, "
                f"{len(load.errors)} failed, p99 {lat[int(len(lat) * 0.99)] * 1000:.1f} ms, "
                f"max {lat[-1] * 1000:.1f} ms; drains "
                f"{', '.join(f'{d * 1000:.1f}' for d in drains)} ms; "
                f"{s['recycled_retired']} connections retired, {s['connections_num']} opened"
            )
    finally:
        set_password(SECRET)
        admin.close()

    with pgpool.Pool(
        os.environ["DATABASE_URL"], min_size=8, max_size=8, timeout=10
    ) as p:
        load, drains = drained_under_load(p, lambda i: None, 0.3)
        print(
            f"drain, 16 threads on 8 connections: "
            f"{', '.join(f'{d * 1000:.1f}' for d in drains)} ms; "
            f"{load.ok} requests, {len(load.errors)} failed"
        )


if __name__ == "__main__":
    main()
