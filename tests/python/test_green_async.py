"""psycopg2's non-blocking modes (issue 15 item 9), each checked beside psycopg2 on the
same server: asynchronous connections (``connect(dsn, async_=True)``, driven with
``poll()`` / ``fileno()``) and wait callbacks ("green" mode,
``extensions.set_wait_callback``). Then the libraries built on them, in child processes
(they patch the process): aiopg (asyncio over async connections) and gevent (a wait
callback as psycogreen installs it), with pgpool installed as psycopg2.

Asynchronous connections need a session of their own (LISTEN, temporary tables): these
run on the direct server.
"""

from __future__ import annotations

import gc
import os
import select
import subprocess
import sys
import textwrap
from typing import Any, Iterator, List

import psycopg2
import psycopg2.extensions
import psycopg2.extras
import pytest

import pgpool
import pgpool.extensions
import pgpool.extras

POLL_OK, POLL_READ, POLL_WRITE = 0, 1, 2


@pytest.fixture(params=["pgpool", "psycopg2"])
def driver(request: pytest.FixtureRequest) -> Any:
    return pgpool if request.param == "pgpool" else psycopg2


def extensions_of(driver: Any) -> Any:
    return pgpool.extensions if driver is pgpool else psycopg2.extensions


def extras_of(driver: Any) -> Any:
    return pgpool.extras if driver is pgpool else psycopg2.extras


def wait(conn: Any, polls: List[int] | None = None) -> None:
    """psycopg2's test suite's ``wait``: poll until POLL_OK, select on the socket."""
    while True:
        state = conn.poll()
        if polls is not None:
            polls.append(state)
        if state == POLL_OK:
            return
        if state == POLL_READ:
            select.select([conn.fileno()], [], [], 1)
        elif state == POLL_WRITE:
            select.select([], [conn.fileno()], [], 1)
        else:
            raise AssertionError(f"poll() returned {state!r}")


@pytest.fixture
def aconn(driver: Any, direct_dsn: str) -> Iterator[Any]:
    c = driver.connect(direct_dsn, async_=True)
    wait(c)
    yield c
    c.close()


def run_async(conn: Any, sql: str, args: Any = None) -> Any:
    cur = conn.cursor()
    cur.execute(sql, args)
    wait(conn)
    return cur


# ---------------------------------------------------------------- async connections


def test_async_connection_state(driver: Any, direct_dsn: str) -> None:
    c = driver.connect(direct_dsn, async_=True)
    try:
        # Underway until polled: cancel() is refused, as libpq's is before the startup.
        assert c.isexecuting()
        assert c.async_ == 1
        with pytest.raises(driver.OperationalError):
            c.cancel()
        fd = c.fileno()
        wait(c)
        assert not c.isexecuting()
        assert c.fileno() == fd  # aiopg registers the first one for good
        assert c.autocommit is True
        assert c.isolation_level is None
        assert c.closed == 0
        assert c.server_version >= 150000
    finally:
        c.close()
    assert c.closed and c.async_ == 1


def test_async_results_match(driver: Any, aconn: Any) -> None:
    """The same statements give the same results, description and rowcount; the last
    statement's result when several are sent."""
    cur = aconn.cursor()
    assert not aconn.isexecuting()
    cur.execute("SELECT %s::int AS a, %s::text AS b", (7, "x"))
    assert aconn.isexecuting()
    assert (
        aconn.info.transaction_status == psycopg2.extensions.TRANSACTION_STATUS_ACTIVE
    )
    with pytest.raises(driver.ProgrammingError):
        cur.fetchone()  # not there yet
    wait(aconn)
    assert not aconn.isexecuting()
    assert cur.fetchall() == [(7, "x")]
    assert [(d.name, d.type_code) for d in cur.description] == [("a", 23), ("b", 25)]
    assert cur.rowcount == 1
    cur = run_async(aconn, "SELECT repeat('a', 100000); SELECT generate_series(1, 3)")
    assert cur.fetchall() == [(1,), (2,), (3,)]
    assert cur.statusmessage == "SELECT 3"
    cur = run_async(aconn, "CREATE TEMP TABLE t_async (id int PRIMARY KEY)")
    assert cur.statusmessage == "CREATE TABLE" and cur.description is None
    cur = run_async(aconn, "INSERT INTO t_async SELECT generate_series(1, 4)")
    assert cur.rowcount == 4


def test_async_errors_match(driver: Any, aconn: Any) -> None:
    """A server error is raised from poll() (the first of several statements), with
    psycopg2's class and pgcode; the connection stays usable."""
    cur = aconn.cursor()
    cur.execute("SELECT 1; SELECT no_such_column; SELECT 1/0")
    with pytest.raises(driver.ProgrammingError) as ei:
        wait(aconn)
    assert type(ei.value).__name__ == "UndefinedColumn"
    assert ei.value.pgcode == "42703"
    assert not aconn.isexecuting()
    assert run_async(aconn, "SELECT 'after'").fetchone() == ("after",)
    cur.execute("COPY (SELECT 1) TO STDOUT")
    with pytest.raises(driver.ProgrammingError):
        wait(aconn)
    if driver is pgpool:
        # psycopg2's connection is left "another command is already in progress" here;
        # pgpool's has read the COPY's answer to its end.
        assert run_async(aconn, "SELECT 2").fetchone() == (2,)


def test_async_refusals_match(driver: Any, aconn: Any) -> None:
    """What psycopg2 refuses on an asynchronous connection, with its class and words."""
    ext = extensions_of(driver)

    def refused(f: Any, *args: Any) -> str:
        with pytest.raises(driver.ProgrammingError) as ei:
            f(*args)
        return str(ei.value)

    out = {
        "named": refused(aconn.cursor, "name"),
        "commit": refused(aconn.commit),
        "rollback": refused(aconn.rollback),
        "executemany": refused(aconn.cursor().executemany, "SELECT %s", [(1,)]),
        "lobject": refused(aconn.lobject),
        "reset": refused(aconn.reset),
        "encoding": refused(aconn.set_client_encoding, "LATIN1"),
        "autocommit": refused(setattr, aconn, "autocommit", False),
    }
    cur = aconn.cursor()
    cur.execute("SELECT pg_sleep(0.05)")
    out["execute"] = refused(cur.execute, "SELECT 1")
    out["fetch"] = refused(aconn.cursor().fetchone)
    out["scroll"] = refused(cur.scroll, 1)
    wait(aconn)
    assert ext.TRANSACTION_STATUS_IDLE == aconn.info.transaction_status
    # psycopg2's words where pgpool can have them (the names of its methods).
    assert out["commit"] == "commit cannot be used in asynchronous mode"
    assert out["rollback"] == "rollback cannot be used in asynchronous mode"
    assert out["executemany"] == "executemany cannot be used in asynchronous mode"
    assert (
        out["execute"]
        == "execute cannot be used while an asynchronous query is underway"
    )
    assert out["named"] == "asynchronous connections cannot produce named cursors"


def test_async_cursor_gone(driver: Any, aconn: Any) -> None:
    cur = aconn.cursor()
    cur.execute("SELECT 42")
    del cur
    gc.collect()
    with pytest.raises(driver.InterfaceError):
        wait(aconn)
    cur = run_async(aconn, "SELECT 43")
    assert cur.fetchone() == (43,)


def test_async_cancel(driver: Any, aconn: Any) -> None:
    cur = aconn.cursor()
    cur.execute("SELECT pg_sleep(10)")
    assert aconn.isexecuting()
    aconn.cancel()
    with pytest.raises(driver.extensions.QueryCanceledError):
        wait(aconn)
    assert run_async(aconn, "SELECT 1").fetchone() == (1,)


def test_async_notices_and_notifications(
    driver: Any, aconn: Any, direct_dsn: str
) -> None:
    del aconn.notices[:]
    run_async(aconn, "DO $$ BEGIN RAISE NOTICE 'hello'; END $$")
    assert aconn.notices == ["NOTICE:  hello\n"]
    run_async(aconn, "LISTEN t_async_ch")
    other = psycopg2.connect(direct_dsn)
    other.autocommit = True
    other.cursor().execute("NOTIFY t_async_ch, 'payload'")
    other.close()
    for _ in range(50):
        select.select([aconn], [], [], 0.1)
        assert aconn.poll() == POLL_OK  # idle: reads what arrived
        if aconn.notifies:
            break
    n = aconn.notifies.pop()
    assert (n.channel, n.payload) == ("t_async_ch", "payload")


def test_async_large_statement(driver: Any, aconn: Any) -> None:
    """A statement larger than the socket buffer is sent across several polls (POLL_WRITE
    while the socket is full: not asserted, the kernel may take it faster than the polls
    come, as psycopg2's own test allows); the answer is read whole and correct."""
    size = 8 * 1024 * 1024
    polls: List[int] = []
    cur = aconn.cursor()
    cur.execute("SELECT length(%s)", ("x" * size,))
    wait(aconn, polls)
    assert cur.fetchone() == (size,)
    assert polls[-1] == POLL_OK and set(polls) <= {POLL_OK, POLL_READ, POLL_WRITE}


def test_async_connect_error(driver: Any, direct_dsn: str) -> None:
    dsn = direct_dsn.rsplit("/", 1)[0] + "/no_such_db_async"
    with pytest.raises(driver.OperationalError) as ei:
        c = driver.connect(dsn, async_=True)
        wait(c)
    assert "no_such_db_async" in str(ei.value)


def test_async_subclass(driver: Any, direct_dsn: str) -> None:
    ext = extensions_of(driver)

    class MyConn(ext.connection):  # type: ignore[misc, name-defined]
        def __init__(self, dsn: str, async_: int = 0) -> None:
            super().__init__(dsn, async_=async_)

    c = driver.connect(direct_dsn, connection_factory=MyConn, async_=True)
    try:
        assert isinstance(c, MyConn) and c.async_
        wait(c)
        assert run_async(c, "SELECT 5").fetchone() == (5,)
    finally:
        c.close()


def test_exact_class_connects(driver: Any, dsn: str) -> None:
    """``extensions.connection(dsn)`` is a connection (Python calls no ``__init__`` for
    pgpool's class itself: its ``__new__`` connects)."""
    c = extensions_of(driver).connection(dsn)
    try:
        assert c.closed == 0
        cur = c.cursor()
        cur.execute("SELECT 1")
        assert cur.fetchone() == (1,)
    finally:
        c.close()
    with pytest.raises(TypeError):
        extensions_of(driver).connection()


# ---------------------------------------------------------------- wait callbacks


@pytest.fixture
def green(driver: Any) -> Iterator[List[int]]:
    """extras.wait_select as the wait callback, counting its calls."""
    ext, extras = extensions_of(driver), extras_of(driver)
    calls: List[int] = []

    def cb(conn: Any) -> None:
        calls.append(conn.fileno())
        extras.wait_select(conn)

    assert ext.get_wait_callback() is None
    ext.set_wait_callback(cb)
    assert ext.get_wait_callback() is cb
    yield calls
    ext.set_wait_callback(None)
    assert ext.get_wait_callback() is None


def test_green_statements(driver: Any, green: List[int], dsn: str) -> None:
    """With a wait callback, statements run as usual; the callback is called with the
    connection where the call would block, and polls it."""
    c = driver.connect(dsn)
    try:
        cur = c.cursor()
        cur.execute("SELECT pg_sleep(0.1), %s", ("a",))
        assert cur.fetchone() == ("", "a")
        assert green and set(green) == {c.fileno()}
        with pytest.raises(driver.ProgrammingError) as ei:
            cur.execute("SELECT the_unselectable")
        assert ei.value.pgcode == "42703"
        assert not c.closed
        c.rollback()
        cur.execute("SELECT 1")
        assert cur.fetchone() == (1,)
        c.commit()
        named = c.cursor("green_named")
        named.execute("SELECT generate_series(1, 5)")
        assert named.fetchmany(2) == [(1,), (2,)]
        assert named.fetchall() == [(3,), (4,), (5,)]
        named.close()
        c.commit()
    finally:
        c.close()


def test_green_poll_inside_callback(driver: Any, dsn: str) -> None:
    """Inside the callback poll() does not block: POLL_READ while the server has not
    answered (many times during a 0.5 s statement polled every 0.05 s), POLL_OK once it
    has."""
    ext = extensions_of(driver)
    states: List[int] = []

    def cb(conn: Any) -> None:
        while True:
            s = conn.poll()
            states.append(s)
            if s == POLL_OK:
                return
            select.select([conn.fileno()], [], [], 0.05)

    c = driver.connect(dsn)
    ext.set_wait_callback(cb)
    try:
        cur = c.cursor()
        cur.execute(
            "SELECT 1; DO $$ BEGIN RAISE NOTICE 'n'; END $$; SELECT pg_sleep(0.5)"
        )
    finally:
        ext.set_wait_callback(None)
        c.close()
    assert states.count(POLL_READ) > 3
    assert states[-1] == POLL_OK


def test_green_callback_error_closes(driver: Any, dsn: str) -> None:
    """An exception in the callback is raised from the call and the connection is
    closed (its protocol state is unknown), as psycopg2 does."""
    ext = extensions_of(driver)
    c = driver.connect(dsn)
    cur = c.cursor()
    cur.execute("SELECT 1")

    def boom(conn: Any) -> None:
        raise ZeroDivisionError("in the callback")

    ext.set_wait_callback(boom)
    try:
        with pytest.raises(ZeroDivisionError):
            cur.execute("SELECT pg_sleep(0.05)")
    finally:
        ext.set_wait_callback(None)
    assert c.closed
    with pytest.raises(driver.InterfaceError):
        c.cursor()


def test_green_pooled(dsn: str) -> None:
    """The callback serves pooled connections too (get_cursor's)."""
    calls: List[int] = []

    def cb(conn: Any) -> None:
        calls.append(1)
        pgpool.extras.wait_select(conn)

    p = pgpool.Pool(dsn, min_size=1, max_size=2)
    pgpool.extensions.set_wait_callback(cb)
    try:
        with p.cursor() as cur:
            cur.execute("SELECT pg_sleep(0.05), 2")
            assert cur.fetchone() == ("", 2)
    finally:
        pgpool.extensions.set_wait_callback(None)
        p.close()
    assert calls


# ---------------------------------------------------------------- the libraries on top

AIOPG = """
import asyncio, os, sys
if sys.argv[1] == "pgpool":
    import pgpool
    pgpool.install_as_psycopg2()
import psycopg2, aiopg

async def main():
    async with aiopg.create_pool(os.environ["PGPOOL_TEST_DSN"], minsize=1, maxsize=3) as pool:
        async def one(i):
            async with pool.acquire() as conn:
                async with conn.cursor() as cur:
                    await cur.execute("SELECT %s, pg_sleep(0.2)", (i,))
                    return (await cur.fetchone())[0]
        print(sorted(await asyncio.gather(*(one(i) for i in range(6)))))
        async with pool.acquire() as conn:
            async with conn.cursor() as cur:
                try:
                    await cur.execute("SELECT 1/0")
                except psycopg2.Error as e:
                    print(type(e).__name__, e.pgcode)
                await cur.execute("SELECT 'ok'")
                print((await cur.fetchone())[0])
                await cur.execute("LISTEN aiopg_ch")
                await cur.execute("NOTIFY aiopg_ch, 'hi'")
                msg = await asyncio.wait_for(conn.notifies.get(), 5)
                print(msg.channel, msg.payload)

asyncio.run(main())
"""

GEVENT = """
import os, sys
from gevent import monkey; monkey.patch_all()
import gevent
from gevent.socket import wait_read, wait_write
if sys.argv[1] == "pgpool":
    import pgpool
    pgpool.install_as_psycopg2()
import psycopg2
from psycopg2 import extensions

def gevent_wait_callback(conn, timeout=None):  # psycogreen's
    while True:
        state = conn.poll()
        if state == extensions.POLL_OK:
            break
        elif state == extensions.POLL_READ:
            wait_read(conn.fileno(), timeout=timeout)
        elif state == extensions.POLL_WRITE:
            wait_write(conn.fileno(), timeout=timeout)
        else:
            raise psycopg2.OperationalError("Bad result from poll: %r" % state)

extensions.set_wait_callback(gevent_wait_callback)
events = []
def slow(i):
    c = psycopg2.connect(os.environ["PGPOOL_TEST_DSN"])
    cur = c.cursor()
    cur.execute("SELECT pg_sleep(0.5), %s", (i,))
    events.append("slow")
    c.close()
def fast():
    c = psycopg2.connect(os.environ["PGPOOL_TEST_DSN"])
    cur = c.cursor()
    for _ in range(5):
        cur.execute("SELECT 1")
    events.append("fast")
    c.close()
gevent.joinall([gevent.spawn(slow, i) for i in range(3)] + [gevent.spawn(fast)])
print(events)
"""


def run_child(script: str, variant: str, dsn: str) -> str:
    env = dict(os.environ, PGPOOL_TEST_DSN=dsn)
    r = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(script), variant],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert r.returncode == 0, r.stderr[-3000:]
    return r.stdout


@pytest.mark.parametrize("variant", ["pgpool", "psycopg2"])
def test_aiopg(variant: str, direct_dsn: str) -> None:
    """aiopg (asyncio over psycopg2's asynchronous connections) runs on pgpool as on
    psycopg2: a pool of 3 serving 6 concurrent statements, an error, LISTEN/NOTIFY."""
    out = run_child(AIOPG, variant, direct_dsn).split("\n")
    assert out[:4] == [
        "[0, 1, 2, 3, 4, 5]",
        "DivisionByZero 22012",
        "ok",
        "aiopg_ch hi",
    ]


@pytest.mark.parametrize("variant", ["pgpool", "psycopg2"])
def test_gevent(variant: str, dsn: str) -> None:
    """gevent with psycogreen's wait callback: while three greenlets wait for a slow
    statement, a fourth runs five statements and finishes first (a blocking driver would
    finish the slow ones first: the thread would be stuck in the first)."""
    out = run_child(GEVENT, variant, dsn)
    assert out.strip() == "['fast', 'slow', 'slow', 'slow']"


def test_green_hook_never_outlives_its_call(dsn: str) -> None:
    """The wait callback is installed on the core connection for one call only: once it
    is removed, the next user of the same pooled connection never reaches it."""
    calls: List[int] = []

    def cb(conn: Any) -> None:
        calls.append(1)
        pgpool.extras.wait_select(conn)

    p = pgpool.Pool(dsn, min_size=1, max_size=1)
    try:
        pgpool.extensions.set_wait_callback(cb)
        try:
            with p.cursor() as cur:
                cur.execute("SELECT pg_sleep(0.05)")
        finally:
            pgpool.extensions.set_wait_callback(None)
        seen = len(calls)
        assert seen > 0
        with p.cursor() as cur:  # the same server connection, another object
            cur.execute("SELECT pg_sleep(0.05)")
        assert len(calls) == seen
    finally:
        p.close()
