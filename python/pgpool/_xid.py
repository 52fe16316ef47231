"""psycopg2's ``Xid``: a two-phase commit transaction id (DB-API's ``xid``).

An XA xid ``(format_id, gtrid, bqual)`` is sent to PostgreSQL as
``"<format_id>_<base64 gtrid>_<base64 bqual>"``; any other transaction id (one that
does not parse so) is "unparsed": ``format_id`` and ``bqual`` are ``None`` and
``gtrid`` is the whole string.
"""

from __future__ import annotations

import base64
import binascii
import re
from typing import Any, Iterator, Optional

_XA = re.compile(r"^(\d+)_([^_]*)_([^_]*)$")


def _check_part(name: str, value: Any) -> str:
    if not isinstance(value, str):
        raise TypeError(f"{name} must be a string")
    if len(value.encode("utf-8")) > 64:
        raise ValueError(f"{name} must be a string no longer than 64 characters")
    if any(not (0x20 <= ord(ch) < 0x7F) for ch in value):
        raise ValueError(f"{name} must contain only printable characters.")
    return value


class Xid:
    """A transaction id for ``tpc_begin``/``tpc_commit``/``tpc_rollback``; the
    ``tpc_recover()`` ones also say when (``prepared``), by whom (``owner``) and in
    which ``database`` they were prepared. Indexing gives ``(format_id, gtrid, bqual)``.
    """

    __slots__ = ("format_id", "gtrid", "bqual", "prepared", "owner", "database")

    def __init__(self, format_id: int, gtrid: str, bqual: str) -> None:
        if not isinstance(format_id, int) or isinstance(format_id, bool):
            raise TypeError("format_id must be an integer")
        if format_id > 0x7FFFFFFF:
            # psycopg2 reads it as a C int
            raise OverflowError("signed integer is greater than maximum")
        if format_id < -0x80000000:
            raise OverflowError("signed integer is less than minimum")
        if format_id < 0:
            raise ValueError("format_id must be a non-negative 32-bit integer")
        self.format_id: Optional[int] = format_id
        self.gtrid: str = _check_part("gtrid", gtrid)
        self.bqual: Optional[str] = _check_part("bqual", bqual)
        self.prepared: Any = None
        self.owner: Optional[str] = None
        self.database: Optional[str] = None

    @classmethod
    def from_string(cls, s: str) -> Xid:
        """The xid whose ``str()`` is ``s``: an XA xid if ``s`` has that form, else an
        unparsed one."""
        if not isinstance(s, str):
            raise TypeError("not a valid transaction id")
        m = _XA.match(s)
        if m is not None:
            try:
                gtrid = base64.b64decode(m.group(2), validate=True).decode("ascii")
                bqual = base64.b64decode(m.group(3), validate=True).decode("ascii")
                return cls(int(m.group(1)), gtrid, bqual)
            except (binascii.Error, UnicodeDecodeError, ValueError):
                pass
        x = cls.__new__(cls)
        x.format_id = None
        x.gtrid = s
        x.bqual = None
        x.prepared = None
        x.owner = None
        x.database = None
        return x

    def __str__(self) -> str:
        if self.format_id is None:
            return self.gtrid
        g = base64.b64encode(self.gtrid.encode("ascii")).decode("ascii")
        b = base64.b64encode((self.bqual or "").encode("ascii")).decode("ascii")
        return f"{self.format_id}_{g}_{b}"

    def __repr__(self) -> str:
        if self.format_id is None:
            return f"<Xid: {self.gtrid!r} (unparsed)>"
        return f"<Xid: ({self.format_id!r}, {self.gtrid!r}, {self.bqual!r})>"

    def __len__(self) -> int:
        return 3

    def __getitem__(self, index: int) -> Any:
        return (self.format_id, self.gtrid, self.bqual)[index]

    def __iter__(self) -> Iterator[Any]:
        return iter((self.format_id, self.gtrid, self.bqual))
