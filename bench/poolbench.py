#!/usr/bin/env python3
"""pgpool's benchmark (issue 5): pgpool beside psycopg2 ``ThreadedConnectionPool``,
psycopg_pool ``ConnectionPool`` and SQLAlchemy ``QueuePool`` (psycopg2 driver), on the
same server, in one run.

    bench/poolbench.py [--quick] [--rounds N] [--workloads a,b,...] [--contenders ...]

Run it through ``make bench`` / ``make bench-quick`` (a throwaway PostgreSQL from
scripts/test-env), or with ``DATABASE_URL`` (or ``BENCH_URL``) pointing at a server.

Honesty rules (kept from ../shared/bench/poolbench.py):
- every contender runs against the same server in the same run;
- rounds are interleaved: for each workload every contender's pool is opened and warmed
  up, then each round runs every contender once, in an order that rotates from round to
  round; rounds are short and many (5 quick, 7 full), so that the machine's slow spells
  hit every contender alike; the targets table also gives the range of the per-round
  ratios (each pair measured side by side), and the run notes how much CPU other work
  took meanwhile;
- each figure is the median of the rounds (at least 3);
- every pool gets the same configuration: min = max = the pool size, opened before the
  clock starts (psycopg2 closes connections above minconn on putconn, so minconn = maxconn
  is its best setting); no pre-ping on the peers (their default), pgpool's own default;
- the same CPU placement for everyone (--pin, see AUTO_PLACEMENT): on this kind of VM a
  round trip between vCPUs costs 80-220 us at random, so latency-bound workloads run with
  client and server on one CPU;
- each contender is driven the way its documentation tells users to: psycopg2 with the
  retry-on-exhaustion loop real code needs (``getconn`` raises PoolError at once),
  psycopg_pool with ``with pool.connection() as conn, conn.cursor() as cur``, SQLAlchemy
  with ``engine.raw_connection()`` (as seed 002's services use QueuePool), pgpool with
  ``get_cursor()`` (module level) and ``Pool.cursor()``.

Workloads (the targets of issue 5):
  a  get_cursor() + SELECT %s + fetchone() + commit, 1 thread          ops/s
  b  the same in autocommit (pgpool: get_cursor(autocommit=True))      ops/s
  c  the same with 64 threads on 10 connections, all running until a deadline
                                                    ops/s, p50/p99/p99.9/max, fairness
  d  fetchall() of 100k rows x (int8, text, float8, timestamptz, bool, numeric)  rows/s
  e  executemany() of a 10k-row INSERT into an unlogged table          rows/s
  f  checkout + return with no statement                               us/op
  g  memory: RSS growth over N get_cursor() cycles; RSS per connection (subprocesses)
  C  bench/c/cbench: pgpool_exec vs libpq PQexecParams of SELECT $1    us/op

Output: progress on stderr; a Markdown report (machine, tables, targets) on stdout; the
raw rounds and the summary in bench/results/latest.json (and a copy named by date).
"""

from __future__ import annotations

import argparse
import datetime as dt
import decimal
import gc
import json
import operator
import os
import platform
import shutil
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional, Tuple

ROOT = Path(__file__).resolve().parent.parent
BENCH = ROOT / "bench"
RESULTS = BENCH / "results"
CBENCH = BENCH / "c" / "cbench"

URL = os.environ.get("BENCH_URL") or os.environ.get("DATABASE_URL") or ""

PEERS = ["psycopg2", "psycopg_pool", "sqlalchemy"]
PEER_LABEL = {
    "psycopg2": "psycopg2",
    "psycopg_pool": "psycopg_pool",
    "sqlalchemy": "SQLAlchemy",
}


def log(*args: Any) -> None:
    print(*args, file=sys.stderr, flush=True)


# ---------------------------------------------------------------------------------------
# pgpool: installed in the venv (make build-python), else the in-tree build (python/).

PGPOOL_NOTE: Optional[str] = None
PGPOOL_FROM_TREE = False


def import_pgpool() -> Any:
    """pgpool, or None (PGPOOL_NOTE says why)."""
    global PGPOOL_NOTE, PGPOOL_FROM_TREE
    try:
        import pgpool  # noqa: F401

        return pgpool
    except ImportError as e:
        first = e
    tree = ROOT / "python"
    if list((tree / "pgpool").glob("_pgpool*.so")):
        sys.path.insert(0, str(tree))
        try:
            import pgpool  # noqa: F811

            PGPOOL_FROM_TREE = True
            PGPOOL_NOTE = "pgpool imported from python/ (not installed in the venv: run make build-python)"
            return pgpool
        except ImportError as e:
            sys.path.remove(str(tree))
            PGPOOL_NOTE = f"pgpool not importable: {e}"
            return None
    PGPOOL_NOTE = f"pgpool not importable: {first}"
    return None


# ---------------------------------------------------------------------------------------
# Contenders. Each: cursor() -> a context manager yielding a cursor (commit on success,
# rollback on error, connection returned); checkout_fns() -> (get, put), one checkout and
# its return with no statement; raw_conn(); close().


class Psycopg2:
    name = "psycopg2"

    def __init__(self, size: int, autocommit: bool = False, min_size: Optional[int] = None):
        import psycopg2.pool

        self.PoolError = psycopg2.pool.PoolError
        self.pool = psycopg2.pool.ThreadedConnectionPool(min_size or size, size, URL)
        if autocommit:
            conns = [self.pool.getconn() for _ in range(min_size or size)]
            for c in conns:
                c.autocommit = True
            for c in conns:
                self.pool.putconn(c)

    def getconn(self) -> Any:
        # ThreadedConnectionPool raises PoolError at once when exhausted: real code retries.
        while True:
            try:
                return self.pool.getconn()
            except self.PoolError:
                time.sleep(0.0005)

    def cursor(self) -> "_Psycopg2Cursor":
        return _Psycopg2Cursor(self)

    def checkout_fns(self) -> Tuple[Callable[[], Any], Callable[[Any], Any]]:
        return self.pool.getconn, self.pool.putconn

    def raw_conn(self) -> Any:
        return self.getconn()

    def close(self) -> None:
        self.pool.closeall()


class _Psycopg2Cursor:
    """The get_cursor() context manager seed 000 writes around ThreadedConnectionPool."""

    __slots__ = ("p", "conn", "cur")

    def __init__(self, p: Psycopg2):
        self.p = p

    def __enter__(self) -> Any:
        self.conn = self.p.getconn()
        self.cur = self.conn.cursor()
        return self.cur

    def __exit__(self, et: Any, ev: Any, tb: Any) -> bool:
        try:
            self.cur.close()
            if et is None:
                self.conn.commit()
            else:
                self.conn.rollback()
        finally:
            self.p.pool.putconn(self.conn)
        return False


class PsycopgPool:
    name = "psycopg_pool"

    def __init__(self, size: int, autocommit: bool = False, min_size: Optional[int] = None):
        from psycopg_pool import ConnectionPool

        self.pool = ConnectionPool(
            URL,
            min_size=min_size or size,
            max_size=size,
            timeout=60,
            kwargs={"autocommit": autocommit},
            open=True,
        )
        self.pool.wait(timeout=60)

    def cursor(self) -> "_PsycopgPoolCursor":
        return _PsycopgPoolCursor(self.pool)

    def checkout_fns(self) -> Tuple[Callable[[], Any], Callable[[Any], Any]]:
        return self.pool.getconn, self.pool.putconn

    def raw_conn(self) -> Any:
        return self.pool.getconn()

    def close(self) -> None:
        self.pool.close()


class _PsycopgPoolCursor:
    """``with pool.connection() as conn, conn.cursor() as cur:`` (psycopg_pool's idiom)."""

    __slots__ = ("pool", "cm", "cur")

    def __init__(self, pool: Any):
        self.pool = pool

    def __enter__(self) -> Any:
        self.cm = self.pool.connection()
        conn = self.cm.__enter__()
        self.cur = conn.cursor()
        return self.cur

    def __exit__(self, et: Any, ev: Any, tb: Any) -> Any:
        try:
            self.cur.close()
        finally:
            return self.cm.__exit__(et, ev, tb)


class SQLAlchemy:
    name = "sqlalchemy"

    def __init__(self, size: int, autocommit: bool = False, min_size: Optional[int] = None):
        import sqlalchemy

        url = URL.replace("postgresql://", "postgresql+psycopg2://", 1).replace(
            "postgres://", "postgresql+psycopg2://", 1
        )
        kw: Dict[str, Any] = {}
        if autocommit:
            kw["isolation_level"] = "AUTOCOMMIT"
        # QueuePool (create_engine's default), pre_ping off (its default; seed 002 turns
        # it on, which would cost SQLAlchemy a round trip per checkout).
        self.engine = sqlalchemy.create_engine(
            url, pool_size=size, max_overflow=0, pool_timeout=60, **kw
        )
        # Open the pool's connections before the clock starts, as the others do.
        conns = [self.engine.raw_connection() for _ in range(min_size or size)]
        for c in conns:
            c.close()

    def cursor(self) -> "_SQLAlchemyCursor":
        return _SQLAlchemyCursor(self.engine)

    def checkout_fns(self) -> Tuple[Callable[[], Any], Callable[[Any], Any]]:
        return self.engine.raw_connection, operator.methodcaller("close")

    def raw_conn(self) -> Any:
        return self.engine.raw_connection()

    def close(self) -> None:
        self.engine.dispose()


class _SQLAlchemyCursor:
    __slots__ = ("engine", "conn", "cur")

    def __init__(self, engine: Any):
        self.engine = engine

    def __enter__(self) -> Any:
        self.conn = self.engine.raw_connection()
        self.cur = self.conn.cursor()
        return self.cur

    def __exit__(self, et: Any, ev: Any, tb: Any) -> bool:
        try:
            self.cur.close()
            if et is None:
                self.conn.commit()
            else:
                self.conn.rollback()
        finally:
            self.conn.close()  # back to the QueuePool (reset: rollback, a no-op here)
        return False


class PgPool:
    """pgpool through the module-level get_cursor() (the default pool, configure())."""

    name = "pgpool"
    module_level = True

    def __init__(self, size: int, autocommit: bool = False, min_size: Optional[int] = None):
        import pgpool

        self.pgpool = pgpool
        kw = dict(min_size=min_size or size, max_size=size, timeout=60)
        if self.module_level:
            self.pool = pgpool.configure(URL, **kw)
            gc_ = pgpool.get_cursor
        else:
            self.pool = pgpool.Pool(URL, **kw)
            gc_ = self.pool.cursor
        self.pool.wait(60)
        if autocommit:
            self.cursor: Callable[[], Any] = lambda: gc_(autocommit=True)
        else:
            self.cursor = gc_

    def checkout_fns(self) -> Tuple[Callable[[], Any], Callable[[Any], Any]]:
        return self.pool.getconn, self.pool.putconn

    def raw_conn(self) -> Any:
        return self.pool.getconn()

    def close(self) -> None:
        if self.module_level:
            self.pgpool.close_pool()
        else:
            self.pool.close()


class PgPoolPool(PgPool):
    """pgpool through an explicit pgpool.Pool(...) and ``with pool.cursor() as cur``."""

    name = "pgpool.Pool"
    module_level = False


CONTENDERS: Dict[str, type] = {
    "pgpool": PgPool,
    "pgpool.Pool": PgPoolPool,
    "psycopg2": Psycopg2,
    "psycopg_pool": PsycopgPool,
    "sqlalchemy": SQLAlchemy,
}


def importable(name: str) -> Optional[str]:
    """None when the contender can run, else why not."""
    mods = {
        "pgpool": ["pgpool"],
        "pgpool.Pool": ["pgpool"],
        "psycopg2": ["psycopg2"],
        "psycopg_pool": ["psycopg", "psycopg_pool"],
        "sqlalchemy": ["sqlalchemy", "psycopg2"],
    }[name]
    for m in mods:
        if m == "pgpool":
            if import_pgpool() is None:
                return PGPOOL_NOTE
            continue
        try:
            __import__(m)
        except ImportError as e:
            return f"{m} not importable: {e} (make bench installs it into .venv)"
    return None


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


def run_select(c: Any, n: int, threads: int = 1, seconds: Optional[float] = None) -> Dict[str, Any]:
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
    return {"rows": rows, "reps": reps, "ms": round(wall * 1e3, 2), "rows_per_s": round(rows / wall)}


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
    return {"rows": rows, "reps": reps, "ms": round(wall * 1e3, 2), "rows_per_s": round(rows / wall)}


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


# ---------------------------------------------------------------------------------------
# Memory (each measurement in a fresh interpreter, so contenders do not share a heap).


def rss_bytes() -> int:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def child_mem(name: str, cycles: int) -> Dict[str, Any]:
    """RSS growth over `cycles` get_cursor() blocks (SELECT %s + fetchone + commit)."""
    c = CONTENDERS[name](1)
    cursor = c.cursor
    warm = min(max(cycles // 10, 1000), 20000)

    def block(k: int) -> None:
        with cursor() as cur:
            cur.execute("SELECT %s", (k,))
            cur.fetchone()

    for k in range(warm):
        block(k)
    gc.collect()
    base = rss_bytes()
    samples = []
    step = max(cycles // 10, 1)
    t0 = time.perf_counter()
    for k in range(cycles):
        block(k)
        if (k + 1) % step == 0:
            samples.append(rss_bytes() - base)
    wall = time.perf_counter() - t0
    gc.collect()
    end = rss_bytes()
    c.close()
    return {
        "cycles": cycles,
        "warmup": warm,
        "rss_base_mb": round(base / 2**20, 2),
        "growth_mb": round((end - base) / 2**20, 3),
        "max_growth_mb": round(max(samples + [end - base]) / 2**20, 3),
        "samples_mb": [round(s / 2**20, 3) for s in samples],
        "wall_s": round(wall, 2),
    }


def child_perconn(name: str, conns: int) -> Dict[str, Any]:
    """Client RSS per open connection: 1 connection, then 1 + `conns`, all used once."""
    c = CONTENDERS[name](conns + 1, min_size=1)

    def use(conn: Any) -> None:
        cur = conn.cursor()
        cur.execute("SELECT 1")
        cur.fetchone()
        cur.close()
        conn.rollback()

    first = c.raw_conn()
    use(first)
    held = [first]
    gc.collect()
    base = rss_bytes()
    for _ in range(conns):
        conn = c.raw_conn()
        use(conn)
        held.append(conn)
    gc.collect()
    end = rss_bytes()
    n_open = len(set(id(x) for x in held))
    return {
        "conns": conns,
        "distinct": n_open,
        "rss_base_mb": round(base / 2**20, 2),
        "kb_per_conn": round((end - base) / conns / 1024, 1),
    }


def in_child(mode: str, name: str, n: int) -> Dict[str, Any]:
    env = dict(os.environ)
    if PGPOOL_FROM_TREE:
        env["PYTHONPATH"] = os.pathsep.join(
            [str(ROOT / "python")] + ([env["PYTHONPATH"]] if env.get("PYTHONPATH") else [])
        )
    env["BENCH_URL"] = URL
    p = subprocess.run(
        [sys.executable, __file__, mode, name, str(n)],
        env=env,
        capture_output=True,
        text=True,
    )
    if p.returncode != 0:
        raise RuntimeError(f"{mode} {name} failed:\n{p.stderr[-2000:]}")
    return json.loads(p.stdout.strip().splitlines()[-1])


# ---------------------------------------------------------------------------------------
# The C baseline.


def run_cbench(n: int, rounds: int) -> Dict[str, Any]:
    if not os.access(CBENCH, os.X_OK):
        return {"skipped": f"{CBENCH.relative_to(ROOT)} not built (make -C bench/c)"}
    p = subprocess.run(
        [str(CBENCH), "-n", str(n), "-r", str(rounds), URL], capture_output=True, text=True
    )
    if p.returncode != 0:
        return {"skipped": f"cbench failed: {p.stderr.strip()[-500:]}"}
    out = {}
    for line in p.stdout.splitlines():
        d = json.loads(line)
        out[d["mode"]] = d
    return out


# ---------------------------------------------------------------------------------------
# Machine and versions.


def machine(conn_versions: Dict[str, str]) -> Dict[str, Any]:
    cpu = "?"
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem = "?"
    try:
        for line in open("/proc/meminfo"):
            if line.startswith("MemTotal"):
                mem = "%.1f GiB" % (int(line.split()[1]) / 2**20)
                break
    except OSError:
        pass
    try:
        rev = subprocess.run(
            ["git", "-C", str(ROOT), "describe", "--always", "--dirty"],
            capture_output=True, text=True,
        ).stdout.strip()
    except OSError:
        rev = "?"
    return {
        "nproc": os.cpu_count(),
        "cpu": cpu,
        "memory": mem,
        "kernel": platform.release(),
        "os": _os_name(),
        "python": platform.python_version(),
        "git": rev,
        **conn_versions,
    }


def _os_name() -> str:
    try:
        for line in open("/etc/os-release"):
            if line.startswith("PRETTY_NAME="):
                return line.split("=", 1)[1].strip().strip('"')
    except OSError:
        pass
    return platform.system()


def versions() -> Dict[str, str]:
    v: Dict[str, str] = {}
    import psycopg2

    with psycopg2.connect(URL) as conn, conn.cursor() as cur:
        cur.execute("SHOW server_version")
        v["postgresql"] = cur.fetchone()[0]
        cur.execute("SHOW max_connections")
        v["pg_max_connections"] = cur.fetchone()[0]
    conn.close()
    v["psycopg2"] = psycopg2.__version__.split()[0]
    for mod, key in (("psycopg", "psycopg"), ("psycopg_pool", "psycopg_pool"), ("sqlalchemy", "sqlalchemy")):
        try:
            m = __import__(mod)
            v[key] = getattr(m, "__version__", "?")
        except ImportError:
            v[key] = "missing"
    try:
        import psycopg

        v["psycopg_impl"] = psycopg.pq.__impl__ + " libpq " + str(psycopg.pq.version())
    except Exception:
        pass
    pg = import_pgpool()
    v["pgpool"] = getattr(pg, "__version__", "?") if pg else "not importable"
    return v


def setup_server() -> None:
    import psycopg2

    conn = psycopg2.connect(URL)
    conn.autocommit = True
    with conn.cursor() as cur:
        cur.execute("DROP TABLE IF EXISTS bench_ins")
        cur.execute("CREATE UNLOGGED TABLE bench_ins (id int8, name text, score float8)")
    conn.close()


def server_pids() -> List[int]:
    """The throwaway server's processes (postmaster and children), when scripts/test-env
    started it (PGPOOL_TEST_PGDATA): only then may the benchmark pin them."""
    data = os.environ.get("PGPOOL_TEST_PGDATA")
    if not data or os.environ.get("BENCH_URL"):
        return []
    try:
        pm = int(Path(data, "postmaster.pid").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return []
    pids = [pm]
    for d in Path("/proc").iterdir():
        if d.name.isdigit():
            try:
                stat = (d / "stat").read_text()
                ppid = int(stat.rsplit(")", 1)[1].split()[1])
            except (OSError, ValueError, IndexError):
                continue
            if ppid == pm:
                pids.append(int(d.name))
    return pids


ALL_CPUS = sorted(os.sched_getaffinity(0))

# Where each workload runs under --pin auto. On this kind of VM (2 vCPUs) a round trip
# between two CPUs costs ~80-220 us (waking an idle vCPU goes through the hypervisor)
# where one on a single CPU costs ~24 us, and the scheduler flips between the two at
# random: unpinned latency figures are bimodal and their ratios meaningless. So the
# latency-bound workloads (one connection, one statement at a time) run with client and
# server on one CPU ("same": the figures are then the CPU cost of a round trip, the same
# for everyone); the workloads that need both CPUs (64 threads; a 100k-row fetch, where
# the server produces rows while the client decodes) run unpinned ("none").
AUTO_PLACEMENT = {"a": "same", "b": "same", "c": "none", "d": "none", "e": "same",
                  "f": "same", "g": "same", "C": "same"}


def _set_affinity(pid: int, cpus: set) -> None:
    try:
        tids = os.listdir(f"/proc/{pid}/task")
    except FileNotFoundError:
        return  # a process that just exited (a backend closing)
    for tid in tids:
        try:
            os.sched_setaffinity(int(tid), cpus)
        except (OSError, ValueError):
            pass  # a thread that just exited


def set_placement(mode: str) -> str:
    """Place the client (every thread of this process; children inherit it) and the
    throwaway server: "same" (both on the first CPU), "split" (client on the first, server
    on the second), "none". Returns a description for the report."""
    if len(ALL_CPUS) < 2:
        return "not pinned (one CPU)"
    spids = server_pids()
    if not spids:
        return "not pinned (the server is not the throwaway one of scripts/test-env)"
    c0, c1 = ALL_CPUS[0], ALL_CPUS[1]
    client, server = {
        "same": ({c0}, {c0}),
        "split": ({c0}, {c1}),
        "none": (set(ALL_CPUS), set(ALL_CPUS)),
    }[mode]
    try:
        for pid in spids:
            _set_affinity(pid, server)
        _set_affinity(os.getpid(), client)
    except OSError as e:
        return f"not pinned ({e})"
    return {"same": f"client and server on CPU {c0}",
            "split": f"client on CPU {c0}, server on CPU {c1}",
            "none": "not pinned"}[mode]


PLACEMENTS: Dict[str, str] = {}


def place(args: argparse.Namespace, wl: str) -> None:
    mode = AUTO_PLACEMENT[wl] if args.pin == "auto" else args.pin
    PLACEMENTS[wl] = set_placement(mode)
    log(f"  placement for ({wl}): {PLACEMENTS[wl]}")


def _proc_ticks(pid: int, children: bool = False) -> int:
    try:
        f = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return 0
    # fields after the name: state=0 ... utime=11 stime=12 cutime=13 cstime=14
    return int(f[11]) + int(f[12]) + ((int(f[13]) + int(f[14])) if children else 0)


def cpu_snapshot() -> Tuple[int, int]:
    """(CPU ticks used by the whole machine, ticks used by this benchmark: this process,
    its finished children, and the throwaway server with its finished children)."""
    with open("/proc/stat") as f:
        v = [int(x) for x in f.readline().split()[1:]]
    busy = sum(v[:8]) - v[3] - v[4]  # everything but idle and iowait
    ours = _proc_ticks(os.getpid(), children=True)
    spids = server_pids()
    if spids:
        ours += _proc_ticks(spids[0], children=True) + sum(_proc_ticks(p) for p in spids[1:])
    return busy, ours


def rustc_running() -> bool:
    try:
        return subprocess.run(["pgrep", "-x", "rustc"], capture_output=True).returncode == 0
    except OSError:
        return False


# ---------------------------------------------------------------------------------------
# The plan: (key, contenders, how to build each, how to run it, which figures matter).

SIZES = {
    # Per round (every contender runs each round once). quick: ~1-2 minutes all in;
    # full: ~6-10 minutes on 2 cores.
    "quick": dict(rounds=5, a=1000, b=1000, c_s=0.6, d_rows=100_000, d_reps=1, e_rows=10_000,
                  e_reps=1, f=50_000, g=20_000, g_peers=20_000, perconn=20, c_n=2000, c_rounds=7),
    "full": dict(rounds=7, a=4000, b=4000, c_s=2.0, d_rows=100_000, d_reps=2, e_rows=10_000,
                 e_reps=2, f=200_000, g=1_000_000, g_peers=100_000, perconn=50, c_n=4000,
                 c_rounds=15),
}


def interleaved(key: str, names: List[str], rounds: int, make: Callable[[str], Any],
                run: Callable[[Any], Dict[str, Any]], store: Dict[str, Any],
                warm: Optional[Callable[[Any], Any]] = None) -> None:
    """Every contender's pool is opened (and warmed up) first; then each round runs every
    contender once, in an order that rotates from round to round. Short rounds, many of
    them: a slow spell of the machine (2 shared cores) hits every contender alike."""
    per = store.setdefault(key, {})
    insts: Dict[str, Any] = {}
    try:
        for name in names:
            insts[name] = make(name)
            if warm:
                warm(insts[name])
        for r in range(rounds):
            order = names[r % len(names):] + names[: r % len(names)]
            for name in order:
                res = run(insts[name])
                per.setdefault(name, []).append(res)
                log(f"  [{key}] round {r + 1}/{rounds} {name:13s} {short(res)}")
    finally:
        for inst in insts.values():
            inst.close()


def short(res: Dict[str, Any]) -> str:
    keys = ("ops_per_s", "p50_us", "p99_us", "max_us", "p99co_us", "thread_ops_min", "rows_per_s", "ms", "us_per_op")
    return " ".join(f"{k}={res[k]}" for k in keys if k in res)


def median_of(rounds: List[Dict[str, Any]], key: str) -> float:
    return statistics.median(r[key] for r in rounds)


# ---------------------------------------------------------------------------------------
# Report.


def fmt(x: Optional[float], unit: str = "") -> str:
    if x is None:
        return "—"
    if abs(x) >= 1000:
        s = f"{x:,.0f}"
    elif abs(x) >= 100:
        s = f"{x:.0f}"
    elif abs(x) >= 10:
        s = f"{x:.1f}"
    else:
        s = f"{x:.2f}"
    return s + (f" {unit}" if unit else "")


def build_rows(res: Dict[str, Any], sizes: Dict[str, int]) -> List[Dict[str, Any]]:
    """Summary rows: workload, metric, direction (up = higher is better), pgpool's figure
    and each peer's figure, median over rounds."""
    rows: List[Dict[str, Any]] = []

    def add(wid: str, label: str, metric: str, unit: str, up: bool, key: str, field: str,
            pg_name: str = "pgpool") -> None:
        per = res.get(key)
        if not per:
            return
        figs = {n: median_of(v, field) for n, v in per.items() if v}
        rows.append({
            "id": wid, "workload": label, "metric": metric, "unit": unit,
            "better": "higher" if up else "lower",
            "pgpool": figs.get(pg_name),
            "peers": {p: figs.get(p) for p in PEERS},
            "key": key, "field": field, "pg_name": pg_name,
        })

    add("a", "get_cursor() + SELECT %s + fetchone + commit, 1 thread", "ops/s", "ops/s", True, "a", "ops_per_s")
    add("a.Pool", "  same, `with pool.cursor() as cur` (pgpool.Pool)", "ops/s", "ops/s", True, "a", "ops_per_s", "pgpool.Pool")
    add("a.us", "  same, per block", "µs/op", "µs", False, "a", "us_per_op")
    add("b", "same, autocommit (`get_cursor(autocommit=True)`)", "ops/s", "ops/s", True, "b", "ops_per_s")
    add("c", "64 threads on 10 connections", "ops/s", "ops/s", True, "c", "ops_per_s")
    add("c.p50", "  64 threads: p50 latency", "p50 µs", "µs", False, "c", "p50_us")
    add("c.p99", "  64 threads: p99 latency", "p99 µs", "µs", False, "c", "p99_us")
    add("c.p99co", "  64 threads: p99 latency, coordinated omission corrected", "p99 µs", "µs", False, "c", "p99co_us")
    add("c.p999", "  64 threads: p99.9 latency", "p99.9 µs", "µs", False, "c", "p999_us")
    add("c.max", "  64 threads: worst latency", "max µs", "µs", False, "c", "max_us")
    add("c.fair", "  64 threads: blocks done by the least served thread", "blocks", "", True, "c", "thread_ops_min")
    add("d", f"fetchall() {sizes['d_rows'] // 1000}k rows × (int8, text, float8, timestamptz, bool, numeric)",
        "rows/s", "rows/s", True, "d", "rows_per_s")
    add("d.ms", "  same, per fetch", "ms", "ms", False, "d", "ms")
    add("e", f"executemany() {sizes['e_rows'] // 1000}k-row INSERT", "rows/s", "rows/s", True, "e", "rows_per_s")
    add("e.ms", "  same, per executemany", "ms", "ms", False, "e", "ms")
    add("f", "checkout + return, no statement (getconn/putconn)", "µs/op", "µs", False, "f", "us_per_op")
    add("f.cursor", "  `with get_cursor(): pass` (peers: their cursor block, no statement)", "µs/op", "µs", False, "f.cursor", "us_per_op")
    add("f.Pool", "  `with pool.cursor(): pass` (pgpool.Pool)", "µs/op", "µs", False, "f.cursor", "us_per_op", "pgpool.Pool")
    add("f.connection", "  `with pool.connection(): pass`", "µs/op", "µs", False, "f.connection", "us_per_op")
    for r in rows:
        pg = r["pgpool"]
        r["ratios"] = {p: (pg / v if (pg is not None and v) else None) for p, v in r["peers"].items()}
    # memory
    g = res.get("g", {})
    if g:
        rows.append({
            "id": "g", "workload": "RSS growth over get_cursor() cycles (SELECT %s + fetchone)",
            "metric": "MB", "unit": "MB", "better": "lower",
            "pgpool": g.get("pgpool", {}).get("growth_mb"),
            "peers": {p: g.get(p, {}).get("growth_mb") for p in PEERS},
            "cycles": {n: v.get("cycles") for n, v in g.items()},
            "ratios": {},
        })
    pc = res.get("g.perconn", {})
    if pc:
        pg = pc.get("pgpool", {}).get("kb_per_conn")
        peers = {p: pc.get(p, {}).get("kb_per_conn") for p in PEERS}
        rows.append({
            "id": "g.conn", "workload": "client RSS per open connection", "metric": "KB", "unit": "KB",
            "better": "lower", "pgpool": pg, "peers": peers,
            "ratios": {p: (pg / v if (pg is not None and v) else None) for p, v in peers.items()},
        })
    return rows


def find(rows: List[Dict[str, Any]], rid: str) -> Optional[Dict[str, Any]]:
    return next((r for r in rows if r["id"] == rid), None)


def targets(rows: List[Dict[str, Any]], res: Dict[str, Any], sizes: Dict[str, int]) -> List[Dict[str, Any]]:
    out: List[Dict[str, Any]] = []

    def ratio_target(rid: str, peer: str, need: float, text: str, at_least: bool = True) -> None:
        r = find(rows, rid)
        v = r["ratios"].get(peer) if r else None
        met = None if v is None else (v >= need if at_least else v <= need)
        ftext = "—" if v is None else f"{v:.3f}x"
        spread = None
        rounds_ok = None
        if r and v is not None:
            # The same ratio round by round (pgpool and the peer ran next to each other in
            # each round): how robust the verdict is to the machine's noise.
            pg_r = res[r["key"]].get(r["pg_name"], [])
            peer_r = res[r["key"]].get(peer, [])
            per = [a[r["field"]] / b[r["field"]] for a, b in zip(pg_r, peer_r) if b[r["field"]]]
            if per:
                spread = [round(min(per), 3), round(max(per), 3)]
                agree = sum(1 for x in per if (x >= need if at_least else x <= need))
                ftext += f" (rounds {min(per):.2f}–{max(per):.2f}, {agree}/{len(per)} meet it)"
                rounds_ok = (agree, len(per))
        out.append({"target": text, "figure": None if v is None else round(v, 3),
                    "rounds_range": spread, "rounds_meeting": rounds_ok,
                    "figure_text": ftext, "met": met})

    ratio_target("a", "psycopg2", 1.45, "(a) get_cursor block, 1 thread: ≥ 1.45x psycopg2 ops/s")
    ratio_target("c", "psycopg2", 2.5, "(c) 64 threads / 10 conns: ≥ 2.5x psycopg2 ops/s")
    ratio_target("c", "sqlalchemy", 1.5, "(c) 64 threads / 10 conns: ≥ 1.5x SQLAlchemy QueuePool ops/s")
    ratio_target("c", "psycopg_pool", 1.5, "(c) 64 threads / 10 conns: ≥ 1.5x psycopg_pool ops/s")
    ratio_target("c.p99co", "psycopg2", 0.2, "(c) p99 latency ≤ 1/5 of psycopg2's (pgpool/psycopg2 ≤ 0.20x; coordinated omission corrected)", at_least=False)
    ratio_target("d", "psycopg2", 1.3, "(d) fetchall 100k rows × 6 types: ≥ 1.3x psycopg2")
    ratio_target("e", "psycopg_pool", 1.2, "(e) executemany 10k rows: ≥ 1.2x psycopg_pool")
    f = find(rows, "f")
    v = f["pgpool"] if f else None
    out.append({"target": "(f) checkout + return from Python: ≤ 0.5 µs", "figure": v,
                "figure_text": "—" if v is None else f"{v:.3f} µs", "met": None if v is None else v <= 0.5})
    cb = res.get("C", {})
    if "libpq" in cb and "pgpool_exec" in cb:
        ratio = cb["pgpool_exec"]["us_per_op"] / cb["libpq"]["us_per_op"]
        out.append({"target": "(C) pgpool_exec on a held connection: ≤ 1.1x libpq PQexecParams",
                    "figure": round(ratio, 3),
                    "figure_text": f"{ratio:.2f}x ({cb['pgpool_exec']['us_per_op']:.1f} vs {cb['libpq']['us_per_op']:.1f} µs)",
                    "met": ratio <= 1.1})
    else:
        out.append({"target": "(C) pgpool_exec on a held connection: ≤ 1.1x libpq PQexecParams",
                    "figure": None, "figure_text": cb.get("skipped", "—"), "met": None})
    g = res.get("g", {}).get("pgpool")
    if g:
        full = g["cycles"] >= 1_000_000
        met = g["growth_mb"] < 10 if full else None
        text = f"{g['growth_mb']:.2f} MB over {g['cycles']:,} cycles"
        if not full:
            text += " (the target needs 1M: run `make bench`)"
        out.append({"target": "(g) RSS growth < 10 MB over 1M get_cursor() cycles", "figure": g["growth_mb"],
                    "figure_text": text, "met": met})
    else:
        out.append({"target": "(g) RSS growth < 10 MB over 1M get_cursor() cycles", "figure": None,
                    "figure_text": "—", "met": None})
    return out


def mark(t: Dict[str, Any]) -> str:
    """The verdict of the median ratio, flagged when the rounds disagree with it (the
    machine's noise decided it): fewer than 70% of them on its side."""
    met = t["met"]
    if met is None:
        return "— n/a"
    ro = t.get("rounds_meeting")
    if ro:
        k, n = ro
        on_side = k if met else n - k
        if on_side < 0.7 * n:
            return f"⚠️ {'met' if met else 'missed'} (noisy)"
    return "✅ met" if met else "❌ missed"


def markdown(rows: List[Dict[str, Any]], tgts: List[Dict[str, Any]], res: Dict[str, Any],
             mach: Dict[str, Any], args: argparse.Namespace, notes: List[str]) -> str:
    L: List[str] = []
    mode = "quick" if args.quick else "full"
    L.append(f"### pgpool benchmark ({mode} run, median of {args.rounds} interleaved rounds)")
    L.append("")
    L.append(
        f"Machine: {mach['nproc']} CPUs ({mach['cpu']}), {mach['memory']} RAM, {mach['os']}, "
        f"Linux {mach['kernel']}; PostgreSQL {mach['postgresql']} on loopback TCP (same machine); "
        f"Python {mach['python']}; psycopg2 {mach['psycopg2']}, psycopg {mach['psycopg']} "
        f"({mach.get('psycopg_impl', '?')}), psycopg_pool {mach['psycopg_pool']}, SQLAlchemy "
        f"{mach['sqlalchemy']}; pgpool {mach['pgpool']} (git {mach['git']})."
    )
    L.append(f"Command: `{args.command}`.")
    pl = mach.get("placement") or {}
    if pl:
        groups: Dict[str, List[str]] = {}
        for wl, desc in pl.items():
            groups.setdefault(desc, []).append(wl)
        L.append("CPU placement: " + "; ".join(f"{d} for ({', '.join(w)})" for d, w in groups.items())
                 + " (a round trip across this VM's vCPUs costs 80-220 µs at random, on one CPU ~24 µs:"
                 " latency-bound workloads run on one CPU so that every contender pays the same).")
    L.append("")
    L.append("Each peer cell: the peer's figure, then (pgpool ÷ peer). ↑ higher is better "
             "(pgpool ahead when the ratio is > 1); ↓ lower is better (pgpool ahead when < 1).")
    L.append("")
    L.append("| Workload | | pgpool | " + " | ".join(PEER_LABEL[p] for p in PEERS) + " |")
    L.append("|---|---|---:|---:|---:|---:|")
    for r in rows:
        arrow = "↑" if r["better"] == "higher" else "↓"
        cells = []
        for p in PEERS:
            v = r["peers"].get(p)
            ratio = r["ratios"].get(p)
            if v is None:
                cells.append("—")
            elif ratio is None:
                cells.append(fmt(v))
            else:
                cells.append(f"{fmt(v)} ({ratio:.2f}x)")
        label = r["workload"]
        if r["id"] == "g" and r.get("cycles"):
            cy = r["cycles"]
            label += " — pgpool %s cycles, peers %s" % (
                f"{cy.get('pgpool', 0):,}" if cy.get("pgpool") else "—",
                f"{max((v for k, v in cy.items() if k in PEERS and v), default=0):,}",
            )
        L.append(f"| {label} | {r['metric']} {arrow} | **{fmt(r['pgpool'])}** | " + " | ".join(cells) + " |")
    cb = res.get("C", {})
    L.append("")
    if "libpq" in cb:
        L.append(f"C, `SELECT $1` with one text parameter on one connection ({cb['libpq']['n']:,} statements "
                 f"× {cb['libpq']['rounds']} interleaved rounds, median):")
        L.append("")
        L.append("| C loop | µs/op ↓ | vs libpq |")
        L.append("|---|---:|---:|")
        base = cb["libpq"]["us_per_op"]
        for mode_, label in (("libpq", "libpq `PQexecParams` + `PQgetvalue`"),
                             ("pgpool_exec", "`pgpool_exec` + `pgpool_result_value` on a held `pgpool_conn`"),
                             ("pgpool_cycle", "`pgpool_acquire` + `pgpool_exec` + `pgpool_release`")):
            if mode_ in cb:
                u = cb[mode_]["us_per_op"]
                L.append(f"| {label} | {u:.1f} | {u / base:.2f}x |")
    elif cb:
        L.append(f"C baseline: skipped ({cb.get('skipped')}).")
    L.append("")
    L.append("Issue 5 targets:")
    L.append("")
    L.append("| Target | Measured | |")
    L.append("|---|---|---|")
    for t in tgts:
        L.append(f"| {t['target']} | {t['figure_text']} | {mark(t)} |")
    if notes:
        L.append("")
        for n in notes:
            L.append(f"- {n}")
    return "\n".join(L)


# ---------------------------------------------------------------------------------------


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true", help="small sizes: a couple of minutes")
    ap.add_argument("--rounds", type=int, default=None,
                    help="interleaved rounds (>= 3; default 5 quick, 7 full)")
    ap.add_argument("--workloads", default="a,b,c,d,e,f,g,C")
    ap.add_argument("--contenders", default="pgpool,psycopg2,psycopg_pool,sqlalchemy")
    ap.add_argument("--threads", type=int, default=64, help="threads of workload c")
    ap.add_argument("--maxconn", type=int, default=10, help="pool size of workload c")
    ap.add_argument("--pin", choices=["auto", "same", "split", "none"], default="auto",
                    help="CPU placement of client and server (see AUTO_PLACEMENT); default auto")
    ap.add_argument("--json", default=str(RESULTS / "latest.json"))
    ap.add_argument("--set", action="append", default=[], metavar="KEY=N",
                    help="override a size, e.g. --set g=100000 (keys: %s)" % ", ".join(SIZES["full"]))
    args = ap.parse_args()
    args.command = "make bench-quick" if args.quick else "make bench"
    if os.environ.get("BENCH_COMMAND"):
        args.command = os.environ["BENCH_COMMAND"]
    if not URL:
        log("poolbench: set DATABASE_URL (or BENCH_URL), or run it through `make bench`")
        return 2
    sizes = dict(SIZES["quick" if args.quick else "full"])
    for kv in args.set:
        k, v = kv.split("=", 1)
        if k not in sizes:
            ap.error(f"--set {k}: unknown size")
        sizes[k] = int(v)
    if args.rounds is not None:
        sizes["rounds"] = args.rounds
    if sizes["rounds"] < 3:
        log("poolbench: fewer than 3 rounds: figures are not medians of 3 (issue 5 asks for >= 3)")
    args.rounds = sizes["rounds"]
    wls = set(w for w in args.workloads.split(",") if w)
    notes: List[str] = []

    # Who can run.
    wanted = [c for c in args.contenders.split(",") if c]
    names: List[str] = []
    for n in wanted:
        why = importable(n)
        if why:
            log(f"poolbench: skipping {n}: {why}")
            notes.append(f"{n} skipped: {why}")
        else:
            names.append(n)
    if PGPOOL_NOTE and PGPOOL_FROM_TREE:
        notes.append(PGPOOL_NOTE)
    if rustc_running():
        msg = "a rustc process was running when the benchmark started: figures may be noisy"
        log("poolbench: warning: " + msg)
        notes.append(msg)
    snap_start = cpu_snapshot()
    with_pool_variant = names + (["pgpool.Pool"] if "pgpool" in names and "pgpool.Pool" not in names else [])

    setup_server()
    mach = machine(versions())
    log(f"poolbench: {mach['nproc']} CPUs {mach['cpu']}, Linux {mach['kernel']}, PostgreSQL {mach['postgresql']}")
    log(f"poolbench: contenders {', '.join(names)}; sizes {sizes}")
    res: Dict[str, Any] = {}
    t_start = time.time()
    R = sizes["rounds"]
    th = args.threads

    def warm_select(threads: int, n: int) -> Callable[[Any], Any]:
        return lambda c: run_select(c, n, threads)

    if "a" in wls:
        place(args, "a")
        log(f"(a) SELECT %s block, 1 thread, {sizes['a']} ops per round")
        interleaved("a", with_pool_variant, R, lambda n: CONTENDERS[n](1),
                    lambda c: run_select(c, sizes["a"]), res, warm_select(1, 300))
    if "b" in wls:
        place(args, "b")
        log(f"(b) autocommit SELECT %s, 1 thread, {sizes['b']} ops per round")
        interleaved("b", names, R, lambda n: CONTENDERS[n](1, autocommit=True),
                    lambda c: run_select(c, sizes["b"]), res, warm_select(1, 300))
    if "c" in wls:
        place(args, "c")
        log(f"(c) {th} threads on {args.maxconn} connections, {sizes['c_s']} s per round")
        interleaved("c", names, R, lambda n: CONTENDERS[n](args.maxconn),
                    lambda c: run_select(c, 0, th, sizes["c_s"]), res,
                    lambda c: run_select(c, 0, th, 0.2))
    if "d" in wls:
        place(args, "d")
        log(f"(d) fetchall {sizes['d_rows']} rows x 6 columns, {sizes['d_reps']} per round")
        interleaved("d", names, R, lambda n: CONTENDERS[n](1),
                    lambda c: run_fetch(c, sizes["d_rows"], sizes["d_reps"]), res,
                    lambda c: run_fetch(c, sizes["d_rows"] // 10, 1))
    if "e" in wls:
        place(args, "e")
        log(f"(e) executemany {sizes['e_rows']} rows, {sizes['e_reps']} per round")
        interleaved("e", names, R, lambda n: CONTENDERS[n](1),
                    lambda c: run_insert(c, sizes["e_rows"], sizes["e_reps"]), res,
                    lambda c: run_insert(c, 200, 1))
    if "f" in wls:
        place(args, "f")
        log(f"(f) checkout + return, {sizes['f']} ops per round")
        interleaved("f", names, R, lambda n: CONTENDERS[n](1), lambda c: run_checkout(c, sizes["f"]), res)
        interleaved("f.cursor", with_pool_variant, R, lambda n: CONTENDERS[n](1),
                    lambda c: run_checkout(c, sizes["f"] // 4, "cursor"), res)
        if "pgpool" in names:
            interleaved("f.connection", ["pgpool"], R, lambda n: CONTENDERS[n](1),
                        lambda c: run_checkout(c, sizes["f"] // 4, "connection"), res)
    if "g" in wls:
        place(args, "g")
        g: Dict[str, Any] = {}
        pcon: Dict[str, Any] = {}
        for n in names:
            cycles = sizes["g"] if n.startswith("pgpool") else sizes["g_peers"]
            log(f"(g) memory: {n}: {cycles:,} get_cursor() cycles, then {sizes['perconn']} connections")
            try:
                g[n] = in_child("--_mem", n, cycles)
                pcon[n] = in_child("--_perconn", n, sizes["perconn"])
                log(f"  [g] {n}: growth {g[n]['growth_mb']} MB ({g[n]['samples_mb']}), "
                    f"{pcon[n]['kb_per_conn']} KB/conn")
            except RuntimeError as e:
                log(f"  [g] {n}: {e}")
                notes.append(f"memory measurement of {n} failed: {str(e).splitlines()[0]}")
        res["g"] = g
        res["g.perconn"] = pcon
        if any(g.get(p) for p in PEERS) and g.get("pgpool") and g["pgpool"]["cycles"] != sizes["g_peers"]:
            notes.append(f"memory growth: pgpool over {sizes['g']:,} cycles, the peers over "
                         f"{sizes['g_peers']:,} (for reference; the target concerns pgpool).")
    if "C" in wls:
        place(args, "C")
        log(f"(C) cbench: {sizes['c_n']} statements x {sizes['c_rounds']} rounds")
        res["C"] = run_cbench(sizes["c_n"], sizes["c_rounds"])
        log(f"  [C] {res['C']}")

    set_placement("none")
    mach["placement"] = PLACEMENTS
    snap_end = cpu_snapshot()
    hz = os.sysconf("SC_CLK_TCK")
    run_s = max(time.time() - t_start, 1e-3)
    other = max(0, (snap_end[0] - snap_start[0]) - (snap_end[1] - snap_start[1])) / hz
    mach["other_cpu_s"] = round(other, 1)
    mach["other_cpu_share"] = round(other / run_s, 3)
    if other / run_s > 0.15:
        notes.append(f"other work used {other / run_s:.0%} of a CPU during the run (besides this "
                     "benchmark and its server): figures are noisy, see the per-round ranges.")
    else:
        notes.append(f"other work on the machine during the run: {other / run_s:.0%} of a CPU.")
    elapsed = time.time() - t_start
    notes.append(f"run took {elapsed / 60:.1f} min; pool size 1 for single-thread workloads, "
                 f"{args.maxconn} for (c); every pool opened (min = max) before its clock starts; "
                 "psycopg2 retries getconn every 0.5 ms when exhausted; SQLAlchemy without pre_ping.")
    rows = build_rows(res, sizes)
    tgts = targets(rows, res, sizes)
    for t in tgts:
        t["verdict"] = mark(t)
    md = markdown(rows, tgts, res, mach, args, notes)
    print(md)

    RESULTS.mkdir(parents=True, exist_ok=True)
    doc = {
        "when": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        "mode": "quick" if args.quick else "full",
        "rounds": R,
        "sizes": sizes,
        "machine": mach,
        "contenders": names,
        "rounds_raw": res,
        "summary": rows,
        "targets": tgts,
        "notes": notes,
        "markdown": md,
    }
    path = Path(args.json)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(doc, indent=1, default=str) + "\n")
    stamp = dt.datetime.now().strftime("%Y%m%d-%H%M%S")
    shutil.copyfile(path, path.parent / f"{doc['mode']}-{stamp}.json")
    log(f"poolbench: wrote {path}")
    return 0


if __name__ == "__main__":
    if len(sys.argv) == 4 and sys.argv[1] in ("--_mem", "--_perconn"):
        # A memory measurement, in its own interpreter (see in_child).
        import_pgpool()
        fn = child_mem if sys.argv[1] == "--_mem" else child_perconn
        print(json.dumps(fn(sys.argv[2], int(sys.argv[3]))))
        sys.exit(0)
    sys.exit(main())
