"""Named (server-side) cursors, ``conn.cursor(name)``: DECLARE / FETCH / MOVE / CLOSE as
psycopg2 sends them, checked against psycopg2 on the same server (direct and, inside a
transaction, through PgBouncer in transaction mode)."""

from __future__ import annotations

import io
from typing import Any, Callable

import psycopg2
import psycopg2.extras
import pytest

import pgpool
from _helpers import run_both, same
from pgpool import extras


def outcome(f: Callable[[], Any]) -> Any:
    """What a step returned, or the class name and message of what it raised."""
    try:
        return ("ok", f())
    except Exception as e:  # noqa: BLE001 - the outcome is what is compared
        return ("raised", type(e).__name__, str(e).split("\n")[0])


def state(cur) -> tuple:
    desc = None if cur.description is None else [tuple(d) for d in cur.description]
    return (cur.rowcount, cur.rownumber, cur.statusmessage, desc)


def test_fetch_calls_and_attributes(conn, pg2):
    def script(c, mod):
        cur = c.cursor("my cursor")
        steps = [state(cur), cur.name, cur.itersize, cur.withhold, cur.scrollable]
        cur.execute("SELECT g, g::text AS t FROM generate_series(1, %s) g", (10,))
        steps += [cur.query, state(cur)]
        steps += [cur.fetchone(), state(cur)]
        steps += [cur.fetchmany(3), state(cur)]
        steps += [cur.fetchmany(0), state(cur)]
        cur.scroll(1)
        steps += [state(cur)]
        steps += [cur.fetchall(), state(cur)]
        steps += [cur.fetchone(), cur.fetchall(), cur.fetchmany(2), state(cur)]
        cur.scroll(-2)
        steps += [cur.fetchone(), state(cur)]
        steps += [outcome(lambda: cur.execute("SELECT 1"))]
        cur.close()
        steps += [cur.closed, cur.statusmessage, outcome(cur.fetchone)]
        return steps

    mine, theirs = run_both(conn, pg2, script)
    same(mine, theirs)


def test_iteration_in_itersize_batches(conn, pg2):
    def script(c, mod):
        cur = c.cursor("it")
        cur.itersize = 7
        cur.execute("SELECT g, g * 2 FROM generate_series(1, 50) g")
        rows = [r for r in cur]
        return [rows, state(cur), list(cur)]

    mine, theirs = run_both(conn, pg2, script)
    same(mine, theirs)
    assert len(mine[0]) == 50


def test_a_large_result_through_a_named_cursor(conn, pg2):
    sql = (
        "SELECT g, 'row ' || g, g * 0.25::float8, (g / 3.0)::numeric(10, 2)"
        " FROM generate_series(1, 30000) g"
    )

    def script(c, mod):
        cur = c.cursor("big")
        cur.execute(sql)
        head = cur.fetchmany(1000)
        rest = cur.fetchall()
        return [head[:3], len(head), rest[-3:], len(rest), state(cur)]

    mine, theirs = run_both(conn, pg2, script)
    same(mine, theirs)


@pytest.mark.parametrize(
    "factory", ["DictCursor", "RealDictCursor", "NamedTupleCursor"]
)
def test_extras_cursors_with_a_name(conn, pg2, factory):
    def script(c, mod):
        m = extras if mod is pgpool else psycopg2.extras
        cur = c.cursor("x", cursor_factory=getattr(m, factory))
        cur.execute("SELECT 1 AS a, 'b' AS b UNION ALL SELECT 2, 'c'")
        rows = cur.fetchall()
        plain = [
            dict(r) if factory != "NamedTupleCursor" else r._asdict() for r in rows
        ]
        return [plain, cur.name]

    mine, theirs = run_both(conn, pg2, script)
    assert mine == theirs


def test_declare_text_for_withhold_and_scrollable(conn, pg2):
    def script(c, mod):
        out = []
        for i, kw in enumerate(
            [
                {},
                {"scrollable": True},
                {"scrollable": False},
                {"withhold": True},
                {"withhold": True, "scrollable": True},
            ]  # fmt: skip
        ):
            cur = c.cursor(f'c{i} "q"', **kw)
            cur.execute("SELECT %s", ("x",))
            out.append((cur.query, cur.withhold, cur.scrollable, cur.fetchall()))
            cur.close()
        return out

    mine, theirs = run_both(conn, pg2, script)
    assert mine == theirs


def test_scroll_absolute_on_a_scrollable_cursor(conn, pg2):
    def script(c, mod):
        cur = c.cursor("sc", scrollable=True)
        cur.execute("SELECT g FROM generate_series(1, 5) g")
        out = [cur.fetchall()]
        cur.scroll(0, mode="absolute")
        out += [cur.fetchone(), state(cur)]
        cur.scroll(2, mode="absolute")
        out += [cur.fetchone()]
        cur.scroll(10, mode="absolute")
        out += [cur.fetchone(), outcome(lambda: cur.scroll(1, mode="sideways"))]
        return out

    mine, theirs = run_both(conn, pg2, script)
    same(mine, theirs)


def test_misuse_raises_what_psycopg2_raises(conn, pg2):
    def script(c, mod):
        out = []
        out.append(outcome(lambda: c.cursor(withhold=True)))
        out.append(outcome(lambda: c.cursor(scrollable=True)))
        plain = c.cursor()
        out.append(outcome(lambda: setattr(plain, "withhold", True)))
        out.append(outcome(lambda: setattr(plain, "scrollable", False)))
        cur = c.cursor("m")
        cur.execute("SELECT 1")
        out.append(outcome(lambda: cur.execute("SELECT 2")))
        out.append(outcome(lambda: cur.executemany("SELECT %s", [(1,)])))
        out.append(outcome(lambda: cur.callproc("now")))
        out.append(outcome(lambda: cur.mogrify("SELECT %s", (1,))))
        buf = io.StringIO()
        out.append(outcome(lambda: cur.copy_expert("COPY (SELECT 1) TO STDOUT", buf)))
        out.append(buf.getvalue())
        return out

    mine, theirs = run_both(conn, pg2, script)
    assert mine == theirs


def test_a_cursor_without_hold_ends_with_its_transaction(conn, pg2):
    def script(c, mod):
        out = []
        cur = c.cursor("tx")
        cur.execute("SELECT 1")
        c.commit()
        out.append(outcome(cur.fetchone))
        out.append(outcome(lambda: cur.scroll(1)))
        out.append(outcome(cur.close))
        cur = c.cursor("tx2")
        cur.execute("SELECT 1")
        c.rollback()
        out.append(outcome(lambda: list(cur)))
        late = c.cursor("late")
        c.commit()  # nothing to commit: the mark does not move
        out.append(outcome(lambda: late.execute("SELECT 3")))
        out.append(outcome(late.fetchall))
        return out

    mine, theirs = run_both(conn, pg2, script)
    assert mine == theirs


def test_with_hold_outlives_the_transaction(direct_dsn):
    """A WITH HOLD cursor lives in the server session, across transactions (directly:
    through PgBouncer in transaction mode the next transaction may use another server
    connection, for psycopg2 too)."""
    outs = []
    for mod in (pgpool, psycopg2):
        c = mod.connect(direct_dsn)
        try:
            cur = c.cursor("held", withhold=True)
            cur.execute("SELECT g FROM generate_series(1, 4) g")
            first = cur.fetchone()
            c.commit()
            rest = cur.fetchall()
            cur.close()
            c.autocommit = True
            ac = c.cursor("ac_held", withhold=True)
            ac.execute("SELECT 'in autocommit'")
            got = ac.fetchall()
            ac.close()
            plain = c.cursor("ac_plain")
            refused = outcome(lambda p=plain: p.execute("SELECT 1"))
            outs.append((first, rest, got, refused, c.info.transaction_status))
        finally:
            c.close()
    assert outs[0] == outs[1]
    assert outs[0][3][1] == "ProgrammingError"


def test_close_rules(conn, pg2):
    def script(c, mod):
        out = []
        never = c.cursor("never_executed")
        out.append(outcome(never.close))
        out.append(never.closed)
        failed = c.cursor("in_failed_tx")
        failed.execute("SELECT 1")
        out.append(outcome(lambda: c.cursor().execute("SELECT 1/0")))
        out.append(outcome(failed.close))  # skipped: the transaction failed
        out.append(failed.closed)
        c.rollback()
        with c.cursor("ctx") as cur:
            cur.execute("SELECT 5")
            out.append(cur.fetchone())
        out.append((cur.closed, cur.statusmessage))
        out.append(outcome(cur.close))  # twice is fine
        return out

    mine, theirs = run_both(conn, pg2, script)
    assert mine == theirs


def test_errors_at_declare(conn, pg2):
    def script(c, mod):
        out = []
        cur = c.cursor("bad")
        out.append(outcome(lambda: cur.execute("CREATE TEMP TABLE nope (a int)")))
        c.rollback()
        cur = c.cursor("div")
        out.append(outcome(lambda: cur.execute("SELECT 1/0")))
        c.rollback()
        cur = c.cursor("late_error")
        cur.execute("SELECT 1 / (g - 3) FROM generate_series(1, 5) g")
        out.append(outcome(lambda: cur.fetchmany(2)))
        out.append(outcome(lambda: cur.fetchmany(2)))
        return out

    mine, theirs = run_both(conn, pg2, script)
    assert mine == theirs


def test_a_refcursor_opened_by_a_function(conn, pg2):
    """psycopg2's documented pattern: a function opens a cursor and returns its name; a
    named cursor of that name reads it (no DECLARE from the client)."""

    def script(c, mod):
        with c.cursor() as cur:
            cur.execute(
                "CREATE FUNCTION pg_temp.reffunc(refcursor) RETURNS refcursor"
                " LANGUAGE plpgsql AS $$ BEGIN"
                " OPEN $1 FOR SELECT g, g * 10 FROM generate_series(1, 5) g;"
                " RETURN $1; END $$"
            )
            cur.callproc("pg_temp.reffunc", ["opened_by_server"])
            name = cur.fetchone()[0]
        reader = c.cursor(name)
        rows = [r for r in reader]
        reader.close()
        return [name, rows, reader.statusmessage, reader.closed]

    mine, theirs = run_both(conn, pg2, script)
    assert mine == theirs
    assert len(mine[1]) == 5


def test_named_cursors_are_refused_on_the_asyncio_face(dsn):
    import asyncio

    async def main() -> None:
        conn = pgpool.AsyncConnection(pgpool.connect(dsn))
        try:
            cur = conn.cursor("srv")
            with pytest.raises(pgpool.NotSupportedError):
                await cur.execute("SELECT 1")
        finally:
            conn.close()

    asyncio.run(main())
