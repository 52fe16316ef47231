#!/usr/bin/env python3
"""SQLAlchemy's own tests against ``postgresql+pgpool://`` (sync and asyncio), beside the
stock drivers on the same server (issue 16 item 3).

What runs: from the sdist of the SQLAlchemy version in use (fetched from PyPI into
.tools/cache, never committed), ``test/dialect/postgresql`` (the
PostgreSQL backend tests) and ``test/dialect/test_suite.py`` (the dialect compliance
suite, ``sqlalchemy.testing.suite``), with ``--backend-only`` (the tests that talk to a
database: SQLAlchemy's ``__backend__`` tests; the pure SQL-compilation tests, which no
driver reaches, are left out unless ``--all``). Each driver runs in its own database:

- ``psycopg2``: ``postgresql+psycopg2://``, the stock dialect, SQLAlchemy's requirements;
- ``pgpool``: ``postgresql+pgpool://``, with our requirements class
  (pgpool_sa_requirements.py) and our plugin (pgpool_sa_plugin.py: psycopg2's
  driver-specific expectations apply to pgpool too);
- ``pgpool_async``: ``postgresql+pgpool_async://``, the same under SQLAlchemy's asyncio;
- ``psycopg_async``: ``postgresql+psycopg_async://``, for reference.

It prints the per-file table of passed/failed/skipped, and fails when a test that
passes for psycopg2 does not pass for pgpool or pgpool_async, unless it is listed in
tests/sqlalchemy/known-failures.txt; a listed test that now passes (or no longer
exists) fails too, so the list only shrinks. Needs DATABASE_URL (scripts/test-env).
"""

from __future__ import annotations

import argparse
import concurrent.futures
import os
import re
import subprocess
import sys
import time
import xml.etree.ElementTree as ET
from collections import Counter, defaultdict
from pathlib import Path
from typing import Dict, List, Set, Tuple

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))  # tests/sdist.py
import sdist  # noqa: E402

ROOT = HERE.parents[1]
CACHE = ROOT / ".tools" / "cache"
KNOWN = HERE / "known-failures.txt"

DRIVERS = {
    "psycopg2": "postgresql+psycopg2",
    "pgpool": "postgresql+pgpool",
    "pgpool_async": "postgresql+pgpool_async",
    "psycopg_async": "postgresql+psycopg_async",
}
#: The runs the gate checks, each against psycopg2's.
GATED = ("pgpool", "pgpool_async")
TARGETS = ["test/dialect/postgresql", "test/dialect/test_suite.py"]

_DRIVER_IN_ID = re.compile(
    r"postgresql\+(psycopg2|pgpool_async|pgpool|psycopg_async|psycopg)"
)


def log(msg: str) -> None:
    print(f"sqlalchemy-suite: {msg}", flush=True)


def sa_version(python: str, env: Dict[str, str]) -> str:
    out = subprocess.run(
        [python, "-c", "import sqlalchemy; print(sqlalchemy.__version__)"],
        check=True,
        capture_output=True,
        text=True,
        env=env,
    )
    return out.stdout.strip()


def fetch_sdist(python: str, version: str) -> Path:
    """SQLAlchemy's sdist, downloaded once from PyPI into .tools/cache (its sha256
    checked against PyPI's) and unpacked."""
    return sdist.fetch_sdist("SQLAlchemy", version, CACHE, "test/requirements.py", log)


def database_url(base: str, dbname: str) -> str:
    head, _, _ = base.rpartition("/")
    return f"{head}/{dbname}"


def prepare_database(admin_url: str, dbname: str) -> None:
    """A fresh database as SQLAlchemy's README.unittests asks: UTF8, the two test
    schemas, hstore and citext, English text search."""
    import psycopg2

    conn = psycopg2.connect(admin_url)
    conn.autocommit = True
    with conn.cursor() as cur:
        cur.execute(f'DROP DATABASE IF EXISTS "{dbname}" WITH (FORCE)')
        cur.execute(f"CREATE DATABASE \"{dbname}\" ENCODING 'utf8' TEMPLATE template0")
    conn.close()
    conn = psycopg2.connect(database_url(admin_url, dbname))
    conn.autocommit = True
    with conn.cursor() as cur:
        cur.execute("CREATE SCHEMA test_schema")
        cur.execute("CREATE SCHEMA test_schema_2")
        cur.execute("CREATE EXTENSION IF NOT EXISTS hstore")
        cur.execute("CREATE EXTENSION IF NOT EXISTS citext")
        cur.execute(
            f'ALTER DATABASE "{dbname}" SET default_text_search_config '
            "= 'pg_catalog.english'"
        )
    conn.close()


def run_driver(
    driver: str,
    sdist: Path,
    python: str,
    env: Dict[str, str],
    admin_url: str,
    out: Path,
    backend_only: bool,
    extra: List[str],
) -> Tuple[str, float, int]:
    dbname = f"pgpool_sa_{driver}"
    prepare_database(admin_url, dbname)
    url = DRIVERS[driver] + "://" + database_url(admin_url, dbname).split("://", 1)[1]
    xml = out / f"{driver}.xml"
    xml.unlink(missing_ok=True)  # a run that stops early must not report the last one's
    cmd = [
        python,
        # -s: the installed SQLAlchemy (compiled), not the sdist's lib/ (the sdist's
        # conftest only puts lib/ first when the user site is enabled)
        "-s",
        "-m",
        "pytest",
        "-q",
        "-p",
        "no:cacheprovider",
        "-p",
        "no:randomly",
        "--maxfail=1000000",
        "-o",
        "timeout=600",
        "--dburi",
        url,
        f"--junit-xml={xml}",
        # Paths among the extra arguments replace the default targets.
        *([] if any(a.startswith("test/") for a in extra) else TARGETS),
        *extra,
    ]
    if backend_only:
        cmd.append("--backend-only")
    if driver.startswith("pgpool"):
        cmd += [
            "-p",
            "pgpool_sa_plugin",
            "--requirements",
            "pgpool_sa_requirements:Requirements",
        ]
    renv = dict(env)
    renv["PYTHONPATH"] = os.pathsep.join(
        [str(HERE), str(sdist)] + [p for p in [env.get("PYTHONPATH", "")] if p]
    )
    t = time.monotonic()
    with open(out / f"{driver}.log", "w") as f:
        rc = subprocess.run(
            cmd, cwd=sdist, env=renv, stdout=f, stderr=subprocess.STDOUT
        ).returncode
    return driver, time.monotonic() - t, rc


_SERVER_IN_ID = re.compile(r"(postgresql\+DRIVER)_\d+_\d+")


def norm(test_id: str) -> str:
    """The test id without the driver and the server version SQLAlchemy puts in its
    backend-specific class names (``..._postgresql+psycopg2_15_18::``)."""
    return _SERVER_IN_ID.sub(r"\1", _DRIVER_IN_ID.sub("postgresql+DRIVER", test_id))


def parse(xml: Path) -> Dict[str, str]:
    """test id -> passed / failed / skipped."""
    results: Dict[str, str] = {}
    if not xml.exists():
        return results
    for tc in ET.parse(xml).getroot().iter("testcase"):
        cls = tc.get("classname", "")
        name = tc.get("name", "")
        path, _, klass = cls.rpartition(".")
        file = path.replace(".", "/") + ".py" if path else cls
        tid = norm(f"{file}::{klass}::{name}")
        tags = {child.tag for child in tc}
        if tags & {"failure", "error"}:
            outcome = "failed"
        elif "skipped" in tags:
            outcome = "skipped"
        else:
            outcome = "passed"
        # a teardown error after a pass makes a second entry: the worst one counts
        if results.get(tid) == "failed":
            continue
        results[tid] = outcome
    return results


def load_known() -> Dict[Tuple[str, str], str]:
    """(run, test id) -> reason."""
    known: Dict[Tuple[str, str], str] = {}
    if not KNOWN.exists():
        return known
    for line in KNOWN.read_text().splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        entry, _, reason = line.partition(" # ")
        run, _, tid = entry.strip().partition(" ")
        known[(run, tid.strip())] = reason.strip()
    return known


def table(all_results: Dict[str, Dict[str, str]], order: List[str]) -> str:
    per_file: Dict[str, Dict[str, Counter[str]]] = defaultdict(
        lambda: defaultdict(Counter)
    )
    for driver, res in all_results.items():
        for tid, outcome in res.items():
            per_file[tid.split("::", 1)[0]][driver][outcome] += 1
    head = f"{'file':<44}" + "".join(f"{d:>22}" for d in order)
    lines = [head, f"{'':<44}" + "".join(f"{'pass/fail/skip':>22}" for _ in order)]
    totals: Dict[str, Counter[str]] = defaultdict(Counter)
    for file in sorted(per_file):
        row = f"{file.replace('test/dialect/', ''):<44}"
        for d in order:
            c = per_file[file][d]
            totals[d].update(c)
            row += f"{c['passed']:>10}/{c['failed']}/{c['skipped']:<7}"[:22].rjust(22)
        lines.append(row)
    row = f"{'total':<44}"
    for d in order:
        c = totals[d]
        row += f"{c['passed']:>10}/{c['failed']}/{c['skipped']:<7}"[:22].rjust(22)
    lines.append(row)
    return "\n".join(lines)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument(
        "--drivers",
        default=",".join(DRIVERS),
        help="comma-separated subset of " + ", ".join(DRIVERS),
    )
    ap.add_argument(
        "--jobs", type=int, default=int(os.environ.get("SQLA_SUITE_JOBS", "2"))
    )
    ap.add_argument("--all", action="store_true", help="also the SQL-compilation tests")
    ap.add_argument(
        "--write-known",
        action="store_true",
        help="rewrite known-failures.txt from this run (keeps the reasons it had)",
    )
    ap.add_argument("pytest_args", nargs="*", help="more pytest arguments (-k ...)")
    args = ap.parse_args()

    admin_url = os.environ.get("DATABASE_URL")
    if not admin_url:
        log("DATABASE_URL is not set (run under scripts/test-env)")
        return 2
    python = sys.executable
    env = dict(os.environ)
    version = sa_version(python, env)
    sdist = fetch_sdist(python, version)
    out = CACHE / f"sa-runs-{version}"
    out.mkdir(parents=True, exist_ok=True)
    drivers = [d for d in args.drivers.split(",") if d]
    for d in drivers:
        if d not in DRIVERS:
            log(f"unknown driver {d}")
            return 2
    log(
        f"SQLAlchemy {version}: {' '.join(TARGETS)}"
        f"{'' if args.all else ' (--backend-only)'}; drivers {', '.join(drivers)}, "
        f"{args.jobs} at a time"
    )
    t0 = time.monotonic()
    with concurrent.futures.ThreadPoolExecutor(max_workers=max(args.jobs, 1)) as ex:
        futs = [
            ex.submit(
                run_driver,
                d,
                sdist,
                python,
                env,
                admin_url,
                out,
                not args.all,
                args.pytest_args,
            )
            for d in drivers
        ]
        for f in concurrent.futures.as_completed(futs):
            d, secs, rc = f.result()
            log(f"{d}: {secs:.0f} s (pytest exit {rc}; log {out / (d + '.log')})")
    results = {d: parse(out / f"{d}.xml") for d in drivers}
    print(table(results, drivers))
    log(f"wall time {time.monotonic() - t0:.0f} s")
    for d in drivers:
        if not results[d]:
            log(f"{d}: no results (see {out / (d + '.log')})")
            return 1

    if "psycopg2" not in results:
        return 0
    base = results["psycopg2"]
    known = load_known()
    regressions: List[Tuple[str, str]] = []
    for d in GATED:
        if d not in results:
            continue
        for tid, outcome in sorted(base.items()):
            if outcome == "passed" and results[d].get(tid) != "passed":
                regressions.append((d, tid))
    ok = True
    reg: Set[Tuple[str, str]] = set(regressions)
    if args.write_known:
        lines = (
            [ln for ln in KNOWN.read_text().splitlines() if ln.startswith("#")]
            if KNOWN.exists()
            else []
        )
        for d, tid in regressions:
            reason = known.get((d, tid), "TODO")
            lines.append(f"{d} {tid} # {reason}")
        KNOWN.write_text("\n".join(lines) + "\n")
        log(f"wrote {len(regressions)} entries to {KNOWN}")
    for d, tid in regressions:
        if (d, tid) not in known:
            ok = False
            log(
                f"REGRESSION {d}: {tid} passes for psycopg2, {results[d].get(tid, 'missing')} for {d}"
            )
    checked = {d for d in GATED if d in results}
    for (d, tid), reason in sorted(known.items()):
        if d in checked and (d, tid) not in reg and not args.pytest_args:
            ok = False
            log(
                f"LISTED BUT NOT FAILING {d}: {tid} ({reason}): remove it from {KNOWN.name}"
            )
    for d in GATED:
        if d in results:
            n = sum(1 for r, _ in regressions if r == d)
            log(f"{d}: {n} of psycopg2's passing tests not passing (all listed: {ok})")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
