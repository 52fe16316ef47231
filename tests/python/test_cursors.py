"""Cursor behaviour against psycopg2: description, rowcount, statusmessage, fetching,
callproc, executemany, the extras cursors and helpers, COPY."""

from __future__ import annotations

import collections
import io
import pickle
import uuid

import psycopg2.extras
import pytest

import pgpool
from _helpers import same
from pgpool import extras


def run_both(conn, pg2, steps):
    """Run ``steps(cursor)`` on a pgpool and a psycopg2 cursor; return both results."""
    results = []
    for c in (conn, pg2):
        with c.cursor() as cur:
            results.append(steps(cur))
        c.rollback()
    return results


def test_fresh_cursor_attributes(conn, pg2):
    def steps(cur):
        return (cur.rowcount, cur.rownumber, cur.statusmessage, cur.query, cur.description,
                cur.arraysize, cur.closed)  # fmt: skip

    mine, theirs = run_both(conn, pg2, steps)
    assert mine == theirs


def test_description(conn, pg2):
    sql = """SELECT 1::int4 AS i, 'x'::text AS t, 1.5::numeric(10,2) AS n, 'v'::varchar(7) AS v,
                    now() AS ts, NULL AS nothing, 'ok'::pgpool_mood AS mood, 1::int8 AS "Mixed Case" """

    def steps(cur):
        cur.execute(sql)
        return (
            [tuple(d) for d in cur.description],
            [d.name for d in cur.description],
            [d.type_code for d in cur.description],
        )

    mine, theirs = run_both(conn, pg2, steps)
    assert mine == theirs
    with conn.cursor() as cur:
        cur.execute(sql)
        d = cur.description[0]
        assert len(d) == 7 and d[0] == d.name == "i" and d[1] == d.type_code == 23
        assert cur.description[0][1] == pgpool.NUMBER
        assert cur.description[1][1] == pgpool.STRING
        assert cur.description[1][1] != pgpool.NUMBER
    conn.rollback()


STATEMENT_SEQUENCES = {
    "ddl": ["CREATE TEMP TABLE c_t (id int, s text)"],
    "insert": [
        "CREATE TEMP TABLE c_t (id int)",
        "INSERT INTO c_t VALUES (1), (2), (3)",
    ],
    "insert-returning": [
        "CREATE TEMP TABLE c_t (id int)",
        "INSERT INTO c_t VALUES (1), (2) RETURNING id",
    ],
    "update": [
        "CREATE TEMP TABLE c_t (id int)",
        "INSERT INTO c_t VALUES (1), (2)",
        "UPDATE c_t SET id = id + 1",
    ],
    "delete-none": ["CREATE TEMP TABLE c_t (id int)", "DELETE FROM c_t WHERE id = 99"],
    "select": ["SELECT generate_series(1, 5)"],
    "select-empty": ["SELECT 1 WHERE false"],
    "two-statements": ["SELECT 1; SELECT 2, 3"],
    "set": ["SET LOCAL work_mem = '8MB'"],
    "show": ["SHOW server_version_num"],
    "do": ["DO $$ BEGIN END $$"],
    "values": ["VALUES (1, 'a'), (2, 'b')"],
}


@pytest.mark.parametrize("name", list(STATEMENT_SEQUENCES))
def test_rowcount_statusmessage_and_rows(conn, pg2, name):
    def steps(cur):
        for sql in STATEMENT_SEQUENCES[name]:
            cur.execute(sql)
        rows = cur.fetchall() if cur.description is not None else None
        return cur.rowcount, cur.statusmessage, rows, cur.rownumber, cur.query

    mine, theirs = run_both(conn, pg2, steps)
    same(mine, theirs)


def test_fetch_methods(conn, pg2):
    def steps(cur):
        out = []
        cur.execute("SELECT generate_series(1, 10) AS n")
        out.append(cur.fetchone())
        out.append(cur.rownumber)
        out.append(cur.fetchmany())  # arraysize (1)
        cur.arraysize = 3
        out.append(cur.fetchmany())
        out.append(cur.fetchmany(2))
        out.append(cur.rownumber)
        out.append(list(cur))
        out.append(cur.fetchone())
        out.append(cur.fetchall())
        out.append(cur.fetchmany(5))
        return out

    mine, theirs = run_both(conn, pg2, steps)
    assert mine == theirs


def test_no_results_to_fetch(conn, pg2):
    def steps(cur):
        cur.execute("CREATE TEMP TABLE c_nr (id int)")
        errs = []
        for method in (cur.fetchone, cur.fetchall, lambda: cur.fetchmany(2)):
            with pytest.raises(Exception) as info:
                method()
            errs.append((type(info.value).__name__, str(info.value)))
        return errs

    mine, theirs = run_both(conn, pg2, steps)
    assert mine == theirs == [("ProgrammingError", "no results to fetch")] * 3


def test_fetch_before_execute_is_an_error(conn):
    with conn.cursor() as cur:
        with pytest.raises(pgpool.ProgrammingError):
            cur.fetchone()


def test_closed_cursor(conn, pg2):
    def steps(cur):
        cur.close()
        closed = cur.closed
        cur.close()  # idempotent
        with pytest.raises(Exception) as info:
            cur.execute("SELECT 1")
        return closed, type(info.value).__name__, str(info.value)

    mine, theirs = run_both(conn, pg2, steps)
    assert mine == theirs == (True, "InterfaceError", "cursor already closed")


def test_with_cursor_closes_cursor_only(conn):
    with conn.cursor() as cur:
        cur.execute("SELECT 1")
    assert cur.closed
    assert not conn.closed
    assert conn.info.transaction_status == pgpool.extensions.TRANSACTION_STATUS_INTRANS
    conn.rollback()


def test_iteration(conn):
    with conn.cursor() as cur:
        cur.execute("SELECT generate_series(1, 1000)")
        assert [r[0] for r in cur] == list(range(1, 1001))
        assert cur.rownumber == 1000
    conn.rollback()


# Results larger than one socket read are decoded while they arrive (the rows received so
# far, each time the client would wait for more); these check that this changes nothing
# that psycopg2 users can see.
BIG = (
    "SELECT g AS n, g::text || 'x' AS t, g * 0.5::float8 AS f,"
    " TIMESTAMPTZ '2024-01-01 00:00+00' + g * INTERVAL '1 second' AS ts,"
    " g % 2 = 0 AS b, (g / 7.0)::numeric(12, 3) AS d"
    " FROM generate_series(1, {n}) g"
)


@pytest.mark.parametrize(
    "factory",
    [None, "DictCursor", "RealDictCursor", "NamedTupleCursor"],
)
def test_large_result_matches_psycopg2(conn, pg2, factory):
    def steps(cur):
        cur.execute(BIG.format(n=60000))
        first = [cur.fetchone(), cur.fetchone()]
        some = cur.fetchmany(1000)
        cur.scroll(30000, mode="absolute")
        rest = cur.fetchall()
        cur.scroll(5, mode="absolute")
        again = cur.fetchone()
        plain = [tuple(r) if not isinstance(r, dict) else dict(r) for r in first + some]
        return (cur.rowcount, cur.rownumber, plain, len(rest), rest[-1], again)

    results = []
    for c, mod in ((conn, extras), (pg2, psycopg2.extras)):
        kw = {"cursor_factory": getattr(mod, factory)} if factory else {}
        with c.cursor(**kw) as cur:
            results.append(steps(cur))
        c.rollback()
    mine, theirs = results
    assert mine[0] == theirs[0] == 60000
    assert mine[1] == theirs[1] == 6
    same(mine[2], theirs[2])
    assert mine[3] == theirs[3] == 30000
    if factory in (None, "NamedTupleCursor"):
        same(tuple(mine[4]), tuple(theirs[4]))
        same(tuple(mine[5]), tuple(theirs[5]))
    else:
        assert dict(mine[4]) == dict(theirs[4])
        assert dict(mine[5]) == dict(theirs[5])


def test_large_result_with_an_undecodable_row(conn, pg2):
    """A value Python cannot hold, deep in a large result: the rows before it fetch, the
    fetch that reaches it raises what psycopg2 raises, as psycopg2 does."""
    sql = (
        "SELECT g, CASE WHEN g = 40000 THEN DATE '10000-01-01' ELSE DATE '2020-01-01' END"
        " FROM generate_series(1, 60000) g"
    )
    outcomes = []
    for c in (conn, pg2):
        with c.cursor() as cur:
            cur.execute(sql)
            head = cur.fetchmany(39999)
            with pytest.raises(ValueError) as info:
                cur.fetchone()
            cur.scroll(40000, mode="absolute")
            tail = cur.fetchall()
            outcomes.append((len(head), head[-1], str(info.value), len(tail), tail[0]))
        c.rollback()
    assert outcomes[0] == outcomes[1]
    assert outcomes[0][0] == 39999 and outcomes[0][3] == 20000


def test_large_result_then_more_statements(conn, pg2):
    """Several statements in one execute: the last result is the cursor's, even when an
    earlier one was large (and partly decoded while it arrived)."""
    for c in (conn, pg2):
        with c.cursor() as cur:
            cur.execute(BIG.format(n=50000) + "; SELECT 7 AS seven")
            assert cur.fetchall() == [(7,)]
            assert cur.rowcount == 1
            assert [d[0] for d in cur.description] == ["seven"]
            cur.execute(
                BIG.format(n=50000) + "; SELECT g FROM generate_series(1, 40000) g"
            )
            assert [r[0] for r in cur] == list(range(1, 40001))
        c.rollback()


def test_large_result_failing_midway(conn, pg2):
    """A statement that fails after streaming many rows raises; no rows are kept and the
    connection is usable after a rollback."""
    sql = "SELECT g, 1 / (g - 45000) FROM generate_series(1, 90000) g"
    for c, mod in ((conn, pgpool), (pg2, psycopg2)):
        with c.cursor() as cur:
            cur.execute("SELECT 1")
            with pytest.raises(mod.DataError) as info:
                cur.execute(sql)
            assert info.value.pgcode == "22012"
            with pytest.raises(mod.ProgrammingError):
                cur.fetchall()
        c.rollback()
        with c.cursor() as cur:
            cur.execute("SELECT 2")
            assert cur.fetchone() == (2,)
        c.rollback()


def test_huge_result_beyond_eager_decoding(conn):
    """Past the eager-decoding cap (2**20 cells) rows are decoded when fetched; every row
    is still there, in order."""
    with conn.cursor() as cur:
        cur.execute("SELECT g, g + 1, g + 2, g + 3 FROM generate_series(1, 300000) g")
        n = 0
        for row in cur:
            n += 1
            assert row == (n, n + 1, n + 2, n + 3)
        assert n == 300000 == cur.rowcount
    conn.rollback()


def test_callproc(conn, pg2):
    name = "pgpool_c_add_" + uuid.uuid4().hex[:8]

    def steps(cur):
        # created and rolled back inside one transaction
        cur.execute(
            f"CREATE FUNCTION {name}(a int, b int) RETURNS int LANGUAGE sql AS 'SELECT a + b'"
        )
        ret = cur.callproc(name, (1, 2))
        return ret, cur.fetchall(), cur.query.replace(name.encode(), b"f")

    mine, theirs = run_both(conn, pg2, steps)
    assert mine == theirs
    assert mine[:2] == ((1, 2), [(3,)])


def test_executemany(conn, pg2, admin, table):
    args = [(i, f"n{i}'") for i in range(50)]

    def steps(cur):
        cur.executemany(f"INSERT INTO {table} (val, note) VALUES (%s, %s)", args)
        rowcount = cur.rowcount
        cur.execute(f"SELECT val, note FROM {table} ORDER BY val")
        return rowcount, cur.fetchall()

    mine, theirs = run_both(conn, pg2, steps)
    assert mine[1] == theirs[1] == args
    assert mine[0] == theirs[0] == 50  # psycopg2: the sum of the rowcounts


def test_executemany_named_and_errors(conn, table):
    with conn.cursor() as cur:
        cur.executemany(
            f"INSERT INTO {table} (val, note) VALUES (%(v)s, %(n)s)",
            [{"v": 1, "n": "a"}, {"v": 2, "n": None}],
        )
        cur.execute(f"SELECT val, note FROM {table} ORDER BY val")
        assert cur.fetchall() == [(1, "a"), (2, None)]
        with pytest.raises(pgpool.IntegrityError):
            cur.executemany(
                f"INSERT INTO {table} (id, val) VALUES (%s, %s)", [(100, 1), (100, 2)]
            )
    conn.rollback()
    with conn.cursor() as cur:
        cur.execute(f"SELECT count(*) FROM {table}")
        assert cur.fetchone() == (0,)
        cur.executemany("SELECT %s", [])  # nothing to do
    conn.rollback()


# ---- extras cursors ---------------------------------------------------------------

SQL_ROWS = "SELECT 1 AS id, 'x' AS name, NULL::int AS missing UNION ALL SELECT 2, 'y', 3 ORDER BY 1"


def test_real_dict_cursor(conn, pg2):
    with conn.cursor(cursor_factory=extras.RealDictCursor) as c1:
        c1.execute(SQL_ROWS)
        mine = c1.fetchall()
    with pg2.cursor(cursor_factory=psycopg2.extras.RealDictCursor) as c2:
        c2.execute(SQL_ROWS)
        theirs = c2.fetchall()
    assert mine == theirs
    assert [list(r) for r in mine] == [list(r) for r in theirs]
    assert all(type(r) is dict for r in mine)  # plain dicts (psycopg2: RealDictRow)
    conn.rollback()


def test_dict_cursor(conn, pg2):
    with conn.cursor(cursor_factory=extras.DictCursor) as c1:
        c1.execute(SQL_ROWS)
        mine = c1.fetchall()
    with pg2.cursor(cursor_factory=psycopg2.extras.DictCursor) as c2:
        c2.execute(SQL_ROWS)
        theirs = c2.fetchall()
    conn.rollback()
    row, ref = mine[0], theirs[0]
    assert isinstance(row, extras.DictRow) and isinstance(row, list)
    assert row == ref and list(row) == list(ref)
    assert row["name"] == ref["name"] == row[1] == "x"
    assert list(row.keys()) == list(ref.keys())
    assert list(row.values()) == list(ref.values())
    assert list(row.items()) == list(ref.items())
    assert dict(row) == dict(ref) if hasattr(ref, "keys") else True
    assert row.get("nope", 7) == 7 and row.get("id") == 1
    assert ("name" in row) == ("name" in ref)
    assert row.copy() == ref.copy()
    with pytest.raises(KeyError):
        row["nope"]
    copy = pickle.loads(pickle.dumps(row))
    assert copy == row and copy["name"] == "x"


def test_namedtuple_cursor(conn, pg2):
    with conn.cursor(cursor_factory=extras.NamedTupleCursor) as c1:
        c1.execute(SQL_ROWS)
        mine = c1.fetchall()
        c1.execute("SELECT 1 AS a")
        one = c1.fetchone()
    with pg2.cursor(cursor_factory=psycopg2.extras.NamedTupleCursor) as c2:
        c2.execute(SQL_ROWS)
        theirs = c2.fetchall()
    conn.rollback()
    assert mine == theirs
    assert mine[1].name == "y" and mine[1].missing == 3
    assert mine[0]._fields == theirs[0]._fields
    assert one.a == 1 and isinstance(one, tuple)


def test_dict_cursor_as_connection_default(dsn):
    c = pgpool.connect(dsn, cursor_factory=extras.RealDictCursor)
    try:
        with c.cursor() as cur:
            cur.execute("SELECT 1 AS a")
            assert cur.fetchone() == {"a": 1}
    finally:
        c.close()


def test_cursor_subclass(conn):
    """psycopg2-style cursor subclasses (logging cursors and the like) work."""
    seen = []

    class LoggingCursor(pgpool.extensions.cursor):
        def execute(self, query, vars=None):
            seen.append(self.mogrify(query, vars))
            return super().execute(query, vars)

    with conn.cursor(cursor_factory=LoggingCursor) as cur:
        assert isinstance(cur, LoggingCursor)
        cur.execute("SELECT %s", ("it's",))
        assert cur.fetchone() == ("it's",)
    conn.rollback()
    assert seen == [b"SELECT 'it''s'"]


def test_dictrow_standalone():
    row = extras.DictRow([1, "a"], {"id": 0, "name": 1})
    assert row[0] == row["id"] == 1
    row["name"] = "b"
    assert row[1] == "b"
    assert list(row.items()) == [("id", 1), ("name", "b")]
    assert row.copy() == collections.OrderedDict([("id", 1), ("name", "b")])


# ---- execute_batch / execute_values --------------------------------------------------


def test_execute_batch(conn, pg2, table):
    args = [(i, f"b{i}%s'") for i in range(25)]

    def steps(cur):
        if isinstance(cur, psycopg2.extensions.cursor):
            psycopg2.extras.execute_batch(
                cur,
                f"INSERT INTO {table} (val, note) VALUES (%s, %s)",
                args,
                page_size=10,
            )
        else:
            extras.execute_batch(
                cur,
                f"INSERT INTO {table} (val, note) VALUES (%s, %s)",
                args,
                page_size=10,
            )
        cur.execute(f"SELECT val, note FROM {table} ORDER BY val")
        return cur.fetchall()

    mine, theirs = run_both(conn, pg2, steps)
    assert mine == theirs == args


@pytest.mark.parametrize("template", [None, "(%s, %s)", "(%(v)s, %(n)s || '!')"])
def test_execute_values(conn, pg2, table, template):
    if template and "%(" in template:
        args = [{"v": i, "n": f"v{i}"} for i in range(30)]
    else:
        args = [(i, f"v{i}'%") for i in range(30)]

    def steps(cur):
        fn = (
            psycopg2.extras.execute_values
            if isinstance(cur, psycopg2.extensions.cursor)
            else extras.execute_values
        )
        got = fn(
            cur,
            f"INSERT INTO {table} (val, note) VALUES %s RETURNING val, note, '100%%'",
            args,
            template=template,
            page_size=7,
            fetch=True,
        )
        cur.execute(f"SELECT val, note FROM {table} ORDER BY val")
        return got, cur.fetchall()

    mine, theirs = run_both(conn, pg2, steps)
    assert mine == theirs
    assert len(mine[0]) == 30 and mine[0][0][2] == "100%"


def test_execute_values_errors(conn):
    with conn.cursor() as cur:
        with pytest.raises(ValueError, match="doesn't contain"):
            extras.execute_values(cur, "INSERT INTO x VALUES (1)", [(1,)])
        with pytest.raises(ValueError, match="more than one"):
            extras.execute_values(cur, "INSERT INTO x VALUES %s, %s", [(1,)])
        assert (
            extras.execute_values(cur, "SELECT * FROM (VALUES %s) v", [], fetch=True)
            == []
        )


# ---- COPY -------------------------------------------------------------------------

COPY_SETUP = """
CREATE TEMP TABLE c_copy (id int, s text, n numeric(10,2), v varchar(7));
INSERT INTO c_copy VALUES (1, 'a\tb', 1.5, 'x'), (2, NULL, NULL, 'é'), (3, 'back\\slash', -2, '');
"""


def test_copy_expert_out(conn, pg2):
    def steps(cur):
        cur.execute(COPY_SETUP)
        text = io.StringIO()
        cur.copy_expert("COPY c_copy TO STDOUT", text)
        csv = io.BytesIO()
        cur.copy_expert(
            "COPY (SELECT * FROM c_copy ORDER BY id) TO STDOUT WITH CSV HEADER", csv
        )
        return text.getvalue(), csv.getvalue(), cur.rowcount

    mine, theirs = run_both(conn, pg2, steps)
    assert mine == theirs


def test_copy_expert_in(conn, pg2):
    data = "10\tten\t10.10\tt\n11\t\\N\t\\N\t\\N\n12\tdouze é\t-1\tz\n"

    def steps(cur):
        cur.execute(COPY_SETUP)
        cur.copy_expert("COPY c_copy FROM STDIN", io.StringIO(data))
        n = cur.rowcount
        cur.copy_expert("COPY c_copy FROM STDIN WITH CSV", io.BytesIO(b"20,csv,1,c\n"))
        cur.execute("SELECT * FROM c_copy ORDER BY id")
        return n, cur.fetchall()

    mine, theirs = run_both(conn, pg2, steps)
    same(mine, theirs)


def test_copy_from_and_to(conn, pg2):
    data = "5|five|1.25|z\n6|\\N|\\N|\\N\n"

    def steps(cur):
        cur.execute(COPY_SETUP)
        cur.copy_from(io.StringIO(data), "c_copy", sep="|")
        cur.copy_from(
            io.StringIO("7,NULL\n"), "c_copy", sep=",", null="NULL", columns=("id", "s")
        )
        out = io.StringIO()
        cur.copy_to(out, "c_copy", sep="|", null="<null>", columns=("id", "s"))
        return out.getvalue()

    mine, theirs = run_both(conn, pg2, steps)
    assert mine == theirs


def test_copy_large_in_and_out(conn):
    rows = "".join(f"{i}\tline {i} {'x' * 50}\t{i}.5\tv\n" for i in range(20000))
    with conn.cursor() as cur:
        cur.execute("CREATE TEMP TABLE c_big (id int, s text, n numeric, v text)")
        cur.copy_expert("COPY c_big FROM STDIN", io.StringIO(rows))
        assert cur.rowcount == 20000
        out = io.StringIO()
        cur.copy_expert("COPY c_big TO STDOUT", out)
        assert out.getvalue() == rows
    conn.rollback()


def test_copy_error_rolls_back_cleanly(conn, pg2):
    def steps(cur):
        cur.execute("CREATE TEMP TABLE c_bad (id int)")
        with pytest.raises(Exception) as info:
            cur.copy_expert("COPY c_bad FROM STDIN", io.StringIO("1\nnot-a-number\n"))
        return type(info.value).__name__, info.value.pgcode

    mine, theirs = run_both(conn, pg2, steps)
    assert mine == theirs == ("InvalidTextRepresentation", "22P02")
    with conn.cursor() as cur:
        cur.execute("SELECT 1")
        assert cur.fetchone() == (1,)
    conn.rollback()
