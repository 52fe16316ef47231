"""``create_async_engine("postgresql+pgpool://...")``: the dialect's
asyncio variant on pgpool's asyncio face — AsyncSession, ``engine.begin()``, streaming,
cancellation, one pool shared with sync engines and C; seed 003's engines (a primary and
a replica, PgBouncer in transaction mode) with only the URL scheme changed."""

from __future__ import annotations

import asyncio
import ctypes
import time
from typing import Any, List

import pytest

sa = pytest.importorskip("sqlalchemy")
pytest.importorskip("greenlet")
from sqlalchemy import orm, text  # noqa: E402
from sqlalchemy.ext.asyncio import (  # noqa: E402
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)

import pgpool  # noqa: E402
from pgpool.sqlalchemy import AsyncPgpoolPool, PGDialectAsync_pgpool  # noqa: E402


def _url(dsn: str, driver: str = "pgpool") -> str:
    return "postgresql+" + driver + "://" + dsn[len("postgresql://") :]


def run(coro: Any) -> Any:
    return asyncio.run(coro)


class Base(orm.DeclarativeBase):
    pass


class Note(Base):
    __tablename__ = "sa_async_note"
    id: orm.Mapped[int] = orm.mapped_column(primary_key=True)
    body: orm.Mapped[str] = orm.mapped_column(sa.Text)
    n: orm.Mapped[int] = orm.mapped_column(default=0)


@pytest.fixture
def notes(admin: Any) -> Any:
    with admin.cursor() as cur:
        cur.execute("DROP TABLE IF EXISTS sa_async_note")
        cur.execute(
            "CREATE TABLE sa_async_note (id serial PRIMARY KEY, body text, n int)"
        )
        cur.execute(
            "INSERT INTO sa_async_note (body, n) SELECT 'note ' || i, i "
            "FROM generate_series(1, 500) i"
        )
    yield "sa_async_note"
    with admin.cursor() as cur:
        cur.execute("DROP TABLE IF EXISTS sa_async_note")


def test_async_engine_uses_the_asyncio_dialect_and_pgpools_pool(dsn: str) -> None:
    async def main() -> None:
        e = create_async_engine(_url(dsn), pool_size=2, max_overflow=1)
        assert isinstance(e.sync_engine.dialect, PGDialectAsync_pgpool)
        assert isinstance(e.sync_engine.pool, AsyncPgpoolPool)
        async with e.connect() as c:
            assert (await c.execute(text("SELECT 41 + 1"))).scalar() == 42
            raw = await c.get_raw_connection()
            assert isinstance(raw.driver_connection, pgpool.AsyncConnection)
            assert e.sync_engine.pool.checkedout() == 1
        assert e.sync_engine.pool.checkedout() == 0
        await e.dispose()

    run(main())


def test_begin_session_and_orm(dsn: str, notes: str) -> None:
    async def main() -> None:
        e = create_async_engine(_url(dsn))
        async with e.begin() as c:
            await c.execute(text(f"UPDATE {notes} SET n = n + 1000 WHERE id = 1"))
        with pytest.raises(ZeroDivisionError):
            async with e.begin() as c:
                await c.execute(text(f"UPDATE {notes} SET n = -1 WHERE id = 2"))
                raise ZeroDivisionError("roll this back")
        Session = async_sessionmaker(e, expire_on_commit=False)
        async with Session() as s:
            one = await s.get(Note, 1)
            two = await s.get(Note, 2)
            assert (one.n, two.n) == (1001, 2)  # committed / rolled back
            one.body = "edited"
            s.add(Note(id=1000, body="new", n=7))
            await s.commit()
        async with Session() as s:
            rows = (
                await s.scalars(sa.select(Note).where(Note.id.in_([1, 1000])))
            ).all()
            assert sorted((r.id, r.body) for r in rows) == [
                (1, "edited"),
                (1000, "new"),
            ]
        async with AsyncSession(e) as s, s.begin():
            total = await s.scalar(sa.select(sa.func.count()).select_from(Note))
            assert total == 501
        await e.dispose()

    run(main())


def test_streaming_results(direct_dsn: str, notes: str) -> None:
    async def main() -> None:
        e = create_async_engine(_url(direct_dsn))
        async with e.connect() as c:
            result = await c.stream(
                sa.select(Note.id).order_by(Note.id), execution_options={}
            )
            got: List[int] = []
            async for partition in result.partitions(100):
                got.extend(r.id for r in partition)
            assert got == list(range(1, 501))
            # a server-side cursor was used (a DECLAREd portal while streaming)
            result = await c.stream(sa.select(Note.id).order_by(Note.id))
            first = await result.fetchone()
            cursors = (
                await c.execute(text("SELECT count(*) FROM pg_cursors"))
            ).scalar()
            assert first.id == 1 and cursors == 1
            await result.close()
        async with e.connect() as c:  # AsyncSession.stream_scalars too
            s = AsyncSession(bind=c)
            ids = [n async for n in await s.stream_scalars(sa.select(Note.id))]
            assert len(ids) == 500
            await s.close()
        await e.dispose()

    run(main())


def test_cancelling_a_task_mid_query(direct_dsn: str, admin: Any) -> None:
    async def main() -> None:
        e = create_async_engine(_url(direct_dsn), pool_size=1, max_overflow=0)

        async def slow() -> None:
            async with e.connect() as c:
                await c.execute(text("SELECT pg_sleep(30)"))

        task = asyncio.create_task(slow())
        await asyncio.sleep(0.5)
        t = time.monotonic()
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        assert time.monotonic() - t < 2
        with admin.cursor() as cur:
            cur.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE query LIKE 'SELECT pg_sleep(30)%'"
                " AND state = 'active'"
            )
            assert cur.fetchone()[0] == 0, "the query was cancelled on the server"
        # the one connection is back and works
        async with e.connect() as c:
            assert (await c.execute(text("SELECT 5"))).scalar() == 5
        assert e.sync_engine.pool.checkedout() == 0
        await e.dispose()

    run(main())


def test_one_pool_shared_by_sync_async_and_c(direct_dsn: str) -> None:
    pool = pgpool.Pool(direct_dsn, min_size=0, max_size=4)
    try:
        sync_engine = sa.create_engine("postgresql+pgpool://", pgpool_pool=pool)

        async def main() -> None:
            ae = create_async_engine("postgresql+pgpool://", pgpool_pool=pool)
            async with ae.connect() as ac:
                await ac.execute(text("SELECT 1"))
                with sync_engine.connect() as sc:
                    sc.execute(text("SELECT 1"))
                    # C: the same pool through the C API of the same module
                    lib = ctypes.CDLL(pgpool._pgpool.__file__)
                    lib.pgpool_acquire.argtypes = [
                        ctypes.c_void_p,
                        ctypes.c_int32,
                        ctypes.POINTER(ctypes.c_void_p),
                        ctypes.c_void_p,
                    ]
                    lib.pgpool_release.argtypes = [ctypes.c_void_p]
                    lib.pgpool_pool_free.argtypes = [ctypes.c_void_p]
                    h = pool._c_handle()
                    cconn = ctypes.c_void_p()
                    assert lib.pgpool_acquire(h, 5000, ctypes.byref(cconn), None) == 0
                    s = pool.stats()
                    assert s["in_use"] == 3
                    assert ae.sync_engine.pool.checkedout() == 3
                    assert sync_engine.pool.checkedout() == 3
                    lib.pgpool_release(cconn)
                    handles.append((lib, h))
            await ae.dispose()

        handles: List[Any] = []
        run(main())
        sync_engine.dispose()
        assert pool.stats()["in_use"] == 0
        assert not pool.closed, "disposing the engines leaves the shared pool open"
        for lib, h in handles:
            lib.pgpool_pool_free(h)  # (this one closes the pool: the C API's rule)
    finally:
        pool.close()


def _seed003_engines(database_url: str, replica_url: str, pgbouncer: str) -> Any:
    """Seed 003's db_service/db_router code, the URL scheme the only change."""
    from urllib.parse import urlparse, urlunparse

    def transform(url: str) -> str:
        # "Automatically routes PostgreSQL connections through PgBouncer when
        # use_pgbouncer=True" (host and port replaced by PgBouncer's)
        if not pgbouncer:
            return url
        u, b = urlparse(url), urlparse(pgbouncer)
        netloc = u.netloc.rsplit("@", 1)[0] + "@" + b.netloc.rsplit("@", 1)[-1]
        return urlunparse(u._replace(netloc=netloc))

    primary = create_async_engine(
        transform(database_url),
        pool_size=20,
        max_overflow=10,
        pool_timeout=30,
        pool_pre_ping=True,
        pool_recycle=3600,
        connect_args={},
    )
    replica = create_async_engine(
        transform(replica_url),
        pool_size=30,
        max_overflow=15,
        pool_timeout=30,
        pool_pre_ping=True,
        pool_recycle=3600,
        connect_args={},
    )
    return primary, replica


@pytest.mark.parametrize("through_pgbouncer", [False, True])
def test_seed_003_engines(direct_dsn: str, notes: str, through_pgbouncer: bool) -> None:
    import os

    bouncer = os.environ.get("PGBOUNCER_URL", "")
    if through_pgbouncer and not bouncer:
        pytest.skip("PGBOUNCER_URL is not set")
    url = _url(direct_dsn)  # postgresql+asyncpg:// in the seed; only this changes
    primary, replica = _seed003_engines(url, url, bouncer if through_pgbouncer else "")

    async def main() -> None:
        cfg = primary.sync_engine.pool.pgpool.config
        assert (cfg["min_size"], cfg["max_size"], cfg["timeout"]) == (20, 30, 30.0)
        assert (cfg["max_lifetime"], cfg["pre_ping"]) == (3600.0, True)
        rcfg = replica.sync_engine.pool.pgpool.config
        assert (rcfg["min_size"], rcfg["max_size"]) == (30, 45)
        Write = async_sessionmaker(primary, expire_on_commit=False)
        Read = async_sessionmaker(replica)

        async def request(i: int) -> int:
            async with Write() as s, s.begin():
                note = await s.get(Note, i)
                note.n += 1
            async with Read() as s:
                n = await s.scalar(sa.select(Note.n).where(Note.id == i))
                # the same statement many times: a prepared-statement driver fails
                # here through PgBouncer in transaction mode; pgpool prepares nothing
                for _ in range(3):
                    await s.execute(sa.select(Note).where(Note.id == i))
                return int(n)

        got = await asyncio.gather(*(request(i) for i in range(1, 41)))
        assert got == [i + 1 for i in range(1, 41)]
        assert primary.sync_engine.pool.checkedout() == 0
        await primary.dispose()
        await replica.dispose()

    run(main())
