"""Deeply nested input never crashes the process.

A nested list parameter 10,000 deep in the main thread, or 400 deep in a thread with a
256 KB stack, used to overflow the stack in the adapter's recursion (a segfault). Lists and
tuples are now adapted and rendered with explicit stacks on the heap: up to
``pgpool.sql`` nesting 1,000 they work in any thread, deeper raises ``RecursionError`` as
psycopg2 does (it runs out of Python's recursion limit at about 1,000). The crashing
cases run in a subprocess, so a segfault fails the test instead of killing pytest.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap
from typing import Any

import pytest

import pgpool

MAX_NESTING = 1000


def nested(depth: int, kind: type = list, leaf: Any = 1) -> Any:
    v = leaf
    for _ in range(depth):
        v = kind([v])
    return v


def run_script(body: str, *args: str) -> list[str]:
    """Runs ``body`` in a fresh interpreter; it must exit 0 (a crash is a failure)."""
    prelude = textwrap.dedent(
        """
        import sys, threading
        import pgpool

        def nested(depth, kind=list, leaf=1):
            v = leaf
            for _ in range(depth):
                v = kind([v])
            return v

        def outcome(fn):
            try:
                r = fn()
                return "ok %s" % (r,)
            except BaseException as e:
                return "%s %s" % (type(e).__name__, str(e)[:60])

        def in_thread(fn, stack):
            threading.stack_size(stack)
            box = []
            t = threading.Thread(target=lambda: box.append(outcome(fn)))
            t.start()
            t.join()
            return box[0]
        """
    )
    out = subprocess.run(
        [sys.executable, "-c", prelude + textwrap.dedent(body), *args],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert out.returncode == 0, (
        f"the process died (exit {out.returncode}): {out.stderr[-2000:]}"
    )
    return out.stdout.strip().splitlines()


def test_deep_list_in_the_main_thread_raises_recursion_error(dsn: str) -> None:
    lines = run_script(
        """
        import psycopg2
        dsn = sys.argv[1]
        c = pgpool.connect(dsn)
        p = psycopg2.connect(dsn)
        for kind in (list, tuple):
            for depth in (10_000, 100_000):
                v = nested(depth, kind)
                mine = outcome(lambda: c.cursor().mogrify("SELECT %s", (v,)))
                theirs = outcome(lambda: p.cursor().mogrify("SELECT %s", (v,)))
                print(mine.split()[0], theirs.split()[0])
                print(outcome(lambda: c.cursor().execute("SELECT %s", (v,))).split()[0])
        # The connection is still usable.
        cur = c.cursor()
        cur.execute("SELECT 1")
        print("after", cur.fetchone()[0])
        """,
        dsn,
    )
    assert lines[-1] == "after 1", lines
    pairs = lines[:-1]
    assert len(pairs) == 8, pairs
    for mine_theirs, execute in zip(pairs[0::2], pairs[1::2]):
        assert mine_theirs == "RecursionError RecursionError", pairs
        assert execute == "RecursionError", pairs


@pytest.mark.parametrize("stack_kb", (256, 64))
def test_nesting_in_a_small_stack_thread_never_crashes(dsn: str, stack_kb: int) -> None:
    lines = run_script(
        """
        dsn, stack = sys.argv[1], int(sys.argv[2]) * 1024
        c = pgpool.connect(dsn)
        for depth in (400, 1000, 1001, 10_000):
            v = nested(depth)
            print(depth, in_thread(lambda: len(c.cursor().mogrify("SELECT %s", (v,))), stack))
        # A nested tuple the server accepts: ((((1)))) 400 deep.
        def run():
            cur = c.cursor()
            cur.execute("SELECT %s", (nested(400, tuple),))
            return cur.fetchone()[0]
        print("execute", in_thread(run, stack))
        """,
        dsn,
        str(stack_kb),
    )
    got = dict(line.split(" ", 1) for line in lines)
    # len("SELECT ") + "ARRAY[" * n + "1" + "]" * n
    assert got["400"] == f"ok {7 + 7 * 400 + 1}", got
    assert got["1000"] == f"ok {7 + 7 * 1000 + 1}", got
    assert got["1001"].startswith("RecursionError"), got
    assert got["10000"].startswith("RecursionError"), got
    assert got["execute"] == "ok 1", got


def test_nested_values_render_as_psycopg2(conn: pgpool.Connection, pg2: Any) -> None:
    values = [
        nested(500),
        nested(200, tuple),
        nested(150, tuple),
        [[None]],
        [[None, None], [None]],
        [[], []],
        [[[]]],
        [[1, None], [None, 2]],
        [(1, "a"), (2, None)],
        ([1, [2, (3, [None])]], ()),
        [[[None]], [[1]]],
        (nested(3, tuple, None), nested(3, list, "x")),
    ]
    for v in values:
        mine = conn.cursor().mogrify("SELECT %s", (v,))
        theirs = pg2.cursor().mogrify("SELECT %s", (v,))
        assert mine == theirs, v if len(repr(v)) < 200 else repr(v)[:200]


def test_nested_array_parameters_reach_the_server_as_with_psycopg2(
    conn: pgpool.Connection, pg2: Any
) -> None:
    for v in ([[1, 2], [3, 4]], nested(6), [[None]], nested(7)):
        outcome = []
        for c in (conn, pg2):
            cur = c.cursor()
            try:
                cur.execute("SELECT %s::int[]", (v,))
                outcome.append(("ok", cur.fetchone()[0]))
            except Exception as e:  # noqa: BLE001 - compared with psycopg2's
                outcome.append((type(e).__name__, getattr(e, "pgcode", None)))
                c.rollback()
        assert outcome[0] == outcome[1], (v, outcome)


def test_adapters_that_never_settle_raise_recursion_error() -> None:
    lines = run_script(
        """
        from pgpool import extensions
        class A: pass
        class B: pass
        extensions.register_adapter(A, lambda a: B())
        extensions.register_adapter(B, lambda b: [A()])
        print(outcome(lambda: pgpool.extensions.adapt(A()).getquoted()).split()[0])
        print(in_thread(lambda: pgpool.extensions.adapt([A()]).getquoted(), 256 * 1024).split()[0])
        """
    )
    assert lines == ["RecursionError", "RecursionError"], lines


def test_deep_composed_renders_without_recursion() -> None:
    lines = run_script(
        """
        from pgpool import sql
        q = sql.SQL("x")
        for _ in range(100_000):
            q = sql.Composed([sql.SQL("("), q, sql.SQL(")")])
        s = in_thread(lambda: len(q.as_string(None)), 256 * 1024)
        print(s)
        """
    )
    assert lines == [f"ok {1 + 2 * 100_000}"], lines


def test_deep_array_text_from_the_server_side_is_bounded() -> None:
    """Arrays in results are decoded without recursion and at most as deep as the
    server's own limit (6 dimensions, "excessive array dimensions" past it)."""
    text = "{" * 10_000 + "1" + "}" * 10_000
    with pytest.raises(pgpool.DataError, match="excessive array dimensions"):
        pgpool._pgpool._cast(1007, text)
    assert pgpool._pgpool._cast(1007, "{{{{{{1}}}}}}") == nested(6)
