"""hstore support (psycopg2's ``HstoreAdapter`` and ``register_hstore``): hstore
values come back as dicts of str -> str or None, and dicts are hstore parameters once
``register_hstore()`` ran."""

from __future__ import annotations

from typing import Any, Dict, List, Optional, Sequence, Tuple, Union

from . import _pgpool
from . import extensions as _ext
from ._typeinfo import catalog_query
from .errors import InterfaceError, ProgrammingError

__all__ = ["HstoreAdapter", "register_hstore"]


def _sql_of(obj: Any, conn: Any) -> bytes:
    """``obj`` as an SQL literal, quoted for ``conn`` (when known)."""
    if obj is None:
        return b"NULL"
    if not isinstance(obj, str):
        obj = str(obj)
    return _pgpool._quote(obj, conn).encode("utf-8")


class HstoreAdapter:
    """A dict as an hstore parameter: ``hstore(ARRAY[keys], ARRAY[values])``
    (``''::hstore`` when empty; None values are SQL NULLs)."""

    def __init__(self, wrapped: Dict[Any, Any]) -> None:
        self.wrapped = wrapped
        self.conn: Any = None

    def __conform__(self, proto: Any) -> HstoreAdapter:
        return self

    def prepare(self, conn: Any) -> None:
        """Quote for ``conn`` from now on."""
        self.conn = conn

    def getquoted(self) -> bytes:
        """The SQL for the dict."""
        if not self.wrapped:
            return b"''::hstore"
        keys = b",".join(_sql_of(k, self.conn) for k in self.wrapped)
        values = b",".join(_sql_of(v, self.conn) for v in self.wrapped.values())
        return b"hstore(ARRAY[" + keys + b"], ARRAY[" + values + b"])"

    def __str__(self) -> str:
        return self.getquoted().decode("utf-8")

    @classmethod
    def parse(cls, s: Optional[str], cur: Any = None) -> Optional[Dict[str, Any]]:
        """The text of an hstore value (``"a"=>"1", "b"=>NULL``) as a dict;
        ``InterfaceError`` when it is malformed."""
        if s is None:
            return None
        if isinstance(s, bytes):
            s = s.decode("utf-8")
        return _parse_hstore(s)

    parse_unicode = parse

    @classmethod
    def get_oids(cls, conn_or_curs: Any) -> Tuple[Tuple[int, ...], Tuple[int, ...]]:
        """The OIDs of the hstore types in the database, and of their arrays (one
        per schema it is installed in; empty when it is not installed)."""
        _, rows = catalog_query(
            conn_or_curs,
            "SELECT t.oid, t.typarray FROM pg_catalog.pg_type t "
            "WHERE t.typname = 'hstore' ORDER BY t.oid",
        )
        return tuple(r[0] for r in rows), tuple(r[1] for r in rows)


def _bad(s: str, pos: int) -> InterfaceError:
    return InterfaceError(f"error parsing hstore pair at char {pos}: {s!r}")


def _read_quoted(s: str, pos: int) -> Tuple[str, int]:
    """The string quoted at ``s[pos]`` (a ``"``), backslash escapes undone, and the
    position after its closing quote."""
    out: List[str] = []
    i = pos + 1
    n = len(s)
    while i < n:
        ch = s[i]
        if ch == "\\":
            if i + 1 >= n:
                break
            out.append(s[i + 1])
            i += 2
        elif ch == '"':
            return "".join(out), i + 1
        else:
            out.append(ch)
            i += 1
    raise _bad(s, pos)


def _skip_ws(s: str, pos: int) -> int:
    n = len(s)
    while pos < n and s[pos].isspace():
        pos += 1
    return pos


def _parse_hstore(s: str) -> Dict[str, Any]:
    rv: Dict[str, Any] = {}
    n = len(s)
    pos = _skip_ws(s, 0)
    while pos < n:
        if s[pos] != '"':
            raise _bad(s, pos)
        key, pos = _read_quoted(s, pos)
        pos = _skip_ws(s, pos)
        if not s.startswith("=>", pos):
            raise _bad(s, pos)
        pos = _skip_ws(s, pos + 2)
        value: Optional[str]
        if s.startswith("NULL", pos):
            value = None
            pos += 4
        elif pos < n and s[pos] == '"':
            value, pos = _read_quoted(s, pos)
        else:
            raise _bad(s, pos)
        rv[key] = value
        pos = _skip_ws(s, pos)
        if pos >= n:
            break
        if s[pos] != ",":
            raise _bad(s, pos)
        pos = _skip_ws(s, pos + 1)
    return rv


_OidArg = Union[None, int, Sequence[int]]


def register_hstore(
    conn_or_curs: Any,
    globally: bool = False,
    unicode: bool = False,
    oid: _OidArg = None,
    array_oid: _OidArg = None,
) -> None:
    """hstore values (and arrays of them) as dicts, on ``conn_or_curs`` or
    ``globally``; dicts become hstore parameters (psycopg2's ``register_hstore``). The
    type OIDs are looked up unless given (``ProgrammingError`` when hstore is not
    installed)."""
    if oid is None:
        oids, array_oids = HstoreAdapter.get_oids(conn_or_curs)
        if not oids or not oids[0]:
            raise ProgrammingError(
                "hstore type not found in the database. "
                "please install it from your 'contrib/hstore.sql' file"
            )
        oid, array_oid = oids, array_oids
    if isinstance(oid, int):
        oid = (oid,)
    if array_oid is not None:
        if isinstance(array_oid, int):
            array_oid = (array_oid,)
        else:
            array_oid = tuple(x for x in array_oid if x)
    scope = None if globally else conn_or_curs
    hstore = _ext.new_type(tuple(oid), "HSTORE", HstoreAdapter.parse)
    _ext.register_type(hstore, scope)
    _ext.register_adapter(dict, HstoreAdapter)
    if array_oid:
        array = _ext.new_array_type(tuple(array_oid), "HSTOREARRAY", hstore)
        _ext.register_type(array, scope)
