"""Fixtures for the pgpool Python suite.

The servers come from the environment ``scripts/test-env`` exports:

- ``DATABASE_URL``: PostgreSQL, directly;
- ``PGBOUNCER_URL``: the same server through PgBouncer in transaction mode (optional:
  the ``pgbouncer`` variants are skipped when it is unset).

Most tests take the ``dsn`` fixture and so run twice, ``[direct]`` and ``[pgbouncer]``.
Tests that need a real session (killing backends, LISTEN, session state across
transactions) take ``direct_dsn``.
"""

from __future__ import annotations

import os
import signal
import uuid
from typing import Iterator

import pytest

import pgpool

# The Ctrl-C tests need Python's SIGINT handler. A runner started in the background by a
# non-interactive shell (nohup, `cmd &`, some CI agents) inherits SIGINT *ignored*, and
# Python then installs no handler: put the default one back for this test process.
if signal.getsignal(signal.SIGINT) in (signal.SIG_IGN, None):
    signal.signal(signal.SIGINT, signal.default_int_handler)

DATABASE_URL = os.environ.get("DATABASE_URL", "")
PGBOUNCER_URL = os.environ.get("PGBOUNCER_URL", "")

# Every variable pgpool's configuration reads; cleared by `clean_env`.
CONFIG_ENV = (
    "DATABASE_URL",
    "PGHOST",
    "PGHOSTADDR",
    "PGPORT",
    "PGDATABASE",
    "PGUSER",
    "PGPASSWORD",
    "PGAPPNAME",
    "PGOPTIONS",
    "PGSSLMODE",
    "PGCONNECT_TIMEOUT",
    "PGTARGETSESSIONATTRS",
    "POSTGRES_HOST",
    "POSTGRES_PORT",
    "POSTGRES_DATABASE",
    "POSTGRES_DB",
    "POSTGRES_USER",
    "POSTGRES_PASSWORD",
    "PGPOOL_MIN_SIZE",
    "PGPOOL_MAX_SIZE",
    "PGPOOL_TIMEOUT",
    "PGPOOL_MAX_LIFETIME",
    "PGPOOL_MAX_IDLE",
    "PGPOOL_PRE_PING",
    "PGPOOL_MAX_WAITING",
    "PGPOOL_LEAK_THRESHOLD",
    "PGPOOL_PASSWORD_COMMAND",
    "PGPOOL_LAZY_MIN",
    "PGPOOL_COMMAND_TIMEOUT",
    "PG_POOL_MIN",
    "PG_POOL_MAX",
    "POSTGRES_POOL_MIN_SIZE",
    "POSTGRES_POOL_MAX_SIZE",
    "POSTGRES_POOL_TIMEOUT",
    "DB_POOL_SIZE",
    "DB_MAX_OVERFLOW",
    "DB_POOL_RECYCLE",
    "USE_PGBOUNCER",
    "PGBOUNCER_HOST",
    "PGBOUNCER_PORT",
    "REPLICA_DATABASE_URL",
    "DATABASE_REPLICA_URL",
    "PGPOOL_REPLICA_MIN_SIZE",
    "PGPOOL_REPLICA_MAX_SIZE",
    "DB_POOL_PRE_PING",
)


def pytest_collection_modifyitems(
    session: pytest.Session, config: pytest.Config, items: list[pytest.Item]
) -> None:
    """Tests marked ``restarts_server`` (they stop or restart the throwaway server) run
    after every other test, in their collected order."""
    items.sort(key=lambda item: item.get_closest_marker("restarts_server") is not None)


_server_restarted: list[str] = []


def pytest_runtest_setup(item: pytest.Item) -> None:
    """A test that does not restart the server never runs after one that does (an
    ordering plugin or a hand-picked order would otherwise let it meet a restarting
    server): the run fails instead."""
    if item.get_closest_marker("restarts_server") is not None:
        _server_restarted.append(item.nodeid)
    elif _server_restarted:
        pytest.fail(
            f"{item.nodeid} runs after {_server_restarted[0]}, which restarts the "
            "server: tests marked restarts_server must run last",
            pytrace=False,
        )


def pytest_report_header(config: pytest.Config) -> list[str]:
    return [
        f"pgpool {pgpool.__version__}: DATABASE_URL={DATABASE_URL or '(unset)'} "
        f"PGBOUNCER_URL={PGBOUNCER_URL or '(unset)'}"
    ]


@pytest.fixture(scope="session", params=["direct", "pgbouncer"])
def target(request: pytest.FixtureRequest) -> str:
    """The name of the route to the server: ``direct`` or ``pgbouncer``."""
    if not DATABASE_URL:
        pytest.skip("DATABASE_URL is not set")
    if request.param == "pgbouncer" and not PGBOUNCER_URL:
        pytest.skip("PGBOUNCER_URL is not set")
    return str(request.param)


@pytest.fixture(scope="session")
def dsn(target: str) -> str:
    """The server's URL, directly or through PgBouncer (each test runs with both)."""
    return PGBOUNCER_URL if target == "pgbouncer" else DATABASE_URL


@pytest.fixture(scope="session")
def direct_dsn() -> str:
    """The server's URL, never through PgBouncer."""
    if not DATABASE_URL:
        pytest.skip("DATABASE_URL is not set")
    return DATABASE_URL


@pytest.fixture(scope="session")
def admin(direct_dsn: str) -> Iterator[object]:
    """A psycopg2 autocommit connection straight to the server, for set-up and checks."""
    import psycopg2

    conn = psycopg2.connect(direct_dsn)
    conn.autocommit = True
    with conn.cursor() as cur:
        cur.execute(
            """
            DO $$ BEGIN
                IF NOT EXISTS (SELECT 1 FROM pg_type WHERE typname = 'pgpool_mood') THEN
                    CREATE TYPE pgpool_mood AS ENUM ('sad', 'ok', 'happy');
                END IF;
                IF NOT EXISTS (SELECT 1 FROM pg_type WHERE typname = 'pgpool_pos') THEN
                    CREATE DOMAIN pgpool_pos AS int CHECK (VALUE > 0);
                END IF;
                IF NOT EXISTS (SELECT 1 FROM pg_type WHERE typname = 'pgpool_pair') THEN
                    CREATE TYPE pgpool_pair AS (a int, b text);
                END IF;
            END $$;
            """
        )
    yield conn
    conn.close()


@pytest.fixture
def table(admin: object) -> Iterator[str]:
    """A fresh table ``(id serial primary key, val int, note text)``, dropped after."""
    name = "pgpool_t_" + uuid.uuid4().hex[:12]
    with admin.cursor() as cur:  # type: ignore[attr-defined]
        cur.execute(f"CREATE TABLE {name} (id serial PRIMARY KEY, val int, note text)")
    yield name
    with admin.cursor() as cur:  # type: ignore[attr-defined]
        cur.execute(f"DROP TABLE IF EXISTS {name}")


@pytest.fixture
def conn(dsn: str, admin: object) -> Iterator[pgpool.Connection]:
    """An unpooled pgpool connection (``pgpool.connect``)."""
    c = pgpool.connect(dsn)
    yield c
    c.close()


@pytest.fixture
def pg2(dsn: str, admin: object) -> Iterator[object]:
    """A psycopg2 connection to the same place as ``conn``, for differential tests."""
    import psycopg2

    c = psycopg2.connect(dsn)
    yield c
    c.close()


@pytest.fixture
def pool(dsn: str, admin: object) -> Iterator[pgpool.Pool]:
    """A small pgpool pool."""
    p = pgpool.Pool(dsn, min_size=1, max_size=4, timeout=10)
    yield p
    p.close()


@pytest.fixture
def clean_env(monkeypatch: pytest.MonkeyPatch) -> Iterator[pytest.MonkeyPatch]:
    """No configuration in the environment, and no default pool, before and after."""
    for name in CONFIG_ENV:
        monkeypatch.delenv(name, raising=False)
    pgpool.close_pool()
    monkeypatch.setattr(pgpool, "_config", None)
    yield monkeypatch
    pgpool.close_pool()
