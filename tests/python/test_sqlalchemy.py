"""SQLAlchemy's ``postgresql+pgpool://`` dialect: the engine's pool is
pgpool's pool, with SQLAlchemy's settings, figures and events; results as the psycopg2
dialect gives them on the same server. Runs with the SQLAlchemy of the venv (2.1) and,
in ``make test``, again with SQLAlchemy 2.0 first on the path (``.tools/py``)."""

from __future__ import annotations

import os
import time
import uuid
from typing import Any, Iterator, List

import pytest

sa = pytest.importorskip("sqlalchemy")
from sqlalchemy import event, orm, text  # noqa: E402

import pgpool  # noqa: E402
from pgpool.sqlalchemy import PGDialect_pgpool, PgpoolPool  # noqa: E402


def _url(dsn: str, driver: str = "pgpool") -> str:
    assert dsn.startswith("postgresql://"), dsn
    return "postgresql+" + driver + "://" + dsn[len("postgresql://") :]


def _with_query(url: str, **kw: str) -> str:
    return str(sa.engine.make_url(url).update_query_dict(kw))


def _backends(admin: Any, app: str) -> int:
    with admin.cursor() as cur:
        cur.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE application_name = %s", (app,)
        )
        return int(cur.fetchone()[0])


@pytest.fixture
def engine(dsn: str, admin: object) -> Iterator[Any]:
    e = sa.create_engine(_url(dsn), pool_size=2, max_overflow=2, pool_timeout=5)
    yield e
    e.dispose()


def test_the_entry_point_gives_the_dialect_and_pgpools_pool(engine: Any) -> None:
    assert isinstance(engine.dialect, PGDialect_pgpool)
    assert engine.dialect.driver == "pgpool"
    assert isinstance(engine.pool, PgpoolPool)
    with engine.connect() as c:
        assert c.execute(text("SELECT 1")).scalar() == 1
        raw = c.connection.dbapi_connection
        assert isinstance(raw, pgpool.Connection)
        assert raw.pgpool_pool is engine.pool.pgpool


def test_sqlalchemy_settings_map_to_pgpool(direct_dsn: str, admin: object) -> None:
    e = sa.create_engine(
        _url(direct_dsn),
        pool_size=20,
        max_overflow=10,
        pool_timeout=7,
        pool_recycle=1800,
        pool_pre_ping=False,
    )
    try:
        cfg = e.pool.pgpool.config
        assert (cfg["min_size"], cfg["max_size"], cfg["lazy_min"]) == (20, 30, True)
        assert cfg["timeout"] == 7.0
        assert cfg["max_lifetime"] == 1800.0
        assert cfg["pre_ping"] is False
        assert e.pool.size() == 20
        assert e.pool.timeout() == 7.0
    finally:
        e.dispose()
    # pool_recycle=-1: never; max_overflow=-1 (no limit) still bounded.
    e = sa.create_engine(_url(direct_dsn), pool_recycle=-1, max_overflow=-1)
    try:
        cfg = e.pool.pgpool.config
        assert cfg["max_lifetime"] is None
        assert (cfg["min_size"], cfg["max_size"]) == (5, 100)
    finally:
        e.dispose()
    # pgpool's own settings from the query string.
    e = sa.create_engine(
        _with_query(_url(direct_dsn), max_idle="12", max_waiting="3", pool_name="web")
    )
    try:
        cfg = e.pool.pgpool.config
        assert (cfg["max_idle"], cfg["max_waiting"], cfg["name"]) == (12.0, 3, "web")
    finally:
        e.dispose()


def test_pool_size_connections_are_opened_as_needed_not_at_engine_creation(
    direct_dsn: str, admin: object
) -> None:
    # Ten services with pool_size=20 must not open 200 backends at boot.
    app = "sa_lazy_" + uuid.uuid4().hex[:8]
    url = _with_query(_url(direct_dsn), application_name=app)
    engines = [sa.create_engine(url, pool_size=20, max_overflow=10) for _ in range(10)]
    try:
        for e in engines:
            e.pool.status()  # asking for figures opens nothing either
        time.sleep(1.0)  # several of pgpool's maintenance rounds (250 ms)
        assert _backends(admin, app) == 0
        with engines[0].connect() as c:
            c.execute(text("SELECT 1"))
        time.sleep(0.6)
        assert _backends(admin, app) == 1
        # Once opened, pool_size connections are kept.
        conns = [engines[1].connect() for _ in range(3)]
        for c in conns:
            c.execute(text("SELECT 1"))
        for c in conns:
            c.close()
        time.sleep(0.6)
        assert _backends(admin, app) == 4
        assert engines[1].pool.checkedin() == 3
    finally:
        for e in engines:
            e.dispose()


def test_status_figures_are_pgpools(engine: Any) -> None:
    p = engine.pool
    held = [engine.connect() for _ in range(3)]
    for c in held:
        c.execute(text("SELECT 1"))
    s = p.pgpool.stats()
    assert (s["in_use"], s["pool_size"]) == (3, 3)
    assert p.size() == 2
    assert p.checkedout() == 3
    assert p.overflow() == 1
    assert p.checkedin() == 0
    assert p.status() == (
        "Pool size: 2  Connections in pool: 0 Current Overflow: 1 "
        "Current Checked out connections: 3"
    )
    held.pop().close()
    assert (p.checkedout(), p.checkedin()) == (2, 1)
    for c in held:
        c.close()
    assert p.checkedout() == 0


def test_pool_events_fire(engine: Any) -> None:
    seen: List[str] = []
    for name in ("connect", "checkout", "checkin"):
        event.listen(engine, name, lambda *a, name=name: seen.append(name))
    for _ in range(3):
        with engine.connect() as c:
            c.execute(text("SELECT 1"))
    # Each checkout is a clean session (pgpool resets session state on return), so
    # SQLAlchemy sees each one as a new DBAPI connection: connect, then checkout.
    assert seen == ["connect", "checkout", "checkin"] * 3


def test_session_state_set_in_a_connect_listener_holds_on_every_checkout(
    direct_dsn: str, admin: object
) -> None:
    e = sa.create_engine(_url(direct_dsn), pool_size=1, max_overflow=0)

    @event.listens_for(e, "connect")
    def set_search_path(dbapi_conn: Any, rec: Any) -> None:
        cur = dbapi_conn.cursor()
        cur.execute("SET search_path TO pg_catalog, public")
        cur.close()

    try:
        pids = set()
        for _ in range(3):
            with e.connect() as c:
                assert c.execute(text("SHOW search_path")).scalar() == (
                    "pg_catalog, public"
                )
                pids.add(c.execute(text("SELECT pg_backend_pid()")).scalar())
        assert len(pids) == 1, "one backend, reused"
        # and it does not leak to another user of the pool
        with e.pool.pgpool.connection() as raw:
            cur = raw.cursor()
            cur.execute("SHOW search_path")
            assert cur.fetchone()[0] == '"$user", public'
    finally:
        e.dispose()


def test_pool_timeout_raises_sqlalchemys_timeout_error(
    direct_dsn: str, admin: object
) -> None:
    e = sa.create_engine(
        _url(direct_dsn), pool_size=1, max_overflow=0, pool_timeout=0.5
    )
    try:
        held = e.connect()
        held.execute(text("SELECT 1"))
        t = time.monotonic()
        with pytest.raises(sa.exc.TimeoutError) as ei:
            e.connect()
        waited = time.monotonic() - t
        assert 0.45 <= waited < 3, waited
        assert "limit of size 1 overflow 0 reached" in str(ei.value)
        held.close()
        with e.connect() as c:  # the pool is fine afterwards
            assert c.execute(text("SELECT 2")).scalar() == 2
    finally:
        e.dispose()


def test_dispose_closes_the_pool_and_the_engine_goes_on(
    direct_dsn: str, admin: object
) -> None:
    app = "sa_dispose_" + uuid.uuid4().hex[:8]
    e = sa.create_engine(_with_query(_url(direct_dsn), application_name=app))
    with e.connect() as c:
        c.execute(text("SELECT 1"))
    old = e.pool.pgpool
    assert _backends(admin, app) == 1
    e.dispose()
    assert old.closed
    deadline = time.monotonic() + 5
    while _backends(admin, app) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert _backends(admin, app) == 0
    with e.connect() as c:  # a new pgpool pool
        assert c.execute(text("SELECT 3")).scalar() == 3
    assert e.pool.pgpool is not old
    e.dispose()


def test_shared_pgpool_pool(direct_dsn: str, admin: object) -> None:
    pool = pgpool.Pool(direct_dsn, min_size=0, max_size=3)
    try:
        e1 = sa.create_engine("postgresql+pgpool://", pgpool_pool=pool)
        e2 = sa.create_engine("postgresql+pgpool://", pgpool_pool=pool)
        with e1.connect() as c1, e2.connect() as c2:
            c1.execute(text("SELECT 1"))
            c2.execute(text("SELECT 1"))
            assert pool.stats()["in_use"] == 2
            assert e1.pool.checkedout() == 2  # pgpool's figures: the shared pool's
            with pool.cursor() as cur:  # the same pool, used directly
                cur.execute("SELECT 1")
        e1.dispose()
        assert not pool.closed, "dispose leaves a shared pool open"
        with e1.connect() as c:
            assert c.connection.dbapi_connection.pgpool_pool is pool
        with pytest.raises(sa.exc.ArgumentError, match="pool_size"):
            sa.create_engine("postgresql+pgpool://", pgpool_pool=pool, pool_size=3)
    finally:
        pool.close()


def test_reset_on_return(direct_dsn: str, table: str, admin: object) -> None:
    for reset, expect in (("commit", 1), ("rollback", 0)):
        e = sa.create_engine(_url(direct_dsn), pool_reset_on_return=reset)
        try:
            raw = e.raw_connection()
            cur = raw.cursor()
            cur.execute(f"INSERT INTO {table} (val) VALUES (%s)", (len(reset),))
            raw.close()  # back to the pool without commit/rollback
            with admin.cursor() as c:  # type: ignore[attr-defined]
                c.execute(f"SELECT count(*) FROM {table} WHERE val = %s", (len(reset),))
                assert c.fetchone()[0] == expect, reset
        finally:
            e.dispose()


def test_invalidated_connection_is_replaced(direct_dsn: str, admin: object) -> None:
    e = sa.create_engine(_url(direct_dsn), pool_size=1, max_overflow=0)
    try:
        with e.connect() as c:
            pid = c.execute(text("SELECT pg_backend_pid()")).scalar()
        with admin.cursor() as cur:  # type: ignore[attr-defined]
            cur.execute("SELECT pg_terminate_backend(%s)", (pid,))
        time.sleep(0.6)  # past pgpool's pre-ping window
        with e.connect() as c:  # pgpool's pre-ping replaced the dead one
            assert c.execute(text("SELECT pg_backend_pid()")).scalar() != pid
        # A disconnect in the middle of a statement: SQLAlchemy's is_disconnect.
        with e.connect() as c:
            pid = c.execute(text("SELECT pg_backend_pid()")).scalar()
            with admin.cursor() as cur:  # type: ignore[attr-defined]
                cur.execute("SELECT pg_terminate_backend(%s)", (pid,))
            with pytest.raises(sa.exc.DBAPIError) as ei:
                c.execute(text("SELECT 1"))
            assert ei.value.connection_invalidated
        with e.connect() as c:
            assert c.execute(text("SELECT 1")).scalar() == 1
        assert e.pool.checkedout() == 0
    finally:
        e.dispose()


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork")
def test_forked_worker_gets_a_fresh_pool(direct_dsn: str, admin: object) -> None:
    e = sa.create_engine(_url(direct_dsn), pool_size=2)
    try:
        with e.connect() as c:
            parent_pid = c.execute(text("SELECT pg_backend_pid()")).scalar()
        r, w = os.pipe()
        child = os.fork()
        if child == 0:  # pragma: no cover - runs in the child
            try:
                with e.connect() as c:
                    got = c.execute(text("SELECT pg_backend_pid()")).scalar()
                os.write(w, str(got).encode())
            finally:
                os._exit(0)
        os.close(w)
        got = int(os.read(r, 64).decode() or 0)
        os.close(r)
        os.waitpid(child, 0)
        assert got and got != parent_pid
        with e.connect() as c:  # the parent's connection is still its own
            assert c.execute(text("SELECT pg_backend_pid()")).scalar() == parent_pid
        assert e.pool.pgpool.stats()["connections_lost"] == 0
    finally:
        e.dispose()


def test_readonly_engine_routes_to_replicas(direct_dsn: str, admin: object) -> None:
    # The "replica" is the same server under another application_name, so the test
    # can tell where a connection went.
    app = "sa_replica_" + uuid.uuid4().hex[:8]
    replica = _with_query(direct_dsn, application_name=app)
    for e in (
        sa.create_engine(_url(direct_dsn), connect_args={"replicas": [replica]}),
        sa.create_engine(_with_query(_url(direct_dsn), replica=replica)),
    ):
        try:
            ro = e.execution_options(postgresql_readonly=True)
            with ro.connect() as c:
                assert c.execute(text("SHOW application_name")).scalar() == app
                assert c.execute(text("SHOW transaction_read_only")).scalar() == "on"
            with e.connect() as c:  # the primary
                assert c.execute(text("SHOW application_name")).scalar() != app
                assert c.execute(text("SHOW transaction_read_only")).scalar() == "off"
            with orm.Session(ro) as s:  # sessions bound to the readonly engine too
                assert s.execute(text("SHOW application_name")).scalar() == app
        finally:
            e.dispose()


def test_orm_results_match_the_psycopg2_dialect(dsn: str, admin: object) -> None:
    class Base(orm.DeclarativeBase):
        pass

    name = "sa_orm_" + uuid.uuid4().hex[:8]

    class Item(Base):
        __tablename__ = name
        id: orm.Mapped[int] = orm.mapped_column(primary_key=True)
        label: orm.Mapped[str] = orm.mapped_column(sa.String(40))
        uid: orm.Mapped[uuid.UUID] = orm.mapped_column(sa.Uuid)
        tags: orm.Mapped[List[str]] = orm.mapped_column(sa.ARRAY(sa.Text))
        data: orm.Mapped[Any] = orm.mapped_column(sa.JSON)
        price: orm.Mapped[Any] = orm.mapped_column(sa.Numeric(10, 2))
        at: orm.Mapped[Any] = orm.mapped_column(sa.DateTime(timezone=True))

    results = {}
    for driver in ("psycopg2", "pgpool"):
        e = sa.create_engine(_url(dsn, driver))
        try:
            Base.metadata.create_all(e)
            with orm.Session(e) as s, s.begin():
                for i in range(5):
                    s.add(
                        Item(
                            id=i + 1,
                            label=f"item {i}",
                            uid=uuid.UUID(int=i),
                            tags=["a", f"t{i}"],
                            data={"i": i, "nested": [1, None]},
                            price=f"{i}.50",
                            at=sa.func.now(),
                        )
                    )
            with orm.Session(e) as s:
                got = s.get(Item, 3)
                assert got is not None
                got.label = "changed"
                s.commit()
                rows = s.scalars(sa.select(Item).order_by(Item.id)).all()
                results[driver] = [
                    (r.id, r.label, r.uid, r.tags, r.data, r.price, type(r.at))
                    for r in rows
                ]
        finally:
            Base.metadata.drop_all(e)
            e.dispose()
    assert results["pgpool"] == results["psycopg2"]
    assert results["pgpool"][2][1] == "changed"
