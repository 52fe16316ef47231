"""The ``psycopg2.extensions`` names applications use, for ``pgpool``.

``from pgpool import extensions`` in place of ``from psycopg2 import extensions``: the
isolation level and transaction status constants, the ``connection`` and ``cursor``
classes (to subclass), the extra exceptions, ``Diagnostics``, ``quote_ident`` and the
``AsIs`` / ``QuotedString`` adapters.
"""

from __future__ import annotations

from typing import Any

from ._pgpool import Connection as connection
from ._pgpool import Cursor as cursor
from .errors import Diagnostics, QueryCanceledError, TransactionRollbackError

__all__ = [
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
    "connection",
    "cursor",
    "QueryCanceledError",
    "TransactionRollbackError",
    "Diagnostics",
    "AsIs",
    "QuotedString",
    "quote_ident",
    "adapt",
]

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
STATUS_IN_TRANSACTION = STATUS_BEGIN
STATUS_PREPARED = 5


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
    """An adapter rendering a string as a quoted SQL literal."""

    def __init__(self, adapted: Any) -> None:
        self.adapted = adapted
        self.encoding = "UTF8"

    def prepare(self, conn: Any) -> None:
        """Accepted for psycopg2 compatibility; quoting does not depend on it."""

    def getquoted(self) -> bytes:
        """The SQL text for the parameter."""
        value = self.adapted
        if isinstance(value, bytes):
            value = value.decode("utf-8")
        return _quote_literal(str(value))

    def __str__(self) -> str:
        return self.getquoted().decode("utf-8")

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.adapted!r})"


def quote_ident(ident: str, scope: Any = None) -> str:
    """``ident`` quoted as an SQL identifier: ``my "table`` -> ``"my ""table"``.

    ``scope`` (a connection or cursor in psycopg2) is accepted and not needed.
    """
    if not isinstance(ident, str):
        raise TypeError("argument 1 must be a string")
    if "\x00" in ident:
        raise ValueError("An identifier cannot contain NUL (0x00) characters.")
    return '"' + ident.replace('"', '""') + '"'


class _Adapted:
    """What :func:`adapt` returns: ``getquoted()`` is the SQL literal of the value."""

    def __init__(self, adapted: Any) -> None:
        self.adapted = adapted

    def prepare(self, conn: Any) -> None:
        """Accepted for psycopg2 compatibility; quoting does not depend on it."""

    def getquoted(self) -> bytes:
        """The SQL text for the value, as ``execute`` renders a parameter."""
        from . import _pgpool

        return _pgpool._quote(self.adapted).encode("utf-8")

    def __str__(self) -> str:
        return self.getquoted().decode("utf-8")

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.adapted!r})"


def adapt(obj: Any) -> Any:
    """psycopg2's ``adapt()``: an object whose ``getquoted()`` is ``obj`` as the SQL
    literal ``execute`` would send (objects with ``__conform__`` or ``getquoted`` are
    handled as ``execute`` handles them)."""
    return _Adapted(obj)
