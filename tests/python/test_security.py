"""Regression tests for the defects adversarial testing found (tests/DRILLS.md,
"Adversarial review"): each failed before its fix. tests/DRILLS.md states the guarantee each
gives. Most run directly and through PgBouncer in transaction mode (``dsn``); the
session-leak tests also through a PgBouncer pool of one server connection
(``PGBOUNCER_ONE_URL``), where consecutive clients share the server connection."""

from __future__ import annotations

import io
import os
import signal
import threading
import time
import uuid
from typing import Any, Callable, Iterator, List

import psycopg2
import pytest
from test_drills import StallProxy, _host_port, _report, _with_params

import pgpool
from pgpool import sql

PGBOUNCER_ONE_URL = os.environ.get("PGBOUNCER_ONE_URL", "")
EVIL = "\\'; CREATE TABLE pwned(x int); --"
EVILS = [
    EVIL,
    "\\",
    "a\\",
    "\\\\'",
    "'\\'",
    "x\\'); DROP TABLE pwned; --",
    "\\x41\\n\\t",
    "é\\'ü",
]


def _pwned(admin: Any) -> bool:
    with admin.cursor() as cur:
        cur.execute("SELECT to_regclass('public.pwned') IS NOT NULL")
        return bool(cur.fetchone()[0])


@pytest.fixture
def no_pwned(admin: Any) -> Iterator[None]:
    with admin.cursor() as cur:
        cur.execute("DROP TABLE IF EXISTS pwned")
    yield
    assert not _pwned(admin), "an injected statement ran"


# ---------------------------------------------------------------------------
# 1. standard_conforming_strings = off


@pytest.fixture(scope="module")
def scs_off_role(admin: Any) -> Iterator[str]:
    """A role whose sessions start with standard_conforming_strings off."""
    with admin.cursor() as cur:
        cur.execute("DROP ROLE IF EXISTS pgpool_scs_off")
        cur.execute("CREATE ROLE pgpool_scs_off LOGIN SUPERUSER")
        cur.execute("ALTER ROLE pgpool_scs_off SET standard_conforming_strings = off")
    yield "pgpool_scs_off"
    with admin.cursor() as cur:
        cur.execute("DROP ROLE IF EXISTS pgpool_scs_off")


def _off_dsn(how: str, dsn: str, direct_dsn: str, role: str) -> str:
    if how == "dsn_options":
        return _with_params(
            direct_dsn, options="-c%20standard_conforming_strings%3Doff"
        )
    if how == "role_default":
        return direct_dsn.replace("postgres@", f"{role}@", 1)
    return dsn


@pytest.mark.parametrize("how", ["dsn_options", "role_default", "set_in_block"])
def test_hostile_strings_with_standard_conforming_strings_off(
    how: str,
    dsn: str,
    direct_dsn: str,
    scs_off_role: str,
    admin: Any,
    no_pwned: None,
    table: str,
) -> None:
    """Every client-side path renders literals for the server's current setting:
    execute, mogrify, executemany, copy_expert, sql.Literal and extensions.adapt. The
    values round-trip and no statement is injected. Where psycopg2 knows the setting
    from the start (DSN, role default) its mogrify output is the same."""
    if how != "set_in_block" and dsn != direct_dsn:
        pytest.skip("PgBouncer drops the startup options; the role test is direct")
    target = _off_dsn(how, dsn, direct_dsn, scs_off_role)
    with pgpool.Pool(target, min_size=0, max_size=1, timeout=10) as pool:
        with pool.cursor() as cur:
            if how == "set_in_block":
                cur.execute("SET standard_conforming_strings = off")
            cur.execute("SHOW standard_conforming_strings")
            assert cur.fetchone() == ("off",)
            for v in EVILS:
                cur.execute("SELECT %s, %s", (v, v))
                assert cur.fetchone() == (v, v)
                cur.execute("SELECT %(a)s", {"a": [v, v]})
                assert cur.fetchone() == ([v, v],)
                cur.execute("SELECT %s::bytea", (v.encode(),))
                assert bytes(cur.fetchone()[0]) == v.encode()
                cur.execute(cur.mogrify("SELECT %s", (v,)))
                assert cur.fetchone() == (v,)
                lit = sql.SQL("SELECT {}").format(sql.Literal(v))
                cur.execute(lit)
                assert cur.fetchone() == (v,)
                q = pgpool.extensions.adapt(v)
                q.prepare(cur.connection)
                cur.execute(b"SELECT " + q.getquoted())
                assert cur.fetchone() == (v,)
                out = io.StringIO()
                cur.copy_expert(
                    sql.SQL("COPY (SELECT {}) TO STDOUT").format(sql.Literal(v)), out
                )
                assert out.getvalue() == v.replace("\\", "\\\\") + "\n"
            cur.executemany(
                f"INSERT INTO {table} (note) VALUES (%s)", [(v,) for v in EVILS]
            )
            cur.execute(f"SELECT note FROM {table} ORDER BY id")
            assert [r[0] for r in cur.fetchall()] == EVILS
            if how != "set_in_block":
                ref = psycopg2.connect(target)
                try:
                    with ref.cursor() as rc:
                        for v in EVILS:
                            assert cur.mogrify("SELECT %s", (v,)) == rc.mogrify(
                                "SELECT %s", (v,)
                            ), v
                            assert cur.mogrify(
                                "SELECT %s", (v.encode(),)
                            ) == rc.mogrify("SELECT %s", (v.encode(),)), v
                finally:
                    ref.close()
            if how == "set_in_block":
                cur.execute("RESET standard_conforming_strings")


def test_setting_turned_off_in_the_same_message(conn: Any, no_pwned: None) -> None:
    """A statement that turns the setting off before the values are read (same
    message): the values are written so that either setting reads them right."""
    conn.autocommit = True
    with conn.cursor() as cur:
        for v in EVILS:
            cur.execute("SET standard_conforming_strings = off; SELECT %s", (v,))
            assert cur.fetchone() == (v,)
            cur.execute("SET standard_conforming_strings = on; SELECT %s", (v,))
            assert cur.fetchone() == (v,)
            cur.execute(
                "SELECT set_config('standard_conforming_strings', %s, false), %s",
                ("off", v),
            )
            assert cur.fetchone() == ("off", v)
            cur.executemany(
                "SELECT set_config('standard_conforming_strings', %s, false), %s",
                [("on", v), ("off", v), ("on", v)],
            )
        cur.execute("RESET standard_conforming_strings")


# ---------------------------------------------------------------------------
# 2. the reset rides with the block's end (PgBouncer transaction mode)


@pytest.fixture
def one_conn_bouncer(admin: Any) -> str:
    if not PGBOUNCER_ONE_URL:
        pytest.skip("PGBOUNCER_ONE_URL is not set")
    return PGBOUNCER_ONE_URL


@pytest.fixture(scope="module")
def other_role(admin: Any) -> Iterator[str]:
    with admin.cursor() as cur:
        cur.execute("DROP ROLE IF EXISTS pgpool_other")
        cur.execute("CREATE ROLE pgpool_other")
        cur.execute("GRANT pgpool_other TO postgres")
    yield "pgpool_other"
    with admin.cursor() as cur:
        cur.execute("DROP ROLE IF EXISTS pgpool_other")


# What client A leaves behind in its block, and how client B would see it.
LEAKS = {
    "role": ("SET ROLE pgpool_other", "SELECT current_user <> session_user"),
    "search_path": (
        "SET search_path TO pgpool_leak, public",
        "SELECT current_setting('search_path') LIKE 'pgpool_leak%'",
    ),
    "temp_table": (
        "CREATE TEMP TABLE pgpool_leak_t (a int)",
        "SELECT to_regclass('pg_temp.pgpool_leak_t') IS NOT NULL",
    ),
    "advisory_lock": (
        "SELECT pg_advisory_lock(424242)",
        "SELECT count(*) > 0 FROM pg_locks WHERE locktype = 'advisory' "
        "AND pid = pg_backend_pid()",
    ),
    "custom_setting_transaction": (
        "SET transaction.tenant = '42'",
        "SELECT current_setting('transaction.tenant', true) IS NOT DISTINCT FROM '42'",
    ),
    "custom_setting_local": (
        "SET local.tenant = '42'",
        "SELECT current_setting('local.tenant', true) IS NOT DISTINCT FROM '42'",
    ),
    "update_pg_settings": (
        "UPDATE pg_settings SET setting = 'pgpool_leak, public' WHERE name = 'search_path'",
        "SELECT current_setting('search_path') LIKE 'pgpool_leak%'",
    ),
    "set_config_in_a_function": (
        "SELECT pgpool_leak_f_guc()",
        "SELECT current_setting('app.leak', true) IS NOT DISTINCT FROM 'yes'",
    ),
    "temp_table_in_a_function": (
        "SELECT pgpool_leak_f_temp()",
        "SELECT to_regclass('pg_temp.pgpool_leak_ft') IS NOT NULL",
    ),
    "advisory_lock_in_a_function": (
        "SELECT pgpool_leak_f_lock()",
        "SELECT count(*) > 0 FROM pg_locks WHERE locktype = 'advisory' "
        "AND pid = pg_backend_pid()",
    ),
    "lastval": (
        "SELECT nextval('pgpool_leak_seq')",
        "SELECT pgpool_try_lastval() IS NOT NULL",
    ),
    "lastval_insert": (
        "INSERT INTO pgpool_leak_serial DEFAULT VALUES",
        "SELECT pgpool_try_lastval() IS NOT NULL",
    ),
}


@pytest.fixture(scope="module")
def leak_objects(admin: Any, other_role: str) -> Iterator[None]:
    with admin.cursor() as cur:
        cur.execute(
            """
            CREATE OR REPLACE FUNCTION pgpool_leak_f_guc() RETURNS text LANGUAGE sql
                AS $$ SELECT set_config('app.leak', 'yes', false) $$;
            CREATE OR REPLACE FUNCTION pgpool_leak_f_temp() RETURNS void LANGUAGE plpgsql
                AS $$ BEGIN CREATE TEMP TABLE IF NOT EXISTS pgpool_leak_ft (a int); END $$;
            CREATE OR REPLACE FUNCTION pgpool_leak_f_lock() RETURNS void LANGUAGE sql
                AS $$ SELECT pg_advisory_lock(434343) $$;
            CREATE OR REPLACE FUNCTION pgpool_try_lastval() RETURNS bigint
                LANGUAGE plpgsql AS $$
                BEGIN RETURN lastval(); EXCEPTION WHEN OTHERS THEN RETURN NULL; END $$;
            CREATE SEQUENCE IF NOT EXISTS pgpool_leak_seq;
            CREATE TABLE IF NOT EXISTS pgpool_leak_serial (id serial PRIMARY KEY);
            """
        )
    yield
    with admin.cursor() as cur:
        cur.execute(
            "DROP FUNCTION IF EXISTS pgpool_leak_f_guc(), pgpool_leak_f_temp(), "
            "pgpool_leak_f_lock(), pgpool_try_lastval(); "
            "DROP SEQUENCE IF EXISTS pgpool_leak_seq; "
            "DROP TABLE IF EXISTS pgpool_leak_serial"
        )


def _leak_rounds(
    dsn: str,
    leave: Callable[[Any], None],
    probe: str,
    rounds: int,
) -> tuple[int, int]:
    """Client A (its own pool) runs ``rounds`` blocks that leave state behind while
    client B (another pool, another thread) keeps running blocks that probe for it,
    through the same server connection; returns (B's blocks, those that saw A's state).
    B's blocks wait in PgBouncer while A holds the server connection, so each gets it
    the moment A's transaction ends."""
    done = threading.Event()
    ready = threading.Event()
    seen = [0, 0]
    errors: List[BaseException] = []

    def client_b() -> None:
        try:
            with pgpool.Pool(dsn, min_size=1, max_size=1, timeout=20) as b:
                b.wait(10)
                ready.set()
                while not done.is_set():
                    with b.cursor() as cur:
                        cur.execute(probe)
                        seen[0] += 1
                        seen[1] += bool(cur.fetchone()[0])
        except BaseException as e:  # pragma: no cover - reported below
            errors.append(e)
        finally:
            ready.set()

    with pgpool.Pool(dsn, min_size=1, max_size=1, timeout=20) as a:
        a.wait(10)
        t = threading.Thread(target=client_b)
        t.start()
        try:
            # A starts once B's pool is connected, and keeps leaving state behind
            # until B has run at least ``rounds // 3`` blocks in between (how the two
            # threads interleave is the scheduler's business; a slow machine must
            # not make the check vacuous), within a generous deadline.
            ready.wait(20)
            deadline = time.monotonic() + 60
            done_rounds = 0
            while done_rounds < rounds or (
                seen[0] < rounds // 3 and time.monotonic() < deadline and not errors
            ):
                leave(a)
                done_rounds += 1
                if done_rounds % 10 == 0:
                    time.sleep(0.001)
        finally:
            done.set()
            t.join(30)
    assert not errors, errors
    return seen[0], seen[1]


def _leave_in_block(sql_text: str) -> Callable[[Any], None]:
    def leave(pool: Any) -> None:
        with pool.cursor() as cur:
            cur.execute(sql_text)

    return leave


@pytest.mark.parametrize("kind", sorted(LEAKS))
def test_no_session_state_reaches_the_next_user_direct(
    kind: str, direct_dsn: str, leak_objects: None
) -> None:
    """One pool of one connection: the next block never sees what the previous one
    left, whatever the statement (including code the scan cannot read)."""
    leave, probe = LEAKS[kind]
    with pgpool.Pool(direct_dsn, min_size=1, max_size=1, timeout=10) as pool:
        for autocommit in (False, True):
            for _ in range(3):
                with pool.cursor(autocommit=autocommit) as cur:
                    cur.execute(leave)
                with pool.cursor() as cur:
                    cur.execute(probe)
                    assert cur.fetchone() == (False,), (kind, autocommit)
        with pool.cursor() as cur:
            cur.execute("SELECT pg_advisory_unlock_all()")


@pytest.mark.parametrize("kind", sorted(LEAKS))
def test_no_session_state_leaks_through_a_one_connection_pgbouncer(
    kind: str, one_conn_bouncer: str, leak_objects: None
) -> None:
    """Two pools through a PgBouncer pool of one server connection (transaction
    mode): client B never runs with client A's state, because the reset travels in
    the same message as A's COMMIT."""
    leave, probe = LEAKS[kind]
    blocks, seen = _leak_rounds(
        one_conn_bouncer, _leave_in_block(leave), probe, rounds=30
    )
    assert blocks >= 10, blocks
    assert seen == 0, f"{kind}: B saw A's state in {seen} of {blocks} blocks"


def test_psycopg2_leaks_where_pgpool_does_not(
    one_conn_bouncer: str, leak_objects: None
) -> None:
    """The reference, for the record: psycopg2 (COMMIT, then a reset of its own: here
    ``RESET ROLE`` as the next statement) lets client B run as client A's role through
    the same PgBouncer, B's blocks running meanwhile in another thread."""
    done = threading.Event()
    seen = [0, 0]

    def client_b() -> None:
        b = psycopg2.connect(one_conn_bouncer)
        try:
            while not done.is_set():
                with b.cursor() as cur:
                    cur.execute("SELECT current_user <> session_user")
                    seen[0] += 1
                    seen[1] += bool(cur.fetchone()[0])
                b.commit()
        finally:
            b.close()

    a = psycopg2.connect(one_conn_bouncer)
    t = threading.Thread(target=client_b)
    t.start()
    try:
        for _ in range(30):
            with a.cursor() as cur:
                cur.execute("SET ROLE pgpool_other")
            a.commit()
            with a.cursor() as cur:
                cur.execute("RESET ROLE")
            a.commit()
    finally:
        done.set()
        t.join(30)
        a.close()
    _report(
        "psycopg2 through a one-connection PgBouncer",
        blocks=seen[0],
        blocks_as_other_role=seen[1],
    )
    assert seen[1] > 0


def test_commit_then_putconn_through_pgbouncer(
    one_conn_bouncer: str, leak_objects: None
) -> None:
    """psycopg2's own sequence (commit, then putconn): behind a pooler every
    transaction end carries the reset."""

    def leave(pool: Any) -> None:
        c = pool.getconn()
        with c.cursor() as cur:
            cur.execute("SET ROLE pgpool_other")
        c.commit()
        pool.putconn(c)

    blocks, seen = _leak_rounds(
        one_conn_bouncer, leave, "SELECT current_user <> session_user", rounds=30
    )
    assert blocks >= 10, blocks
    assert seen == 0, f"B ran as A's role in {seen} of {blocks} blocks"


def test_commit_notices_and_session_state_kept_inside_a_checkout(
    direct_dsn: str,
) -> None:
    """Directly connected, session state lasts for the whole checkout as in psycopg2:
    it is reset only when the connection goes back."""
    with pgpool.Pool(direct_dsn, min_size=1, max_size=1) as pool:
        c = pool.getconn()
        with c.cursor() as cur:
            cur.execute("SET search_path TO pgpool_kept, public")
        c.commit()
        with c.cursor() as cur:
            cur.execute("SHOW search_path")
            assert cur.fetchone() == ("pgpool_kept, public",)
        c.commit()
        pool.putconn(c)
        with pool.cursor() as cur:
            cur.execute("SHOW search_path")
            assert cur.fetchone() == ('"$user", public',)


def test_failed_commit_still_resets(direct_dsn: str, admin: Any) -> None:
    """A COMMIT that fails (deferred constraint) skips the rest of its message: the
    reset follows on its own and the next user is clean."""
    name = "pgpool_def_" + uuid.uuid4().hex[:8]
    with admin.cursor() as cur:
        cur.execute(f"CREATE TABLE {name} (a int UNIQUE DEFERRABLE INITIALLY DEFERRED)")
    try:
        with pgpool.Pool(direct_dsn, min_size=1, max_size=1) as pool:
            with pytest.raises(pgpool.errors.UniqueViolation):
                with pool.cursor() as cur:
                    cur.execute("SET search_path TO pgpool_x, public")
                    cur.execute("SELECT pg_advisory_lock(515151)")
                    cur.execute(f"INSERT INTO public.{name} VALUES (1), (1)")
            with pool.cursor() as cur:
                cur.execute(
                    "SELECT current_setting('search_path'), count(*) FROM pg_locks "
                    "WHERE locktype = 'advisory' AND pid = pg_backend_pid()"
                )
                assert cur.fetchone() == ('"$user", public', 0)
    finally:
        with admin.cursor() as cur:
            cur.execute(f"DROP TABLE {name}")


# ---------------------------------------------------------------------------
# 9. executemany in autocommit


def test_executemany_autocommit_commits_each_statement(
    dsn: str, admin: Any, table: str
) -> None:
    """A duplicate key at row 400 of 1,000 in autocommit: rows 0-399 are committed and
    none after the error ran, exactly as with psycopg2."""
    with admin.cursor() as cur:
        cur.execute(f"ALTER TABLE {table} ADD UNIQUE (val)")
    rows = [(i,) for i in range(1000)]
    rows[400] = (5,)
    outcome = {}
    for name, connect in (("pgpool", pgpool.connect), ("psycopg2", psycopg2.connect)):
        with admin.cursor() as cur:
            cur.execute(f"TRUNCATE {table}")
        c = connect(dsn)
        c.autocommit = True
        try:
            with pytest.raises(Exception) as info:
                with c.cursor() as cur:
                    cur.executemany(f"INSERT INTO {table} (val) VALUES (%s)", rows)
            assert type(info.value).__name__ == "UniqueViolation"
        finally:
            c.close()
        with admin.cursor() as cur:
            cur.execute(f"SELECT count(*), min(val), max(val) FROM {table}")
            outcome[name] = cur.fetchone()
    assert outcome["pgpool"] == outcome["psycopg2"] == (400, 0, 399), outcome


def test_executemany_autocommit_statements_outside_transactions(conn: Any) -> None:
    """Statements that cannot run in a transaction block go one per message."""
    name = "pgpool_vac_" + uuid.uuid4().hex[:8]
    conn.autocommit = True
    with conn.cursor() as cur:
        cur.execute(f"CREATE TABLE {name} (a int)")
        try:
            cur.executemany(f"INSERT INTO {name} VALUES (%s)", [(1,), (2,)])
            cur.executemany(f"VACUUM {name}", [(), ()])
            cur.execute(f"SELECT count(*) FROM {name}")
            assert cur.fetchone() == (2,)
        finally:
            cur.execute(f"DROP TABLE {name}")
    assert conn.notices == [], conn.notices


# ---------------------------------------------------------------------------
# 12. the acquire deadline cuts the last connect attempt


@pytest.fixture
def stalled(direct_dsn: str) -> Iterator[StallProxy]:
    p = StallProxy(_host_port(direct_dsn))
    p.paused.set()
    yield p
    p.close()


@pytest.mark.parametrize("timeout,connect_timeout", [(2, 3), (5, 1)])
def test_acquire_timeout_is_kept_with_connect_timeout(
    stalled: StallProxy, timeout: float, connect_timeout: float
) -> None:
    with pgpool.Pool(
        stalled.dsn(connect_timeout=connect_timeout),
        min_size=0,
        max_size=2,
        timeout=timeout,
    ) as pool:
        started = time.monotonic()
        with pytest.raises(pgpool.PoolTimeout):
            pool.getconn()
        took = time.monotonic() - started
    assert timeout - 0.1 <= took < timeout + 0.5, took
    _report(
        f"acquire timeout={timeout} with connect_timeout={connect_timeout}",
        gave_up_after=f"{took:.2f}s",
    )


# ---------------------------------------------------------------------------
# 6. Ctrl-C on a stalled network


def test_ctrl_c_on_a_stalled_network(direct_dsn: str) -> None:
    """SIGINT while the network is stalled: the cancel request cannot reach the server
    either; KeyboardInterrupt comes within about a second and the connection is
    discarded (the pool serves again once the network is back)."""
    if threading.current_thread() is not threading.main_thread():
        pytest.skip("signals are only handled on the main thread")
    old = signal.signal(signal.SIGINT, signal.default_int_handler)
    proxy = StallProxy(_host_port(direct_dsn))
    main = threading.main_thread().ident
    assert main is not None
    sent: List[float] = []

    def interrupt() -> None:
        sent.append(time.monotonic())
        signal.pthread_kill(main, signal.SIGINT)

    try:
        with pgpool.Pool(proxy.dsn(), min_size=1, max_size=1, timeout=5) as pool:
            pool.wait(5)

            def stall() -> None:
                proxy.paused.set()

            threading.Timer(0.2, stall).start()
            timer = threading.Timer(0.6, interrupt)
            timer.start()
            with pytest.raises(KeyboardInterrupt):
                with pool.cursor() as cur:
                    cur.execute("SELECT pg_sleep(3)")
            latency = time.monotonic() - sent[0]
            timer.join()
            assert latency < 1.5, f"{latency:.2f} s"
            proxy.paused.clear()
            with pool.cursor() as cur:
                cur.execute("SELECT 1")
                assert cur.fetchone() == (1,)
    finally:
        proxy.close()
        signal.signal(signal.SIGINT, old)
    _report("Ctrl-C on a stalled network", raised_after=f"{latency * 1000:.0f}ms")


# ---------------------------------------------------------------------------
# 11. client_encoding changed from SQL (or asked for in the DSN)


@pytest.mark.parametrize("how", ["set", "dsn"])
def test_client_encoding_is_followed(
    how: str, dsn: str, direct_dsn: str, admin: Any, table: str
) -> None:
    """SET client_encoding from SQL (or client_encoding in the DSN): text is converted
    for the session's encoding, as psycopg 3 does; the stored characters are the ones
    sent, never their UTF-8 bytes read as Latin-1."""
    target = _with_params(dsn, client_encoding="LATIN1") if how == "dsn" else dsn
    c = pgpool.connect(target)
    try:
        with c.cursor() as cur:
            if how == "set":
                cur.execute("SET client_encoding TO 'LATIN1'")
            assert c.encoding == "LATIN1"
            cur.execute(f"INSERT INTO {table} (note) VALUES (%s), ('àçé')", ("café",))
            cur.execute(f"SELECT note, %s FROM {table} ORDER BY id", ("ÿ",))
            assert cur.fetchall() == [("café", "ÿ"), ("àçé", "ÿ")]
            cur.execute("SELECT 'é' AS \"é\"")
            assert cur.description[0][0] == "é"
            out = io.StringIO()
            cur.copy_expert(
                f"COPY (SELECT note FROM {table} ORDER BY id) TO STDOUT", out
            )
            assert out.getvalue() == "café\nàçé\n"
            cur.copy_expert(f"COPY {table} (note) FROM STDIN", io.StringIO("ü\n"))
            # not representable: an error before anything is sent
            with pytest.raises(UnicodeEncodeError):
                cur.execute("SELECT %s", ("€",))
        c.commit()
        with c.cursor() as cur:
            with pytest.raises(pgpool.errors.UndefinedColumn) as info:
                cur.execute("SELECT é_missing")
            assert "é_missing" in str(info.value)
        c.rollback()
    finally:
        c.close()
    with admin.cursor() as cur:
        cur.execute(
            f"SELECT note, octet_length(convert_to(note, 'UTF8')) FROM {table} ORDER BY id"
        )
        assert cur.fetchall() == [("café", 5), ("àçé", 6), ("ü", 2)]


def test_client_encoding_in_a_statement_with_rows(conn: Any) -> None:
    """The server reports the new encoding after the rows that follow the change in
    the same message: those rows are read in it."""
    conn.autocommit = True
    with conn.cursor() as cur:
        cur.execute("SET client_encoding TO 'WIN1251'; SELECT 'привет', %s", ("мир",))
        assert cur.fetchone() == ("привет", "мир")
        cur.execute("RESET client_encoding; SELECT 'д'")
        assert cur.fetchone() == ("д",)
        assert conn.encoding == "UTF8"


def test_unsupported_client_encoding_is_refused_clearly(dsn: str) -> None:
    with pgpool.Pool(dsn, min_size=1, max_size=1) as pool:
        with pool.cursor(autocommit=True) as cur:
            cur.execute("SET client_encoding TO 'EUC_TW'")
            with pytest.raises(pgpool.InterfaceError, match="client_encoding"):
                cur.execute("SELECT 1")
        # the pool's reset puts the session's encoding back
        with pool.cursor() as cur:
            cur.execute("SELECT 'é'")
            assert cur.fetchone() == ("é",)
    with pytest.raises(pgpool.ProgrammingError, match="client_encoding"):
        pgpool.connect(_with_params(dsn, client_encoding="EUC_TW"))


# ---------------------------------------------------------------------------
# 5. interpreter exit with daemon threads inside pgpool

EXIT_SCRIPT = r"""
import io, logging, sys, threading, time
mode, lib, dsn = sys.argv[1], sys.argv[2], sys.argv[3]
logging.basicConfig(level=logging.DEBUG, stream=io.StringIO())
if lib == "pgpool":
    import pgpool
    target = dsn if mode != "log" else "postgresql://postgres@127.0.0.1:1/postgres"
    pool = pgpool.Pool(target, min_size=1 if mode != "log" else 0, max_size=1, timeout=60)

    def work():
        if mode == "sleep":
            while True:
                with pool.cursor() as cur:
                    cur.execute("SELECT pg_sleep(0.05)")
        elif mode == "checkout":
            while True:
                c = pool.getconn(timeout=60)
                pool.putconn(c)
        elif mode == "executemany":
            while True:
                with pool.cursor() as cur:
                    cur.executemany("SELECT %s", ((i,) for i in range(200)))
        elif mode == "copy":
            while True:
                with pool.cursor() as cur:
                    cur.copy_expert("COPY (SELECT generate_series(1, 20000)) TO STDOUT",
                                    io.StringIO())
        elif mode == "log":
            while True:
                try:
                    pool.getconn(timeout=0.05)
                except pgpool.PoolTimeout:
                    pass
else:
    import psycopg2, psycopg2.pool
    pool = psycopg2.pool.ThreadedConnectionPool(1, 1, dsn)

    def work():
        c = pool.getconn()
        while True:
            c.cursor().execute("SELECT pg_sleep(0.05)")
for _ in range(4):
    threading.Thread(target=work, daemon=True).start()
time.sleep(0.3)
print("exiting", flush=True)
"""


@pytest.mark.parametrize("mode", ["sleep", "checkout", "executemany", "copy", "log"])
def test_interpreter_exit_with_daemon_threads_inside_pgpool(
    mode: str, direct_dsn: str, tmp_path: Any
) -> None:
    """Daemon threads blocked in a statement, a checkout, a Python callback of a
    GIL-free section (executemany's parameters, COPY's file) or the logging path when the
    interpreter exits: the process exits 0, five runs in five, as with psycopg2."""
    import subprocess
    import sys

    script = tmp_path / "exit.py"
    script.write_text(EXIT_SCRIPT)
    results = []
    for lib in ["pgpool"] * 5 + (["psycopg2"] if mode == "sleep" else []):
        p = subprocess.run(
            [sys.executable, str(script), mode, lib, direct_dsn],
            capture_output=True,
            text=True,
            timeout=60,
        )
        results.append((lib, p.returncode, p.stdout.strip(), p.stderr[-300:]))
    bad = [r for r in results if r[1] != 0 or r[2] != "exiting"]
    assert not bad, bad


def test_deferred_sequence_reset_rides_with_the_next_statement(
    direct_dsn: str, leak_objects: None
) -> None:
    """An autocommit write leaves currval()/lastval(): the reset (DISCARD SEQUENCES)
    rides in front of the next user's first statement instead of costing a round trip
    at the return. The next user never sees the value, whatever its first statement
    (autocommit, in a block, a syntax error, executemany, COPY), its own lastval() works
    from its second statement on, and error positions count from its own SQL."""
    probe = "SELECT pgpool_try_lastval() IS NOT NULL"
    firsts = {
        "autocommit": lambda cur: cur.execute(probe),
        "syntax_error_first": lambda cur: cur.execute("SELEC 1"),
        "runtime_error_first": lambda cur: cur.execute("SELECT 1/0"),
        "executemany_first": lambda cur: cur.executemany("SELECT %s", [(1,), (2,)]),
        "copy_first": lambda cur: cur.copy_expert(
            "COPY (SELECT 1) TO STDOUT", io.StringIO()
        ),
    }
    with pgpool.Pool(direct_dsn, min_size=1, max_size=1, timeout=10) as pool:
        for name, first in firsts.items():
            with pool.cursor(autocommit=True) as cur:
                cur.execute("SELECT nextval('pgpool_leak_seq')")
            with pool.cursor(autocommit=True) as cur:
                try:
                    first(cur)
                except pgpool.DatabaseError as e:
                    if name == "syntax_error_first":
                        # the position is the caller's: "SELEC" starts at 1
                        assert e.diag.statement_position == "1", name
                cur.execute(probe)
                assert cur.fetchone() == (False,), name
                # the user's own sequence state lasts for its checkout
                cur.execute("SELECT nextval('pgpool_leak_seq')")
                (v,) = cur.fetchone()
                cur.execute("SELECT lastval()")
                assert cur.fetchone() == (v,), name
