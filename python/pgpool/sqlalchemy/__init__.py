"""SQLAlchemy on pgpool: ``create_engine("postgresql+pgpool://...")`` and
``create_async_engine("postgresql+pgpool://...")``.

The dialect is SQLAlchemy's psycopg2 dialect with pgpool as its driver; the engine's
pool is pgpool's pool (:class:`~pgpool.sqlalchemy.pool.PgpoolPool`), so SQLAlchemy's
``pool_size``, ``max_overflow``, ``pool_timeout``, ``pool_recycle``, ``pool_pre_ping``
and ``pool_reset_on_return`` configure pgpool, and threads, asyncio tasks and C callers
can share one :class:`pgpool.Pool` (``create_engine(url, pgpool_pool=pool)``).
The dialect is registered under the ``sqlalchemy.dialects`` entry point
``postgresql.pgpool`` (installed with pgpool; SQLAlchemy itself is not a dependency:
``pip install pgpool[sqlalchemy]``). See docs/sqlalchemy.md.
"""

from .dialect import PGDialect_pgpool, PGDialectAsync_pgpool
from .pool import AsyncPgpoolPool, PgpoolPool

dialect = PGDialect_pgpool
dialect_async = PGDialectAsync_pgpool

__all__ = [
    "PGDialect_pgpool",
    "PGDialectAsync_pgpool",
    "PgpoolPool",
    "AsyncPgpoolPool",
    "dialect",
    "dialect_async",
]
