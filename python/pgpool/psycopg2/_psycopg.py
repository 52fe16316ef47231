"""``psycopg2._psycopg``: the names of psycopg2's C extension module that pgpool
provides (connection and cursor classes, adapters, typecasters, exceptions, DB-API
constructors), the same objects as in ``pgpool.extensions`` / ``pgpool``. There is no
C code behind it: psycopg2's internal C functions (``typecast_BINARY_cast``, ...) do
not exist."""

from __future__ import annotations

from typing import Any, List

import pgpool as _pgpool_pkg
from pgpool import errors as _errors
from pgpool import extensions as _extensions

# psycopg2 2.9.10's _psycopg names; those pgpool has are set below.
_NAMES = (
    "AsIs BINARY BINARYARRAY BOOLEAN BOOLEANARRAY BYTES BYTESARRAY Binary Boolean "
    "CIDRARRAY Column ConnectionInfo DATE DATEARRAY DATETIME DATETIMEARRAY DATETIMETZ "
    "DATETIMETZARRAY DECIMAL DECIMALARRAY DataError DatabaseError Date DateFromPy "
    "DateFromTicks Decimal Diagnostics Error FLOAT FLOATARRAY Float INETARRAY INTEGER "
    "INTEGERARRAY INTERVAL INTERVALARRAY ISQLQuote Int IntegrityError InterfaceError "
    "InternalError IntervalFromPy LONGINTEGER LONGINTEGERARRAY List MACADDRARRAY NUMBER "
    "NotSupportedError Notify OperationalError PYDATE PYDATEARRAY PYDATETIME "
    "PYDATETIMEARRAY PYDATETIMETZ PYDATETIMETZARRAY PYINTERVAL PYINTERVALARRAY PYTIME "
    "PYTIMEARRAY ProgrammingError QueryCanceledError QuotedString ROWID ROWIDARRAY "
    "STRING STRINGARRAY TIME TIMEARRAY Time TimeFromPy TimeFromTicks Timestamp "
    "TimestampFromPy TimestampFromTicks TransactionRollbackError UNICODE UNICODEARRAY "
    "UNKNOWN Warning Xid _connect adapt adapters apilevel binary_types connection "
    "cursor encodings encrypt_password get_wait_callback libpq_version lobject "
    "new_array_type new_type paramstyle parse_dsn quote_ident register_type "
    "set_wait_callback sqlstate_errors string_types threadsafety"
).split()

__all__: List[str] = []


def _find(name: str) -> Any:
    for module in (_extensions, _pgpool_pkg, _errors):
        if hasattr(module, name):
            return getattr(module, name)
    raise AttributeError(name)


for _name in _NAMES:
    try:
        globals()[_name] = _find(_name)
    except AttributeError:
        continue
    if not _name.startswith("_"):
        __all__.append(_name)
del _name

#: psycopg2's version string (see ``pgpool.psycopg2.__version__``).
__version__ = "2.9.10 (dt dec pq3 ext lo64)"
__libpq_version__ = _extensions.libpq_version()

#: psycopg2's SQLSTATE -> exception class table: the live one pgpool raises from
#: (changing it changes which class a server error gets, as in psycopg2).
sqlstate_errors = _errors._by_sqlstate
