"""The asyncio face: ``pool.connection_async()``,
``pool.cursor_async()``, ``pgpool.get_cursor_async()``.

Plain asyncio: each test runs its coroutine with ``asyncio.run``. Parity tests compare
with the sync API on the same pool; the behaviour tests check that awaiting never blocks
the loop, that cancellation (``task.cancel()``, ``asyncio.timeout``) leaves the pool's
queue and cancels server-side, and that asyncio tasks and threads share one pool.
"""

from __future__ import annotations

import asyncio
import datetime
import decimal
import sys
import threading
import time
import uuid
from typing import Any, Awaitable, Callable, List

import pytest

import pgpool
from _helpers import same
from pgpool import extras

pytestmark = pytest.mark.timeout(120)


def run(coro: Awaitable[Any]) -> Any:
    return asyncio.run(coro)  # type: ignore[arg-type]


if sys.version_info >= (3, 11):
    _timeout = asyncio.timeout
else:  # pragma: no cover - 3.9/3.10: wait_for cancels the same way
    _timeout = None


async def with_timeout(seconds: float, coro_fn: Callable[[], Awaitable[Any]]) -> Any:
    if _timeout is not None:
        async with _timeout(seconds):
            return await coro_fn()
    return await asyncio.wait_for(coro_fn(), seconds)  # type: ignore[arg-type]


TYPES_SQL = """
SELECT 1::int2, 2::int4, 3::int8, 1.5::float8, 1.25::numeric(10,3), true, 'txt'::text,
       '\\x00ff'::bytea, '2024-02-29'::date, '2024-02-29 12:34:56.789'::timestamp,
       '2024-02-29 12:34:56+02'::timestamptz, '1 day 02:03:04'::interval,
       '{1,2,NULL}'::int[], '{"a": [1, 2]}'::jsonb, NULL::text,
       'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11'::uuid, %s::text, %s::int, %s::numeric,
       %s::date
"""
TYPES_PARAMS = ("it's", 42, decimal.Decimal("9.99"), datetime.date(2020, 1, 2))


# ---------------------------------------------------------------------------------------
# parity with the sync API


def test_types_and_description_match_sync(pool: pgpool.Pool) -> None:
    with pool.cursor() as cur:
        cur.execute(TYPES_SQL, TYPES_PARAMS)
        want = cur.fetchall()
        want_desc = [tuple(c) for c in cur.description]
        want_query = cur.query

    async def main() -> None:
        async with pool.cursor_async() as cur:
            await cur.execute(TYPES_SQL, TYPES_PARAMS)
            got = await cur.fetchall()
            assert [tuple(c) for c in cur.description] == want_desc
            assert cur.query == want_query
            assert cur.rowcount == 1
            assert cur.statusmessage == "SELECT 1"
        same(got, want)

    run(main())


def test_fetch_methods_and_async_for(pool: pgpool.Pool) -> None:
    async def main() -> None:
        async with pool.cursor_async() as cur:
            await cur.execute("SELECT g, g * 2 FROM generate_series(1, 10) g")
            assert await cur.fetchone() == (1, 2)
            assert await cur.fetchmany(2) == [(2, 4), (3, 6)]
            cur.arraysize = 3
            assert await cur.fetchmany() == [(4, 8), (5, 10), (6, 12)]
            rest = [r async for r in cur]
            assert rest == [(g, g * 2) for g in range(7, 11)]
            assert await cur.fetchone() is None
            assert await cur.fetchall() == []
        # buffered rows stay readable after the block, execute does not
        assert cur.closed
        with pytest.raises(pgpool.InterfaceError):
            await cur.execute("SELECT 1")

    run(main())


def test_dict_rows_and_cursor_factory(pool: pgpool.Pool) -> None:
    async def main() -> None:
        async with pool.cursor_async(dict_rows=True) as cur:
            await cur.execute("SELECT 1 AS a, 'x' AS b")
            assert await cur.fetchone() == {"a": 1, "b": "x"}
        async with pool.cursor_async(cursor_factory=extras.NamedTupleCursor) as cur:
            await cur.execute("SELECT 1 AS a, 'x' AS b")
            row = await cur.fetchone()
            assert (row.a, row.b) == (1, "x")
        async with pool.connection_async() as conn:
            cur = conn.cursor(cursor_factory=extras.RealDictCursor)
            await cur.execute("SELECT 2 AS n")
            assert await cur.fetchall() == [{"n": 2}]

    run(main())


def test_exceptions_match_sync(pool: pgpool.Pool) -> None:
    cases = [
        ("SELECT 1/0", None),
        ("SELECT * FROM pgpool_no_such_table", None),
        ("SELECT %s", {"a": 1}),  # ProgrammingError-ish: positional with a mapping
        ("SELECT 'x'::int", None),
        ("", None),
    ]
    want = []
    for sql, params in cases:
        with pytest.raises(Exception) as ei:
            with pool.cursor() as cur:
                cur.execute(sql, params)
        want.append((type(ei.value), getattr(ei.value, "pgcode", None), str(ei.value)))

    async def main() -> None:
        for (sql, params), (cls, code, msg) in zip(cases, want):
            with pytest.raises(Exception) as ei:
                async with pool.cursor_async() as cur:
                    await cur.execute(sql, params)
            assert type(ei.value) is cls, sql
            assert getattr(ei.value, "pgcode", None) == code, sql
            assert str(ei.value) == msg, sql

    run(main())


def test_transactions(pool: pgpool.Pool, table: str, admin: Any) -> None:
    def count() -> int:
        with admin.cursor() as c:
            c.execute(f"SELECT count(*) FROM {table}")
            return int(c.fetchone()[0])

    async def main() -> None:
        # committed at the end of the block
        async with pool.cursor_async() as cur:
            await cur.execute(f"INSERT INTO {table} (val) VALUES (1)")
            assert count() == 0  # not yet visible outside the transaction
        assert count() == 1
        # rolled back when the block raises
        with pytest.raises(RuntimeError):
            async with pool.cursor_async() as cur:
                await cur.execute(f"INSERT INTO {table} (val) VALUES (2)")
                raise RuntimeError("boom")
        assert count() == 1
        # explicit commit / rollback on a connection
        async with pool.connection_async() as conn:
            cur = conn.cursor()
            await cur.execute(f"INSERT INTO {table} (val) VALUES (3)")
            await conn.rollback()
            await cur.execute(f"INSERT INTO {table} (val) VALUES (4)")
            await conn.commit()
            assert count() == 2
            await cur.execute(f"INSERT INTO {table} (val) VALUES (5)")
        assert count() == 3
        # autocommit: each statement on its own
        async with pool.cursor_async(autocommit=True) as cur:
            await cur.execute(f"INSERT INTO {table} (val) VALUES (6)")
            assert count() == 4
            await cur.execute("SHOW transaction_read_only")
            assert await cur.fetchone() == ("off",)
        # readonly transactions
        with pytest.raises(pgpool.errors.ReadOnlySqlTransaction):
            async with pool.cursor_async(readonly=True) as cur:
                await cur.execute(f"INSERT INTO {table} (val) VALUES (7)")
        async with pool.cursor_async(autocommit=True, readonly=True) as cur:
            await cur.execute("SHOW transaction_read_only")
            assert await cur.fetchone() == ("on",)
        async with pool.cursor_async(isolation_level="SERIALIZABLE") as cur:
            await cur.execute("SHOW transaction_isolation")
            assert await cur.fetchone() == ("serializable",)
        # executemany: pipelined, rowcount is the total
        async with pool.cursor_async() as cur:
            await cur.executemany(
                f"INSERT INTO {table} (val, note) VALUES (%s, %s)",
                [(i, f"n{i}") for i in range(10)],
            )
            assert cur.rowcount == 10
        assert count() == 14
        # a failing statement aborts the transaction, as in the sync API
        async with pool.connection_async() as conn:
            cur = conn.cursor()
            with pytest.raises(pgpool.DataError):
                await cur.execute("SELECT 1/0")
            with pytest.raises(pgpool.errors.InFailedSqlTransaction):
                await cur.execute("SELECT 1")
            await conn.rollback()
            await cur.execute("SELECT 1")
        # the session options were reset on return
        with pool.cursor(autocommit=True) as cur:
            cur.execute("SHOW default_transaction_read_only")
            assert cur.fetchone() == ("off",)
        assert pool.stats()["in_use"] == 0

    run(main())


def test_bad_arguments_raise_at_call(pool: pgpool.Pool) -> None:
    with pytest.raises(ValueError):
        pool.cursor_async(isolation_level="sometimes")
    with pytest.raises(pgpool.ProgrammingError) as sync_err:
        with pool.connection(timeout=-1):
            pass
    with pytest.raises(pgpool.ProgrammingError) as async_err:
        pool.connection_async(timeout=-1)
    assert str(async_err.value) == str(sync_err.value)


def test_pool_timeout_and_closed(dsn: str, admin: Any) -> None:
    p = pgpool.Pool(dsn, min_size=0, max_size=1, timeout=0.3)
    held = p.getconn()

    async def main() -> None:
        with pytest.raises(pgpool.PoolTimeout):
            async with p.cursor_async():
                pass
        p.putconn(held)
        p.close()
        with pytest.raises(pgpool.PoolClosed):
            async with p.cursor_async():
                pass

    run(main())


def test_get_cursor_async_uses_the_default_pool(
    clean_env: pytest.MonkeyPatch, dsn: str, admin: Any
) -> None:
    clean_env.setenv("DATABASE_URL", dsn)

    async def main() -> None:
        async with pgpool.get_cursor_async() as cur:
            await cur.execute("SELECT 40 + %s", (2,))
            assert await cur.fetchone() == (42,)
        async with pgpool.connection_async(autocommit=True) as conn:
            cur = await conn.execute("SELECT 1")
            assert await cur.fetchall() == [(1,)]

    run(main())
    assert pgpool.stats()["requests_num"] >= 2


# ---------------------------------------------------------------------------------------
# the event loop is never blocked


def test_loop_latency_while_100_tasks_query(dsn: str, admin: Any) -> None:
    p = pgpool.Pool(dsn, min_size=10, max_size=10, timeout=30)
    p.wait()

    async def main() -> None:
        delays: List[float] = []
        stop = False

        async def ticker() -> None:
            while not stop:
                t = time.perf_counter()
                await asyncio.sleep(0.005)
                delays.append(time.perf_counter() - t - 0.005)

        async def worker(n: int) -> None:
            for _ in range(n):
                async with p.cursor_async() as cur:
                    # Slow statements: a blocking face would stall the loop here.
                    await cur.execute("SELECT pg_sleep(0.01), %s", (1,))
                    await cur.fetchall()

        # warm-up: the runtime's blocking threads exist before the clock starts
        await asyncio.gather(*[worker(1) for _ in range(20)])
        tick = asyncio.create_task(ticker())
        t0 = time.perf_counter()
        await asyncio.gather(*[worker(20) for _ in range(100)])
        elapsed = time.perf_counter() - t0
        stop = True
        await tick
        # 2000 statements of 10 ms on 10 connections: >= 2 s, and far less than the
        # 20 s a face that blocks the loop would take.
        assert 1.9 <= elapsed < 10
        assert len(delays) > 50
        delays.sort()
        # A blocked loop would delay most ticks by 10 ms or more. The bounds are
        # generous for a busy 2-CPU machine (an idle loop here: ~0.5 / 2 / 5 ms).
        median, p99 = delays[len(delays) // 2], delays[int(len(delays) * 0.99)]
        assert median < 0.005, (median, p99, delays[-5:])
        assert p99 < 0.05, (median, p99, delays[-5:])
        assert delays[-1] < 0.25, (median, p99, delays[-5:])

    try:
        run(main())
        st = p.stats()
        assert st["in_use"] == 0 and st["requests_waiting"] == 0
        assert st["pool_size"] <= 10
    finally:
        p.close()


# ---------------------------------------------------------------------------------------
# cancellation


def _active(admin: Any, marker: str) -> int:
    with admin.cursor() as c:
        c.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE state = 'active' "
            "AND query LIKE %s AND pid <> pg_backend_pid()",
            (f"%{marker}%",),
        )
        return int(c.fetchone()[0])


def test_cancel_while_waiting_for_a_connection(direct_dsn: str, admin: Any) -> None:
    p = pgpool.Pool(direct_dsn, min_size=0, max_size=2, timeout=30)
    held = [p.getconn(), p.getconn()]

    async def main() -> None:
        async def want() -> None:
            async with p.cursor_async() as cur:
                await cur.execute("SELECT 1")

        tasks = [asyncio.create_task(want()) for _ in range(5)]
        await asyncio.sleep(0.3)
        assert p.stats()["requests_waiting"] == 5
        for t in tasks[:3]:
            t.cancel()
        t0 = time.perf_counter()
        while p.stats()["requests_waiting"] != 2:
            assert time.perf_counter() - t0 < 1.0, p.stats()
            await asyncio.sleep(0.005)
        # the cancelled ones left the queue; the others are served, in order
        for c in held:
            p.putconn(c)
        await asyncio.gather(*tasks[3:])
        for t in tasks[:3]:
            assert t.cancelled()
        st = p.stats()
        assert st["requests_waiting"] == 0 and st["in_use"] == 0

    try:
        run(main())
    finally:
        p.close()


def _mid_query_cancel(
    p: pgpool.Pool, admin: Any, cancel: Callable[[Any], Awaitable[None]]
) -> None:
    marker = "pgpool_aio_" + uuid.uuid4().hex[:8]

    async def main() -> None:
        pids: List[int] = []

        async def slow() -> None:
            async with p.connection_async() as conn:
                pids.append(conn.get_backend_pid())
                cur = conn.cursor()
                await cur.execute(f"SELECT pg_sleep(10) /* {marker} */")

        await cancel(slow)
        t0 = time.perf_counter()
        while _active(admin, marker):
            assert time.perf_counter() - t0 < 1.5, "the statement still runs"
            await asyncio.sleep(0.02)
        # the connection went back clean and is usable
        t0 = time.perf_counter()
        while p.stats()["in_use"]:
            assert time.perf_counter() - t0 < 1.5
            await asyncio.sleep(0.01)
        async with p.connection_async() as conn:
            assert conn.get_backend_pid() == pids[0]
            assert conn.get_transaction_status() == 0  # idle
            cur = await conn.execute("SELECT 7")
            assert await cur.fetchone() == (7,)
        assert p.stats()["connections_num"] == 1

    run(main())


def test_cancel_mid_query_cancels_on_the_server(direct_dsn: str, admin: Any) -> None:
    p = pgpool.Pool(direct_dsn, min_size=0, max_size=1, timeout=10)

    async def cancel(slow: Callable[[], Awaitable[None]]) -> None:
        task = asyncio.create_task(slow())
        await asyncio.sleep(0.5)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    try:
        _mid_query_cancel(p, admin, cancel)
    finally:
        p.close()


def test_timeout_cancels_on_the_server(direct_dsn: str, admin: Any) -> None:
    p = pgpool.Pool(direct_dsn, min_size=0, max_size=1, timeout=10)

    async def cancel(slow: Callable[[], Awaitable[None]]) -> None:
        t0 = time.perf_counter()
        with pytest.raises((asyncio.TimeoutError, TimeoutError)):
            await with_timeout(0.5, slow)
        assert time.perf_counter() - t0 < 1.5

    try:
        _mid_query_cancel(p, admin, cancel)
    finally:
        p.close()


def test_wait_for_while_waiting_for_a_connection(direct_dsn: str, admin: Any) -> None:
    p = pgpool.Pool(direct_dsn, min_size=0, max_size=1, timeout=30)
    held = p.getconn()

    async def main() -> None:
        async def want() -> None:
            async with p.cursor_async() as cur:
                await cur.execute("SELECT 1")

        t0 = time.perf_counter()
        with pytest.raises((asyncio.TimeoutError, TimeoutError)):
            await with_timeout(0.3, want)
        assert time.perf_counter() - t0 < 1.0
        await asyncio.sleep(0.05)
        assert p.stats()["requests_waiting"] == 0

    try:
        run(main())
        p.putconn(held)
        assert p.stats()["in_use"] == 0
    finally:
        p.close()


# ---------------------------------------------------------------------------------------
# one pool for asyncio tasks, threads and C
#
# libpgpool.so and the Python extension each link their own copy of the core, so C code
# shares a Python pool through the C API the extension itself exports
# (`ctypes.CDLL(pgpool._pgpool.__file__)`) and `Pool._c_handle()`.


def test_one_pool_for_asyncio_threads_and_c(direct_dsn: str, admin: Any) -> None:
    """asyncio tasks, Python threads and C callers (the C API exported by this same
    extension, through ctypes) share one pool: one limit, one queue, one set of stats."""
    import ctypes

    app = "pgpool_mix_" + uuid.uuid4().hex[:8]
    p = pgpool.Pool(
        direct_dsn, min_size=0, max_size=4, timeout=60, application_name=app
    )
    seen: List[int] = []
    stop = threading.Event()

    def monitor() -> None:
        import psycopg2

        c = psycopg2.connect(direct_dsn)
        c.autocommit = True
        with c.cursor() as cur:
            while not stop.is_set():
                cur.execute(
                    "SELECT count(*) FROM pg_stat_activity WHERE application_name = %s",
                    (app,),
                )
                seen.append(int(cur.fetchone()[0]))
                time.sleep(0.005)
        c.close()

    served = {"thread": 0, "task": 0, "c": 0}
    lock = threading.Lock()

    lib = ctypes.CDLL(pgpool._pgpool.__file__)
    vp = ctypes.c_void_p
    lib.pgpool_acquire.argtypes = [vp, ctypes.c_int32, ctypes.POINTER(vp), vp]
    lib.pgpool_acquire.restype = ctypes.c_uint32
    lib.pgpool_exec.argtypes = [
        vp,
        ctypes.c_char_p,
        ctypes.c_size_t,
        ctypes.POINTER(ctypes.c_char_p),
        ctypes.POINTER(vp),
        vp,
    ]
    lib.pgpool_exec.restype = ctypes.c_uint32
    lib.pgpool_result_value.argtypes = [vp, ctypes.c_size_t, ctypes.c_size_t]
    lib.pgpool_result_value.restype = ctypes.c_char_p
    lib.pgpool_result_free.argtypes = [vp]
    lib.pgpool_release.argtypes = [vp]
    lib.pgpool_pool_free.argtypes = [vp]
    handle = p._c_handle()

    def c_worker() -> None:
        for _ in range(25):
            conn = vp()
            assert lib.pgpool_acquire(handle, 60000, ctypes.byref(conn), None) == 0
            res = vp()
            params = (ctypes.c_char_p * 1)(b"c")
            sql = b"SELECT pg_sleep(0.002), $1::text"
            assert lib.pgpool_exec(conn, sql, 1, params, ctypes.byref(res), None) == 0
            assert lib.pgpool_result_value(res, 0, 1) == b"c"
            lib.pgpool_result_free(res)
            lib.pgpool_release(conn)
            with lock:
                served["c"] += 1

    def thread_worker() -> None:
        for _ in range(25):
            with p.cursor() as cur:
                cur.execute("SELECT pg_sleep(0.002), 'thread'")
                assert cur.fetchone()[1] == "thread"
            with lock:
                served["thread"] += 1

    async def task_worker() -> None:
        for _ in range(25):
            async with p.cursor_async() as cur:
                await cur.execute("SELECT pg_sleep(0.002), 'task'")
                assert (await cur.fetchone())[1] == "task"
            with lock:
                served["task"] += 1

    async def tasks() -> None:
        await asyncio.gather(*[task_worker() for _ in range(20)])

    mon = threading.Thread(target=monitor)
    mon.start()
    threads = [threading.Thread(target=thread_worker) for _ in range(8)]
    threads += [threading.Thread(target=c_worker) for _ in range(4)]
    try:
        for t in threads:
            t.start()
        run(tasks())
        for t in threads:
            t.join()
    finally:
        stop.set()
        mon.join()
    try:
        assert served == {"thread": 200, "task": 500, "c": 100}
        assert seen and max(seen) <= 4, max(seen)
        assert max(seen) >= 2  # they really ran together
        st = p.stats()
        assert st["requests_num"] == 800
        assert st["connections_num"] <= 4
        assert st["in_use"] == 0 and st["requests_waiting"] == 0
    finally:
        lib.pgpool_pool_free(handle)
        p.close()


def test_fifo_across_threads_and_tasks(direct_dsn: str, admin: Any) -> None:
    p = pgpool.Pool(direct_dsn, min_size=1, max_size=1, timeout=30)
    p.wait()
    held = p.getconn()
    order: List[str] = []

    def thread_waiter(name: str) -> None:
        c = p.getconn()
        order.append(name)
        p.putconn(c)

    async def main() -> None:
        async def task_waiter(name: str) -> None:
            async with p.connection_async():
                order.append(name)

        tasks = []
        threads = []
        for i in range(6):
            if i % 2:
                t = threading.Thread(target=thread_waiter, args=(f"thread{i}",))
                t.start()
                threads.append(t)
            else:
                tasks.append(asyncio.create_task(task_waiter(f"task{i}")))
            # each waiter is in the queue before the next arrives
            t0 = time.perf_counter()
            while p.stats()["requests_waiting"] < i + 1:
                assert time.perf_counter() - t0 < 2
                await asyncio.sleep(0.005)
        p.putconn(held)
        await asyncio.gather(*tasks)
        for t in threads:
            await asyncio.get_running_loop().run_in_executor(None, t.join)

    try:
        run(main())
        assert order == [f"task{i}" if i % 2 == 0 else f"thread{i}" for i in range(6)]
    finally:
        p.close()


def test_many_loops_and_threads(dsn: str, admin: Any) -> None:
    """Each thread runs its own event loop on the same pool."""
    p = pgpool.Pool(dsn, min_size=0, max_size=3, timeout=30)
    errors: List[BaseException] = []

    def in_thread() -> None:
        async def main() -> None:
            async def one(i: int) -> int:
                async with p.cursor_async() as cur:
                    await cur.execute("SELECT %s", (i,))
                    return int((await cur.fetchone())[0])

            assert await asyncio.gather(*[one(i) for i in range(50)]) == list(range(50))

        try:
            for _ in range(3):
                asyncio.run(main())
        except BaseException as e:  # pragma: no cover - reported below
            errors.append(e)

    threads = [threading.Thread(target=in_thread) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    try:
        assert not errors, errors
        assert p.stats()["requests_num"] == 600
    finally:
        p.close()


def test_executemany_renders_first_and_blocking_methods_are_refused(
    pool: pgpool.Pool, table: str, admin: Any
) -> None:
    async def main() -> None:
        async with pool.cursor_async(autocommit=True) as cur:
            assert isinstance(cur, pgpool.AsyncCursor)
            assert isinstance(cur.connection, pgpool.AsyncConnection)
            # a parameter that cannot be adapted: raised before anything is sent
            with pytest.raises(pgpool.ProgrammingError, match="can't adapt"):
                await cur.executemany(
                    f"INSERT INTO {table} (val) VALUES (%s)", [(1,), ({"x": 1},)]
                )
            with pytest.raises(pgpool.NotSupportedError, match="event loop"):
                cur.copy_expert("COPY x TO STDOUT", None)
            assert cur.mogrify("SELECT %s", (1,)) == b"SELECT 1"
        with admin.cursor() as c:
            c.execute(f"SELECT count(*) FROM {table}")
            assert c.fetchone()[0] == 0

    run(main())


def test_readonly_routes_to_the_replica_and_says_so(
    direct_dsn: str, admin: Any
) -> None:
    """`connection_async(readonly=True)` goes to the replica; `conn.dsn` names it."""

    def app(dsn: str, name: str) -> str:
        return dsn + ("&" if "?" in dsn else "?") + f"application_name={name}"

    async def main(pool: pgpool.Pool) -> List[Any]:
        out = []
        for readonly in (True, False):
            async with pool.connection_async(readonly=readonly) as conn:
                cur = await conn.execute("SHOW application_name")
                out.append(((await cur.fetchone())[0], "pgpool_ro" in conn.dsn))
        return out

    with pgpool.Pool(
        app(direct_dsn, "pgpool_rw"),
        min_size=0,
        max_size=2,
        replicas=[app(direct_dsn, "pgpool_ro")],
    ) as pool:
        assert run(main(pool)) == [("pgpool_ro", True), ("pgpool_rw", False)]
