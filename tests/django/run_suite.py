#!/usr/bin/env python3
"""Django's own tests for the database backend against ``pgpool.django``, beside Django's
stock PostgreSQL backend on psycopg2, on the same server (issue 16 item 4).

What runs: from the sdist of the Django version in use (fetched from PyPI's index into
.tools/cache, its sha256 checked, never committed), ``tests/runtests.py`` with the
backend-relevant apps (``APPS`` below, or those given), once per backend, each in
databases of its own:

- ``psycopg2``: ``django.db.backends.postgresql`` with psycopg2 (psycopg 3 hidden, as
  Django prefers it when it can import it);
- ``pgpool``: ``pgpool.django`` (pgpool installed as psycopg2, connections from
  pgpool's pool).

It prints per-app passed/failed/skipped for both, and fails when a test that passes with
psycopg2 does not pass with pgpool, unless it is listed in tests/django/known-failures.txt
(with its reason); a listed test that passes fails the gate too, so the list only shrinks.
Needs DATABASE_URL (scripts/test-env).
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Dict, List, Tuple
from urllib.parse import unquote, urlsplit

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))  # tests/sdist.py
import sdist  # noqa: E402

ROOT = HERE.parents[1]
CACHE = ROOT / ".tools" / "cache"
KNOWN = HERE / "known-failures.txt"

APPS = [
    "backends",
    "postgres_tests",
    "transactions",
    "transaction_hooks",
    "queries",
    "basic",
    "model_fields",
    "select_for_update",
    "db_functions",
]
BACKENDS = {
    "psycopg2": "django.db.backends.postgresql",
    "pgpool": "pgpool.django",
}

SETTINGS = """
import sys
if {hide_psycopg3!r}:
    sys.modules["psycopg"] = None  # Django's backend then uses psycopg2
else:
    import pgpool.django  # noqa: F401  (psycopg 3 is installed: docs/python.md, Django)
_DB = {{
    "ENGINE": {engine!r},
    "NAME": {name!r},
    "USER": {user!r},
    "PASSWORD": {password!r},
    "HOST": {host!r},
    "PORT": {port!r},
}}
DATABASES = {{
    "default": {{**_DB, "TEST": {{"NAME": {test_name!r}}}}},
    "other": {{**_DB, "TEST": {{"NAME": {test_other!r}}}}},
}}
SECRET_KEY = "django_tests_secret_key"
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
DEFAULT_AUTO_FIELD = "django.db.models.AutoField"
USE_TZ = False
"""

RESULT = re.compile(
    r"^(?P<name>\w+) \((?P<where>[\w.]+)\)(?:\n.*)?? \.\.\. (?P<outcome>ok|FAIL|ERROR|skipped.*|expected failure|unexpected success)$",
    re.M,
)


def log(msg: str) -> None:
    print(f"django-suite: {msg}", flush=True)


def fetch_sdist(version: str) -> Path:
    """Django's sdist, downloaded once from PyPI (sha256 checked) and unpacked."""
    return sdist.fetch_sdist("Django", version, CACHE, "tests/runtests.py", log)


def run_backend(
    backend: str, sdist: Path, python: str, url: str, apps: List[str], parallel: int
) -> Tuple[Dict[str, str], str]:
    """Runs Django's runtests.py for ``backend``: test id -> outcome, and the output."""
    u = urlsplit(url)
    settings = SETTINGS.format(
        hide_psycopg3=backend == "psycopg2",
        engine=BACKENDS[backend],
        name=unquote(u.path.lstrip("/")) or "postgres",
        user=unquote(u.username or ""),
        password=unquote(u.password or ""),
        host=u.hostname or "",
        port=str(u.port or ""),
        test_name=f"test_django_{backend}",
        test_other=f"test_django_{backend}_other",
    )
    with tempfile.TemporaryDirectory() as tmp:
        Path(tmp, f"settings_{backend}.py").write_text(settings)
        env = dict(os.environ)
        inherited = [
            os.path.abspath(p) for p in env.get("PYTHONPATH", "").split(os.pathsep) if p
        ]  # absolute: runtests.py runs in the sdist's tests/
        env["PYTHONPATH"] = os.pathsep.join([tmp, str(ROOT / "python"), *inherited])
        cmd = [
            python,
            "runtests.py",
            f"--settings=settings_{backend}",
            f"--parallel={parallel}",
            "--noinput",
            "-v",
            "2",
            *apps,
        ]
        log(f"{backend}: {' '.join(cmd[1:])}")
        t = time.monotonic()
        p = subprocess.run(
            cmd,
            cwd=sdist / "tests",
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            timeout=3600,
        )
        log(f"{backend}: exit {p.returncode} in {time.monotonic() - t:.0f} s")
    out = p.stdout
    results: Dict[str, str] = {}
    for m in RESULT.finditer(out):
        outcome = m.group("outcome")
        kind = (
            "pass"
            if outcome in ("ok", "expected failure")
            else "skip"
            if outcome.startswith("skipped")
            else "fail"
        )
        where, name = m.group("where"), m.group("name")
        # Django 5 prints the full id in the parentheses, 4.2 the class only.
        test_id = where if where.endswith(f".{name}") else f"{where}.{name}"
        results[test_id] = kind
    if not results:
        sys.stdout.write(out[-5000:])
        raise SystemExit(f"{backend}: no test results in the output")
    return results, out


def load_known() -> Dict[str, str]:
    known: Dict[str, str] = {}
    if KNOWN.exists():
        for line in KNOWN.read_text().splitlines():
            line = line.strip()
            if not line or line.startswith("#"):
                continue
            test, _, reason = line.partition("#")
            known[test.strip()] = reason.strip()
    return known


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument(
        "apps", nargs="*", help=f"Django test apps (default: {' '.join(APPS)})"
    )
    ap.add_argument("--parallel", type=int, default=2)
    ap.add_argument("--python", default=sys.executable)
    ap.add_argument(
        "-v", "--verbose", action="store_true", help="print failures' output"
    )
    args = ap.parse_args()
    url = os.environ.get("DATABASE_URL")
    if not url:
        raise SystemExit("DATABASE_URL is not set: run inside scripts/test-env")
    import django

    sdist = fetch_sdist(django.__version__)
    apps = args.apps or APPS
    results: Dict[str, Dict[str, str]] = {}
    outputs: Dict[str, str] = {}
    for backend in BACKENDS:
        results[backend], outputs[backend] = run_backend(
            backend, sdist, args.python, url, apps, args.parallel
        )
        (CACHE / f"django-suite-{backend}.log").write_text(outputs[backend])

    # Per-app table.
    print(f"\nDjango {django.__version__}'s tests ({', '.join(apps)})")
    print(
        f"{'app':<22} | {'psycopg2 pass/fail/skip':>24} | {'pgpool pass/fail/skip':>22}"
    )
    print("-" * 74)
    totals = {b: Counter() for b in BACKENDS}
    for app in sorted({t.split(".")[0] for r in results.values() for t in r}):
        cells = []
        for b in BACKENDS:
            c = Counter(v for t, v in results[b].items() if t.split(".")[0] == app)
            totals[b].update(c)
            cells.append(f"{c['pass']}/{c['fail']}/{c['skip']}")
        print(f"{app:<22} | {cells[0]:>24} | {cells[1]:>22}")
    print("-" * 74)
    cells = [
        f"{totals[b]['pass']}/{totals[b]['fail']}/{totals[b]['skip']}" for b in BACKENDS
    ]
    print(f"{'total':<22} | {cells[0]:>24} | {cells[1]:>22}")

    known = load_known()
    ours, theirs = results["pgpool"], results["psycopg2"]
    regressions = sorted(
        t
        for t, v in theirs.items()
        if v == "pass" and ours.get(t) != "pass" and t not in known
    )
    # (The list covers every Django series run: a test absent from this one is skipped.)
    stale = sorted(t for t in known if ours.get(t) == "pass")
    ok = True
    if regressions:
        ok = False
        print(f"\nFAIL: pass with psycopg2, not with pgpool ({len(regressions)}):")
        for t in regressions:
            print(f"  {t}: {ours.get(t, 'missing')}")
    if stale:
        ok = False
        print(f"\nFAIL: listed in {KNOWN.name} but passing now ({len(stale)}):")
        for t in stale:
            print(f"  {t}")
    if args.verbose and regressions:
        print(outputs["pgpool"][-20000:])
    print(
        f"\nknown failures: {len(known)}; Django suite gate: {'passed' if ok else 'FAILED'}"
    )
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
