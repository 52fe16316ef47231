"""Transaction semantics of Connection, get_cursor() and Pool.connection(), checked
against psycopg2 where psycopg2 has the same call."""

from __future__ import annotations

import threading
import time

import psycopg2
import psycopg2.extensions
import pytest

import pgpool
from pgpool import extensions as ext
from pgpool.extras import RealDictCursor


def count(admin, table):
    with admin.cursor() as cur:
        cur.execute(f"SELECT count(*) FROM {table}")
        return cur.fetchone()[0]


def test_constants_match_psycopg2():
    for name in dir(psycopg2.extensions):
        if name.startswith(("ISOLATION_LEVEL_", "TRANSACTION_STATUS_")):
            assert getattr(ext, name) == getattr(psycopg2.extensions, name), name
    for name in (
        "STATUS_READY",
        "STATUS_BEGIN",
        "STATUS_IN_TRANSACTION",
        "STATUS_PREPARED",
    ):
        assert getattr(ext, name) == getattr(psycopg2.extensions, name), name


def test_implicit_begin(conn, pg2):
    for c in (conn, pg2):
        assert c.info.transaction_status == ext.TRANSACTION_STATUS_IDLE
        with c.cursor() as cur:
            cur.execute("SELECT 1")
        assert c.info.transaction_status == ext.TRANSACTION_STATUS_INTRANS
        c.commit()
        assert c.info.transaction_status == ext.TRANSACTION_STATUS_IDLE
        with c.cursor() as cur:
            with pytest.raises((pgpool.DataError, psycopg2.DataError)):
                cur.execute("SELECT 1/0")
        assert c.info.transaction_status == ext.TRANSACTION_STATUS_INERROR
        c.rollback()
        assert c.info.transaction_status == ext.TRANSACTION_STATUS_IDLE


def test_commit_and_rollback(conn, admin, table):
    with conn.cursor() as cur:
        cur.execute(f"INSERT INTO {table} (val) VALUES (1)")
        assert count(admin, table) == 0  # not visible before COMMIT
    conn.commit()
    assert count(admin, table) == 1
    with conn.cursor() as cur:
        cur.execute(f"INSERT INTO {table} (val) VALUES (2)")
    conn.rollback()
    assert count(admin, table) == 1


def test_with_connection_is_a_transaction_not_a_close(conn, pg2, admin, table):
    for c in (conn, pg2):
        with c:
            with c.cursor() as cur:
                cur.execute(f"INSERT INTO {table} (val) VALUES (1)")
        assert not c.closed
        assert c.info.transaction_status == ext.TRANSACTION_STATUS_IDLE
        with pytest.raises(ZeroDivisionError):
            with c:
                with c.cursor() as cur:
                    cur.execute(f"INSERT INTO {table} (val) VALUES (2)")
                raise ZeroDivisionError
        assert not c.closed
        assert c.info.transaction_status == ext.TRANSACTION_STATUS_IDLE
    assert count(admin, table) == 2  # one per driver; the failed blocks rolled back


def test_autocommit(conn, pg2, admin, table):
    for c in (conn, pg2):
        assert c.autocommit is False
        c.autocommit = True
        with c.cursor() as cur:
            cur.execute(f"INSERT INTO {table} (val) VALUES (1)")
            assert c.info.transaction_status == ext.TRANSACTION_STATUS_IDLE
        c.autocommit = False
    assert count(admin, table) == 2


def test_autocommit_inside_transaction_is_an_error(conn, pg2):
    errors = []
    for c in (conn, pg2):
        with c.cursor() as cur:
            cur.execute("SELECT 1")
        with pytest.raises(Exception) as info:
            c.autocommit = True
        errors.append(info.value)
        c.rollback()
    mine, theirs = errors
    assert type(mine).__name__ == type(theirs).__name__ == "ProgrammingError"
    assert str(mine) == str(theirs)


def test_readonly(conn, pg2, table):
    for c in (conn, pg2):
        c.readonly = True
        assert c.readonly is True
        with c.cursor() as cur:
            cur.execute("SHOW transaction_read_only")
            assert cur.fetchone() == ("on",)
            with pytest.raises(Exception) as info:
                cur.execute(f"INSERT INTO {table} (val) VALUES (1)")
        assert info.value.pgcode == "25006"
        assert type(info.value).__name__ == "ReadOnlySqlTransaction"
        c.rollback()
        c.readonly = None
        with c.cursor() as cur:
            cur.execute("SHOW transaction_read_only")
            assert cur.fetchone() == ("off",)
        c.rollback()


@pytest.mark.parametrize(
    "level,shown",
    [
        (ext.ISOLATION_LEVEL_READ_UNCOMMITTED, "read uncommitted"),
        (ext.ISOLATION_LEVEL_READ_COMMITTED, "read committed"),
        (ext.ISOLATION_LEVEL_REPEATABLE_READ, "repeatable read"),
        (ext.ISOLATION_LEVEL_SERIALIZABLE, "serializable"),
        ("REPEATABLE READ", "repeatable read"),
        ("serializable", "serializable"),
    ],
)
def test_isolation_level(conn, pg2, level, shown):
    for c in (conn, pg2):
        c.isolation_level = level
        with c.cursor() as cur:
            cur.execute("SHOW transaction_isolation")
            assert cur.fetchone() == (shown,)
        c.rollback()
    assert conn.isolation_level == pg2.isolation_level
    for c in (conn, pg2):
        c.isolation_level = None
        assert c.isolation_level is None


def test_set_session(conn, pg2):
    for c in (conn, pg2):
        c.set_session(isolation_level="SERIALIZABLE", readonly=True, deferrable=True)
        with c.cursor() as cur:
            cur.execute(
                "SELECT current_setting('transaction_isolation'),"
                " current_setting('transaction_read_only'),"
                " current_setting('transaction_deferrable')"
            )
            assert cur.fetchone() == ("serializable", "on", "on")
        c.rollback()
        c.set_session(autocommit=True)
        assert c.autocommit is True
        c.set_session(
            isolation_level="DEFAULT",
            readonly="DEFAULT",
            deferrable="DEFAULT",
            autocommit=False,
        )
        assert (
            c.autocommit is False and c.readonly is None and c.isolation_level is None
        )


def test_closed_connection(conn, dsn):
    c = pgpool.connect(dsn)
    cur = c.cursor()
    c.close()
    assert c.closed
    c.close()  # closing twice is fine
    with pytest.raises(pgpool.InterfaceError):
        c.commit()
    with pytest.raises(pgpool.InterfaceError):
        c.cursor()
    with pytest.raises(pgpool.InterfaceError):
        cur.execute("SELECT 1")


def test_server_version_and_backend_pid(conn, pg2, target):
    assert conn.server_version == pg2.server_version
    assert conn.server_version >= 90000
    pid = conn.get_backend_pid()
    assert isinstance(pid, int) and pid != 0  # PgBouncer hands out its own (any i32)
    if target == "direct":
        assert pid > 0
        with conn.cursor() as cur:
            cur.execute("SELECT pg_backend_pid()")
            assert cur.fetchone() == (pid,)
        conn.rollback()


def test_notices(conn, pg2):
    sql = "DO $$ BEGIN RAISE NOTICE 'hello %', 42; RAISE WARNING 'careful'; END $$"
    for c in (conn, pg2):
        with c.cursor() as cur:
            cur.execute(sql)
        c.rollback()
    assert list(conn.notices) == list(pg2.notices)
    assert conn.notices[-2:] == ["NOTICE:  hello 42\n", "WARNING:  careful\n"]


def test_dsn_has_no_password(dsn):
    c = pgpool.connect(dsn, password="not-shown-anywhere")
    try:
        assert "not-shown-anywhere" not in c.dsn
        assert "not-shown-anywhere" not in repr(c)
    finally:
        c.close()


def test_cancel_from_another_thread(conn):
    def cancel_soon():
        time.sleep(0.3)
        conn.cancel()

    t = threading.Thread(target=cancel_soon)
    t.start()
    started = time.monotonic()
    with conn.cursor() as cur:
        with pytest.raises(pgpool.QueryCanceledError) as info:
            cur.execute("SELECT pg_sleep(10)")
    t.join()
    assert time.monotonic() - started < 5
    assert info.value.pgcode == "57014"
    conn.rollback()
    with conn.cursor() as cur:
        cur.execute("SELECT 1")
        assert cur.fetchone() == (1,)
    conn.rollback()


# ---- get_cursor() / Pool.cursor() / Pool.connection() ---------------------------------


def test_pool_cursor_commits(pool, admin, table):
    with pool.cursor() as cur:
        cur.execute(f"INSERT INTO {table} (val) VALUES (1)")
    assert count(admin, table) == 1
    assert pool.stats()["in_use"] == 0


def test_pool_cursor_rolls_back_and_reraises(pool, admin, table):
    with pytest.raises(RuntimeError, match="nope"):
        with pool.cursor() as cur:
            cur.execute(f"INSERT INTO {table} (val) VALUES (1)")
            raise RuntimeError("nope")
    assert count(admin, table) == 0
    with pytest.raises(pgpool.IntegrityError):
        with pool.cursor() as cur:
            cur.execute(f"INSERT INTO {table} (id, val) VALUES (1, 1), (1, 2)")
    assert count(admin, table) == 0
    assert pool.stats()["in_use"] == 0
    with pool.cursor() as cur:  # the connection came back clean
        cur.execute("SELECT 1")
        assert cur.fetchone() == (1,)


def test_pool_cursor_autocommit(pool, admin, table):
    with pytest.raises(RuntimeError):
        with pool.cursor(autocommit=True) as cur:
            cur.execute(f"INSERT INTO {table} (val) VALUES (1)")
            assert cur.connection.info.transaction_status == ext.TRANSACTION_STATUS_IDLE
            raise RuntimeError
    assert count(admin, table) == 1  # each statement committed on its own


def test_pool_cursor_readonly(pool, table):
    with pool.cursor(readonly=True) as cur:
        cur.execute("SHOW transaction_read_only")
        assert cur.fetchone() == ("on",)
    with pytest.raises(pgpool.InternalError) as info:
        with pool.cursor(readonly=True) as cur:
            cur.execute(f"INSERT INTO {table} (val) VALUES (1)")
    assert info.value.pgcode == "25006"
    with pool.cursor() as cur:  # the next user is not read-only
        cur.execute("SHOW transaction_read_only")
        assert cur.fetchone() == ("off",)


def test_pool_cursor_isolation_level(pool):
    with pool.cursor(isolation_level=ext.ISOLATION_LEVEL_SERIALIZABLE) as cur:
        cur.execute("SHOW transaction_isolation")
        assert cur.fetchone() == ("serializable",)
    with pool.cursor() as cur:
        cur.execute("SHOW transaction_isolation")
        assert cur.fetchone() == ("read committed",)


def test_pool_cursor_dict_rows(pool):
    with pool.cursor(dict_rows=True) as cur:
        cur.execute("SELECT 1 AS a, 'x' AS b")
        row = cur.fetchone()
    assert row == {"a": 1, "b": "x"}
    with pool.cursor(cursor_factory=RealDictCursor) as cur:
        cur.execute("SELECT 1 AS a, 'x' AS b")
        assert cur.fetchall() == [{"a": 1, "b": "x"}]


def test_pool_connection_block(pool, admin, table):
    with pool.connection() as c:
        with c.cursor() as cur:
            cur.execute(f"INSERT INTO {table} (val) VALUES (1)")
        assert pool.stats()["in_use"] == 1
    assert pool.stats()["in_use"] == 0
    assert count(admin, table) == 1
    with pytest.raises(KeyError):
        with pool.connection() as c:
            with c.cursor() as cur:
                cur.execute(f"INSERT INTO {table} (val) VALUES (2)")
            raise KeyError("x")
    assert count(admin, table) == 1
    assert pool.stats()["in_use"] == 0


DEFERRED_SETUP = (
    "CREATE TEMP TABLE deferred_t (id int UNIQUE DEFERRABLE INITIALLY DEFERRED)"
    " ON COMMIT DROP",
    "CREATE OR REPLACE FUNCTION pg_temp.say_at_commit() RETURNS trigger LANGUAGE plpgsql AS"
    " $$BEGIN RAISE NOTICE 'checked at commit'; RETURN NULL; END$$",
    "CREATE CONSTRAINT TRIGGER deferred_note AFTER INSERT ON deferred_t"
    " DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION pg_temp.say_at_commit()",
)


@pytest.mark.parametrize("fail", [False, True], ids=["commits", "commit-fails"])
def test_pool_block_end_reports_what_commit_said(pool, dsn, fail):
    """The end of a block (COMMIT and the return to the pool, one GIL-free step) keeps
    what the COMMIT itself reported: its notices land on the connection, its error is
    raised with psycopg2's class and pgcode, and the connection is back in the pool."""
    rows = "(1), (1)" if fail else "(1), (2)"
    ref = psycopg2.connect(dsn)
    try:
        with pytest.raises(psycopg2.IntegrityError) if fail else _nothing():
            with ref:
                with ref.cursor() as cur:
                    for sql in DEFERRED_SETUP:
                        cur.execute(sql)
                    cur.execute(f"INSERT INTO deferred_t VALUES {rows}")
        ref_notices = list(ref.notices)
    finally:
        ref.close()
    with pytest.raises(pgpool.IntegrityError) if fail else _nothing() as info:
        with pool.connection() as c:
            with c.cursor() as cur:
                for sql in DEFERRED_SETUP:
                    cur.execute(sql)
                cur.execute(f"INSERT INTO deferred_t VALUES {rows}")
    if fail:
        assert info.value.pgcode == "23505"
    assert list(c.notices) == ref_notices
    assert c.notices[-1] == "NOTICE:  checked at commit\n"
    assert c.closed
    assert pool.stats()["in_use"] == 0
    with pool.cursor() as cur:  # the connection came back clean
        cur.execute("SELECT 1")
        assert cur.fetchone() == (1,)


class _nothing:
    value: Exception

    def __enter__(self) -> _nothing:
        return self

    def __exit__(self, *exc: object) -> bool:
        return False


def test_commit_inside_pool_cursor_block(pool, admin, table):
    with pool.cursor() as cur:
        cur.execute(f"INSERT INTO {table} (val) VALUES (1)")
        cur.connection.commit()
        cur.execute(f"INSERT INTO {table} (val) VALUES (2)")
        cur.connection.rollback()
    assert count(admin, table) == 1


def test_ctrl_c_cancels_the_query(conn):
    """SIGINT during a long statement cancels it on the server; the connection stays
    usable."""
    import os
    import signal

    if threading.current_thread() is not threading.main_thread():
        pytest.skip("signals go to the main thread")
    timer = threading.Timer(0.3, os.kill, (os.getpid(), signal.SIGINT))
    started = time.monotonic()
    timer.start()
    try:
        with conn.cursor() as cur:
            with pytest.raises((KeyboardInterrupt, pgpool.QueryCanceledError)):
                cur.execute("SELECT pg_sleep(10)")
    finally:
        timer.cancel()
    assert time.monotonic() - started < 5
    conn.rollback()
    with conn.cursor() as cur:
        cur.execute("SELECT 1")
        assert cur.fetchone() == (1,)
    conn.rollback()
