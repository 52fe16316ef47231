"""Measurements in their own interpreter (memory: workload g) and the C benchmark (C)."""

from __future__ import annotations

import gc
import json
import os
import subprocess
import sys
import time
from typing import Any, Dict

from . import common
from .common import BENCH, CBENCH, ROOT, URL
from .contenders import CONTENDERS

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
    if common.PGPOOL_FROM_TREE:
        env["PYTHONPATH"] = os.pathsep.join(
            [str(ROOT / "python")]
            + ([env["PYTHONPATH"]] if env.get("PYTHONPATH") else [])
        )
    env["BENCH_URL"] = URL
    p = subprocess.run(
        [sys.executable, str(BENCH / "poolbench.py"), mode, name, str(n)],
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
        [str(CBENCH), "-n", str(n), "-r", str(rounds), URL],
        capture_output=True,
        text=True,
    )
    if p.returncode != 0:
        return {"skipped": f"cbench failed: {p.stderr.strip()[-500:]}"}
    out = {}
    for line in p.stdout.splitlines():
        d = json.loads(line)
        out[d["mode"]] = d
    return out
