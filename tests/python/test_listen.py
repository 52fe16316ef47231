"""``pgpool.listen`` / ``Pool.listen`` (issue 15 item 3): LISTEN on a connection of its
own that survives reconnects. The server restart drill is in the Rust suite
(``tests/restart.rs``, which stops the shared server); here the listener's backend is
terminated. LISTEN needs a session: the direct server, not PgBouncer in transaction
mode."""

from __future__ import annotations

import select
import threading
import time
from typing import Any, Iterator, List

import psycopg2
import pytest

import pgpool


def notify(dsn: str, channel: str, payload: str) -> None:
    c = psycopg2.connect(dsn)
    c.autocommit = True
    c.cursor().execute("SELECT pg_notify(%s, %s)", (channel, payload))
    c.close()


@pytest.fixture
def listener(direct_dsn: str) -> Iterator[pgpool.Listener]:
    with pgpool.listen("py_jobs", "Py Mixed", dsn=direct_dsn) as lst:
        yield lst


def test_get_poll_and_iterate(listener: pgpool.Listener, direct_dsn: str) -> None:
    assert listener.channels == ["Py Mixed", "py_jobs"]
    assert listener.connected and listener.reconnects == 0
    assert listener.get(timeout=0) is None
    assert listener.poll() == []
    notify(direct_dsn, "py_jobs", "1")
    n = listener.get(timeout=5)
    assert n is not None
    assert (n.channel, n.payload) == ("py_jobs", "1")
    assert isinstance(n, pgpool.extensions.Notify) and n.pid > 0
    notify(direct_dsn, "Py Mixed", "2")
    notify(direct_dsn, "py_jobs", "3")
    got: List[Any] = []
    deadline = time.monotonic() + 5
    while len(got) < 2 and time.monotonic() < deadline:
        got += listener.poll(timeout=1)
    assert [(x.channel, x.payload) for x in got] == [
        ("Py Mixed", "2"),
        ("py_jobs", "3"),
    ]
    notify(direct_dsn, "py_jobs", "4")
    assert next(iter(listener)).payload == "4"


def test_listen_unlisten_and_select(listener: pgpool.Listener, direct_dsn: str) -> None:
    assert listener.unlisten("py_jobs") is True
    assert listener.unlisten("py_jobs") is False
    listener.listen("py_other")
    notify(direct_dsn, "py_jobs", "ignored")
    notify(direct_dsn, "py_other", "x")
    r, _, _ = select.select([listener.fileno()], [], [], 5)
    assert r
    n = listener.get(timeout=5)
    assert n is not None and (n.channel, n.payload) == ("py_other", "x")
    assert listener.get(timeout=0.2) is None


def test_reconnects_and_listens_again(
    listener: pgpool.Listener, direct_dsn: str
) -> None:
    admin = psycopg2.connect(direct_dsn)
    admin.autocommit = True
    cur = admin.cursor()
    cur.execute(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
        " WHERE query LIKE 'LISTEN%py_jobs%' AND pid <> pg_backend_pid()"
    )
    assert cur.fetchone() == (True,)
    admin.close()
    deadline = time.monotonic() + 10
    while listener.reconnects == 0 and time.monotonic() < deadline:
        listener.poll(timeout=0.2)
    assert listener.reconnects == 1, listener.last_error
    assert listener.connected
    assert listener.last_error
    notify(direct_dsn, "py_jobs", "after")
    n = listener.get(timeout=5)
    assert n is not None and n.payload == "after"


def test_close_from_another_thread_ends_the_iteration(direct_dsn: str) -> None:
    listener = pgpool.listen("py_quiet", dsn=direct_dsn)
    seen: List[Any] = []
    t = threading.Thread(target=lambda: seen.extend(listener))
    t.start()
    time.sleep(0.3)
    listener.close()
    t.join(5)
    assert not t.is_alive() and seen == []
    with pytest.raises(pgpool.InterfaceError):
        listener.get(timeout=0)


def test_pool_listen_uses_the_pool_server(direct_dsn: str) -> None:
    p = pgpool.Pool(direct_dsn, min_size=0, max_size=1)
    try:
        with p.listen("py_pool_ch") as lst:
            assert p.stats()["pool_size"] == 0  # a connection of its own
            notify(direct_dsn, "py_pool_ch", "p")
            n = lst.get(timeout=5)
            assert n is not None and n.payload == "p"
    finally:
        p.close()


def test_bad_dsn_is_a_clear_error() -> None:
    with pytest.raises(pgpool.OperationalError):
        pgpool.listen("x", dsn="host=127.0.0.1 port=1 connect_timeout=2")
