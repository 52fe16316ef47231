"""The workloads (a-f): what each round runs and measures."""

from __future__ import annotations

import datetime as dt
import decimal
import statistics
import threading
import time
from typing import Any, Dict, List, Optional

# ---------------------------------------------------------------------------------------
# Workloads. Each run_* takes a contender instance and returns a dict of figures.

FETCH_SQL = (
    "SELECT g AS id, 'name-' || g AS name, g * 1.5::float8 AS score, "
    "now() + g * interval '1 second' AS ts, (g %% 2 = 0) AS flag, g::numeric / 7 AS amount "
    "FROM generate_series(1, %s::int8) g"
)
FETCH_TYPES = (int, str, float, dt.datetime, bool, decimal.Decimal)
INSERT_SQL = "INSERT INTO bench_ins VALUES (%s, %s, %s)"


def pct(sorted_xs: List[float], q: float) -> float:
    return sorted_xs[min(len(sorted_xs) - 1, int(len(sorted_xs) * q))]


def co_corrected(lat: List[List[float]], expected: float) -> List[float]:
    """The latencies with coordinated omission corrected (HdrHistogram's
    ``recordValueWithExpectedInterval``): a closed-loop thread that waited L for one
    block did not issue the blocks it would have issued meanwhile, one every `expected`
    seconds; each of those would have waited L - expected, L - 2 * expected, ... Without
    this, a thread starved for a whole round records one sample, and a pool that starves
    a few threads shows a short p99. `expected` is the contender's own median latency,
    so only latencies beyond twice its median add samples."""
    out: List[float] = []
    if expected <= 0:
        return sorted(x for ls in lat for x in ls)
    for ls in lat:
        for x in ls:
            out.append(x)
            y = x - expected
            while y >= expected:
                out.append(y)
                y -= expected
    out.sort()
    return out


def run_select(
    c: Any, n: int, threads: int = 1, seconds: Optional[float] = None
) -> Dict[str, Any]:
    """n blocks on one thread; or, with `seconds`, `threads` threads each running blocks
    until the deadline (all of them competing the whole time: with a fixed number of
    blocks per thread, the lucky threads finish early and the contention fades)."""
    cursor = c.cursor
    with cursor() as cur:  # correctness check, outside the clock
        cur.execute("SELECT %s", (42,))
        assert cur.fetchone()[0] == 42, c.name
    lat: List[List[float]] = [[] for _ in range(threads)]
    pc = time.perf_counter

    if seconds is None:
        mine = lat[0]
        append = mine.append
        t_start = pc()
        for k in range(n):
            t0 = pc()
            with cursor() as cur:
                cur.execute("SELECT %s", (k,))
                cur.fetchone()
            append(pc() - t0)
        wall = pc() - t_start
    else:
        barrier = threading.Barrier(threads + 1)
        deadline = [0.0]

        def worker(i: int) -> None:
            append = lat[i].append
            barrier.wait()
            end = deadline[0]
            k = 0
            while True:
                t0 = pc()
                if t0 >= end:
                    break
                with cursor() as cur:
                    cur.execute("SELECT %s", (k,))
                    cur.fetchone()
                append(pc() - t0)
                k += 1

        ts = [threading.Thread(target=worker, args=(i,)) for i in range(threads)]
        for t in ts:
            t.start()
        t_start = pc()
        deadline[0] = t_start + seconds
        barrier.wait()
        for t in ts:
            t.join()
        wall = pc() - t_start
    xs = sorted(x for ls in lat for x in ls)
    per_thread = sorted(len(ls) for ls in lat)
    co = co_corrected(lat, pct(xs, 0.50)) if threads > 1 else xs
    return {
        "ops": len(xs),
        "wall_s": round(wall, 4),
        "ops_per_s": round(len(xs) / wall, 1),
        "us_per_op": round(wall / len(xs) * 1e6, 2),
        "p50_us": round(pct(xs, 0.50) * 1e6, 1),
        "p99_us": round(pct(xs, 0.99) * 1e6, 1),
        "p999_us": round(pct(xs, 0.999) * 1e6, 1),
        "p99co_us": round(pct(co, 0.99) * 1e6, 1),
        "max_us": round(xs[-1] * 1e6, 1),
        "thread_ops_min": per_thread[0],
        "thread_ops_max": per_thread[-1],
    }


def run_fetch(c: Any, rows: int, reps: int) -> Dict[str, Any]:
    times = []
    for _ in range(reps):
        t0 = time.perf_counter()
        with c.cursor() as cur:
            cur.execute(FETCH_SQL, (rows,))
            res = cur.fetchall()
        times.append(time.perf_counter() - t0)
        assert len(res) == rows, (c.name, len(res))
        got = tuple(type(v) for v in res[0])
        assert all(isinstance(v, t) for v, t in zip(res[0], FETCH_TYPES)), (c.name, got)
        assert res[0][3].tzinfo is not None, c.name
        del res
    wall = statistics.median(times)
    return {
        "rows": rows,
        "reps": reps,
        "ms": round(wall * 1e3, 2),
        "rows_per_s": round(rows / wall),
    }


def run_insert(c: Any, rows: int, reps: int) -> Dict[str, Any]:
    data = [(i, "name-%d" % i, i * 0.5) for i in range(rows)]
    times = []
    for _ in range(reps):
        with c.cursor() as cur:
            cur.execute("TRUNCATE bench_ins")
        t0 = time.perf_counter()
        with c.cursor() as cur:
            cur.executemany(INSERT_SQL, data)
        times.append(time.perf_counter() - t0)
        with c.cursor() as cur:
            cur.execute("SELECT count(*), sum(id) FROM bench_ins")
            cnt, total = cur.fetchone()
        assert cnt == rows and total == rows * (rows - 1) // 2, (c.name, cnt, total)
    wall = statistics.median(times)
    return {
        "rows": rows,
        "reps": reps,
        "ms": round(wall * 1e3, 2),
        "rows_per_s": round(rows / wall),
    }


def run_checkout(c: Any, n: int, variant: str = "getconn") -> Dict[str, Any]:
    """Checkout + return with no statement, n times, in a tight loop."""
    if variant == "getconn":
        # The tightest loop Python allows: put(get()), the bound methods looked up once.
        get, put = c.checkout_fns()
        for _ in range(min(n, 1000)):
            put(get())
        t0 = time.perf_counter()
        for _ in range(n):
            put(get())
        wall = time.perf_counter() - t0
        return {"ops": n, "variant": variant, "us_per_op": round(wall / n * 1e6, 3)}
    if variant == "cursor":  # with pool.cursor() / get_cursor(): pass (BEGIN deferred)
        cursor = c.cursor

        def op() -> None:
            with cursor():
                pass
    elif variant == "connection":
        conn_cm = c.pool.connection

        def op() -> None:
            with conn_cm():
                pass
    else:
        raise ValueError(variant)
    for _ in range(min(n, 1000)):
        op()
    t0 = time.perf_counter()
    for _ in range(n):
        op()
    wall = time.perf_counter() - t0
    return {"ops": n, "variant": variant, "us_per_op": round(wall / n * 1e6, 3)}
