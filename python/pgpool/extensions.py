"""The ``psycopg2.extensions`` names applications use, for ``pgpool``.

``from pgpool import extensions`` in place of ``from psycopg2 import extensions``: the
isolation level and transaction status constants, the ``connection`` and ``cursor``
classes (to subclass), the extra exceptions, ``Diagnostics``, ``quote_ident``, the
``AsIs`` / ``QuotedString`` adapters, ``adapt`` and ``register_adapter``, and
typecasters: ``new_type``, ``new_array_type``, ``register_type`` and the predefined
ones (``DECIMAL``, ``INTEGER``, ...).
"""

from __future__ import annotations

import re as _re
from typing import Any, Callable, Dict, List, Optional, Sequence

from . import _adapters, _pgpool
from ._adapters import (
    ISQLQuote,
    _BuiltinAdapter,
    _predefine,
    adapt,
    adapters,
    binary_types,
    string_types,
)
from ._lobject import LargeObject as lobject
from ._notify import Notify
from ._password import encrypt_password
from ._pgpool import Connection as connection
from ._pgpool import Cursor as cursor
from ._xid import Xid
from .errors import DataError, Diagnostics, QueryCanceledError, TransactionRollbackError

__all__ = [
    "Notify",
    "Xid",
    "lobject",
    "encrypt_password",
    "ISOLATION_LEVEL_AUTOCOMMIT",
    "ISOLATION_LEVEL_READ_UNCOMMITTED",
    "ISOLATION_LEVEL_READ_COMMITTED",
    "ISOLATION_LEVEL_REPEATABLE_READ",
    "ISOLATION_LEVEL_SERIALIZABLE",
    "ISOLATION_LEVEL_DEFAULT",
    "TRANSACTION_STATUS_IDLE",
    "TRANSACTION_STATUS_ACTIVE",
    "TRANSACTION_STATUS_INTRANS",
    "TRANSACTION_STATUS_INERROR",
    "TRANSACTION_STATUS_UNKNOWN",
    "STATUS_SETUP",
    "STATUS_READY",
    "STATUS_BEGIN",
    "STATUS_IN_TRANSACTION",
    "STATUS_PREPARED",
    "STATUS_SYNC",
    "STATUS_ASYNC",
    "POLL_OK",
    "POLL_READ",
    "POLL_WRITE",
    "POLL_ERROR",
    "set_wait_callback",
    "get_wait_callback",
    "parse_dsn",
    "make_dsn",
    "connection",
    "cursor",
    "QueryCanceledError",
    "TransactionRollbackError",
    "Diagnostics",
    "AsIs",
    "QuotedString",
    "quote_ident",
    "adapt",
    "adapters",
    "ISQLQuote",
    "string_types",
    "binary_types",
    "register_adapter",
    "new_type",
    "new_array_type",
    "register_type",
    "INTEGER",
    "LONGINTEGER",
    "FLOAT",
    "DECIMAL",
    "BOOLEAN",
    "UNICODE",
    "DATE",
    "TIME",
    "INTERVAL",
    "PYDATE",
    "PYDATETIME",
    "PYDATETIMETZ",
    "PYTIME",
    "PYINTERVAL",
    "JSON",
    "JSONB",
    "INTEGERARRAY",
    "DECIMALARRAY",
    "UNICODEARRAY",
    "STRINGARRAY",
    "LONGINTEGERARRAY",
    "FLOATARRAY",
    "BOOLEANARRAY",
    "DATEARRAY",
    "TIMEARRAY",
    "DATETIMEARRAY",
    "DATETIMETZARRAY",
    "INTERVALARRAY",
    "BINARYARRAY",
    "ROWIDARRAY",
    "PYDATEARRAY",
    "PYTIMEARRAY",
    "PYDATETIMEARRAY",
    "PYDATETIMETZARRAY",
    "PYINTERVALARRAY",
    "BYTES",
    "BYTESARRAY",
    "libpq_version",
    "encodings",
]


def libpq_version() -> int:
    """The libpq feature level pgpool offers, as psycopg2's ``libpq_version()`` reports
    the libpq it runs with: 160000 (16.0). pgpool does not use libpq; its own protocol
    code provides what psycopg2 needs of libpq 16 (conninfo parsing, SSL facts, SCRAM
    password encryption), and libraries that check the number get that answer."""
    return 160000


#: PostgreSQL encoding name -> Python codec name, for every client encoding pgpool
#: speaks (psycopg2's ``encodings``; ``conn.encoding`` is a key).
encodings: Dict[str, str] = _pgpool._encodings()

# Isolation levels (``connection.isolation_level``, ``set_isolation_level``).
ISOLATION_LEVEL_AUTOCOMMIT = 0
ISOLATION_LEVEL_READ_UNCOMMITTED = 4
ISOLATION_LEVEL_READ_COMMITTED = 1
ISOLATION_LEVEL_REPEATABLE_READ = 2
ISOLATION_LEVEL_SERIALIZABLE = 3
ISOLATION_LEVEL_DEFAULT = None

# ``connection.info.transaction_status`` (libpq's PGTransactionStatusType).
TRANSACTION_STATUS_IDLE = 0
TRANSACTION_STATUS_ACTIVE = 1
TRANSACTION_STATUS_INTRANS = 2
TRANSACTION_STATUS_INERROR = 3
TRANSACTION_STATUS_UNKNOWN = 4

# ``connection.status`` values, as psycopg2 numbers them.
STATUS_SETUP = 0
STATUS_READY = 1
STATUS_BEGIN = 2
STATUS_SYNC = 3  # unused, as in psycopg2
STATUS_ASYNC = 4  # unused, as in psycopg2
STATUS_IN_TRANSACTION = STATUS_BEGIN
STATUS_PREPARED = 5

# ``connection.poll()`` results.
POLL_OK = 0
POLL_READ = 1
POLL_WRITE = 2
POLL_ERROR = 3

#: psycopg2's green mode: ``set_wait_callback(f)`` makes every connection call
#: ``f(conn)`` where it would block on the socket (``extras.wait_select`` is such a
#: callback; gevent and eventlet install their own); ``None`` removes it.
set_wait_callback = _pgpool.set_wait_callback
get_wait_callback = _pgpool.get_wait_callback


# ---------------------------------------------------------------------------
# Connection strings


def parse_dsn(dsn: Any) -> Dict[str, str]:
    """The keywords a libpq connection string or URI sets, as a dict (libpq's
    ``PQconninfoParse``; nothing from the environment): ``parse_dsn("dbname=x
    user=y")`` is ``{"dbname": "x", "user": "y"}``. ``ProgrammingError`` for a syntax
    error or an unknown keyword (never showing the password)."""
    if isinstance(dsn, bytes):
        dsn = dsn.decode("utf-8")
    if not isinstance(dsn, str):
        raise TypeError(
            f"parse_dsn() argument must be str or bytes, not {type(dsn).__name__}"
        )
    return _pgpool._parse_dsn(dsn)


def _param_escape(value: str) -> str:
    """``value`` as a libpq keyword value: ``''`` when empty, backslashes and quotes
    escaped, quoted when it holds white space."""
    if not value:
        return "''"
    value = value.replace("\\", "\\\\").replace("'", "\\'")
    if any(c.isspace() for c in value):
        value = "'" + value + "'"
    return value


def make_dsn(dsn: Optional[str] = None, **kwargs: Any) -> str:
    """psycopg2's ``make_dsn``: ``dsn`` with the keywords ``kwargs`` added (they win;
    ``database`` is ``dbname``; ``None`` values dropped), as a keyword/value string. With
    no keywords the DSN is returned as it is, once checked. ``ProgrammingError`` for an
    invalid DSN or keyword."""
    if dsn is None and not kwargs:
        return ""
    if not kwargs:
        parse_dsn(dsn)
        return dsn  # type: ignore[return-value]
    if "database" in kwargs:
        if "dbname" in kwargs:
            raise TypeError("you can't specify both 'database' and 'dbname' arguments")
        kwargs["dbname"] = kwargs.pop("database")
    params = {k: v for k, v in kwargs.items() if v is not None}
    if dsn is not None:
        merged = parse_dsn(dsn)
        merged.update(params)
        params = merged
    out = " ".join(f"{k}={_param_escape(str(v))}" for k, v in params.items())
    parse_dsn(out)
    return out


def _quote_literal(text: str) -> bytes:
    """``'text'`` as a standard-conforming SQL literal (quotes doubled)."""
    if "\x00" in text:
        raise ValueError("A string literal cannot contain NUL (0x00) characters.")
    return ("'" + text.replace("'", "''") + "'").encode("utf-8")


class AsIs:
    """An adapter that puts ``str(obj)`` in the statement verbatim (not escaped)."""

    def __init__(self, adapted: Any) -> None:
        self.adapted = adapted

    def getquoted(self) -> bytes:
        """The SQL text for the parameter."""
        return str(self.adapted).encode("utf-8")

    def __str__(self) -> str:
        return str(self.adapted)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.adapted!r})"


class QuotedString:
    """An adapter rendering a string as a quoted SQL literal (``adapt(str)``'s).

    As psycopg2's: ``encoding`` is the Python codec the literal is encoded with
    (``latin1`` until :meth:`prepare` sets the connection's); a character it cannot
    encode raises ``UnicodeEncodeError`` from :meth:`getquoted`. (``execute`` does not
    go through this class: it renders strings in the connection's encoding itself.)"""

    def __init__(self, adapted: Any) -> None:
        self.adapted = adapted
        self.encoding = "latin1"
        self._conn: Any = None

    def prepare(self, conn: Any) -> None:
        """Quote for ``conn`` from now on: its ``standard_conforming_strings``, and its
        client encoding (``encoding`` becomes its Python codec)."""
        self._conn = conn
        pgenc = getattr(conn, "encoding", None)
        if pgenc:
            self.encoding = encodings.get(pgenc, self.encoding)

    def getquoted(self) -> bytes:
        """The SQL text for the parameter, encoded with ``encoding``."""
        value = self.adapted
        if isinstance(value, bytes):
            value = value.decode(self.encoding)
        if self._conn is None:
            text = _quote_literal(str(value)).decode("utf-8")
        else:
            text = _pgpool._quote(str(value), self._conn)
        return text.encode(self.encoding)

    def __conform__(self, proto: Any) -> Any:
        return self

    def __str__(self) -> str:
        return self.getquoted().decode(self.encoding)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.adapted!r})"


# adapt(str) is a QuotedString, as in psycopg2; it stands for pgpool's own rendering of
# strings (registering it again does not route strings through Python).
_adapters._BUILTIN_ADAPTERS.add(QuotedString)
dict.__setitem__(adapters, (str, ISQLQuote), QuotedString)


def quote_ident(ident: str, scope: Any = None) -> str:
    """``ident`` quoted as an SQL identifier: ``my "table`` -> ``"my ""table"``.

    ``scope`` (a connection or cursor in psycopg2) is accepted and not needed.
    """
    if not isinstance(ident, str):
        raise TypeError("argument 1 must be a string")
    if "\x00" in ident:
        raise ValueError("An identifier cannot contain NUL (0x00) characters.")
    return '"' + ident.replace('"', '""') + '"'


# ``adapt``, ``adapters``, ``ISQLQuote``, ``string_types``: see pgpool._adapters.
_Adapted = _BuiltinAdapter


def register_adapter(typ: type, callable: Callable[[Any], Any]) -> None:
    """psycopg2's ``register_adapter``: values of type ``typ`` (and of its subclasses
    without an adapter of their own) are passed to ``callable``, whose result's
    ``getquoted()`` is the SQL sent (``register_adapter(dict, Json)``); it is
    ``adapters[typ, ISQLQuote] = callable``."""
    if not isinstance(typ, type):
        raise TypeError("register_adapter() argument 1 must be a type")
    adapters[(typ, ISQLQuote)] = callable


class _Typecaster:
    """A typecaster (psycopg2's ``extensions.new_type`` object): ``caster(value,
    cursor)`` turns the text of a value of one of the ``values`` type OIDs (``None`` for
    SQL NULL) into a Python object."""

    def __init__(
        self,
        values: Sequence[int],
        name: str,
        caster: Callable[[Optional[str], Any], Any],
    ) -> None:
        self.values = tuple(int(v) for v in values)
        self.name = name
        self._caster = caster

    def __call__(self, value: Any, cursor: Any = None) -> Any:
        if isinstance(value, (bytes, bytearray, memoryview)):
            value = bytes(value).decode("utf-8")
        return self._caster(value, cursor)

    def __repr__(self) -> str:
        return f"<pgpool.extensions.type {self.name!r}>"


def new_type(
    values: Sequence[int],
    name: str,
    castobj: Optional[Callable[[Optional[str], Any], Any]] = None,
) -> _Typecaster:
    """psycopg2's ``new_type``: a typecaster for the type OIDs ``values``;
    ``castobj(value, cursor)`` gets the value's text (or ``None``). Register it with
    :func:`register_type`."""
    if castobj is None:
        return _Typecaster(values, name, lambda v, c: v)
    if not callable(castobj):
        raise TypeError("new_type() castobj must be callable")
    return _Typecaster(values, name, castobj)


def _parse_array(s: str) -> Any:
    """The text of a PostgreSQL array (``{1,"a b",NULL,{2,3}}``) as nested lists of
    element texts (``None`` for NULL)."""
    pos = s.find("{")  # skip a dimension decoration ("[0:1]={...}")
    if pos < 0:
        raise DataError(f"malformed array literal: {s!r}")
    stack: List[List[Any]] = []
    out: Any = None
    i = pos
    n = len(s)
    while i < n:
        ch = s[i]
        if ch == "{":
            stack.append([])
            i += 1
        elif ch == "}":
            done = stack.pop()
            if stack:
                stack[-1].append(done)
            else:
                out = done
            i += 1
        elif ch == ",":
            i += 1
        elif ch == '"':
            i += 1
            buf = []
            while i < n and s[i] != '"':
                if s[i] == "\\" and i + 1 < n:
                    i += 1
                buf.append(s[i])
                i += 1
            i += 1
            stack[-1].append("".join(buf))
        else:
            j = i
            while j < n and s[j] not in ",}":
                j += 1
            token = s[i:j].strip()
            stack[-1].append(None if token == "NULL" else token)
            i = j
    return out


def new_array_type(
    values: Sequence[int], name: str, baseobj: _Typecaster
) -> _Typecaster:
    """psycopg2's ``new_array_type``: arrays of the type ``baseobj`` casts, as lists."""

    def cast(value: Optional[str], cursor: Any) -> Any:
        if value is None:
            return None

        def each(x: Any) -> Any:
            if isinstance(x, list):
                return [each(y) for y in x]
            return baseobj(x, cursor)

        return each(_parse_array(value))

    return _Typecaster(values, name, cast)


def register_type(obj: _Typecaster, scope: Any = None) -> None:
    """psycopg2's ``register_type``: use typecaster ``obj`` for its types, everywhere
    (``scope`` None), or on one connection or cursor."""
    if not isinstance(obj, _Typecaster):
        raise TypeError("argument 1 must be a typecaster (see new_type())")
    if (
        scope is not None
        and hasattr(scope, "_conn")
        and not isinstance(scope, (_pgpool.Connection, _pgpool.Cursor))
    ):
        scope = scope._conn  # an AsyncConnection
    if scope is None:
        for oid in obj.values:
            string_types[oid] = obj  # registers it in Rust (see pgpool._adapters)
        return
    _pgpool._register_caster(list(obj.values), obj, scope)


def _builtin(values: Sequence[int], name: str) -> _Typecaster:
    oid = values[0]
    t = _Typecaster(values, name, lambda v, c: _pgpool._cast(oid, v))
    t._pgpool_builtin = True  # type: ignore[attr-defined]
    return t


# psycopg2's predefined typecasters (``DECIMAL.values`` is what
# ``new_type(DECIMAL.values, "DEC2FLOAT", ...)`` recipes use); calling one casts as the
# builtin decoding does.
INTEGER = _builtin((23, 21), "INTEGER")
LONGINTEGER = _builtin((20,), "LONGINTEGER")
FLOAT = _builtin((701, 700), "FLOAT")
DECIMAL = _builtin((1700,), "DECIMAL")
BOOLEAN = _builtin((16,), "BOOLEAN")
UNICODE = _builtin((19, 18, 25, 1042, 1043), "UNICODE")
DATE = _builtin((1082,), "DATE")
TIME = _builtin((1083, 1266), "TIME")
INTERVAL = _builtin((704, 1186), "INTERVAL")
PYDATE = _builtin((1082,), "PYDATE")
PYDATETIME = _builtin((1114,), "PYDATETIME")
PYDATETIMETZ = _builtin((1184,), "PYDATETIMETZ")
PYTIME = _builtin((1083, 1266), "PYTIME")
PYINTERVAL = _builtin((704, 1186), "PYINTERVAL")
JSON = _builtin((114,), "JSON")
JSONB = _builtin((3802,), "JSONB")
INTEGERARRAY = _builtin((1005, 1006, 1007), "INTEGERARRAY")
DECIMALARRAY = _builtin((1231,), "DECIMALARRAY")
UNICODEARRAY = _builtin((1002, 1003, 1009, 1014, 1015), "UNICODEARRAY")


def _interval(values: Sequence[int], name: str) -> _Typecaster:
    """INTERVAL / PYINTERVAL: as the builtin decoding, with psycopg2's OverflowError
    for a component too large for a ``timedelta`` (rather than a DataError)."""

    def cast(v: Optional[str], c: Any) -> Any:
        try:
            r = _pgpool._cast(1186, v)
        except DataError:
            r = None
            if v is None or not _re.search(r"\d{16}", v):
                raise
        if v is not None and _re.search(r"\d{16}", v):
            raise OverflowError(f"interval component too big: {v!r}")
        return r

    t = _Typecaster(values, name, cast)
    t._pgpool_builtin = True  # type: ignore[attr-defined]
    return t


INTERVAL = _interval((704, 1186), "INTERVAL")
PYINTERVAL = _interval((704, 1186), "PYINTERVAL")
STRINGARRAY = _builtin((1002, 1003, 1009, 1014, 1015), "STRINGARRAY")
LONGINTEGERARRAY = _builtin((1016,), "LONGINTEGERARRAY")
FLOATARRAY = _builtin((1021, 1022), "FLOATARRAY")
BOOLEANARRAY = _builtin((1000,), "BOOLEANARRAY")
DATEARRAY = _builtin((1182,), "DATEARRAY")
TIMEARRAY = _builtin((1183, 1270), "TIMEARRAY")
DATETIMEARRAY = _builtin((1115,), "DATETIMEARRAY")
DATETIMETZARRAY = _builtin((1185,), "DATETIMETZARRAY")
INTERVALARRAY = _builtin((1187,), "INTERVALARRAY")
BINARYARRAY = _builtin((1001,), "BINARYARRAY")
ROWIDARRAY = _builtin((1028, 1013), "ROWIDARRAY")
PYDATEARRAY = _builtin((1182,), "PYDATEARRAY")
PYTIMEARRAY = _builtin((1183, 1270), "PYTIMEARRAY")
PYDATETIMEARRAY = _builtin((1115,), "PYDATETIMEARRAY")
PYDATETIMETZARRAY = _builtin((1185,), "PYDATETIMETZARRAY")
PYINTERVALARRAY = _builtin((1187,), "PYINTERVALARRAY")


def _codec(cursor: Any) -> str:
    conn = getattr(cursor, "connection", None) if cursor is not None else None
    enc = getattr(conn, "encoding", None) or "UTF8"
    return encodings.get(enc, "utf-8")


#: Text types as ``bytes`` (in the connection's encoding), psycopg2's ``BYTES``.
BYTES = _Typecaster(
    (19, 18, 25, 1042, 1043),
    "BYTES",
    lambda v, c: None if v is None else v.encode(_codec(c)),
)
#: Text arrays as lists of ``bytes``, psycopg2's ``BYTESARRAY``.
BYTESARRAY = new_array_type((1002, 1003, 1009, 1014, 1015), "BYTESARRAY", BYTES)

_predefine(
    [
        INTEGER,
        LONGINTEGER,
        FLOAT,
        DECIMAL,
        BOOLEAN,
        UNICODE,
        DATE,
        TIME,
        INTERVAL,
        PYDATETIME,
        PYDATETIMETZ,
        JSON,
        JSONB,
        INTEGERARRAY,
        DECIMALARRAY,
        STRINGARRAY,
        LONGINTEGERARRAY,
        FLOATARRAY,
        BOOLEANARRAY,
        DATEARRAY,
        TIMEARRAY,
        DATETIMEARRAY,
        DATETIMETZARRAY,
        INTERVALARRAY,
        BINARYARRAY,
        ROWIDARRAY,
    ]
)
