"""Exceptions: the class psycopg2 raises for each SQLSTATE, with the same ``pgcode``,
``pgerror``, message and ``diag``."""

from __future__ import annotations

import pickle

import psycopg2
import psycopg2.errorcodes
import psycopg2.errors
import pytest

import pgpool
from pgpool import errorcodes, errors

SETUP = """
CREATE TEMP TABLE e_parent (id int PRIMARY KEY);
CREATE TEMP TABLE e_child (
    id int PRIMARY KEY,
    parent int REFERENCES e_parent,
    qty int NOT NULL CHECK (qty > 0),
    code varchar(2)
);
INSERT INTO e_parent VALUES (1);
INSERT INTO e_child VALUES (1, 1, 1, 'ab');
"""


def _raise(code: str, message: str = "boom", extra: str = "") -> str:
    return (
        f"DO $$ BEGIN RAISE EXCEPTION USING ERRCODE = '{code}', MESSAGE = '{message}'"
        f"{extra}; END $$"
    )


# (expected SQLSTATE, statement)
CASES = [
    ("23505", "INSERT INTO e_child VALUES (1, 1, 1, 'x')"),
    ("23503", "INSERT INTO e_child VALUES (2, 99, 1, 'x')"),
    ("23502", "INSERT INTO e_child VALUES (3, 1, NULL, 'x')"),
    ("23514", "INSERT INTO e_child VALUES (4, 1, -5, 'x')"),
    ("22001", "INSERT INTO e_child VALUES (5, 1, 1, 'abc')"),
    ("42P01", "SELECT * FROM pgpool_no_such_table"),
    ("42703", "SELECT no_such_column FROM e_child"),
    ("42883", "SELECT pgpool_no_such_function(1)"),
    ("42804", "SELECT CASE WHEN true THEN 1 ELSE true END"),
    ("22012", "SELECT 1/0"),
    ("22P02", "SELECT 'abc'::int"),
    ("22003", "SELECT 2147483647::int4 + 1"),
    ("22007", "SELECT 'not a date'::timestamp"),
    ("22008", "SELECT '294277-01-01'::timestamp"),
    ("21000", "SELECT (SELECT x FROM generate_series(1, 2) x)"),
    ("2BP01", "CREATE TEMP VIEW e_v AS SELECT * FROM e_parent; DROP TABLE e_parent"),
    ("57014", "SET LOCAL statement_timeout = '20ms'; SELECT pg_sleep(2)"),
    ("40001", _raise("40001", "could not serialize")),
    ("40P01", _raise("40P01", "deadlock")),
    ("0A000", _raise("0A000")),
    ("42501", _raise("42501", "permission denied")),
    ("53300", _raise("53300")),
    ("57P01", _raise("57P01")),
    ("XX000", _raise("XX000")),
    (
        "P0001",
        "DO $$ BEGIN RAISE EXCEPTION 'custom % thing', 42 USING DETAIL = 'det', HINT = 'hnt'; END $$",
    ),
    (
        "P0002",
        "DO $$ DECLARE r record; BEGIN SELECT * INTO STRICT r FROM e_parent WHERE false; END $$",
    ),
    ("F0000", _raise("F0000")),
    ("HV000", _raise("HV000")),
    ("3D000", _raise("3D000")),
    ("25001", _raise("25001")),
    ("08006", _raise("08006")),
    ("28P01", _raise("28P01")),
    # SQLSTATEs without a class of their own: the DB-API class by SQLSTATE class
    ("22P99", _raise("22P99")),
    ("23P99", _raise("23P99")),
    ("40P99", _raise("40P99")),
    ("42P99", _raise("42P99")),
    ("57P99", _raise("57P99")),
    ("XXP99", _raise("XXP99")),
    ("U0001", _raise("U0001")),
]


def _run_error(connection, statement):
    cur = connection.cursor()
    try:
        cur.execute(SETUP)
        with pytest.raises(Exception) as info:
            cur.execute(statement)
        return info.value
    finally:
        connection.rollback()
        cur.close()


# An ERROR-level 08xxx / 57P0x raised by PL/pgSQL on a healthy session keeps the session
# usable, as psycopg2 does (only FATAL ends it).
PARAMS = [pytest.param(c, s, id=c) for c, s in CASES]


@pytest.mark.parametrize("code,statement", PARAMS)
def test_server_error_matches_psycopg2(conn, pg2, code, statement):
    theirs = _run_error(pg2, statement)
    mine = _run_error(conn, statement)
    assert theirs.pgcode == code  # the case produces the SQLSTATE it claims

    assert type(mine).__name__ == type(theirs).__name__
    assert type(mine).__module__ in ("pgpool.errors", "pgpool")
    assert [c.__name__ for c in type(mine).__mro__] == [
        c.__name__ for c in type(theirs).__mro__
    ]
    assert mine.pgcode == theirs.pgcode == code
    if theirs.diag.statement_position is None:  # positions: see the test below
        assert mine.pgerror == theirs.pgerror
        assert str(mine) == str(theirs)
    for field in errors._DIAG_FIELDS:
        a, b = getattr(mine.diag, field), getattr(theirs.diag, field)
        if field == "schema_name" and b and b.startswith("pg_temp_"):
            assert a and a.startswith("pg_temp_")  # each session has its own
        else:
            assert a == b, field
    # the connection is usable after the error and the rollback
    with conn.cursor() as cur:
        cur.execute("SELECT 1")
        assert cur.fetchone() == (1,)
    conn.rollback()


POSITION_CASES = [
    "SELEC 1",
    "SELECT 1,\n  2,\n  no_such_col\nFROM generate_series(1, 2)",
    "SELECT 1 +\r\n\tno_such_col",
    "SELECT '" + "x" * 100 + "', no_such_col, '" + "y" * 100 + "'",
    "SELECT 'ünïcödé ☃ 漢字漢字', no_such_col",
    "DO $$ BEGIN EXECUTE 'SELEC 1'; END $$",
    "DO $$ BEGIN PERFORM 1/0; END $$",
]


@pytest.mark.parametrize("statement", POSITION_CASES, ids=range(len(POSITION_CASES)))
def test_error_position_display_matches_psycopg2(conn, pg2, statement):
    """libpq's "LINE n: ..." display with the caret, in pgerror and str(exc)."""
    theirs = _run_error(pg2, statement)
    mine = _run_error(conn, statement)
    assert type(mine).__name__ == type(theirs).__name__
    assert mine.pgerror == theirs.pgerror
    assert str(mine) == str(theirs)


@pytest.mark.parametrize("statement", POSITION_CASES[:5], ids=range(5))
def test_error_position_in_a_transactions_first_statement(conn, pg2, statement):
    """The first statement of a transaction travels with its BEGIN ("BEGIN;<sql>" in one
    message); the position the server reports is still the one in the statement."""
    errs = []
    for c in (pg2, conn):
        c.rollback()
        with c.cursor() as cur:
            with pytest.raises(Exception) as info:
                cur.execute(statement)
            errs.append(info.value)
        c.rollback()
    theirs, mine = errs
    assert mine.diag.statement_position == theirs.diag.statement_position
    assert mine.pgerror == theirs.pgerror
    assert str(mine) == str(theirs)


def test_failed_transaction_state(conn, pg2):
    for c in (conn, pg2):
        with c.cursor() as cur:
            with pytest.raises((pgpool.DataError, psycopg2.DataError)):
                cur.execute("SELECT 1/0")
            with pytest.raises((pgpool.InternalError, psycopg2.InternalError)) as info:
                cur.execute("SELECT 1")
            assert info.value.pgcode == "25P02"
            assert type(info.value).__name__ == "InFailedSqlTransaction"
            assert isinstance(
                info.value, (pgpool.InternalError, psycopg2.InternalError)
            )
        c.rollback()


def test_exception_tree():
    assert issubclass(pgpool.Error, Exception)
    assert issubclass(pgpool.Warning, Exception)
    assert not issubclass(pgpool.Warning, pgpool.Error)
    assert issubclass(pgpool.InterfaceError, pgpool.Error)
    assert issubclass(pgpool.DatabaseError, pgpool.Error)
    for name in (
        "DataError",
        "OperationalError",
        "IntegrityError",
        "InternalError",
        "ProgrammingError",
        "NotSupportedError",
    ):
        assert issubclass(getattr(pgpool, name), pgpool.DatabaseError), name
    assert issubclass(pgpool.QueryCanceledError, pgpool.OperationalError)
    assert issubclass(pgpool.TransactionRollbackError, pgpool.OperationalError)
    for name in ("PoolTimeout", "PoolClosed", "TooManyRequests"):
        assert issubclass(getattr(pgpool, name), pgpool.PoolError), name
    assert issubclass(pgpool.PoolError, pgpool.Error)
    assert not issubclass(pgpool.PoolError, pgpool.DatabaseError)
    from pgpool import extensions, pool

    assert pool.PoolError is pgpool.PoolError
    assert extensions.QueryCanceledError is pgpool.QueryCanceledError
    assert errors.UniqueViolation.__mro__[1] is pgpool.IntegrityError
    assert issubclass(errors.QueryCanceled, pgpool.QueryCanceledError)
    assert issubclass(errors.SerializationFailure, pgpool.TransactionRollbackError)
    assert issubclass(errors.DeadlockDetected, pgpool.TransactionRollbackError)


def test_every_sqlstate_class_matches_psycopg2():
    """The per-SQLSTATE classes: psycopg2's list, names and DB-API bases."""
    from psycopg2._psycopg import sqlstate_errors

    # psycopg2 2.9.13 knows 254 SQLSTATEs (PostgreSQL 17): we have all of them; an
    # older psycopg2 knows a subset.
    assert set(errors._by_sqlstate) >= set(sqlstate_errors)
    assert len(errors._by_sqlstate) == 254
    for code, theirs in sqlstate_errors.items():
        mine = errors.lookup(code)
        assert mine.__name__ == theirs.__name__, code
        assert mine.sqlstate == code
        assert mine.__bases__[0].__name__ == theirs.__bases__[0].__name__, code
        assert getattr(errors, mine.__name__) is mine
    with pytest.raises(KeyError):
        errors.lookup("XXXXX")


def test_errorcodes_match_psycopg2():
    names = [n for n in dir(psycopg2.errorcodes) if n.isupper()]
    assert len(names) > 250
    for name in names:
        assert getattr(errorcodes, name) == getattr(psycopg2.errorcodes, name), name
    assert (
        errorcodes.lookup("23505")
        == psycopg2.errorcodes.lookup("23505")
        == "UNIQUE_VIOLATION"
    )
    assert errorcodes.lookup("01004") == "STRING_DATA_RIGHT_TRUNCATION"


def test_errors_pgpool_detects_itself_have_psycopg2s_classes(
    dsn: str, conn: pgpool.Connection
) -> None:
    """Each kind of client-side error, raised through the public API (the extension maps
    its error kinds to classes in one place)."""
    with pytest.raises(pgpool.ProgrammingError, match="nonsense_keyword"):
        pgpool.connect("host=localhost nonsense_keyword=1")
    cur = conn.cursor()
    with pytest.raises(KeyError) as key:
        cur.execute("SELECT %(name)s", {})
    assert type(key.value) is KeyError and key.value.args == ("name",)
    with pytest.raises(TypeError, match="not all arguments converted"):
        cur.execute("SELECT %s", (1, 2))
    with pytest.raises(IndexError, match="tuple index out of range"):
        cur.execute("SELECT %s, %s", (1,))
    with pytest.raises(ValueError, match="unsupported format character"):
        cur.execute("SELECT %d", (1,))
    with pytest.raises(pgpool.ProgrammingError, match="can't be mixed"):
        cur.execute("SELECT %s, %(a)s", (1,))
    with pytest.raises(OverflowError, match="range"):
        cur.execute("SELECT %\u00e9", (1,))
    with pytest.raises(RecursionError):
        nested: object = 1
        for _ in range(2000):
            nested = (nested,)
        cur.execute("SELECT %s", (nested,))
    conn.rollback()
    closed = pgpool.connect(dsn)
    closed.close()
    with pytest.raises(pgpool.InterfaceError) as closed_err:
        closed.cursor()
    exc = closed_err.value
    assert exc.pgcode is None and exc.pgerror is None and exc.cursor is None
    assert exc.diag.sqlstate is None and exc.diag.message_primary is None
    pool = pgpool.Pool(dsn, min_size=0, max_size=1)
    held = pool.getconn()
    with pytest.raises(pgpool.PoolTimeout):
        pool.getconn(timeout=0.05)
    pool.putconn(held)
    pool.close()
    with pytest.raises(pgpool.PoolClosed):
        pool.getconn()


def test_exceptions_pickle(conn):
    with conn.cursor() as cur:
        with pytest.raises(errors.DivisionByZero) as info:
            cur.execute("SELECT 1/0")
    conn.rollback()
    copy = pickle.loads(pickle.dumps(info.value))
    assert type(copy) is errors.DivisionByZero
    assert copy.pgcode == "22012"
    assert copy.pgerror == info.value.pgerror
    assert copy.diag.message_primary == "division by zero"
    assert copy.cursor is None


def test_diag_on_constraint_error(conn):
    with conn.cursor() as cur:
        cur.execute(SETUP)
        with pytest.raises(pgpool.IntegrityError) as info:
            cur.execute("INSERT INTO e_child VALUES (1, 1, 1, 'x')")
    conn.rollback()
    d = info.value.diag
    assert isinstance(info.value, errors.UniqueViolation)
    assert d.sqlstate == "23505"
    assert d.constraint_name == "e_child_pkey"
    assert d.table_name == "e_child"
    assert d.severity == "ERROR"
    assert d.message_detail == "Key (id)=(1) already exists."
    assert info.value.pgerror.startswith("ERROR:  duplicate key value")


def test_bad_dsn_is_programming_error():
    with pytest.raises(pgpool.ProgrammingError) as info:
        pgpool.connect("host=localhost no_such_keyword=1")
    assert "no_such_keyword" in str(info.value)
    with pytest.raises(pgpool.ProgrammingError):
        pgpool.Pool("host=localhost no_such_keyword=1")


@pytest.mark.parametrize("path", ["/pgpool_no_such_db", "?user=pgpool_no_such_role"])
def test_connect_failures_are_operational_errors(dsn, target, path):
    """psycopg2 raises OperationalError for any failure to connect, whatever SQLSTATE
    the server refused the connection with (3D000 is a ProgrammingError class)."""
    if target == "pgbouncer" and "db" in path:
        pytest.skip("PgBouncer retries a missing database for a long while")
    from urllib.parse import urlsplit, urlunsplit

    u = urlsplit(dsn)
    if path.startswith("?"):
        url = urlunsplit(
            (
                u.scheme,
                u.hostname + (f":{u.port}" if u.port else ""),
                u.path,
                path[1:],
                "",
            )
        )
    else:
        url = urlunsplit((u.scheme, u.netloc, path, u.query, ""))
    with pytest.raises(psycopg2.OperationalError) as theirs:
        psycopg2.connect(url)
    with pytest.raises(pgpool.OperationalError) as mine:
        pgpool.connect(url)
    # psycopg2 prefixes libpq's 'connection to server at "...", port ... failed: FATAL:  '
    assert str(mine.value).strip() and str(mine.value).strip() in str(theirs.value)


def test_password_not_in_errors(direct_dsn):
    with pytest.raises(pgpool.Error) as info:
        pgpool.connect(
            "host=127.0.0.1 port=1 user=u password=s3cr3t-value connect_timeout=2"
        )
    assert "s3cr3t-value" not in str(info.value)
    assert isinstance(info.value, pgpool.OperationalError)


def test_generated_tables_are_current_and_the_check_can_fail(tmp_path) -> None:
    """scripts/gen-errors --check passes on the committed tables and fails when
    errcodes.txt has a SQLSTATE they lack."""
    import os
    import subprocess
    import sys
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    script = [sys.executable, str(root / "scripts" / "gen-errors"), "--check"]
    ok = subprocess.run(script, capture_output=True, text=True)
    assert ok.returncode == 0, ok.stdout + ok.stderr
    share = subprocess.run(
        ["pg_config", "--sharedir"], capture_output=True, text=True, check=True
    ).stdout.strip()
    changed = tmp_path / "errcodes.txt"
    text = (Path(share) / "errcodes.txt").read_text()
    changed.write_text(
        text + "\nSection: Class 2Q - Made Up\n"
        "2Q000    E    ERRCODE_MADE_UP                       made_up\n"
    )
    env = dict(os.environ, PGPOOL_ERRCODES=str(changed))
    stale = subprocess.run(script, capture_output=True, text=True, env=env)
    assert stale.returncode == 1
    assert "errors.py is not current" in stale.stdout
    assert "errorcodes.py is not current" in stale.stdout
