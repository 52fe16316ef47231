#!/usr/bin/env python3
"""pgpool's benchmark: pgpool beside psycopg2 ``ThreadedConnectionPool``,
psycopg_pool ``ConnectionPool`` and SQLAlchemy ``QueuePool`` (psycopg2 driver), on the
same server, in one run.

    bench/poolbench.py [--quick] [--rounds N] [--workloads a,b,...] [--contenders ...]

Run it through ``make bench`` / ``make bench-quick`` (a throwaway PostgreSQL from
scripts/test-env), or with ``DATABASE_URL`` (or ``BENCH_URL``) pointing at a server.

Honesty rules:
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

Workloads (and their targets):
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
import json
import os
import shutil
import sys
import time
from pathlib import Path
from typing import Any, Callable, Dict, List

from benchlib import common
from benchlib.children import child_mem, child_perconn, in_child, run_cbench
from benchlib.common import PEERS, RESULTS, URL, import_pgpool, log
from benchlib.contenders import CONTENDERS, importable
from benchlib.report import SIZES, build_rows, interleaved, mark, markdown, targets
from benchlib.system import (
    PLACEMENTS,
    cpu_snapshot,
    machine,
    place,
    rustc_running,
    set_placement,
    setup_server,
    versions,
)
from benchlib.workloads import run_checkout, run_fetch, run_insert, run_select

# ---------------------------------------------------------------------------------------


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument(
        "--quick", action="store_true", help="small sizes: a couple of minutes"
    )
    ap.add_argument(
        "--rounds",
        type=int,
        default=None,
        help="interleaved rounds (>= 3; default 5 quick, 7 full)",
    )
    ap.add_argument("--workloads", default="a,b,c,d,e,f,g,C")
    ap.add_argument("--contenders", default="pgpool,psycopg2,psycopg_pool,sqlalchemy")
    ap.add_argument("--threads", type=int, default=64, help="threads of workload c")
    ap.add_argument("--maxconn", type=int, default=10, help="pool size of workload c")
    ap.add_argument(
        "--pin",
        choices=["auto", "same", "split", "none"],
        default="auto",
        help="CPU placement of client and server (see AUTO_PLACEMENT); default auto",
    )
    ap.add_argument("--json", default=str(RESULTS / "latest.json"))
    ap.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="KEY=N",
        help="override a size, e.g. --set g=100000 (keys: %s)"
        % ", ".join(SIZES["full"]),
    )
    args = ap.parse_args()
    args.command = "make bench-quick" if args.quick else "make bench"
    if os.environ.get("BENCH_COMMAND"):
        args.command = os.environ["BENCH_COMMAND"]
    if not URL:
        log(
            "poolbench: set DATABASE_URL (or BENCH_URL), or run it through `make bench`"
        )
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
        log(
            "poolbench: fewer than 3 rounds: figures are not medians of 3 (the method asks for >= 3)"
        )
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
    if common.PGPOOL_NOTE and common.PGPOOL_FROM_TREE:
        notes.append(common.PGPOOL_NOTE)
    if rustc_running():
        msg = "a rustc process was running when the benchmark started: figures may be noisy"
        log("poolbench: warning: " + msg)
        notes.append(msg)
    snap_start = cpu_snapshot()
    with_pool_variant = names + (
        ["pgpool.Pool"] if "pgpool" in names and "pgpool.Pool" not in names else []
    )

    setup_server()
    mach = machine(versions())
    log(
        f"poolbench: {mach['nproc']} CPUs {mach['cpu']}, Linux {mach['kernel']}, PostgreSQL {mach['postgresql']}"
    )
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
        interleaved(
            "a",
            with_pool_variant,
            R,
            lambda n: CONTENDERS[n](1),
            lambda c: run_select(c, sizes["a"]),
            res,
            warm_select(1, 300),
        )
    if "b" in wls:
        place(args, "b")
        log(f"(b) autocommit SELECT %s, 1 thread, {sizes['b']} ops per round")
        interleaved(
            "b",
            names,
            R,
            lambda n: CONTENDERS[n](1, autocommit=True),
            lambda c: run_select(c, sizes["b"]),
            res,
            warm_select(1, 300),
        )
    if "c" in wls:
        place(args, "c")
        log(
            f"(c) {th} threads on {args.maxconn} connections, {sizes['c_s']} s per round"
        )
        interleaved(
            "c",
            names,
            R,
            lambda n: CONTENDERS[n](args.maxconn),
            lambda c: run_select(c, 0, th, sizes["c_s"]),
            res,
            lambda c: run_select(c, 0, th, 0.2),
        )
    if "d" in wls:
        place(args, "d")
        log(
            f"(d) fetchall {sizes['d_rows']} rows x 6 columns, {sizes['d_reps']} per round"
        )
        interleaved(
            "d",
            names,
            R,
            lambda n: CONTENDERS[n](1),
            lambda c: run_fetch(c, sizes["d_rows"], sizes["d_reps"]),
            res,
            lambda c: run_fetch(c, sizes["d_rows"] // 10, 1),
        )
    if "e" in wls:
        place(args, "e")
        log(f"(e) executemany {sizes['e_rows']} rows, {sizes['e_reps']} per round")
        interleaved(
            "e",
            names,
            R,
            lambda n: CONTENDERS[n](1),
            lambda c: run_insert(c, sizes["e_rows"], sizes["e_reps"]),
            res,
            lambda c: run_insert(c, 200, 1),
        )
    if "f" in wls:
        place(args, "f")
        log(f"(f) checkout + return, {sizes['f']} ops per round")
        interleaved(
            "f",
            names,
            R,
            lambda n: CONTENDERS[n](1),
            lambda c: run_checkout(c, sizes["f"]),
            res,
        )
        interleaved(
            "f.cursor",
            with_pool_variant,
            R,
            lambda n: CONTENDERS[n](1),
            lambda c: run_checkout(c, sizes["f"] // 4, "cursor"),
            res,
        )
        if "pgpool" in names:
            interleaved(
                "f.connection",
                ["pgpool"],
                R,
                lambda n: CONTENDERS[n](1),
                lambda c: run_checkout(c, sizes["f"] // 4, "connection"),
                res,
            )
    if "g" in wls:
        place(args, "g")
        g: Dict[str, Any] = {}
        pcon: Dict[str, Any] = {}
        for n in names:
            cycles = sizes["g"] if n.startswith("pgpool") else sizes["g_peers"]
            log(
                f"(g) memory: {n}: {cycles:,} get_cursor() cycles, then {sizes['perconn']} connections"
            )
            try:
                g[n] = in_child("--_mem", n, cycles)
                pcon[n] = in_child("--_perconn", n, sizes["perconn"])
                log(
                    f"  [g] {n}: growth {g[n]['growth_mb']} MB ({g[n]['samples_mb']}), "
                    f"{pcon[n]['kb_per_conn']} KB/conn"
                )
            except RuntimeError as e:
                log(f"  [g] {n}: {e}")
                notes.append(
                    f"memory measurement of {n} failed: {str(e).splitlines()[0]}"
                )
        res["g"] = g
        res["g.perconn"] = pcon
        if (
            any(g.get(p) for p in PEERS)
            and g.get("pgpool")
            and g["pgpool"]["cycles"] != sizes["g_peers"]
        ):
            notes.append(
                f"memory growth: pgpool over {sizes['g']:,} cycles, the peers over "
                f"{sizes['g_peers']:,} (for reference; the target concerns pgpool)."
            )
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
        notes.append(
            f"other work used {other / run_s:.0%} of a CPU during the run (besides this "
            "benchmark and its server): figures are noisy, see the per-round ranges."
        )
    else:
        notes.append(
            f"other work on the machine during the run: {other / run_s:.0%} of a CPU."
        )
    elapsed = time.time() - t_start
    notes.append(
        f"run took {elapsed / 60:.1f} min; pool size 1 for single-thread workloads, "
        f"{args.maxconn} for (c); every pool opened (min = max) before its clock starts; "
        "psycopg2 retries getconn every 0.5 ms when exhausted; SQLAlchemy without pre_ping."
    )
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
