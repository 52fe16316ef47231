"""A FastAPI service on SQLAlchemy's asyncio ORM over pgpool: only the URL scheme
differs from a ``postgresql+asyncpg://`` service (seed 003's engine settings kept).

    DATABASE_URL=postgresql://user@host/db uvicorn app:app

``DATABASE_REPLICA_URL`` (optional) adds a read-only engine for the GET routes, as
seed 003 runs one.
"""

from __future__ import annotations

import contextlib
import os
from typing import Annotated, AsyncIterator, Optional

from fastapi import Depends, FastAPI, HTTPException
from pydantic import BaseModel
from sqlalchemy import String, func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker, create_async_engine
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


def engine_url(url: str) -> str:
    """postgresql://... (or postgres://, or another driver's) -> postgresql+pgpool://..."""
    scheme, _, rest = url.partition("://")
    return f"postgresql+pgpool://{rest}" if scheme.startswith("postgres") else url


ENGINE_OPTIONS = dict(
    pool_size=20,
    max_overflow=10,
    pool_timeout=30,
    pool_pre_ping=True,
    pool_recycle=3600,
)
engine = create_async_engine(engine_url(os.environ["DATABASE_URL"]), **ENGINE_OPTIONS)
replica_url = os.environ.get("DATABASE_REPLICA_URL")
read_engine = (
    create_async_engine(engine_url(replica_url), **ENGINE_OPTIONS)
    if replica_url
    else engine
)
Session = async_sessionmaker(engine, expire_on_commit=False)
ReadSession = async_sessionmaker(read_engine, expire_on_commit=False)


class Base(DeclarativeBase):
    pass


class Item(Base):
    __tablename__ = "demo_items"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(100))
    qty: Mapped[int] = mapped_column(default=0)


class ItemIn(BaseModel):
    name: str
    qty: int = 0


class ItemOut(ItemIn):
    id: int


async def session() -> AsyncIterator[AsyncSession]:
    async with Session() as s:
        yield s


async def read_session() -> AsyncIterator[AsyncSession]:
    async with ReadSession() as s:
        yield s


WriteSession = Annotated[AsyncSession, Depends(session)]
ReadOnlySession = Annotated[AsyncSession, Depends(read_session)]


@contextlib.asynccontextmanager
async def lifespan(_: FastAPI) -> AsyncIterator[None]:
    async with engine.begin() as conn:
        await conn.run_sync(Base.metadata.create_all)
    yield


app = FastAPI(title="pgpool demo", lifespan=lifespan)


@app.post("/items", response_model=ItemOut)
async def create_item(item: ItemIn, s: WriteSession) -> Item:
    row = Item(name=item.name, qty=item.qty)
    s.add(row)
    await s.commit()
    return row


@app.get("/items/{item_id}", response_model=ItemOut)
async def get_item(item_id: int, s: ReadOnlySession) -> Item:
    row: Optional[Item] = await s.get(Item, item_id)
    if row is None:
        raise HTTPException(404, "no such item")
    return row


@app.post("/items/{item_id}/take")
async def take(item_id: int, s: WriteSession, n: int = 1) -> dict:
    async with s.begin():
        row = await s.get(Item, item_id, with_for_update=True)
        if row is None:
            raise HTTPException(404, "no such item")
        if row.qty < n:
            raise HTTPException(409, "not enough")
        row.qty -= n
    return {"id": item_id, "qty": row.qty}


@app.get("/stats")
async def stats(s: ReadOnlySession) -> dict:
    total = await s.scalar(select(func.coalesce(func.sum(Item.qty), 0)))
    return {"total_qty": int(total or 0), "pool": engine.pool.status()}
