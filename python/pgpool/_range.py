"""Ranges of any range type (psycopg2's ``RangeAdapter``, ``RangeCaster`` and
``register_range``); the builtin range types need no registration (see
``pgpool.extras.Range`` and its subclasses)."""

from __future__ import annotations

from typing import Any, Optional, Tuple, Type, Union

from . import _pgpool
from . import extensions as _ext
from ._typeinfo import catalog_query, read_field
from .errors import InterfaceError, ProgrammingError
from .extras import Range

__all__ = ["RangeAdapter", "RangeCaster", "register_range"]


class RangeAdapter:
    """A :class:`~pgpool.extras.Range` as a parameter of the range type ``name``:
    ``name(lower, upper, 'bounds')``, or ``'empty'::name``."""

    name: Optional[str] = None

    def __init__(self, adapted: Range) -> None:
        self.adapted = adapted
        self._conn: Any = None

    def __conform__(self, proto: Any) -> RangeAdapter:
        return self

    def prepare(self, conn: Any) -> None:
        """Quote the bounds for ``conn`` from now on."""
        self._conn = conn

    def getquoted(self) -> bytes:
        """The SQL for the range."""
        if self.name is None:
            raise NotImplementedError(
                "RangeAdapter must be subclassed overriding its 'name' attribute"
            )
        r = self.adapted
        if r.isempty:
            return f"'empty'::{self.name}".encode()
        lower = "NULL" if r.lower is None else _pgpool._quote(r.lower, self._conn)
        upper = "NULL" if r.upper is None else _pgpool._quote(r.upper, self._conn)
        return f"{self.name}({lower}, {upper}, '{r._bounds}')".encode()


def _split_range(s: str) -> Optional[Tuple[Optional[str], Optional[str], str]]:
    """``(lower text, upper text, bounds)`` of a range's text; None for empty."""
    s = s.strip()
    if s.lower() == "empty":
        return None
    if len(s) < 3 or s[0] not in "[(" or s[-1] not in "])":
        raise InterfaceError(f"failed to parse range: '{s}'")
    end = len(s) - 1
    lower, pos = read_field(s, 1, end)
    if pos >= end:
        raise InterfaceError(f"failed to parse range: '{s}'")
    upper, pos = read_field(s, pos + 1, end)
    if pos != end:
        raise InterfaceError(f"failed to parse range: '{s}'")
    return lower, upper, s[0] + s[-1]


class RangeCaster:
    """How one range type is cast and adapted: ``range`` is its Python class (a
    :class:`~pgpool.extras.Range` subclass), ``adapter`` its :class:`RangeAdapter`,
    ``typecaster`` / ``array_typecaster`` the typecasters to register."""

    def __init__(
        self,
        pgrange: Union[str, Type[RangeAdapter]],
        pyrange: Union[str, Type[Range]],
        oid: int,
        subtype_oid: int,
        array_oid: Optional[int] = None,
    ) -> None:
        self.subtype_oid = subtype_oid
        if isinstance(pgrange, str):
            self.adapter: Type[RangeAdapter] = type(
                pgrange, (RangeAdapter,), {"name": pgrange}
            )
        elif isinstance(pgrange, type) and issubclass(pgrange, RangeAdapter):
            if pgrange is RangeAdapter:
                raise TypeError("pgrange must be a RangeAdapter subclass, not itself")
            self.adapter = pgrange
        else:
            raise TypeError("pgrange must be a string or a RangeAdapter subclass")
        if isinstance(pyrange, str):
            self.range: Type[Range] = type(pyrange, (Range,), {"__slots__": ()})
        elif isinstance(pyrange, type) and issubclass(pyrange, Range):
            if pyrange is Range:
                raise TypeError("pyrange must be a Range subclass, not Range itself")
            self.range = pyrange
        else:
            raise TypeError("pyrange must be a type or a Range subclass")
        name = self.adapter.name or self.adapter.__name__
        self.typecaster = _ext.new_type((oid,), name, self.parse)
        self.array_typecaster: Any = (
            _ext.new_array_type((array_oid,), f"{name}ARRAY", self.typecaster)
            if array_oid
            else None
        )

    def parse(self, s: Optional[str], cur: Any = None) -> Any:
        """The text of a range value as an instance of :attr:`range`."""
        if s is None:
            return None
        parts = _split_range(s)
        if parts is None:
            return self.range(empty=True)
        lower, upper, bounds = parts

        def cast(t: Optional[str]) -> Any:
            if t is None:
                return None
            if cur is not None and hasattr(cur, "cast"):
                return cur.cast(self.subtype_oid, t)
            return _pgpool._cast(self.subtype_oid, t)

        return self.range(cast(lower), cast(upper), bounds)

    def _register(self, scope: Any = None) -> None:
        _ext.register_type(self.typecaster, scope)
        if self.array_typecaster is not None:
            _ext.register_type(self.array_typecaster, scope)
        _ext.register_adapter(self.range, self.adapter)

    @classmethod
    def _from_db(cls, name: str, pyrange: Any, conn_or_curs: Any) -> RangeCaster:
        """The caster of range type ``name`` (``schema.name`` or on the search
        path); ``ProgrammingError`` when there is none."""
        _, rows = catalog_query(
            conn_or_curs,
            "SELECT t.oid, t.typarray, r.rngsubtype, n.nspname::text, "
            "t.typname::text "
            "FROM pg_catalog.pg_type t "
            "JOIN pg_catalog.pg_namespace n ON n.oid = t.typnamespace "
            "JOIN pg_catalog.pg_range r ON r.rngtypid = t.oid "
            "WHERE t.oid = pg_catalog.to_regtype(%s)",
            (name,),
        )
        if not rows:
            raise ProgrammingError(f"PostgreSQL range '{name}' not found")
        oid, array_oid, subtype, schema, tname = rows[0]
        sqlname = f"{_ext.quote_ident(schema)}.{_ext.quote_ident(tname)}"
        adapter = type(tname, (RangeAdapter,), {"name": sqlname})
        return cls(adapter, pyrange, int(oid), int(subtype), int(array_oid) or None)


def register_range(
    pgrange: str, pyrange: Any, conn_or_curs: Any, globally: bool = False
) -> RangeCaster:
    """Cast the values of range type ``pgrange`` (and arrays of it) to ``pyrange``
    (a :class:`~pgpool.extras.Range` subclass, or the name of one to create), and
    adapt instances of it back, on ``conn_or_curs`` or ``globally`` (psycopg2's
    ``register_range``). Returns the :class:`RangeCaster`."""
    caster = RangeCaster._from_db(pgrange, pyrange, conn_or_curs)
    caster._register(None if globally else conn_or_curs)
    return caster
