"""The DB-API 2.0 module interface (PEP 249) and the package's public names."""

from __future__ import annotations

import datetime
import inspect

import psycopg2
import pytest

import pgpool


def test_module_globals():
    assert pgpool.apilevel == "2.0"
    assert pgpool.threadsafety == 2
    assert pgpool.paramstyle == "pyformat"
    assert (pgpool.apilevel, pgpool.threadsafety, pgpool.paramstyle) == (
        psycopg2.apilevel,
        psycopg2.threadsafety,
        psycopg2.paramstyle,
    )


def test_all_is_explicit_and_importable():
    for name in pgpool.__all__:
        assert hasattr(pgpool, name), name
    for name in (
        "connect",
        "Error",
        "Pool",
        "get_cursor",
        "PostgresPool",
        "STRING",
        "Binary",
    ):
        assert name in pgpool.__all__
    # psycopg2's public module names that code imports
    for name in dir(psycopg2):
        if name.startswith("_") or inspect.ismodule(getattr(psycopg2, name)):
            continue
        assert hasattr(pgpool, name), name


@pytest.mark.parametrize("name", ["STRING", "BINARY", "NUMBER", "DATETIME", "ROWID"])
def test_type_objects_match_psycopg2(name):
    mine, theirs = getattr(pgpool, name), getattr(psycopg2, name)
    for oid in range(0, 4000):
        assert (oid == mine) == (oid == theirs), (name, oid)
        assert (mine == oid) == (theirs == oid), (name, oid)
    assert mine == mine and mine != getattr(
        pgpool, "STRING" if name != "STRING" else "NUMBER"
    )


def test_type_objects_against_description(conn):
    with conn.cursor() as cur:
        cur.execute(
            "SELECT 'a'::text, '\\x00'::bytea, 1::int4, 1.5::numeric, now()::timestamp, 1::oid"
        )
        codes = [d.type_code for d in cur.description]
    conn.rollback()
    assert codes[0] == pgpool.STRING
    assert codes[1] == pgpool.BINARY
    assert codes[2] == pgpool.NUMBER and codes[3] == pgpool.NUMBER
    assert codes[4] == pgpool.DATETIME
    assert codes[5] == pgpool.ROWID
    assert codes[0] != pgpool.NUMBER


def test_constructors():
    assert pgpool.Date(2024, 1, 2) == datetime.date(2024, 1, 2)
    assert pgpool.Time(1, 2, 3) == datetime.time(1, 2, 3)
    assert pgpool.Timestamp(2024, 1, 2, 3, 4, 5) == datetime.datetime(
        2024, 1, 2, 3, 4, 5
    )
    ticks = 1700000000.25
    assert pgpool.DateFromTicks(ticks) == datetime.date.fromtimestamp(ticks)
    assert pgpool.TimeFromTicks(ticks) == datetime.datetime.fromtimestamp(ticks).time()
    ts = pgpool.TimestampFromTicks(ticks)
    assert ts.tzinfo is not None and ts.timestamp() == ticks
    assert pgpool.Binary(b"\x00\x01") == b"\x00\x01"
    assert pgpool.Binary(bytearray(b"ab")) == b"ab"


def test_constructors_as_parameters(conn, pg2):
    values = (
        pgpool.Date(2024, 1, 2),
        pgpool.Time(1, 2, 3),
        pgpool.Timestamp(2024, 1, 2, 3, 4, 5),
        pgpool.Binary(b"\x00\xff"),
    )
    theirs_values = (
        psycopg2.Date(2024, 1, 2),
        psycopg2.Time(1, 2, 3),
        psycopg2.Timestamp(2024, 1, 2, 3, 4, 5),
        psycopg2.Binary(b"\x00\xff"),
    )
    sql = "SELECT %s, %s, %s, %s"
    with conn.cursor() as c1, pg2.cursor() as c2:
        assert c1.mogrify(sql, values) == c2.mogrify(sql, theirs_values)
        c1.execute(sql, values)
        row = c1.fetchone()
    conn.rollback()
    assert row[:3] == values[:3] and bytes(row[3]) == b"\x00\xff"


def test_connect_unpooled(dsn):
    c = pgpool.connect(dsn)
    try:
        assert isinstance(c, pgpool.Connection)
        with c.cursor() as cur:
            assert isinstance(cur, pgpool.Cursor)
            cur.execute("SELECT 1")
            assert cur.fetchone() == (1,)
    finally:
        c.close()
    assert c.closed


def test_connect_keywords(direct_dsn):
    from urllib.parse import urlsplit

    u = urlsplit(direct_dsn)
    c = pgpool.connect(
        host=u.hostname,
        port=u.port or 5432,
        user=u.username or "postgres",
        dbname=u.path.lstrip("/") or "postgres",
    )
    try:
        with c.cursor() as cur:
            cur.execute("SELECT current_database()")
            assert cur.fetchone() == (u.path.lstrip("/") or "postgres",)
    finally:
        c.close()


def test_submodules():
    from pgpool import compat, errorcodes, errors, extensions, extras, pool

    assert extensions.connection is pgpool.Connection
    assert extensions.cursor is pgpool.Cursor
    assert extras.Json and pool.ThreadedConnectionPool and errors.UniqueViolation
    assert errorcodes.UNIQUE_VIOLATION == "23505"
    assert compat.get_cursor is pgpool.get_cursor
    assert extensions.quote_ident('we"ird') == '"we""ird"'
