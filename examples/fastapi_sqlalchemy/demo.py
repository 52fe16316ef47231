"""``make demo``: the FastAPI app driven through its routes (FastAPI's TestClient), with
concurrent requests; exits non-zero when a response is not what it should be."""

from __future__ import annotations

import concurrent.futures
import sys

from app import Base, app, engine
from fastapi.testclient import TestClient


def main() -> int:
    with TestClient(app) as client:
        created = client.post("/items", json={"name": "widget", "qty": 50}).json()
        item_id = created["id"]
        assert client.get(f"/items/{item_id}").json() == created, "read back"
        assert client.get("/items/999999").status_code == 404

        def take(_: int) -> int:
            return client.post(f"/items/{item_id}/take?n=1").status_code

        with concurrent.futures.ThreadPoolExecutor(8) as ex:
            codes = list(ex.map(take, range(60)))
        ok, refused = codes.count(200), codes.count(409)
        assert (ok, refused) == (50, 10), (ok, refused)
        left = client.get(f"/items/{item_id}").json()["qty"]
        assert left == 0, left
        print(
            f"fastapi demo: 60 concurrent takes of 50 in stock: {ok} served, {refused} refused, 0 left"
        )
        print("fastapi demo: pool", client.get("/stats").json()["pool"])

    import asyncio

    async def drop() -> None:
        async with engine.begin() as conn:
            await conn.run_sync(Base.metadata.drop_all)
        await engine.dispose()

    asyncio.run(drop())
    return 0


if __name__ == "__main__":
    sys.exit(main())
