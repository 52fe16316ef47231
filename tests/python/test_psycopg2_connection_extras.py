"""psycopg2's connection API beyond DB-API (issue 15 items 3, 4, 5, 8): LISTEN/NOTIFY
(``notifies``, ``poll()``, ``fileno()``), two-phase commit (``xid``, ``tpc_*``), client
encodings (``set_client_encoding``, ``encoding``), ``reset()``, assignable ``notices``,
``cursor.cast()``. Each behaviour is checked beside psycopg2 on the same server.

LISTEN and PREPARE TRANSACTION need a session of their own: these run on the direct
server, not through PgBouncer in transaction mode.
"""

from __future__ import annotations

import collections
import select
import time
from typing import Any, Iterator

import psycopg2
import psycopg2.extensions
import pytest

import pgpool
import pgpool.extensions


@pytest.fixture(params=["pgpool", "psycopg2"])
def driver(request: pytest.FixtureRequest) -> Any:
    return pgpool if request.param == "pgpool" else psycopg2


@pytest.fixture
def ext(driver: Any) -> Any:
    return pgpool.extensions if driver is pgpool else psycopg2.extensions


@pytest.fixture
def cx(driver: Any, direct_dsn: str) -> Iterator[Any]:
    c = driver.connect(direct_dsn)
    yield c
    c.close()


@pytest.fixture
def tpc_table(direct_dsn: str) -> Iterator[str]:
    admin = psycopg2.connect(direct_dsn)
    admin.autocommit = True
    cur = admin.cursor()
    cur.execute("DROP TABLE IF EXISTS pgpool_tpc; CREATE TABLE pgpool_tpc (data text)")

    def clear() -> None:
        cur.execute(
            "SELECT gid FROM pg_prepared_xacts WHERE database = current_database()"
        )
        for (gid,) in cur.fetchall():
            cur.execute("ROLLBACK PREPARED %s", (gid,))

    clear()
    yield "pgpool_tpc"
    clear()
    cur.execute("DROP TABLE pgpool_tpc")
    admin.close()


def count(direct_dsn: str, sql: str) -> int:
    c = psycopg2.connect(direct_dsn)
    try:
        cur = c.cursor()
        cur.execute(sql)
        return int(cur.fetchone()[0])
    finally:
        c.close()


def notify(direct_dsn: str, channel: str, payload: str = "") -> int:
    c = psycopg2.connect(direct_dsn)
    c.autocommit = True
    try:
        cur = c.cursor()
        cur.execute("SELECT pg_notify(%s, %s)", (channel, payload))
        return c.get_backend_pid()
    finally:
        c.close()


# ---------------------------------------------------------------- LISTEN/NOTIFY


def test_notification_arrives_on_poll_after_select(
    cx: Any, ext: Any, direct_dsn: str
) -> None:
    cx.autocommit = True
    cx.cursor().execute("LISTEN pgpool_chan")
    pid = notify(direct_dsn, "pgpool_chan", "hello")
    ready, _, _ = select.select([cx], [], [], 5)
    assert ready == [cx]
    assert cx.notifies == []
    assert cx.poll() == ext.POLL_OK
    assert len(cx.notifies) == 1
    n = cx.notifies.pop()
    assert isinstance(n, ext.Notify)
    assert (n.pid, n.channel, n.payload) == (pid, "pgpool_chan", "hello")
    assert n == (pid, "pgpool_chan")
    assert n[0] == pid and n[1] == "pgpool_chan"
    assert cx.poll() == ext.POLL_OK
    assert cx.notifies == []


def test_notifications_arrive_with_a_statement_and_into_a_deque(
    cx: Any, direct_dsn: str
) -> None:
    cx.autocommit = True
    cx.notifies = collections.deque()
    cur = cx.cursor()
    cur.execute("LISTEN pgpool_a; LISTEN pgpool_b")
    notify(direct_dsn, "pgpool_a", "1")
    notify(direct_dsn, "pgpool_b", "2")
    time.sleep(0.2)
    cur.execute("SELECT 1")
    assert [(n.channel, n.payload) for n in cx.notifies] == [
        ("pgpool_a", "1"),
        ("pgpool_b", "2"),
    ]
    cx.notifies = None  # psycopg2: nothing is kept then
    notify(direct_dsn, "pgpool_a")
    time.sleep(0.2)
    cx.poll()
    assert cx.notifies is None


def test_poll_after_the_backend_was_terminated(
    cx: Any, driver: Any, direct_dsn: str
) -> None:
    cx.autocommit = True
    pid = cx.get_backend_pid()
    admin = psycopg2.connect(direct_dsn)
    admin.autocommit = True
    admin.cursor().execute("SELECT pg_terminate_backend(%s)", (pid,))
    admin.close()
    time.sleep(0.3)
    # libpq's behaviour: the server's FATAL goodbye becomes a notice; the next use fails.
    assert cx.poll() == 0
    assert any("terminating connection" in n for n in cx.notices)
    with pytest.raises(driver.OperationalError):
        cx.cursor().execute("SELECT 1")
    assert cx.closed == 2


# ---------------------------------------------------------------- two-phase commit


@pytest.mark.parametrize("prepare", [True, False])
@pytest.mark.parametrize("commit", [True, False])
def test_tpc_own_transaction(
    tpc_table: str,
    cx: Any,
    driver: Any,
    ext: Any,
    direct_dsn: str,
    prepare: bool,
    commit: bool,
) -> None:
    xid = cx.xid(42, "gtrid", "bqual")
    cx.tpc_begin(xid)
    assert cx.status == ext.STATUS_BEGIN
    cx.cursor().execute(f"INSERT INTO {tpc_table} VALUES ('x')")
    if prepare:
        cx.tpc_prepare()
        assert cx.status == ext.STATUS_PREPARED
        assert count(direct_dsn, "SELECT count(*) FROM pg_prepared_xacts") == 1
        with pytest.raises(driver.ProgrammingError):
            cx.cursor().execute("SELECT 1")
    with pytest.raises(driver.ProgrammingError):
        cx.commit()
    if commit:
        cx.tpc_commit()
    else:
        cx.tpc_rollback()
    assert cx.status == ext.STATUS_READY
    assert count(direct_dsn, "SELECT count(*) FROM pg_prepared_xacts") == 0
    assert count(direct_dsn, f"SELECT count(*) FROM {tpc_table}") == (
        1 if commit else 0
    )


def test_tpc_recover_and_commit_elsewhere(
    driver: Any, tpc_table: str, direct_dsn: str
) -> None:
    a = driver.connect(direct_dsn)
    a.tpc_begin("pgpool-recovered")
    a.cursor().execute(f"INSERT INTO {tpc_table} VALUES ('r')")
    a.tpc_prepare()
    a.close()
    b = driver.connect(direct_dsn)
    xids = [x for x in b.tpc_recover() if x.gtrid == "pgpool-recovered"]
    assert len(xids) == 1
    x = xids[0]
    assert (x.format_id, x.bqual, x.owner) == (None, None, b.info.user)
    assert x.prepared is not None
    assert b.status == psycopg2.extensions.STATUS_READY  # recover's transaction ended
    b.tpc_commit(x)
    assert count(direct_dsn, f"SELECT count(*) FROM {tpc_table}") == 1
    b.close()


def test_tpc_refusals_match_psycopg2(cx: Any, driver: Any) -> None:
    with pytest.raises(driver.ProgrammingError):
        cx.tpc_prepare()
    with pytest.raises(driver.ProgrammingError):
        cx.tpc_commit()
    cx.cursor().execute("SELECT 1")
    with pytest.raises(driver.ProgrammingError):
        cx.tpc_begin("inside")
    cx.rollback()
    cx.autocommit = True
    with pytest.raises(driver.ProgrammingError):
        cx.tpc_begin("autocommit")


# ---------------------------------------------------------------- encodings, reset


def test_set_client_encoding_converts_text(cx: Any) -> None:
    cx.set_client_encoding("LATIN1")
    assert cx.encoding == "LATIN1"
    cur = cx.cursor()
    cur.execute("SELECT %s::text, current_setting('client_encoding')", ("àé€"[:2],))
    assert cur.fetchone() == ("àé", "LATIN1")
    cx.set_client_encoding("EUC_JP")
    assert cx.encoding == "EUCJP"
    cur.execute("SELECT 'foo'::text")
    assert cur.fetchone()[0] == "foo"


def test_set_client_encoding_rolls_back_the_open_transaction(
    tpc_table: str, cx: Any
) -> None:
    cur = cx.cursor()
    cur.execute(f"INSERT INTO {tpc_table} VALUES ('lost')")
    cx.set_client_encoding("LATIN1")
    cur.execute(f"SELECT count(*) FROM {tpc_table}")
    assert cur.fetchone()[0] == 0
    cx.rollback()


def test_reset_discards_the_session(cx: Any, ext: Any) -> None:
    cur = cx.cursor()
    cur.execute("SET application_name TO 'before-reset'")
    cur.execute("SELECT 1")
    assert cx.status == ext.STATUS_BEGIN
    cx.reset()
    assert cx.status == ext.STATUS_READY
    cur = cx.cursor()
    cur.execute("SHOW application_name")
    assert cur.fetchone()[0] != "before-reset"


def test_notices_may_be_a_deque(cx: Any) -> None:
    cx.notices = collections.deque(maxlen=2)
    cur = cx.cursor()
    for i in range(3):
        cur.execute(f"DO $$BEGIN RAISE NOTICE 'n{i}'; END$$")
    assert [n.strip() for n in cx.notices] == ["NOTICE:  n1", "NOTICE:  n2"]


def test_cursor_cast_uses_the_cursors_casters(cx: Any, ext: Any) -> None:
    cur = cx.cursor()
    assert cur.cast(23, "42") == 42
    assert cur.cast(23, None) is None
    ext.register_type(ext.new_type((23,), "INT_AS_STR", lambda v, c: f"<{v}>"), cur)
    assert cur.cast(23, "42") == "<42>"
    assert cx.cursor().cast(23, "42") == 42


# ---------------------------------------------------------------- conn.info


def test_info_facts_match_psycopg2(direct_dsn: str) -> None:
    d = psycopg2.extensions.make_dsn(direct_dsn, options="-c geqo=off")
    ours = pgpool.connect(d)
    theirs = psycopg2.connect(d)
    try:
        for attr in ("dbname", "user", "password", "host", "port", "options"):
            assert getattr(ours.info, attr) == getattr(theirs.info, attr), attr
        assert ours.info.used_password == theirs.info.used_password
        assert ours.info.needs_password is False
        assert ours.info.protocol_version == 3
        assert ours.info.socket == ours.fileno() >= 0
    finally:
        ours.close()
        theirs.close()


def test_info_of_a_connection_never_connected(driver: Any) -> None:
    class NotConnected(driver.extensions.connection):  # type: ignore[misc, name-defined]
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            pass  # psycopg2's test: the superclass never connects

    c = driver.connect("dbname=unused", connection_factory=NotConnected)
    for attr in ("dbname", "user", "password", "host", "port", "options"):
        assert getattr(c.info, attr) is None, attr
    assert c.info.protocol_version == 0
    assert c.info.socket < 0
    assert c.info.used_password is False


def test_reset_restores_the_connection_defaults(cx: Any, ext: Any) -> None:
    """After reset() the connection has its defaults again: not autocommit, the
    server's transaction characteristics (psycopg2's conn_setup)."""
    cx.autocommit = True
    cx.isolation_level = "serializable"
    cx.readonly = True
    cx.deferrable = False
    cx.reset()
    assert cx.autocommit is False
    assert cx.isolation_level == ext.ISOLATION_LEVEL_DEFAULT
    assert cx.readonly is None and cx.deferrable is None
    cur = cx.cursor()
    cur.execute("SHOW transaction_isolation")
    assert cur.fetchone()[0] == "read committed"
    cur.execute("SHOW transaction_read_only")
    assert cur.fetchone()[0] == "off"


def test_error_message_and_exception_cursor(cx: Any, driver: Any) -> None:
    """info.error_message is the last statement's error (None after a success); the
    exception names the cursor, and its diag keeps it alive."""
    import gc
    import weakref

    assert cx.info.error_message is None
    cur = cx.cursor()
    with pytest.raises(driver.ProgrammingError) as ei:
        cur.execute("SELECT 1 FROM no_such_table_em")
    assert ei.value.cursor is cur
    msg = cx.info.error_message
    assert msg is not None and "no_such_table_em" in msg
    assert msg == ei.value.pgerror
    diag, w = ei.value.diag, weakref.ref(cur)
    del ei, cur
    gc.collect()
    assert w() is not None
    assert diag.sqlstate == "42P01"
    cx.rollback()
    cur = cx.cursor()
    cur.execute("SELECT 1")
    assert cx.info.error_message is None


def test_close_after_the_connection_broke(
    cx: Any, driver: Any, direct_dsn: str
) -> None:
    killer = psycopg2.connect(direct_dsn)
    killer.autocommit = True
    killer.cursor().execute("SELECT pg_terminate_backend(%s)", (cx.info.backend_pid,))
    killer.close()
    with pytest.raises(driver.OperationalError):
        cx.cursor().execute("SELECT 1")
    assert cx.closed == 2
    cx.close()
    assert cx.closed == 1


@pytest.mark.parametrize(
    "dsn_tail, expected",
    [
        (" password=whateva", {"dbname=nosuch_dsn", "password=xxx"}),
        ("", {"dbname=nosuch_dsn"}),
    ],
)
def test_dsn_hides_the_password_as_psycopg2(
    driver: Any, direct_dsn: str, dsn_tail: str, expected: set
) -> None:
    """A connection's dsn shows the password as xxx, also when connecting failed."""
    seen = []
    ext = driver.extensions

    class Grassing(ext.connection):  # type: ignore[misc, name-defined]
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            try:
                super().__init__(*args, **kwargs)
            finally:
                seen.append(self.dsn)

    host = psycopg2.extensions.parse_dsn(direct_dsn)
    base = (
        f"host={host['host']} port={host['port']} user={host.get('user', 'postgres')}"
    )
    with pytest.raises(driver.OperationalError):
        driver.connect(
            f"{base} dbname=nosuch_dsn{dsn_tail}", connection_factory=Grassing
        )
    assert set(seen[0].split()) - set(base.split()) == expected


def test_quoted_string_encoding(cx: Any, ext: Any) -> None:
    """adapt(str) is a QuotedString: latin1 until prepared, then the connection's
    codec; what its encoding cannot hold raises UnicodeEncodeError."""
    # (ASCII only: unprepared, psycopg2 escapes with the encoding of libpq's last
    # connection, whatever `encoding` says.)
    a = ext.adapt("it's")
    assert type(a).__name__ == "QuotedString"
    assert (a.encoding, a.getquoted()) == ("latin1", b"'it''s'")
    with pytest.raises(UnicodeEncodeError):
        ext.adapt("\u2603").getquoted()
    b = ext.adapt("\u2603")
    b.prepare(cx)
    assert (b.encoding, b.getquoted()) == ("utf_8", b"'\xe2\x98\x83'")
