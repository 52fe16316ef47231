"""User typecasters and adapters (``register_type``, ``new_type``, ``new_array_type``,
``register_uuid``, ``register_default_json(b)``, ``register_adapter``) against psycopg2.

Global registrations last for the process: they run in a child process here, so that
the rest of the suite sees the default decoding."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import uuid
from decimal import Decimal
from typing import Any

import psycopg2
import psycopg2.extensions
import psycopg2.extras
import pytest

import pgpool
from _helpers import run_both, same
from pgpool import extensions, extras


def pair(mod: Any) -> tuple[Any, Any]:
    """(extensions, extras) of pgpool or psycopg2."""
    if mod is pgpool:
        return extensions, extras
    return psycopg2.extensions, psycopg2.extras


def test_predefined_typecasters_match_psycopg2():
    for name in ("INTEGER", "LONGINTEGER", "FLOAT", "DECIMAL", "BOOLEAN", "UNICODE",
                 "DATE", "TIME", "INTERVAL", "PYDATE", "PYDATETIME", "PYDATETIMETZ",
                 "PYTIME", "PYINTERVAL", "JSON", "JSONB", "INTEGERARRAY",
                 "DECIMALARRAY", "UNICODEARRAY"):  # fmt: skip
        mine, theirs = getattr(extensions, name), getattr(psycopg2.extensions, name)
        assert (mine.values, mine.name) == (theirs.values, theirs.name), name
    same(extensions.DECIMAL("1.50", None), psycopg2.extensions.DECIMAL("1.50", None))
    same(extensions.INTEGER("42", None), psycopg2.extensions.INTEGER("42", None))
    same(
        extensions.DATE("2024-02-29", None),
        psycopg2.extensions.DATE("2024-02-29", None),
    )
    assert extensions.DECIMAL(None, None) is None


def test_dec2float_on_one_connection(conn, pg2):
    """The classic recipe: numeric as float instead of Decimal."""

    def script(c, mod):
        ext, _ = pair(mod)
        dec2float = ext.new_type(
            ext.DECIMAL.values,
            "DEC2FLOAT",
            lambda value, curs: float(value) if value is not None else None,
        )
        ext.register_type(dec2float, c)
        with c.cursor() as cur:
            cur.execute(
                "SELECT 1.5::numeric, NULL::numeric, 2::int, '{1.5,2.5}'::numeric[]"
            )
            return [cur.fetchone(), dec2float.name, dec2float.values]

    mine, theirs = run_both(conn, pg2, script)
    same(mine, theirs)
    assert mine[0][:3] == (1.5, None, 2)
    # another connection is not affected
    with pgpool.connect(os.environ["DATABASE_URL"]) as other, other.cursor() as cur:
        cur.execute("SELECT 1.5::numeric")
        assert cur.fetchone() == (Decimal("1.5"),)


def test_array_typecaster_and_cursor_scope(conn, pg2):
    def script(c, mod):
        ext, _ = pair(mod)
        base = ext.new_type(
            (1700,), "D2S", lambda v, cur: None if v is None else "n" + v
        )
        arr = ext.new_array_type((1231,), "D2SARRAY", base)
        with c.cursor() as cur1, c.cursor() as cur2:
            ext.register_type(base, cur1)
            ext.register_type(arr, cur1)
            sql = "SELECT 1.5, '{{1,NULL},{\"2.5\",3}}'::numeric[], NULL::numeric[]"
            cur1.execute(sql)
            cur2.execute(sql)
            return [cur1.fetchall(), cur2.fetchall()]

    mine, theirs = run_both(conn, pg2, script)
    same(mine, theirs)
    assert mine[0][0][1] == [["n1", None], ["n2.5", "n3"]]


def test_caster_gets_the_cursor_and_its_errors_surface_at_fetch(conn, pg2):
    def script(c, mod):
        ext, _ = pair(mod)
        seen = []

        def cast(v, cur):
            seen.append(cur is mine_cur)
            if v == "boom":
                raise ValueError("bad value: " + v)
            return v.upper() if v is not None else None

        t = ext.new_type((25,), "UPPER", cast)
        mine_cur = c.cursor()
        ext.register_type(t, mine_cur)
        mine_cur.execute(
            "SELECT 'a'::text UNION ALL SELECT 'boom' UNION ALL SELECT 'c'"
        )
        first = mine_cur.fetchone()
        try:
            mine_cur.fetchone()
            err = None
        except ValueError as e:
            err = str(e)
        rest = mine_cur.fetchall()
        return [first, err, rest, all(seen), mine_cur.rownumber]

    mine, theirs = run_both(conn, pg2, script)
    assert mine == theirs


def test_register_uuid_and_jsonb_on_a_connection(conn, pg2):
    def script(c, mod):
        _, ex = pair(mod)
        caster = ex.register_uuid(conn_or_curs=c)
        ex.register_default_jsonb(c, loads=lambda s: ("loaded", json.loads(s)))
        with c.cursor() as cur:
            cur.execute(
                "SELECT '0e6b2b8a-5b8f-4a55-9d2c-1a2b3c4d5e6f'::uuid,"
                " ARRAY['0e6b2b8a-5b8f-4a55-9d2c-1a2b3c4d5e6f'::uuid, NULL],"
                """ '{"a": [1, 2]}'::jsonb, NULL::jsonb, '{"j": 1}'::json"""
            )
            return [cur.fetchone(), caster.values, caster.name]

    mine, theirs = run_both(conn, pg2, script)
    same(mine, theirs)
    u = uuid.UUID("0e6b2b8a-5b8f-4a55-9d2c-1a2b3c4d5e6f")
    assert mine[0][:2] == (u, [u, None])
    assert mine[0][2] == ("loaded", {"a": [1, 2]})


def test_misuse():
    with pytest.raises(TypeError):
        extensions.register_type("not a caster")
    with pytest.raises(TypeError):
        extensions.register_type(extensions.new_type((25,), "X", None), object())
    with pytest.raises(TypeError):
        extensions.new_type((25,), "X", "not callable")
    with pytest.raises(TypeError):
        extensions.register_adapter("not a type", str)


GLOBAL_SCRIPT = textwrap.dedent(
    """
    import json, os, sys
    mod = __import__(sys.argv[1])
    if sys.argv[1] == "pgpool":
        from pgpool import extensions as ext, extras as ex
    else:
        import psycopg2.extensions as ext, psycopg2.extras as ex

    class Point:
        def __init__(self, x, y):
            self.x, self.y = x, y

    class Point3(Point):
        pass

    ext.register_adapter(dict, ex.Json)
    ext.register_adapter(Point, lambda p: ext.AsIs("point(%s, %s)" % (p.x, p.y)))
    ext.register_type(ext.new_type((1700,), "D2F", lambda v, c: None if v is None else float(v)))
    conn = mod.connect(os.environ["DATABASE_URL"])
    cur = conn.cursor()
    out = []
    cur.execute("SELECT %s::jsonb, %s::text, %s::text, 2.5::numeric", ({"a": [1, None]}, Point(1, 2), Point3(3, 4)))
    out.append(cur.fetchone())
    out.append(cur.mogrify("%s", ({"k": "it's"},)).decode())
    cur.execute("SELECT g::numeric / 4 FROM generate_series(1, 40000) g")
    rows = cur.fetchall()
    out.append([len(rows), rows[0], rows[-1], type(rows[1][0]).__name__])
    class Unknown: pass
    try:
        cur.execute("SELECT %s", (Unknown(),))
    except Exception as e:
        out.append(type(e).__name__)
    print(json.dumps(out, default=str))
    """
)


def test_global_registrations_in_a_fresh_process(direct_dsn):
    outs = []
    for mod in ("pgpool", "psycopg2"):
        env = dict(os.environ, DATABASE_URL=direct_dsn)
        p = subprocess.run(
            [sys.executable, "-c", GLOBAL_SCRIPT, mod],
            capture_output=True,
            text=True,
            env=env,
            timeout=60,
        )
        assert p.returncode == 0, p.stderr
        outs.append(json.loads(p.stdout))
    assert outs[0] == outs[1]
    assert outs[0][2][:2] == [40000, [0.25]]
