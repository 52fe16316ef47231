"""The ``psycopg2.extras`` names applications use, for ``pgpool``.

- row types: ``RealDictCursor`` (rows are ``RealDictRow`` dicts), ``DictCursor`` (rows are
  ``DictRow`` lists that are also indexable by column name), ``NamedTupleCursor``;
- ``Json`` to pass a ``dict``/``list``/... as a json(b) parameter;
- ``execute_batch`` and ``execute_values``: many parameter sets in few round trips;
- ``register_uuid``, ``register_json``, ``register_default_json``,
  ``register_default_jsonb``: typecasters (see ``pgpool.extensions.register_type``);
- ``Range`` and ``NumericRange`` / ``DateRange`` / ``DateTimeRange`` /
  ``DateTimeTZRange``: what range columns come back as, and range parameters.
"""

from __future__ import annotations

import functools as _functools
import json as _json
import logging as _logging
import os as _os
import re as _re
import time as _time
from collections import OrderedDict as _OrderedDict
from collections import namedtuple as _namedtuple
from typing import (
    Any,
    Callable,
    Dict,
    Iterable,
    Iterator,
    List,
    Optional,
    Sequence,
    Tuple,
    Union,
)

from . import extensions as _ext
from ._pgpool import Connection as _Connection
from ._pgpool import Cursor as _Cursor

__all__ = [
    "wait_select",
    "DictCursorBase",
    "DictCursor",
    "DictRow",
    "RealDictCursor",
    "RealDictRow",
    "NamedTupleCursor",
    "DictConnection",
    "RealDictConnection",
    "NamedTupleConnection",
    "LoggingConnection",
    "LoggingCursor",
    "MinTimeLoggingConnection",
    "MinTimeLoggingCursor",
    "Json",
    "JSON_OID",
    "JSONARRAY_OID",
    "JSONB_OID",
    "JSONBARRAY_OID",
    "execute_batch",
    "execute_values",
    "register_uuid",
    "register_json",
    "register_default_json",
    "register_default_jsonb",
    "Range",
    "NumericRange",
    "DateRange",
    "DateTimeRange",
    "DateTimeTZRange",
    "RangeAdapter",
    "RangeCaster",
    "register_range",
    "HstoreAdapter",
    "register_hstore",
    "CompositeCaster",
    "register_composite",
    "Inet",
    "register_inet",
    "register_ipaddress",
]


# ---------------------------------------------------------------------------
# Row types


class DictRow(list):  # type: ignore[type-arg]
    """A row that is a list of the values and also a mapping by column name:
    ``row[0]``, ``row["id"]``, ``row.keys()``, ``row.items()``, ``dict(row)`` all work
    (psycopg2's ``DictRow``)."""

    __slots__ = ("_index",)

    def __init__(
        self, values: Iterable[Any] = (), index: Optional[Dict[str, int]] = None
    ):
        super().__init__(values)
        self._index: Dict[str, int] = index if index is not None else {}

    def __getitem__(self, x: Any) -> Any:
        if not isinstance(x, (int, slice)):
            x = self._index[x]
        return super().__getitem__(x)

    def __setitem__(self, x: Any, v: Any) -> None:
        if not isinstance(x, (int, slice)):
            x = self._index[x]
        super().__setitem__(x, v)

    def items(self) -> Iterator[Tuple[str, Any]]:
        """(column name, value) pairs, in column order."""
        return (
            (k, super(DictRow, self).__getitem__(i)) for k, i in self._index.items()
        )

    def keys(self) -> Iterator[str]:
        """The column names, in order."""
        return iter(self._index)

    def values(self) -> Iterator[Any]:
        """The values, in column order."""
        return (super(DictRow, self).__getitem__(i) for i in self._index.values())

    def get(self, x: Any, default: Any = None) -> Any:
        """The value of column ``x`` (a name or a position), else ``default``."""
        try:
            return self[x]
        except (KeyError, IndexError):
            return default

    def copy(self) -> _OrderedDict[str, Any]:  # type: ignore[override]
        """The row as an ordered dict."""
        return _OrderedDict(self.items())

    def __contains__(self, x: object) -> bool:
        return x in self._index

    def __reduce__(self) -> Any:
        return (type(self), (list(self), self._index))

    def __repr__(self) -> str:
        return f"[{', '.join(map(repr, list.__iter__(self)))}]"


class RealDictRow(dict):  # type: ignore[type-arg]
    """A row as a dict of column name -> value, in column order (psycopg2's
    ``RealDictRow``). ``RealDictCursor`` returns plain ``dict`` rows, built in Rust;
    this class is for code that builds or names such rows itself."""


def _index_of(cur: Any) -> Dict[str, int]:
    """Column name -> position for the cursor's current result (cached per result)."""
    desc = cur.description
    attrs = getattr(cur, "__dict__", None)
    cached = None if attrs is None else attrs.get("_pgpool_index")
    if cached is not None and cached[0] is desc:
        return cached[1]  # type: ignore[no-any-return]
    index = {} if desc is None else {d[0]: i for i, d in enumerate(desc)}
    if attrs is not None:
        attrs["_pgpool_index"] = (desc, index)
    return index


def _dictrow_factory(cur: Any, values: Tuple[Any, ...]) -> DictRow:
    return DictRow(values, _index_of(cur))


class DictCursorBase(_Cursor):
    """The base of the dict-returning cursors, as in psycopg2."""

    @property
    def index(self) -> Dict[str, int]:
        """Column name -> position in the current result (psycopg2's ``index``)."""
        return dict(_index_of(self))


class DictConnection(_Connection):
    """A connection whose cursors are :class:`DictCursor` unless told otherwise."""

    def cursor(self, *args: Any, **kwargs: Any) -> Any:
        kwargs.setdefault("cursor_factory", self.cursor_factory or DictCursor)
        return super().cursor(*args, **kwargs)


class RealDictConnection(_Connection):
    """A connection whose cursors are :class:`RealDictCursor` unless told otherwise."""

    def cursor(self, *args: Any, **kwargs: Any) -> Any:
        kwargs.setdefault("cursor_factory", self.cursor_factory or RealDictCursor)
        return super().cursor(*args, **kwargs)


class NamedTupleConnection(_Connection):
    """A connection whose cursors are :class:`NamedTupleCursor` unless told otherwise."""

    def cursor(self, *args: Any, **kwargs: Any) -> Any:
        kwargs.setdefault("cursor_factory", self.cursor_factory or NamedTupleCursor)
        return super().cursor(*args, **kwargs)


class DictCursor(DictCursorBase):
    """A cursor whose rows are :class:`DictRow`: lists also indexable by name."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs["row_mode"] = "dictrow"
        kwargs["row_factory"] = _dictrow_factory
        super().__init__(*args, **kwargs)


class RealDictCursor(DictCursorBase):
    """A cursor whose rows are dicts of column name -> value."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs["row_mode"] = "dict"
        kwargs.pop("row_factory", None)
        super().__init__(*args, **kwargs)


def _nt_row(cur: Any, values: Tuple[Any, ...]) -> Any:
    desc = cur.description
    attrs = cur.__dict__
    cached = attrs.get("_pgpool_nt")
    if cached is None or cached[0] is not desc:
        cached = (desc, cur._make_nt())
        attrs["_pgpool_nt"] = cached
    return cached[1]._make(values)


class NamedTupleCursor(_Cursor):
    """A cursor whose rows are named tuples with the column names as fields (class
    ``Record``; one class per set of column names, cached by ``_cached_make_nt``)."""

    Record: Any = None
    MAX_CACHE = 1024

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs["row_mode"] = "dictrow"
        kwargs["row_factory"] = _nt_row
        super().__init__(*args, **kwargs)

    def _make_nt(self) -> Any:
        """The named tuple class of the current result's rows."""
        desc = self.description
        key = tuple(d[0] for d in desc) if desc else ()
        return self._cached_make_nt(key)  # type: ignore[attr-defined]

    @classmethod
    def _do_make_nt(cls, key: Tuple[str, ...]) -> Any:
        fields = []
        for name in key:
            f = "".join(c if c.isalnum() or c == "_" else "_" for c in name)
            if not f or f[0] == "_" or f[0].isdigit():
                f = "f" + f
            fields.append(f)
        return _namedtuple("Record", fields, module=__name__)


@_functools.lru_cache(512)
def _cached_make_nt(cls: Any, key: Tuple[str, ...]) -> Any:
    return cls._do_make_nt(key)


# A class attribute (as psycopg2's) so that its cache can be inspected or replaced.
NamedTupleCursor._cached_make_nt = classmethod(_cached_make_nt)  # type: ignore[attr-defined,arg-type]


# ---------------------------------------------------------------------------
# Logging


class LoggingConnection(_Connection):
    """A connection that logs every statement its cursors run (psycopg2's
    ``LoggingConnection``): call :meth:`initialize` with a ``logging.Logger`` (statements
    go to its ``debug()``) or a file-like object (``write()``) before making a cursor;
    override :meth:`filter` to change or drop messages."""

    def initialize(self, logobj: Any) -> None:
        """Log to ``logobj``: a ``logging.Logger`` / ``LoggerAdapter`` or a file."""
        self._logobj = logobj
        if isinstance(logobj, (_logging.Logger, _logging.LoggerAdapter)):
            self.log = self._logtologger
        else:
            self.log = self._logtofile

    def filter(self, msg: Any, curs: Any) -> Any:
        """The message to log for ``curs``'s statement ``msg`` (falsy: nothing)."""
        return msg

    def _logtofile(self, msg: Any, curs: Any) -> None:
        msg = self.filter(msg, curs)
        if msg:
            if isinstance(msg, bytes):
                msg = msg.decode(_ext.encodings.get(self.encoding, "utf-8"), "replace")
            self._logobj.write(msg + _os.linesep)

    def _logtologger(self, msg: Any, curs: Any) -> None:
        msg = self.filter(msg, curs)
        if msg:
            self._logobj.debug(msg)

    def _check(self) -> None:
        if not hasattr(self, "_logobj"):
            raise self.ProgrammingError(
                "LoggingConnection object has not been initialize()d"
            )

    def cursor(self, *args: Any, **kwargs: Any) -> Any:
        self._check()
        kwargs.setdefault("cursor_factory", self.cursor_factory or LoggingCursor)
        return super().cursor(*args, **kwargs)


class LoggingCursor(_Cursor):
    """A cursor that logs each statement (``query``, as sent) through its
    connection's ``log()``, also when it fails."""

    def execute(self, query: Any, vars: Any = None) -> None:
        try:
            return super().execute(query, vars)
        finally:
            conn: Any = self.connection
            conn.log(self.query, self)

    def callproc(self, procname: Any, vars: Any = None) -> Any:
        try:
            return super().callproc(procname, vars)
        finally:
            conn: Any = self.connection
            conn.log(self.query, self)


class MinTimeLoggingConnection(LoggingConnection):
    """A :class:`LoggingConnection` that logs only the statements that took more than
    ``mintime`` milliseconds, with the time they took."""

    def initialize(self, logobj: Any, mintime: float = 0) -> None:
        """Log to ``logobj`` the statements that took longer than ``mintime`` ms."""
        LoggingConnection.initialize(self, logobj)
        self._mintime = mintime

    def filter(self, msg: Any, curs: Any) -> Any:
        t = (_time.time() - curs.timestamp) * 1000
        if t > self._mintime:
            if isinstance(msg, bytes):
                msg = msg.decode(_ext.encodings.get(self.encoding, "utf-8"), "replace")
            return f"{msg}{_os.linesep}  (execution time: {t} ms)"
        return None

    def cursor(self, *args: Any, **kwargs: Any) -> Any:
        kwargs.setdefault("cursor_factory", self.cursor_factory or MinTimeLoggingCursor)
        return LoggingConnection.cursor(self, *args, **kwargs)


class MinTimeLoggingCursor(LoggingCursor):
    """The cursor of :class:`MinTimeLoggingConnection`: notes when each statement
    started (``timestamp``)."""

    def execute(self, query: Any, vars: Any = None) -> None:
        self.timestamp = _time.time()
        return LoggingCursor.execute(self, query, vars)

    def callproc(self, procname: Any, vars: Any = None) -> Any:
        self.timestamp = _time.time()
        return LoggingCursor.callproc(self, procname, vars)


# ---------------------------------------------------------------------------
# Json

#: The type OIDs of json, json[], jsonb and jsonb[] (psycopg2's ``_json`` constants).
JSON_OID = 114
JSONARRAY_OID = 199
JSONB_OID = 3802
JSONBARRAY_OID = 3807


class Json:
    """A parameter sent as JSON text: ``cur.execute("... %s", [Json({"a": 1})])``.

    ``dumps`` replaces ``json.dumps`` (e.g. ``functools.partial(json.dumps,
    default=str)``); a subclass may override :meth:`dumps` instead.
    """

    def __init__(
        self, adapted: Any, dumps: Optional[Callable[[Any], str]] = None
    ) -> None:
        self.adapted = adapted
        self._conn: Any = None
        self._dumps: Callable[[Any], str] = dumps or _json.dumps
        if not _json_registered:
            _register_json_adapter()

    def __conform__(self, proto: Any) -> Optional[Json]:
        return self

    def dumps(self, obj: Any) -> str:
        """Serialize ``obj`` to JSON text."""
        return self._dumps(obj)

    def prepare(self, conn: Any) -> None:
        """Accepted for psycopg2 compatibility: quoting needs no connection here."""
        self._conn = conn

    def getquoted(self) -> bytes:
        """The SQL literal: the JSON text quoted as a standard-conforming string."""
        text = self.dumps(self.adapted)
        if isinstance(text, bytes):
            text = text.decode("utf-8")
        if "\x00" in text:
            raise ValueError("A string literal cannot contain NUL (0x00) characters.")
        return ("'" + text.replace("'", "''") + "'").encode("utf-8")

    def __str__(self) -> str:
        return self.getquoted().decode("ascii", "replace")

    def __repr__(self) -> str:
        return f"Json({self.adapted!r})"


def _json_text(j: Json) -> Any:
    if type(j).getquoted is not Json.getquoted:
        # A subclass with its own getquoted() (Django's Jsonb adds ``::jsonb``): its
        # SQL, as psycopg2 takes it.
        from ._adapters import _Raw

        return _Raw(j.getquoted().decode("utf-8"))
    text = j.dumps(j.adapted)
    return text.decode("utf-8") if isinstance(text, bytes) else text


_json_registered = False


def _register_json_adapter() -> None:
    """As a parameter, a :class:`Json` (or subclass) is its JSON text, quoted for the
    connection (``getquoted()`` alone could not know it): registered with the Rust
    adapter registry when the first one is made."""
    global _json_registered
    from . import _pgpool
    from ._adapters import _UNWRAP

    _pgpool._register_adapter(Json, _json_text)
    _UNWRAP[Json] = _json_text
    _json_registered = True


# ---------------------------------------------------------------------------
# Batch helpers


def _paginate(seq: Iterable[Any], page_size: int) -> Iterator[List[Any]]:
    page: List[Any] = []
    for item in seq:
        page.append(item)
        if len(page) >= page_size:
            yield page
            page = []
    if page:
        yield page


def _as_bytes(sql: Union[str, bytes]) -> bytes:
    if isinstance(sql, bytes):
        return sql
    if isinstance(sql, str):
        return sql.encode("utf-8")
    as_string = getattr(sql, "as_string", None)
    if as_string is not None:  # a composed statement (psycopg2.sql-like objects)
        return _as_bytes(as_string(None))
    raise TypeError(f"the query must be str or bytes, not {type(sql).__name__}")


def _run(cur: Any, statement: bytes) -> None:
    # The statement is fully rendered: run it without parameters, so that no `%` in it
    # is interpreted again.
    cur.execute(statement.decode("utf-8"))


def execute_batch(
    cur: Any, sql: Union[str, bytes], argslist: Iterable[Any], page_size: int = 100
) -> None:
    """Run ``sql`` once per parameter set in ``argslist``, ``page_size`` statements per
    round trip (psycopg2's ``execute_batch``). ``cur.rowcount`` is the last statement's.
    """
    for page in _paginate(argslist, page_size):
        statements = [cur.mogrify(sql, args) for args in page]
        _run(cur, b";".join(statements))


_PLACEHOLDER = _re.compile(rb"%(.)", _re.DOTALL)


def _split_values_sql(sql: bytes) -> Tuple[bytes, bytes]:
    """Split ``sql`` around its one ``%s``, with ``%%`` turned into ``%``."""
    parts: List[List[bytes]] = [[], []]
    side = 0
    pos = 0
    for m in _PLACEHOLDER.finditer(sql):
        parts[side].append(sql[pos : m.start()])
        pos = m.end()
        conv = m.group(1)
        if conv == b"%":
            parts[side].append(b"%")
        elif conv == b"s":
            if side == 1:
                raise ValueError("the query contains more than one '%s' placeholder")
            side = 1
        else:
            char = conv.decode("ascii", "replace")
            raise ValueError(f"unsupported format character: '{char}'")
    parts[side].append(sql[pos:])
    if side == 0:
        raise ValueError("the query doesn't contain any '%s' placeholder")
    return b"".join(parts[0]), b"".join(parts[1])


def execute_values(
    cur: Any,
    sql: Union[str, bytes],
    argslist: Sequence[Any],
    template: Union[str, bytes, None] = None,
    page_size: int = 100,
    fetch: bool = False,
) -> Optional[List[Any]]:
    """Run ``sql``, whose one ``%s`` is replaced by ``VALUES`` rows built from
    ``argslist`` with ``template`` (default ``(%s, %s, ...)``), ``page_size`` rows per
    statement (psycopg2's ``execute_values``). With ``fetch=True``, the rows the
    statements return (e.g. ``RETURNING``) are collected and returned.
    """
    pre, post = _split_values_sql(_as_bytes(sql))
    tmpl = None if template is None else _as_bytes(template)
    result: Optional[List[Any]] = [] if fetch else None
    for page in _paginate(argslist, page_size):
        if tmpl is None:
            tmpl = b"(" + b",".join([b"%s"] * len(page[0])) + b")"
        values = b",".join(cur.mogrify(tmpl, args) for args in page)
        _run(cur, pre + values + post)
        if result is not None:
            result.extend(cur.fetchall())
    return result


# ---------------------------------------------------------------------------
# Typecasters


def register_uuid(oids: Any = None, conn_or_curs: Any = None) -> Any:
    """uuid columns (and uuid[]) as ``uuid.UUID`` objects instead of strings, globally or
    for one connection or cursor (psycopg2's ``register_uuid``). Returns the typecaster.
    (UUID parameters need no registration in pgpool.)"""
    import uuid as _uuid

    if oids is None:
        oid1, oid2 = 2950, 2951
    elif isinstance(oids, (list, tuple)):
        oid1, oid2 = oids
    else:
        oid1, oid2 = oids, 2951
    caster = _ext.new_type(
        (oid1,), "UUID", lambda v, c: _uuid.UUID(v) if v is not None else None
    )
    array = _ext.new_array_type((oid2,), "UUID[]", caster)
    _ext.register_type(caster, conn_or_curs)
    _ext.register_type(array, conn_or_curs)
    return caster


def register_json(
    conn_or_curs: Any = None,
    globally: bool = False,
    loads: Optional[Callable[[str], Any]] = None,
    oid: Optional[int] = None,
    array_oid: Optional[int] = None,
    name: str = "json",
) -> Tuple[Any, Any]:
    """json values (and arrays of them) decoded with ``loads`` (default ``json.loads``),
    for one connection or cursor, or ``globally`` (psycopg2's ``register_json``; the
    type OIDs are json's unless given). Returns the two typecasters."""
    if oid is None:
        known = {
            "json": (JSON_OID, JSONARRAY_OID),
            "jsonb": (JSONB_OID, JSONBARRAY_OID),
        }
        if name in known:
            oid, array_oid = known[name]
        else:
            from ._typeinfo import get_json_oids

            oid, array_oid = get_json_oids(conn_or_curs, name)
    do_loads = loads or _json.loads

    def cast(v: Optional[str], c: Any) -> Any:
        return None if v is None else do_loads(v)

    caster = _ext.new_type((oid,), name.upper(), cast)
    array = (
        _ext.new_array_type((array_oid,), f"{name.upper()}ARRAY", caster)
        if array_oid
        else None
    )
    scope = None if globally else conn_or_curs
    _ext.register_type(caster, scope)
    if array is not None:
        _ext.register_type(array, scope)
    return caster, array


def register_default_json(
    conn_or_curs: Any = None, globally: bool = False, loads: Any = None
) -> Tuple[Any, Any]:
    """``register_json`` for the json type (psycopg2's ``register_default_json``)."""
    return register_json(conn_or_curs, globally, loads, JSON_OID, JSONARRAY_OID, "json")


def register_default_jsonb(
    conn_or_curs: Any = None, globally: bool = False, loads: Any = None
) -> Tuple[Any, Any]:
    """``register_json`` for the jsonb type (psycopg2's ``register_default_jsonb``)."""
    return register_json(
        conn_or_curs, globally, loads, JSONB_OID, JSONBARRAY_OID, "jsonb"
    )


# ---------------------------------------------------------------------------
# Ranges


class Range:
    """A PostgreSQL range (psycopg2's ``Range``): ``lower``/``upper`` (None: unbounded),
    ``bounds`` one of ``'[)'``, ``'(]'``, ``'()'``, ``'[]'``, or ``empty=True``. The base
    class cannot be a parameter (its SQL type is unknown): use a subclass."""

    __slots__ = ("_lower", "_upper", "_bounds")

    def __init__(
        self,
        lower: Any = None,
        upper: Any = None,
        bounds: str = "[)",
        empty: bool = False,
    ) -> None:
        if not empty:
            if bounds not in ("[)", "(]", "()", "[]"):
                raise ValueError(f"bound flags not valid: {bounds!r}")
            self._lower = lower
            self._upper = upper
            self._bounds: Optional[str] = bounds
        else:
            self._lower = self._upper = self._bounds = None

    def __repr__(self) -> str:
        if self._bounds is None:
            return f"{type(self).__name__}(empty=True)"
        return (
            f"{type(self).__name__}({self._lower!r}, {self._upper!r}, {self._bounds!r})"
        )

    def __str__(self) -> str:
        if self._bounds is None:
            return "empty"
        return f"{self._bounds[0]}{self._lower}, {self._upper}{self._bounds[1]}"

    @property
    def lower(self) -> Any:
        """The lower bound, None when unbounded or empty."""
        return self._lower

    @property
    def upper(self) -> Any:
        """The upper bound, None when unbounded or empty."""
        return self._upper

    @property
    def isempty(self) -> bool:
        """True for the empty range."""
        return self._bounds is None

    @property
    def lower_inf(self) -> bool:
        """True when there is no lower bound."""
        return self._bounds is not None and self._lower is None

    @property
    def upper_inf(self) -> bool:
        """True when there is no upper bound."""
        return self._bounds is not None and self._upper is None

    @property
    def lower_inc(self) -> bool:
        """True when the lower bound is included."""
        return (
            self._bounds is not None
            and self._lower is not None
            and self._bounds[0] == "["
        )

    @property
    def upper_inc(self) -> bool:
        """True when the upper bound is included."""
        return (
            self._bounds is not None
            and self._upper is not None
            and self._bounds[1] == "]"
        )

    def __contains__(self, x: Any) -> bool:
        if self._bounds is None:
            return False
        if self._lower is not None:
            if self._bounds[0] == "[":
                if x < self._lower:
                    return False
            elif x <= self._lower:
                return False
        if self._upper is not None:
            if self._bounds[1] == "]":
                if x > self._upper:
                    return False
            elif x >= self._upper:
                return False
        return True

    def __bool__(self) -> bool:
        return self._bounds is not None

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Range):
            return False
        return (self._lower, self._upper, self._bounds) == (
            other._lower,
            other._upper,
            other._bounds,
        )

    def __ne__(self, other: object) -> bool:
        return not self.__eq__(other)

    def __hash__(self) -> int:
        return hash((self._lower, self._upper, self._bounds))

    def __lt__(self, other: Any) -> bool:
        # psycopg2's order: by lower, upper, bounds; None (unbounded, or the empty
        # range) first.
        if not isinstance(other, Range):
            return NotImplemented
        for attr in ("_lower", "_upper", "_bounds"):
            a, b = getattr(self, attr), getattr(other, attr)
            if a == b:
                continue
            if a is None:
                return True
            if b is None:
                return False
            return bool(a < b)
        return False

    def __le__(self, other: Any) -> bool:
        if self == other:
            return True
        return self.__lt__(other)

    def __gt__(self, other: Any) -> bool:
        if isinstance(other, Range):
            return other.__lt__(self)
        return NotImplemented

    def __ge__(self, other: Any) -> bool:
        if self == other:
            return True
        return self.__gt__(other)

    def __getstate__(self) -> Dict[str, Any]:
        return {
            slot: getattr(self, slot) for slot in Range.__slots__ if hasattr(self, slot)
        }

    def __setstate__(self, state: Dict[str, Any]) -> None:
        for slot, value in state.items():
            setattr(self, slot, value)


class NumericRange(Range):
    """int4range, int8range and numrange values. As a parameter: the range literal
    (``'[1,5)'``), whose type the server infers from the context, as psycopg2 sends it."""

    __slots__ = ()

    def getquoted(self) -> bytes:
        """The SQL for this range as a parameter."""
        if self._bounds is None:
            return b"'empty'"
        lower = (
            "" if self._lower is None else _ext.adapt(self._lower).getquoted().decode()
        )
        upper = (
            "" if self._upper is None else _ext.adapt(self._upper).getquoted().decode()
        )
        return f"'{self._bounds[0]}{lower},{upper}{self._bounds[1]}'".encode()


class _TypedRange(Range):
    """A range whose SQL type is known: ``name(lower, upper, 'bounds')``."""

    __slots__ = ()
    _pgtype = ""

    def getquoted(self) -> bytes:
        """The SQL for this range as a parameter."""
        if self._bounds is None:
            return f"'empty'::{self._pgtype}".encode()
        lower = b"NULL" if self._lower is None else _ext.adapt(self._lower).getquoted()
        upper = b"NULL" if self._upper is None else _ext.adapt(self._upper).getquoted()
        return (
            self._pgtype.encode()
            + b"("
            + lower
            + b", "
            + upper
            + b", '"
            + self._bounds.encode()
            + b"')"
        )


class DateRange(_TypedRange):
    """daterange values."""

    __slots__ = ()
    _pgtype = "daterange"


class DateTimeRange(_TypedRange):
    """tsrange values."""

    __slots__ = ()
    _pgtype = "tsrange"


class DateTimeTZRange(_TypedRange):
    """tstzrange values."""

    __slots__ = ()
    _pgtype = "tstzrange"


# ---------------------------------------------------------------------------
# The other type helpers, in their own modules (imported last: they use the classes
# above).

json = _json  # psycopg2.extras.json

from ._composite import CompositeCaster, register_composite  # noqa: E402
from ._hstore import HstoreAdapter, register_hstore  # noqa: E402
from ._netaddr import Inet, register_inet, register_ipaddress  # noqa: E402
from ._range import RangeAdapter, RangeCaster, register_range  # noqa: E402


def wait_select(conn: Any) -> None:
    """psycopg2's ``wait_select``: polls ``conn`` (an asynchronous connection, or the
    one a wait callback is given) until ``poll()`` says ``POLL_OK``, waiting on its
    ``fileno()`` with ``select()``. Usable as a wait callback
    (``extensions.set_wait_callback(wait_select)``): Ctrl-C then cancels the statement
    (the server's error ends it)."""
    import select

    while True:
        try:
            state = conn.poll()
            if state == _ext.POLL_OK:
                break
            elif state == _ext.POLL_READ:
                select.select([conn.fileno()], [], [])
            elif state == _ext.POLL_WRITE:
                select.select([], [conn.fileno()], [])
            else:
                from .errors import OperationalError

                raise OperationalError(f"bad state from poll: {state}")
        except KeyboardInterrupt:
            conn.cancel()
            # the loop is ended by the server's error
            continue
