"""psycopg2's adaptation and typecasting registries as Python mappings.

``extensions.adapters`` (``(type, ISQLQuote) -> adapter``) and ``extensions.string_types``
(``oid -> typecaster``) are dicts, as in psycopg2, that code may read, copy, clear and
update (psycopg2's test helpers save and restore them). The registries that
``execute()`` and the fetch methods consult live in Rust (``_pgpool._register_adapter``,
``_pgpool._register_caster``) and cannot forget an entry, so a type or an OID is
registered there once, as a small dispatcher that looks the current entry of the
Python mapping up on each use: an entry removed from the mapping (or set back to one of
the predefined ones) then behaves as if it had never been registered.

Only what users register reaches Rust: the predefined entries (``adapters[int,
ISQLQuote]``, ``string_types[23]``, ...) describe what the builtin adaptation and
decoding do and cost nothing.
"""

from __future__ import annotations

import datetime as _dt
import decimal as _decimal
import uuid as _uuid
from typing import Any, Callable, Dict, Iterable, Optional, Set, Tuple

from . import _pgpool
from .errors import ProgrammingError

__all__ = ["ISQLQuote", "adapters", "string_types", "binary_types", "adapt"]


class ISQLQuote:
    """psycopg2's quoting protocol object: the ``proto`` of ``adapt(obj, proto)`` and
    of the ``adapters`` keys. An adapter wraps an object (``_wrapped``) and gives its
    SQL text from ``getquoted()``."""

    def __init__(self, wrapped: Any) -> None:
        self._wrapped = wrapped

    def getquoted(self) -> bytes:
        """The SQL text of the wrapped object (subclasses implement it)."""
        raise NotImplementedError

    def getbinary(self) -> bytes:
        """The binary form of the wrapped object (not supported)."""
        raise NotImplementedError

    def getbuffer(self) -> bytes:
        """The buffer form of the wrapped object (not supported)."""
        raise NotImplementedError


class _Raw:
    """An already rendered SQL fragment (what a dispatcher hands back to Rust)."""

    __slots__ = ("_sql",)

    def __init__(self, sql: str) -> None:
        self._sql = sql

    def getquoted(self) -> bytes:
        return self._sql.encode("utf-8")


#: Adapters that stand for pgpool's builtin adaptation (the predefined ``adapters``
#: entries): registering one of them does not reach Rust.
_BUILTIN_ADAPTERS: Set[Any] = set()


def _is_builtin_adapter(a: Any) -> bool:
    try:
        return a in _BUILTIN_ADAPTERS
    except TypeError:  # unhashable
        return False


def _lookup(t: type, proto: Any = ISQLQuote) -> Any:
    """The adapter of type ``t`` in :data:`adapters`: its own, else its nearest base
    class's (psycopg2 walks the MRO); None when there is none."""
    a = adapters.get((t, proto))
    if a is not None:
        return a
    for base in getattr(t, "__mro__", (t,))[1:]:
        a = adapters.get((base, proto))
        if a is not None:
            return a
    return None


#: Types a dispatcher is registered for in Rust.
_PUSHED: Set[type] = set()

# (class, how to make a plain instance of it) for the types pgpool adapts natively.
_NATIVE: Tuple[Tuple[type, Callable[[Any], Any]], ...] = (
    (bool, bool),
    (int, int),
    (float, float),
    (str, str.__str__),
    (bytes, bytes),
    (bytearray, bytes),
    (memoryview, bytes),
    (tuple, tuple),
    (list, list),
)


def _quote_float(f: float) -> str:
    if f != f:
        return "'NaN'::float"
    if f in (float("inf"), float("-inf")):
        return "'Infinity'::float" if f > 0 else "'-Infinity'::float"
    text = repr(f)
    return " " + text if f < 0 else text


def _render(v: Any) -> str:
    """The SQL of ``v`` as pgpool renders it natively, without the Rust registry (for a
    type a dispatcher stands in for)."""
    if v is None:
        return "NULL"
    if type(v) not in _PUSHED:
        return _pgpool._quote(v)
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int):
        s = str(int(v))
        return " " + s if v < 0 else s
    if isinstance(v, float):
        return _quote_float(v)
    if isinstance(v, str):
        from .extensions import _quote_literal

        return _quote_literal(v).decode("utf-8")
    if isinstance(v, (bytes, bytearray, memoryview)):
        return "'\\x" + bytes(v).hex() + "'::bytea"
    if isinstance(v, tuple):
        return "(" + ", ".join(_render_item(x) for x in v) + ")"
    if isinstance(v, list):
        if not v:
            return "'{}'"
        return "ARRAY[" + ",".join(_render_item(x) for x in v) + "]"
    if isinstance(v, _decimal.Decimal):
        if v.is_nan():
            return "'NaN'::numeric"
        s = str(v)
        return " " + s if v < 0 else s
    if isinstance(v, _dt.datetime):
        cast = "timestamp" if v.tzinfo is None else "timestamptz"
        return f"'{v.isoformat()}'::{cast}"
    if isinstance(v, _dt.date):
        return f"'{v.isoformat()}'::date"
    if isinstance(v, _dt.time):
        cast = "time" if v.tzinfo is None else "timetz"
        return f"'{v.isoformat()}'::{cast}"
    if isinstance(v, _dt.timedelta):
        return f"'{v.days} days {v.seconds}.{v.microseconds:06d} seconds'::interval"
    if isinstance(v, _uuid.UUID):
        return f"'{v}'::uuid"
    return _pgpool._quote(v)


def _render_item(x: Any) -> str:
    return _pgpool._quote(x)


def _native(obj: Any) -> Any:
    """What pgpool's builtin adaptation makes of ``obj``, for a dispatcher whose type
    has no adapter (any more): an object Rust renders."""
    gq = getattr(obj, "getquoted", None)
    for cls, plain in _NATIVE:
        if isinstance(obj, cls):
            v = plain(obj)
            if type(v) is not type(obj) and type(v) not in _PUSHED:
                return v
            return _Raw(_render(v))
    for cls in (_decimal.Decimal, _dt.datetime, _dt.date, _dt.time, _dt.timedelta):
        if isinstance(obj, cls):
            return _Raw(_render(obj))
    if isinstance(obj, _uuid.UUID):
        return _Raw(_render(obj))
    if gq is not None and not isinstance(obj, dict):
        return _Raw(_as_text(gq()))
    raise ProgrammingError(f"can't adapt type '{type(obj).__name__}'")


def _as_text(q: Any) -> str:
    if isinstance(q, bytes):
        return q.decode("utf-8")
    return str(q)


class _AdapterDispatch:
    """What Rust holds for a type registered in :data:`adapters`: the mapping's current
    adapter of the value's type (or of its nearest base), else the builtin adaptation."""

    __slots__ = ()

    def __call__(self, obj: Any) -> Any:
        a = _lookup(type(obj))
        if a is None or _is_builtin_adapter(a):
            return _native(obj)
        r = a(obj)
        if _UNWRAP:
            for base in type(r).__mro__:
                u = _UNWRAP.get(base)
                if u is not None:
                    return u(r)
        return r


#: Adapter classes whose objects Rust should render as a plain value (so that it is
#: quoted for the connection): class -> object -> plain value (``Json`` -> its text).
_UNWRAP: Dict[type, Callable[[Any], Any]] = {}


_DISPATCH = _AdapterDispatch()


def _push_adapter(key: Any, value: Any) -> None:
    if not (isinstance(key, tuple) and len(key) == 2 and isinstance(key[0], type)):
        raise TypeError("adapters keys must be (type, protocol) pairs")
    t = key[0]
    if key[1] is not ISQLQuote or t in _PUSHED or t is type(None):
        return
    if _is_builtin_adapter(value):
        return
    _pgpool._register_adapter(t, _DISPATCH)
    _PUSHED.add(t)


class _AdaptersMap(Dict[Any, Any]):
    """``extensions.adapters``: ``(type, ISQLQuote) -> adapter``. Setting an entry
    registers it for ``execute()`` too; removing one undoes that."""

    def __setitem__(self, key: Any, value: Any) -> None:
        _push_adapter(key, value)
        super().__setitem__(key, value)

    def update(self, *args: Any, **kwargs: Any) -> None:
        for k, v in dict(*args, **kwargs).items():
            self[k] = v

    def setdefault(self, key: Any, default: Any = None) -> Any:
        if key not in self:
            self[key] = default
        return self[key]

    def copy(self) -> Dict[Any, Any]:
        return dict(self)


adapters: Dict[Any, Any] = _AdaptersMap()


class _BuiltinAdapter:
    """The predefined adapters: ``adapt()``'s result for the types pgpool adapts
    natively; ``getquoted()`` is the SQL ``execute`` sends (``.adapted`` the value)."""

    def __init__(self, adapted: Any) -> None:
        self.adapted = adapted
        self._conn: Any = None

    def __conform__(self, proto: Any) -> Any:
        return self

    def prepare(self, conn: Any) -> None:
        """Quote for ``conn`` from now on (its ``standard_conforming_strings``)."""
        self._conn = conn

    def getquoted(self) -> bytes:
        """The SQL text for the value, as ``execute`` renders a parameter."""
        return _pgpool._quote(self.adapted, self._conn).encode("utf-8")

    def __str__(self) -> str:
        return self.getquoted().decode("utf-8")

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.adapted!r})"


_BUILTIN_ADAPTERS.add(_BuiltinAdapter)

for _t in (
    type(None),
    bool,
    int,
    float,
    str,
    bytes,
    bytearray,
    memoryview,
    list,
    tuple,
    _decimal.Decimal,
    _dt.date,
    _dt.datetime,
    _dt.time,
    _dt.timedelta,
    _uuid.UUID,
):
    dict.__setitem__(adapters, (_t, ISQLQuote), _BuiltinAdapter)
del _t


def _quotable(adapted: Any, obj: Any) -> Any:
    """An adapter's result, or (when it is a value to adapt again, without
    ``getquoted()``) an object rendering ``obj`` as ``execute`` does."""
    if hasattr(adapted, "getquoted"):
        return adapted
    return _BuiltinAdapter(obj)


def adapt(obj: Any, proto: Any = ISQLQuote, alt: Any = None) -> Any:
    """psycopg2's ``adapt()``: the adapter of ``obj`` (its type's in :data:`adapters`,
    ``proto.__adapt__``, ``obj.__conform__``, a base class's), whose ``getquoted()`` is
    the SQL literal ``execute`` would send; ``alt``, else ``ProgrammingError`` ("can't
    adapt type ...") when there is none."""
    t = type(obj)
    a = adapters.get((t, proto))
    if a is not None:
        return _quotable(a(obj), obj)
    meth = getattr(proto, "__adapt__", None)
    if meth is not None:
        try:
            r = meth(obj)
        except TypeError:
            r = None
        if r is not None:
            return r
    conform = getattr(obj, "__conform__", None)
    if conform is not None:
        try:
            r = conform(proto)
        except TypeError:
            r = None
        if r is not None:
            return r
    a = _lookup(t, proto)
    if a is not None:
        return _quotable(a(obj), obj)
    if hasattr(obj, "getquoted"):
        return obj
    if alt is not None:
        return alt
    raise ProgrammingError(f"can't adapt type '{t.__name__}'")


# ---------------------------------------------------------------------------
# Typecasters


def _is_builtin_caster(c: Any) -> bool:
    return getattr(c, "_pgpool_builtin", False) is True


class _CasterDispatch:
    """What Rust holds for an OID registered globally: the current ``string_types``
    entry, else the builtin decoding."""

    __slots__ = ("oid",)

    def __init__(self, oid: int) -> None:
        self.oid = oid

    def __call__(self, value: Optional[str], cursor: Any = None) -> Any:
        c = string_types.get(self.oid)
        if c is None or _is_builtin_caster(c):
            return _pgpool._cast(self.oid, value)
        return c(value, cursor)


_PUSHED_OIDS: Set[int] = set()


class _StringTypesMap(Dict[int, Any]):
    """``extensions.string_types``: ``oid -> typecaster``, the global registrations
    (``register_type(caster)``). Removing an entry undoes its registration."""

    def __setitem__(self, key: int, value: Any) -> None:
        oid = int(key)
        if oid not in _PUSHED_OIDS and not _is_builtin_caster(value):
            _pgpool._register_caster([oid], _CasterDispatch(oid), None)
            _PUSHED_OIDS.add(oid)
        super().__setitem__(oid, value)

    def update(self, *args: Any, **kwargs: Any) -> None:
        for k, v in dict(*args, **kwargs).items():
            self[k] = v

    def setdefault(self, key: int, default: Any = None) -> Any:
        if key not in self:
            self[key] = default
        return self[key]

    def copy(self) -> Dict[int, Any]:
        return dict(self)


string_types: Dict[int, Any] = _StringTypesMap()

#: psycopg2's ``binary_types`` (binary typecasters): unused by pgpool, kept for code
#: that reads it.
binary_types: Dict[int, Any] = {}


def _predefine(casters: Iterable[Any]) -> None:
    """Fill :data:`string_types` with the predefined typecasters (not registered in
    Rust: the builtin decoding is theirs)."""
    for c in casters:
        for oid in c.values:
            if oid not in string_types:
                dict.__setitem__(string_types, oid, c)
