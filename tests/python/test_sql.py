"""``pgpool.sql`` against ``psycopg2.sql``: the same objects give the same text, repr,
equality and errors, and run the same through a cursor."""

from __future__ import annotations

import datetime
import decimal
import io
from typing import Any, Callable

import psycopg2
import psycopg2.extensions
import psycopg2.sql
import pytest

import pgpool
from _helpers import same
from pgpool import sql


def build(m: Any) -> dict[str, Any]:
    """The same statements, built with module ``m`` (pgpool.sql or psycopg2.sql)."""
    cols = [m.Identifier("id"), m.Identifier('weird "name"'), m.Identifier("s", "t")]
    return {
        "select": m.SQL("SELECT {fields} FROM {table} WHERE {k} = %s").format(
            fields=m.SQL(", ").join(cols),
            table=m.Identifier("public", "my table"),
            k=m.Identifier("id"),
        ),
        "positional": m.SQL("{0} {1} {0}").format(m.SQL("a"), m.Literal(1)),
        "automatic": m.SQL("{}+{}").format(m.Literal(1), m.Literal(2)),
        "braces": m.SQL("{{literal}} {}").format(m.SQL("x")),
        "placeholders": m.SQL("INSERT INTO t VALUES ({})").format(
            m.SQL(", ").join([m.Placeholder("a"), m.Placeholder("b")])
        ),
        "anon": m.SQL(", ").join(m.Placeholder() * 3),
        "null_default": m.Composed([m.NULL, m.SQL(" "), m.DEFAULT]),
        "added": m.SQL("SELECT ") + m.Literal("x") + m.SQL(" AS ") + m.Identifier("c"),
        "composed_join": m.Composed([m.Literal(1), m.Literal(2)]).join(", "),
        "empty_join": m.SQL(", ").join([]),
    }


LITERALS = [
    "it's",
    "back\\slash",
    "",
    "ünïcödé ☃",
    None,
    True,
    42,
    -1.5,
    decimal.Decimal("12.30"),
    datetime.date(2024, 2, 29),
    datetime.datetime(2024, 1, 2, 3, 4, 5, 600000),
    [1, 2, 3],
    ["a", None],
]


def test_as_string_and_repr_match_psycopg2(pg2):
    mine, theirs = build(sql), build(psycopg2.sql)
    for key in theirs:
        assert mine[key].as_string(None) == theirs[key].as_string(pg2), key
        assert repr(mine[key]) == repr(theirs[key]), key


@pytest.mark.parametrize("value", LITERALS, ids=range(len(LITERALS)))
def test_literals_render_as_psycopg2(pg2, value):
    assert sql.Literal(value).as_string(None) == psycopg2.sql.Literal(value).as_string(
        pg2
    )

    def quoted(ext: Any) -> Any:
        # adapt(str) is a QuotedString encoding with latin1 until prepared: a character
        # latin1 lacks raises, in both.
        try:
            return ext.adapt(value).getquoted()
        except UnicodeEncodeError:
            return UnicodeEncodeError

    assert quoted(pgpool.extensions) == (
        quoted(psycopg2.extensions)
        if not isinstance(value, list)
        else psycopg2.sql.Literal(value).as_string(pg2).encode()
    )


def test_statements_run_the_same(conn, pg2):
    def run(c: Any, m: Any) -> list[Any]:
        with c.cursor() as cur:
            q = m.SQL("SELECT {a}, {b}, %(p)s, {n} FROM {t} WHERE {c} = %(q)s").format(
                a=m.Identifier("relname"),
                b=m.Literal("lit'eral"),
                n=m.NULL,
                t=m.Identifier("pg_catalog", "pg_class"),
                c=m.Identifier("relname"),
            )
            cur.execute(q, {"p": "param", "q": "pg_class"})
            rows = cur.fetchall()
            text = cur.mogrify(m.SQL("SELECT {}").format(m.Literal(5)))
            buf = io.StringIO()
            cur.copy_expert(
                m.SQL("COPY (SELECT {} AS {}) TO STDOUT").format(
                    m.Literal("x"), m.Identifier("col")
                ),
                buf,
            )
        c.rollback()
        return [rows, text, buf.getvalue()]

    same(run(conn, sql), run(pg2, psycopg2.sql))


def test_properties_equality_and_iteration():
    for m in (sql, psycopg2.sql):
        ident = m.Identifier("a", "b")
        assert ident.strings == ("a", "b")
        assert m.Identifier("a").string == "a"
        assert m.SQL("x").string == "x"
        assert m.Literal(3).wrapped == 3
        assert m.Placeholder("n").name == "n" and m.Placeholder().name is None
        assert m.SQL("x") == m.SQL("x") and m.SQL("x") != m.SQL("y")
        assert m.SQL("x") != m.Literal("x")
        assert m.Identifier("a") == m.Identifier("a")
        composed = m.SQL("a") + m.SQL("b")
        assert list(composed) == [m.SQL("a"), m.SQL("b")] == composed.seq
        assert composed + m.Composed([m.SQL("c")]) == m.Composed(
            [m.SQL("a"), m.SQL("b"), m.SQL("c")]
        )


def _err(f: Callable[[], Any]) -> Any:
    try:
        f()
    except Exception as e:  # noqa: BLE001 - compared between the two modules
        return type(e).__name__
    return None


MISUSES: list[Callable[[Any], Any]] = [
    lambda m: m.SQL(b"bytes"),
    lambda m: m.SQL(1),
    lambda m: m.Identifier(),
    lambda m: m.Identifier("a", 1),
    lambda m: m.Identifier("a", "b").string,
    lambda m: m.Placeholder("bad)name"),
    lambda m: m.Placeholder(1),
    lambda m: m.Composed(["not composable"]),
    lambda m: m.SQL("{0} {}").format(m.SQL("a"), m.SQL("b")),
    lambda m: m.SQL("{} {0}").format(m.SQL("a"), m.SQL("b")),
    lambda m: m.SQL("{:>10}").format(m.SQL("a")),
    lambda m: m.SQL("{!r}").format(m.SQL("a")),
    lambda m: m.SQL("{} {}").format(m.SQL("a")),
    lambda m: m.SQL("{x}").format(y=m.SQL("a")),
    lambda m: m.SQL("{}").format("not composable").as_string(None),
    lambda m: m.Composed([m.SQL("a")]).join(5),
    lambda m: m.SQL("a") + "str",
    lambda m: hash(m.SQL("a")),
]


@pytest.mark.parametrize("misuse", MISUSES, ids=range(len(MISUSES)))
def test_misuse_raises_what_psycopg2_raises(misuse):
    assert _err(lambda: misuse(sql)) == _err(lambda: misuse(psycopg2.sql))


def test_a_composable_where_a_string_is_expected_by_execute(conn):
    with conn.cursor() as cur:
        with pytest.raises(TypeError, match="must be a string"):
            cur.execute(123)
        cur.execute(sql.SQL("SELECT {}").format(sql.Literal(None)))
        assert cur.fetchone() == (None,)
        cur.executemany(
            sql.SQL("SELECT {}, %s").format(sql.Literal(1)),
            [(1,), (2,)],
        )
    conn.rollback()
