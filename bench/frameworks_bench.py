#!/usr/bin/env python3
"""The frameworks on pgpool beside their stock stacks (issue 16 item 6), on one server,
in one run, as ratios.

    bench/frameworks_bench.py [--rounds N] [--seconds S] [--only core,orm,async,django]

Workloads (each a request's database work, repeated by N threads or tasks until a
deadline; rows picked at random among 1,000):

- ``core``: SQLAlchemy Core ``select(items).where(items.c.id == ?)`` + ``first()`` in
  ``engine.connect()``, 1 and 64 threads;
- ``orm``: an ORM request: ``Session(engine)``, ``session.get(Item, id)``, one attribute
  changed, ``commit()``, 1 and 64 threads;
- ``async``: the Core select under ``create_async_engine``, 64 tasks on one event loop;
- ``django``: a Django request: ``Item.objects.get(pk=id)``, ``F()`` update, then
  ``close_old_connections()`` (what Django runs at the end of each request), 1 and 16
  threads.

Contenders: ``postgresql+pgpool`` (sync and ``create_async_engine``), SQLAlchemy's stock
``postgresql+psycopg2`` and ``postgresql+psycopg`` with its ``QueuePool``,
``postgresql+asyncpg`` and ``postgresql+psycopg_async`` (``AsyncAdaptedQueuePool``);
Django's ``pgpool.django`` with ``CONN_MAX_AGE = 0`` (a checkout per request) against the
stock backend on psycopg2 with ``CONN_MAX_AGE = 0`` (a new server connection per request,
Django's default) and ``= 60`` (persistent connections, one server connection per
thread), and ``pgpool.django`` with ``CONN_MAX_AGE = 60`` against the latter. Every pool: 10 connections
(``pool_size=10, max_overflow=0``), opened before the clock starts.

Method: each measurement runs in a child process of its own (settings and imports are
per process, as in a deployment): connect, warm up 0.5 s, then count requests for
``--seconds``. Rounds are interleaved (every contender of a workload once per round, in
an order rotating from round to round); the figure is the median of the rounds, the
ratio pgpool's over the contender's (> 1: pgpool ahead). Needs DATABASE_URL (run through
``make bench`` / scripts/test-env).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from typing import Any, Dict, List, Tuple

ROWS = 1000
POOL = 10

#: workload -> thread/task counts
WORKLOADS: Dict[str, Tuple[int, ...]] = {
    "core": (1, 64),
    "orm": (1, 64),
    "async": (64,),
    "django": (1, 16),
}
#: workload -> contenders, pgpool's first
CONTENDERS: Dict[str, Tuple[str, ...]] = {
    "core": ("pgpool", "psycopg2", "psycopg"),
    "orm": ("pgpool", "psycopg2", "psycopg"),
    "async": ("pgpool_async", "asyncpg", "psycopg_async"),
    "django": (
        "pgpool.django (CONN_MAX_AGE=0)",
        "django+psycopg2 (CONN_MAX_AGE=0)",
        "django+psycopg2 (CONN_MAX_AGE=60)",
        "pgpool.django (CONN_MAX_AGE=60)",
    ),
}
SA_SCHEME = {
    "pgpool": "postgresql+pgpool",
    "psycopg2": "postgresql+psycopg2",
    "psycopg": "postgresql+psycopg",
    "pgpool_async": "postgresql+pgpool",
    "asyncpg": "postgresql+asyncpg",
    "psycopg_async": "postgresql+psycopg_async",
}


def log(msg: str) -> None:
    print(f"frameworks-bench: {msg}", file=sys.stderr, flush=True)


# ----------------------------------------------------------------------------- children


def sa_url(contender: str) -> str:
    url = os.environ["DATABASE_URL"]
    return SA_SCHEME[contender] + "://" + url.split("://", 1)[1]


def run_threads(fn: Any, threads: int, seconds: float) -> int:
    """Runs ``fn(rng)`` on ``threads`` threads for 0.5 s (warm-up) then ``seconds``;
    the number of calls in the measured part."""
    import random
    import threading

    counts = [0] * threads
    state = {"measure": False, "stop": False}
    barrier = threading.Barrier(threads + 1)

    def worker(i: int) -> None:
        rng = random.Random(i)
        barrier.wait()
        n = 0
        while not state["stop"]:
            fn(rng)
            if state["measure"]:
                n += 1
        counts[i] = n

    ts = [threading.Thread(target=worker, args=(i,)) for i in range(threads)]
    for t in ts:
        t.start()
    barrier.wait()
    time.sleep(0.5)
    state["measure"] = True
    time.sleep(seconds)
    state["stop"] = True
    for t in ts:
        t.join()
    return sum(counts)


def child_sqlalchemy(
    contender: str, workload: str, threads: int, seconds: float
) -> int:
    from sqlalchemy import Column, Integer, MetaData, Table, create_engine, select
    from sqlalchemy.orm import DeclarativeBase, Session

    engine = create_engine(sa_url(contender), pool_size=POOL, max_overflow=0)
    # Open the pool's connections before the clock starts.
    conns = [engine.connect() for _ in range(POOL)]
    for c in conns:
        c.close()
    items = Table(
        "bench_items",
        MetaData(),
        Column("id", Integer, primary_key=True),
        Column("n", Integer),
    )

    class Base(DeclarativeBase):
        pass

    class Item(Base):
        __tablename__ = "bench_items"
        id = Column(Integer, primary_key=True)
        n = Column(Integer, nullable=False)

    if workload == "core":

        def op(rng: Any) -> None:
            i = rng.randrange(1, ROWS + 1)
            with engine.connect() as c:
                row = c.execute(select(items).where(items.c.id == i)).first()
                assert row is not None and row.id == i

    else:

        def op(rng: Any) -> None:
            i = rng.randrange(1, ROWS + 1)
            with Session(engine) as s:
                obj = s.get(Item, i)
                assert obj is not None
                obj.n = obj.n + 1
                s.commit()

    n = run_threads(op, threads, seconds)
    engine.dispose()
    return n


def child_async(contender: str, tasks: int, seconds: float) -> int:
    import asyncio
    import random

    from sqlalchemy import Column, Integer, MetaData, Table, select
    from sqlalchemy.ext.asyncio import create_async_engine

    items = Table(
        "bench_items",
        MetaData(),
        Column("id", Integer, primary_key=True),
        Column("n", Integer),
    )

    async def main() -> int:
        engine = create_async_engine(sa_url(contender), pool_size=POOL, max_overflow=0)
        conns = [await engine.connect() for _ in range(POOL)]
        for c in conns:
            await c.close()
        state = {"measure": False, "stop": False}
        counts = [0] * tasks

        async def worker(k: int) -> None:
            rng = random.Random(k)
            while not state["stop"]:
                i = rng.randrange(1, ROWS + 1)
                async with engine.connect() as c:
                    row = (
                        await c.execute(select(items).where(items.c.id == i))
                    ).first()
                    assert row is not None and row.id == i
                if state["measure"]:
                    counts[k] += 1

        ws = [asyncio.ensure_future(worker(k)) for k in range(tasks)]
        await asyncio.sleep(0.5)
        state["measure"] = True
        await asyncio.sleep(seconds)
        state["stop"] = True
        await asyncio.gather(*ws)
        await engine.dispose()
        return sum(counts)

    try:
        import uvloop  # type: ignore[import-not-found]

        uvloop.install()
    except ImportError:
        pass
    return asyncio.run(main())


def child_django(contender: str, threads: int, seconds: float) -> int:
    from urllib.parse import unquote, urlsplit

    if contender.startswith("pgpool.django"):
        import pgpool.django  # noqa: F401  (before Django loads: psycopg 3 is installed)

        engine, options = (
            "pgpool.django",
            {"pool": {"min_size": POOL, "max_size": POOL}},
        )
        max_age = 60 if "60" in contender else 0
    else:
        sys.modules["psycopg"] = None  # type: ignore[assignment]  # the stock backend on psycopg2
        engine, options = "django.db.backends.postgresql", {}
        max_age = 60 if "60" in contender else 0
    u = urlsplit(os.environ["DATABASE_URL"])
    import django
    from django.conf import settings

    settings.configure(
        DATABASES={
            "default": {
                "ENGINE": engine,
                "NAME": unquote(u.path.lstrip("/")),
                "USER": unquote(u.username or ""),
                "PASSWORD": unquote(u.password or ""),
                "HOST": u.hostname,
                "PORT": u.port,
                "CONN_MAX_AGE": max_age,
                "OPTIONS": options,
            }
        },
        INSTALLED_APPS=["django.contrib.contenttypes"],
        USE_TZ=True,
        DEFAULT_AUTO_FIELD="django.db.models.AutoField",
    )
    django.setup()
    from django.db import close_old_connections, models
    from django.db.models import F

    class Item(models.Model):
        n = models.IntegerField()

        class Meta:
            app_label = "contenttypes"
            db_table = "bench_items"
            managed = False

    def op(rng: Any) -> None:
        i = rng.randrange(1, ROWS + 1)
        obj = Item.objects.get(pk=i)
        assert obj.id == i
        Item.objects.filter(pk=i).update(n=F("n") + 1)
        close_old_connections()  # the end of the request

    return run_threads(op, threads, seconds)


def child(contender: str, workload: str, threads: int, seconds: float) -> None:
    t = time.monotonic()
    if workload in ("core", "orm"):
        n = child_sqlalchemy(contender, workload, threads, seconds)
    elif workload == "async":
        n = child_async(contender, threads, seconds)
    else:
        n = child_django(contender, threads, seconds)
    print(json.dumps({"ops": n, "seconds": seconds, "wall": time.monotonic() - t}))


# ----------------------------------------------------------------------------- parent


def setup_table() -> None:
    import psycopg2

    c = psycopg2.connect(os.environ["DATABASE_URL"])
    c.autocommit = True
    cur = c.cursor()
    cur.execute("DROP TABLE IF EXISTS bench_items")
    cur.execute("CREATE TABLE bench_items (id int PRIMARY KEY, n int NOT NULL)")
    cur.execute(
        "INSERT INTO bench_items SELECT g, 0 FROM generate_series(1, %s) g", (ROWS,)
    )
    cur.execute("VACUUM ANALYZE bench_items")
    c.close()


def measure(contender: str, workload: str, threads: int, seconds: float) -> float:
    cmd = [
        sys.executable,
        __file__,
        "--child",
        contender,
        workload,
        str(threads),
        str(seconds),
    ]
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=120 + seconds * 3)
    if p.returncode != 0:
        log(f"{contender} {workload} x{threads} failed:\n{p.stderr[-3000:]}")
        return float("nan")
    r = json.loads(p.stdout.strip().splitlines()[-1])
    return r["ops"] / r["seconds"]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--seconds", type=float, default=2.0)
    ap.add_argument("--only", default=",".join(WORKLOADS))
    ap.add_argument("--json", help="write the figures here")
    ap.add_argument(
        "--child", nargs=4, metavar=("CONTENDER", "WORKLOAD", "N", "SECONDS")
    )
    args = ap.parse_args()
    if args.child:
        c, w, n, s = args.child
        child(c, w, int(n), float(s))
        return 0
    if not os.environ.get("DATABASE_URL"):
        raise SystemExit(
            "DATABASE_URL is not set: run through make bench / scripts/test-env"
        )
    setup_table()
    results: Dict[str, Dict[str, List[float]]] = {}
    for workload in args.only.split(","):
        for threads in WORKLOADS[workload]:
            key = f"{workload} x{threads}"
            results[key] = {c: [] for c in CONTENDERS[workload]}
            order = list(CONTENDERS[workload])
            for r in range(args.rounds):
                for c in order[r % len(order) :] + order[: r % len(order)]:
                    results[key][c].append(measure(c, workload, threads, args.seconds))
                log(
                    f"{key} round {r + 1}: "
                    + ", ".join(f"{c} {v[-1]:,.0f}/s" for c, v in results[key].items())
                )
    if args.json:
        os.makedirs(os.path.dirname(os.path.abspath(args.json)), exist_ok=True)
        with open(args.json, "w") as f:
            json.dump(results, f, indent=1)
    print(report(results, args))
    return 0


def report(results: Dict[str, Dict[str, List[float]]], args: argparse.Namespace) -> str:
    out = [
        f"Requests per second, median of {args.rounds} interleaved rounds of {args.seconds:g} s "
        "(ratio: pgpool's / the contender's; > 1: pgpool ahead)",
        "",
        "| workload | threads | pgpool | contender | contender req/s | ratio |",
        "|---|---|---|---|---|---|",
    ]
    for key, by in results.items():
        workload, threads = key.split(" x")
        names = [n for n in by if not n.startswith("pgpool.django (CONN_MAX_AGE=60")]
        pairs = [(names[0], other) for other in names[1:]]
        if "pgpool.django (CONN_MAX_AGE=60)" in by:
            # persistent connections on both sides: like with like
            pairs.append(
                ("pgpool.django (CONN_MAX_AGE=60)", "django+psycopg2 (CONN_MAX_AGE=60)")
            )
        for mine, other in pairs:
            ours = statistics.median(by[mine])
            theirs = statistics.median(by[other])
            out.append(
                f"| {workload} | {threads} | {mine} {ours:,.0f} | {other} | {theirs:,.0f} | "
                f"**{ours / theirs:.2f}x** |"
            )
    return "\n".join(out)


if __name__ == "__main__":
    sys.exit(main())
