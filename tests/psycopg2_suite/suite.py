#!/usr/bin/env python3
"""Run psycopg2's own test suite twice on one server: with psycopg2 and with pgpool.

    tests/psycopg2_suite/run [MODULE ...] [--only psycopg2|pgpool] [--update-known]
                             [--from-cache] [-v]

Needs DATABASE_URL (run it inside ``scripts/test-env``). What it does:

1. fetches psycopg2 2.9.10's sdist (``pip download --no-binary :all: --no-deps
   psycopg2==2.9.10``) and the psycopg2-binary 2.9.10 wheel into ``.cache/psycopg2-suite``
   (gitignored; nothing of psycopg2's is committed) and unpacks the sdist's ``tests/``;
2. for each variant creates a fresh database on the server (with the hstore extension,
   as psycopg2's CI has it) and runs every module of the suite in a child process:
   - ``psycopg2``: the psycopg2-binary 2.9.10 wheel first on ``sys.path``;
   - ``pgpool``: ``shim/psycopg2`` first on ``sys.path``: importing ``psycopg2`` calls
     ``pgpool.install_as_psycopg2()``, so the suite's ``import psycopg2.extras`` etc. get
     pgpool's modules (also in the subprocesses some tests start);
   each test runs on its own with a time limit; a child that crashes or hangs is
   restarted after the test it was running, which counts as failed;
3. prints a table per module (psycopg2 passed/failed/skipped, pgpool
   passed/failed/skipped/excluded) and applies the gate:
   - ``exclusions.txt``: tests not run for pgpool (``test_id  # reason``, at most 40,
     each with a reason and each listed in docs/python.md);
   - ``known-failures.txt``: tests pgpool does not pass yet. The gate fails when a test
     that psycopg2 passes does not pass with pgpool and is neither excluded nor known,
     and when a known failure now passes (shrink the list: progress is kept).
   ``--update-known`` rewrites known-failures.txt from this run instead.

Exit status 0 when the gate passes. ``-v`` prints each failure's traceback (the last
lines); the full outcomes are written to ``.cache/psycopg2-suite/results-<variant>.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import pathlib
import subprocess
import sys
import tarfile
import time
from typing import Dict, List, Optional, Tuple
from urllib.parse import unquote, urlsplit

HERE = pathlib.Path(__file__).resolve().parent
ROOT = HERE.parent.parent
CACHE = ROOT / ".cache" / "psycopg2-suite"
VERSION = "2.9.10"
SDIST_DIR = CACHE / f"psycopg2-{VERSION}"
BINARY_DIR = CACHE / f"psycopg2-binary-{VERSION}"
SHIM_DIR = HERE / "shim"
EXCLUSIONS = HERE / "exclusions.txt"
KNOWN = HERE / "known-failures.txt"
DOCS = ROOT / "docs" / "python.md"
MAX_EXCLUSIONS = 40

# Every module of the suite (tests/__init__.py's list).
MODULES = [
    "test_async",
    "test_bugX000",
    "test_bug_gc",
    "test_cancel",
    "test_connection",
    "test_copy",
    "test_cursor",
    "test_dates",
    "test_errcodes",
    "test_errors",
    "test_extras_dictcursor",
    "test_fast_executemany",
    "test_green",
    "test_ipaddress",
    "test_lobject",
    "test_module",
    "test_notify",
    "test_psycopg2_dbapi20",
    "test_quote",
    "test_replication",
    "test_sql",
    "test_transaction",
    "test_types_basic",
    "test_types_extras",
    "test_with",
]

# A test that takes longer than this is stopped (SIGALRM in the child) and fails; a
# child silent for TEST_TIMEOUT + 15 s is killed.
TEST_TIMEOUT = 30

PASS, FAIL, SKIP, EXCLUDED = "pass", "fail", "skip", "excluded"


# ---------------------------------------------------------------------------
# Fetching psycopg2


def _pip(*args: str) -> None:
    cmd = [sys.executable, "-m", "pip", "--disable-pip-version-check", "-q", *args]
    subprocess.run(cmd, check=True)


def fetch() -> None:
    """The sdist's tests and the psycopg2-binary wheel, in the cache (once)."""
    CACHE.mkdir(parents=True, exist_ok=True)
    if not (SDIST_DIR / "tests" / "testutils.py").exists():
        dl = CACHE / "download"
        dl.mkdir(exist_ok=True)
        tarball = dl / f"psycopg2-{VERSION}.tar.gz"
        if not tarball.exists():
            _pip(
                "download",
                "--no-binary",
                ":all:",
                "--no-deps",
                f"psycopg2=={VERSION}",
                "-d",
                str(dl),
            )
        with tarfile.open(tarball) as tf:
            members = [
                m
                for m in tf.getmembers()
                if m.name.startswith(f"psycopg2-{VERSION}/tests/") and m.isfile()
            ]
            tf.extractall(CACHE, members=members, filter="data")
    if not (BINARY_DIR / "psycopg2" / "__init__.py").exists():
        _pip(
            "install",
            "--no-deps",
            "--only-binary",
            ":all:",
            "--target",
            str(BINARY_DIR),
            f"psycopg2-binary=={VERSION}",
        )


# ---------------------------------------------------------------------------
# The child: runs the tests of one module, one at a time, reporting each


def child(module: str, variant: str, out: str, skip: List[str], exclude: List[str]):
    import signal
    import traceback
    import types
    import unittest
    import warnings

    # The tests' package, without its __init__ (which imports every module: one module
    # failing to import would take the others with it). __init__'s one other job:
    warnings.simplefilter("error")
    pkg = types.ModuleType("tests")
    pkg.__path__ = [str(SDIST_DIR / "tests")]
    sys.modules["tests"] = pkg

    report = open(out, "a", buffering=1)

    def emit(**rec: object) -> None:
        report.write(json.dumps(rec) + "\n")

    try:
        mod = __import__(f"tests.{module}", fromlist=["test_suite"])
        suite = mod.test_suite()
    except BaseException:
        emit(event="import_error", module=module, tb=traceback.format_exc())
        return

    def flatten(s: unittest.TestSuite) -> List[unittest.TestCase]:
        tests: List[unittest.TestCase] = []
        for t in s:
            if isinstance(t, unittest.TestSuite):
                tests.extend(flatten(t))
            else:
                tests.append(t)
        return tests

    class Alarm(BaseException):
        pass

    def on_alarm(signum: int, frame: object) -> None:
        raise Alarm(f"test took more than {TEST_TIMEOUT} s")

    signal.signal(signal.SIGALRM, on_alarm)

    class Result(unittest.TestResult):
        def __init__(self) -> None:
            super().__init__()
            self.outcome = PASS
            self.detail = ""

        def addError(self, test, err):  # type: ignore[no-untyped-def]
            self.outcome = FAIL
            self.detail = self._exc_info_to_string(err, test)

        def addFailure(self, test, err):  # type: ignore[no-untyped-def]
            self.outcome = FAIL
            self.detail = self._exc_info_to_string(err, test)

        def addSkip(self, test, reason):  # type: ignore[no-untyped-def]
            self.outcome = SKIP
            self.detail = reason

        def addExpectedFailure(self, test, err):  # type: ignore[no-untyped-def]
            self.outcome = PASS

        def addUnexpectedSuccess(self, test):  # type: ignore[no-untyped-def]
            self.outcome = FAIL
            self.detail = "unexpected success"

        def addSubTest(self, test, subtest, err):  # type: ignore[no-untyped-def]
            if err is not None:
                self.outcome = FAIL
                self.detail += self._exc_info_to_string(err, test)

    tests = flatten(suite)
    emit(event="listed", ids=[t.id() for t in tests])
    for test in tests:
        tid = test.id()
        if tid in skip:
            continue
        if tid in exclude:
            emit(event="end", id=tid, outcome=EXCLUDED, secs=0.0, detail="")
            continue
        emit(event="start", id=tid)
        result = Result()
        t0 = time.monotonic()
        signal.alarm(TEST_TIMEOUT)
        try:
            test(result)
        except Alarm as exc:  # raised outside the test's own try blocks
            result.outcome, result.detail = FAIL, str(exc)
        finally:
            signal.alarm(0)
        emit(
            event="end",
            id=tid,
            outcome=result.outcome,
            secs=round(time.monotonic() - t0, 3),
            detail=result.detail[-4000:],
        )
    emit(event="done")
    report.close()


# ---------------------------------------------------------------------------
# The parent


def read_list(path: pathlib.Path, need_reason: bool) -> Dict[str, str]:
    """``test_id  # reason`` lines (blank lines and ``#`` lines ignored)."""
    entries: Dict[str, str] = {}
    if not path.exists():
        return entries
    for n, line in enumerate(path.read_text().splitlines(), 1):
        text = line.strip()
        if not text or text.startswith("#"):
            continue
        tid, _, reason = text.partition("#")
        tid, reason = tid.strip(), reason.strip()
        if need_reason and not reason:
            raise SystemExit(f"{path.name}:{n}: {tid} has no reason")
        if tid in entries:
            raise SystemExit(f"{path.name}:{n}: {tid} listed twice")
        entries[tid] = reason
    return entries


def server_params() -> Dict[str, str]:
    url = os.environ.get("DATABASE_URL")
    if not url:
        raise SystemExit("DATABASE_URL is not set: run me inside scripts/test-env")
    u = urlsplit(url)
    params = {
        "host": u.hostname or "localhost",
        "port": str(u.port or 5432),
        "user": unquote(u.username or "postgres"),
        "dbname": unquote(u.path.lstrip("/")) or "postgres",
    }
    if u.password:
        params["password"] = unquote(u.password)
    return params


def fresh_database(params: Dict[str, str], name: str) -> bool:
    """Drop and create database ``name`` (with hstore), through the psycopg2 wheel.
    True when the server can serve the replication tests (wal_level = logical)."""
    script = (
        "import sys, psycopg2\n"
        "p = dict(a.split('=', 1) for a in sys.argv[2:])\n"
        "c = psycopg2.connect(**p); c.autocommit = True; cur = c.cursor()\n"
        "cur.execute('SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots'\n"
        "            ' WHERE database = %s', [sys.argv[1]])\n"
        "cur.execute('DROP DATABASE IF EXISTS %s WITH (FORCE)' % sys.argv[1])\n"
        "cur.execute('CREATE DATABASE %s' % sys.argv[1])\n"
        "cur.execute('SHOW wal_level'); print(cur.fetchone()[0]); c.close()\n"
        "p['dbname'] = sys.argv[1]\n"
        "c = psycopg2.connect(**p); c.autocommit = True\n"
        "c.cursor().execute('CREATE EXTENSION IF NOT EXISTS hstore'); c.close()\n"
    )
    env = dict(os.environ, PYTHONPATH=str(BINARY_DIR))
    args = [f"{k}={v}" for k, v in params.items()]
    proc = subprocess.run(
        [sys.executable, "-c", script, name, *args],
        env=env,
        check=True,
        stdout=subprocess.PIPE,
        text=True,
    )
    return proc.stdout.strip() == "logical"


def variant_env(
    variant: str, params: Dict[str, str], db: str, replication: bool
) -> Dict[str, str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("PG", "PSYCOPG2_")) or k.startswith("PGPOOL_TEST")
    }
    first = BINARY_DIR if variant == "psycopg2" else SHIM_DIR
    env["PYTHONPATH"] = os.pathsep.join([str(first), str(SDIST_DIR)])
    env["PSYCOPG2_TESTDB"] = db
    env["PSYCOPG2_TESTDB_HOST"] = params["host"]
    env["PSYCOPG2_TESTDB_PORT"] = params["port"]
    env["PSYCOPG2_TESTDB_USER"] = params["user"]
    if "password" in params:
        env["PSYCOPG2_TESTDB_PASSWORD"] = params["password"]
    # The replication tests need a server with wal_level = logical (they skip otherwise).
    if replication:
        env["PSYCOPG2_TEST_REPL_DSN"] = (
            f"host={params['host']} port={params['port']} user={params['user']} "
            f"dbname={db} replication=database"
        )
    env.pop("DATABASE_URL", None)
    env.pop("PGBOUNCER_URL", None)
    return env


def run_module(
    module: str, variant: str, env: Dict[str, str], exclude: List[str]
) -> Tuple[Dict[str, dict], Optional[str]]:
    """Outcomes of one module's tests ({id: record}) and an import error, if any."""
    out = CACHE / f"run-{variant}-{module}.jsonl"
    results: Dict[str, dict] = {}
    skip: List[str] = []
    while True:
        if out.exists():
            out.unlink()
        argv = [sys.executable, str(HERE / "suite.py"), "--child", module, variant]
        argv += ["--out", str(out)]
        spec = json.dumps({"skip": skip, "exclude": exclude})
        proc = subprocess.Popen(
            argv + ["--spec", spec],
            env=env,
            cwd=str(CACHE),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
        )
        last_size, last_change = -1, time.monotonic()
        killed = False
        while proc.poll() is None:
            time.sleep(0.05)
            size = out.stat().st_size if out.exists() else 0
            now = time.monotonic()
            if size != last_size:
                last_size, last_change = size, now
            elif now - last_change > TEST_TIMEOUT + 15:
                proc.kill()
                killed = True
        output = proc.stdout.read().decode("utf-8", "replace") if proc.stdout else ""
        proc.wait()
        current: Optional[str] = None
        done = False
        listed: List[str] = []
        for line in out.read_text().splitlines() if out.exists() else []:
            rec = json.loads(line)
            ev = rec["event"]
            if ev == "import_error":
                return results, rec["tb"]
            if ev == "listed":
                listed = rec["ids"]
            elif ev == "start":
                current = rec["id"]
            elif ev == "end":
                results[rec["id"]] = rec
                current = None
            elif ev == "done":
                done = True
        if done:
            return results, None
        if current is None:
            # Died outside a test (e.g. at import, or between tests).
            msg = (
                f"child exited with {proc.returncode} outside a test:\n{output[-3000:]}"
            )
            for tid in listed:
                results.setdefault(
                    tid, {"id": tid, "outcome": FAIL, "secs": 0, "detail": msg}
                )
            if not listed:
                return results, msg
            return results, None
        why = "hung (killed)" if killed else f"crashed (exit {proc.returncode})"
        results[current] = {
            "id": current,
            "outcome": FAIL,
            "secs": 0,
            "detail": f"the test process {why}:\n{output[-3000:]}",
        }
        skip = list(results)


def run_variant(
    variant: str, modules: List[str], params: Dict[str, str], exclude: List[str]
) -> Dict[str, dict]:
    db = "psycopg2_test_" + variant
    replication = fresh_database(params, db)
    env = variant_env(variant, params, db, replication)
    results: Dict[str, dict] = {}
    t0 = time.monotonic()
    for module in modules:
        t1 = time.monotonic()
        res, import_error = run_module(module, variant, env, exclude)
        if import_error is not None:
            results[f"tests.{module}"] = {
                "id": f"tests.{module}",
                "outcome": FAIL,
                "secs": 0,
                "detail": "import error:\n" + import_error,
                "import_error": True,
            }
        results.update(res)
        print(
            f"  {variant:8} {module:24} {len(res):4} tests  {time.monotonic() - t1:6.1f} s",
            file=sys.stderr,
        )
    print(
        f"  {variant}: {time.monotonic() - t0:.1f} s in all",
        file=sys.stderr,
        flush=True,
    )
    (CACHE / f"results-{variant}.json").write_text(json.dumps(results, indent=1))
    return results


def module_of(tid: str) -> str:
    return tid.split(".")[1]


def counts(results: Dict[str, dict], module: str) -> Dict[str, int]:
    c = {PASS: 0, FAIL: 0, SKIP: 0, EXCLUDED: 0}
    for tid, rec in results.items():
        if module_of(tid) == module and rec["outcome"] in c:
            c[rec["outcome"]] += 1
    return c


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("modules", nargs="*", help="modules to run (default: all)")
    ap.add_argument("--only", choices=["psycopg2", "pgpool"])
    ap.add_argument("--update-known", action="store_true")
    ap.add_argument(
        "--from-cache",
        action="store_true",
        help="do not run: report on the results of the last run",
    )
    ap.add_argument("-v", "--verbose", action="store_true")
    ap.add_argument("--child", nargs=2, metavar=("MODULE", "VARIANT"))
    ap.add_argument("--out")
    ap.add_argument("--spec")
    args = ap.parse_args()

    if args.child:
        spec = json.loads(args.spec)
        child(args.child[0], args.child[1], args.out, spec["skip"], spec["exclude"])
        return 0

    modules = args.modules or MODULES
    for m in modules:
        if m not in MODULES:
            raise SystemExit(f"unknown module {m!r}")
    exclusions = read_list(EXCLUSIONS, need_reason=True)
    known = read_list(KNOWN, need_reason=False)
    problems: List[str] = []
    if len(exclusions) > MAX_EXCLUSIONS:
        problems.append(f"{len(exclusions)} exclusions: at most {MAX_EXCLUSIONS}")
    docs = DOCS.read_text() if DOCS.exists() else ""
    for tid in exclusions:
        short = tid.split(".", 1)[1] if tid.startswith("tests.") else tid
        if short not in docs:
            problems.append(f"exclusion {tid} is not listed in docs/python.md")
        if tid in known:
            problems.append(f"{tid} is both excluded and a known failure")

    variants = [args.only] if args.only else ["psycopg2", "pgpool"]
    results: Dict[str, Dict[str, dict]] = {}
    if not args.from_cache:
        fetch()
        params = server_params()
        for variant in variants:
            # Exclusions are pgpool's: psycopg2 runs every test (the reference).
            excl = list(exclusions) if variant == "pgpool" else []
            results[variant] = run_variant(variant, modules, params, excl)
    for variant in ("psycopg2", "pgpool"):
        if variant not in results:
            path = CACHE / f"results-{variant}.json"
            results[variant] = json.loads(path.read_text()) if path.exists() else {}

    ref, mine = results["psycopg2"], results["pgpool"]
    # A module that does not import with pgpool: each of its tests (as psycopg2's run
    # lists them) counts as failed.
    for key, rec in list(mine.items()):
        if rec.get("import_error"):
            for tid in ref:
                if module_of(tid) == module_of(key) and tid not in mine:
                    out = EXCLUDED if tid in exclusions else FAIL
                    mine[tid] = {"id": tid, "outcome": out, "detail": rec["detail"]}
            del mine[key]
            mine[key + ".<import>"] = dict(rec, outcome="import_error")
    # The table
    hdr = (
        f"{'module':24} | {'psycopg2':^17} | {'pgpool':^25}\n"
        f"{'':24} | {'pass':>5} {'fail':>5} {'skip':>5} | "
        f"{'pass':>5} {'fail':>5} {'skip':>5} {'excl':>5}"
    )
    print(hdr)
    print("-" * len(hdr.splitlines()[1]))
    total_r = {PASS: 0, FAIL: 0, SKIP: 0, EXCLUDED: 0}
    total_m = dict(total_r)
    for module in modules:
        r, m = counts(ref, module), counts(mine, module)
        for k in total_r:
            total_r[k] += r[k]
            total_m[k] += m[k]
        print(
            f"{module:24} | {r[PASS]:5} {r[FAIL]:5} {r[SKIP]:5} | "
            f"{m[PASS]:5} {m[FAIL]:5} {m[SKIP]:5} {m[EXCLUDED]:5}"
        )
    print("-" * len(hdr.splitlines()[1]))
    print(
        f"{'total':24} | {total_r[PASS]:5} {total_r[FAIL]:5} {total_r[SKIP]:5} | "
        f"{total_m[PASS]:5} {total_m[FAIL]:5} {total_m[SKIP]:5} {total_m[EXCLUDED]:5}"
    )

    # The gate: every test psycopg2 passes passes with pgpool, unless excluded or known.
    wanted = sorted(
        t
        for t, rec in ref.items()
        if rec["outcome"] == PASS and module_of(t) in modules
    )

    def outcome(t: str) -> str:
        return mine[t]["outcome"] if t in mine else FAIL  # not run: its module broke

    failing = sorted(
        t for t in wanted if outcome(t) not in (PASS, EXCLUDED) and t not in known
    )
    import_errors = sorted(
        t[: -len(".<import>")] for t, rec in mine.items() if rec.get("import_error")
    )
    fixed = sorted(
        t for t in known if module_of(t) in modules and t in mine and outcome(t) == PASS
    )
    stale_excl = sorted(
        t
        for t in exclusions
        if module_of(t) in modules and ref and t not in ref and t not in mine
    )
    if args.update_known:
        keep = {t: r for t, r in known.items() if module_of(t) not in modules}
        now = {
            t: ""
            for t in wanted
            if outcome(t) not in (PASS, EXCLUDED) and t not in exclusions
        }
        keep.update(now)
        header = (
            "# psycopg2 2.9.10's tests that psycopg2 passes and pgpool does not pass yet\n"
            "# (tests/psycopg2_suite/run fails when one of them passes: remove it).\n"
            "# One test id per line; '# ...' after an id is a note.\n"
        )
        lines = [f"{t}  # {known[t]}" if known.get(t) else t for t in sorted(keep)]
        KNOWN.write_text(header + "\n".join(lines) + "\n")
        print(f"\nknown-failures.txt rewritten: {len(keep)} entries")
        return 0

    def show(title: str, ids: List[str]) -> None:
        if not ids:
            return
        print(f"\n{title} ({len(ids)}):")
        for t in ids:
            print(f"  {t}")
            if args.verbose and t in mine:
                for line in mine[t].get("detail", "").rstrip().splitlines()[-12:]:
                    print(f"      {line}")

    show("modules that fail to import with pgpool", import_errors)
    show("FAIL: psycopg2 passes, pgpool does not (not excluded, not known)", failing)
    show(
        "FAIL: known failures that pass now (remove them from known-failures.txt)",
        fixed,
    )
    show("FAIL: exclusions that name no test of the suite", stale_excl)
    for p in problems:
        print(f"FAIL: {p}")
    known_now = sum(1 for t in known if module_of(t) in modules and t in mine)
    print(
        f"\nknown failures: {known_now} (of {len(known)} listed); "
        f"exclusions: {len(exclusions)}"
    )
    bad = failing or fixed or stale_excl or problems
    print("psycopg2 suite gate:", "FAILED" if bad else "passed")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
