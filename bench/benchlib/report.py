"""Rounds, medians, the tables and the targets of the Markdown report."""

from __future__ import annotations

import argparse
import statistics
from typing import Any, Callable, Dict, List, Optional

from .common import PEER_LABEL, PEERS, log

# ---------------------------------------------------------------------------------------
# The plan: (key, contenders, how to build each, how to run it, which figures matter).

SIZES = {
    # Per round (every contender runs each round once). quick: ~1-2 minutes all in;
    # full: ~6-10 minutes on 2 cores.
    "quick": dict(
        rounds=5,
        a=1000,
        b=1000,
        c_s=0.6,
        d_rows=100_000,
        d_reps=1,
        e_rows=10_000,
        e_reps=1,
        f=50_000,
        g=20_000,
        g_peers=20_000,
        perconn=20,
        c_n=2000,
        c_rounds=7,
    ),
    "full": dict(
        rounds=7,
        a=4000,
        b=4000,
        c_s=2.0,
        d_rows=100_000,
        d_reps=2,
        e_rows=10_000,
        e_reps=2,
        f=200_000,
        g=1_000_000,
        g_peers=100_000,
        perconn=50,
        c_n=4000,
        c_rounds=15,
    ),
}


def interleaved(
    key: str,
    names: List[str],
    rounds: int,
    make: Callable[[str], Any],
    run: Callable[[Any], Dict[str, Any]],
    store: Dict[str, Any],
    warm: Optional[Callable[[Any], Any]] = None,
) -> None:
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
            order = names[r % len(names) :] + names[: r % len(names)]
            for name in order:
                res = run(insts[name])
                per.setdefault(name, []).append(res)
                log(f"  [{key}] round {r + 1}/{rounds} {name:13s} {short(res)}")
    finally:
        for inst in insts.values():
            inst.close()


def short(res: Dict[str, Any]) -> str:
    keys = (
        "ops_per_s",
        "p50_us",
        "p99_us",
        "max_us",
        "p99co_us",
        "thread_ops_min",
        "rows_per_s",
        "ms",
        "us_per_op",
    )
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

    def add(
        wid: str,
        label: str,
        metric: str,
        unit: str,
        up: bool,
        key: str,
        field: str,
        pg_name: str = "pgpool",
    ) -> None:
        per = res.get(key)
        if not per:
            return
        figs = {n: median_of(v, field) for n, v in per.items() if v}
        rows.append(
            {
                "id": wid,
                "workload": label,
                "metric": metric,
                "unit": unit,
                "better": "higher" if up else "lower",
                "pgpool": figs.get(pg_name),
                "peers": {p: figs.get(p) for p in PEERS},
                "key": key,
                "field": field,
                "pg_name": pg_name,
            }
        )

    add(
        "a",
        "get_cursor() + SELECT %s + fetchone + commit, 1 thread",
        "ops/s",
        "ops/s",
        True,
        "a",
        "ops_per_s",
    )
    add(
        "a.Pool",
        "  same, `with pool.cursor() as cur` (pgpool.Pool)",
        "ops/s",
        "ops/s",
        True,
        "a",
        "ops_per_s",
        "pgpool.Pool",
    )
    add("a.us", "  same, per block", "µs/op", "µs", False, "a", "us_per_op")
    add(
        "b",
        "same, autocommit (`get_cursor(autocommit=True)`)",
        "ops/s",
        "ops/s",
        True,
        "b",
        "ops_per_s",
    )
    add("c", "64 threads on 10 connections", "ops/s", "ops/s", True, "c", "ops_per_s")
    add("c.p50", "  64 threads: p50 latency", "p50 µs", "µs", False, "c", "p50_us")
    add("c.p99", "  64 threads: p99 latency", "p99 µs", "µs", False, "c", "p99_us")
    add(
        "c.p99co",
        "  64 threads: p99 latency, coordinated omission corrected",
        "p99 µs",
        "µs",
        False,
        "c",
        "p99co_us",
    )
    add(
        "c.p999", "  64 threads: p99.9 latency", "p99.9 µs", "µs", False, "c", "p999_us"
    )
    add("c.max", "  64 threads: worst latency", "max µs", "µs", False, "c", "max_us")
    add(
        "c.fair",
        "  64 threads: blocks done by the least served thread",
        "blocks",
        "",
        True,
        "c",
        "thread_ops_min",
    )
    add(
        "d",
        f"fetchall() {sizes['d_rows'] // 1000}k rows × (int8, text, float8, timestamptz, bool, numeric)",
        "rows/s",
        "rows/s",
        True,
        "d",
        "rows_per_s",
    )
    add("d.ms", "  same, per fetch", "ms", "ms", False, "d", "ms")
    add(
        "e",
        f"executemany() {sizes['e_rows'] // 1000}k-row INSERT",
        "rows/s",
        "rows/s",
        True,
        "e",
        "rows_per_s",
    )
    add("e.ms", "  same, per executemany", "ms", "ms", False, "e", "ms")
    add(
        "f",
        "checkout + return, no statement (getconn/putconn)",
        "µs/op",
        "µs",
        False,
        "f",
        "us_per_op",
    )
    add(
        "f.cursor",
        "  `with get_cursor(): pass` (peers: their cursor block, no statement)",
        "µs/op",
        "µs",
        False,
        "f.cursor",
        "us_per_op",
    )
    add(
        "f.Pool",
        "  `with pool.cursor(): pass` (pgpool.Pool)",
        "µs/op",
        "µs",
        False,
        "f.cursor",
        "us_per_op",
        "pgpool.Pool",
    )
    add(
        "f.connection",
        "  `with pool.connection(): pass`",
        "µs/op",
        "µs",
        False,
        "f.connection",
        "us_per_op",
    )
    for r in rows:
        pg = r["pgpool"]
        r["ratios"] = {
            p: (pg / v if (pg is not None and v) else None)
            for p, v in r["peers"].items()
        }
    # memory
    g = res.get("g", {})
    if g:
        rows.append(
            {
                "id": "g",
                "workload": "RSS growth over get_cursor() cycles (SELECT %s + fetchone)",
                "metric": "MB",
                "unit": "MB",
                "better": "lower",
                "pgpool": g.get("pgpool", {}).get("growth_mb"),
                "peers": {p: g.get(p, {}).get("growth_mb") for p in PEERS},
                "cycles": {n: v.get("cycles") for n, v in g.items()},
                "ratios": {},
            }
        )
    pc = res.get("g.perconn", {})
    if pc:
        pg = pc.get("pgpool", {}).get("kb_per_conn")
        peers = {p: pc.get(p, {}).get("kb_per_conn") for p in PEERS}
        rows.append(
            {
                "id": "g.conn",
                "workload": "client RSS per open connection",
                "metric": "KB",
                "unit": "KB",
                "better": "lower",
                "pgpool": pg,
                "peers": peers,
                "ratios": {
                    p: (pg / v if (pg is not None and v) else None)
                    for p, v in peers.items()
                },
            }
        )
    return rows


def find(rows: List[Dict[str, Any]], rid: str) -> Optional[Dict[str, Any]]:
    return next((r for r in rows if r["id"] == rid), None)


def targets(
    rows: List[Dict[str, Any]], res: Dict[str, Any], sizes: Dict[str, int]
) -> List[Dict[str, Any]]:
    out: List[Dict[str, Any]] = []

    def ratio_target(
        rid: str, peer: str, need: float, text: str, at_least: bool = True
    ) -> None:
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
            per = [
                a[r["field"]] / b[r["field"]]
                for a, b in zip(pg_r, peer_r)
                if b[r["field"]]
            ]
            if per:
                spread = [round(min(per), 3), round(max(per), 3)]
                agree = sum(1 for x in per if (x >= need if at_least else x <= need))
                ftext += f" (rounds {min(per):.2f}–{max(per):.2f}, {agree}/{len(per)} meet it)"
                rounds_ok = (agree, len(per))
        out.append(
            {
                "target": text,
                "figure": None if v is None else round(v, 3),
                "rounds_range": spread,
                "rounds_meeting": rounds_ok,
                "figure_text": ftext,
                "met": met,
            }
        )

    ratio_target(
        "a", "psycopg2", 1.45, "(a) get_cursor block, 1 thread: ≥ 1.45x psycopg2 ops/s"
    )
    ratio_target(
        "c", "psycopg2", 2.5, "(c) 64 threads / 10 conns: ≥ 2.5x psycopg2 ops/s"
    )
    ratio_target(
        "c",
        "sqlalchemy",
        1.5,
        "(c) 64 threads / 10 conns: ≥ 1.5x SQLAlchemy QueuePool ops/s",
    )
    ratio_target(
        "c", "psycopg_pool", 1.5, "(c) 64 threads / 10 conns: ≥ 1.5x psycopg_pool ops/s"
    )
    ratio_target(
        "c.p99co",
        "psycopg2",
        0.2,
        "(c) p99 latency ≤ 1/5 of psycopg2's (pgpool/psycopg2 ≤ 0.20x; coordinated omission corrected)",
        at_least=False,
    )
    ratio_target(
        "d", "psycopg2", 1.3, "(d) fetchall 100k rows × 6 types: ≥ 1.3x psycopg2"
    )
    ratio_target(
        "e", "psycopg_pool", 1.2, "(e) executemany 10k rows: ≥ 1.2x psycopg_pool"
    )
    f = find(rows, "f")
    v = f["pgpool"] if f else None
    out.append(
        {
            "target": "(f) checkout + return from Python: ≤ 0.5 µs",
            "figure": v,
            "figure_text": "—" if v is None else f"{v:.3f} µs",
            "met": None if v is None else v <= 0.5,
        }
    )
    cb = res.get("C", {})
    if "libpq" in cb and "pgpool_exec" in cb:
        ratio = cb["pgpool_exec"]["us_per_op"] / cb["libpq"]["us_per_op"]
        out.append(
            {
                "target": "(C) pgpool_exec on a held connection: ≤ 1.1x libpq PQexecParams",
                "figure": round(ratio, 3),
                "figure_text": f"{ratio:.2f}x ({cb['pgpool_exec']['us_per_op']:.1f} vs {cb['libpq']['us_per_op']:.1f} µs)",
                "met": ratio <= 1.1,
            }
        )
    else:
        out.append(
            {
                "target": "(C) pgpool_exec on a held connection: ≤ 1.1x libpq PQexecParams",
                "figure": None,
                "figure_text": cb.get("skipped", "—"),
                "met": None,
            }
        )
    g = res.get("g", {}).get("pgpool")
    if g:
        full = g["cycles"] >= 1_000_000
        met = g["growth_mb"] < 10 if full else None
        text = f"{g['growth_mb']:.2f} MB over {g['cycles']:,} cycles"
        if not full:
            text += " (the target needs 1M: run `make bench`)"
        out.append(
            {
                "target": "(g) RSS growth < 10 MB over 1M get_cursor() cycles",
                "figure": g["growth_mb"],
                "figure_text": text,
                "met": met,
            }
        )
    else:
        out.append(
            {
                "target": "(g) RSS growth < 10 MB over 1M get_cursor() cycles",
                "figure": None,
                "figure_text": "—",
                "met": None,
            }
        )
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


def markdown(
    rows: List[Dict[str, Any]],
    tgts: List[Dict[str, Any]],
    res: Dict[str, Any],
    mach: Dict[str, Any],
    args: argparse.Namespace,
    notes: List[str],
) -> str:
    L: List[str] = []
    mode = "quick" if args.quick else "full"
    L.append(
        f"### pgpool benchmark ({mode} run, median of {args.rounds} interleaved rounds)"
    )
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
        L.append(
            "CPU placement: "
            + "; ".join(f"{d} for ({', '.join(w)})" for d, w in groups.items())
            + " (a round trip across this VM's vCPUs costs 80-220 µs at random, on one CPU ~24 µs:"
            " latency-bound workloads run on one CPU so that every contender pays the same)."
        )
    L.append("")
    L.append(
        "Each peer cell: the peer's figure, then (pgpool ÷ peer). ↑ higher is better "
        "(pgpool ahead when the ratio is > 1); ↓ lower is better (pgpool ahead when < 1)."
    )
    L.append("")
    L.append(
        "| Workload | | pgpool | " + " | ".join(PEER_LABEL[p] for p in PEERS) + " |"
    )
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
        L.append(
            f"| {label} | {r['metric']} {arrow} | **{fmt(r['pgpool'])}** | "
            + " | ".join(cells)
            + " |"
        )
    cb = res.get("C", {})
    L.append("")
    if "libpq" in cb:
        L.append(
            f"C, `SELECT $1` with one text parameter on one connection ({cb['libpq']['n']:,} statements "
            f"× {cb['libpq']['rounds']} interleaved rounds, median):"
        )
        L.append("")
        L.append("| C loop | µs/op ↓ | vs libpq |")
        L.append("|---|---:|---:|")
        base = cb["libpq"]["us_per_op"]
        for mode_, label in (
            ("libpq", "libpq `PQexecParams` + `PQgetvalue`"),
            (
                "pgpool_exec",
                "`pgpool_exec` + `pgpool_result_value` on a held `pgpool_conn`",
            ),
            ("pgpool_cycle", "`pgpool_acquire` + `pgpool_exec` + `pgpool_release`"),
        ):
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
