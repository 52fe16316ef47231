"""Composite types (psycopg2's ``CompositeCaster`` and ``register_composite``): values
of a composite type (``CREATE TYPE ... AS (...)``, or a table's row type) come back as
named tuples, or as what a ``CompositeCaster`` subclass's ``make()`` builds."""

from __future__ import annotations

from collections import namedtuple as _namedtuple
from typing import Any, List, Optional, Sequence, Tuple

from . import _pgpool
from . import extensions as _ext
from ._typeinfo import catalog_query, read_field
from .errors import DataError, ProgrammingError

__all__ = ["CompositeCaster", "register_composite"]


def _identifier(name: str) -> str:
    """``name`` with the characters a Python identifier cannot hold replaced."""
    out = "".join(c if c.isalnum() or c == "_" else "_" for c in name)
    return out if out and not out[0].isdigit() else "_" + out


class CompositeCaster:
    """How the values of one composite type are cast: ``name``, ``schema``,
    ``oid``, ``array_oid``, the attributes' names (``attnames``) and type OIDs
    (``atttypes``); ``type`` is the named tuple class ``make()`` builds, and
    ``typecaster`` / ``array_typecaster`` the typecasters to register."""

    def __init__(
        self,
        name: str,
        oid: int,
        attrs: Sequence[Tuple[str, int]],
        array_oid: Optional[int] = None,
        schema: Optional[str] = None,
    ) -> None:
        self.name = name
        self.schema = schema
        self.oid = oid
        self.array_oid = array_oid
        self.attnames = [a[0] for a in attrs]
        self.atttypes = [a[1] for a in attrs]
        self._create_type(name, self.attnames)
        self.typecaster = _ext.new_type((oid,), name.upper(), self.parse)
        self.array_typecaster: Any = (
            _ext.new_array_type((array_oid,), f"{name.upper()}ARRAY", self.typecaster)
            if array_oid
            else None
        )

    def parse(self, s: Optional[str], curs: Any) -> Any:
        """The text of a value (``(1,"a b",)``) as what :meth:`make` builds; each
        attribute cast as ``curs`` would cast a value of its type."""
        if s is None:
            return None
        tokens = self.tokenize(s)
        if len(tokens) != len(self.atttypes):
            raise DataError(
                f"expecting {len(self.atttypes)} components for the type "
                f"{self.name}, {len(tokens)} found instead"
            )
        if curs is not None and hasattr(curs, "cast"):
            values = [curs.cast(oid, t) for oid, t in zip(self.atttypes, tokens)]
        else:
            values = [_pgpool._cast(oid, t) for oid, t in zip(self.atttypes, tokens)]
        return self.make(values)

    def make(self, values: List[Any]) -> Any:
        """The Python object for one value, from its attributes' values (a subclass
        may return something else than the named tuple)."""
        return self._ctor(values)

    @classmethod
    def tokenize(cls, s: str) -> List[Optional[str]]:
        """The attribute texts of a composite value's text (None for NULL)."""
        if len(s) < 2 or s[0] != "(" or s[-1] != ")":
            raise DataError(f"bad composite value: {s!r}")
        out: List[Optional[str]] = []
        i, end = 1, len(s) - 1
        while True:
            field, i = read_field(s, i, end)
            out.append(field)
            if i >= end:
                return out
            i += 1

    def _create_type(self, name: str, attnames: List[str]) -> None:
        nt: Any = _namedtuple(_identifier(name), attnames)  # type: ignore[misc]
        self.type = nt
        self._ctor = nt._make

    @classmethod
    def _from_db(cls, name: str, conn_or_curs: Any) -> CompositeCaster:
        """The caster of the composite type ``name`` (``schema.name`` or found on
        the search path); ``ProgrammingError`` when there is none."""
        _, rows = catalog_query(
            conn_or_curs,
            "SELECT t.oid, t.typarray, n.nspname::text, t.typname::text, "
            "array_agg(a.attname::text ORDER BY a.attnum), "
            "array_agg(a.atttypid::int8 ORDER BY a.attnum) "
            "FROM pg_catalog.pg_type t "
            "JOIN pg_catalog.pg_namespace n ON n.oid = t.typnamespace "
            "JOIN pg_catalog.pg_attribute a ON a.attrelid = t.typrelid "
            "WHERE t.oid = pg_catalog.to_regtype(%s) AND t.typtype = 'c' "
            "AND a.attnum > 0 AND NOT a.attisdropped "
            "GROUP BY t.oid, t.typarray, n.nspname, t.typname",
            (name,),
        )
        if not rows:
            raise ProgrammingError(f"PostgreSQL type '{name}' not found")
        oid, array_oid, schema, tname, names, types = rows[0]
        return cls(
            tname,
            int(oid),
            list(zip(names, [int(t) for t in types])),
            int(array_oid) or None,
            schema,
        )


def register_composite(
    name: str, conn_or_curs: Any, globally: bool = False, factory: Any = None
) -> CompositeCaster:
    """Cast the values of composite type ``name`` (and arrays of it) to named tuples
    (or with ``factory``, a :class:`CompositeCaster` subclass), on ``conn_or_curs`` or
    ``globally`` (psycopg2's ``register_composite``). Returns the caster."""
    if factory is None:
        factory = CompositeCaster
    caster: CompositeCaster = factory._from_db(name, conn_or_curs)
    scope = None if globally else conn_or_curs
    _ext.register_type(caster.typecaster, scope)
    if caster.array_typecaster is not None:
        _ext.register_type(caster.array_typecaster, scope)
    return caster
