"""deploy/pgbouncer's scripts (seed 004's monitor-pgbouncer.sh and health-check.sh)
against the harness's real PgBouncer, with pgpool's figures served the way an
application serves them (``pool.prometheus()`` on an HTTP endpoint)."""

from __future__ import annotations

import http.server
import os
import pathlib
import shutil
import subprocess
import threading
import time
from typing import Dict, Iterator, Tuple
from urllib.parse import urlsplit

import pytest

import pgpool

ROOT = pathlib.Path(__file__).resolve().parents[2]
MONITOR = ROOT / "deploy" / "pgbouncer" / "monitor-pgbouncer.sh"
HEALTH = ROOT / "deploy" / "pgbouncer" / "health-check.sh"
PGBOUNCER_URL = os.environ.get("PGBOUNCER_URL", "")
pytestmark = pytest.mark.skipif(
    not PGBOUNCER_URL or not shutil.which("psql"),
    reason="needs the harness's PgBouncer and psql",
)


def _env(**extra: str) -> Dict[str, str]:
    u = urlsplit(PGBOUNCER_URL)
    env = dict(os.environ)
    env.update(
        PGBOUNCER_HOST=u.hostname or "127.0.0.1",
        PGBOUNCER_PORT=str(u.port),
        PGBOUNCER_ADMIN_USER=u.username or "postgres",
    )
    env.update(extra)
    return env


def _run(script: pathlib.Path, *args: str, **env: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [str(script), *args],
        env=_env(**env),
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_health_check_passes_and_names_the_failing_check():
    pidfile = os.path.join(os.environ.get("PGPOOL_TEST_TMPDIR", ""), "pgbouncer.pid")
    r = _run(HEALTH, PGBOUNCER_PIDFILE=pidfile)
    assert r.returncode == 0, r.stderr
    assert [line.split(":")[0] for line in r.stdout.splitlines()] == [
        "ok   process",
        "ok   admin console",
        "ok   query",
    ], r.stdout
    assert "PgBouncer 1." in r.stdout
    assert _run(HEALTH, "-q", PGBOUNCER_PIDFILE=pidfile).stdout == ""

    r = _run(HEALTH, PGBOUNCER_PIDFILE="/nonexistent/pgbouncer.pid")
    assert r.returncode == 1 and "FAIL process" in r.stderr, r.stderr
    r = _run(HEALTH, PGBOUNCER_PIDFILE=pidfile, PGBOUNCER_PORT="1")
    assert r.returncode == 1 and "FAIL admin console" in r.stderr, r.stderr
    r = _run(HEALTH, PGBOUNCER_PIDFILE=pidfile, PGBOUNCER_DATABASE="no_such_db")
    assert r.returncode == 1 and "FAIL query" in r.stderr, r.stderr


@pytest.fixture
def metrics() -> Iterator[Tuple[str, pgpool.Pool]]:
    """A pgpool pool through PgBouncer and its Prometheus endpoint."""
    pool = pgpool.Pool(PGBOUNCER_URL, min_size=0, max_size=1, name="app")

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 - http.server's name
            body = pool.prometheus().encode()
            self.send_response(200)
            self.send_header("Content-Type", "text/plain; version=0.0.4")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    t = threading.Thread(target=srv.serve_forever, daemon=True)
    t.start()
    try:
        yield f"http://127.0.0.1:{srv.server_address[1]}/metrics", pool
    finally:
        srv.shutdown()
        pool.close()


def test_monitor_shows_both_sides_and_alerts_on_a_waiting_client(metrics):
    url, pool = metrics
    with pool.cursor() as cur:  # a PgBouncer pool for the database exists now
        cur.execute("SELECT 1")
    r = _run(MONITOR, "--summary", "--pgpool-metrics", url)
    assert r.returncode == 0, (r.stdout, r.stderr)
    lines = r.stdout.splitlines()
    assert lines[0] == "PgBouncer (SHOW POOLS):"
    assert any(
        line.split()[0] == "postgres" and "clients active" in line for line in lines
    ), r.stdout
    app = [line for line in lines if line.split()[:1] == ["app"]]
    assert len(app) == 1 and "xacts committed 1" in app[0], r.stdout

    # A client of the application's pool waits: pgpool's side alerts (PgBouncer's
    # does not: nobody waits there).
    held = pool.getconn()
    waiter = threading.Thread(target=lambda: pool.putconn(pool.getconn(timeout=30)))
    waiter.start()
    try:
        deadline = time.monotonic() + 5
        while pool.stats()["requests_waiting"] < 1 and time.monotonic() < deadline:
            time.sleep(0.01)
        time.sleep(0.3)
        r = _run(MONITOR, "--pgpool-metrics", url, "--max-wait", "0.2")
        assert r.returncode == 2, (r.stdout, r.stderr)
        alerts = [line for line in r.stdout.splitlines() if "ALERT" in line]
        assert len(alerts) == 1 and alerts[0].lstrip().startswith("ALERT pgpool app"), (
            r.stdout
        )
        assert (
            _run(MONITOR, "--pgpool-metrics", url, "--max-wait", "60").returncode == 0
        )
    finally:
        pool.putconn(held)
        waiter.join(10)


def test_monitor_views_and_unreachable_endpoints():
    r = _run(MONITOR, "--pools")
    assert r.returncode == 0 and "cl_waiting" in r.stdout and "maxwait" in r.stdout, r
    r = _run(MONITOR, "--stats")
    assert r.returncode == 0 and "total_xact_count" in r.stdout, r
    r = _run(MONITOR, "--pgpool-metrics", "http://127.0.0.1:1/metrics")
    assert r.returncode == 1 and "cannot read pgpool's metrics" in r.stderr, r
    r = _run(MONITOR, PGBOUNCER_PORT="1")
    assert r.returncode == 1 and "cannot reach PgBouncer" in r.stderr, r
    r = _run(MONITOR, "--bogus")
    assert r.returncode == 64
