"""psycopg2's type extras in pgpool: ``extensions.adapters`` / ``string_types`` as
restorable mappings, ``adapt(obj, proto, alt)``, hstore, composite types, ranges of
user-defined range types, ``Inet`` / ``register_ipaddress``, ``NamedTupleCursor``'s
class cache, the DB-API constructors' adapter API and ``psycopg2._psycopg``.

Registrations that are global (``register_hstore`` adapts every dict,
``register_ipaddress``, ``register_type`` without a scope) run in a child process, so
that the rest of the suite sees the default adaptation."""

from __future__ import annotations

import datetime
import ipaddress
import os
import subprocess
import sys
import textwrap
import uuid

import pytest

import pgpool
from pgpool import extensions, extras


def run_child(code: str, dsn: str) -> str:
    """Run ``code`` in a fresh interpreter (``DATABASE_URL`` set); its stdout."""
    env = dict(os.environ, DATABASE_URL=dsn)
    p = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    assert p.returncode == 0, p.stderr
    return p.stdout


def unique(prefix: str) -> str:
    return f"{prefix}_{uuid.uuid4().hex[:10]}"


# ---------------------------------------------------------------------------
# adapt() and the registries


def test_adapt_protocol_and_errors():
    assert extensions.adapt(None).getquoted() == b"NULL"
    assert extensions.adapt(42).getquoted() == b"42"
    assert extensions.adapt(datetime.date(2020, 1, 2)).adapted == datetime.date(
        2020, 1, 2
    )

    class Foo:
        pass

    with pytest.raises(pgpool.ProgrammingError, match="can't adapt type 'Foo'"):
        extensions.adapt(Foo(), extensions.ISQLQuote, None)
    alt = object()
    assert extensions.adapt(Foo(), extensions.ISQLQuote, alt) is alt

    class Conforming(tuple):  # type: ignore[type-arg]
        def __conform__(self, proto: object) -> Conforming:
            return self

        def getquoted(self) -> str:
            return "bar"

    # __conform__ wins over the adapter of a base class (tuple)
    assert extensions.adapt(Conforming((1, 2))).getquoted() == "bar"


def test_adapters_mapping_can_be_restored(conn):
    class A:
        pass

    class B(A):
        pass

    saved = extensions.adapters.copy()
    try:
        extensions.register_adapter(A, lambda a: extensions.AsIs("'a'"))
        assert (A, extensions.ISQLQuote) in extensions.adapters
        assert extensions.adapt(B()).getquoted() == b"'a'"
        with conn.cursor() as cur:
            assert cur.mogrify("SELECT %s", (B(),)) == b"SELECT 'a'"
            extensions.adapters.clear()
            extensions.adapters.update(saved)
            # removed again: as if it had never been registered
            with pytest.raises(pgpool.ProgrammingError, match="can't adapt"):
                cur.mogrify("SELECT %s", (B(),))
            assert cur.mogrify("SELECT %s, %s", (1, "x")) == b"SELECT 1, 'x'"
    finally:
        extensions.adapters.clear()
        extensions.adapters.update(saved)


def test_removed_adapter_of_a_builtin_type_falls_back(conn):
    class MyInt(int):
        pass

    saved = extensions.adapters.copy()
    try:
        extensions.register_adapter(MyInt, lambda v: extensions.AsIs("'mine'"))
        with conn.cursor() as cur:
            assert cur.mogrify("%s", (MyInt(3),)) == b"'mine'"
            del extensions.adapters[MyInt, extensions.ISQLQuote]
            assert cur.mogrify("%s", (MyInt(3),)) == b"3"
            assert cur.mogrify("%s", ([MyInt(-3)],)) == b"ARRAY[ -3]"
    finally:
        extensions.adapters.clear()
        extensions.adapters.update(saved)


def test_string_types_and_predefined_casters(conn):
    assert extensions.string_types[23] is extensions.INTEGER
    assert extensions.STRINGARRAY("{a,b}", None) == ["a", "b"]
    for bad in ("", "{", "{}}", "{" * 20 + "}" * 20):
        with pytest.raises(pgpool.DataError):
            extensions.STRINGARRAY(bad.encode(), None)
    extensions.register_type(extensions.BYTESARRAY, conn)
    with conn.cursor() as cur:
        cur.execute("SELECT '{a,b}'::text[], 'x'::text")
        assert cur.fetchone() == ([b"a", b"b"], "x")
    conn.rollback()


def test_interval_overflow(conn):
    cur = conn.cursor()
    extensions.register_type(
        extensions.new_type(pgpool.STRING.values, "WAT", extensions.INTERVAL), cur
    )
    for text in ("100000000000000000:00:00", "00:00:00.100000000000000000"):
        cur.execute(f"SELECT '{text}'::text")
        with pytest.raises(OverflowError):
            cur.fetchone()
    cur.execute("SELECT '1 day 02:00:00'::text")
    assert cur.fetchone()[0] == datetime.timedelta(days=1, hours=2)
    conn.rollback()


def test_global_registrations_are_undone_by_removing_them(direct_dsn):
    out = run_child(
        """
        import os, pgpool
        from pgpool import extensions as ext
        conn = pgpool.connect(os.environ["DATABASE_URL"])
        cur = conn.cursor()
        saved = ext.string_types.copy()
        ext.register_type(ext.new_type((23,), "X", lambda v, c: "cast " + v))
        cur.execute("SELECT 1")
        print(cur.fetchone()[0])
        ext.string_types.clear()
        ext.string_types.update(saved)
        cur.execute("SELECT 1")
        print(cur.fetchone()[0])
        """,
        direct_dsn,
    )
    assert out.split("\n")[:2] == ["cast 1", "1"]


# ---------------------------------------------------------------------------
# hstore


def test_hstore_parse():
    parse = extras.HstoreAdapter.parse
    assert parse(None, None) is None
    assert parse("", None) == {}
    assert parse('"a"  => "1" , "b"=>NULL', None) == {"a": "1", "b": None}
    assert parse(r'"a\\\""=>"1"', None) == {'a\\"': "1"}
    for bad in ("a", '"a"', r'"a\\""=>"1"', '"a=>"1"', '"a"=>"1", "b"=>NUL'):
        with pytest.raises(pgpool.InterfaceError):
            parse(bad, None)


def test_hstore_adapter_sql():
    q = extras.HstoreAdapter({"a": "1", "b": "'", "c": None}).getquoted()
    assert q == b"hstore(ARRAY['a','b','c'], ARRAY['1','''',NULL])"
    assert extras.HstoreAdapter({}).getquoted() == b"''::hstore"


def test_register_hstore_round_trip(direct_dsn, admin):
    with admin.cursor() as cur:  # type: ignore[attr-defined]
        try:
            cur.execute("CREATE EXTENSION IF NOT EXISTS hstore")
        except Exception as e:  # noqa: BLE001
            pytest.skip(f"hstore not available: {e}")
    out = run_child(
        """
        import os, pgpool
        from pgpool import extras
        conn = pgpool.connect(os.environ["DATABASE_URL"])
        print(conn.status, bool(extras.HstoreAdapter.get_oids(conn)[0]), conn.status)
        extras.register_hstore(conn)
        cur = conn.cursor()
        d = {"a": "b", "c": None, "q'\\\\\\"": "x"}
        cur.execute("SELECT %s, %s, NULL::hstore", (d, [d, {}]))
        print(cur.fetchone() == (d, [d, {}], None))
        """,
        direct_dsn,
    )
    assert out.split("\n")[:2] == ["1 True 1", "True"]


# ---------------------------------------------------------------------------
# composite types


def test_composite_tokenize():
    tok = extras.CompositeCaster.tokenize
    assert tok("(,)") == [None, None]
    assert tok('(,"")') == [None, ""]
    assert tok('(10,"(20,""(30,40)"")")') == ["10", '(20,"(30,40)")']
    assert tok(r'(10,"\\")') == ["10", "\\"]


def test_register_composite(conn, admin):
    name = unique("pgpool_comp")
    with admin.cursor() as cur:  # type: ignore[attr-defined]
        cur.execute(f"CREATE TYPE {name} AS (anint int, astring text, adate date)")
    try:
        t = extras.register_composite(name, conn)
        assert (t.name, t.schema) == (name, "public")
        assert t.attnames == ["anint", "astring", "adate"]
        assert t.atttypes == [23, 25, 1082]
        assert conn.status == extensions.STATUS_READY
        r = (10, "he said \"hi\", 'yo'", datetime.date(2011, 1, 2))
        with conn.cursor() as cur:
            cur.execute(f"SELECT %s::{name}, %s::{name}[]", (r, [r, r]))
            v, arr = cur.fetchone()
        assert isinstance(v, t.type) and v == r and v.astring == r[1]
        assert arr == [r, r]

        class DictComposite(extras.CompositeCaster):
            def make(self, values):  # type: ignore[no-untyped-def]
                return dict(zip(self.attnames, values))

        extras.register_composite(name, conn, factory=DictComposite)
        with conn.cursor() as cur:
            cur.execute(f"SELECT %s::{name}", (r,))
            assert cur.fetchone()[0] == dict(zip(t.attnames, r))
        with pytest.raises(pgpool.ProgrammingError):
            extras.register_composite("pgpool_nosuchtype", conn)
        conn.rollback()
    finally:
        conn.rollback()
        with admin.cursor() as cur:  # type: ignore[attr-defined]
            cur.execute(f"DROP TYPE {name} CASCADE")


# ---------------------------------------------------------------------------
# ranges of user-defined types


def test_register_range(conn, admin):
    name = unique("pgpool_textrange")
    with admin.cursor() as cur:  # type: ignore[attr-defined]
        cur.execute(f"CREATE TYPE {name} AS RANGE (subtype = text)")
    saved = extensions.adapters.copy()
    try:
        rc = extras.register_range(name, "TextRange", conn)
        TextRange = rc.range
        assert issubclass(TextRange, extras.Range)
        assert TextRange.__name__ == "TextRange"
        assert conn.status == extensions.STATUS_READY
        r = TextRange('a"', "b,\\", "(]")
        with conn.cursor() as cur:
            cur.execute("SELECT %s, %s", (r, [r, TextRange(empty=True)]))
            one, many = cur.fetchone()
        assert one == r and many == [r, TextRange(empty=True)]
        with pytest.raises(pgpool.ProgrammingError):
            extras.register_range("pgpool_nosuchrange", "X", conn)
    finally:
        extensions.adapters.clear()
        extensions.adapters.update(saved)
        conn.rollback()
        with admin.cursor() as cur:  # type: ignore[attr-defined]
            cur.execute(f"DROP TYPE {name} CASCADE")


# ---------------------------------------------------------------------------
# network addresses


def test_inet(conn):
    i = extras.Inet("192.168.1.0/24")
    assert extensions.adapt(i).getquoted() == b"'192.168.1.0/24'::inet"
    with pytest.warns(DeprecationWarning):
        extras.register_inet(None, conn)
    with conn.cursor() as cur:
        cur.execute("SELECT %s, %s, NULL::inet", (i, [i]))
        a, b, c = cur.fetchone()
    assert a.addr == i.addr and b[0].addr == i.addr and c is None
    conn.rollback()


def test_register_ipaddress(direct_dsn):
    out = run_child(
        """
        import ipaddress as ip, os, pgpool
        from pgpool import extras
        conn = pgpool.connect(os.environ["DATABASE_URL"])
        cur = conn.cursor()
        extras.register_ipaddress(cur)
        cur.execute("SELECT '127.0.0.1/24'::inet, '10.0.0.0/8'::cidr, "
                    "'{NULL,::1}'::inet[], %s", (ip.ip_network("10.0.0.0/8"),))
        print(repr(cur.fetchone()))
        """,
        direct_dsn,
    )
    ns = {"IPv4Interface": ipaddress.IPv4Interface,
          "IPv4Network": ipaddress.IPv4Network,
          "IPv6Interface": ipaddress.IPv6Interface}  # fmt: skip
    assert eval(out, ns) == (
        ipaddress.ip_interface("127.0.0.1/24"),
        ipaddress.ip_network("10.0.0.0/8"),
        [None, ipaddress.ip_interface("::1")],
        "10.0.0.0/8",
    )


# ---------------------------------------------------------------------------
# Json, NamedTupleCursor, DB-API constructors, psycopg2._psycopg


def test_json_follows_the_connection_quoting(direct_dsn, admin):
    # (a startup option: PgBouncer would not pass it on)
    off = pgpool.connect(direct_dsn, options="-c standard_conforming_strings=off")
    try:
        with off.cursor() as cur:
            q = cur.mogrify("%s", [extras.Json({"a": '"'})])
            assert q == b'E\'{"a": "\\\\""}\''
            cur.execute("SELECT %s::json", [extras.Json({"a": '"'})])
            assert cur.fetchone()[0] == {"a": '"'}
    finally:
        off.close()


def test_get_json_oids(conn):
    from pgpool.psycopg2._json import _get_json_oids

    assert _get_json_oids(conn) == (114, 199)
    assert _get_json_oids(conn, "jsonb") == (3802, 3807)
    assert conn.status == extensions.STATUS_READY


def test_namedtuple_cursor_class_cache(conn):
    nt = extras.NamedTupleCursor
    nt._cached_make_nt.cache_clear()  # type: ignore[attr-defined]
    with conn.cursor(cursor_factory=nt) as cur:
        cur.execute('SELECT 1 AS a, 2 AS b, 3 AS "1x"')
        r1 = cur.fetchone()
        cur.execute('SELECT 5 AS a, 6 AS b, 7 AS "1x"')
        r2 = cur.fetchall()[0]
    assert type(r1) is type(r2) and r1.f1x == 3 and r2.a == 5
    info = nt._cached_make_nt.cache_info()  # type: ignore[attr-defined]
    assert (info.hits, info.misses) == (1, 1)
    conn.rollback()


def test_dbapi_constructors_adapter_api(conn):
    b = pgpool.Binary(b"\x00'x")
    assert b == b"\x00'x" and b.adapted == b"\x00'x"
    assert str(pgpool.Binary(b"")) == "''::bytea"
    assert pgpool.Binary(None).getquoted() == b"NULL"
    ts = pgpool.TimestampFromTicks(1273173119.99992)
    assert isinstance(ts, datetime.datetime) and type(ts.adapted) is datetime.datetime
    assert pgpool.DateFromTicks(0).adapted == datetime.date.fromtimestamp(0)
    t = pgpool.TimeFromTicks(1273173119.99992)
    assert t.adapted.microsecond == 999920
    with conn.cursor() as cur:
        cur.execute("SELECT %s::bytea, %s::bytea, %s", (b, pgpool.Binary(None), ts))
        row = cur.fetchone()
    assert bytes(row[0]) == b"\x00'x" and row[1] is None and row[2] == ts
    conn.rollback()


def test_psycopg2_psycopg_module():
    import pgpool.psycopg2 as pg2
    from pgpool.psycopg2 import _psycopg

    assert pg2._SUBMODULES["_psycopg"] is _psycopg
    assert _psycopg.connection is extensions.connection
    assert _psycopg.adapters is extensions.adapters
    assert _psycopg.STRINGARRAY is extensions.STRINGARRAY
