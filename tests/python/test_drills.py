"""Reliability and security drills, against the real server.

Each drill is one test (or a few); the figures they measure (recovery times, errors
seen, RSS) are printed with ``-s`` and collected in ``tests/DRILLS.md``. The drills that
stop or restart the server live in ``test_drills_restart.py``, marked ``restarts_server`` so that they run last.

- killed backends under load (16 threads, ``pg_terminate_backend`` repeatedly)
- network stalls through a pausable TCP proxy (connect_timeout, command_timeout,
  statement_timeout)
- fork: ``os.fork`` and multiprocessing's fork start method with the default pool
- Ctrl-C during ``pg_sleep(30)`` in a pooled cursor
- exhaustion: 100 threads on 4 connections, FIFO, an exact number of PoolTimeouts
- leaks: a cursor block dropped without being closed
- hostile input: random values through execute/mogrify (seeded, reproducible)
- a short soak: 50k ``get_cursor()`` cycles, RSS growth < 10 MB (``make soak``: 1M)
"""

from __future__ import annotations

import decimal
import gc
import multiprocessing
import os
import pathlib
import random
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
from typing import Any, Dict, List, Set, Tuple

import pytest

import pgpool
from _helpers import default_sigint_in_child

ROOT = pathlib.Path(__file__).resolve().parents[2]


def _with_params(dsn: str, **params: Any) -> str:
    """``dsn`` (a URI) with more query parameters."""
    extra = "&".join(f"{k}={v}" for k, v in params.items())
    return dsn + ("&" if "?" in dsn else "?") + extra


def _tag() -> str:
    return "drill_" + uuid.uuid4().hex[:10]


def _host_port(dsn: str) -> Tuple[str, int]:
    from urllib.parse import urlsplit

    u = urlsplit(dsn)
    return u.hostname or "127.0.0.1", u.port or 5432


def _report(name: str, **figures: Any) -> None:
    """Prints a drill's figures (shown with ``pytest -s``; see tests/DRILLS.md)."""
    text = ", ".join(f"{k}={v}" for k, v in figures.items())
    print(f"\n[drill] {name}: {text}")


# ---------------------------------------------------------------------------
# 1. backends killed under load


def test_killed_backends_under_load(direct_dsn: str, admin: Any) -> None:
    """16 threads query with parameters and check every result while every backend of
    the pool is terminated, 5 times: each thread sees at most one OperationalError per
    killed connection it held, never a wrong result; later queries all succeed."""
    app = _tag()
    nthreads, rounds = 16, 5
    stop = threading.Event()
    wrong: List[str] = []
    other: List[str] = []
    # thread -> backend pids its errors happened on
    errors: Dict[int, List[int]] = {n: [] for n in range(nthreads)}
    ok = [0] * nthreads
    killed: Set[int] = set()

    with pgpool.Pool(
        _with_params(direct_dsn, application_name=app),
        min_size=8,
        max_size=8,
        timeout=20,
    ) as pool:
        pool.wait(10)

        def work(n: int) -> None:
            i = 0
            while not stop.is_set():
                i += 1
                value, text = n * 1_000_000 + i, f"t{n}-{i}-'\\%s"
                pid = -1
                try:
                    with pool.cursor() as cur:
                        pid = cur.connection.get_backend_pid()
                        cur.execute(
                            "SELECT %s::int8 * 2, %s::text, pg_backend_pid()",
                            (value, text),
                        )
                        row = cur.fetchone()
                        if row != (value * 2, text, pid):
                            wrong.append(f"{n}/{i}: {row!r} for {(value, text, pid)}")
                    ok[n] += 1
                except pgpool.OperationalError:
                    errors[n].append(pid)
                except Exception as exc:  # pragma: no cover - reported below
                    other.append(f"{n}/{i}: {type(exc).__name__}: {exc}")

        threads = [threading.Thread(target=work, args=(n,)) for n in range(nthreads)]
        for t in threads:
            t.start()
        try:
            for _ in range(rounds):
                time.sleep(0.3)
                with admin.cursor() as cur:
                    cur.execute(
                        "SELECT pid, pg_terminate_backend(pid) FROM pg_stat_activity "
                        "WHERE application_name = %s",
                        (app,),
                    )
                    killed.update(pid for pid, _ in cur.fetchall())
            time.sleep(0.3)
        finally:
            stop.set()
            for t in threads:
                t.join(30)
        assert not any(t.is_alive() for t in threads), "a thread hangs"
        assert wrong == [], wrong[:5]
        assert other == [], other[:5]
        for n, pids in errors.items():
            # One error per killed connection held: never twice on the same backend,
            # and only on backends that were killed.
            assert len(pids) == len(set(pids)), f"thread {n}: {pids}"
            assert set(pids) <= killed, f"thread {n}: {set(pids) - killed}"
        assert all(ok), ok
        n_errors = sum(len(p) for p in errors.values())

        # Later queries all succeed (past the pre-ping window, dead idle ones are gone).
        time.sleep(0.6)
        late_failures: List[str] = []

        def later(n: int) -> None:
            for i in range(20):
                try:
                    with pool.cursor() as cur:
                        cur.execute("SELECT %s::int + %s", (n, i))
                        assert cur.fetchone() == (n + i,)
                except Exception as exc:  # pragma: no cover - reported below
                    late_failures.append(f"{n}/{i}: {type(exc).__name__}: {exc}")

        threads = [threading.Thread(target=later, args=(n,)) for n in range(nthreads)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(30)
        assert late_failures == [], late_failures[:5]
        s = pool.stats()
        assert s["in_use"] == 0
        assert s["connections_lost"] + s["returns_bad"] >= 1
    _report(
        "killed backends",
        kills=len(killed),
        queries_ok=sum(ok),
        operational_errors=n_errors,
        max_errors_one_thread=max(len(p) for p in errors.values()),
        connections_lost=s["connections_lost"],
        returns_bad=s["returns_bad"],
        connections_num=s["connections_num"],
    )


# ---------------------------------------------------------------------------
# 4. network stalls


class StallProxy:
    """A TCP proxy to ``upstream`` that stops forwarding (both ways) while ``paused``
    is set: the peers' kernels still ACK, so only timeouts can notice."""

    def __init__(self, upstream: Tuple[str, int]) -> None:
        self.upstream = upstream
        self.paused = threading.Event()
        self.closing = threading.Event()
        self.listener = socket.socket()
        self.listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.listener.bind(("127.0.0.1", 0))
        self.listener.listen(64)
        self.listener.settimeout(0.1)
        self.port = int(self.listener.getsockname()[1])
        self.socks: List[socket.socket] = []
        self.thread = threading.Thread(target=self._accept, daemon=True)
        self.thread.start()

    def dsn(self, **params: Any) -> str:
        base = f"postgresql://postgres@127.0.0.1:{self.port}/postgres?sslmode=disable"
        return _with_params(base, **params) if params else base

    def _accept(self) -> None:
        while not self.closing.is_set():
            try:
                client, _ = self.listener.accept()
            except socket.timeout:
                continue
            except OSError:
                return
            server = socket.create_connection(self.upstream)
            self.socks += [client, server]
            for a, b in ((client, server), (server, client)):
                threading.Thread(target=self._pump, args=(a, b), daemon=True).start()

    def _pump(self, src: socket.socket, dst: socket.socket) -> None:
        src.settimeout(0.05)
        while not self.closing.is_set():
            if self.paused.is_set():
                time.sleep(0.02)
                continue
            try:
                data = src.recv(65536)
            except socket.timeout:
                continue
            except OSError:
                break
            if not data:
                break
            try:
                dst.sendall(data)
            except OSError:
                break
        for s in (src, dst):
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def close(self) -> None:
        self.closing.set()
        self.listener.close()
        self.thread.join(2)
        for s in self.socks:
            s.close()


@pytest.fixture
def proxy(direct_dsn: str) -> Any:
    p = StallProxy(_host_port(direct_dsn))
    yield p
    p.close()


def test_stall_at_connect_fails_within_the_acquire_timeout(proxy: StallProxy) -> None:
    """The server never answers the startup: with no connect_timeout, connecting is
    bounded by the acquire timeout (the default), and the PoolTimeout says why."""
    proxy.paused.set()
    with pgpool.Pool(proxy.dsn(), min_size=0, max_size=2, timeout=1.0) as pool:
        started = time.monotonic()
        with pytest.raises(pgpool.PoolTimeout) as info:
            pool.getconn()
        took = time.monotonic() - started
    # the deadline counts from the call: the first connect attempt is inside it
    assert 0.9 <= took < 1.6, took
    assert "timeout expired" in str(info.value), str(info.value)
    _report(
        "stall at connect (timeout=1.0, no connect_timeout)",
        failed_after=f"{took:.2f}s",
    )


def test_stall_at_connect_honours_connect_timeout(proxy: StallProxy) -> None:
    proxy.paused.set()
    started = time.monotonic()
    with pytest.raises(pgpool.OperationalError) as info:
        pgpool.connect(proxy.dsn(connect_timeout=2))
    took = time.monotonic() - started
    assert 1.9 <= took < 3.5, took
    assert "timeout" in str(info.value), str(info.value)
    _report(
        "stall at connect (connect_timeout=2, unpooled)", failed_after=f"{took:.2f}s"
    )


def test_stalled_statement_fails_after_command_timeout(
    proxy: StallProxy, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A statement whose answer never comes: PGPOOL_COMMAND_TIMEOUT bounds the wait;
    the connection is discarded and the pool recovers once the network does."""
    monkeypatch.setenv("PGPOOL_COMMAND_TIMEOUT", "0.7")
    with pgpool.Pool(proxy.dsn(), min_size=1, max_size=2, timeout=5) as pool:
        with pool.cursor() as cur:
            cur.execute("SELECT 1")
            assert cur.fetchone() == (1,)
        proxy.paused.set()
        started = time.monotonic()
        with pytest.raises(pgpool.OperationalError) as info:
            with pool.cursor() as cur:
                cur.execute("SELECT %s", (2,))
        took = time.monotonic() - started
        assert 0.65 <= took < 3.0, took
        proxy.paused.clear()
        with pool.cursor() as cur:
            cur.execute("SELECT %s", (3,))
            assert cur.fetchone() == (3,)
            # a query longer than the 100 ms poll tick, within the limit
            cur.execute("SELECT pg_sleep(0.3)")
        s = pool.stats()
        assert s["returns_bad"] + s["connections_lost"] >= 1
    _report(
        "stalled statement (PGPOOL_COMMAND_TIMEOUT=0.7)",
        failed_after=f"{took:.2f}s",
        error=str(info.value).splitlines()[0][:80],
    )


def test_command_timeout_kwarg(proxy: StallProxy) -> None:
    with pgpool.Pool(proxy.dsn(), min_size=1, max_size=2, command_timeout=0.7) as pool:
        pool.wait(5)  # the connection is open before the network stalls
        proxy.paused.set()
        started = time.monotonic()
        with pytest.raises(pgpool.OperationalError):
            with pool.cursor() as cur:
                cur.execute("SELECT 1")
        assert time.monotonic() - started < 3.0


def test_server_statement_timeout_through_options(direct_dsn: str) -> None:
    """The server-side limit (``options=-c statement_timeout=...``) cancels a long
    statement; the connection goes back clean. (Direct only: PgBouncer refuses startup
    options it does not track.)"""
    limited = _with_params(direct_dsn, options="-c%20statement_timeout%3D300")
    with pgpool.Pool(limited, min_size=1, max_size=1, timeout=5) as pool:
        started = time.monotonic()
        with pytest.raises(pgpool.QueryCanceledError):
            with pool.cursor() as cur:
                cur.execute("SELECT pg_sleep(5)")
        took = time.monotonic() - started
        assert took < 2.0, took
        with pool.cursor() as cur:
            cur.execute("SHOW statement_timeout")
            assert cur.fetchone() == ("300ms",)
    _report("statement_timeout=300ms", cancelled_after=f"{took:.2f}s")


# ---------------------------------------------------------------------------
# 5. fork


def _child_backend_pids(n: int) -> List[int]:
    """Runs in a multiprocessing worker (fork start method): the default pool."""
    pids = []
    for i in range(n):
        with pgpool.get_cursor() as cur:
            cur.execute("SELECT pg_backend_pid(), %s::int", (i,))
            pid, got = cur.fetchone()
            assert got == i
            pids.append(pid)
    return pids


_FORK_UNDER_THREADS = r"""
import os, sys, threading, time
import pgpool

dsn = sys.argv[1]
pool = pgpool.Pool(dsn, min_size=2, max_size=3, timeout=10, leak_threshold=60)
stop = False


def busy():
    while not stop:
        with pool.cursor() as cur:
            cur.execute("SELECT 1")
        pool.stats()


threads = [threading.Thread(target=busy, daemon=True) for _ in range(8)]
for t in threads:
    t.start()
time.sleep(0.3)
for i in range(20):
    child = os.fork()
    if child == 0:
        code = 1
        try:
            pool.stats()
            with pool.cursor() as cur:
                cur.execute("SELECT 41 + 1")
                assert cur.fetchone() == (42,)
            with pgpool.Pool(dsn, min_size=0, max_size=1) as fresh:
                with fresh.cursor() as cur:
                    cur.execute("SELECT 'child'")
            code = 0
        finally:
            os._exit(code)
    deadline = time.monotonic() + 30
    while True:
        pid, status = os.waitpid(child, os.WNOHANG)
        if pid:
            break
        if time.monotonic() > deadline:
            os.kill(child, 9)
            os.waitpid(child, 0)
            print(f"fork {i}: the child is stuck (deadlock)")
            sys.exit(3)
        time.sleep(0.005)
    if not (os.WIFEXITED(status) and os.WEXITSTATUS(status) == 0):
        print(f"fork {i}: the child failed ({status})")
        sys.exit(4)
stop = True
for t in threads:
    t.join(10)
print("ok")
"""


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork()")
def test_fork_under_busy_threads(dsn: str) -> None:
    """Issue 13 item 3 on the Python face: 20 os.fork() while 8 threads use the pool;
    each child uses the inherited pool and a new one and must finish (a subprocess, so a
    deadlocked child fails the test instead of hanging it)."""
    out = subprocess.run(
        [sys.executable, "-c", _FORK_UNDER_THREADS, dsn],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert out.returncode == 0 and out.stdout.strip() == "ok", (out.stdout, out.stderr)


_FORK_WITH_BOTH_FACES = r"""
import ctypes, os, sys
import pgpool
pool = pgpool.Pool(sys.argv[1], min_size=1, max_size=2)
pool.wait(10)
# Handing the pool to the C API registers the C face's pthread_atfork hooks beside the
# Python face's os.register_at_fork ones: both prepare hooks run at each fork.
lib = ctypes.CDLL(pgpool._pgpool.__file__)
lib.pgpool_pool_free.argtypes = [ctypes.c_void_p]
handle = pool._c_handle()
for _ in range(3):
    pid = os.fork()
    if pid == 0:
        with pool.cursor() as cur:
            cur.execute("SELECT 1")
        os._exit(0)
    _, status = os.waitpid(pid, 0)
    assert status == 0, status
with pool.cursor() as cur:
    cur.execute("SELECT 2")
    assert cur.fetchone() == (2,)
lib.pgpool_pool_free(handle)
print("ok")
"""


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork()")
def test_fork_with_both_faces_prepare_hooks(direct_dsn: str) -> None:
    """The Python and the C face's fork hooks both run in one process (a pool handed to
    the C API): the nested prepare hook must not lock what the outer one holds (it
    deadlocked os.fork() itself)."""
    out = subprocess.run(
        [sys.executable, "-c", _FORK_WITH_BOTH_FACES, direct_dsn],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert out.returncode == 0 and out.stdout.strip() == "ok", (out.stdout, out.stderr)


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork()")
def test_fork_children_use_connections_of_their_own(
    clean_env: pytest.MonkeyPatch, direct_dsn: str
) -> None:
    clean_env.setenv("DATABASE_URL", direct_dsn)
    pool = pgpool.configure(direct_dsn, min_size=2, max_size=4)
    pool.wait(10)
    # One connection held across the forks, the others idle in the pool.
    held = pgpool.get_conn()
    held_pid = held.get_backend_pid()
    with held.cursor() as cur:
        cur.execute("SELECT 1")
    parent_pids = set()
    with pgpool.get_cursor() as cur:
        cur.execute("SELECT pg_backend_pid()")
        parent_pids.add(cur.fetchone()[0])
    parent_pids.add(held_pid)

    # os.fork
    read_fd, write_fd = os.pipe()
    child = os.fork()
    if child == 0:  # pragma: no cover - the child
        status = 1
        try:
            os.close(read_fd)
            pids = _child_backend_pids(5)
            os.write(write_fd, ",".join(map(str, pids)).encode())
            status = 0
        finally:
            os._exit(status)
    os.close(write_fd)
    with os.fdopen(read_fd) as f:
        fork_pids = {int(x) for x in f.read().split(",") if x}
    _, status = os.waitpid(child, 0)
    assert os.WIFEXITED(status) and os.WEXITSTATUS(status) == 0
    assert fork_pids and not fork_pids & parent_pids, (fork_pids, parent_pids)

    # multiprocessing with the fork start method
    ctx = multiprocessing.get_context("fork")
    with ctx.Pool(3) as workers:
        results = workers.map(_child_backend_pids, [4] * 6)
    mp_pids = {p for r in results for p in r}
    assert mp_pids and not mp_pids & parent_pids, (mp_pids, parent_pids)

    # The parent's connections are intact: the held one and the idle ones.
    with held.cursor() as cur:
        cur.execute("SELECT pg_backend_pid(), %s", ("parent",))
        assert cur.fetchone() == (held_pid, "parent")
    held.rollback()
    pgpool.put_conn(held)
    seen = set()
    for _ in range(4):
        with pgpool.get_cursor() as cur:
            cur.execute("SELECT pg_backend_pid()")
            seen.add(cur.fetchone()[0])
    assert seen <= parent_pids | {held_pid}, (seen, parent_pids)
    s = pgpool.stats()
    assert s["connections_lost"] == 0 and s["returns_bad"] == 0, s
    _report(
        "fork",
        parent_backends=sorted(parent_pids),
        os_fork_backends=len(fork_pids),
        multiprocessing_backends=len(mp_pids),
        parent_connections_lost=s["connections_lost"],
    )


# ---------------------------------------------------------------------------
# 6. Ctrl-C


@pytest.fixture
def sigint_raises() -> Any:
    if threading.current_thread() is not threading.main_thread():
        pytest.skip("signals are only handled on the main thread")
    old = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, old)


def test_ctrl_c_during_pg_sleep_in_a_pooled_cursor(
    dsn: str, admin: Any, sigint_raises: None
) -> None:
    """SIGINT while ``SELECT pg_sleep(30)`` runs in the main thread: control is back
    within 1 s, the server runs nothing any more, the connection goes back clean."""
    tag = _tag()
    main = threading.main_thread().ident
    assert main is not None
    with pgpool.Pool(dsn, min_size=1, max_size=1, timeout=5) as pool:
        pool.wait(5)
        with pool.cursor() as cur:
            cur.execute("SELECT pg_backend_pid()")
            before = cur.fetchone()[0]
        sent: List[float] = []

        def interrupt() -> None:
            sent.append(time.monotonic())
            signal.pthread_kill(main, signal.SIGINT)

        timer = threading.Timer(0.5, interrupt)
        timer.start()
        try:
            with pytest.raises((KeyboardInterrupt, pgpool.QueryCanceledError)) as info:
                with pool.cursor() as cur:
                    cur.execute(f"SELECT pg_sleep(30) /* {tag} */")
            back = time.monotonic()
        finally:
            timer.cancel()
            timer.join()
        assert sent
        latency = back - sent[0]
        assert latency < 1.0, f"{latency:.2f} s"
        with admin.cursor() as cur:
            cur.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE state = 'active' "
                "AND query LIKE %s AND pid <> pg_backend_pid()",
                (f"%{tag}%",),
            )
            assert cur.fetchone() == (0,)
        s = pool.stats()
        assert s["in_use"] == 0 and s["pool_size"] == 1, s
        conn = pool.getconn(timeout=2)
        try:
            assert conn.get_transaction_status() == 0  # idle: rolled back
            with conn.cursor() as cur:
                cur.execute("SELECT pg_backend_pid(), 1")
                pid, one = cur.fetchone()
            assert one == 1
            if dsn == os.environ.get("DATABASE_URL"):
                assert pid == before  # the same connection, kept (not discarded)
            conn.rollback()
        finally:
            pool.putconn(conn)
    _report(
        "Ctrl-C in pg_sleep(30)",
        route="pgbouncer" if dsn == os.environ.get("PGBOUNCER_URL") else "direct",
        raised=type(info.value).__name__,
        latency=f"{latency * 1000:.0f}ms",
    )


def test_ctrl_c_in_a_subprocess_with_the_default_pool(
    direct_dsn: str, tmp_path: pathlib.Path
) -> None:
    """The same with a real Ctrl-C from outside (SIGINT to the process), through
    ``get_cursor()``, in a fresh interpreter."""
    tag = _tag()
    script = tmp_path / "ctrl_c.py"
    script.write_text(
        f"""
import sys, time, pgpool
with pgpool.get_cursor() as cur:
    cur.execute("SELECT pg_backend_pid()")
    before = cur.fetchone()[0]
print("ready", flush=True)
try:
    with pgpool.get_cursor() as cur:
        cur.execute("SELECT pg_sleep(30) /* {tag} */")
except KeyboardInterrupt:
    t = time.monotonic()
    print("interrupted", repr(t), flush=True)
with pgpool.get_cursor() as cur:
    cur.execute("SELECT pg_backend_pid(), count(*) FROM pg_stat_activity "
                "WHERE state = 'active' AND query LIKE %s AND pid <> pg_backend_pid()",
                ("%{tag}%",))
    pid, running = cur.fetchone()
s = pgpool.stats()
print("after", pid == before, running, s["in_use"], s["returns_bad"], flush=True)
"""
    )
    env = dict(
        os.environ, DATABASE_URL=direct_dsn, PGPOOL_MIN_SIZE="1", PGPOOL_MAX_SIZE="1"
    )
    proc = subprocess.Popen(
        [sys.executable, str(script)],
        stdout=subprocess.PIPE,
        text=True,
        env=env,
        preexec_fn=default_sigint_in_child,
    )
    assert proc.stdout is not None
    try:
        assert proc.stdout.readline().strip() == "ready"
        time.sleep(0.5)
        sent = time.monotonic()
        proc.send_signal(signal.SIGINT)
        line = proc.stdout.readline().split()
        assert line[0] == "interrupted", line
        latency = float(line[1]) - sent
        after = proc.stdout.readline().split()
        assert proc.wait(10) == 0
    finally:
        proc.kill()
    assert latency < 1.0, latency
    # same connection, nothing running, nothing checked out, nothing discarded
    assert after == ["after", "True", "0", "0", "0"], after
    _report(
        "Ctrl-C (SIGINT from outside, get_cursor)", latency=f"{latency * 1000:.0f}ms"
    )


# ---------------------------------------------------------------------------
# 7. exhaustion


def test_exhaustion_100_threads_on_4_connections(dsn: str) -> None:
    """100 threads queue (in a known order) for 4 connections, all with the same
    deadline D; connections come free at R and each holder keeps one for T. FIFO
    service then serves exactly the batches starting at R, R+T, R+2T (< D = R + 2.5 T):
    12 threads, in queue order, and exactly 88 PoolTimeouts."""
    nthreads, size, hold = 100, 4, 0.3
    direct = dsn == os.environ.get("DATABASE_URL")
    batches = 3
    window = (batches - 0.5) * hold  # D - R: the middle between batch 3 and batch 4
    served: Dict[int, Tuple[float, int]] = {}
    timeouts: List[int] = []
    other: List[str] = []
    lock = threading.Lock()
    in_use: Dict[int, int] = {}  # backend pid -> thread holding it
    overlaps: List[str] = []

    with pgpool.Pool(dsn, min_size=size, max_size=size, timeout=30) as pool:
        pool.wait(10)
        held = [pool.getconn() for _ in range(size)]
        start = time.monotonic()
        release_at = start + 3.0  # R: every thread must be queued by then
        deadline = release_at + window  # D

        def work(n: int) -> None:
            try:
                conn = pool.getconn(timeout=deadline - time.monotonic())
            except pgpool.PoolTimeout:
                with lock:
                    timeouts.append(n)
                return
            except Exception as exc:  # pragma: no cover
                other.append(f"{n}: {type(exc).__name__}: {exc}")
                return
            got = time.monotonic()
            try:
                # the connection's identity: its backend (through PgBouncer, the
                # PgBouncer client connection's key)
                pid = conn.get_backend_pid()
                with lock:
                    if pid in in_use:
                        overlaps.append(f"{pid}: {in_use[pid]} and {n}")
                    in_use[pid] = n
                    served[n] = (got, pid)
                with conn.cursor() as cur:
                    cur.execute("SELECT pg_backend_pid(), %s", (n,))
                    row = cur.fetchone()
                    if row[1] != n or (direct and row[0] != pid):
                        other.append(f"{n}: {row!r} on {pid}")
                conn.rollback()
                time.sleep(max(0.0, hold - (time.monotonic() - got)))
                with lock:
                    del in_use[pid]
            except Exception as exc:  # pragma: no cover
                other.append(f"{n}: {type(exc).__name__}: {exc}")
            finally:
                pool.putconn(conn)

        threads = []
        for n in range(nthreads):
            t = threading.Thread(target=work, args=(n,))
            t.start()
            threads.append(t)
            # wait until it is queued, so the queue order is the thread order
            while pool.stats()["requests_waiting"] < n + 1:
                if time.monotonic() > release_at - 0.5:
                    pytest.fail(f"only {n} threads queued in time (machine too busy)")
                time.sleep(0.001)
        queued = time.monotonic() - start
        time.sleep(max(0.0, release_at - time.monotonic()))
        for c in held:
            pool.putconn(c)
        for t in threads:
            t.join(30)
        assert not any(t.is_alive() for t in threads)
        assert other == [], other
        assert overlaps == [], overlaps
        n_served = batches * size
        assert sorted(served) == list(range(n_served)), sorted(served)
        assert sorted(timeouts) == list(range(n_served, nthreads))
        # FIFO: thread n is served in batch n // 4, in queue order.
        order = sorted(served, key=lambda n: served[n][0])
        assert [n // size for n in order] == [n // size for n in range(n_served)]
        for n, (got, _) in served.items():
            offset = got - release_at
            batch = n // size
            assert batch * hold - 0.05 <= offset < (batch + 0.5) * hold, (n, offset)
        pids = {pid for _, pid in served.values()}
        assert len(pids) == size
        s = pool.stats()
        assert s["requests_timeouts"] == nthreads - n_served
        assert s["in_use"] == 0 and s["pool_size"] == size
        # nothing lost: all 4 can be checked out at once, and they work
        again = [pool.getconn(timeout=2) for _ in range(size)]
        assert {c.get_backend_pid() for c in again} == pids
        for c in again:
            pool.putconn(c)
    late = max(got - release_at - (n // size) * hold for n, (got, _) in served.items())
    _report(
        "exhaustion",
        queued_in=f"{queued:.2f}s",
        served=len(served),
        timeouts=len(timeouts),
        worst_service_lag=f"{late * 1000:.0f}ms",
    )


# ---------------------------------------------------------------------------
# 8. leaks: a cursor dropped without being closed


def test_dropped_pool_cursor_block_is_returned_and_counted(
    dsn: str, admin: Any, table: str
) -> None:
    with pgpool.Pool(dsn, min_size=0, max_size=1, timeout=5) as pool:
        block = pool.cursor()
        cur = block.__enter__()  # never __exit__()
        cur.execute(f"INSERT INTO {table} (val) VALUES (1)")
        del block, cur
        gc.collect()
        s = pool.stats()
        assert s["in_use"] == 0 and s["returns_implicit"] == 1, s
        # returned rolled back (the block never committed), the only slot free again
        with pool.cursor(timeout=2) as cur:
            cur.execute(f"SELECT count(*) FROM {table}")
            assert cur.fetchone() == (0,)

        # A plain cursor of a checked-out connection keeps it alive; dropping both
        # returns it.
        conn = pool.getconn()
        cur = conn.cursor()
        cur.execute("SELECT 1")
        del conn
        gc.collect()
        assert pool.stats()["in_use"] == 1
        del cur
        gc.collect()
        s = pool.stats()
        assert s["in_use"] == 0 and s["returns_implicit"] == 2, s
        conn = pool.getconn(timeout=2)
        assert conn.get_transaction_status() == 0
        pool.putconn(conn)


def test_dropped_default_pool_cursor_is_returned(
    clean_env: pytest.MonkeyPatch, dsn: str
) -> None:
    pool = pgpool.configure(dsn, min_size=0, max_size=1, timeout=5)
    block = pgpool.get_cursor()
    block.__enter__().execute("SELECT 1")
    del block
    gc.collect()
    assert pool.stats()["in_use"] == 0
    with pgpool.get_cursor(timeout=2) as cur:
        cur.execute("SELECT 2")
        assert cur.fetchone() == (2,)


# ---------------------------------------------------------------------------
# 9. hostile input: random values through execute and mogrify

_ALPHABET = [
    "'",
    "''",
    "\\",
    "\\'",
    '"',
    "%",
    "%s",
    "%%",
    "%(x)s",
    "$$",
    "$a$",
    "--",
    "/*",
    "*/",
    ";",
    "E'",
    "\n",
    "\r",
    "\t",
    " ",
    "{",
    "}",
    ",",
    "(",
    ")",
    "ARRAY[",
    "NULL",
    "é",
    "€",
    "😀",
    "\u2028",
    "\x01",
    "\x7f",
    "a",
    "Z",
    "0",
]


def _rand_str(rng: random.Random) -> str:
    parts = [rng.choice(_ALPHABET) for _ in range(rng.randint(0, 12))]
    if rng.random() < 0.05:
        parts.insert(rng.randint(0, len(parts)), "\x00")
    if rng.random() < 0.05:
        parts.insert(rng.randint(0, len(parts)), chr(rng.randint(0xD800, 0xDFFF)))
    return "".join(parts)


def _rand_scalar(rng: random.Random) -> Any:
    kind = rng.randrange(8)
    if kind <= 2:
        return _rand_str(rng)
    if kind == 3:
        return bytes(rng.randrange(256) for _ in range(rng.randint(0, 16)))
    if kind == 4:
        return rng.choice(
            [0, -1, 2**31, -(2**63) + 1, 2**63 - 1, rng.randint(-999, 999)]
        )
    if kind == 5:
        return rng.choice([0.5, -1.25, 1e300, 1e-300, float(rng.randint(-99, 99))])
    if kind == 6:
        return decimal.Decimal(
            rng.choice(["0", "-1.50", "0.00000000000000000001", "123456789.000001"])
        )
    return rng.choice([None, True, False])


def _rand_value(rng: random.Random) -> Any:
    r = rng.random()
    if r < 0.75:
        return _rand_scalar(rng)
    # a rectangular array (1-D or 2-D) of one type
    make = rng.choice(
        [
            lambda: _rand_str(rng),
            lambda: rng.randint(-1000, 1000),
            lambda: rng.choice([None, _rand_str(rng)]),
        ]
    )
    if r < 0.9:
        return [make() for _ in range(rng.randint(1, 4))]
    width = rng.randint(1, 3)
    return [[make() for _ in range(width)] for _ in range(rng.randint(1, 3))]


def _has_bad_text(v: Any) -> bool:
    if isinstance(v, str):
        return "\x00" in v or any(0xD800 <= ord(c) <= 0xDFFF for c in v)
    if isinstance(v, list):
        return any(_has_bad_text(x) for x in v)
    return False


def _all_null(v: Any) -> bool:
    return v is None or (isinstance(v, list) and all(_all_null(x) for x in v))


def _null_array(v: Any) -> str:
    return (
        "{" + ",".join(_null_array(x) for x in v) + "}"
        if isinstance(v, list)
        else "NULL"
    )


def _expected(v: Any) -> Any:
    if isinstance(v, list) and _all_null(v):
        # psycopg2 (and so pgpool) sends an array of nothing but NULLs as the untyped
        # literal '{NULL,...}': it comes back as that text
        return _null_array(v)
    return v


def _normal(v: Any) -> Any:
    if isinstance(v, memoryview):
        return bytes(v)
    return v


def test_random_values_round_trip_or_fail_clearly(dsn: str) -> None:
    """Seeded random values full of quotes, backslashes, %, dollar quotes, comments,
    NUL and lone surrogates, as scalars and arrays, in positional and named templates:
    each either round-trips exactly, in its own column, or raises a clear client-side
    error (ValueError for NUL, UnicodeEncodeError for surrogates) and nothing runs."""
    seed = int(os.environ.get("PGPOOL_FUZZ_SEED", "20261123"))
    rng = random.Random(seed)
    checked = refused = 0
    conn = pgpool.connect(dsn)
    conn.autocommit = True
    try:
        with conn.cursor() as cur:
            for i in range(1500):
                a, b = _rand_value(rng), _rand_value(rng)
                named = rng.random() < 0.3
                sql = (
                    "SELECT %(a)s AS a, %(b)s AS \"%%s\", '%%' AS pct"
                    if named
                    else "SELECT %s AS a, %s AS \"%%(x)s\", '%%' AS pct"
                )
                params: Any = {"a": a, "b": b} if named else (a, b)
                if _has_bad_text(a) or _has_bad_text(b):
                    with pytest.raises((ValueError, UnicodeEncodeError)):
                        cur.mogrify(sql, params)
                    with pytest.raises((ValueError, UnicodeEncodeError)):
                        cur.execute(sql, params)
                    refused += 1
                    continue
                text = cur.mogrify(sql, params)
                assert isinstance(text, bytes)
                cur.execute(sql, params)
                rows = cur.fetchall()
                ctx = f"seed {seed} case {i}: {sql} % {params!r} -> {text!r}"
                assert len(rows) == 1 and len(rows[0]) == 3, ctx
                assert [d[0] for d in cur.description] == [
                    "a",
                    "%s" if named else "%(x)s",
                    "pct",
                ], ctx
                # (a float is sent as a numeric literal, as psycopg2 does: it comes
                # back as a Decimal of the same decimal value)
                got = [_normal(x) for x in rows[0]]
                want = [_expected(a), _expected(b), "%"]
                for k, (x, v) in enumerate(zip(got, (a, b))):
                    if isinstance(v, float):
                        assert float(x) == v, ctx
                        got[k] = want[k]
                    elif isinstance(v, decimal.Decimal):
                        assert str(x) == str(v), ctx
                assert got == want, ctx
                checked += 1
            cur.execute("SELECT 'still fine'")
            assert cur.fetchone() == ("still fine",)
    finally:
        conn.close()
    assert checked > 1000 and refused > 10, (checked, refused)
    _report("hostile values", seed=seed, round_tripped=checked, refused_clearly=refused)


def test_random_templates_never_change_structure(conn: Any) -> None:
    """Random templates of text, literals and placeholders with hostile values: the
    statement has as many result columns as the template has placeholders, and each
    column holds its value."""
    rng = random.Random(7)
    for i in range(300):
        n = rng.randint(1, 6)
        values = [_rand_str(rng).replace("\x00", "") for _ in range(n)]
        values = [
            "".join(c for c in v if not 0xD800 <= ord(c) <= 0xDFFF) for v in values
        ]
        cols = []
        for k in range(n):
            lit = rng.choice(["", " ", "/* %% */ ", "-- %%\n", "'%%' || "])
            cols.append(f"{lit}%s AS c{k}")
        sql = "SELECT " + ", ".join(cols)
        with conn.cursor() as cur:
            cur.execute(sql, values)
            rows = cur.fetchall()
            names = [d[0] for d in cur.description]
        expected = []
        for k in range(n):
            v = values[k]
            expected.append(("%" + v) if "'%%' ||" in cols[k] else v)
        assert names == [f"c{k}" for k in range(n)], (i, sql, values)
        assert list(rows[0]) == expected, (i, sql, values)
    conn.rollback()


# ---------------------------------------------------------------------------
# 10. soak (short): 50k get_cursor() cycles, RSS growth < 10 MB


def test_soak_short(direct_dsn: str) -> None:
    cycles = int(os.environ.get("PGPOOL_SOAK_SHORT_CYCLES", "50000"))
    env = dict(os.environ, DATABASE_URL=direct_dsn)
    out = subprocess.run(
        [
            sys.executable,
            str(ROOT / "tests" / "soak" / "soak.py"),
            "--cycles",
            str(cycles),
            "--max-growth-mb",
            "10",
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert out.returncode == 0, out.stdout + out.stderr
    print(out.stdout)
