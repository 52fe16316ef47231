"""Drills that stop and restart the server: the database down when the pool starts, and
``pg_ctl restart -m fast`` under load. Marked ``restarts_server``: conftest.py runs them
after every other test (and fails a run that would not), and they always leave the
server running and PgBouncer serving again.

Needs ``PGPOOL_TEST_PGCTL`` (scripts/test-env exports it); skipped otherwise. Figures
are printed with ``-s`` (see tests/DRILLS.md).
"""

from __future__ import annotations

import os
import subprocess
import threading
import time
from typing import Any, Dict, Iterator, List, Tuple

import pytest

import pgpool

PGCTL = os.environ.get("PGPOOL_TEST_PGCTL", "")

pytestmark = pytest.mark.restarts_server


def _pgctl(*args: str) -> None:
    subprocess.run(
        [PGCTL, *args], check=True, timeout=120, capture_output=True, text=True
    )


def _server_up() -> bool:
    return subprocess.run([PGCTL, "status"], capture_output=True).returncode == 0


def _wait_ok(dsn: str, within: float) -> float:
    """Seconds until a fresh connection to ``dsn`` answers ``SELECT 1``."""
    start = time.monotonic()
    last: Exception | None = None
    while time.monotonic() - start < within:
        try:
            conn = pgpool.connect(dsn)
            try:
                with conn.cursor() as cur:
                    cur.execute("SELECT 1")
                    if cur.fetchone() == (1,):
                        return time.monotonic() - start
            finally:
                conn.close()
        except pgpool.Error as exc:
            last = exc
        time.sleep(0.05)
    raise AssertionError(f"{dsn} not answering after {within} s: {last}")


@pytest.fixture
def server(direct_dsn: str) -> Iterator[None]:
    """Control of the test server; afterwards it runs and PgBouncer serves again."""
    if not PGCTL:
        pytest.skip("PGPOOL_TEST_PGCTL is not set (run through scripts/test-env)")
    try:
        yield
    finally:
        if not _server_up():
            _pgctl("start", "-w")
        _wait_ok(direct_dsn, 30)
        bouncer = os.environ.get("PGBOUNCER_URL")
        if bouncer:
            _wait_ok(bouncer, 30)


def _report(name: str, **figures: Any) -> None:
    text = ", ".join(f"{k}={v}" for k, v in figures.items())
    print(f"\n[drill] {name}: {text}")


# ---------------------------------------------------------------------------
# 3. database down at start


def test_database_down_at_start_then_up(direct_dsn: str, server: None) -> None:
    _pgctl("stop", "-m", "fast", "-w")
    started = time.monotonic()
    pool = pgpool.Pool(direct_dsn, min_size=2, max_size=4, timeout=1.5)
    created = time.monotonic() - started
    try:
        assert created < 0.5, f"Pool() took {created:.2f} s with the database down"
        started = time.monotonic()
        with pytest.raises(pgpool.PoolTimeout) as info:
            pool.getconn()
        waited = time.monotonic() - started
        msg = str(info.value)
        assert 1.4 <= waited < 2.5, waited
        assert "couldn't get a connection after 1.50 sec" in msg, msg
        assert "last connection error" in msg and "refused" in msg.lower(), msg
        s = pool.stats()
        assert s["requests_timeouts"] == 1 and s["connections_errors"] >= 1, s

        _pgctl("start", "-w")
        up = time.monotonic()
        # The same pool works, without being recreated.
        with pool.cursor(timeout=10) as cur:
            cur.execute("SELECT %s::int + 1", (41,))
            assert cur.fetchone() == (42,)
        recovered = time.monotonic() - up
        pool.wait(10)  # min_size connections are back too
        assert pool.stats()["pool_size"] >= 2
    finally:
        pool.close()
    assert recovered < 2.0, recovered
    _report(
        "database down at start",
        pool_created_in=f"{created * 1000:.1f}ms",
        pool_timeout_after=f"{waited:.2f}s",
        error=msg.split("last connection error: ")[-1][:90],
        first_query_after_start=f"{recovered * 1000:.0f}ms",
    )


# ---------------------------------------------------------------------------
# 2. server restart under load


def _load(
    pool: pgpool.Pool, n: int, stop: threading.Event, log: List[Tuple[float, str]]
) -> None:
    """Queries with parameters until ``stop``; logs (time, "ok" | error class)."""
    i = 0
    while not stop.is_set():
        i += 1
        v = n * 1_000_000 + i
        try:
            with pool.cursor(timeout=10) as cur:
                cur.execute("SELECT %s::int8 * 2, %s::text", (v, str(v)))
                row = cur.fetchone()
            log.append((time.monotonic(), "ok" if row == (v * 2, str(v)) else "WRONG"))
        except pgpool.Error as exc:
            # OperationalError subclasses (AdminShutdown, ...) keep their own name
            name = type(exc).__name__
            if isinstance(exc, pgpool.OperationalError):
                name = f"OperationalError/{name}"
            log.append((time.monotonic(), name))
            time.sleep(0.01)


def test_server_restart_under_load(direct_dsn: str, server: None) -> None:
    bouncer = os.environ.get("PGBOUNCER_URL", "")
    routes: Dict[str, pgpool.Pool] = {
        "direct": pgpool.Pool(direct_dsn, min_size=4, max_size=8, timeout=10)
    }
    if bouncer:
        routes["pgbouncer"] = pgpool.Pool(bouncer, min_size=2, max_size=4, timeout=10)
    per_route = {"direct": 8, "pgbouncer": 4}
    stop = threading.Event()
    logs: Dict[str, List[List[Tuple[float, str]]]] = {}
    threads: List[threading.Thread] = []
    try:
        for route, pool in routes.items():
            pool.wait(10)
            logs[route] = [[] for _ in range(per_route[route])]
            for n, log in enumerate(logs[route]):
                t = threading.Thread(target=_load, args=(pool, n, stop, log))
                t.start()
                threads.append(t)
        time.sleep(1.0)
        t_restart = time.monotonic()
        _pgctl("restart", "-m", "fast", "-w")
        t_up = time.monotonic()  # pg_ctl -w returns once the server accepts connections
        time.sleep(3.0)
        # PgBouncer waits server_login_retry (3 s in deploy/pgbouncer) after a failed
        # server login (the server was starting): give its clients time to get through.
        limit = time.monotonic() + 8.0
        while time.monotonic() < limit and not all(
            any(t > t_up and k == "ok" for t, k in list(log))
            for per_thread in logs.values()
            for log in per_thread
        ):
            time.sleep(0.05)
        stop.set()
        for t in threads:
            t.join(20)
        assert not any(t.is_alive() for t in threads), "a thread hangs"
        stats = {route: pool.stats() for route, pool in routes.items()}
    finally:
        stop.set()
        for pool in routes.values():
            pool.close()

    figures: Dict[str, Any] = {"restart_took": f"{t_up - t_restart:.2f}s"}
    for route, per_thread in logs.items():
        events = sorted(e for log in per_thread for e in log)
        assert not [e for e in events if e[1] == "WRONG"], "a wrong result"
        errors = [e for e in events if e[1] != "ok"]
        kinds = sorted({e[1] for e in errors})
        assert all(
            k.startswith("OperationalError") or k in ("InterfaceError", "PoolTimeout")
            for k in kinds
        ), kinds
        base = [e for e in events if t_restart - 1.0 <= e[0] < t_restart]
        after = [e for e in events if t_up + 2.0 <= e[0] < t_up + 3.0]
        last_error = max((e[0] for e in errors), default=t_restart) - t_up
        # every thread works again after the restart
        back = []
        for n, log in enumerate(per_thread):
            oks = [t for t, k in log if t > t_up and k == "ok"]
            assert oks, (route, n, [(round(t - t_up, 2), k) for t, k in log[-8:]])
            back.append(oks[0] - t_up)
        ratio = len(after) / max(1, len(base))
        if route == "pgbouncer":
            # PgBouncer's own behaviour, not pgpool's: it waits server_login_retry
            # after a failed server login and reports each of its dead server
            # connections once ("server conn crashed?", 08P01). Bounded; nothing hangs.
            assert max(back) < 6.0, back
        if route == "direct":
            assert max(back) < 2.0, back
            assert all(k == "ok" for _, k in after), (route, after[:3])
            # recovered within 2 s of the server accepting connections
            assert last_error < 2.0, (
                f"errors until {last_error:.2f} s after the restart"
            )
            assert ratio >= 0.4, (
                f"throughput {len(after)}/s after vs {len(base)}/s before"
            )
            lost = stats[route]["connections_lost"] + stats[route]["returns_bad"]
            assert stats[route]["connections_lost"] >= 1, stats[route]
            assert lost >= 1
        first_ok = min(e[0] for e in events if e[0] > t_restart and e[1] == "ok")
        figures[route] = (
            f"errors={len(errors)} {kinds}, last_error={last_error:+.2f}s, "
            f"first_ok={first_ok - t_up:+.2f}s, all_threads_ok_by={max(back):+.2f}s, throughput {len(base)}/s before "
            f"-> {len(after)}/s at +2..3s, connections_lost="
            f"{stats[route]['connections_lost']}, returns_bad={stats[route]['returns_bad']}"
        )
    _report("server restart under load (relative to pg_ctl -w returning)", **figures)
