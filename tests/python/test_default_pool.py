"""The module-level default pool: lazy creation from the environment, configure(),
close_pool(), fork safety, thread safety."""

from __future__ import annotations

import os
import threading
from urllib.parse import urlsplit

import pytest

import pgpool


def postgres_env(url: str) -> dict[str, str]:
    """The POSTGRES_* variables the seed services use, for this URL."""
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


def set_env(mp: pytest.MonkeyPatch, values: dict[str, str]) -> None:
    for k, v in values.items():
        mp.setenv(k, v)


def test_lazy_creation_from_database_url(clean_env, dsn):
    clean_env.setenv("DATABASE_URL", dsn)
    clean_env.setenv("PGPOOL_MIN_SIZE", "2")
    clean_env.setenv("PGPOOL_MAX_SIZE", "5")
    assert pgpool._state is None
    with pgpool.get_cursor() as cur:
        cur.execute("SELECT 1")
        assert cur.fetchone() == (1,)
    pool = pgpool.default_pool()
    assert pool is pgpool.default_pool()
    s = pgpool.stats()
    assert (s["pool_min"], s["pool_max"]) == (2, 5)


@pytest.mark.parametrize(
    "env,expected",
    [
        ({"PG_POOL_MIN": "2", "PG_POOL_MAX": "6"}, (2, 6)),
        ({"POSTGRES_POOL_MIN_SIZE": "3", "POSTGRES_POOL_MAX_SIZE": "7"}, (3, 7)),
        ({"DB_POOL_SIZE": "2", "DB_MAX_OVERFLOW": "3"}, (2, 5)),
        ({"PGPOOL_MAX_SIZE": "4", "PG_POOL_MAX": "9"}, (1, 4)),  # canonical name wins
        ({}, (1, 10)),
    ],
)
def test_pool_size_aliases(clean_env, dsn, env, expected):
    set_env(clean_env, postgres_env(dsn))
    set_env(clean_env, env)
    s = pgpool.stats()
    assert (s["pool_min"], s["pool_max"]) == expected


def test_postgres_variables_build_the_connection(clean_env, dsn):
    set_env(clean_env, postgres_env(dsn))
    with pgpool.get_cursor() as cur:
        cur.execute("SELECT current_user, current_database()")
        user, db = cur.fetchone()
    assert user == postgres_env(dsn)["POSTGRES_USER"]
    assert db == postgres_env(dsn)["POSTGRES_DATABASE"]


def test_bad_environment_is_a_clear_error(clean_env, dsn):
    clean_env.setenv("DATABASE_URL", dsn)
    clean_env.setenv("PGPOOL_MAX_SIZE", "lots")
    with pytest.raises(pgpool.ProgrammingError, match="PGPOOL_MAX_SIZE"):
        pgpool.default_pool()
    assert pgpool._state is None  # nothing half-built
    clean_env.setenv("PGPOOL_MAX_SIZE", "3")
    assert pgpool.stats()["pool_max"] == 3


def test_configure_and_close_pool(clean_env, dsn):
    clean_env.setenv("PGPOOL_MAX_SIZE", "9")
    pool = pgpool.configure(dsn, max_size=3, min_size=1)
    assert pgpool.default_pool() is pool
    assert pgpool.stats()["pool_max"] == 3  # the argument beats the environment
    with pytest.raises(pgpool.ProgrammingError):
        pgpool.configure(dsn, min_size=5, max_size=2)
    assert pgpool.default_pool() is pool  # a failed configure keeps the old pool
    pgpool.close_pool()
    assert pool.closed
    again = pgpool.default_pool()
    assert again is not pool and not again.closed
    assert pgpool.stats()["pool_max"] == 3  # configure()'s settings survive close_pool
    pgpool.configure(dsn, max_size=2)
    assert again.closed
    assert pgpool.stats()["pool_max"] == 2


def test_get_conn_put_conn(clean_env, dsn):
    pgpool.configure(dsn, min_size=1, max_size=4)
    conn = pgpool.get_conn()
    with conn.cursor() as cur:
        cur.execute("SELECT 1")
    s = pgpool.stats()
    assert s["in_use"] == 1
    assert s["postgres_utilization"] == 25.0
    assert s["postgres_waiting"] == 0
    pgpool.put_conn(conn)
    assert pgpool.stats()["in_use"] == 0


def test_put_conn_after_reconfigure(clean_env, dsn):
    old = pgpool.configure(dsn, max_size=2)
    conn = pgpool.get_conn()
    pgpool.configure(dsn, max_size=3)
    pgpool.put_conn(conn)  # goes back to the pool it came from
    assert old.stats()["in_use"] == 0
    assert pgpool.stats()["in_use"] == 0


def test_connection_context_manager(clean_env, dsn, admin, table):
    pgpool.configure(dsn)
    with pgpool.connection() as conn:
        with conn.cursor() as cur:
            cur.execute(f"INSERT INTO {table} (val) VALUES (1)")
    with admin.cursor() as cur:
        cur.execute(f"SELECT count(*) FROM {table}")
        assert cur.fetchone() == (1,)


def test_health_check(clean_env, dsn):
    pgpool.configure(dsn)
    h = pgpool.health_check()
    assert isinstance(h, dict) and h


def test_postgres_pool_singleton(clean_env, dsn):
    set_env(clean_env, postgres_env(dsn))
    p = pgpool.PostgresPool.instance()
    assert p is pgpool.PostgresPool.instance()
    conn = p.get_conn()
    with conn.cursor() as cur:
        cur.execute("SELECT 41 + 1")
        assert cur.fetchone() == (42,)
    p.put_conn(conn)
    with p.get_cursor() as cur:
        cur.execute("SELECT 'ok'")
        assert cur.fetchone() == ("ok",)
    assert p.pool is pgpool.default_pool()
    assert p.stats()["in_use"] == 0


def test_default_pool_thread_safe_creation(clean_env, dsn):
    clean_env.setenv("DATABASE_URL", dsn)
    barrier = threading.Barrier(16)
    seen = []

    def work():
        barrier.wait()
        seen.append(pgpool.default_pool())

    threads = [threading.Thread(target=work) for _ in range(16)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(seen) == 16 and all(p is seen[0] for p in seen)


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork()")
def test_fork_child_builds_its_own_pool(clean_env, dsn, target):
    clean_env.setenv("DATABASE_URL", dsn)
    parent_pool = pgpool.configure(dsn, min_size=1, max_size=2)
    with pgpool.get_cursor() as cur:
        cur.execute("SELECT pg_backend_pid()")
        parent_pid = cur.fetchone()[0]
    read_fd, write_fd = os.pipe()
    child = os.fork()
    if child == 0:  # pragma: no cover - runs in the child
        status = 1
        try:
            os.close(read_fd)
            assert pgpool.default_pool() is not parent_pool
            with pgpool.get_cursor() as cur:
                cur.execute("SELECT pg_backend_pid()")
                child_backend = cur.fetchone()[0]
            pgpool.close_pool()
            os.write(write_fd, str(child_backend).encode())
            status = 0
        finally:
            os._exit(status)
    os.close(write_fd)
    with os.fdopen(read_fd) as f:
        child_backend = f.read()
    _, status = os.waitpid(child, 0)
    assert os.WEXITSTATUS(status) == 0 and child_backend
    # The parent's pool and its connection are intact after the child's exit.
    assert pgpool.default_pool() is parent_pool
    with pgpool.get_cursor() as cur:
        cur.execute("SELECT pg_backend_pid()")
        again = cur.fetchone()[0]
    if target == "direct":  # through PgBouncer the backend behind it may change
        assert again == parent_pid
    assert parent_pool.stats()["connections_lost"] == 0
