"""Result types: pgpool returns exactly what psycopg2 returns by default.

Every case runs the same statement through pgpool and psycopg2 on the same server and
compares type and value (see ``_helpers.same``), plus the column's type OID.
"""

from __future__ import annotations

import datetime
import decimal
import uuid

import pytest

import pgpool
from _helpers import fetch_both, same

# (id, SQL expression)
VALUES = [
    # integers
    ("int2-max", "32767::int2"),
    ("int2-min", "(-32768)::int2"),
    ("int4-zero", "0"),
    ("int4-max", "2147483647"),
    ("int4-min", "(-2147483648)::int4"),
    ("int8-max", "9223372036854775807::int8"),
    ("int8-min", "(-9223372036854775808)::int8"),
    ("oid", "1259::oid"),
    # floats
    ("float4", "1.5::float4"),
    ("float4-tenth", "0.1::float4"),
    ("float8-tenth", "0.1::float8"),
    ("float8-big", "1e308::float8"),
    ("float8-tiny", "5e-324::float8"),
    ("float8-negzero", "'-0'::float8"),
    ("float8-nan", "'NaN'::float8"),
    ("float8-inf", "'Infinity'::float8"),
    ("float8-neginf", "'-Infinity'::float8"),
    ("float4-nan", "'NaN'::float4"),
    # numeric
    ("numeric-zero", "0::numeric"),
    ("numeric-scale", "1.50::numeric"),
    ("numeric-typmod", "3.14159::numeric(10,2)"),
    ("numeric-huge", "(-123456789012345678901234567890.123456789)::numeric"),
    ("numeric-tiny", "0.00000000000000000001::numeric"),
    ("numeric-1e100", "1e100::numeric"),
    ("numeric-nan", "'NaN'::numeric"),
    ("numeric-inf", "'Infinity'::numeric"),
    ("numeric-neginf", "'-Infinity'::numeric"),
    # bool
    ("true", "true"),
    ("false", "false"),
    # text types
    ("text-empty", "''::text"),
    ("text-unicode", "'héllo wörld ☃ 🎉 漢字'::text"),
    ("text-controls", "E'tab\\there\\nline\\r\\x01'::text"),
    ("text-quotes", '$$it\'s "quoted" \\ back$$::text'),
    ("text-big", "repeat('é✓', 200000)"),
    ("varchar", "'abc'::varchar(10)"),
    ("bpchar", "'ab'::char(5)"),
    ("name", "'pg_class'::name"),
    ("char", "'x'::\"char\""),
    # bytea
    ("bytea-empty", "''::bytea"),
    ("bytea-bytes", "'\\x00ff7f80'::bytea"),
    ("bytea-large", "decode(repeat('00ff10', 400000), 'hex')"),
    # dates and times
    ("date", "'2024-02-29'::date"),
    ("date-min", "'0001-01-01'::date"),
    ("date-max", "'9999-12-31'::date"),
    ("date-inf", "'infinity'::date"),
    ("date-neginf", "'-infinity'::date"),
    ("time", "'23:59:59.999999'::time"),
    ("time-midnight", "'00:00'::time"),
    ("time-24", "'24:00:00'::time"),
    ("timetz", "'12:34:56.5+05:30'::timetz"),
    ("timetz-neg", "'01:02:03-08'::timetz"),
    ("timestamp", "'2024-01-01 12:34:56.789012'::timestamp"),
    ("timestamp-old", "'1900-01-01 00:00'::timestamp"),
    ("timestamp-inf", "'infinity'::timestamp"),
    ("timestamp-neginf", "'-infinity'::timestamp"),
    # intervals
    ("interval", "'1 day 02:03:04.5'::interval"),
    ("interval-months", "'1 year 2 mons 3 days'::interval"),
    ("interval-neg", "'-1 day 00:00:01'::interval"),
    ("interval-negsec", "'-00:00:01.25'::interval"),
    ("interval-zero", "'0'::interval"),
    ("interval-big", "'1000000 days'::interval"),
    ("interval-usec", "'0.000001 seconds'::interval"),
    # json
    ("json", """'{"a": [1, 2.5, null, true, "x"], "b": {"c": "é"}}'::json"""),
    ("jsonb", """'{"a": [1, 2.5, null, true, "x"], "b": {"c": "é"}}'::jsonb"""),
    ("jsonb-null", "'null'::jsonb"),
    ("jsonb-string", """'"str"'::jsonb"""),
    ("jsonb-number", "'1.0'::jsonb"),
    ("json-empty-array", "'[]'::json"),
    ("json-huge-number", "'1e400'::json"),
    # uuid
    ("uuid", "'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11'::uuid"),
    # types psycopg2 returns as str
    ("money", "'12.34'::money"),
    ("inet", "'192.168.0.1/24'::inet"),
    ("cidr", "'10.0.0.0/8'::cidr"),
    ("macaddr", "'08:00:2b:01:02:03'::macaddr"),
    ("point", "'(1,2)'::point"),
    ("bit", "B'101'"),
    ("tsvector", "'a b'::tsvector"),
    ("xml", "'<a>x</a>'::xml"),
    ("xid", "'1'::xid"),
    ("regclass", "'pg_class'::regclass"),
    ("int2vector", "'1 2'::int2vector"),
    ("enum", "'happy'::pgpool_mood"),
    ("domain", "5::pgpool_pos"),
    ("composite", "ROW(1, 'x')::pgpool_pair"),
    # arrays
    ("int-array", "ARRAY[1, NULL, 3]"),
    ("int-array-2d", "ARRAY[[1, 2], [NULL, 4]]"),
    ("int-array-3d", "ARRAY[[[1], [2]], [[3], [NULL::int]]]"),
    ("int-array-empty", "'{}'::int[]"),
    ("int-array-lower-bound", "'[2:3]={1,2}'::int[]"),
    ("int8-array", "ARRAY[9223372036854775807, NULL]::int8[]"),
    (
        "text-array",
        "ARRAY['a', NULL, '', 'NULL', 'with space', 'a,b', 'q\"d', 'back\\slash']",
    ),
    ("text-array-unicode", "ARRAY['☃', 'é']"),
    ("text-array-2d", "ARRAY[['a', 'b'], ['c', NULL]]"),
    ("varchar-array", "ARRAY['x']::varchar[]"),
    ("bool-array", "ARRAY[true, false, NULL]"),
    ("float-array", "ARRAY[1.5, 'NaN', 'Infinity', '-Infinity', NULL]::float8[]"),
    ("numeric-array", "ARRAY[1.50, 'NaN', NULL]::numeric[]"),
    ("date-array", "ARRAY['2020-01-01'::date, NULL]"),
    ("timestamp-array", "ARRAY['2020-01-01 10:00'::timestamp, NULL]"),
    ("interval-array", "ARRAY['1 day'::interval, NULL]"),
    ("jsonb-array", """ARRAY['{"a": 1}'::jsonb, 'null', NULL]"""),
    ("bytea-array", "ARRAY['\\x01'::bytea, NULL]"),
    ("uuid-array", "ARRAY['a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11'::uuid]"),
    ("enum-array", "ARRAY['sad', 'happy']::pgpool_mood[]"),
    ("inet-array", "ARRAY['10.0.0.1'::inet]"),
    ("oid-array", "ARRAY[1, 2]::oid[]"),
]

# Types whose NULL (and array of NULLs) must come back as None.
NULL_TYPES = [
    "int2", "int4", "int8", "float4", "float8", "numeric", "bool", "text", "varchar",
    "bytea", "date", "time", "timetz", "timestamp", "timestamptz", "interval", "json",
    "jsonb", "uuid", "inet", "pgpool_mood", "int4[]", "text[]",
]  # fmt: skip


@pytest.mark.parametrize("expr", [v for _, v in VALUES], ids=[k for k, _ in VALUES])
def test_value(conn, pg2, expr):
    sql = f"SELECT {expr} AS v"
    mine, theirs = fetch_both(conn, pg2, sql)
    same(mine, theirs)


@pytest.mark.parametrize("expr", [v for _, v in VALUES], ids=[k for k, _ in VALUES])
def test_description_type_code(conn, pg2, expr):
    sql = f"SELECT {expr} AS v"
    with conn.cursor() as c1, pg2.cursor() as c2:
        c1.execute(sql)
        c2.execute(sql)
        assert c1.description[0][0] == c2.description[0][0] == "v"
        assert c1.description[0][1] == c2.description[0][1]


@pytest.mark.parametrize("typ", NULL_TYPES)
def test_nulls(conn, pg2, typ):
    sql = f"SELECT NULL::{typ}, ARRAY[NULL, NULL]::{typ.rstrip('[]')}[]"
    if typ.endswith("[]"):
        sql = f"SELECT NULL::{typ}, '{{{{NULL}},{{NULL}}}}'::{typ}"
    mine, theirs = fetch_both(conn, pg2, sql)
    same(mine, theirs)
    assert mine[0][0] is None


ZONES = [
    "UTC",
    "Europe/Berlin",
    "America/New_York",
    "Asia/Kolkata",  # +05:30
    "America/St_Johns",  # -03:30 / -02:30
    "Pacific/Chatham",  # +12:45 / +13:45
    "Europe/Amsterdam",  # +00:19:32 in 1900: an offset with seconds
]

TIMESTAMPTZ = [
    "'2024-01-15 12:34:56.789+00'::timestamptz",
    "'2024-07-15 00:00:00+00'::timestamptz",
    "'1900-01-01 00:00'::timestamptz",
    "'2000-02-29 23:59:59.999999-12'::timestamptz",
    "'infinity'::timestamptz",
    "'-infinity'::timestamptz",
    "ARRAY['2024-03-31 01:30+00'::timestamptz, NULL]",
    "'12:00+00'::timetz",
]


@pytest.mark.parametrize("zone", ZONES)
def test_timestamptz_in_session_timezone(conn, pg2, zone):
    # SET and SELECT in one transaction: holds through PgBouncer's transaction mode.
    cols = ", ".join(TIMESTAMPTZ)
    for c in (conn, pg2):
        with c.cursor() as cur:
            cur.execute("SET TIME ZONE %s", (zone,))
    mine, theirs = fetch_both(conn, pg2, f"SELECT {cols}")
    same(mine, theirs)
    value = mine[0][0]
    assert isinstance(value, datetime.datetime) and value.tzinfo is not None
    conn.rollback()
    pg2.rollback()


def test_timestamptz_is_aware_in_session_zone(conn):
    with conn.cursor() as cur:
        cur.execute("SET TIME ZONE 'Asia/Kolkata'")
        cur.execute("SELECT '2024-01-01 00:00:00+00'::timestamptz")
        (value,) = cur.fetchone()
    conn.rollback()
    assert value.utcoffset() == datetime.timedelta(hours=5, minutes=30)
    assert value == datetime.datetime(2024, 1, 1, tzinfo=datetime.timezone.utc)


def test_infinite_dates_in_arrays(conn):
    """psycopg2 fails on 'infinity' inside a date/timestamp array ("unable to parse
    date"); pgpool returns what it returns for the scalar: date.max / datetime.max."""
    with conn.cursor() as cur:
        cur.execute(
            "SELECT 'infinity'::date, ARRAY['infinity'::date, '-infinity', NULL],"
            " ARRAY['infinity'::timestamp]"
        )
        scalar, dates, stamps = cur.fetchone()
    conn.rollback()
    assert scalar == datetime.date.max
    assert dates == [datetime.date.max, datetime.date.min, None]
    assert stamps == [datetime.datetime.max]


def test_date_out_of_python_range_raises_like_psycopg2(conn, pg2):
    with pg2.cursor() as c2:
        c2.execute("SELECT '4713-01-01 BC'::date")
        with pytest.raises(ValueError):
            c2.fetchone()
    with conn.cursor() as c1:
        with pytest.raises((ValueError, pgpool.DataError)):
            c1.execute("SELECT '4713-01-01 BC'::date")
            c1.fetchone()


def test_python_types_of_common_columns(conn):
    """The documented default types, spelled out (not only "same as psycopg2")."""
    with conn.cursor() as cur:
        cur.execute(
            """SELECT 1::int2, 1::int4, 1::int8, 1.5::float4, 1.5::float8, 1.5::numeric,
                      'x'::text, true, '\\x01'::bytea, '2024-01-01'::date,
                      '12:00'::time, '2024-01-01 12:00'::timestamp,
                      '2024-01-01 12:00+00'::timestamptz, '1 day'::interval,
                      '{"a": 1}'::jsonb, 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11'::uuid,
                      ARRAY[1, NULL], 'ok'::pgpool_mood"""
        )
        row = cur.fetchone()
    expected = [
        int, int, int, float, float, decimal.Decimal, str, bool, memoryview,
        datetime.date, datetime.time, datetime.datetime, datetime.datetime,
        datetime.timedelta, dict, str, list, str,
    ]  # fmt: skip
    assert [type(v) for v in row] == expected
    assert row[12].tzinfo is not None and row[11].tzinfo is None
    assert row[16] == [1, None]
    assert uuid.UUID(row[15]).version == 4


def test_roundtrip_parameters(conn):
    """Values sent as parameters come back equal (pgpool both ways)."""
    values = [
        0,
        -(2**63),
        2**63 - 1,
        2**70,
        1.25,
        float("inf"),
        decimal.Decimal("-1.500"),
        "ünï'cödé\\",
        "",
        True,
        None,
        b"\x00\x01\xff",
        datetime.date(2024, 2, 29),
        datetime.time(23, 59, 59, 999999),
        datetime.datetime(2024, 1, 1, 12, 0, 0, 1),
        datetime.timedelta(days=-1, seconds=5, microseconds=7),
        [1, None, 3],
        [[1, 2], [3, 4]],
        ["a", None, "b'c"],
    ]
    with conn.cursor() as cur:
        for v in values:
            cur.execute("SELECT %s", (v,))
            (got,) = cur.fetchone()
            if isinstance(v, bytes):
                assert bytes(got) == v
            elif isinstance(v, int) and abs(v) >= 2**63:
                assert got == decimal.Decimal(v)
            else:
                assert got == v, (v, got)
    conn.rollback()


def test_uuid_and_aware_datetime_parameters(conn):
    u = uuid.UUID("a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11")
    when = datetime.datetime(
        2024, 5, 1, 10, 0, tzinfo=datetime.timezone(datetime.timedelta(hours=2))
    )
    with conn.cursor() as cur:
        cur.execute(
            "SELECT %s, pg_typeof(%s)::text, %s = '2024-05-01 08:00+00'::timestamptz",
            (u, u, when),
        )
        assert cur.fetchone() == (str(u), "uuid", True)
    conn.rollback()
