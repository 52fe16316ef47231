#!/usr/bin/env python3
"""asyncio throughput: pgpool's ``cursor_async()`` beside psycopg_pool's
``AsyncConnectionPool`` and asyncpg's pool, on the same server, in one run.

    bench/asyncio_bench.py [--tasks 100] [--pool 10] [--seconds 2] [--rounds 5]

Uses ``BENCH_URL`` or ``DATABASE_URL`` (e.g. ``scripts/test-env .venv/bin/python
bench/asyncio_bench.py``). 100 tasks share a pool of 10 connections (min = max, opened
before the clock starts) and each runs, until the round's deadline: checkout,
``SELECT %s`` with an int parameter, fetch the row, return the connection — the way each
library's documentation writes it:

- pgpool:       ``async with pool.cursor_async() as cur: await cur.execute(...);
                await cur.fetchone()``
- psycopg_pool: ``async with pool.connection() as conn: cur = await conn.execute(...);
                await cur.fetchone()``
- asyncpg:      ``async with pool.acquire() as conn: await conn.fetchrow(...)``

Two workloads: ``tx`` (each checkout is a transaction: pgpool's and psycopg's default;
asyncpg inside ``conn.transaction()``) and ``autocommit`` (one statement, no
transaction: pgpool ``autocommit=True``, psycopg ``autocommit=True``, asyncpg's default).
Rounds are interleaved (each round runs every contender once, in rotating order); each
figure is the median ops/s of the rounds. Prints a Markdown table with the ratios
pgpool / psycopg_pool and pgpool / asyncpg.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import time
from typing import Any, Awaitable, Callable, Dict, List, Tuple

import pgpool

Op = Callable[[int], Awaitable[None]]


async def drive(op: Op, tasks: int, seconds: float) -> float:
    """ops/s of `tasks` tasks running `op` until the deadline."""
    deadline = time.perf_counter() + seconds
    counts = [0] * tasks

    async def worker(k: int) -> None:
        i = 0
        while time.perf_counter() < deadline:
            await op(i)
            i += 1
        counts[k] = i

    t0 = time.perf_counter()
    await asyncio.gather(*[worker(k) for k in range(tasks)])
    return sum(counts) / (time.perf_counter() - t0)


async def pgpool_setup(dsn: str, size: int, autocommit: bool) -> Tuple[Op, Any]:
    pool = pgpool.Pool(dsn, min_size=size, max_size=size, timeout=60)
    pool.wait()

    async def op(i: int) -> None:
        async with pool.cursor_async(autocommit=autocommit) as cur:
            await cur.execute("SELECT %s", (i,))
            await cur.fetchone()

    async def close() -> None:
        pool.close()

    return op, close


async def psycopg_setup(dsn: str, size: int, autocommit: bool) -> Tuple[Op, Any]:
    from psycopg_pool import AsyncConnectionPool

    pool = AsyncConnectionPool(
        dsn,
        min_size=size,
        max_size=size,
        open=False,
        kwargs={"autocommit": autocommit},
    )
    await pool.open(wait=True)

    async def op(i: int) -> None:
        async with pool.connection() as conn:
            cur = await conn.execute("SELECT %s", (i,))
            await cur.fetchone()

    return op, pool.close


async def asyncpg_setup(dsn: str, size: int, autocommit: bool) -> Tuple[Op, Any]:
    import asyncpg

    pool = await asyncpg.create_pool(dsn, min_size=size, max_size=size)

    if autocommit:

        async def op(i: int) -> None:
            async with pool.acquire() as conn:
                await conn.fetchrow("SELECT $1::int", i)

    else:

        async def op(i: int) -> None:
            async with pool.acquire() as conn:
                async with conn.transaction():
                    await conn.fetchrow("SELECT $1::int", i)

    return op, pool.close


CONTENDERS: Dict[str, Callable[[str, int, bool], Awaitable[Tuple[Op, Any]]]] = {
    "pgpool": pgpool_setup,
    "psycopg_pool": psycopg_setup,
    "asyncpg": asyncpg_setup,
}


async def bench(
    args: argparse.Namespace, dsn: str
) -> Dict[str, Dict[str, List[float]]]:
    results: Dict[str, Dict[str, List[float]]] = {}
    for workload in args.workloads:
        autocommit = workload == "autocommit"
        pools = {}
        for name in args.contenders:
            pools[name] = await CONTENDERS[name](dsn, args.pool, autocommit)
            await drive(pools[name][0], args.tasks, 0.3)  # warm up
        res: Dict[str, List[float]] = {name: [] for name in args.contenders}
        names = list(args.contenders)
        for r in range(args.rounds):
            order = names[r % len(names) :] + names[: r % len(names)]
            for name in order:
                ops = await drive(pools[name][0], args.tasks, args.seconds)
                res[name].append(ops)
                print(
                    f"{workload} round {r + 1} {name}: {ops:,.0f} ops/s",
                    file=sys.stderr,
                )
        for _, close in pools.values():
            await close()
        results[workload] = res
    return results


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--tasks", type=int, default=100)
    ap.add_argument("--pool", type=int, default=10)
    ap.add_argument("--seconds", type=float, default=2.0)
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--workloads", default="tx,autocommit")
    ap.add_argument("--contenders", default=",".join(CONTENDERS))
    args = ap.parse_args()
    args.workloads = args.workloads.split(",")
    args.contenders = args.contenders.split(",")
    dsn = os.environ.get("BENCH_URL") or os.environ.get("DATABASE_URL")
    if not dsn:
        sys.exit("set BENCH_URL or DATABASE_URL (or run under scripts/test-env)")
    results = asyncio.run(bench(args, dsn))
    print(
        f"\nasyncio SELECT throughput: {args.tasks} tasks, pool of {args.pool}, "
        f"{args.rounds} rounds x {args.seconds:g} s, median ops/s "
        f"(Python {sys.version.split()[0]}, {os.cpu_count()} CPUs)\n"
    )
    head = "| workload | " + " | ".join(args.contenders)
    ratios = [c for c in args.contenders if c != "pgpool"]
    if "pgpool" in args.contenders:
        head += "".join(f" | pgpool / {c}" for c in ratios)
    print(head + " |")
    print(
        "|"
        + "---|"
        * (
            1
            + len(args.contenders)
            + (len(ratios) if "pgpool" in args.contenders else 0)
        )
    )
    for workload, res in results.items():
        med = {n: statistics.median(v) for n, v in res.items()}
        row = f"| {workload} | " + " | ".join(f"{med[n]:,.0f}" for n in args.contenders)
        if "pgpool" in med:
            row += "".join(f" | {med['pgpool'] / med[c]:.2f}x" for c in ratios)
        print(row + " |")


if __name__ == "__main__":
    main()
