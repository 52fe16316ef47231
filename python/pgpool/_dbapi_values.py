"""What the DB-API constructors ``Binary``, ``DateFromTicks``, ``TimeFromTicks`` and
``TimestampFromTicks`` return: the plain values (``bytes``, ``date``, ``time``,
``datetime`` subclasses) that also answer psycopg2's adapter API (``.adapted``,
``prepare(conn)``, ``getquoted()``, ``str()`` the SQL), as psycopg2's adapter objects
do. As parameters they render as the plain values."""

from __future__ import annotations

import datetime as _dt
from typing import Any, Optional

from . import _pgpool


class _AdapterAPI:
    """``.adapted``, ``prepare()``, ``getquoted()`` for a value subclass."""

    _conn: Any = None

    def _plain(self) -> Any:
        raise NotImplementedError

    @property
    def adapted(self) -> Any:
        """The plain value."""
        return self._plain()

    def prepare(self, conn: Any) -> None:
        """Quote for ``conn`` from now on."""
        self._conn = conn

    def getquoted(self) -> bytes:
        """The SQL text of the value, as ``execute`` renders it."""
        return _pgpool._quote(self._plain(), self._conn).encode("utf-8")


class DateValue(_AdapterAPI, _dt.date):
    """A ``date`` from ``DateFromTicks``."""

    def _plain(self) -> _dt.date:
        return _dt.date(self.year, self.month, self.day)


class TimeValue(_AdapterAPI, _dt.time):
    """A ``time`` from ``TimeFromTicks``."""

    @classmethod
    def of(cls, t: _dt.time) -> TimeValue:
        return cls(t.hour, t.minute, t.second, t.microsecond, t.tzinfo, fold=t.fold)

    def _plain(self) -> _dt.time:
        return _dt.time(
            self.hour, self.minute, self.second, self.microsecond, self.tzinfo
        )


class TimestampValue(_AdapterAPI, _dt.datetime):
    """A ``datetime`` from ``TimestampFromTicks``."""

    @classmethod
    def of(cls, d: _dt.datetime) -> TimestampValue:
        return cls(
            d.year,
            d.month,
            d.day,
            d.hour,
            d.minute,
            d.second,
            d.microsecond,
            d.tzinfo,
            fold=d.fold,
        )

    def _plain(self) -> _dt.datetime:
        return _dt.datetime(
            self.year,
            self.month,
            self.day,
            self.hour,
            self.minute,
            self.second,
            self.microsecond,
            self.tzinfo,
        )


class BinaryValue(bytes):
    """``Binary(data)``: ``bytes`` with psycopg2's adapter API. As a parameter it
    is the bytea literal for the connection (registered with the Rust adapter
    registry on first use: ``getquoted()`` alone could not know the connection)."""

    _conn: Any = None

    @property
    def adapted(self) -> bytes:
        """The plain bytes."""
        return bytes(self)

    def prepare(self, conn: Any) -> None:
        """Quote for ``conn`` from now on."""
        self._conn = conn

    def getquoted(self) -> bytes:
        """The SQL text of the value (``'\\\\x...'::bytea``)."""
        if not self:
            return b"''::bytea"
        return _pgpool._quote(bytes(self), self._conn).encode("utf-8")

    def __str__(self) -> str:
        return self.getquoted().decode("utf-8")


class NullBinary:
    """``Binary(None)``: SQL NULL."""

    adapted: Optional[bytes] = None

    def prepare(self, conn: Any) -> None:
        """Accepted for psycopg2 compatibility."""

    def getquoted(self) -> bytes:
        """``NULL``."""
        return b"NULL"

    def __str__(self) -> str:
        return "NULL"


_registered = False


def _plain_bytes(b: BinaryValue) -> bytes:
    return bytes(b)


def binary(data: Any) -> Any:
    """``Binary(data)``."""
    global _registered
    if data is None:
        return NullBinary()
    if not _registered:
        _pgpool._register_adapter(BinaryValue, _plain_bytes)
        _registered = True
    return BinaryValue(data)
