"""The pool APIs the seed systems wrote for themselves, over pgpool's default pool.

A service swaps its own module for this one (``from pgpool.compat import ...``)
and keeps its call sites:

- seed 001 (skills engine, ``services/connection_pool.py``): :func:`postgres_connection`,
  :func:`get_postgres_pool` (``getconn``/``putconn``), :func:`get_pool_stats` (with
  ``postgres_utilization`` and ``postgres_waiting``), :func:`health_check`,
  :func:`initialize_pools`, :func:`close_pools`; configured by
  ``POSTGRES_POOL_MIN_SIZE``/``POSTGRES_POOL_MAX_SIZE``/``POSTGRES_POOL_TIMEOUT``, with
  seed 001's own defaults when they are unset (:data:`SEED001_DEFAULTS`: 5 kept open,
  15 at most, 30 s), not pgpool's (1, 10, 30 s) — when one of these functions creates
  the shared pool (a pool already created by :func:`pgpool.get_cursor` or
  :func:`pgpool.configure` is used as it is).
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

import os as _os
from typing import TYPE_CHECKING, Any, Callable, Dict, Optional, Tuple

from . import (
    PostgresPool,
    _default_pool_with,
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
    "SEED001_DEFAULTS",
    "seed001_settings",
]


#: Seed 001's defaults (its ``services/connection_pool.py``): ``POSTGRES_POOL_MIN_SIZE``
#: 5, ``POSTGRES_POOL_MAX_SIZE`` 15, ``POSTGRES_POOL_TIMEOUT`` 30 s.
SEED001_DEFAULTS: Dict[str, Any] = {"min_size": 5, "max_size": 15, "timeout": 30.0}

# The environment variables that set each of them (pgpool's, then the seeds'; the
# core's lists in src/config/settings.rs): a default applies only when none is set.
_SETTING_VARS: Dict[str, Tuple[str, ...]] = {
    "min_size": (
        "PGPOOL_MIN_SIZE",
        "PG_POOL_MIN",
        "POSTGRES_POOL_MIN_SIZE",
        "DB_POOL_SIZE",
    ),
    "max_size": (
        "PGPOOL_MAX_SIZE",
        "PG_POOL_MAX",
        "POSTGRES_POOL_MAX_SIZE",
        "DB_POOL_SIZE",
        "DB_MAX_OVERFLOW",
    ),
    "timeout": ("PGPOOL_TIMEOUT", "POSTGRES_POOL_TIMEOUT"),
}


def _env_set(name: str) -> Optional[str]:
    v = _os.environ.get(name, "").strip()
    return v or None


def seed001_settings() -> Dict[str, Any]:
    """The pool arguments seed 001's defaults add to the environment's: each default
    whose variables are all unset (``max_size`` at least a ``min_size`` given in the
    environment, so that ``POSTGRES_POOL_MIN_SIZE=20`` alone is not an error)."""
    out: Dict[str, Any] = {}
    for key, default in SEED001_DEFAULTS.items():
        if not any(_env_set(v) for v in _SETTING_VARS[key]):
            out[key] = default
    if "max_size" in out and "min_size" not in out:
        given = next(
            (_env_set(v) for v in _SETTING_VARS["min_size"] if _env_set(v)), None
        )
        try:
            out["max_size"] = max(out["max_size"], int(given or 0))
        except ValueError:
            pass  # the pool names the bad variable
    return out


def _seed001_pool() -> Pool:
    return _default_pool_with(seed001_settings())


def postgres_connection(timeout: Optional[float] = None) -> PoolConnection:
    """``with postgres_connection() as conn:`` a pooled connection; the block is a
    transaction (committed at the end, rolled back if it raises) and the connection
    goes back to the pool."""
    _seed001_pool()
    return connection(timeout=timeout)


def get_postgres_pool() -> Pool:
    """The shared pool: ``pool.getconn()`` / ``pool.putconn(conn)``."""
    return _seed001_pool()


def get_pool_stats() -> Dict[str, Any]:
    """The pool's statistics, with ``postgres_utilization`` (percent of the maximum in
    use: < 75 good, > 90 critical) and ``postgres_waiting`` (clients waiting now)."""
    _seed001_pool()
    return _stats()


def health_check() -> Dict[str, Any]:
    """Whether the pool can run a statement now, with its statistics."""
    _seed001_pool()
    return _health_check()


def initialize_pools(wait: bool = False, timeout: Optional[float] = None) -> Pool:
    """Create the shared pool now rather than at first use. With ``wait=True``, wait
    until its minimum number of connections is open (failing after ``timeout``)."""
    pool = _seed001_pool()
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
