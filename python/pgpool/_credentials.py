"""What ``Pool(dsn, password=callable)`` calls for each new connection's password.

The callable takes no arguments and returns the password (``str``), or a coroutine /
awaitable that gives it (an async secrets client): that one runs to completion with
``asyncio.run`` on a thread of its own, so that it works from any connecting thread,
one with a running event loop included. An exception is the reason the connection
attempt fails with (by type and message: the provider must not put the secret there).
"""

from __future__ import annotations

import asyncio
import inspect
import threading
from typing import Any, Callable, List

__all__ = ["provide"]


def _run_awaitable(aw: Any) -> Any:
    out: List[Any] = []
    err: List[BaseException] = []

    async def wait() -> Any:
        return await aw

    def run() -> None:
        try:
            out.append(asyncio.run(wait()))
        except BaseException as e:  # noqa: BLE001 - handed to the caller
            err.append(e)

    t = threading.Thread(target=run, name="pgpool-password-provider", daemon=True)
    t.start()
    t.join()
    if err:
        raise err[0]
    return out[0]


def provide(provider: Callable[[], Any]) -> str:
    """The password ``provider`` gives now."""
    got = provider()
    if inspect.isawaitable(got):
        got = _run_awaitable(got)
    if isinstance(got, bytes):
        got = got.decode("utf-8")
    if not isinstance(got, str):
        raise TypeError(f"the password provider returned {type(got).__name__}, not str")
    return got
