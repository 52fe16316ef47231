"""psycopg2's ``psycopg2.pool`` API over one pgpool :class:`~pgpool.Pool`.

Code written for psycopg2's pools runs unchanged with only the import line changed::

    from pgpool.pool import ThreadedConnectionPool, PoolError

    pool = ThreadedConnectionPool(1, 20, dsn)      # or host=..., dbname=..., ...
    conn = pool.getconn()
    try:
        with conn.cursor() as cur:
            cur.execute("SELECT 1")
        conn.commit()
    finally:
        pool.putconn(conn)
    pool.closeall()

Differences a user welcomes:

- ``getconn()`` on an exhausted pool waits for a connection, up to the pool timeout
  (``PGPOOL_TIMEOUT``, 30 s, or ``timeout=`` here), instead of failing at once; then it
  raises ``PoolError("connection pool exhausted")`` (a :class:`~pgpool.PoolTimeout`).
- Connections above ``minconn`` stay open when returned (closed after ``max_idle``)
  instead of being closed at once; ``minconn`` connections open in the background.
- ``SimpleConnectionPool`` is thread-safe as well.
- A connection returned in a transaction is rolled back and its session state reset.
"""

from __future__ import annotations

import threading
from typing import Any, Dict, Hashable, Optional

from ._pgpool import Connection, Pool
from .errors import OperationalError, PoolClosed, PoolError, PoolTimeout

__all__ = [
    "PoolError",
    "AbstractConnectionPool",
    "SimpleConnectionPool",
    "ThreadedConnectionPool",
]

# Keyword arguments that configure the pool rather than the connections.
_POOL_KWARGS = (
    "timeout",
    "max_lifetime",
    "max_idle",
    "pre_ping",
    "max_waiting",
    "leak_threshold",
    "name",
    "replicas",
    "replica_min_size",
    "replica_max_size",
)


class AbstractConnectionPool:
    """Key-based pooling as in psycopg2, over a :class:`pgpool.Pool`.

    ``args``/``kwargs`` are what ``psycopg2.connect()`` takes: a DSN and/or libpq
    keywords (``host``, ``port``, ``dbname`` or ``database``, ``user``, ``password``,
    ...). pgpool's pool settings (``timeout``, ``max_lifetime``, ``max_idle``,
    ``pre_ping``, ``max_waiting``, ``leak_threshold``, ``name``, ``replicas``,
    ``replica_min_size``, ``replica_max_size``) may be
    given as keywords too.
    """

    def __init__(self, minconn: int, maxconn: int, *args: Any, **kwargs: Any) -> None:
        self.minconn = int(minconn)
        self.maxconn = int(maxconn)
        self.closed = False

        self._args = args
        self._kwargs = kwargs
        dsn, pool_kwargs, conn_kwargs = _split_connect_args(args, kwargs)
        #: The pgpool pool underneath (``stats()``, ``health_check()``, ...).
        self.pool = Pool(
            dsn,
            min_size=self.minconn,
            max_size=self.maxconn,
            **pool_kwargs,
            **conn_kwargs,
        )
        self._used: Dict[Hashable, Connection] = {}
        self._rused: Dict[int, Hashable] = {}  # id(conn) -> key
        self._keys = 0
        self._lock = threading.Lock()

    def _getkey(self) -> int:
        self._keys += 1
        return self._keys

    def _getconn(self, key: Optional[Hashable] = None) -> Connection:
        """Check out a connection for ``key`` (the same one while the key holds it)."""
        with self._lock:
            if self.closed:
                raise PoolClosed("connection pool is closed")
            if key is None:
                key = self._getkey()
            elif key in self._used:
                return self._used[key]
        try:
            conn = self.pool.getconn()
        except PoolTimeout as exc:
            if self.pool.stats()["pool_size"] < self.maxconn:
                # Not exhausted: new connections could not be made (psycopg2 raises
                # the connection error there).
                raise OperationalError(str(exc)) from exc
            raise PoolTimeout("connection pool exhausted") from exc
        except PoolClosed as exc:
            raise PoolClosed("connection pool is closed") from exc
        with self._lock:
            other = self._used.get(key)
            if other is None and not self.closed:
                self._used[key] = conn
                self._rused[id(conn)] = key
                return conn
        # Another thread got one for this key meanwhile, or the pool was closed.
        self.pool.putconn(conn)
        if other is None:
            raise PoolClosed("connection pool is closed")
        return other

    def _putconn(
        self,
        conn: Optional[Connection] = None,
        key: Optional[Hashable] = None,
        close: bool = False,
    ) -> None:
        """Return a connection (rolled back if in a transaction); ``close=True``
        discards it."""
        with self._lock:
            if self.closed:
                raise PoolClosed("connection pool is closed")
            if key is None:
                key = self._rused.get(id(conn))
                if key is None:
                    raise PoolError("trying to put unkeyed connection")
            if conn is None:
                conn = self._used.get(key)
                if conn is None:
                    raise PoolError("trying to put unkeyed connection")
            if self._used.get(key) is not conn:
                raise PoolError("trying to put unkeyed connection")
            del self._used[key]
            del self._rused[id(conn)]
        self.pool.putconn(conn, close=close)

    def _closeall(self) -> None:
        """Close every connection, the ones checked out included (as psycopg2)."""
        with self._lock:
            if self.closed:
                raise PoolClosed("connection pool is closed")
            self.closed = True
            used = list(self._used.values())
            self._used.clear()
            self._rused.clear()
        for conn in used:
            try:
                conn.close()
            except Exception:
                pass
        self.pool.close()

    def stats(self) -> Dict[str, Any]:
        """The pool's statistics (``pgpool.Pool.stats()``)."""
        return dict(self.pool.stats())


class SimpleConnectionPool(AbstractConnectionPool):
    """psycopg2's single-threaded pool (thread-safe here all the same)."""

    def getconn(self, key: Optional[Hashable] = None) -> Connection:
        """Get a connection, waiting up to the pool timeout for one to be free."""
        return self._getconn(key)

    def putconn(
        self,
        conn: Optional[Connection] = None,
        key: Optional[Hashable] = None,
        close: bool = False,
    ) -> None:
        """Put a connection back (``close=True`` discards it)."""
        self._putconn(conn, key, close)

    def closeall(self) -> None:
        """Close all connections, even the ones in use."""
        self._closeall()


class ThreadedConnectionPool(SimpleConnectionPool):
    """psycopg2's thread-safe pool."""


def _split_connect_args(
    args: tuple[Any, ...], kwargs: Dict[str, Any]
) -> tuple[Optional[str], Dict[str, Any], Dict[str, Any]]:
    """psycopg2.connect()'s arguments -> (dsn, pool settings, connection keywords)."""
    if len(args) > 1:
        raise TypeError(
            "pgpool.pool takes the DSN as its only positional connection argument "
            "(connection_factory and cursor_factory are not supported)"
        )
    conn_kwargs = dict(kwargs)
    dsn = args[0] if args else conn_kwargs.pop("dsn", None)
    for unsupported in ("connection_factory", "async", "async_"):
        if conn_kwargs.get(unsupported) not in (None, False):
            raise TypeError(f"pgpool.pool does not support {unsupported}=")
        conn_kwargs.pop(unsupported, None)
    if "database" in conn_kwargs:  # psycopg2's alias of dbname
        conn_kwargs.setdefault("dbname", conn_kwargs.pop("database"))
    pool_kwargs = {k: conn_kwargs.pop(k) for k in _POOL_KWARGS if k in conn_kwargs}
    return dsn, pool_kwargs, conn_kwargs
