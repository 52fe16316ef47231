"""Composing SQL statements from parts with the right quoting: psycopg2's ``psycopg2.sql``
API (``SQL``, ``Identifier``, ``Literal``, ``Placeholder``, ``Composed``, ``NULL``,
``DEFAULT``).

    from pgpool import sql

    query = sql.SQL("SELECT {fields} FROM {table} WHERE id = %s").format(
        fields=sql.SQL(", ").join(map(sql.Identifier, ["id", "name"])),
        table=sql.Identifier("public", "orders"),
    )
    cur.execute(query, (order_id,))

Every object is a :class:`Composable`; a cursor's ``execute``/``mogrify``/``copy_expert``
take one where they take a string. ``as_string(context)`` gives the text; ``context`` (a
connection or cursor in psycopg2) is accepted and not needed: quoting in pgpool does not
depend on the connection.
"""

from __future__ import annotations

import string as _string
from typing import Any, Iterable, Iterator, List, Optional, Sequence, Union

from . import _pgpool
from .extensions import quote_ident

__all__ = [
    "Composable",
    "Composed",
    "SQL",
    "Identifier",
    "Literal",
    "Placeholder",
    "NULL",
    "DEFAULT",
]

_formatter = _string.Formatter()


class Composable:
    """The base of every piece of a composed statement."""

    def __init__(self, wrapped: Any) -> None:
        self._wrapped = wrapped

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self._wrapped!r})"

    def as_string(self, context: Any = None) -> str:
        """The SQL text of this piece."""
        raise NotImplementedError

    def __add__(self, other: Any) -> Composed:
        if isinstance(other, Composed):
            return Composed([self]) + other
        if isinstance(other, Composable):
            return Composed([self]) + Composed([other])
        return NotImplemented

    def __mul__(self, n: int) -> Composed:
        return Composed([self] * n)

    def __eq__(self, other: object) -> bool:
        return type(self) is type(other) and self._wrapped == other._wrapped  # type: ignore[attr-defined]

    def __ne__(self, other: object) -> bool:
        return not self.__eq__(other)

    __hash__ = None  # type: ignore[assignment]


class Composed(Composable):
    """A sequence of :class:`Composable` pieces, rendered one after the other."""

    _wrapped: List[Composable]

    def __init__(self, seq: Iterable[Composable]) -> None:
        wrapped = []
        for i in seq:
            if not isinstance(i, Composable):
                raise TypeError(
                    f"Composed elements must be Composable, got {i!r} instead"
                )
            wrapped.append(i)
        super().__init__(wrapped)

    @property
    def seq(self) -> List[Composable]:
        """The pieces."""
        return list(self._wrapped)

    def as_string(self, context: Any = None) -> str:
        # Without recursion (an explicit stack of iterators): a Composed nested however
        # deeply renders without exhausting Python's recursion limit or the thread's
        # stack. Subclasses that render themselves differently are asked, as usual.
        out: List[str] = []
        stack: List[Iterator[Composable]] = [iter(self._wrapped)]
        while stack:
            for item in stack[-1]:
                if (
                    isinstance(item, Composed)
                    and type(item).as_string is Composed.as_string
                ):
                    stack.append(iter(item._wrapped))
                    break
                out.append(item.as_string(context))
            else:
                stack.pop()
        return "".join(out)

    def __iter__(self) -> Iterator[Composable]:
        return iter(self._wrapped)

    def __add__(self, other: Any) -> Composed:
        if isinstance(other, Composed):
            return Composed(self._wrapped + other._wrapped)
        if isinstance(other, Composable):
            return Composed(self._wrapped + [other])
        return NotImplemented

    def join(self, joiner: Union[str, SQL]) -> Composed:
        """The pieces with ``joiner`` (a string or :class:`SQL`) between them."""
        if isinstance(joiner, str):
            joiner = SQL(joiner)
        elif not isinstance(joiner, SQL):
            raise TypeError(
                f"Composed.join() argument must be a string or an SQL, got {joiner!r} instead"
            )
        return joiner.join(self._wrapped)


class SQL(Composable):
    """A piece of SQL text, put in the statement as it is (never quoted): keywords,
    operators, the statement's skeleton. ``format()`` fills its ``{}`` fields."""

    _wrapped: str

    def __init__(self, string: str) -> None:
        if not isinstance(string, str):
            raise TypeError("SQL values must be strings")
        super().__init__(string)

    @property
    def string(self) -> str:
        """The text."""
        return self._wrapped

    def as_string(self, context: Any = None) -> str:
        return self._wrapped

    def format(self, *args: Any, **kwargs: Any) -> Composed:
        """A :class:`Composed` with the ``{}``, ``{0}`` or ``{name}`` fields replaced by
        the (Composable) arguments; ``{{`` and ``}}`` are literal braces. Format
        specifications and conversions are not allowed."""
        rv: List[Composable] = []
        autonum: Optional[int] = 0
        for pre, name, spec, conv in _formatter.parse(self._wrapped):
            if spec:
                raise ValueError("no format specification allowed by SQL")
            if conv:
                raise ValueError("no format conversion allowed by SQL")
            if pre:
                rv.append(SQL(pre))
            if name is None:
                continue
            if name.isdigit():
                if autonum:
                    raise ValueError(
                        "cannot switch from automatic field numbering to manual"
                    )
                rv.append(args[int(name)])
                autonum = None
            elif not name:
                if autonum is None:
                    raise ValueError(
                        "cannot switch from manual field numbering to automatic"
                    )
                rv.append(args[autonum])
                autonum += 1
            else:
                rv.append(kwargs[name])
        return Composed(rv)

    def join(self, seq: Iterable[Composable]) -> Composed:
        """The items of ``seq`` with this text between them."""
        rv: List[Composable] = []
        it = iter(seq)
        try:
            rv.append(next(it))
        except StopIteration:
            pass
        else:
            for i in it:
                rv.append(self)
                rv.append(i)
        return Composed(rv)


class Identifier(Composable):
    """A name (table, column, schema...), double-quoted; several strings make a
    qualified name: ``Identifier("public", "orders")`` -> ``"public"."orders"``."""

    _wrapped: Sequence[str]

    def __init__(self, *strings: str) -> None:
        if not strings:
            raise TypeError("Identifier cannot be empty")
        for s in strings:
            if not isinstance(s, str):
                raise TypeError("SQL identifier parts must be strings")
        super().__init__(strings)

    @property
    def strings(self) -> Sequence[str]:
        """The parts of the name."""
        return self._wrapped

    @property
    def string(self) -> str:
        """The name, when it has only one part."""
        if len(self._wrapped) == 1:
            return self._wrapped[0]
        raise AttributeError("the Identifier wraps more than one than one string")

    def __repr__(self) -> str:
        return f"{type(self).__name__}({', '.join(map(repr, self._wrapped))})"

    def as_string(self, context: Any = None) -> str:
        return ".".join(quote_ident(s, context) for s in self._wrapped)


class Literal(Composable):
    """A value, quoted as ``execute`` quotes a parameter: ``Literal("O'Neil")`` ->
    ``'O''Neil'``, ``Literal(None)`` -> ``NULL``."""

    @property
    def wrapped(self) -> Any:
        """The value."""
        return self._wrapped

    def as_string(self, context: Any = None) -> str:
        # quoted for the context's connection (its standard_conforming_strings)
        return _pgpool._quote(self._wrapped, context)


class Placeholder(Composable):
    """A parameter placeholder: ``%s``, or ``%(name)s`` with a name."""

    _wrapped: Optional[str]

    def __init__(self, name: Optional[str] = None) -> None:
        if isinstance(name, str):
            if ")" in name:
                raise ValueError(f"invalid name: {name!r}")
        elif name is not None:
            raise TypeError(f"expected string or None as name, got {name!r}")
        super().__init__(name)

    @property
    def name(self) -> Optional[str]:
        """The name, or None."""
        return self._wrapped

    def __repr__(self) -> str:
        if self._wrapped is None:
            return f"{type(self).__name__}()"
        return f"{type(self).__name__}({self._wrapped!r})"

    def as_string(self, context: Any = None) -> str:
        if self._wrapped is not None:
            return f"%({self._wrapped})s"
        return "%s"


NULL = SQL("NULL")
DEFAULT = SQL("DEFAULT")
