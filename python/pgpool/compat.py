"""The pool APIs the seed systems wrote for themselves, over pgpool's default pool.

A service swaps its own module for this one (``from pgpool.compat import ...``)
and keeps its call sites:

- seed 001 (skills engine, ``services/connection_pool.py``): :func:`postgres_connection`,
  :func:`get_postgres_pool` (``getconn``/``putconn``), :func:`get_pool_stats` (with
  ``postgres_utilization`` and ``postgres_waiting``), :func:`health_check`,
  :func:`initialize_pools`, :func:`close_pools`; configured by
  ``POSTGRES_POOL_MIN_SIZE``/``POSTGRES_POOL_MAX_SIZE``/``POSTGRES_POOL_TIMEOUT``.
- seed 000 (VERITAS, ``backend/database/connection_pool.py``): :class:`PostgresPool`
  and :func:`get_cursor`; configured by ``POSTGRES_HOST/PORT/DATABASE/USER/PASSWORD``
  and ``PG_POOL_MIN/MAX``.
- seed 002 (WriterOS, SQLAlchemy ``QueuePool``): the ``DB_POOL_SIZE``,
  ``DB_MAX_OVERFLOW``, ``DB_POOL_RECYCLE``, ``DB_POOL_PRE_PING`` variables configure the
  default pool; :func:`queue_pool_status` answers the monitoring calls made on
  ``engine.pool`` (``size()``, ``checkedout()``, ``overflow()``, ``status()``).

All of them share the one default pool of :mod:`pgpool`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Callable, Dict, Optional

from . import (
    PostgresPool,
    close_pool,
    connection,
    default_pool,
    get_cursor,
)
from . import health_check as _health_check
from . import stats as _stats
from ._pgpool import Pool

if TYPE_CHECKING:
    from ._pgpool import PoolConnection

__all__ = [
    "postgres_connection",
    "get_postgres_pool",
    "get_pool_stats",
    "health_check",
    "initialize_pools",
    "close_pools",
    "PostgresPool",
    "get_cursor",
    "QueuePoolStatus",
    "queue_pool_status",
]


def postgres_connection(timeout: Optional[float] = None) -> PoolConnection:
    """``with postgres_connection() as conn:`` a pooled connection; the block is a
    transaction (committed at the end, rolled back if it raises) and the connection
    goes back to the pool."""
    return connection(timeout=timeout)


def get_postgres_pool() -> Pool:
    """The shared pool: ``pool.getconn()`` / ``pool.putconn(conn)``."""
    return default_pool()


def get_pool_stats() -> Dict[str, Any]:
    """The pool's statistics, with ``postgres_utilization`` (percent of the maximum in
    use: < 75 good, > 90 critical) and ``postgres_waiting`` (clients waiting now)."""
    return _stats()


def health_check() -> Dict[str, Any]:
    """Whether the pool can run a statement now, with its statistics."""
    return _health_check()


def initialize_pools(wait: bool = False, timeout: Optional[float] = None) -> Pool:
    """Create the shared pool now rather than at first use. With ``wait=True``, wait
    until its minimum number of connections is open (failing after ``timeout``)."""
    pool = default_pool()
    if wait:
        if timeout is None:
            pool.wait()
        else:
            pool.wait(timeout)
    return pool


def close_pools() -> None:
    """Close the shared pool (at shutdown); a later use opens a new one."""
    close_pool()


class QueuePoolStatus:
    """SQLAlchemy ``QueuePool``'s monitoring methods over a pgpool pool: ``size()`` is
    the kept size (``min_size``, SQLAlchemy's ``pool_size``), ``overflow()`` the
    connections open above it, ``checkedout()`` those in use, ``checkedin()`` the idle
    ones."""

    def __init__(
        self,
        pool: Optional[Pool] = None,
        *,
        stats: Optional[Callable[[], Dict[str, Any]]] = None,
    ) -> None:
        self._pool = pool
        self._stats = stats

    def _s(self) -> Dict[str, Any]:
        if self._stats is not None:
            return self._stats()
        return dict((self._pool or default_pool()).stats())

    def size(self) -> int:
        """The pool size kept open (``pool_size``)."""
        return int(self._s()["pool_min"])

    def checkedout(self) -> int:
        """Connections in use."""
        return int(self._s()["in_use"])

    def checkedin(self) -> int:
        """Idle connections in the pool."""
        return int(self._s()["pool_available"])

    def overflow(self) -> int:
        """Connections open beyond ``size()`` (negative while fewer are open)."""
        s = self._s()
        return int(s["pool_size"]) - int(s["pool_min"])

    def status(self) -> str:
        """SQLAlchemy's one-line status."""
        s = self._s()
        return (
            f"Pool size: {s['pool_min']}  Connections in pool: {s['pool_available']} "
            f"Current Overflow: {int(s['pool_size']) - int(s['pool_min'])} "
            f"Current Checked out connections: {s['in_use']}"
        )


def queue_pool_status(pool: Optional[Pool] = None) -> QueuePoolStatus:
    """A :class:`QueuePoolStatus` of ``pool`` (the default pool when None)."""
    return QueuePoolStatus(pool)
