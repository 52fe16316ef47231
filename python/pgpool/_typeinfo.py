"""Catalog look-ups for the typecaster helpers (``register_hstore``,
``register_composite``, ``register_range``, ``register_json``): they run on the
connection of the object given, and leave its transaction as they found it (a
connection that was idle is rolled back again), as psycopg2's helpers do."""

from __future__ import annotations

from typing import Any, List, Optional, Sequence, Tuple

from . import _pgpool
from .errors import InterfaceError

# psycopg2's connection.status values.
_STATUS_IN_TRANSACTION = 2


def solve_conn_curs(conn_or_curs: Any) -> Tuple[Any, Any]:
    """``(connection, plain cursor)`` for a connection or a cursor (a cursor of the
    connection's default factory could return dicts or named tuples)."""
    if conn_or_curs is None:
        raise InterfaceError("a connection or a cursor is required")
    if hasattr(conn_or_curs, "execute"):
        conn = conn_or_curs.connection
    else:
        conn = conn_or_curs
    conn = getattr(conn, "_conn", conn)  # an AsyncConnection
    return conn, conn.cursor(cursor_factory=_pgpool.Cursor)


def catalog_query(
    conn_or_curs: Any, sql: str, params: Sequence[Any] = ()
) -> Tuple[Any, List[Tuple[Any, ...]]]:
    """Run ``sql`` on the connection of ``conn_or_curs``; ``(connection, rows)``. A
    connection that was not in a transaction (and not in autocommit) is rolled back
    afterwards, so the look-up leaves no transaction open."""
    conn, curs = solve_conn_curs(conn_or_curs)
    status = conn.status
    try:
        curs.execute(sql, tuple(params))
        rows = curs.fetchall()
    finally:
        curs.close()
        if status != _STATUS_IN_TRANSACTION and not conn.autocommit:
            conn.rollback()
    return conn, rows


def get_json_oids(conn_or_curs: Any, name: str = "json") -> Tuple[int, Any]:
    """``(oid, array oid)`` of the type ``name`` (json, jsonb); ``ProgrammingError``
    when the database has no such type."""
    from .errors import ProgrammingError

    _, rows = catalog_query(
        conn_or_curs,
        "SELECT t.oid, t.typarray FROM pg_catalog.pg_type t "
        "WHERE t.oid = pg_catalog.to_regtype(%s)",
        (name,),
    )
    if not rows:
        raise ProgrammingError(f"{name} data type not found")
    oid, array_oid = rows[0]
    return int(oid), (int(array_oid) or None)


def read_field(s: str, pos: int, end: int) -> Tuple[Optional[str], int]:
    """One field of a range's or a composite's text from ``pos`` to the next unquoted
    ``,`` (or ``end``): its text (None when it is empty and unquoted: NULL, or an
    unbounded range bound; ``""`` and ``\\`` escapes undone) and the position of the
    delimiter after it."""
    buf: List[str] = []
    quoted = False
    i = pos
    while i < end and s[i] != ",":
        ch = s[i]
        if ch == '"':
            quoted = True
            i += 1
            while i < end:
                ch = s[i]
                if ch == '"':
                    if i + 1 < end and s[i + 1] == '"':
                        buf.append('"')
                        i += 2
                        continue
                    i += 1
                    break
                if ch == "\\" and i + 1 < end:
                    buf.append(s[i + 1])
                    i += 2
                    continue
                buf.append(ch)
                i += 1
        elif ch == "\\" and i + 1 < end:
            buf.append(s[i + 1])
            i += 2
        else:
            buf.append(ch)
            i += 1
    return ("".join(buf) if buf or quoted else None), i
