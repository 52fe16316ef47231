"""The machine, the versions, the server, CPU placement and the CPU other work takes."""

from __future__ import annotations

import argparse
import os
import platform
import subprocess
from pathlib import Path
from typing import Any, Dict, List, Tuple

from .common import ROOT, URL, import_pgpool, log

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
            capture_output=True,
            text=True,
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
    for mod, key in (
        ("psycopg", "psycopg"),
        ("psycopg_pool", "psycopg_pool"),
        ("sqlalchemy", "sqlalchemy"),
    ):
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
        cur.execute(
            "CREATE UNLOGGED TABLE bench_ins (id int8, name text, score float8)"
        )
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
AUTO_PLACEMENT = {
    "a": "same",
    "b": "same",
    "c": "none",
    "d": "none",
    "e": "same",
    "f": "same",
    "g": "same",
    "C": "same",
}


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
    return {
        "same": f"client and server on CPU {c0}",
        "split": f"client on CPU {c0}, server on CPU {c1}",
        "none": "not pinned",
    }[mode]


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
        ours += _proc_ticks(spids[0], children=True) + sum(
            _proc_ticks(p) for p in spids[1:]
        )
    return busy, ours


def rustc_running() -> bool:
    try:
        return (
            subprocess.run(["pgrep", "-x", "rustc"], capture_output=True).returncode
            == 0
        )
    except OSError:
        return False
