"""The asyncio face: ``pool.connection_async()``, ``pool.cursor_async()``.

These classes are thin: every operation is the sync face's own code (``Cursor``,
``Connection``, the pool's checkout), whose blocking part — the wait for a connection, a
network round trip — runs on a blocking thread of pgpool's one tokio runtime instead of
the event loop (``pgpool._pgpool._aio_*``; see ``bindings/python/src/aio.rs``). So the
parameters, types, exceptions and transaction semantics are the sync API's, and the
asyncio tasks, threads and C callers of one pool share its limits, its FIFO queue and its
stats.

Cancelling a task (``task.cancel()``, ``asyncio.timeout()``, ``wait_for``) that waits for
a connection takes it out of the pool's queue; one that waits for a statement cancels the
statement on the server (the connection stays usable). The end of an ``async with``
block (COMMIT or ROLLBACK, connection returned) is carried through even when the task is
cancelled.
"""

from __future__ import annotations

import asyncio
import os
import weakref
from types import TracebackType
from typing import (
    TYPE_CHECKING,
    Any,
    Callable,
    List,
    Optional,
    Type,
)

from . import _pgpool

if TYPE_CHECKING:
    from ._pgpool import Connection, Cursor, Pool

__all__ = [
    "AsyncConnection",
    "AsyncCursor",
    "AsyncPoolConnection",
    "AsyncPoolCursor",
    "getconn_async",
    "putconn_async",
]

_get_running_loop = asyncio.get_running_loop
# One bridge per event loop: the queue of finished operations and the socket that wakes
# the loop. Dropped with the loop.
_bridges: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, Any] = (
    weakref.WeakKeyDictionary()
)


def _forget_bridges() -> None:
    # A forked child: the parent's sockets and queues are not this process's.
    _bridges.clear()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_forget_bridges)

# Sync methods that would wait for the server on the event loop: not offered (yet) by
# AsyncCursor; the sync cursor (`acur.cursor`) has them, e.g. for `run_in_executor`.
_BLOCKING = frozenset({"copy_expert", "copy_from", "copy_to", "callproc"})


def _bridge(loop: asyncio.AbstractEventLoop) -> Any:
    b = _bridges.get(loop)
    if b is None:
        b = _pgpool._LoopBridge()
        loop.add_reader(b.fileno(), b.drain)
        _bridges[loop] = b
    return b


async def _run(submit: Callable[..., Any], *args: Any) -> Any:
    """Starts ``submit`` (one of ``_pgpool._aio_*``) and awaits its result; if the task is
    cancelled meanwhile, tells the operation to stop."""
    loop = _get_running_loop()
    fut = loop.create_future()
    job = submit(_bridge(loop), fut, *args)
    try:
        return await fut
    except BaseException:
        job.cancel()
        raise


class AsyncCursor:
    """An asyncio cursor: a sync :class:`pgpool.Cursor` whose round trips are awaited.

    ``execute``/``executemany`` are coroutines; the ``fetch*`` methods are coroutines too
    (for symmetry with other asyncio drivers) but never wait: results arrive whole.
    ``async for row in cur`` iterates over the rows. Every other attribute is the sync
    cursor's (``description``, ``rowcount``, ``query``, ``statusmessage``, ...).
    """

    __slots__ = ("_cur", "_conn")

    def __init__(self, cursor: Cursor, connection: Optional[AsyncConnection] = None):
        self._cur = cursor
        self._conn = connection

    @property
    def cursor(self) -> Cursor:
        """The sync cursor underneath."""
        return self._cur

    @property
    def connection(self) -> Optional[AsyncConnection]:
        """The :class:`AsyncConnection` this cursor belongs to."""
        return self._conn

    async def execute(self, query: Any, vars: Any = None) -> None:
        """``Cursor.execute``, awaited (psycopg2's client-side parameters)."""
        await _run(_pgpool._aio_execute, self._cur, query, vars)

    async def executemany(self, query: Any, vars_list: Any) -> None:
        """``Cursor.executemany``, awaited: every statement is rendered first, then they
        are pipelined; ``rowcount`` is the total."""
        await _run(_pgpool._aio_executemany, self._cur, query, vars_list)

    async def fetchone(self) -> Any:
        return self._cur.fetchone()

    async def fetchmany(self, size: Optional[int] = None) -> List[Any]:
        return self._cur.fetchmany(size)

    async def fetchall(self) -> List[Any]:
        return self._cur.fetchall()

    def mogrify(self, query: Any, vars: Any = None) -> bytes:
        return self._cur.mogrify(query, vars)

    def scroll(self, value: int, mode: str = "relative") -> None:
        self._cur.scroll(value, mode)

    def close(self) -> None:
        self._cur.close()

    @property
    def closed(self) -> bool:
        return self._cur.closed

    @property
    def description(self) -> Any:
        return self._cur.description

    @property
    def rowcount(self) -> int:
        return self._cur.rowcount

    @property
    def rownumber(self) -> int:
        return self._cur.rownumber

    @property
    def statusmessage(self) -> Optional[str]:
        return self._cur.statusmessage

    @property
    def query(self) -> Optional[bytes]:
        return self._cur.query

    @property
    def lastrowid(self) -> int:
        return self._cur.lastrowid

    @property
    def arraysize(self) -> int:
        return self._cur.arraysize

    @arraysize.setter
    def arraysize(self, value: int) -> None:
        self._cur.arraysize = value

    def __getattr__(self, name: str) -> Any:
        if name in _BLOCKING:
            raise _pgpool_errors().NotSupportedError(
                f"AsyncCursor.{name}() is not available yet: it would block the event "
                f"loop (the sync cursor, .cursor.{name}(), can run in an executor)"
            )
        return getattr(self._cur, name)

    def __aiter__(self) -> AsyncCursor:
        return self

    async def __anext__(self) -> Any:
        row = self._cur.fetchone()
        if row is None:
            raise StopAsyncIteration
        return row

    async def __aenter__(self) -> AsyncCursor:
        return self

    async def __aexit__(
        self,
        exc_type: Optional[Type[BaseException]],
        exc: Optional[BaseException],
        tb: Optional[TracebackType],
    ) -> None:
        self._cur.close()

    def __repr__(self) -> str:
        return f"<pgpool.AsyncCursor over {self._cur!r}>"


class AsyncConnection:
    """An asyncio connection: a sync :class:`pgpool.Connection` whose round trips are
    awaited (``await conn.commit()``, ``await conn.rollback()``, ``await
    conn.execute(...)``). ``cursor()`` returns an :class:`AsyncCursor`; every other
    attribute is the sync connection's (``autocommit``, ``info``, ``get_backend_pid()``,
    ``notices``, ...)."""

    __slots__ = ("_conn",)

    def __init__(self, conn: Connection):
        self._conn = conn

    @property
    def connection(self) -> Connection:
        """The sync connection underneath."""
        return self._conn

    def cursor(self, *args: Any, **kwargs: Any) -> AsyncCursor:
        """``Connection.cursor()`` (same arguments), as an :class:`AsyncCursor`."""
        return AsyncCursor(self._conn.cursor(*args, **kwargs), self)

    async def execute(self, query: Any, vars: Any = None) -> AsyncCursor:
        """A new cursor that executed ``query`` (psycopg 3's shortcut)."""
        cur = self.cursor()
        await cur.execute(query, vars)
        return cur

    async def commit(self) -> None:
        await _run(_pgpool._aio_finish, self._conn, True)

    async def rollback(self) -> None:
        await _run(_pgpool._aio_finish, self._conn, False)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._conn, name)

    def __setattr__(self, name: str, value: Any) -> None:
        if name in AsyncConnection.__slots__:
            object.__setattr__(self, name, value)
        else:
            setattr(self._conn, name, value)

    def __repr__(self) -> str:
        return f"<pgpool.AsyncConnection over {self._conn!r}>"


class AsyncPoolConnection:
    """What ``pool.connection_async()`` returns: ``async with`` yields an
    :class:`AsyncConnection`; the block is a transaction (unless ``autocommit``),
    committed at the end, rolled back when it raises, and the connection goes back to
    the pool."""

    __slots__ = ("_pool", "_timeout", "_opts", "_conn")

    def __init__(
        self, pool: Pool, timeout: Optional[float], opts: _pgpool._BlockOptions
    ):
        self._pool = pool
        self._timeout = timeout
        self._opts = opts
        self._conn: Optional[Connection] = None

    async def _enter(self) -> Connection:
        if self._conn is not None:
            raise _pgpool_errors().ProgrammingError(
                "this pool.connection_async() block is already entered"
            )
        conn: Connection = await _run(
            _pgpool._aio_checkout, self._pool, self._timeout, self._opts
        )
        self._conn = conn
        return conn

    async def __aenter__(self) -> AsyncConnection:
        return AsyncConnection(await self._enter())

    async def __aexit__(
        self,
        exc_type: Optional[Type[BaseException]],
        exc: Optional[BaseException],
        tb: Optional[TracebackType],
    ) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            await _run(_pgpool._aio_exit, conn, exc_type is None)


class AsyncPoolCursor(AsyncPoolConnection):
    """What ``pool.cursor_async()`` returns: ``async with`` yields an
    :class:`AsyncCursor`, with ``pool.cursor()``'s transaction semantics (BEGIN ..
    COMMIT, ROLLBACK when the block raises, connection returned)."""

    __slots__ = ("_dict_rows", "_factory")

    def __init__(
        self,
        pool: Pool,
        timeout: Optional[float],
        opts: _pgpool._BlockOptions,
        dict_rows: bool,
        cursor_factory: Any,
    ):
        super().__init__(pool, timeout, opts)
        self._dict_rows = dict_rows
        self._factory = cursor_factory

    async def __aenter__(self) -> AsyncCursor:  # type: ignore[override]
        conn = await self._enter()
        try:
            if self._factory is not None:
                cur = self._factory(conn, None)
            else:
                cur = conn.cursor(row_mode="dict" if self._dict_rows else "tuple")
        except BaseException:
            self._conn = None
            await _run(_pgpool._aio_exit, conn, False)
            raise
        return AsyncCursor(cur, AsyncConnection(conn))


def _pgpool_errors() -> Any:
    from . import errors

    return errors


async def getconn_async(
    pool: Pool, timeout: Optional[float] = None, *, readonly: bool = False
) -> AsyncConnection:
    """``pool.getconn()`` for asyncio: a plain checkout (no transaction queued; the
    connection begins one implicitly, as psycopg2's). ``readonly=True`` routes it to the
    pool's replicas (round-robin, the primary when none is reachable) and makes its
    transactions READ ONLY. Give it back with :func:`putconn_async`. The checkout waits
    in the pool's one FIFO queue (threads, asyncio and C alike); cancelling the task
    takes it out of the queue."""
    conn: Connection = await _run(
        _pgpool._aio_checkout,
        pool,
        timeout,
        _pgpool._BlockOptions(readonly=readonly),
        False,
    )
    return AsyncConnection(conn)


async def putconn_async(conn: AsyncConnection, close: bool = False) -> None:
    """``pool.putconn()`` for asyncio: an open transaction is rolled back (off the event
    loop, only when one reached the server) and the connection goes back to its pool;
    ``close=True`` discards it instead. Carried through even when the task is
    cancelled."""
    raw = conn.connection
    if close:
        raw.close()
        return
    await _run(_pgpool._aio_exit, raw, False)
