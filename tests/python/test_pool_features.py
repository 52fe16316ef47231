"""Pool features of the Python face: Ctrl-C while waiting for a
connection, ``readonly`` routing to replicas with fallback to the primary, leak warnings
with the acquiring stack on the logger ``pgpool``, silence by default, the Prometheus
exposition, and connections dropped without being returned."""

from __future__ import annotations

import gc
import logging
import pathlib
import signal
import socket
import subprocess
import sys
import textwrap
import threading
import time
from typing import Any, Callable, Dict, Iterator, List

import pytest

import pgpool

# ---------------------------------------------------------------------------
# helpers


def _closed_port() -> int:
    """A local TCP port nobody listens on (connecting is refused at once)."""
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = int(s.getsockname()[1])
    s.close()
    return port


def _unreachable_dsn() -> str:
    return f"postgresql://postgres@127.0.0.1:{_closed_port()}/postgres"


def _with_app_name(dsn: str, name: str) -> str:
    """The same server, with an ``application_name`` to tell connections apart."""
    return dsn + ("&" if "?" in dsn else "?") + f"application_name={name}"


def _app_name(cur: Any) -> str:
    cur.execute("SHOW application_name")
    return str(cur.fetchone()[0])


@pytest.fixture
def sigint_raises() -> Iterator[None]:
    """Python's default SIGINT handler (KeyboardInterrupt), on the main thread."""
    if threading.current_thread() is not threading.main_thread():
        pytest.skip("signals are only handled on the main thread")
    old = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, old)


def _interrupt_wait(wait: Callable[[], Any], delay: float = 0.3) -> float:
    """Runs ``wait()`` on the main thread, sends it SIGINT after ``delay`` from a timer
    thread, checks KeyboardInterrupt is raised; returns the seconds from the signal to the
    exception."""
    main = threading.main_thread().ident
    assert main is not None
    sent: List[float] = []

    def interrupt() -> None:
        sent.append(time.monotonic())
        signal.pthread_kill(main, signal.SIGINT)

    timer = threading.Timer(delay, interrupt)
    timer.start()
    try:
        with pytest.raises(KeyboardInterrupt):
            wait()
        raised = time.monotonic()
    finally:
        # Never leave a SIGINT in flight past this point (it would stop the session).
        timer.cancel()
        timer.join()
    assert sent, "the wait ended before the signal was sent"
    return raised - sent[0]


# ---------------------------------------------------------------------------
# Ctrl-C while waiting for a connection


@pytest.mark.parametrize("how", ["getconn", "cursor", "connection"])
def test_ctrl_c_while_waiting_for_a_connection(
    dsn: str, admin: object, sigint_raises: None, how: str
) -> None:
    with pgpool.Pool(dsn, min_size=1, max_size=1, timeout=30) as pool:
        held = pool.getconn()
        waits: Dict[str, Callable[[], Any]] = {
            "getconn": lambda: pool.getconn(timeout=20),
            "cursor": lambda: pool.cursor(timeout=20).__enter__(),
            "connection": lambda: pool.connection(20).__enter__(),
        }
        latency = _interrupt_wait(waits[how])
        assert latency < 1.0, f"KeyboardInterrupt {latency:.2f} s after SIGINT"

        # The pool is unharmed: nobody waits, nothing leaked, the slot is usable again.
        s = pool.stats()
        assert s["requests_waiting"] == 0
        assert s["in_use"] == 1
        assert s["requests_timeouts"] == 0
        pool.putconn(held)
        with pool.cursor(timeout=5) as cur:
            cur.execute("SELECT 1")
            assert cur.fetchone() == (1,)
        assert pool.stats()["in_use"] == 0


def test_ctrl_c_while_waiting_for_a_replica(
    direct_dsn: str, admin: object, sigint_raises: None
) -> None:
    replica = _with_app_name(direct_dsn, "pgpool_replica")
    with pgpool.Pool(
        direct_dsn, min_size=0, max_size=1, timeout=30, replicas=[replica]
    ) as pool:
        hold = pool.connection(readonly=True)
        conn = hold.__enter__()
        with conn.cursor() as cur:
            assert _app_name(cur) == "pgpool_replica"
        latency = _interrupt_wait(
            lambda: pool.connection(20, readonly=True).__enter__()
        )
        assert latency < 1.0
        hold.__exit__(None, None, None)
        with pool.cursor(readonly=True, timeout=5) as cur:
            assert _app_name(cur) == "pgpool_replica"


# ---------------------------------------------------------------------------
# readonly routing


def test_readonly_without_replicas_uses_the_primary(dsn: str, admin: object) -> None:
    with pgpool.Pool(dsn, min_size=0, max_size=2) as pool:
        with pool.cursor(readonly=True) as cur:
            cur.execute("SHOW transaction_read_only")
            assert cur.fetchone() == ("on",)
        with pool.connection(readonly=True) as conn:
            with conn.cursor() as cur:
                cur.execute("SHOW transaction_read_only")
                assert cur.fetchone() == ("on",)
        with pool.cursor() as cur:
            cur.execute("SHOW transaction_read_only")
            assert cur.fetchone() == ("off",)
        assert pool.stats()["requests_num"] == 3


def test_readonly_goes_to_the_replica(direct_dsn: str, admin: object) -> None:
    primary = _with_app_name(direct_dsn, "pgpool_primary")
    replica = _with_app_name(direct_dsn, "pgpool_replica")
    with pgpool.Pool(
        primary, min_size=0, max_size=2, name="routed", replicas=[replica]
    ) as pool:
        for _ in range(3):
            with pool.cursor(readonly=True) as cur:
                assert _app_name(cur) == "pgpool_replica"
                # conn.dsn names the server the connection is on (not the primary's)
                assert "pgpool_replica" in cur.connection.dsn
                cur.execute("SHOW transaction_read_only")
                assert cur.fetchone() == ("on",)
            with pool.cursor() as cur:
                assert _app_name(cur) == "pgpool_primary"
                assert "pgpool_primary" in cur.connection.dsn
        with pool.connection(readonly=True, autocommit=True) as conn:
            with conn.cursor() as cur:
                assert _app_name(cur) == "pgpool_replica"
        # getconn() (psycopg2's signature) always uses the primary.
        conn = pool.getconn()
        with conn.cursor() as cur:
            assert _app_name(cur) == "pgpool_primary"
        pool.putconn(conn)
        # The primary's stats count only its own checkouts.
        assert pool.stats()["requests_num"] == 4
        text = pool.prometheus()
    from prometheus_client.parser import text_string_to_metric_families

    fams = {f.name: f for f in text_string_to_metric_families(text)}
    by_pool = {s.labels["pool"]: s.value for s in fams["pgpool_requests"].samples}
    assert by_pool == {"routed": 4.0, "routed-replica0": 4.0}


def test_readonly_falls_back_to_the_primary_when_the_replica_is_unreachable(
    direct_dsn: str, admin: object, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="pgpool")
    primary = _with_app_name(direct_dsn, "pgpool_primary")
    with pgpool.Pool(
        primary, min_size=0, max_size=2, timeout=10, replicas=[_unreachable_dsn()]
    ) as pool:
        start = time.monotonic()
        for _ in range(3):
            with pool.cursor(readonly=True) as cur:
                assert _app_name(cur) == "pgpool_primary"
                cur.execute("SHOW transaction_read_only")
                assert cur.fetchone() == ("on",)
        # Refused at once, then skipped for a while: no waiting for the pool timeout.
        assert time.monotonic() - start < 5
    assert any(
        r.name == "pgpool" and "replica unreachable" in r.getMessage()
        for r in caplog.records
    ), caplog.text


def test_module_level_get_cursor_readonly(
    direct_dsn: str, admin: object, clean_env: pytest.MonkeyPatch
) -> None:
    replica = _with_app_name(direct_dsn, "pgpool_replica")
    pgpool.configure(direct_dsn, min_size=0, max_size=2, replicas=[replica])
    with pgpool.get_cursor(readonly=True) as cur:
        assert _app_name(cur) == "pgpool_replica"
    with pgpool.connection(readonly=True) as conn:
        with conn.cursor() as cur:
            assert _app_name(cur) == "pgpool_replica"
    with pgpool.get_cursor() as cur:
        assert _app_name(cur) != "pgpool_replica"


# ---------------------------------------------------------------------------
# leaks and logging


def _hold_a_connection_for_a_while(pool: pgpool.Pool) -> pgpool.Connection:
    return pool.getconn()


def _wait_for_record(
    caplog: pytest.LogCaptureFixture, text: str, timeout: float = 5.0
) -> logging.LogRecord:
    deadline = time.monotonic() + timeout
    while True:
        for r in caplog.records:
            if r.name == "pgpool" and text in r.getMessage():
                return r
        if time.monotonic() > deadline:
            raise AssertionError(
                f"no {text!r} record on logger 'pgpool':\n{caplog.text}"
            )
        time.sleep(0.05)


def test_leak_warning_logs_the_acquiring_stack(
    dsn: str, admin: object, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="pgpool")
    with pgpool.Pool(dsn, min_size=0, max_size=2, leak_threshold=0.2) as pool:
        conn = _hold_a_connection_for_a_while(pool)
        record = _wait_for_record(caplog, "checked out for")
        pool.putconn(conn)
    assert record.levelno == logging.WARNING
    msg = record.getMessage()
    assert "leak_threshold 0.2 s" in msg
    # The Python stack of the checkout, innermost frame last.
    assert "_hold_a_connection_for_a_while" in msg
    assert "test_leak_warning_logs_the_acquiring_stack" in msg
    assert __file__ in msg
    assert msg.index("test_leak_warning_logs") < msg.index("_hold_a_connection")


def test_leak_warning_for_a_pool_cursor_block(
    dsn: str, admin: object, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="pgpool")
    with pgpool.Pool(dsn, min_size=0, max_size=2, leak_threshold=0.2) as pool:
        with pool.cursor() as cur:
            cur.execute("SELECT 1")
            record = _wait_for_record(caplog, "checked out for")
        # Returned in time: no warning.
        caplog.clear()
        for _ in range(3):
            with pool.cursor() as cur:
                cur.execute("SELECT 1")
        time.sleep(0.6)
    assert "with pool.cursor() as cur:" in record.getMessage()
    assert not [r for r in caplog.records if "checked out for" in r.getMessage()]


def test_no_leak_tracking_without_a_threshold(
    dsn: str, admin: object, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="pgpool")
    with pgpool.Pool(dsn, min_size=0, max_size=1) as pool:
        conn = pool.getconn()
        time.sleep(0.6)
        pool.putconn(conn)
    assert not [r for r in caplog.records if "checked out for" in r.getMessage()]


def test_core_records_reach_the_pgpool_logger_with_levels(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG, logger="pgpool")
    with pgpool.Pool(_unreachable_dsn(), min_size=0, max_size=1, timeout=0.3) as pool:
        with pytest.raises(pgpool.PoolTimeout):
            pool.getconn()
    records = [r for r in caplog.records if "connection failed" in r.getMessage()]
    assert records, caplog.text
    r = records[0]
    assert r.name == "pgpool"
    assert r.levelno == logging.WARNING
    assert r.pathname.endswith("src/pool/manager.rs")


_QUIET_SCRIPT = """
import sys, time
import pgpool
{setup}
bad = pgpool.Pool({bad!r}, min_size=1, max_size=1, timeout=0.3)
try:
    bad.getconn()
except pgpool.PoolTimeout:
    pass
pool = pgpool.Pool({dsn!r}, min_size=0, max_size=1, leak_threshold=0.1)
conn = pool.getconn()
time.sleep(0.6)
pool.putconn(conn)
print("done")
# exits with `bad` still logging failed connects from its maintenance thread
"""


def _run_script(tmp_path: pathlib.Path, code: str) -> subprocess.CompletedProcess[str]:
    """Runs ``code`` in a fresh interpreter (from a file, so stacks show source lines);
    its output goes to this process's fds (``capfd``)."""
    script = tmp_path / "script.py"
    script.write_text(textwrap.dedent(code))
    return subprocess.run([sys.executable, str(script)], timeout=60, text=True)


def test_nothing_on_stderr_by_default(
    dsn: str, admin: object, capfd: pytest.CaptureFixture[str], tmp_path: pathlib.Path
) -> None:
    script = _QUIET_SCRIPT.format(setup="", bad=_unreachable_dsn(), dsn=dsn)
    result = _run_script(tmp_path, script)
    out, err = capfd.readouterr()
    assert result.returncode == 0, err
    assert out.strip() == "done"
    assert err == ""


def test_events_reach_a_configured_handler(
    dsn: str, admin: object, capfd: pytest.CaptureFixture[str], tmp_path: pathlib.Path
) -> None:
    # The control of the test above: the same events, printed once logging is set up
    # (after `import pgpool`: the level is not frozen at import).
    setup = "import logging; logging.basicConfig(level=logging.INFO, format='%(name)s %(levelname)s %(message)s')"
    script = _QUIET_SCRIPT.format(setup=setup, bad=_unreachable_dsn(), dsn=dsn)
    result = _run_script(tmp_path, script)
    out, err = capfd.readouterr()
    assert result.returncode == 0, err
    assert out.strip() == "done"
    assert "pgpool WARNING connection failed" in err
    assert "pgpool WARNING a connection has been checked out for" in err
    assert "conn = pool.getconn()" in err
    assert "Fatal Python error" not in err


def test_interpreter_exit_while_the_core_logs(
    capfd: pytest.CaptureFixture[str], tmp_path: pathlib.Path
) -> None:
    # Many maintenance threads logging (through a slow handler) while the interpreter
    # shuts down: the process must exit cleanly. (A thread that takes the GIL of a
    # finalizing interpreter aborts the process: this load did, every run, before the
    # logging bridge stopped at atexit.)
    script = f"""
    import logging, time
    import pgpool

    class Slow(logging.Handler):
        def emit(self, record):
            time.sleep(0.01)

    logging.getLogger("pgpool").addHandler(Slow())
    pools = [pgpool.Pool({_unreachable_dsn()!r}, min_size=2, max_size=2) for _ in range(60)]
    time.sleep(0.3)
    """
    for _ in range(3):
        result = _run_script(tmp_path, script)
        _, err = capfd.readouterr()
        assert result.returncode == 0, err
        assert err == ""


# ---------------------------------------------------------------------------
# Prometheus exposition and implicit returns


def test_prometheus_exposition_parses(dsn: str, admin: object) -> None:
    from prometheus_client.parser import text_string_to_metric_families

    with pgpool.Pool(dsn, min_size=1, max_size=2, name="feat") as pool:
        with pool.cursor() as cur:
            cur.execute("SELECT 1")
        a = pool.getconn()
        b = pool.getconn()
        with pytest.raises(pgpool.PoolTimeout):
            pool.getconn(timeout=0.05)
        text = pool.prometheus()
        stats = pool.stats()
        pool.putconn(a)
        pool.putconn(b)

    fams = {f.name: f for f in text_string_to_metric_families(text)}
    expected = {
        "pgpool_pool_size": "gauge",
        "pgpool_pool_idle": "gauge",
        "pgpool_pool_in_use": "gauge",
        "pgpool_requests_waiting": "gauge",
        "pgpool_oldest_wait_seconds": "gauge",
        "pgpool_wait_high_water_seconds": "gauge",
        "pgpool_pool_min": "gauge",
        "pgpool_pool_max": "gauge",
        "pgpool_utilization": "gauge",
        # counters: prometheus_client names the family without "_total"
        "pgpool_requests": "counter",
        "pgpool_requests_queued": "counter",
        "pgpool_requests_timeouts": "counter",
        "pgpool_requests_rejected": "counter",
        "pgpool_connections_created": "counter",
        "pgpool_connections_errors": "counter",
        "pgpool_connections_lost": "counter",
        "pgpool_returns_bad": "counter",
        "pgpool_returns_implicit": "counter",
        "pgpool_recycled_lifetime": "counter",
        "pgpool_recycled_idle": "counter",
        "pgpool_usage_seconds": "counter",
        "pgpool_xact_committed": "counter",
        "pgpool_xact_rolled_back": "counter",
        "pgpool_returns_in_transaction": "counter",
        "pgpool_recycled_retired": "counter",
        "pgpool_retired_role_change": "counter",
        "pgpool_acquire_wait_seconds": "histogram",
        "pgpool_hold_seconds": "histogram",
        "pgpool_connect_seconds": "histogram",
    }
    assert {n: f.type for n, f in fams.items()} == expected
    for f in fams.values():
        assert f.documentation, f.name
        assert f.samples, f.name
        assert {s.labels["pool"] for s in f.samples} == {"feat"}

    def value(family: str, sample: str = "", **labels: str) -> float:
        for s in fams[family].samples:
            if s.name == (sample or family) and all(
                s.labels.get(k) == v for k, v in labels.items()
            ):
                return float(s.value)
        raise KeyError((family, sample, labels))

    assert value("pgpool_pool_in_use") == 2 == stats["in_use"]
    assert value("pgpool_pool_size") == 2
    assert value("pgpool_pool_max") == 2
    assert value("pgpool_utilization") == 1.0
    # Nobody waits when the text is taken; the 0.05 s timeout is the high-water mark.
    assert value("pgpool_oldest_wait_seconds") == 0
    assert value("pgpool_wait_high_water_seconds") >= 0.04
    assert value("pgpool_requests", "pgpool_requests_total") == 4
    assert value("pgpool_requests_timeouts", "pgpool_requests_timeouts_total") == 1
    assert value("pgpool_connections_created", "pgpool_connections_created_total") == 2

    hist = "pgpool_acquire_wait_seconds"
    buckets = [
        (float(s.labels["le"]), s.value)
        for s in fams[hist].samples
        if s.name == hist + "_bucket"
    ]
    assert buckets == sorted(buckets)  # le ascending, counts cumulative
    assert all(x[1] <= y[1] for x, y in zip(buckets, buckets[1:]))
    assert buckets[-1] == (float("inf"), 4)
    assert value(hist, hist + "_count") == 4
    # the timed-out wait (50 ms) is above the 10 ms bucket, within the 100 ms one
    assert value(hist, hist + "_bucket", le="0.01") == 3
    assert value(hist, hist + "_bucket", le="0.1") == 4
    assert value(hist, hist + "_sum") >= 0.05
    # The hold histogram: one checkout given back before the text was taken (the
    # pool.cursor() block, which committed).
    hold = "pgpool_hold_seconds"
    assert value(hold, hold + "_count") == 1 == stats["returns_num"]
    assert value(hold, hold + "_bucket", le="+Inf") == 1
    assert value("pgpool_xact_committed", "pgpool_xact_committed_total") == 1


def test_dropped_connection_counts_as_implicit_return(dsn: str, admin: object) -> None:
    with pgpool.Pool(dsn, min_size=0, max_size=1, timeout=5) as pool:
        conn = pool.getconn()
        cur = conn.cursor()
        cur.execute("SELECT 1")
        del cur, conn  # never putconn()
        gc.collect()
        s = pool.stats()
        assert s["returns_implicit"] == 1
        assert s["in_use"] == 0
        # returned (rolled back), so the only slot is free again
        conn = pool.getconn(timeout=2)
        assert conn.get_transaction_status() == 0
        pool.putconn(conn)
        with pool.cursor() as cur:
            cur.execute("SELECT 1")
        s = pool.stats()
        assert s["returns_implicit"] == 1
        assert "pgpool_returns_implicit_total{" in pool.prometheus()


def test_lazy_min_opens_min_size_as_needed_and_keeps_it(direct_dsn: str) -> None:
    # Pool(lazy_min=True): min_size is "kept once opened" (SQLAlchemy's pool_size), not
    # opened at creation.
    with pgpool.Pool(direct_dsn, min_size=3, max_size=5, lazy_min=True) as p:
        assert p.config["lazy_min"] is True
        time.sleep(0.8)
        assert p.stats()["pool_size"] == 0
        conns = [p.getconn() for _ in range(3)]
        for c in conns:
            p.putconn(c)
        time.sleep(0.6)
        assert p.stats()["pool_size"] == 3
    with pgpool.Pool(direct_dsn, min_size=2, max_size=5) as p:
        assert p.config["lazy_min"] is False
        p.wait(5)
        assert p.stats()["pool_size"] == 2


def test_getconn_readonly(direct_dsn: str) -> None:
    with pgpool.Pool(direct_dsn, min_size=0, max_size=2) as p:
        c = p.getconn(readonly=True)
        try:
            assert c.readonly is True
            cur = c.cursor()
            cur.execute("SHOW transaction_read_only")
            assert cur.fetchone()[0] == "on"
        finally:
            p.putconn(c)
        c = p.getconn()
        try:
            assert c.readonly is None
        finally:
            p.putconn(c)


# ---------------------------------------------------------------------------
# seed 003's environment: USE_PGBOUNCER, a replica URL, replica sizes


def test_use_pgbouncer_routes_the_pool_through_pgbouncer(
    clean_env: pytest.MonkeyPatch,
) -> None:
    """With ``USE_PGBOUNCER=true`` the pool reaches the database through
    ``PGBOUNCER_HOST``:``PGBOUNCER_PORT``, whatever host and port ``DATABASE_URL``
    names: here a port nothing listens on, so only the rewrite can connect."""
    import os
    import urllib.parse

    PGBOUNCER_URL = os.environ.get("PGBOUNCER_URL", "")
    if not PGBOUNCER_URL:
        pytest.skip("needs PgBouncer")
    bouncer = urllib.parse.urlsplit(PGBOUNCER_URL)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        closed = s.getsockname()[1]
    unreachable = bouncer._replace(
        netloc=bouncer.netloc.replace(f":{bouncer.port}", f":{closed}")
    ).geturl()
    clean_env.setenv("DATABASE_URL", unreachable)
    clean_env.setenv("REPLICA_DATABASE_URL", unreachable)
    with pgpool.Pool(min_size=0, max_size=1, timeout=1) as pool:
        with pytest.raises(pgpool.PoolTimeout, match="refused"):
            pool.getconn()
    clean_env.setenv("USE_PGBOUNCER", "true")
    clean_env.setenv("PGBOUNCER_HOST", bouncer.hostname or "localhost")
    clean_env.setenv("PGBOUNCER_PORT", str(bouncer.port))
    with pgpool.Pool(min_size=0, max_size=1, timeout=10) as pool:
        with pool.cursor() as cur:
            cur.execute("SELECT 1")
            assert cur.fetchone() == (1,)
        # The replica URL from the environment is routed the same way.
        with pool.cursor(readonly=True) as cur:
            cur.execute("SHOW transaction_read_only")
            assert cur.fetchone() == ("on",)
        assert "pool=" in pool.prometheus()


def test_replica_pools_have_sizes_of_their_own(direct_dsn: str, admin: object) -> None:
    replica = _with_app_name(direct_dsn, "pgpool_replica")
    with pgpool.Pool(
        direct_dsn,
        min_size=0,
        max_size=2,
        name="sized",
        replicas=[replica],
        replica_min_size=1,
        replica_max_size=5,
    ) as pool:
        text = pool.prometheus()
        assert 'pgpool_pool_max{pool="sized"} 2' in text, text
        assert 'pgpool_pool_max{pool="sized-replica0"} 5' in text, text
        assert 'pgpool_pool_min{pool="sized-replica0"} 1' in text, text
    with pytest.raises(pgpool.ProgrammingError, match="replica_min_size"):
        pgpool.Pool(
            direct_dsn, replicas=[replica], replica_min_size=6, replica_max_size=5
        )
