"""The ``postgresql+pgpool://`` dialects: SQLAlchemy's psycopg2 dialect on pgpool (sync),
and its asyncio variant on pgpool's asyncio face (``create_async_engine``), both with
:mod:`pgpool.sqlalchemy.pool` as the engine's pool."""

# SQLAlchemy's own dialects are untyped internally (``# mypy: ignore-errors``); these
# subclasses override their hooks with the same signatures.
# mypy: disable-error-code="type-arg,no-untyped-def,no-untyped-call,misc,override,attr-defined,assignment,unused-ignore"

from __future__ import annotations

import asyncio
import functools
import logging
import uuid as _uuid
from typing import Any, Optional, Tuple

from sqlalchemy import types as sqltypes
from sqlalchemy import util
from sqlalchemy.dialects.postgresql.array import ARRAY as PGARRAY
from sqlalchemy.dialects.postgresql.psycopg2 import (
    PGDialect_psycopg2,
    PGExecutionContext_psycopg2,
)
from sqlalchemy.engine import AdaptedConnection

import pgpool
import pgpool.psycopg2 as _dbapi
from pgpool import _aio
from pgpool import extensions as _extensions
from pgpool import extras as _extras
from pgpool._pgpool import _cast

from .pool import (
    AsyncPgpoolPool,
    ConnectSpec,
    PgpoolPool,
    capturing,
    readonly_checkout,
    split_pool_settings,
)

try:  # SQLAlchemy 2.1
    from sqlalchemy.util.concurrency import await_
except ImportError:  # pragma: no cover - SQLAlchemy 2.0
    from sqlalchemy.util.concurrency import await_only as await_

__all__ = ["PGDialect_pgpool", "PGDialectAsync_pgpool"]

logger = logging.getLogger("sqlalchemy.dialects.postgresql")

_TEXT_ARRAY = 1009


class _PgpoolARRAY(PGARRAY):
    """Arrays whose element type pgpool returns as text (uuid[], inet[], enum[],
    hstore[], ...) arrive as the array's text; split them as ``text[]`` first (what
    psycopg2's registered array casters do), then SQLAlchemy's item processing."""

    render_bind_cast = True

    def result_processor(self, dialect, coltype):
        inner = super().result_processor(dialect, coltype)

        def process(value):
            if isinstance(value, str):
                value = _cast(_TEXT_ARRAY, value)
            return inner(value) if inner is not None else value

        return process


class PGExecutionContext_pgpool(PGExecutionContext_psycopg2):
    def post_exec(self):
        # psycopg2's dialect logs the connection's notices after each statement; reading
        # them costs a call per statement, so only when they would be logged.
        if logger.isEnabledFor(logging.INFO):
            self._log_notices(self.cursor)


@functools.lru_cache(maxsize=1)
def _uuid_casters() -> Tuple[Any, Any]:
    """psycopg2's ``register_uuid`` casters (uuid and uuid[] as ``uuid.UUID``), made once."""

    def cast(value: Optional[str], cur: Any) -> Optional[_uuid.UUID]:
        return None if value is None else _uuid.UUID(value)

    caster = _extensions.new_type((2950,), "UUID", cast)
    return caster, _extensions.new_array_type((2951,), "UUID[]", caster)


class PGDialect_pgpool(PGDialect_psycopg2):
    """``postgresql+pgpool://``: SQLAlchemy's psycopg2 dialect with pgpool as the
    DB-API driver and :class:`~pgpool.sqlalchemy.pool.PgpoolPool` as the pool."""

    driver = "pgpool"
    supports_statement_cache = True
    execution_ctx_cls = PGExecutionContext_pgpool
    # HSTORE values are converted by SQLAlchemy (psycopg2's native hstore needs a
    # typecaster registered on every connection).
    _has_native_hstore = False

    colspecs = util.update_copy(
        PGDialect_psycopg2.colspecs,
        {
            sqltypes.ARRAY: _PgpoolARRAY,
            PGARRAY: _PgpoolARRAY,
        },
    )

    def __init__(
        self,
        pgpool_pool: Optional[pgpool.Pool] = None,
        use_native_hstore: bool = False,
        **kwargs: Any,
    ) -> None:
        super().__init__(use_native_hstore=False, **kwargs)
        self._pgpool_pool = pgpool_pool

    @classmethod
    def import_dbapi(cls):
        return _dbapi

    @classmethod
    def get_pool_class(cls, url):
        return PgpoolPool

    @classmethod
    def load_provisioning(cls):
        # SQLAlchemy's test provisioning (temp tables, schemas, follower databases)
        # for PostgreSQL: the default looks next to this module, not in
        # sqlalchemy.dialects.postgresql.
        __import__("sqlalchemy.dialects.postgresql.provision")

    @classmethod
    def get_async_dialect_cls(cls, url):
        return PGDialectAsync_pgpool

    @util.memoized_property
    def _psycopg2_extensions(self):
        return _extensions

    @util.memoized_property
    def _psycopg2_extras(self):
        return _extras

    def initialize(self, connection):
        super().initialize(connection)
        self._has_native_hstore = False

    def connect(self, *cargs, **cparams):
        if capturing():
            return ConnectSpec(cargs, cparams)
        # Another pool class (NullPool, QueuePool, ...): plain pgpool connections.
        _, conn_kw = split_pool_settings(cparams)
        return self.loaded_dbapi.connect(*cargs, **conn_kw)

    def on_connect(self):
        fns = []
        if self.client_encoding is not None:

            def set_encoding(dbapi_conn):
                dbapi_conn.set_client_encoding(self.client_encoding)

            fns.append(set_encoding)
        if self.dbapi:
            # As SQLAlchemy's psycopg2 dialect: uuid columns come back as uuid.UUID
            # (SQLAlchemy's UUID type relies on it; as_uuid=False turns them into str).

            # The connect event fires on every checkout: the casters are made once.
            casters = _uuid_casters()

            def uuid_casters(dbapi_conn):
                conn = getattr(dbapi_conn, "driver_connection", dbapi_conn)
                conn = getattr(conn, "connection", conn)
                for c in casters:
                    _extensions.register_type(c, conn)

            fns.append(uuid_casters)
        if self._json_deserializer:
            loads = self._json_deserializer

            def json_casters(dbapi_conn):
                conn = getattr(dbapi_conn, "driver_connection", dbapi_conn)
                conn = getattr(conn, "connection", conn)
                _extras.register_default_json(conn, loads=loads)
                _extras.register_default_jsonb(conn, loads=loads)

            fns.append(json_casters)
        if not fns:
            return None

        def on_connect(dbapi_conn):
            for fn in fns:
                fn(dbapi_conn)

        return on_connect

    def set_engine_execution_options(self, engine, opts):
        super().set_engine_execution_options(engine, opts)
        if "postgresql_readonly" in opts:
            # Route the engine's checkouts: readonly ones to the pool's replicas.
            ro = bool(opts["postgresql_readonly"])
            base = type(engine).raw_connection

            def raw_connection(_base=base, _engine=engine, _ro=ro):
                token = readonly_checkout.set(_ro)
                try:
                    return _base(_engine)
                finally:
                    readonly_checkout.reset(token)

            engine.raw_connection = raw_connection

    def is_disconnect(self, e, connection, cursor):
        if isinstance(e, self.loaded_dbapi.Error):
            conn = getattr(connection, "driver_connection", connection)
            conn = getattr(conn, "connection", conn)
            if getattr(conn, "closed", 0) == 2:
                return True
        return super().is_disconnect(e, connection, cursor)


# ---------------------------------------------------------------------------------
# asyncio


class AsyncAdapt_pgpool_cursor:
    """A SQLAlchemy DB-API cursor over pgpool's asyncio cursor: ``execute`` awaits the
    round trip; results arrive whole, so the fetches read the sync cursor's buffer
    directly (what SQLAlchemy's psycopg async dialect does with a client cursor)."""

    server_side = False
    __slots__ = ("_adapt_connection", "_acur", "_cursor")

    def __init__(self, adapt_connection: AsyncAdapt_pgpool_connection) -> None:
        self._adapt_connection = adapt_connection
        self._acur = adapt_connection._connection.cursor()
        self._cursor = self._acur.cursor

    @property
    def description(self):
        return self._cursor.description

    @property
    def rowcount(self):
        return self._cursor.rowcount

    @property
    def arraysize(self):
        return self._cursor.arraysize

    @arraysize.setter
    def arraysize(self, value):
        self._cursor.arraysize = value

    @property
    def lastrowid(self):
        return self._cursor.lastrowid

    @property
    def statusmessage(self):
        return self._cursor.statusmessage

    @property
    def query(self):
        return self._cursor.query

    @property
    def connection(self):
        return self._adapt_connection

    def execute(self, operation, parameters=None):
        await_(self._acur.execute(operation, parameters))

    def executemany(self, operation, seq_of_parameters):
        await_(self._acur.executemany(operation, seq_of_parameters))

    def mogrify(self, operation, parameters=None):
        return self._cursor.mogrify(operation, parameters)

    def fetchone(self):
        return self._cursor.fetchone()

    def fetchmany(self, size=None):
        return self._cursor.fetchmany(size)

    def fetchall(self):
        return self._cursor.fetchall()

    def __iter__(self):
        return iter(self._cursor)

    def close(self):
        self._cursor.close()

    async def _async_soft_close(self):
        # SQLAlchemy's asyncio result calls this before handing a buffered result to
        # sync code: the rows are in the sync cursor already, nothing to await.
        return None

    def setinputsizes(self, *inputsizes):
        pass

    def setoutputsize(self, size, column=None):
        pass

    def nextset(self):
        return None

    def callproc(self, procname, parameters=None):
        raise pgpool.NotSupportedError("callproc() on the asyncio dialect")

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


class AsyncAdapt_pgpool_ss_cursor(AsyncAdapt_pgpool_cursor):
    """A server-side cursor for ``stream_results`` / ``AsyncConnection.stream()``:
    ``DECLARE name NO SCROLL CURSOR WITHOUT HOLD`` (what psycopg2 sends for a named
    cursor), then ``FETCH FORWARD n`` per fetch, ``CLOSE`` when closed inside the
    transaction that declared it. pgpool's asyncio cursors do not offer named cursors,
    so this one sends those statements itself."""

    server_side = True
    __slots__ = ("_name", "_mark", "_closed")

    def __init__(self, adapt_connection, name):
        super().__init__(adapt_connection)
        self._name = '"' + name.replace('"', '""') + '"'
        self._mark = None
        self._closed = False

    def execute(self, operation, parameters=None):
        if self._mark is not None:
            raise pgpool.ProgrammingError(
                "can't call .execute() on named cursors more than once"
            )
        sql = (
            f"DECLARE {self._name} NO SCROLL CURSOR WITHOUT HOLD FOR {operation}\n"
            f";FETCH FORWARD 0 FROM {self._name}"
        )
        await_(self._acur.execute(sql, parameters))
        self._mark = self._adapt_connection._mark

    def executemany(self, operation, seq_of_parameters):
        raise pgpool.ProgrammingError("can't call .executemany() on named cursors")

    def _fetch(self, count):
        if self._mark is None:
            raise pgpool.ProgrammingError("no results to fetch")
        await_(self._acur.execute(f"FETCH FORWARD {count} FROM {self._name}"))
        return self._cursor.fetchall()

    def fetchone(self):
        rows = self._fetch(1)
        return rows[0] if rows else None

    def fetchmany(self, size=None):
        return self._fetch(int(size if size is not None else self.arraysize))

    def fetchall(self):
        return self._fetch("ALL")

    def __iter__(self):
        while True:
            rows = self._fetch(2000)
            if not rows:
                return
            yield from rows

    def close(self):
        if self._closed:
            return
        self._closed = True
        conn = self._adapt_connection
        raw = conn._connection.connection
        if (
            self._mark is not None
            and self._mark == conn._mark
            and not raw.closed
            and raw.info.transaction_status == _extensions.TRANSACTION_STATUS_INTRANS
        ):
            await_(self._acur.execute(f"CLOSE {self._name}"))
        self._cursor.close()


class AsyncAdapt_pgpool_connection(AdaptedConnection):
    """The DB-API connection SQLAlchemy's asyncio engine sees: pgpool's asyncio
    connection, its round trips awaited from SQLAlchemy's greenlet."""

    __slots__ = ("dbapi", "_mark")

    def __init__(self, dbapi, connection: _aio.AsyncConnection) -> None:
        self.dbapi = dbapi
        self._connection = connection
        # Counts the transactions ended through this object (named cursors' CLOSE rule).
        self._mark = 0

    def cursor(self, name=None, /):
        if name:
            return AsyncAdapt_pgpool_ss_cursor(self, name)
        return AsyncAdapt_pgpool_cursor(self)

    def execute(self, operation, parameters=None):
        cur = self.cursor()
        cur.execute(operation, parameters)
        return cur

    def commit(self):
        self._mark += 1
        await_(self._connection.commit())

    def rollback(self):
        self._mark += 1
        await_(self._connection.rollback())

    def close(self):
        self._connection.connection.close()

    def terminate(self):
        self._connection.connection.close()

    # psycopg2 connection attributes the dialect reads and sets (client-side state,
    # no round trip).
    @property
    def autocommit(self):
        return self._connection.connection.autocommit

    @autocommit.setter
    def autocommit(self, value):
        self._connection.connection.autocommit = value

    @property
    def readonly(self):
        return self._connection.connection.readonly

    @readonly.setter
    def readonly(self, value):
        self._connection.connection.readonly = value

    @property
    def deferrable(self):
        return self._connection.connection.deferrable

    @deferrable.setter
    def deferrable(self, value):
        self._connection.connection.deferrable = value

    def set_isolation_level(self, level):
        self._connection.connection.set_isolation_level(level)

    def __getattr__(self, name):
        return getattr(self._connection.connection, name)


class PgpoolAsyncDBAPI:
    """The DB-API module of the asyncio dialect: pgpool's names, and a ``connect()``
    that gives an asyncio-adapted connection."""

    paramstyle = "pyformat"
    apilevel = "2.0"
    threadsafety = 2
    __version__ = _dbapi.__version__

    def __init__(self) -> None:
        self.driver = pgpool
        self.dbapi_module = pgpool

    @property
    def exceptions_module(self):
        return pgpool

    def __getattr__(self, name):
        return getattr(_dbapi, name)

    def _adapt(self, aconn: _aio.AsyncConnection) -> AsyncAdapt_pgpool_connection:
        return AsyncAdapt_pgpool_connection(self, aconn)

    def connect(self, *args, **kwargs):
        # Unpooled (another pool class than pgpool's): connecting blocks, so it runs in
        # a thread.
        conn = await_(asyncio.to_thread(pgpool.connect, *args, **kwargs))
        return self._adapt(_aio.AsyncConnection(conn))


class PGDialectAsync_pgpool(PGDialect_pgpool):
    """``postgresql+pgpool://`` under ``create_async_engine``."""

    is_async = True
    has_terminate = True
    supports_statement_cache = True
    supports_server_side_cursors = True

    @classmethod
    def import_dbapi(cls):
        return PgpoolAsyncDBAPI()

    @classmethod
    def get_pool_class(cls, url):
        return AsyncPgpoolPool

    def get_driver_connection(self, connection):
        return connection._connection

    def do_terminate(self, dbapi_connection):
        dbapi_connection.terminate()

    def is_disconnect(self, e, connection, cursor):
        return super().is_disconnect(e, connection, cursor)


dialect = PGDialect_pgpool
dialect_async = PGDialectAsync_pgpool
