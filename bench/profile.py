#!/usr/bin/env python3
"""Where the time of one workload goes (bench/PROFILE.md was written with it).

    scripts/test-env .venv/bin/python bench/profile.py phases [--contenders ...] [--pin same]
        per-phase wall time of the get_cursor block (a), its autocommit twin (b) and the
        100k-row fetch (d), for every contender: enter (checkout), execute, fetch, exit
        (commit + return); medians over interleaved rounds.

    scripts/test-env .venv/bin/python bench/profile.py loop WORKLOAD [--seconds S] [--contender pgpool]
        runs workload a, b, d or f of bench/poolbench.py in a loop for S seconds, to be
        recorded from outside, e.g.
          scripts/test-env bash -c 'perf record -g --call-graph dwarf,16384 -F 2000 -o /tmp/perf.data \\
              .venv/bin/python bench/profile.py loop a --seconds 10'
          scripts/test-env .venv/bin/py-spy record --native -r 2000 -o /tmp/a.svg -- \\
              .venv/bin/python bench/profile.py loop a --seconds 10

    scripts/test-env .venv/bin/python bench/profile.py cpu [--contenders ...]
        CPU time per operation of the client process (all its threads) and of the server
        backend serving it (/proc/PID/schedstat, ns), beside the wall time, for (a), (b),
        (d) and (e): how much of a block is pgpool's own work.

    scripts/test-env .venv/bin/python bench/profile.py begin [--pin same|split|none]
        what pipelining BEGIN in one flush would buy: psycopg2 on an autocommit connection
        sending "BEGIN; SELECT %s" as one Query message then COMMIT (2 round trips, one
        server flush each), beside psycopg2's own block (3 round trips) and pgpool's
        get_cursor() block (BEGIN and SELECT in one write, but two Query messages: the
        server flushes after each, so the client wakes up twice).

    scripts/test-env .venv/bin/python bench/profile.py batch
        what packing executemany's statements into fewer Query messages would buy: psycopg2
        sending 1, 10, 100, 1000 interpolated INSERTs per message (10k rows, one
        transaction), with the client's and the server backend's CPU time.

    scripts/test-env .venv/bin/python bench/profile.py syscalls [--contenders ...] [--pin split]
        network writes and reads per block of (a) and (b) (under strace): round trips, and
        with --pin split the wake-ups when client and server are on different CPUs.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, Dict, List

sys.path.insert(0, str(Path(__file__).resolve().parent))
import poolbench as pb  # noqa: E402


def phases_select(c: Any, n: int) -> Dict[str, float]:
    pc = time.perf_counter
    t = {"enter": 0.0, "execute": 0.0, "fetch": 0.0, "exit": 0.0}
    cursor = c.cursor
    for k in range(n):
        t0 = pc()
        cm = cursor()
        cur = cm.__enter__()
        t1 = pc()
        cur.execute("SELECT %s", (k,))
        t2 = pc()
        cur.fetchone()
        t3 = pc()
        cm.__exit__(None, None, None)
        t4 = pc()
        t["enter"] += t1 - t0
        t["execute"] += t2 - t1
        t["fetch"] += t3 - t2
        t["exit"] += t4 - t3
    return {k: v / n * 1e6 for k, v in t.items()}  # us per block


def phases_fetch(c: Any, rows: int) -> Dict[str, float]:
    pc = time.perf_counter
    t0 = pc()
    cm = c.cursor()
    cur = cm.__enter__()
    t1 = pc()
    cur.execute(pb.FETCH_SQL, (rows,))
    t2 = pc()
    res = cur.fetchall()
    t3 = pc()
    cm.__exit__(None, None, None)
    t4 = pc()
    del res
    t5 = pc()
    return {"enter": (t1 - t0) * 1e3, "execute": (t2 - t1) * 1e3, "fetch": (t3 - t2) * 1e3,
            "exit": (t4 - t3) * 1e3, "free rows": (t5 - t4) * 1e3}  # ms


def cmd_phases(args: argparse.Namespace) -> None:
    names = [n for n in args.contenders.split(",") if n and not pb.importable(n)]
    for wl, make, run, unit in (
        ("a", lambda n: pb.CONTENDERS[n](1), lambda c: phases_select(c, args.n), "µs/block"),
        ("b", lambda n: pb.CONTENDERS[n](1, autocommit=True), lambda c: phases_select(c, args.n), "µs/block"),
        ("d", lambda n: pb.CONTENDERS[n](1), lambda c: phases_fetch(c, 100_000), "ms"),
    ):
        pb.PLACEMENTS[wl] = pb.set_placement(args.pin or pb.AUTO_PLACEMENT[wl])
        store: Dict[str, Any] = {}
        pb.interleaved(wl, names, args.rounds, make, run, store,
                       warm=(lambda c: run(c)) if wl != "d" else None)
        per = store[wl]
        keys = list(next(iter(per.values()))[0].keys())
        print(f"\n({wl}) {unit}, median of {args.rounds} rounds, placement: {pb.PLACEMENTS[wl]}")
        print(f"{'contender':14s}" + "".join(f"{k:>11s}" for k in keys) + f"{'total':>11s}")
        for n, rounds in per.items():
            med = {k: statistics.median(r[k] for r in rounds) for k in keys}
            print(f"{n:14s}" + "".join(f"{med[k]:11.2f}" for k in keys) + f"{sum(med.values()):11.2f}")
    pb.set_placement("none")


def cmd_loop(args: argparse.Namespace) -> None:
    wl = args.workload
    pb.PLACEMENTS[wl] = pb.set_placement(args.pin or pb.AUTO_PLACEMENT.get(wl, "none"))
    print(f"placement: {pb.PLACEMENTS[wl]}", file=sys.stderr)
    c = pb.CONTENDERS[args.contender](10 if wl == "c" else 1, autocommit=(wl == "b"))
    deadline = time.time() + args.seconds
    ops = 0
    t0 = time.perf_counter()
    while time.time() < deadline:
        if wl in ("a", "b"):
            pb.run_select(c, 2000)
            ops += 2000
        elif wl == "c":
            ops += pb.run_select(c, 0, 64, 1.0)["ops"]
        elif wl == "d":
            pb.run_fetch(c, 100_000, 1)
            ops += 1
        elif wl == "e":
            pb.run_insert(c, 10_000, 1)
            ops += 1
        elif wl == "f":
            pb.run_checkout(c, 100_000)
            ops += 100_000
        else:
            raise SystemExit(f"unknown workload {wl}")
    wall = time.perf_counter() - t0
    c.close()
    print(f"{args.contender} ({wl}): {ops} ops in {wall:.1f} s: {wall / ops * 1e6:.2f} µs/op", file=sys.stderr)


def cpu_ns(pid: int) -> int:
    total = 0
    try:
        tids = os.listdir(f"/proc/{pid}/task")
    except FileNotFoundError:
        return 0
    for tid in tids:
        try:
            with open(f"/proc/{pid}/task/{tid}/schedstat") as f:
                total += int(f.read().split()[0])
        except (OSError, ValueError):
            pass
    return total


def vol_switches(pid: int) -> int:
    """Voluntary context switches of all the process's threads: each time a thread went to
    sleep (a blocking recv that had to wait for the server is one)."""
    total = 0
    try:
        tids = os.listdir(f"/proc/{pid}/task")
    except FileNotFoundError:
        return 0
    for tid in tids:
        try:
            with open(f"/proc/{pid}/task/{tid}/status") as f:
                for line in f:
                    if line.startswith("voluntary_ctxt_switches"):
                        total += int(line.split()[1])
        except (OSError, ValueError):
            pass
    return total


def cmd_cpu(args: argparse.Namespace) -> None:
    names = [n for n in args.contenders.split(",") if n and not pb.importable(n)]
    me = os.getpid()
    pb.setup_server()  # the unlogged table of (e)
    for wl in args.workloads.split(","):
        pb.PLACEMENTS[wl] = pb.set_placement(args.pin or pb.AUTO_PLACEMENT[wl])
        rows: Dict[str, List[Dict[str, float]]] = {}
        insts = {n: pb.CONTENDERS[n](1, autocommit=(wl == "b")) for n in names}
        backends = {}
        for n, c in insts.items():
            with c.cursor() as cur:
                cur.execute("SELECT pg_backend_pid()")
                backends[n] = cur.fetchone()[0]
        n_ops = {"d": 3, "e": 3}.get(wl, args.n)
        for r in range(args.rounds):
            for n in names[r % len(names):] + names[: r % len(names)]:
                c = insts[n]
                if wl == "d":
                    pb.run_fetch(c, 10_000, 1)
                elif wl == "e":
                    pb.run_insert(c, 200, 1)
                else:
                    pb.run_select(c, 200)
                v0 = vol_switches(me)
                c0, s0, t0 = cpu_ns(me), cpu_ns(backends[n]), time.perf_counter()
                if wl == "d":
                    pb.run_fetch(c, 100_000, n_ops)
                elif wl == "e":
                    pb.run_insert(c, 10_000, n_ops)  # includes a TRUNCATE and a count per rep
                else:
                    pb.run_select(c, n_ops)
                c1, s1, t1 = cpu_ns(me), cpu_ns(backends[n]), time.perf_counter()
                v1 = vol_switches(me)
                scale = 1e6 if wl in ("d", "e") else 1e3  # us per block, ms per fetch/insert
                rows.setdefault(n, []).append({"wall": (t1 - t0) * 1e9 / n_ops / scale,
                                               "client cpu": (c1 - c0) / n_ops / scale,
                                               "server cpu": (s1 - s0) / n_ops / scale,
                                               "sleeps": (v1 - v0) / n_ops})
        for c in insts.values():
            c.close()
        unit = {"d": "ms/fetch", "e": "ms/executemany (+ TRUNCATE + count)"}.get(wl, "µs/block")
        print(f"\n({wl}) {unit}, median of {args.rounds} rounds, placement: {pb.PLACEMENTS[wl]}")
        print(f"{'contender':14s}{'wall':>11s}{'client cpu':>12s}{'server cpu':>12s}{'other':>11s}"
              f"{'client sleeps/op':>18s}")
        for n, rs in rows.items():
            m = {k: statistics.median(r[k] for r in rs) for k in rs[0]}
            print(f"{n:14s}{m['wall']:11.2f}{m['client cpu']:12.2f}{m['server cpu']:12.2f}"
                  f"{m['wall'] - m['client cpu'] - m['server cpu']:11.2f}{m['sleeps']:18.2f}")
    pb.set_placement("none")


class _OneFlush:
    """psycopg2 driven by hand: BEGIN and the statement in one Query message."""

    name = "psycopg2 1-flush"

    def __init__(self, size: int, autocommit: bool = False, min_size: Any = None):
        import psycopg2

        self.conn = psycopg2.connect(pb.URL)
        self.conn.autocommit = True
        self.cur = self.conn.cursor()

    def run(self, n: int) -> Dict[str, Any]:
        cur = self.cur
        t0 = time.perf_counter()
        for k in range(n):
            cur.execute("BEGIN; SELECT %s", (k,))
            cur.fetchone()
            cur.execute("COMMIT")
        wall = time.perf_counter() - t0
        return {"us_per_op": wall / n * 1e6}

    def close(self) -> None:
        self.conn.close()


def cmd_begin(args: argparse.Namespace) -> None:
    placement = pb.set_placement(args.pin or "same")
    names = ["pgpool", "psycopg2", "psycopg2 1-flush"]

    def make(n: str) -> Any:
        return _OneFlush(1) if n == "psycopg2 1-flush" else pb.CONTENDERS[n](1)

    def run(c: Any) -> Dict[str, Any]:
        if isinstance(c, _OneFlush):
            return c.run(args.n)
        return pb.run_select(c, args.n)

    store: Dict[str, Any] = {}
    pb.interleaved("begin", names, args.rounds, make, run, store, warm=run)
    print(f"\nget_cursor-style block (BEGIN; SELECT %s; fetchone; COMMIT), µs/block, median of "
          f"{args.rounds} rounds, placement: {placement}")
    for n, rs in store["begin"].items():
        print(f"{n:18s} {statistics.median(r['us_per_op'] for r in rs):9.2f}")
    pb.set_placement("none")


CHILD = """
import os, sys, time
sys.path.insert(0, {bench!r})
import poolbench as pb
c = pb.CONTENDERS[{name!r}](1, autocommit={ac!r})
for i in range(200):
    with c.cursor() as cur:
        cur.execute("SELECT %s", (i,)); cur.fetchone()
os.write(2, b"=====MARK\\n")
for i in range({n!r}):
    with c.cursor() as cur:
        cur.execute("SELECT %s", (i,)); cur.fetchone()
os.write(2, b"=====END\\n")
os._exit(0)
"""


def cmd_batch(args: argparse.Namespace) -> None:
    import psycopg2

    pb.setup_server()
    placement = pb.set_placement(args.pin or "same")
    conn = psycopg2.connect(pb.URL)
    cur = conn.cursor()
    cur.execute("SELECT pg_backend_pid()")
    bpid = cur.fetchone()[0]
    conn.commit()
    data = [(i, "name-%d" % i, i * 0.5) for i in range(10_000)]
    stmts = [cur.mogrify(pb.INSERT_SQL, r).decode() for r in data]
    me = os.getpid()
    print(f"10k-row INSERT in one transaction, psycopg2, median of {args.rounds}, placement: {placement}")
    for chunk in (1, 10, 100, 1000):
        res = []
        for _ in range(args.rounds):
            cur.execute("TRUNCATE bench_ins")
            conn.commit()
            c0, s0, t0 = cpu_ns(me), cpu_ns(bpid), time.perf_counter()
            for i in range(0, len(stmts), chunk):
                cur.execute(";".join(stmts[i:i + chunk]))
            conn.commit()
            c1, s1, t1 = cpu_ns(me), cpu_ns(bpid), time.perf_counter()
            res.append(((t1 - t0) * 1e3, (c1 - c0) / 1e6, (s1 - s0) / 1e6))
        w = statistics.median(r[0] for r in res)
        c = statistics.median(r[1] for r in res)
        sv = statistics.median(r[2] for r in res)
        print(f"{chunk:5d} INSERTs per Query message: wall {w:7.1f} ms, client cpu {c:6.1f} ms, "
              f"server cpu {sv:6.1f} ms")
    conn.close()
    pb.set_placement("none")


def cmd_syscalls(args: argparse.Namespace) -> None:
    names = [n for n in args.contenders.split(",") if n and not pb.importable(n)]
    if args.pin:
        print(f"placement: {pb.set_placement(args.pin)}")
    print(f"{'contender':14s} {'mode':10s} {'sends/block':>12s} {'recvs/block':>12s} {'polls/block':>12s} {'futex/block':>12s}")
    for ac in (False, True):
        for n in names:
            code = CHILD.format(bench=str(Path(__file__).resolve().parent), name=n, ac=ac, n=args.n)
            p = subprocess.run(
                ["strace", "-f", "-e", "trace=sendto,sendmsg,write,writev,recvfrom,recvmsg,read,poll,ppoll,epoll_wait,futex",
                 sys.executable, "-c", code],
                capture_output=True, text=True, env=dict(os.environ),
            )
            err = p.stderr
            body = err[err.find("=====MARK"): err.find("=====END")]
            lines = body.splitlines()[1:]

            def count(*calls: str) -> float:
                return sum(1 for ln in lines if any(f"{c}(" in ln for c in calls)
                           and "resumed" not in ln) / args.n
            print(f"{n:14s} {'autocommit' if ac else 'tx':10s} {count('sendto', 'sendmsg', 'writev', 'write'):12.2f} "
                  f"{count('recvfrom', 'recvmsg', 'read'):12.2f} {count('poll', 'ppoll', 'epoll_wait'):12.2f} "
                  f"{count('futex'):12.2f}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    p1 = sub.add_parser("phases")
    p1.add_argument("--contenders", default="pgpool,pgpool.Pool,psycopg2,psycopg_pool,sqlalchemy")
    p1.add_argument("--rounds", type=int, default=5)
    p1.add_argument("--n", type=int, default=2000)
    p1.add_argument("--pin", choices=["same", "split", "none"], default=None)
    p2 = sub.add_parser("loop")
    p2.add_argument("workload", choices=["a", "b", "c", "d", "e", "f"])
    p2.add_argument("--seconds", type=float, default=10)
    p2.add_argument("--contender", default="pgpool")
    p2.add_argument("--pin", choices=["same", "split", "none"], default=None)
    p4 = sub.add_parser("cpu")
    p4.add_argument("--contenders", default="pgpool,pgpool.Pool,psycopg2,psycopg_pool,sqlalchemy")
    p4.add_argument("--rounds", type=int, default=5)
    p4.add_argument("--n", type=int, default=3000)
    p4.add_argument("--pin", choices=["same", "split", "none"], default=None)
    p4.add_argument("--workloads", default="a,b,d,e")
    p5 = sub.add_parser("begin")
    p5.add_argument("--rounds", type=int, default=9)
    p5.add_argument("--n", type=int, default=1000)
    p5.add_argument("--pin", choices=["same", "split", "none"], default=None)
    p3 = sub.add_parser("syscalls")
    p3.add_argument("--contenders", default="pgpool,psycopg2,psycopg_pool,sqlalchemy")
    p3.add_argument("--n", type=int, default=50)
    p3.add_argument("--pin", choices=["same", "split", "none"], default=None)
    p6 = sub.add_parser("batch")
    p6.add_argument("--rounds", type=int, default=3)
    p6.add_argument("--pin", choices=["same", "split", "none"], default=None)
    args = ap.parse_args()
    if not pb.URL:
        raise SystemExit("set DATABASE_URL (run under scripts/test-env)")
    {"phases": cmd_phases, "loop": cmd_loop, "syscalls": cmd_syscalls, "cpu": cmd_cpu, "begin": cmd_begin, "batch": cmd_batch}[args.cmd](args)


if __name__ == "__main__":
    main()
