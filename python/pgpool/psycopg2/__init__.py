"""pgpool presenting itself as psycopg2: ``import pgpool.psycopg2 as psycopg2``.

This package is for code (and libraries: SQLAlchemy, Django, ...) that imports
``psycopg2`` and checks what it finds: ``__version__`` has psycopg2's format (the
psycopg2 release whose behaviour pgpool follows), ``__libpq_version__`` and
``extensions.libpq_version()`` the libpq feature level pgpool offers. Everything else is
pgpool's own objects, not copies: ``pgpool.psycopg2.extensions`` *is*
``pgpool.extensions``, so ``psycopg2.extensions.connection is
pgpool.extensions.connection``.

:func:`pgpool.install_as_psycopg2` registers this package and its submodules in
``sys.modules`` under the psycopg2 names (as PyMySQL's ``install_as_MySQLdb()``), so an
unchanged ``import psycopg2`` / ``from psycopg2.extras import ...`` gets pgpool.
``pgpool.__version__`` stays pgpool's own version; it is here as
``__pgpool_version__``.
"""

from __future__ import annotations

import sys as _sys
from typing import Any, Optional

import pgpool as _pgpool
from pgpool import (
    BINARY,
    DATETIME,
    NUMBER,
    ROWID,
    STRING,
    Binary,
    DatabaseError,
    DataError,
    Date,
    DateFromTicks,
    Error,
    IntegrityError,
    InterfaceError,
    InternalError,
    NotSupportedError,
    OperationalError,
    ProgrammingError,
    Time,
    TimeFromTicks,
    Timestamp,
    TimestampFromTicks,
    Warning,
    apilevel,
    paramstyle,
    threadsafety,
)
from pgpool import errorcodes as errorcodes
from pgpool import errors as errors
from pgpool import extensions as extensions
from pgpool import extras as extras
from pgpool import pool as pool
from pgpool import sql as sql
from pgpool import tz as tz

from . import _json as _json
from . import _psycopg as _psycopg
from . import _range as _range

__all__ = [
    "BINARY",
    "Binary",
    "DATETIME",
    "DataError",
    "DatabaseError",
    "Date",
    "DateFromTicks",
    "Error",
    "IntegrityError",
    "InterfaceError",
    "InternalError",
    "NUMBER",
    "NotSupportedError",
    "OperationalError",
    "ProgrammingError",
    "ROWID",
    "STRING",
    "Time",
    "TimeFromTicks",
    "Timestamp",
    "TimestampFromTicks",
    "Warning",
    "apilevel",
    "connect",
    "paramstyle",
    "threadsafety",
    "__version__",
    "__libpq_version__",
]

#: The psycopg2 release whose behaviour (and test suite) pgpool follows, in psycopg2's
#: format: ``"2.9.10 (dt dec pq3 ext lo64)"``.
__version__ = "2.9.10 (dt dec pq3 ext lo64)"
#: The libpq feature level pgpool offers, as psycopg2 reports its libpq (16.0: conninfo
#: parsing, SSL facts, SCRAM password encryption). pgpool does not use libpq.
__libpq_version__ = extensions.libpq_version()
#: pgpool's own version.
__pgpool_version__ = _pgpool.__version__


def connect(
    dsn: Optional[str] = None,
    connection_factory: Any = None,
    cursor_factory: Any = None,
    **kwargs: Any,
) -> Any:
    """psycopg2's ``connect``: the DSN with the keywords merged in
    (``extensions.make_dsn``), connected by this module's ``_connect`` (as psycopg2's
    own, so code that replaces ``psycopg2._connect`` sees the call)."""
    kwasync = {k: kwargs.pop(k) for k in ("async", "async_") if k in kwargs}
    dsn = extensions.make_dsn(dsn, **kwargs)
    conn = _connect(dsn, connection_factory=connection_factory, **kwasync)
    if cursor_factory is not None:
        conn.cursor_factory = cursor_factory
    return conn


_connect = _pgpool._connect

#: psycopg2 submodule name -> this facade's module (what install_as_psycopg2
#: registers as ``psycopg2.<name>``).
_SUBMODULES = {
    "errorcodes": errorcodes,
    "errors": errors,
    "extensions": extensions,
    "extras": extras,
    "pool": pool,
    "sql": sql,
    "tz": tz,
    "_json": _json,
    "_range": _range,
    "_psycopg": _psycopg,
}

# ``import pgpool.psycopg2.extensions`` finds pgpool's own module.
for _name, _module in _SUBMODULES.items():
    _sys.modules.setdefault(f"{__name__}.{_name}", _module)
del _name, _module
