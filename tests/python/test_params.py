"""Parameters: psycopg2's pyformat binding, byte for byte (``mogrify``), and hostile
values that must never change the statement."""

from __future__ import annotations

import datetime
import decimal
import uuid

import pytest

from pgpool.extras import Json

TZ = datetime.timezone(datetime.timedelta(hours=5, minutes=30))

# (id, value) rendered through "%s" by both drivers.
MOGRIFY_VALUES = [
    ("int", 1),
    ("int-neg", -1),
    ("int-zero", 0),
    ("int-big", 2**70),
    ("int-big-neg", -(2**70)),
    ("int64-min", -(2**63)),
    ("float", 1.5),
    ("float-neg", -1.5),
    ("float-nan", float("nan")),
    ("float-inf", float("inf")),
    ("float-neginf", float("-inf")),
    ("float-1e16", 1e16),
    ("float-1e-5", 1e-5),
    ("float-negzero", -0.0),
    ("true", True),
    ("false", False),
    ("none", None),
    ("str-quote", "it's"),
    ("str-backslash", "back\\slash"),
    ("str-unicode", "☃ é 漢"),
    ("str-empty", ""),
    ("str-percent", "100% %s %(x)s"),
    ("str-comment", "x'; DROP TABLE t; --"),
    ("str-dollar", "$$ $a$ \\' \\\\"),
    ("bytes", b"\x00\xff"),
    ("bytes-empty", b""),
    ("bytearray", bytearray(b"ab")),
    ("memoryview", memoryview(b"cd")),
    ("decimal", decimal.Decimal("1.50")),
    ("decimal-neg", decimal.Decimal("-3")),
    ("decimal-nan", decimal.Decimal("NaN")),
    ("decimal-inf", decimal.Decimal("Infinity")),
    ("decimal-exp", decimal.Decimal("1E+3")),
    ("date", datetime.date(2024, 1, 2)),
    ("time", datetime.time(1, 2, 3, 4)),
    ("timetz", datetime.time(1, 2, 3, tzinfo=TZ)),
    ("datetime", datetime.datetime(2024, 1, 2, 3, 4, 5, 6)),
    ("datetime-tz", datetime.datetime(2024, 1, 2, 3, 4, 5, tzinfo=TZ)),
    ("timedelta", datetime.timedelta(days=-1, seconds=3, microseconds=5)),
    ("list", [1, 2, 3]),
    ("list-empty", []),
    ("list-null", [None]),
    ("list-nulls", [None, None]),
    ("list-2d", [[1, 2], [3, 4]]),
    ("list-str-null", ["a", None]),
    ("list-of-empty", [[]]),
    ("list-float", [1.5, None]),
    ("list-decimal", [decimal.Decimal("1")]),
    ("list-bytes", [b"ab"]),
    ("list-date", [datetime.date(2020, 1, 1)]),
    ("list-bool", [True]),
    ("tuple", (1, 2, 3)),
    ("tuple-empty", ()),
    ("tuple-one", ("a",)),
    ("tuple-nested-list", ([1, 2], "x")),
]


@pytest.mark.parametrize(
    "value", [v for _, v in MOGRIFY_VALUES], ids=[k for k, _ in MOGRIFY_VALUES]
)
def test_mogrify_matches_psycopg2(conn, pg2, value):
    with conn.cursor() as c1, pg2.cursor() as c2:
        mine = c1.mogrify("SELECT %s", (value,))
        assert isinstance(mine, bytes)
        assert mine == c2.mogrify("SELECT %s", (value,))


def test_mogrify_json_matches_psycopg2(conn, pg2):
    import psycopg2.extras

    doc = {"a": "it's", "b": [1, 2.5, None], "c": "é\\"}
    with conn.cursor() as c1, pg2.cursor() as c2:
        assert c1.mogrify("%s", [Json(doc)]) == c2.mogrify(
            "%s", [psycopg2.extras.Json(doc)]
        )


QUERIES = [
    ("named", "SELECT %(a)s, %(a)s, %(b)s, '%%'", {"a": 1, "b": "x"}),
    ("percent-no-params", "SELECT '100%'", None),
    ("percent-literal", "SELECT '100%%', %s", (1,)),
    ("list-params", "SELECT %s, %s", [1, "a"]),
    ("in-tuple", "SELECT 1 WHERE 1 IN %s", ((1, 2, 3),)),
    ("unused-params", "SELECT 1", (1, 2)),
    ("two-statements", "SELECT %s; SELECT %s", (1, 2)),
    ("set", "SET LOCAL statement_timeout TO %s", ("5s",)),
    ("named-extra", "SELECT %(a)s", {"a": 1, "unused": object()}),
]


@pytest.mark.parametrize(
    "sql,params", [(q, p) for _, q, p in QUERIES], ids=[k for k, _, _ in QUERIES]
)
def test_mogrify_statement_matches_psycopg2(conn, pg2, sql, params):
    with conn.cursor() as c1, pg2.cursor() as c2:
        assert c1.mogrify(sql, params) == c2.mogrify(sql, params)


BAD_QUERIES = [
    ("mixed", "SELECT %s %(a)s", (1,)),
    ("missing-key", "SELECT %(a)s", {}),
    ("too-few", "SELECT %s, %s", (1,)),
    ("too-many", "SELECT %s", (1, 2)),
    ("bad-conversion", "SELECT %d", (1,)),
    ("incomplete", "SELECT %", (1,)),
    ("mapping-for-positional", "SELECT %s", {"a": 1}),
    ("sequence-for-named", "SELECT %(a)s", (1,)),
    ("string-as-params", "SELECT %s", "ab"),
    ("dict-value", "SELECT %s", ({"a": 1},)),
]


@pytest.mark.parametrize(
    "sql,params",
    [(q, p) for _, q, p in BAD_QUERIES],
    ids=[k for k, _, _ in BAD_QUERIES],
)
def test_parameter_errors_match_psycopg2(conn, pg2, sql, params):
    with pg2.cursor() as c2:
        with pytest.raises(Exception) as theirs:
            c2.mogrify(sql, params)
    with conn.cursor() as c1:
        with pytest.raises(Exception) as mine:
            c1.mogrify(sql, params)
    assert type(mine.value).__name__ == type(theirs.value).__name__
    assert str(mine.value) == str(theirs.value)


def test_uuid_parameter_accepted(conn):
    """pgpool accepts uuid.UUID (psycopg2 needs register_uuid())."""
    u = uuid.UUID("12345678-1234-5678-1234-567812345678")
    with conn.cursor() as cur:
        assert (
            cur.mogrify("%s", (u,)) == b"'12345678-1234-5678-1234-567812345678'::uuid"
        )
        cur.execute("SELECT %s::text", (u,))
        assert cur.fetchone() == (str(u),)
    conn.rollback()


HOSTILE = [
    "'",
    "''",
    "\\",
    "\\'",
    "'; DROP TABLE pgpool_never; --",
    "%s",
    "%(x)s",
    "%%",
    "$1",
    "$$",
    "$tag$",
    "/*",
    "--",
    "E'\\x41'",
    "\\x00",
    "é'ü\\\"",
    "\n'\r\t",
    "x" * 100000 + "'",
]


@pytest.mark.parametrize("value", HOSTILE, ids=range(len(HOSTILE)))
def test_hostile_strings_round_trip(conn, value):
    """A hostile string is one literal: it comes back unchanged, in one column."""
    with conn.cursor() as cur:
        cur.execute("SELECT %s, %s AS second", (value, "ok"))
        assert cur.fetchall() == [(value, "ok")]
        cur.execute("SELECT %(v)s, %(v)s", {"v": value})
        assert cur.fetchall() == [(value, value)]
        cur.execute("SELECT %s", ([value, value],))
        assert cur.fetchall() == [([value, value],)]
    conn.rollback()


@pytest.mark.parametrize("value", HOSTILE[:8], ids=range(8))
def test_hostile_strings_in_where_clause(conn, table, value):
    with conn.cursor() as cur:
        cur.execute(f"INSERT INTO {table} (val, note) VALUES (1, 'keep')")
        cur.execute(f"DELETE FROM {table} WHERE note = %s", (value,))
        assert cur.rowcount == 0
        cur.execute(f"SELECT count(*) FROM {table}")
        assert cur.fetchone() == (1,)
    conn.rollback()


def test_nul_in_parameter_is_a_clear_error(conn, pg2):
    with pg2.cursor() as c2:
        with pytest.raises(ValueError, match="NUL"):
            c2.execute("SELECT %s", ("a\x00b",))
    with conn.cursor() as cur:
        with pytest.raises(ValueError, match="NUL"):
            cur.execute("SELECT %s", ("a\x00b",))
        with pytest.raises(ValueError, match="NUL"):
            cur.mogrify("SELECT %s", (["ok", "a\x00b"],))
        # the connection is still usable and nothing ran
        cur.execute("SELECT 1")
        assert cur.fetchone() == (1,)
    conn.rollback()


def test_nul_in_query_is_a_clear_error(conn):
    """psycopg2 silently truncates the statement at a NUL; pgpool refuses it."""
    with conn.cursor() as cur:
        with pytest.raises(ValueError, match="NUL"):
            cur.execute("SELECT 'a\x00b'")
        cur.execute("SELECT 2")
        assert cur.fetchone() == (2,)
    conn.rollback()


def test_lone_surrogate_is_a_clear_error(conn, pg2):
    with pg2.cursor() as c2:
        with pytest.raises(UnicodeEncodeError):
            c2.execute("SELECT %s", ("\ud800",))
    with conn.cursor() as cur:
        with pytest.raises(UnicodeEncodeError):
            cur.execute("SELECT %s", ("\ud800",))
        with pytest.raises(UnicodeEncodeError):
            cur.execute("SELECT '\udfff'")
        with pytest.raises(UnicodeEncodeError):
            cur.execute("SELECT %(a)s", {"a": "x\ud800"})
        cur.execute("SELECT 3")
        assert cur.fetchone() == (3,)
    conn.rollback()


def test_negative_number_after_minus_is_not_a_comment(conn):
    with conn.cursor() as cur:
        cur.execute("SELECT 5 -%s", (-3,))
        assert cur.fetchone() == (8,)
        cur.execute("SELECT 5 -%s", (decimal.Decimal("-3"),))
        assert cur.fetchone() == (decimal.Decimal("8"),)
    conn.rollback()


def test_parameters_in_places_server_binding_cannot_go(conn):
    with conn.cursor() as cur:
        cur.execute("SET LOCAL application_name TO %s", ("pgpool-test",))
        cur.execute("SHOW application_name")
        assert cur.fetchone() == ("pgpool-test",)
        cur.execute(
            "CREATE TEMP TABLE pgpool_defaults (x text DEFAULT %s) ON COMMIT DROP",
            ("d'f",),
        )
        cur.execute(
            "INSERT INTO pgpool_defaults DEFAULT VALUES; SELECT x FROM pgpool_defaults"
        )
        assert cur.fetchone() == ("d'f",)
    conn.rollback()


def test_query_as_bytes(conn, pg2):
    with conn.cursor() as c1, pg2.cursor() as c2:
        assert c1.mogrify(b"SELECT %s", ("é",)) == c2.mogrify(b"SELECT %s", ("é",))
        c1.execute(b"SELECT %s", (1,))
        assert c1.fetchone() == (1,)
    conn.rollback()


def test_bad_query_type(conn):
    with conn.cursor() as cur:
        with pytest.raises(TypeError):
            cur.execute(42)  # type: ignore[arg-type]


def test_adapter_protocol_getquoted(conn):
    from pgpool.extensions import AsIs, QuotedString

    with conn.cursor() as cur:
        assert cur.mogrify("SELECT %s", (AsIs("1 + 1"),)) == b"SELECT 1 + 1"
        assert cur.mogrify("SELECT %s", (QuotedString("it's"),)) == b"SELECT 'it''s'"
        cur.execute("SELECT %s, %s", (AsIs("2 * 3"), QuotedString("x'y")))
        assert cur.fetchone() == (6, "x'y")
    conn.rollback()


def test_json_parameter_round_trip(conn):
    doc = {"k": ["v", 1, None, True, 2.5], "q": "it's \\ é"}
    with conn.cursor() as cur:
        cur.execute("SELECT %s::jsonb, %s::json", (Json(doc), Json([doc])))
        assert cur.fetchone() == (doc, [doc])
        cur.execute("SELECT %s::jsonb", (Json(doc, dumps=lambda o: '{"custom": 1}'),))
        assert cur.fetchone() == ({"custom": 1},)
    conn.rollback()


def test_json_getquoted():
    assert Json({"a": "it's"}).getquoted() == b"""'{"a": "it''s"}'"""
    assert Json([1, None]).getquoted() == b"'[1, null]'"
    assert Json("é").getquoted() == b"""'"\\u00e9"'"""

    class Custom(Json):
        def dumps(self, obj):
            return "[42]"

    assert Custom(None).getquoted() == b"'[42]'"
    with pytest.raises(ValueError, match="NUL"):
        Json(None, dumps=lambda o: "\x00").getquoted()


def test_param_error_leaves_no_statement_running(conn, table):
    with conn.cursor() as cur:
        with pytest.raises(KeyError):
            cur.execute(f"INSERT INTO {table} (val) VALUES (%(missing)s)", {"other": 1})
        cur.execute(f"SELECT count(*) FROM {table}")
        assert cur.fetchone() == (0,)
    conn.rollback()
