"""SQLAlchemy's ``Pool`` over a :class:`_PgPool`: what ``create_engine(
"postgresql+pgpool://...")`` uses, so that the engine's pool *is* pgpool's pool.

The SQLAlchemy settings map to pgpool's, with SQLAlchemy's meaning:

============================  ================================================
``create_engine(...)``        :class:`_PgPool`
============================  ================================================
``pool_size`` (5)             ``min_size`` with ``lazy_min=True``: connections are
                              opened as checkouts need them (never at engine
                              creation) and kept once open
``max_overflow`` (10)         ``max_size = pool_size + max_overflow``; connections
                              above ``pool_size`` close once idle for ``max_idle``
                              (pgpool's 600 s unless set; QueuePool closes them when
                              they come back)
``pool_timeout`` (30)         ``timeout`` (``sqlalchemy.exc.TimeoutError`` after it)
``pool_recycle``              ``max_lifetime`` (-1: never; unset: pgpool's default,
                              1 h, or ``PGPOOL_MAX_LIFETIME``/``DB_POOL_RECYCLE``)
``pool_pre_ping``             ``pre_ping``: pgpool's check of the socket of a
                              connection idle for over 500 ms, no round trip (unset:
                              pgpool's default, on)
``pool_reset_on_return``      SQLAlchemy's reset (rollback/commit/none) runs first;
                              pgpool then rolls back whatever is left and resets
                              session state, as for every pgpool connection
``pool_use_lifo``             accepted, no effect (pgpool hands out idle connections
                              in its own order)
============================  ================================================

Each checkout is a clean session (pgpool resets session state when a connection goes
back), so SQLAlchemy sees each checkout as a new DBAPI connection: the ``connect``
event fires on every checkout (listeners that ``SET`` session state keep working; the
dialect's first-connect initialisation runs once), then ``checkout``; ``checkin`` when
it goes back. ``status()``, ``size()``, ``checkedin()``, ``overflow()`` and
``checkedout()`` report pgpool's figures (``pool.pgpool.stats()`` has all of them).

More pgpool settings come from the URL's query string or ``connect_args``:
``replica`` (repeatable) / ``replicas`` (a list), ``max_idle``, ``max_waiting``,
``leak_threshold``, ``command_timeout``, ``lazy_min``, ``pool_name``. An existing
:class:`_PgPool` is shared with ``create_engine(url, pgpool_pool=pool)``.
"""

from __future__ import annotations

import contextvars
import threading
from typing import Any, Callable, Dict, List, Optional, Tuple

from sqlalchemy import exc as sa_exc
from sqlalchemy import pool as sa_pool

from pgpool import Pool as _PgPool
from pgpool import PoolTimeout as _PoolTimeout
from pgpool import _aio
from pgpool.compat import QueuePoolStatus

try:  # SQLAlchemy 2.1
    from sqlalchemy.util.concurrency import await_
except ImportError:  # pragma: no cover - SQLAlchemy 2.0
    from sqlalchemy.util.concurrency import await_only as await_
from sqlalchemy.util.concurrency import in_greenlet

__all__ = ["PgpoolPool", "AsyncPgpoolPool", "ConnectSpec", "readonly_checkout"]

_UNSET: Any = object()

#: pgpool settings accepted in the query string / connect_args, with their converters.
_POOL_KEYS: Dict[str, Callable[[Any], Any]] = {
    "max_idle": float,
    "max_waiting": int,
    "leak_threshold": float,
    "command_timeout": float,
    "lazy_min": lambda v: v if isinstance(v, bool) else _parse_bool(str(v)),
    "pool_name": str,
}


def _parse_bool(v: str) -> bool:
    s = v.strip().lower()
    if s in ("1", "true", "yes", "on"):
        return True
    if s in ("0", "false", "no", "off"):
        return False
    raise sa_exc.ArgumentError(f"invalid boolean {v!r}")


class ConnectSpec:
    """What the dialect's ``connect()`` returns while the pool captures the
    connection arguments (the URL's, ``connect_args``, changes by ``do_connect``)."""

    __slots__ = ("args", "kwargs")

    def __init__(self, args: Tuple[Any, ...], kwargs: Dict[str, Any]) -> None:
        self.args = args
        self.kwargs = kwargs


_capture = threading.local()


def capturing() -> bool:
    """True while a :class:`PgpoolPool` asks the dialect for its connect arguments."""
    return getattr(_capture, "on", False)


#: Set while an engine with ``execution_options(postgresql_readonly=True)`` checks out:
#: the checkout goes to the pool's replicas.
readonly_checkout: contextvars.ContextVar[bool] = contextvars.ContextVar(
    "pgpool_sqlalchemy_readonly", default=False
)


def split_pool_settings(
    kwargs: Dict[str, Any],
) -> Tuple[Dict[str, Any], Dict[str, Any]]:
    """Separates pgpool's pool settings (query string / connect_args) from the libpq
    keywords. Returns ``(pool_settings, libpq_keywords)``."""
    pool_kw: Dict[str, Any] = {}
    conn_kw: Dict[str, Any] = {}
    replicas: List[str] = []
    for k, v in kwargs.items():
        if k in ("replica", "replicas"):
            if isinstance(v, str):
                replicas.append(v)
            else:
                replicas.extend(str(x) for x in v)
        elif k in _POOL_KEYS:
            try:
                pool_kw["name" if k == "pool_name" else k] = _POOL_KEYS[k](v)
            except (TypeError, ValueError) as e:
                raise sa_exc.ArgumentError(f"invalid {k} {v!r}: {e}") from None
        else:
            conn_kw[k] = v
    if replicas:
        pool_kw["replicas"] = replicas
    return pool_kw, conn_kw


def _close_quietly(conn: Any) -> None:
    close = getattr(conn, "close", None)
    if close is not None:
        try:
            close()
        except Exception:  # noqa: BLE001 - best effort, the error is raised after
            pass


class PgpoolPool(sa_pool.Pool):
    """A SQLAlchemy pool whose connections come from a :class:`_PgPool` (module
    docstring: the settings). ``.pgpool`` is that pool."""

    _is_asyncio = False

    def __init__(
        self,
        creator: Any,
        pool_size: int = _UNSET,
        max_overflow: int = _UNSET,
        timeout: float = _UNSET,
        recycle: int = _UNSET,
        pre_ping: bool = _UNSET,
        use_lifo: bool = False,
        reset_on_return: Any = True,
        echo: Any = None,
        logging_name: Optional[str] = None,
        events: Any = None,
        dialect: Any = None,
        _dispatch: Any = None,
        pgpool_pool: Optional[_PgPool] = None,
    ) -> None:
        # SQLAlchemy's own recycling and pings are pgpool's here.
        super().__init__(
            creator,
            recycle=-1,
            echo=echo,
            logging_name=logging_name,
            reset_on_return=reset_on_return,
            events=events,
            dialect=dialect,
            pre_ping=False,
            _dispatch=_dispatch,
        )
        self._sa_invoke_creator: Callable[[Any], Any] = self._invoke_creator
        self._invoke_creator = self._checkout_pgpool  # type: ignore[assignment]
        self._settings: Dict[str, Any] = {
            "pool_size": pool_size,
            "max_overflow": max_overflow,
            "timeout": timeout,
            "recycle": recycle,
            "pre_ping": pre_ping,
        }
        self._use_lifo = use_lifo
        if pgpool_pool is None:
            pgpool_pool = getattr(dialect, "_pgpool_pool", None)
        if pgpool_pool is not None:
            given = [k for k, v in self._settings.items() if v is not _UNSET]
            if given:
                raise sa_exc.ArgumentError(
                    f"{', '.join(given)}: with pgpool_pool= the _PgPool's own "
                    "settings apply; set them where that pool is created"
                )
        self._shared = pgpool_pool
        self._pg: Optional[_PgPool] = pgpool_pool
        self._unpooled = False
        self._lock = threading.Lock()
        self._figures = QueuePoolStatus(stats=self._stats)

    # -- the pgpool pool ------------------------------------------------------------

    @property
    def pgpool(self) -> _PgPool:
        """The :class:`_PgPool` underneath (created on first use)."""
        pg = self._pg
        if pg is None:
            with self._lock:
                pg = self._pg
                if pg is None:
                    got = self._capture()
                    if not isinstance(got, ConnectSpec):
                        _close_quietly(got)
                        raise sa_exc.InvalidRequestError(
                            "this engine's connections come from its creator= or "
                            "do_connect event, not from a pgpool pool"
                        )
                    pg = self._pg = self._make_pgpool(got)
        return pg

    def _make_pgpool(self, spec: ConnectSpec) -> _PgPool:
        pool_kw, conn_kw = split_pool_settings(dict(spec.kwargs))
        dsn = spec.args[0] if spec.args else None
        if len(spec.args) > 1:
            raise sa_exc.ArgumentError("pgpool takes at most one positional DSN")
        s = self._settings
        size = 5 if s["pool_size"] is _UNSET else int(s["pool_size"])
        overflow = 10 if s["max_overflow"] is _UNSET else int(s["max_overflow"])
        if size < 0:
            raise sa_exc.ArgumentError(f"pool_size must not be negative, got {size}")
        if overflow < 0:
            # QueuePool's -1: no limit. pgpool always has one: take what PostgreSQL's
            # default max_connections leaves.
            overflow = max(100 - size, 1)
        kw: Dict[str, Any] = {
            "min_size": size,
            "max_size": max(size + overflow, 1),
            "lazy_min": True,
        }
        if s["timeout"] is not _UNSET:
            kw["timeout"] = float(s["timeout"])
        if s["recycle"] is not _UNSET:
            kw["max_lifetime"] = float(s["recycle"])  # <= 0: never
        if s["pre_ping"] is not _UNSET:
            kw["pre_ping"] = bool(s["pre_ping"])
        kw.update(pool_kw)
        return _PgPool(dsn or None, **kw, **conn_kw)

    def _capture(self) -> Any:
        """Runs SQLAlchemy's creator (``do_connect`` events, then the dialect's
        ``connect()``) asking for the connect arguments: a :class:`ConnectSpec`, or a
        connection when a ``creator=`` or a ``do_connect`` listener made one itself."""
        _capture.on = True
        try:
            return self._sa_invoke_creator(None)
        finally:
            _capture.on = False

    # -- checkout / checkin ----------------------------------------------------------

    def _checkout_pgpool(self, record: Any) -> Any:
        pg = self._pg
        if pg is None:
            if self._unpooled:
                return self._sa_invoke_creator(record)
            with self._lock:
                pg = self._pg
                if pg is None and not self._unpooled:
                    got = self._capture()
                    if not isinstance(got, ConnectSpec):
                        # A creator= or a do_connect listener that returns connections:
                        # pgpool cannot pool connections it did not open. Each checkout
                        # calls it, and the connection is closed when it comes back (as
                        # NullPool).
                        self._unpooled = True
                        self.logger.info(
                            "connections come from a creator/do_connect: not pooled"
                        )
                        return got
                    pg = self._pg = self._make_pgpool(got)
            if pg is None:
                return self._sa_invoke_creator(record)
        return self._getconn(pg)

    def _getconn(self, pg: _PgPool) -> Any:
        try:
            return pg.getconn(readonly=readonly_checkout.get())
        except _PoolTimeout as e:
            raise self._timeout_error(e) from e

    def _timeout_error(self, e: BaseException) -> sa_exc.TimeoutError:
        cfg = self.pgpool.config
        return sa_exc.TimeoutError(
            f"pgpool limit of size {cfg['min_size']} overflow "
            f"{cfg['max_size'] - cfg['min_size']} reached, connection timed out, "
            f"timeout {cfg['timeout']:.2f} ({e})",
            code="3o7r",
        )

    def _do_get(self) -> Any:
        return self._create_connection()

    def _do_return_conn(self, record: Any) -> None:
        conn = record.dbapi_connection
        if conn is None:
            return  # invalidated (closed: pgpool replaced it) or detached
        record.dbapi_connection = None
        if self._unpooled:
            self._close_connection(conn)
            return
        pg = self._pg
        if pg is not None:
            pg.putconn(conn)

    # -- management -------------------------------------------------------------------

    def recreate(self) -> PgpoolPool:
        self.logger.info("Pool recreating")
        s = self._settings
        return self.__class__(
            self._creator,
            pool_size=s["pool_size"],
            max_overflow=s["max_overflow"],
            timeout=s["timeout"],
            recycle=s["recycle"],
            pre_ping=s["pre_ping"],
            use_lifo=self._use_lifo,
            reset_on_return=self._reset_on_return,
            echo=self.echo,
            logging_name=self._orig_logging_name,
            dialect=self._dialect,
            _dispatch=self.dispatch,
            pgpool_pool=self._shared,
        )

    def dispose(self) -> None:
        """Closes the pgpool pool this engine created (idle connections now, checked-out
        ones when they come back); a shared one (``pgpool_pool=``) stays open."""
        pg, self._pg = self._pg, self._shared
        if pg is not None and pg is not self._shared:
            pg.close()
        self.logger.info("Pool disposed. %s", self.status())

    def _stats(self) -> Dict[str, Any]:
        pg = self._pg
        if pg is None:
            # Nothing checked out yet (or disposed): no pgpool pool to ask; report the
            # settings with nothing open, without creating one.
            s = self._settings
            size = 5 if s["pool_size"] is _UNSET else int(s["pool_size"])
            return {"pool_min": size, "pool_available": 0, "pool_size": 0, "in_use": 0}
        return pg.stats()

    def size(self) -> int:
        """``pool_size``: the connections kept once open (pgpool's ``min_size``)."""
        return self._figures.size()

    def timeout(self) -> float:
        return float(self.pgpool.config["timeout"])

    def checkedin(self) -> int:
        """Idle connections in the pool."""
        return self._figures.checkedin()

    def overflow(self) -> int:
        """Open connections beyond ``pool_size`` (negative while fewer are open, as
        QueuePool's)."""
        return self._figures.overflow()

    def checkedout(self) -> int:
        """Connections in use (by every user of the pgpool pool)."""
        return self._figures.checkedout()

    def status(self) -> str:
        return self._figures.status()


class AsyncPgpoolPool(PgpoolPool):
    """:class:`PgpoolPool` for ``create_async_engine``: checkouts wait on the event
    loop (pgpool's asyncio face), in the same FIFO queue as threads and C callers."""

    _is_asyncio = True

    def _getconn(self, pg: _PgPool) -> Any:
        try:
            aconn = await_(
                _aio.getconn_async(pg, None, readonly=readonly_checkout.get())
            )
        except _PoolTimeout as e:
            raise self._timeout_error(e) from e
        return self._dialect.loaded_dbapi._adapt(aconn)  # type: ignore[union-attr]

    def _do_return_conn(self, record: Any) -> None:
        adapted = record.dbapi_connection
        if adapted is None:
            return
        record.dbapi_connection = None
        if self._unpooled:
            self._close_connection(adapted)
            return
        aconn = adapted._connection
        if in_greenlet():
            await_(_aio.putconn_async(aconn))
        else:
            # Outside the event loop's greenlet (interpreter shutdown, a sync caller):
            # the sync return (a rollback, if needed, blocks this thread briefly).
            pg = self._pg
            if pg is not None:
                pg.putconn(aconn.connection)
