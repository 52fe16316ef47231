"""The contenders: pgpool and the peers' pools, each driven the way its documentation tells users to."""

from __future__ import annotations

import operator
import time
from typing import Any, Callable, Dict, Optional, Tuple

from . import common
from .common import URL, import_pgpool

# ---------------------------------------------------------------------------------------
# Contenders. Each: cursor() -> a context manager yielding a cursor (commit on success,
# rollback on error, connection returned); checkout_fns() -> (get, put), one checkout and
# its return with no statement; raw_conn(); close().


class Psycopg2:
    name = "psycopg2"

    def __init__(
        self, size: int, autocommit: bool = False, min_size: Optional[int] = None
    ):
        import psycopg2.pool

        self.PoolError = psycopg2.pool.PoolError
        self.pool = psycopg2.pool.ThreadedConnectionPool(min_size or size, size, URL)
        if autocommit:
            conns = [self.pool.getconn() for _ in range(min_size or size)]
            for c in conns:
                c.autocommit = True
            for c in conns:
                self.pool.putconn(c)

    def getconn(self) -> Any:
        # ThreadedConnectionPool raises PoolError at once when exhausted: real code retries.
        while True:
            try:
                return self.pool.getconn()
            except self.PoolError:
                time.sleep(0.0005)

    def cursor(self) -> "_Psycopg2Cursor":
        return _Psycopg2Cursor(self)

    def checkout_fns(self) -> Tuple[Callable[[], Any], Callable[[Any], Any]]:
        return self.pool.getconn, self.pool.putconn

    def raw_conn(self) -> Any:
        return self.getconn()

    def close(self) -> None:
        self.pool.closeall()


class _Psycopg2Cursor:
    """The get_cursor() context manager seed 000 writes around ThreadedConnectionPool."""

    __slots__ = ("p", "conn", "cur")

    def __init__(self, p: Psycopg2):
        self.p = p

    def __enter__(self) -> Any:
        self.conn = self.p.getconn()
        self.cur = self.conn.cursor()
        return self.cur

    def __exit__(self, et: Any, ev: Any, tb: Any) -> bool:
        try:
            self.cur.close()
            if et is None:
                self.conn.commit()
            else:
                self.conn.rollback()
        finally:
            self.p.pool.putconn(self.conn)
        return False


class PsycopgPool:
    name = "psycopg_pool"

    def __init__(
        self, size: int, autocommit: bool = False, min_size: Optional[int] = None
    ):
        from psycopg_pool import ConnectionPool

        self.pool = ConnectionPool(
            URL,
            min_size=min_size or size,
            max_size=size,
            timeout=60,
            kwargs={"autocommit": autocommit},
            open=True,
        )
        self.pool.wait(timeout=60)

    def cursor(self) -> "_PsycopgPoolCursor":
        return _PsycopgPoolCursor(self.pool)

    def checkout_fns(self) -> Tuple[Callable[[], Any], Callable[[Any], Any]]:
        return self.pool.getconn, self.pool.putconn

    def raw_conn(self) -> Any:
        return self.pool.getconn()

    def close(self) -> None:
        self.pool.close()


class _PsycopgPoolCursor:
    """``with pool.connection() as conn, conn.cursor() as cur:`` (psycopg_pool's idiom)."""

    __slots__ = ("pool", "cm", "cur")

    def __init__(self, pool: Any):
        self.pool = pool

    def __enter__(self) -> Any:
        self.cm = self.pool.connection()
        conn = self.cm.__enter__()
        self.cur = conn.cursor()
        return self.cur

    def __exit__(self, et: Any, ev: Any, tb: Any) -> Any:
        try:
            self.cur.close()
        finally:
            return self.cm.__exit__(et, ev, tb)


class SQLAlchemy:
    name = "sqlalchemy"

    def __init__(
        self, size: int, autocommit: bool = False, min_size: Optional[int] = None
    ):
        import sqlalchemy

        url = URL.replace("postgresql://", "postgresql+psycopg2://", 1).replace(
            "postgres://", "postgresql+psycopg2://", 1
        )
        kw: Dict[str, Any] = {}
        if autocommit:
            kw["isolation_level"] = "AUTOCOMMIT"
        # QueuePool (create_engine's default), pre_ping off (its default; seed 002 turns
        # it on, which would cost SQLAlchemy a round trip per checkout).
        self.engine = sqlalchemy.create_engine(
            url, pool_size=size, max_overflow=0, pool_timeout=60, **kw
        )
        # Open the pool's connections before the clock starts, as the others do.
        conns = [self.engine.raw_connection() for _ in range(min_size or size)]
        for c in conns:
            c.close()

    def cursor(self) -> "_SQLAlchemyCursor":
        return _SQLAlchemyCursor(self.engine)

    def checkout_fns(self) -> Tuple[Callable[[], Any], Callable[[Any], Any]]:
        return self.engine.raw_connection, operator.methodcaller("close")

    def raw_conn(self) -> Any:
        return self.engine.raw_connection()

    def close(self) -> None:
        self.engine.dispose()


class _SQLAlchemyCursor:
    __slots__ = ("engine", "conn", "cur")

    def __init__(self, engine: Any):
        self.engine = engine

    def __enter__(self) -> Any:
        self.conn = self.engine.raw_connection()
        self.cur = self.conn.cursor()
        return self.cur

    def __exit__(self, et: Any, ev: Any, tb: Any) -> bool:
        try:
            self.cur.close()
            if et is None:
                self.conn.commit()
            else:
                self.conn.rollback()
        finally:
            self.conn.close()  # back to the QueuePool (reset: rollback, a no-op here)
        return False


class PgPool:
    """pgpool through the module-level get_cursor() (the default pool, configure())."""

    name = "pgpool"
    module_level = True

    def __init__(
        self, size: int, autocommit: bool = False, min_size: Optional[int] = None
    ):
        import pgpool

        self.pgpool = pgpool
        kw = dict(min_size=min_size or size, max_size=size, timeout=60)
        if self.module_level:
            self.pool = pgpool.configure(URL, **kw)
            gc_ = pgpool.get_cursor
        else:
            self.pool = pgpool.Pool(URL, **kw)
            gc_ = self.pool.cursor
        self.pool.wait(60)
        if autocommit:
            self.cursor: Callable[[], Any] = lambda: gc_(autocommit=True)
        else:
            self.cursor = gc_

    def checkout_fns(self) -> Tuple[Callable[[], Any], Callable[[Any], Any]]:
        return self.pool.getconn, self.pool.putconn

    def raw_conn(self) -> Any:
        return self.pool.getconn()

    def close(self) -> None:
        if self.module_level:
            self.pgpool.close_pool()
        else:
            self.pool.close()


class PgPoolPool(PgPool):
    """pgpool through an explicit pgpool.Pool(...) and ``with pool.cursor() as cur``."""

    name = "pgpool.Pool"
    module_level = False


CONTENDERS: Dict[str, type] = {
    "pgpool": PgPool,
    "pgpool.Pool": PgPoolPool,
    "psycopg2": Psycopg2,
    "psycopg_pool": PsycopgPool,
    "sqlalchemy": SQLAlchemy,
}


def importable(name: str) -> Optional[str]:
    """None when the contender can run, else why not."""
    mods = {
        "pgpool": ["pgpool"],
        "pgpool.Pool": ["pgpool"],
        "psycopg2": ["psycopg2"],
        "psycopg_pool": ["psycopg", "psycopg_pool"],
        "sqlalchemy": ["sqlalchemy", "psycopg2"],
    }[name]
    for m in mods:
        if m == "pgpool":
            if import_pgpool() is None:
                return common.PGPOOL_NOTE
            continue
        try:
            __import__(m)
        except ImportError as e:
            return f"{m} not importable: {e} (make bench installs it into .venv)"
    return None
