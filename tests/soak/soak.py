#!/usr/bin/env python3
"""Soak: N ``get_cursor()`` cycles on the default pool, RSS measured before and after.

    scripts/test-env .venv/bin/python tests/soak/soak.py [--cycles 1000000] [--max-growth-mb 10]

Each cycle is ``with pgpool.get_cursor() as cur: cur.execute("SELECT %s, %s", ...)``
plus a fetch (BEGIN .. COMMIT, the connection out and back). Every 64th cycle also uses a
dict-row cursor, a connection() block, an error rolled back, and a getconn/putconn pair,
so the less travelled paths are soaked too. RSS (VmRSS) is taken after a warm-up
(``--warmup`` cycles, default 2 % of the run, at least 2000), then at ten checkpoints and
at the end; the run fails if the growth from the warm-up exceeds ``--max-growth-mb``.
Needs DATABASE_URL (scripts/test-env exports it). ``make soak`` runs 1M cycles.
"""

from __future__ import annotations

import argparse
import gc
import sys
import time

import pgpool


def rss_kb() -> int:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise RuntimeError("no VmRSS in /proc/self/status")


def cycle(i: int) -> None:
    with pgpool.get_cursor() as cur:
        cur.execute("SELECT %s::int, %s", (i, "soak"))
        row = cur.fetchone()
        if row != (i, "soak"):
            raise AssertionError(f"cycle {i}: {row!r}")
    if i % 64 == 0:
        with pgpool.get_cursor(dict_rows=True) as cur:
            cur.execute("SELECT %(i)s::int AS i", {"i": i})
            if cur.fetchone() != {"i": i}:
                raise AssertionError(f"cycle {i}: dict row")
        with pgpool.connection() as conn:
            with conn.cursor() as cur:
                try:
                    cur.execute("SELECT 1/0")
                except pgpool.DataError:
                    conn.rollback()
                cur.execute("SELECT 1")
                cur.fetchall()
        conn = pgpool.get_conn()
        pgpool.put_conn(conn)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--cycles", type=int, default=1_000_000)
    ap.add_argument("--warmup", type=int, default=None)
    ap.add_argument("--max-growth-mb", type=float, default=10.0)
    args = ap.parse_args()
    warmup = args.warmup if args.warmup is not None else max(2000, args.cycles // 50)

    at_start = rss_kb()
    pgpool.configure(min_size=1, max_size=2)
    started = time.monotonic()
    for i in range(warmup):
        cycle(i)
    gc.collect()
    base = rss_kb()
    t0 = time.monotonic()
    checkpoints = []
    step = max(1, args.cycles // 10)
    for i in range(args.cycles):
        cycle(i)
        if (i + 1) % step == 0:
            gc.collect()
            checkpoints.append((i + 1, rss_kb()))
    elapsed = time.monotonic() - t0
    gc.collect()
    end = rss_kb()
    s = pgpool.stats()
    growth_mb = (end - base) / 1024
    print(
        f"soak: {args.cycles} get_cursor() cycles in {elapsed:.1f} s "
        f"({args.cycles / elapsed:,.0f}/s) after {warmup} warm-up cycles; "
        f"RSS {base / 1024:.1f} MB -> {end / 1024:.1f} MB (growth {growth_mb:+.2f} MB, "
        f"limit {args.max_growth_mb} MB)"
    )
    print(
        f"soak: RSS at start {at_start / 1024:.1f} MB; at checkpoints (MB): "
        + " ".join(f"{n // 1000}k:{kb / 1024:.1f}" for n, kb in checkpoints)
    )
    print(
        f"soak: pool requests={s['requests_num']} connections={s['connections_num']} "
        f"lost={s['connections_lost']} in_use={s['in_use']} "
        f"(total {time.monotonic() - started:.1f} s)"
    )
    if s["in_use"] != 0:
        print("soak: FAILED: connections still checked out", file=sys.stderr)
        return 1
    if growth_mb >= args.max_growth_mb:
        print(f"soak: FAILED: RSS grew {growth_mb:.2f} MB", file=sys.stderr)
        return 1
    print("soak: OK")
    return 0


if __name__ == "__main__":
    sys.exit(main())
