"""psycopg2's large objects: ``extensions.lobject`` and ``connection.lobject()``.

pgpool has no libpq fast-path calls: a large object is driven through the server's SQL
functions (``lo_creat``/``lo_create``, ``lo_open``, ``loread``, ``lowrite``,
``lo_lseek64``, ``lo_tell64``, ``lo_truncate64``, ``lo_close``, ``lo_unlink``, and
``lo_from_bytea``/``lo_put``/``lo_get`` for importing and exporting client files), each a
statement run by a plain cursor of the connection. The behaviour is psycopg2's:

- an object lives in the transaction that opened it: in autocommit mode every method
  but ``unlink()`` raises ``ProgrammingError`` ("can't use a lobject outside of
  transactions"), and once that transaction has ended (commit, rollback, TPC) the
  file-like methods raise ``ProgrammingError`` ("lobject isn't valid anymore");
  ``close()`` is then a no-op, ``unlink()`` and ``export()`` work in the new
  transaction. The transaction is recognised by the backend and its start time,
  checked by the same statement that uses the descriptor, so a descriptor number
  reused by a later transaction is never touched;
- a closed object (or one on a closed connection) raises ``InterfaceError``;
- an error of the server raises ``OperationalError`` (libpq's large-object calls give
  psycopg2 no SQLSTATE class to map), with ``pgcode``/``pgerror``/``diag`` kept;
- modes ``[r|w|rw|n][t|b]`` (``""``/``None`` is ``"r"``); a new object is always opened
  for writing; ``"n"`` gives a closed object; text mode reads ``str`` decoded from the
  connection's encoding, binary mode ``bytes``; ``write()`` takes both;
- offsets are 64-bit (``lo_lseek64``/``lo_tell64``/``lo_truncate64``; before
  PostgreSQL 9.3 the 32-bit calls, and ``NotSupportedError`` beyond 2 GiB).

Unlike psycopg2, an object left open is not closed when garbage collected (the server
closes its descriptor when the transaction ends).
"""

from __future__ import annotations

import operator
import os
from typing import Any, Optional, Tuple, Union

from . import _pgpool
from .errors import (
    DatabaseError,
    InterfaceError,
    NotSupportedError,
    OperationalError,
    ProgrammingError,
)

__all__ = ["LargeObject", "lobject"]

# lo_open's mode bits (libpq's libpq-fs.h).
_INV_WRITE = 0x00020000
_INV_READ = 0x00040000

# The mode flags of an object.
_READ = 1
_WRITE = 2
_BINARY = 4
_TEXT = 8

_INT_MIN = -(1 << 31)
_INT_MAX = (1 << 31) - 1
_OID_MAX = (1 << 32) - 1

# The most data one statement reads or writes (the server's bytea limit is 1 GiB).
_CHUNK_MAX = 1 << 26
# The first read of a read-to-the-end; each next one asks four times as much.
_CHUNK_FIRST = 1 << 20

# The transaction the statement runs in: its backend and its start time in
# microseconds (a new transaction on the same backend starts later; PgBouncer may
# change the backend). Integers, which typecasters registered for text leave alone.
_TXN = (
    "pg_catalog.pg_backend_pid(), (pg_catalog.date_part('epoch', "
    "pg_catalog.transaction_timestamp()) * 1000000)::int8"
)
# ... and the test that the statement runs in the given one.
_SAME_TXN = (
    "(pg_catalog.pg_backend_pid(), (pg_catalog.date_part('epoch', "
    "pg_catalog.transaction_timestamp()) * 1000000)::int8) = (%s, %s::int8)"
)

_TRANSACTION_STATUS_IDLE = 0
_TRANSACTION_STATUS_INERROR = 3


def _parse_mode(mode: str) -> int:
    """The flags of ``mode`` (``[r|w|rw|n][t|b]``), as psycopg2 reads it."""
    flags = 0
    pos = 0
    if mode.startswith("rw"):
        flags |= _READ | _WRITE
        pos = 2
    elif mode[:1] == "r":
        flags |= _READ
        pos = 1
    elif mode[:1] == "w":
        flags |= _WRITE
        pos = 1
    elif mode[:1] == "n":
        pos = 1
    else:
        flags |= _READ
    if mode[pos : pos + 1] == "b":
        flags |= _BINARY
        pos += 1
    else:
        if mode[pos : pos + 1] == "t":
            pos += 1
        flags |= _TEXT
    if pos != len(mode):
        raise ValueError(f"bad mode for lobject: '{mode}'")
    return flags


def _unparse_mode(flags: int) -> str:
    """The normalised mode string of ``flags``: ``r``/``w``/``rw`` then ``t``/``b``, or
    ``n``."""
    s = ("r" if flags & _READ else "") + ("w" if flags & _WRITE else "")
    if not s:
        return "n"
    return s + ("b" if flags & _BINARY else "t")


def _oid_arg(name: str, value: Any) -> int:
    if not isinstance(value, int) or isinstance(value, bool):
        raise TypeError(f"{name} must be an integer, not {type(value).__name__}")
    if not 0 <= value <= _OID_MAX:
        raise OverflowError(f"{name} out of range for an oid: {value}")
    return value


def _index_arg(name: str, value: Any) -> int:
    try:
        return operator.index(value)
    except TypeError:
        raise TypeError(
            f"{name} must be an integer, not {type(value).__name__}"
        ) from None


def _path_arg(value: Any) -> str:
    path: Union[str, bytes] = os.fspath(value)
    return os.fsdecode(path) if isinstance(path, bytes) else path


def _operational(exc: DatabaseError) -> DatabaseError:
    """A server error as psycopg2 raises it from a large-object call: an
    ``OperationalError`` (the SQLSTATE's class when it is one) whose message is libpq's
    (``"ERROR:  ...\\n"``), with the server's ``pgcode``, ``pgerror`` and ``diag`` kept
    (psycopg2 has none)."""
    if exc.pgcode is None:
        return exc
    cls = type(exc) if isinstance(exc, OperationalError) else OperationalError
    new = cls(exc.pgerror or str(exc))
    new.pgerror = exc.pgerror
    new.pgcode = exc.pgcode
    new._fields = dict(exc._fields)
    return new


def _execute(conn: Any, sql: str, params: Tuple[Any, ...]) -> Tuple[Any, ...]:
    """The one row of ``sql`` run by a plain cursor of ``conn`` (not the connection's
    ``cursor_factory``: rows are tuples); server errors as ``OperationalError``."""
    cur = _pgpool.Cursor(conn)
    try:
        cur.execute(sql, params)
        row = cur.fetchone()
    except DatabaseError as e:
        raise _operational(e) from e
    finally:
        cur.close()
    return tuple(row)


def _as_bytes(value: Any) -> bytes:
    if isinstance(value, bytes):
        return value
    if isinstance(value, (memoryview, bytearray)):
        return bytes(value)
    if isinstance(value, str) and value.startswith("\\x"):
        # A bytea typecaster registered that leaves the server's hex form.
        return bytes.fromhex(value[2:])
    raise TypeError(f"unexpected bytea value: {type(value).__name__}")


def _open_client_file(path: str, mode: str) -> Any:
    """A client file for import (``"rb"``) or export (``"wb"``); libpq's error."""
    try:
        return open(path, mode)
    except OSError as e:
        raise OperationalError(
            f'could not open file "{path}": {e.strerror or e}\n'
        ) from e


class LargeObject:
    """A PostgreSQL large object (psycopg2's ``extensions.lobject``):
    ``lobject(conn, oid=0, mode="", new_oid=0, new_file=None)``.

    ``oid`` 0 creates an object (with the oid ``new_oid`` if not 0, or imported from
    the client file ``new_file``), else opens the object ``oid``. ``mode`` is
    ``[r|w|rw|n][t|b]``; ``mode``, ``oid`` and ``closed`` are read-only attributes.
    Subclass it and pass the class as ``connection.lobject(lobject_factory=...)``.
    """

    def __init__(
        self,
        conn: Any,
        oid: int = 0,
        mode: Optional[str] = "",
        new_oid: int = 0,
        new_file: Optional[Union[str, os.PathLike[str]]] = None,
    ) -> None:
        if not isinstance(conn, _pgpool.Connection):
            raise TypeError(
                f"lobject() argument 1 must be a connection, not {type(conn).__name__}"
            )
        oid = _oid_arg("oid", oid)
        new_oid = _oid_arg("new_oid", new_oid)
        if mode is None:
            mode = ""
        if not isinstance(mode, str):
            raise TypeError(f"mode must be a string, not {type(mode).__name__}")
        path = None if new_file is None else _path_arg(new_file)
        self._conn = conn
        self._oid = 0
        self._fd = -1
        self._flags = 0
        self._smode = "n"
        self._txn: Tuple[int, int] = (0, 0)
        if conn.closed:
            raise InterfaceError("connection already closed")
        if conn.autocommit:
            raise ProgrammingError("can't use a lobject outside of transactions")
        flags = _parse_mode(mode)
        if oid == 0:
            # A new object is opened for writing, whatever the mode asked for.
            flags = (flags & ~_READ) | _WRITE
            if path is not None:
                oid = self._import(path)
            else:
                create = (
                    ("pg_catalog.lo_create(%s::oid)", (new_oid,))
                    if new_oid
                    else ("pg_catalog.lo_creat(-1)", ())
                )
                row = _execute(
                    conn,
                    f"WITH lo AS (SELECT {create[0]} AS oid) SELECT oid, "
                    f"pg_catalog.lo_open(oid, %s), {_TXN} FROM lo",
                    create[1] + (_INV_WRITE,),
                )
                self._oid, self._fd = int(row[0]), int(row[1])
                self._txn = (int(row[2]), int(row[3]))
                self._set_flags(flags)
                return
        self._oid = oid
        pgmode = (_INV_READ if flags & _READ else 0) | (
            _INV_WRITE if flags & _WRITE else 0
        )
        if pgmode:
            row = _execute(
                conn,
                f"SELECT pg_catalog.lo_open(%s::oid, %s), {_TXN}",
                (oid, pgmode),
            )
            self._fd, self._txn = int(row[0]), (int(row[1]), int(row[2]))
        self._set_flags(flags)

    def _set_flags(self, flags: int) -> None:
        self._flags = flags
        self._smode = _unparse_mode(flags)

    def _import(self, path: str) -> int:
        """A new object holding the client file ``path``; its oid."""
        f = _open_client_file(path, "rb")
        with f:
            try:
                chunk = f.read(_CHUNK_MAX)
            except OSError as e:
                raise OperationalError(
                    f'could not read from file "{path}": {e.strerror or e}\n'
                ) from e
            row = _execute(
                self._conn, "SELECT pg_catalog.lo_from_bytea(0, %s)", (chunk,)
            )
            oid = int(row[0])
            offset = len(chunk)
            while True:
                try:
                    chunk = f.read(_CHUNK_MAX)
                except OSError as e:
                    raise OperationalError(
                        f'could not read from file "{path}": {e.strerror or e}\n'
                    ) from e
                if not chunk:
                    return oid
                _execute(
                    self._conn,
                    "SELECT pg_catalog.lo_put(%s::oid, %s, %s)",
                    (oid, offset, chunk),
                )
                offset += len(chunk)

    # -- attributes

    @property
    def oid(self) -> int:
        """The object's oid."""
        return self._oid

    @property
    def mode(self) -> str:
        """The mode it was opened with, normalised (``rt``, ``wb``, ``n``, ...)."""
        return self._smode

    @property
    def closed(self) -> bool:
        """True once closed, when opened with mode ``n``, or when the connection is
        closed."""
        return self._fd < 0 or bool(self._conn.closed)

    def __repr__(self) -> str:
        return f"<lobject object at {id(self):#x}; closed: {int(self.closed)}>"

    __str__ = __repr__

    # -- checks and the descriptor's statements

    def _check_usable(self) -> None:
        if self.closed:
            raise InterfaceError("lobject already closed")
        if self._conn.autocommit:
            raise ProgrammingError("can't use a lobject outside of transactions")
        if self._conn.info.transaction_status == _TRANSACTION_STATUS_IDLE:
            raise ProgrammingError("lobject isn't valid anymore")

    def _call(self, expr: str, params: Tuple[Any, ...]) -> Any:
        """``expr`` (a call on the descriptor, ``%s`` first the descriptor) run if the
        transaction is still the one that opened the object."""
        self._check_usable()
        row = _execute(
            self._conn,
            f"SELECT {_TXN}, CASE WHEN {_SAME_TXN} THEN {expr} END",
            self._txn + (self._fd,) + params,
        )
        if (int(row[0]), int(row[1])) != self._txn:
            raise ProgrammingError("lobject isn't valid anymore")
        return row[2]

    def _codec(self) -> str:
        enc = self._conn.encoding
        return _pgpool._encodings().get(enc, "utf-8")

    # -- methods

    def close(self) -> None:
        """Close the object (nothing to do once its transaction has ended)."""
        if self._fd < 0:
            return
        fd, self._fd = self._fd, -1
        conn = self._conn
        if conn.closed or conn.autocommit:
            return
        status = conn.info.transaction_status
        if status in (_TRANSACTION_STATUS_IDLE, _TRANSACTION_STATUS_INERROR):
            # Its transaction ended (descriptors go with it), or is failed (its
            # rollback closes the descriptor).
            return
        _execute(
            conn,
            f"SELECT CASE WHEN {_SAME_TXN} THEN pg_catalog.lo_close(%s) END",
            self._txn + (fd,),
        )

    def write(self, data: Union[str, bytes]) -> int:
        """Write ``data`` (``bytes``, or ``str`` in the connection's encoding) at the
        current position; the number of bytes written."""
        if isinstance(data, str):
            buf = data.encode(self._codec())
        elif isinstance(data, (bytes, bytearray, memoryview)):
            buf = bytes(data)
        else:
            raise TypeError(
                f"lobject.write requires a string; got {type(data).__name__} instead"
            )
        self._check_usable()
        if not buf:
            return int(self._call("pg_catalog.lowrite(%s, %s)", (b"",)))
        written = 0
        for start in range(0, len(buf), _CHUNK_MAX):
            piece = buf[start : start + _CHUNK_MAX]
            written += int(self._call("pg_catalog.lowrite(%s, %s)", (piece,)))
        return written

    def read(self, size: int = -1) -> Union[str, bytes]:
        """At most ``size`` bytes from the current position (all up to the end when
        ``size`` is negative): ``bytes`` in binary mode, else ``str``."""
        size = _index_arg("size", size)
        self._check_usable()
        pieces = []
        if size >= 0:
            left = size
            while True:
                n = min(left, _CHUNK_MAX)
                got = _as_bytes(self._call("pg_catalog.loread(%s, %s)", (n,)))
                pieces.append(got)
                left -= len(got)
                if len(got) < n or left <= 0:
                    break
        else:
            n = _CHUNK_FIRST
            while True:
                got = _as_bytes(self._call("pg_catalog.loread(%s, %s)", (n,)))
                pieces.append(got)
                if len(got) < n:
                    break
                n = min(n * 4, _CHUNK_MAX)
        data = pieces[0] if len(pieces) == 1 else b"".join(pieces)
        if self._flags & _BINARY:
            return data
        return data.decode(self._codec())

    def _check_64(self, name: str, value: int, low: int) -> None:
        version = self._conn.server_version
        if version < 90300 and not low <= value <= _INT_MAX:
            raise NotSupportedError(
                f"{name} out of range ({value}): server version {version} "
                "does not support the lobject 64 API"
            )

    def seek(self, offset: int, whence: int = 0) -> int:
        """Move the current position to ``offset`` (from the start, ``whence`` 0; the
        current position, 1; the end, 2); the new position."""
        offset = _index_arg("offset", offset)
        whence = _index_arg("whence", whence)
        self._check_usable()
        self._check_64("offset", offset, _INT_MIN)
        fn = "lo_lseek" if self._conn.server_version < 90300 else "lo_lseek64"
        return int(self._call(f"pg_catalog.{fn}(%s, %s, %s)", (offset, whence)))

    def tell(self) -> int:
        """The current position."""
        self._check_usable()
        fn = "lo_tell" if self._conn.server_version < 90300 else "lo_tell64"
        return int(self._call(f"pg_catalog.{fn}(%s)", ()))

    def truncate(self, len: int = 0) -> None:  # noqa: A002 - psycopg2's name
        """Cut (or extend with zeros) the object to ``len`` bytes; the position does
        not move."""
        length = _index_arg("len", len)
        self._check_usable()
        self._check_64("len", length, 0)
        fn = "lo_truncate" if self._conn.server_version < 90300 else "lo_truncate64"
        self._call(f"pg_catalog.{fn}(%s, %s)", (length,))

    def unlink(self) -> None:
        """Close the object and remove it from the database (works in any
        transaction, and in autocommit mode)."""
        if self._conn.closed:
            raise InterfaceError("connection already closed")
        # The server closes this transaction's descriptors of the object itself.
        _execute(self._conn, "SELECT pg_catalog.lo_unlink(%s::oid)", (self._oid,))
        self._fd = -1

    def export(self, filename: Union[str, os.PathLike[str]]) -> None:
        """Write the object's content to the client file ``filename`` (works once
        closed and in a later transaction)."""
        path = _path_arg(filename)
        if self._conn.closed:
            raise InterfaceError("connection already closed")
        if self._conn.autocommit:
            raise ProgrammingError("can't use a lobject outside of transactions")
        f = _open_client_file(path, "wb")
        with f:
            offset = 0
            while True:
                row = _execute(
                    self._conn,
                    "SELECT pg_catalog.lo_get(%s::oid, %s, %s)",
                    (self._oid, offset, _CHUNK_MAX),
                )
                chunk = _as_bytes(row[0])
                try:
                    f.write(chunk)
                except OSError as e:
                    raise OperationalError(
                        f'could not write to file "{path}": {e.strerror or e}\n'
                    ) from e
                offset += len(chunk)
                if len(chunk) < _CHUNK_MAX:
                    return


# psycopg2's name for the class (``extensions.lobject``).
LargeObject.__name__ = LargeObject.__qualname__ = "lobject"
LargeObject.__module__ = "pgpool.extensions"


def lobject(
    conn: Any,
    oid: int = 0,
    mode: Optional[str] = "",
    new_oid: int = 0,
    new_file: Optional[Union[str, os.PathLike[str]]] = None,
    lobject_factory: Any = None,
) -> Any:
    """``connection.lobject()``: ``lobject_factory(conn, oid, mode, new_oid,
    new_file)``, by default an ``extensions.lobject`` (``ProgrammingError`` on an
    asynchronous connection, as psycopg2)."""
    if getattr(conn, "async_", 0):
        raise ProgrammingError("lobject cannot be used in asynchronous mode")
    factory = LargeObject if lobject_factory is None else lobject_factory
    return factory(conn, oid, mode, new_oid, new_file)
