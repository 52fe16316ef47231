"""psycopg2 pool code runs unchanged on pgpool, except for its import lines
: tests/python/apps/inventory.py is run as written (psycopg2) and with its
imports pointed at pgpool, and the two transcripts must be equal."""

from __future__ import annotations

import pathlib
import sys
import types
import uuid

import pytest

APP = pathlib.Path(__file__).with_name("apps") / "inventory.py"


def load_app(driver: str) -> types.ModuleType:
    source = APP.read_text()
    head, rest = source.split("# --- imports ---\n", 1)
    imports, body = rest.split("# --- end imports ---\n", 1)
    if driver == "pgpool":
        new = imports.replace("from psycopg2", "from pgpool")
        assert new != imports and "psycopg2" not in new
        imports = new
    name = f"inventory_{driver}_{uuid.uuid4().hex[:6]}"
    module = types.ModuleType(name)
    module.__file__ = str(APP)
    sys.modules[name] = module
    exec(compile(head + imports + body, str(APP), "exec"), module.__dict__)
    return module


def test_import_lines_are_the_only_difference():
    app = load_app("pgpool")
    import pgpool.pool

    assert app.ThreadedConnectionPool is pgpool.pool.ThreadedConnectionPool
    assert app.PoolError is pgpool.PoolError


def test_inventory_app_same_transcript(dsn, admin, monkeypatch):
    # The pgpool run waits at most this long on an exhausted pool (psycopg2 fails at once).
    monkeypatch.setenv("PGPOOL_TIMEOUT", "0.5")
    transcripts = {}
    for driver in ("psycopg2", "pgpool"):
        app = load_app(driver)
        transcripts[driver] = app.scenario(dsn, "pgpool_inv_" + uuid.uuid4().hex[:8])
    mine, theirs = transcripts["pgpool"], transcripts["psycopg2"]
    assert [k for k, _ in mine] == [k for k, _ in theirs]
    for (key, a), (_, b) in zip(mine, theirs):
        assert a == b, key
    # and the transcript says what it should
    t = dict(theirs)
    assert t["add-dup"] is None
    assert t["take-too-many"] is False
    assert t["exhaust"] == "connection pool exhausted"
    assert t["concurrent"] == (10, 5)
    assert t["close"] == "connection pool is closed"
    assert t["keyed"] == (True, "trying to put unkeyed connection")


def test_pool_kwargs_connection_style(direct_dsn):
    """ThreadedConnectionPool(min, max, host=..., port=..., ...) as psycopg2 takes it."""
    from urllib.parse import urlsplit

    from pgpool.pool import ThreadedConnectionPool

    u = urlsplit(direct_dsn)
    p = ThreadedConnectionPool(
        1,
        2,
        host=u.hostname,
        port=u.port or 5432,
        user=u.username or "postgres",
        database=(u.path.lstrip("/") or "postgres"),
    )
    try:
        conn = p.getconn()
        with conn.cursor() as cur:
            cur.execute("SELECT current_database()")
            assert cur.fetchone() == (u.path.lstrip("/") or "postgres",)
        p.putconn(conn)
        assert p.minconn == 1 and p.maxconn == 2 and p.closed is False
        assert p.stats()["pool_max"] == 2
    finally:
        p.closeall()
    assert p.closed is True
    with pytest.raises(Exception, match="closed"):
        p.closeall()


def test_getconn_when_database_unreachable_is_operational_error():
    from pgpool.pool import ThreadedConnectionPool

    p = ThreadedConnectionPool(
        0, 2, "host=127.0.0.1 port=1 connect_timeout=1", timeout=0.5
    )
    try:
        import pgpool

        with pytest.raises(pgpool.OperationalError):
            p.getconn()
    finally:
        p.closeall()
