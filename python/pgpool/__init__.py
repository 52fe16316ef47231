"""pgpool: a PostgreSQL connection pool with a Rust core, as a psycopg2 drop-in.

The module is a DB-API 2.0 driver with psycopg2's semantics, and a connection pool::

    from pgpool import get_cursor

    with get_cursor() as cur:           # BEGIN .. COMMIT (ROLLBACK on exception)
        cur.execute("SELECT * FROM orders WHERE id = %s", (order_id,))
        row = cur.fetchone()

asyncio code uses the same pools (:func:`get_cursor_async`, ``Pool.cursor_async()``,
``Pool.connection_async()``)::

    async with get_cursor_async() as cur:
        await cur.execute("SELECT * FROM orders WHERE id = %s", (order_id,))
        row = await cur.fetchone()

The module-level functions use a *default pool*, created on first use from the
environment (``DATABASE_URL``, libpq's ``PG*``, the ``POSTGRES_*`` variables and the pool
settings ``PGPOOL_MIN_SIZE``/``PG_POOL_MIN``/...: see the README), once per process and
again in a forked child. :func:`configure` sets it up explicitly.
"""

from __future__ import annotations

import datetime as _datetime
import logging as _logging
import os as _os
import threading as _threading
import time as _time
from typing import TYPE_CHECKING, Any, Dict, List, Optional, Tuple

from . import _pgpool
from ._pgpool import Connection, Cursor, Listener, Pool

if TYPE_CHECKING:
    from ._aio import (
        AsyncConnection,
        AsyncCursor,
        AsyncPoolConnection,
        AsyncPoolCursor,
    )
    from ._pgpool import PoolConnection, PoolCursor
from .errors import (
    DatabaseError,
    DataError,
    Error,
    IntegrityError,
    InterfaceError,
    InternalError,
    NotSupportedError,
    OperationalError,
    PoolClosed,
    PoolError,
    PoolTimeout,
    ProgrammingError,
    QueryCanceledError,
    TooManyRequests,
    TransactionRollbackError,
    Warning,
)

__all__ = [
    # DB-API 2.0 module interface
    "apilevel",
    "threadsafety",
    "paramstyle",
    "connect",
    "Connection",
    "Cursor",
    "STRING",
    "BINARY",
    "NUMBER",
    "DATETIME",
    "ROWID",
    "Date",
    "Time",
    "Timestamp",
    "DateFromTicks",
    "TimeFromTicks",
    "TimestampFromTicks",
    "Binary",
    # exceptions
    "Warning",
    "Error",
    "InterfaceError",
    "DatabaseError",
    "DataError",
    "OperationalError",
    "IntegrityError",
    "InternalError",
    "ProgrammingError",
    "NotSupportedError",
    "QueryCanceledError",
    "TransactionRollbackError",
    "PoolError",
    "PoolTimeout",
    "PoolClosed",
    "TooManyRequests",
    # the pool
    "Pool",
    "get_cursor",
    "connection",
    "get_cursor_async",
    "connection_async",
    "AsyncConnection",
    "AsyncCursor",
    "get_conn",
    "put_conn",
    "configure",
    "default_pool",
    "close_pool",
    "stats",
    "health_check",
    "PostgresPool",
    "Listener",
    "listen",
    "install_as_psycopg2",
    "__version__",
]

__version__: str = getattr(_pgpool, "__version__", "0.1.0")

# DB-API's optional extension: the exception classes as connection attributes
# (``conn.ProgrammingError``), as psycopg2's connection has them.
for _exc in (
    Warning,
    Error,
    InterfaceError,
    DatabaseError,
    DataError,
    OperationalError,
    IntegrityError,
    InternalError,
    ProgrammingError,
    NotSupportedError,
):
    setattr(Connection, _exc.__name__, _exc)
del _exc

# The core logs to the logger "pgpool": silent unless the application configures logging.
_logging.getLogger(__name__).addHandler(_logging.NullHandler())

# ---------------------------------------------------------------------------
# DB-API 2.0 module globals

apilevel = "2.0"
#: Threads may share the module and connections (psycopg2's level).
threadsafety = 2
paramstyle = "pyformat"


class _DBAPITypeObject:
    """A DB-API type object: equal to the type OID (``description[i][1]``) of each of
    its PostgreSQL types, as psycopg2's ``STRING``, ``NUMBER``, ..."""

    __slots__ = ("name", "values")

    def __init__(self, name: str, values: Tuple[int, ...]) -> None:
        self.name = name
        self.values = values

    def __eq__(self, other: object) -> bool:
        if isinstance(other, _DBAPITypeObject):
            return self is other
        if isinstance(other, int):
            return other in self.values
        return NotImplemented

    def __ne__(self, other: object) -> bool:
        eq = self.__eq__(other)
        return eq if eq is NotImplemented else not eq

    def __hash__(self) -> int:
        return hash((self.name, self.values))

    def __call__(self, value: Optional[str], cursor: Any = None) -> Any:
        """As psycopg2's (its type objects are typecasters too, e.g. the base of
        ``extensions.new_array_type(oids, name, psycopg2.STRING)``): ``value``, the
        text of a value of one of these types, as the cursor would return it."""
        if value is None:
            return None
        if self is STRING:
            return value
        if self is NUMBER:
            import decimal

            for conv in (int, float):
                try:
                    return conv(value)
                except ValueError:
                    continue
            return decimal.Decimal(value)
        return _pgpool._cast(self.values[0], value)

    def __repr__(self) -> str:
        return f"<pgpool type object {self.name!r} {self.values}>"


# The OIDs psycopg2 2.9 puts in each (char, name, text, bpchar, varchar; bytea; ...).
STRING = _DBAPITypeObject("STRING", (19, 18, 25, 1042, 1043))
BINARY = _DBAPITypeObject("BINARY", (17,))
NUMBER = _DBAPITypeObject("NUMBER", (20, 23, 21, 701, 700, 1700))
DATETIME = _DBAPITypeObject("DATETIME", (1114,))
ROWID = _DBAPITypeObject("ROWID", (26,))

Date = _datetime.date
Time = _datetime.time
Timestamp = _datetime.datetime


def DateFromTicks(ticks: float) -> _datetime.date:
    """The local date of a POSIX timestamp (a ``date``, with psycopg2's adapter API:
    ``.adapted``, ``getquoted()``)."""
    from ._dbapi_values import DateValue

    return DateValue(*_time.localtime(ticks)[:3])


def TimeFromTicks(ticks: float) -> _datetime.time:
    """The local time of day of a POSIX timestamp (with its fraction of a second; a
    ``time`` with ``.adapted`` and ``getquoted()``)."""
    from ._dbapi_values import TimeValue

    return TimeValue.of(_datetime.datetime.fromtimestamp(ticks).time())


def TimestampFromTicks(ticks: float) -> _datetime.datetime:
    """A POSIX timestamp as an aware datetime in the local time zone (as psycopg2; a
    ``datetime`` with ``.adapted`` and ``getquoted()``)."""
    from ._dbapi_values import TimestampValue

    return TimestampValue.of(_datetime.datetime.fromtimestamp(ticks).astimezone())


def Binary(data: Any) -> Any:
    """Binary data for a ``bytea`` parameter: ``bytes`` (with psycopg2's adapter API:
    ``.adapted``, ``getquoted()``); ``Binary(None)`` is SQL NULL."""
    from ._dbapi_values import binary

    return binary(data)


def connect(
    dsn: Optional[str] = None,
    connection_factory: Any = None,
    cursor_factory: Any = None,
    **kwargs: Any,
) -> Connection:
    """An unpooled connection (``psycopg2.connect``): a DSN and/or libpq keywords (they
    win over the DSN's), plus ``cursor_factory=`` and ``connection_factory=``.

    ``connection_factory`` (a subclass of :class:`Connection`, e.g.
    ``extras.LoggingConnection``) is called as psycopg2 calls it:
    ``connection_factory(dsn)``, the DSN with the keywords merged in
    (``extensions.make_dsn``). As in psycopg2, any failure to establish the connection is
    an :class:`OperationalError` (also when the server refuses it with a SQLSTATE of
    another class, e.g. ``3D000`` for a database that does not exist).
    """
    from .errors import _as_connect_error

    try:
        if connection_factory is None:
            return _pgpool.connect(dsn, cursor_factory=cursor_factory, **kwargs)
        kwasync = {k: kwargs.pop(k) for k in ("async", "async_") if k in kwargs}
        from .extensions import make_dsn

        conn = _connect(
            make_dsn(dsn, **kwargs), connection_factory=connection_factory, **kwasync
        )
    except DatabaseError as exc:
        err = _as_connect_error(exc)
        if err is exc:
            raise
        raise err from exc
    if cursor_factory is not None:
        conn.cursor_factory = cursor_factory
    return conn  # type: ignore[no-any-return]


def _connect(
    dsn: str, connection_factory: Any = None, async_: Any = False, **kwargs: Any
) -> Any:
    """psycopg2's ``_connect``: ``connection_factory(dsn)`` (``Connection`` when None),
    with ``async_`` passed on when true."""
    factory = Connection if connection_factory is None else connection_factory
    if factory is Connection and not async_ and "async" not in kwargs and not kwargs:
        return _pgpool.connect(dsn)
    if "async" in kwargs:
        async_ = kwargs.pop("async")
    if kwargs:
        raise TypeError(f"unexpected keyword arguments: {', '.join(kwargs)}")
    if async_:
        return factory(dsn, async_=async_)
    return factory(dsn)


# ---------------------------------------------------------------------------
# The default pool: lazy, thread-safe, one per process.

_lock = _threading.Lock()
# (pool, pid of the process that created it); replaced as a whole, read without the lock.
_state: Optional[Tuple[Pool, int]] = None
# configure()'s arguments, reused when the pool is recreated (close_pool, fork).
_config: Optional[Tuple[Optional[str], Dict[str, Any]]] = None
# Pools inherited from the parent across fork(). Never closed nor released in the child:
# their sockets belong to the parent.
_inherited: List[Any] = []
# id(connection) -> the pool it came from, for put_conn() after a reconfiguration.
_lent: Dict[int, Pool] = {}


def _new_pool() -> Pool:
    if _config is None:
        return Pool()
    dsn, kwargs = _config
    return Pool(dsn, **kwargs)


def default_pool() -> Pool:
    """The default pool, created from the environment (or :func:`configure`) on first
    use in this process."""
    global _state
    state = _state
    pid = _os.getpid()
    if state is not None and state[1] == pid:
        return state[0]
    with _lock:
        state = _state
        if state is not None and state[1] != pid:
            # Forked without our at-fork hook having run (e.g. os.fork() from C).
            _inherited.append(state[0])
            _lent.clear()
            state = _state = None
        if state is None:
            state = _state = (_new_pool(), pid)
        return state[0]


def _default_pool_with(defaults: Dict[str, Any]) -> Pool:
    """The default pool; when this call creates it and :func:`configure` was never
    called, with ``defaults`` (pool arguments), which also apply when the module creates
    it again (``close_pool``, ``fork``). For :mod:`pgpool.compat`'s seed defaults."""
    global _config
    state = _state
    if state is not None and state[1] == _os.getpid():
        return state[0]
    with _lock:
        if _config is None and defaults:
            _config = (None, dict(defaults))
    return default_pool()


def configure(dsn: Optional[str] = None, **pool_kwargs: Any) -> Pool:
    """(Re)create the default pool with these settings (``Pool``'s arguments).

    Explicit arguments win over the DSN, which wins over the environment. The previous
    default pool, if any, is closed. With no arguments the pool comes from the
    environment again. The settings stay in force for the pools :func:`close_pool` and
    ``fork()`` make the module create later.
    """
    global _state, _config
    new = Pool(dsn, **pool_kwargs)  # a bad setting raises here, the old pool untouched
    with _lock:
        old = _state
        _config = (dsn, dict(pool_kwargs)) if (dsn is not None or pool_kwargs) else None
        _state = (new, _os.getpid())
    _close_owned(old)
    return new


def close_pool(timeout: Optional[float] = None) -> None:
    """Close the default pool; the next use opens a new one (same settings)."""
    global _state
    with _lock:
        old = _state
        _state = None
    _close_owned(old, timeout)


def _close_owned(
    state: Optional[Tuple[Pool, int]], timeout: Optional[float] = None
) -> None:
    if state is None:
        return
    pool, pid = state
    if pid != _os.getpid():
        _inherited.append(pool)
        return
    if not pool.closed:
        pool.close(timeout)


def _after_fork_in_child() -> None:
    global _lock, _state
    _lock = _threading.Lock()  # another thread may have held it at fork time
    if _state is not None:
        _inherited.append(_state[0])
        _state = None
    _lent.clear()
    # The extension registers its own hook (pgpool._pgpool._after_fork) for the runtime.


if hasattr(_os, "register_at_fork"):
    _os.register_at_fork(after_in_child=_after_fork_in_child)


def listen(*channels: str, dsn: Optional[str] = None) -> Listener:
    """A :class:`Listener` on ``channels``: LISTEN on a connection of its own that is
    made again (and LISTENs again on every channel) when it is lost, e.g. across a
    server restart. ``dsn`` (a direct server: a transaction pooler such as PgBouncer
    does not keep a LISTEN) defaults to the default pool's server and settings::

        with pgpool.listen("orders") as listener:
            for n in listener:          # extensions.Notify objects, forever
                handle(n.channel, n.payload)

    ``listener.get(timeout)`` returns one (or None), ``listener.poll(timeout=0)`` the
    list of those received; ``listener.reconnects`` counts the connections lost (the
    notifications sent meanwhile are lost: re-read what may have been missed)."""
    if dsn is not None:
        return Listener(*channels, dsn=dsn)
    return default_pool().listen(*channels)


def get_cursor(
    *,
    autocommit: bool = False,
    readonly: bool = False,
    dict_rows: bool = False,
    cursor_factory: Any = None,
    isolation_level: Any = None,
    timeout: Optional[float] = None,
) -> PoolCursor:
    """A cursor on a pooled connection, as a context manager.

    ``with get_cursor() as cur:`` runs the block in a transaction (BEGIN .. COMMIT,
    ROLLBACK when it raises) and returns the connection to the pool. ``autocommit=True``
    runs each statement on its own; ``readonly=True`` opens a READ ONLY transaction
    (on a replica when the pool has some); ``dict_rows=True`` returns rows as dicts;
    ``timeout`` bounds the wait for a connection (default: the pool's).
    """
    return default_pool().cursor(
        autocommit=autocommit,
        readonly=readonly,
        dict_rows=dict_rows,
        cursor_factory=cursor_factory,
        isolation_level=isolation_level,
        timeout=timeout,
    )


def connection(
    timeout: Optional[float] = None,
    *,
    autocommit: bool = False,
    readonly: bool = False,
    isolation_level: Any = None,
) -> PoolConnection:
    """A pooled connection, as a context manager: the block is a transaction, committed
    at the end (rolled back if it raises), and the connection goes back to the pool."""
    return default_pool().connection(
        timeout,
        autocommit=autocommit,
        readonly=readonly,
        isolation_level=isolation_level,
    )


def get_cursor_async(
    *,
    autocommit: bool = False,
    readonly: bool = False,
    dict_rows: bool = False,
    cursor_factory: Any = None,
    isolation_level: Any = None,
    timeout: Optional[float] = None,
) -> AsyncPoolCursor:
    """:func:`get_cursor` for asyncio: ``async with get_cursor_async() as cur:`` then
    ``await cur.execute(...)``, ``await cur.fetchone()``. Same arguments and transaction
    semantics, same default pool (shared with threads)."""
    return default_pool().cursor_async(
        autocommit=autocommit,
        readonly=readonly,
        dict_rows=dict_rows,
        cursor_factory=cursor_factory,
        isolation_level=isolation_level,
        timeout=timeout,
    )


def connection_async(
    timeout: Optional[float] = None,
    *,
    autocommit: bool = False,
    readonly: bool = False,
    isolation_level: Any = None,
) -> AsyncPoolConnection:
    """:func:`connection` for asyncio: ``async with connection_async() as conn:``."""
    return default_pool().connection_async(
        timeout,
        autocommit=autocommit,
        readonly=readonly,
        isolation_level=isolation_level,
    )


def get_conn(timeout: Optional[float] = None) -> Connection:
    """Check a connection out of the default pool; give it back with :func:`put_conn`."""
    pool = default_pool()
    conn = pool.getconn(timeout)
    _lent[id(conn)] = pool
    return conn


def put_conn(conn: Connection, close: bool = False) -> None:
    """Return a connection from :func:`get_conn` (an open transaction is rolled back);
    ``close=True`` discards it instead."""
    pool = _lent.pop(id(conn), None)
    if pool is None:
        pool = default_pool()
    pool.putconn(conn, close=close)


def stats() -> Dict[str, Any]:
    """The default pool's statistics (``Pool.stats()``), plus seed 001's names:
    ``postgres_utilization`` (percent of ``pool_max`` in use) and ``postgres_waiting``
    (clients waiting for a connection now)."""
    result = dict(default_pool().stats())
    result["postgres_utilization"] = round(float(result["utilization"]) * 100.0, 1)
    result["postgres_waiting"] = result["requests_waiting"]
    return result


def health_check() -> Dict[str, Any]:
    """Check the default pool can run a statement now (``Pool.health_check()``)."""
    return dict(default_pool().health_check())


class PostgresPool:
    """Seed 000's pool class: ``PostgresPool.instance().get_conn()`` / ``put_conn(conn)``
    / ``get_cursor()``, over the default pool (so it is the pool ``get_cursor()`` uses,
    and is rebuilt in a forked child)."""

    _instance: Optional[PostgresPool] = None
    _instance_lock = _threading.Lock()

    @classmethod
    def instance(cls) -> PostgresPool:
        """The process-wide instance."""
        inst = cls._instance
        if inst is None:
            with cls._instance_lock:
                inst = cls._instance
                if inst is None:
                    inst = cls._instance = cls()
        return inst

    @property
    def pool(self) -> Pool:
        """The pool underneath (the default pool)."""
        return default_pool()

    def get_conn(self, timeout: Optional[float] = None) -> Connection:
        """Check a connection out; return it with :meth:`put_conn`."""
        return get_conn(timeout)

    def put_conn(self, conn: Connection, close: bool = False) -> None:
        """Return a connection (rolled back if a transaction is open)."""
        put_conn(conn, close=close)

    def get_cursor(self, **kwargs: Any) -> PoolCursor:
        """``with pool.get_cursor() as cur:`` in a transaction, as :func:`get_cursor`."""
        return get_cursor(**kwargs)

    def stats(self) -> Dict[str, Any]:
        """The pool's statistics (:func:`pgpool.stats`)."""
        return stats()

    def health_check(self) -> Dict[str, Any]:
        """:func:`pgpool.health_check`."""
        return health_check()

    def close_all(self) -> None:
        """Close the pool's connections; the next use opens new ones."""
        close_pool()

    closeall = close_all
    close = close_all


def install_as_psycopg2() -> None:
    """Make ``import psycopg2`` (and ``psycopg2.extensions``, ``.extras``, ``.errors``,
    ``.errorcodes``, ``.pool``, ``.sql``, ``.tz``, ``._json``, ``._range``,
    ``._psycopg``) give pgpool, as PyMySQL's ``install_as_MySQLdb()`` does for MySQLdb.

    Registers :mod:`pgpool.psycopg2` (psycopg2's ``__version__`` format, its top-level
    names: pgpool's objects) and pgpool's submodules in ``sys.modules`` under the
    psycopg2 names. Call it before the code that imports psycopg2; a psycopg2 imported
    earlier stays in the hands of whoever imported it. Idempotent.
    """
    import sys

    from . import psycopg2 as facade

    sys.modules["psycopg2"] = facade
    for name, module in facade._SUBMODULES.items():
        sys.modules[f"psycopg2.{name}"] = module


def __getattr__(name: str) -> Any:
    # The asyncio classes, imported on first use (importing asyncio is not free).
    if name in ("AsyncConnection", "AsyncCursor"):
        from . import _aio

        return getattr(_aio, name)
    # Submodules reachable after a bare ``import pgpool`` (``psycopg2.extensions`` is
    # after ``import psycopg2``).
    if name in ("extensions", "extras", "errorcodes", "pool", "errors", "sql", "tz"):
        import importlib

        return importlib.import_module(f".{name}", __name__)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
