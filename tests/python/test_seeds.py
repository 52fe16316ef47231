"""The five seed systems (README, "Migrating"), each used the way its documentation uses its
own pool today: its environment variables, its function names, its deployment."""

from __future__ import annotations

import os
import pathlib
import subprocess
import sys
import threading
import time
import uuid
from urllib.parse import urlsplit, urlunsplit

import pytest

import pgpool
from pgpool import compat

ROOT = pathlib.Path(__file__).resolve().parents[2]
SMOKE = ROOT / "examples" / "python" / "test_pg_pool.py"


def postgres_env(url: str) -> dict[str, str]:
    u = urlsplit(url)
    env = {
        "POSTGRES_HOST": u.hostname or "localhost",
        "POSTGRES_PORT": str(u.port or 5432),
        "POSTGRES_DATABASE": u.path.lstrip("/") or "postgres",
        "POSTGRES_USER": u.username or "postgres",
    }
    if u.password:
        env["POSTGRES_PASSWORD"] = u.password
    return env


def setenv(mp: pytest.MonkeyPatch, values: dict[str, str]) -> None:
    for k, v in values.items():
        mp.setenv(k, v)


# ---- seed 000: VERITAS -----------------------------------------------------------


def test_seed000_get_cursor_and_postgres_pool(clean_env, dsn):
    setenv(clean_env, postgres_env(dsn))
    clean_env.setenv("PG_POOL_MIN", "1")
    clean_env.setenv("PG_POOL_MAX", "10")
    from pgpool import PostgresPool, get_cursor

    with get_cursor() as cur:
        cur.execute("SELECT 1")
        assert cur.fetchone() == (1,)
    pool = PostgresPool.instance()
    conn = pool.get_conn()
    try:
        with conn.cursor() as cur:
            cur.execute("SELECT %s::text", ("veritas",))
            assert cur.fetchone() == ("veritas",)
        conn.commit()
    finally:
        pool.put_conn(conn)
    s = pgpool.stats()
    assert (s["pool_min"], s["pool_max"]) == (1, 10)
    assert s["in_use"] == 0


def _smoke_env(url: str, **extra: str) -> dict[str, str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("PG", "POSTGRES_", "DB_"))
    }
    env.pop("DATABASE_URL", None)
    env.update(postgres_env(url))
    env.update({"PG_POOL_MIN": "1", "PG_POOL_MAX": "4"})
    env.update(extra)
    return env


def test_seed000_smoke_script(dsn):
    result = subprocess.run(
        [sys.executable, str(SMOKE)],
        env=_smoke_env(dsn),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    lines = result.stdout.splitlines()
    assert lines[-1] == "OK: Pool operational."
    assert "Pool stats:" in result.stdout
    assert "pool_max: 4" in result.stdout


def test_seed000_smoke_script_fails_clearly():
    result = subprocess.run(
        [sys.executable, str(SMOKE)],
        env=_smoke_env(
            "postgresql://postgres@127.0.0.1:1/postgres", PGPOOL_TIMEOUT="1"
        ),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode != 0
    assert "OK: Pool operational." not in result.stdout
    assert result.stderr.startswith("FAIL: PoolTimeout"), result.stderr
    assert "127.0.0.1" in result.stderr or "connect" in result.stderr.lower()


# ---- seed 001: skills engine -------------------------------------------------------


def test_seed001_connection_pool_module(clean_env, dsn, admin, table):
    clean_env.setenv("DATABASE_URL", dsn)
    clean_env.setenv("POSTGRES_POOL_MAX_SIZE", "15")
    clean_env.setenv("POSTGRES_POOL_MIN_SIZE", "5")
    clean_env.setenv("POSTGRES_POOL_TIMEOUT", "30.0")
    from pgpool.compat import (
        close_pools,
        get_pool_stats,
        get_postgres_pool,
        health_check,
        initialize_pools,
        postgres_connection,
    )

    initialize_pools(wait=True, timeout=10)
    stats = get_pool_stats()
    assert (stats["pool_min"], stats["pool_max"]) == (5, 15)
    assert stats["pool_size"] >= 5

    # Context manager (recommended)
    with postgres_connection() as conn:
        with conn.cursor() as cur:
            cur.execute(f"INSERT INTO {table} (val) VALUES (1)")
            cur.execute(f"SELECT * FROM {table}")
            results = cur.fetchall()
    assert len(results) == 1

    # Manual pool access
    pool = get_postgres_pool()
    held = [pool.getconn() for _ in range(3)]
    try:
        with held[0].cursor() as cur:
            cur.execute(f"SELECT * FROM {table}")
            assert len(cur.fetchall()) == 1
        stats = get_pool_stats()
        assert stats["postgres_utilization"] == 20.0  # 3 of 15, in percent
        assert stats["postgres_waiting"] == 0
    finally:
        for c in held:
            pool.putconn(c)

    h = health_check()
    assert isinstance(h, dict) and h
    close_pools()
    assert pool.closed
    with postgres_connection() as conn:  # usable again after close_pools()
        with conn.cursor() as cur:
            cur.execute("SELECT 1")


def test_seed001_waiting_metric(clean_env, dsn):
    clean_env.setenv("DATABASE_URL", dsn)
    clean_env.setenv("POSTGRES_POOL_MAX_SIZE", "1")
    clean_env.setenv("POSTGRES_POOL_MIN_SIZE", "1")
    pool = compat.get_postgres_pool()
    held = pool.getconn()
    t = threading.Thread(target=lambda: pool.putconn(pool.getconn()))
    t.start()
    deadline = time.monotonic() + 5
    while (
        compat.get_pool_stats()["postgres_waiting"] < 1 and time.monotonic() < deadline
    ):
        time.sleep(0.01)
    stats = compat.get_pool_stats()
    assert stats["postgres_waiting"] == 1
    assert stats["postgres_utilization"] == 100.0
    pool.putconn(held)
    t.join(5)
    assert compat.get_pool_stats()["postgres_waiting"] == 0


def test_seed001_defaults_when_its_variables_are_unset(clean_env, dsn):
    """Seed 001's own defaults (5 kept, 15 at most, 30 s) for a service that switches
    from its services/connection_pool.py without setting its variables; each variable
    set still wins, and a pool the module already made is used as it is."""
    clean_env.setenv("DATABASE_URL", dsn)
    stats = compat.get_pool_stats()
    assert (stats["pool_min"], stats["pool_max"]) == (5, 15)
    assert compat.get_postgres_pool().config["timeout"] == 30.0
    assert compat.get_postgres_pool() is pgpool.default_pool()
    # Recreated with the same defaults (close_pools, then a use).
    compat.close_pools()
    assert compat.get_pool_stats()["pool_max"] == 15
    pgpool.close_pool()
    clean_env.setattr(pgpool, "_config", None)

    clean_env.setenv("POSTGRES_POOL_MAX_SIZE", "8")
    clean_env.setenv("POSTGRES_POOL_TIMEOUT", "2.5")
    pool = compat.initialize_pools()
    assert (pool.config["min_size"], pool.config["max_size"]) == (5, 8)
    assert pool.config["timeout"] == 2.5
    pgpool.close_pool()
    clean_env.setattr(pgpool, "_config", None)

    clean_env.delenv("POSTGRES_POOL_MAX_SIZE")
    clean_env.setenv("POSTGRES_POOL_MIN_SIZE", "20")
    assert compat.seed001_settings() == {"max_size": 20}
    pgpool.close_pool()
    clean_env.setattr(pgpool, "_config", None)

    # The module's pool made first (get_cursor): pgpool's own defaults stay.
    clean_env.delenv("POSTGRES_POOL_MIN_SIZE")
    with pgpool.get_cursor() as cur:
        cur.execute("SELECT 1")
    assert compat.get_pool_stats()["pool_max"] == 10


# ---- seed 002: WriterOS (SQLAlchemy QueuePool knobs) --------------------------------


def test_seed002_queuepool_environment(clean_env, dsn):
    clean_env.setenv("DATABASE_URL", dsn)
    clean_env.setenv("DB_POOL_SIZE", "5")
    clean_env.setenv("DB_MAX_OVERFLOW", "10")
    clean_env.setenv("DB_POOL_RECYCLE", "600")
    clean_env.setenv("DB_POOL_PRE_PING", "true")
    stats = pgpool.stats()
    assert (stats["pool_min"], stats["pool_max"]) == (5, 15)
    # SQLAlchemy's pool_size: kept once opened, never opened at start (lazy_min).
    assert pgpool.default_pool().config["lazy_min"] is True
    assert stats["pool_size"] == 0
    status = compat.queue_pool_status()
    conn = pgpool.get_conn()
    try:
        assert status.size() == 5
        assert status.checkedout() == 1
        assert "Current Checked out connections: 1" in status.status()
    finally:
        pgpool.put_conn(conn)
    assert status.checkedout() == 0


@pytest.mark.parametrize("value", ["false", "False", "0"])
def test_seed002_pre_ping_off(clean_env, dsn, value):
    clean_env.setenv("DATABASE_URL", dsn)
    clean_env.setenv("DB_POOL_PRE_PING", value)
    with pgpool.get_cursor() as cur:
        cur.execute("SELECT 1")


def test_seed002_bad_knob_names_the_variable(clean_env, dsn):
    clean_env.setenv("DATABASE_URL", dsn)
    clean_env.setenv("DB_POOL_RECYCLE", "an hour")
    with pytest.raises(pgpool.ProgrammingError, match="DB_POOL_RECYCLE"):
        pgpool.default_pool()


def test_seed002_sequential_queries_reuse_connections(clean_env, dsn):
    clean_env.setenv("DATABASE_URL", dsn)
    clean_env.setenv("DB_POOL_SIZE", "2")
    for i in range(200):
        with pgpool.get_cursor() as cur:
            cur.execute("SELECT %s", (i,))
            assert cur.fetchone() == (i,)
    stats = pgpool.stats()
    assert stats["connections_num"] <= 2
    assert stats["requests_num"] == 200


# ---- seed 003: Soul Sense (read/write split, optional PgBouncer) --------------------


@pytest.fixture(scope="module")
def replica_db(admin):
    """A second database on the same server standing in for the read replica."""
    name = "pgpool_replica_" + uuid.uuid4().hex[:8]
    with admin.cursor() as cur:
        cur.execute(f"CREATE DATABASE {name}")
    yield name
    with admin.cursor() as cur:
        cur.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


def _with_db(url: str, db: str) -> str:
    u = urlsplit(url)
    return urlunsplit((u.scheme, u.netloc, "/" + db, u.query, u.fragment))


def test_seed003_read_write_split(dsn, replica_db):
    primary_db = urlsplit(dsn).path.lstrip("/") or "postgres"
    with pgpool.Pool(
        dsn, replicas=[_with_db(dsn, replica_db)], min_size=1, max_size=5
    ) as pool:
        with pool.cursor() as cur:
            cur.execute("SELECT current_database()")
            assert cur.fetchone() == (primary_db,)
        for _ in range(3):
            with pool.cursor(readonly=True) as cur:
                cur.execute(
                    "SELECT current_database(), current_setting('transaction_read_only')"
                )
                assert cur.fetchone() == (replica_db, "on")
        with pool.cursor() as cur:
            cur.execute("SELECT current_database()")
            assert cur.fetchone() == (primary_db,)


def test_seed003_replica_down_falls_back_to_primary(dsn):
    primary_db = urlsplit(dsn).path.lstrip("/") or "postgres"
    dead = "postgresql://postgres@127.0.0.1:1/postgres?connect_timeout=1"
    with pgpool.Pool(dsn, replicas=[dead], min_size=1, max_size=3, timeout=10) as pool:
        started = time.monotonic()
        with pool.cursor(readonly=True) as cur:
            cur.execute(
                "SELECT current_database(), current_setting('transaction_read_only')"
            )
            assert cur.fetchone() == (primary_db, "on")
        assert time.monotonic() - started < 9


def test_seed003_pgbouncer_url_transformation(target, dsn):
    """Soul Sense rewrites its URL to PGBOUNCER_HOST:PGBOUNCER_PORT when USE_PGBOUNCER is
    on; pgpool takes the rewritten URL as it is."""
    if target != "pgbouncer":
        pytest.skip("needs PgBouncer")
    u = urlsplit(dsn)
    settings = {
        "USE_PGBOUNCER": "true",
        "PGBOUNCER_HOST": u.hostname,
        "PGBOUNCER_PORT": str(u.port),
    }
    db_url = "postgresql+asyncpg://postgres@db:5432/" + (
        u.path.lstrip("/") or "postgres"
    )
    if settings["USE_PGBOUNCER"] == "true":
        parts = urlsplit(db_url.replace("+asyncpg", ""))
        netloc = f"{parts.username}@{settings['PGBOUNCER_HOST']}:{settings['PGBOUNCER_PORT']}"
        db_url = urlunsplit((parts.scheme, netloc, parts.path, "", ""))
    with pgpool.Pool(db_url, min_size=1, max_size=3) as pool:
        with pool.cursor() as cur:
            cur.execute("SELECT 1")
            assert cur.fetchone() == (1,)


# ---- seed 004: BIOwerk (PgBouncer transaction mode, small app pools) -----------------


def test_seed004_transaction_mode_workload(clean_env, dsn, admin, table):
    """Ten services' worth of small pools through PgBouncer: custom types, parameters,
    multi-statement transactions, no prepared statement errors, no session state."""
    setenv(clean_env, postgres_env(dsn))
    clean_env.setenv("DB_POOL_SIZE", "5")
    clean_env.setenv("DB_MAX_OVERFLOW", "5")
    errors: list[str] = []

    def service(n: int) -> None:
        try:
            for i in range(20):
                with pgpool.get_cursor() as cur:
                    cur.execute(
                        f"INSERT INTO {table} (val, note) VALUES (%s, %s) RETURNING id",
                        (n * 100 + i, f"svc{n}"),
                    )
                    (new_id,) = cur.fetchone()
                    cur.execute(
                        "SELECT %s::pgpool_mood, ARRAY['ok', 'sad']::pgpool_mood[], 3::pgpool_pos, %s::int",
                        ("happy", new_id),
                    )
                    mood, moods, pos, same_id = cur.fetchone()
                    if (mood, pos, same_id) != ("happy", 3, new_id):
                        errors.append(f"svc{n}: {mood!r} {pos!r} {same_id!r}")
                    cur.execute(
                        f"SELECT count(*) FROM {table} WHERE id = %s", (new_id,)
                    )
                    if cur.fetchone() != (1,):
                        errors.append(f"svc{n}: own insert not visible")
        except Exception as exc:  # reported below
            errors.append(f"svc{n}: {type(exc).__name__}: {exc}")

    threads = [threading.Thread(target=service, args=(n,)) for n in range(10)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    with admin.cursor() as cur:
        cur.execute(f"SELECT count(*) FROM {table}")
        assert cur.fetchone() == (200,)
    stats = pgpool.stats()
    assert stats["pool_max"] == 10 and stats["pool_size"] <= 10
    assert stats["requests_num"] == 200


def test_seed004_no_prepared_statements(direct_dsn):
    with pgpool.Pool(direct_dsn, min_size=1, max_size=1) as pool:
        with pool.cursor() as cur:
            cur.execute("SELECT %s::pgpool_mood, ARRAY[1, 2], now()", ("ok",))
            cur.execute("SELECT 'happy'::pgpool_mood, 5::pgpool_pos")
            cur.execute("SELECT count(*) FROM pg_prepared_statements")
            assert cur.fetchone() == (0,)


def test_seed004_pgbouncer_show_pools(target, dsn):
    """PgBouncer's own view agrees: nobody left waiting, as pgpool's stats say."""
    if target != "pgbouncer":
        pytest.skip("needs PgBouncer")
    import psycopg2

    with pgpool.Pool(dsn, min_size=2, max_size=5) as pool:
        with pool.cursor() as cur:
            cur.execute("SELECT 1")
        admin_url = _with_db(dsn, "pgbouncer")
        try:
            console = psycopg2.connect(admin_url)
        except psycopg2.Error as exc:
            pytest.skip(f"no PgBouncer admin console: {exc}")
        console.autocommit = True
        try:
            with console.cursor() as cur:
                cur.execute("SHOW POOLS")
                cols = [d.name for d in cur.description]
                pools = [dict(zip(cols, r)) for r in cur.fetchall()]
        finally:
            console.close()
        db = urlsplit(dsn).path.lstrip("/") or "postgres"
        mine = [p for p in pools if p["database"] == db]
        assert mine, pools
        assert sum(p["cl_waiting"] for p in mine) == 0
        assert pool.stats()["requests_waiting"] == 0
        assert pool.stats()["pool_size"] >= 1
