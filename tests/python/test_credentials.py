"""Credentials that change without a restart, and draining (issue 18 items 1 and 2):
``Pool(dsn, password=callable)``, ``set_credentials``/``set_conninfo``, ``drain``.

Against the harness's TLS server, whose ``scramuser`` logs in with scram-sha-256 (the
main server trusts everyone, so a wrong password would not show there); the password is
put back to the one the TLS tests use afterwards.
"""

from __future__ import annotations

import os
import threading
import time
from typing import Iterator, List

import pytest

import pgpool
from pgpool.extensions import encrypt_password

TLS_URL = os.environ.get("PGPOOL_TEST_TLS_URL", "")
pytestmark = pytest.mark.skipif(not TLS_URL, reason="needs the TLS test server")
DEFAULT_SECRET = "scram-secret"


def _host() -> str:
    return TLS_URL.split("@", 1)[1].split("/", 1)[0]


def _scram_dsn() -> str:
    return f"postgresql://scramuser@{_host()}/postgres?sslmode=disable"


@pytest.fixture
def tls_admin() -> Iterator[pgpool.extensions.connection]:
    admin = pgpool.connect(TLS_URL + "?sslmode=disable")
    admin.autocommit = True
    try:
        yield admin
    finally:
        admin.cursor().execute("SET password_encryption = 'scram-sha-256'")
        admin.cursor().execute(f"ALTER ROLE scramuser PASSWORD '{DEFAULT_SECRET}'")
        admin.close()


def _set_password(admin, pw: str) -> None:
    secret = encrypt_password(pw, "scramuser", admin, "scram-sha-256")
    admin.cursor().execute(f"ALTER ROLE scramuser PASSWORD '{secret}'")


def _backends(admin) -> List[int]:
    cur = admin.cursor()
    cur.execute("SELECT pid FROM pg_stat_activity WHERE usename = 'scramuser'")
    return sorted(r[0] for r in cur.fetchall())


class _Load:
    """``threads`` threads running ``SELECT pg_backend_pid(), pg_sleep(pause)`` through
    ``pool.cursor()`` until stopped: the requests done, their errors, the server
    processes seen (in the phase ``phase`` names)."""

    def __init__(self, pool: pgpool.Pool, threads: int, pause: float) -> None:
        self.pool = pool
        self.pause = pause
        self.errors: List[BaseException] = []
        self.count = 0
        self.phase = "before"
        self.pids: dict = {"before": set(), "after": set()}
        self.done = threading.Event()
        self.threads = [threading.Thread(target=self._work) for _ in range(threads)]
        for t in self.threads:
            t.start()

    def _work(self) -> None:
        while not self.done.is_set():
            # The phase when the request started: one that began before the drain
            # returned may still run on a connection of before.
            phase = self.phase
            try:
                with self.pool.cursor() as cur:
                    cur.execute("SELECT pg_backend_pid(), pg_sleep(%s)", (self.pause,))
                    pid = cur.fetchone()[0]
                self.pids[phase].add(pid)
                self.count += 1
            except BaseException as e:  # noqa: BLE001 - counted
                self.errors.append(e)

    def stop(self) -> None:
        self.done.set()
        for t in self.threads:
            t.join()


def test_password_provider_is_called_for_each_new_connection(tls_admin):
    calls: List[float] = []
    secret = {"now": DEFAULT_SECRET}

    def provider() -> str:
        calls.append(time.monotonic())
        return secret["now"]

    with pgpool.Pool(_scram_dsn(), password=provider, min_size=0, max_size=2) as p:
        with p.cursor() as cur:
            cur.execute("SELECT current_user")
            assert cur.fetchone()[0] == "scramuser"
        assert len(calls) == 1
        with p.cursor() as cur:  # the idle connection: no new call
            cur.execute("SELECT 1")
        assert len(calls) == 1
        # Rotated: the role's password changes, the provider gives the new one, the
        # open connection is retired and the next one logs in with the new secret.
        _set_password(tls_admin, "rotated-1")
        secret["now"] = "rotated-1"
        p.drain(timeout=5)
        with p.cursor() as cur:
            cur.execute("SELECT 1")
        assert len(calls) == 2
        assert "rotated-1" not in p.dsn and "rotated-1" not in repr(p.stats())


def test_an_async_provider_is_awaited(tls_admin):
    async def provider() -> str:
        return DEFAULT_SECRET

    with pgpool.Pool(_scram_dsn(), password=provider, min_size=0, max_size=1) as p:
        with p.cursor() as cur:
            cur.execute("SELECT current_user")
            assert cur.fetchone()[0] == "scramuser"


def test_a_failing_provider_is_a_connection_error_naming_it(tls_admin):
    def provider() -> str:
        raise RuntimeError("vault unreachable")

    with pgpool.Pool(_scram_dsn(), password=provider, min_size=0, max_size=1) as p:
        # Connecting is retried until the checkout's deadline, whose error names the
        # last connection error.
        with pytest.raises(pgpool.PoolTimeout) as ei:
            p.getconn(timeout=0.5)
        msg = str(ei.value)
        assert "password provider" in msg and "vault unreachable" in msg, msg
        assert "RuntimeError" in msg, msg

    def wrong_type() -> int:
        return 42

    with pgpool.Pool(_scram_dsn(), password=wrong_type, min_size=0, max_size=1) as p:
        with pytest.raises(pgpool.PoolTimeout, match="not str"):
            p.getconn(timeout=0.5)


def test_set_credentials_under_load_fails_no_request(tls_admin):
    """A password rotation under load: 4 threads run requests while the role's password
    changes and the pool is told the new one; connections are replaced as they come
    back; no request fails."""
    with pgpool.Pool(
        _scram_dsn(), password=DEFAULT_SECRET, min_size=2, max_size=4, timeout=10
    ) as p:
        load = _Load(p, 4, 0.005)
        time.sleep(0.3)
        old = set(_backends(tls_admin))
        _set_password(tls_admin, "rotated-2")
        p.set_credentials(password="rotated-2")
        time.sleep(0.5)
        load.stop()
        assert load.errors == [], load.errors[:3]
        assert load.count > 20
        # Every connection open now logged in after the rotation.
        assert not (set(_backends(tls_admin)) & old)
        assert p.stats()["recycled_retired"] >= len(old)


def test_drain_under_load_replaces_every_connection(direct_dsn):
    # Directly: through PgBouncer the server process ids stay PgBouncer's.
    with pgpool.Pool(direct_dsn, min_size=3, max_size=3, timeout=10) as p:
        p.wait(5)
        load = _Load(p, 3, 0.02)
        time.sleep(0.3)
        old = set(load.pids["before"])  # connections open before the drain
        t0 = time.monotonic()
        p.drain(timeout=10)
        took = time.monotonic() - t0
        load.phase = "after"
        time.sleep(0.3)
        load.stop()
        after = load.pids["after"]
        assert load.errors == [], load.errors[:3]
        assert old and after
        assert not (old & after), (old, after)
        assert took < 5, took  # the checked-out ones hold a connection for ~20 ms


def test_drain_timeout_and_late_retirement(direct_dsn, admin):
    dsn = direct_dsn
    with pgpool.Pool(dsn, min_size=0, max_size=2, name="draining") as p:
        held = p.getconn()
        pid = held.get_backend_pid()
        t0 = time.monotonic()
        with pytest.raises(pgpool.PoolTimeout, match="drain"):
            p.drain(timeout=0.2)
        assert time.monotonic() - t0 >= 0.19
        # The held one still works for its user; the pool serves others meanwhile.
        held.cursor().execute("SELECT 1")
        with p.cursor() as cur:
            cur.execute("SELECT pg_backend_pid()")
            assert cur.fetchone()[0] != pid
        p.putconn(held)  # retired: closed, not reused
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            c = admin.cursor()
            c.execute("SELECT count(*) FROM pg_stat_activity WHERE pid = %s", (pid,))
            if c.fetchone()[0] == 0:
                break
            time.sleep(0.02)
        else:
            raise AssertionError("the retired connection is still open")
        p.drain(timeout=0)  # returns at once
        p.drain()  # nothing checked out: done


def test_set_conninfo_changes_new_connections(dsn):
    with pgpool.Pool(dsn, min_size=1, max_size=1, application_name="v1") as p:
        with p.cursor() as cur:
            cur.execute("SHOW application_name")
            assert cur.fetchone()[0] == "v1"
        p.set_conninfo(dsn, application_name="v2")
        with p.cursor() as cur:
            cur.execute("SHOW application_name")
            assert cur.fetchone()[0] == "v2"
        with pytest.raises(pgpool.ProgrammingError):
            p.set_conninfo("postgresql://%zz")


def _rotate_through(p: pgpool.Pool, admin, new: str, write) -> None:
    """Logs in as scramuser, rotates the role's password to ``new`` and ``write``s it
    where the pool reads it, drains, and logs in again: no restart."""
    with p.cursor() as cur:
        cur.execute("SELECT current_user")
        assert cur.fetchone()[0] == "scramuser"
    _set_password(admin, new)
    write(new)
    p.drain(timeout=5)
    with p.cursor() as cur:
        cur.execute("SELECT 1")


def test_a_password_file_is_read_at_each_connect(tls_admin, tmp_path):
    """libpq's passfile (``passfile=``/``PGPASSFILE``/``~/.pgpass``): read for every new
    connection without a password, so a rotated secret written to it applies to the next
    connection (after a drain: every one) without a restart; a file others can read is
    ignored, as libpq ignores it."""
    f = tmp_path / "pgpass"
    f.write_text(f"# rotated by an agent\n*:*:postgres:scramuser:{DEFAULT_SECRET}\n")
    f.chmod(0o600)
    with pgpool.Pool(_scram_dsn(), passfile=str(f), min_size=0, max_size=1) as p:
        _rotate_through(
            p,
            tls_admin,
            "from-the-file",
            lambda pw: f.write_text(f"*:*:postgres:scramuser:{pw}\n"),
        )
        f.chmod(0o644)
        p.drain(timeout=5)
        with pytest.raises(pgpool.PoolTimeout, match="no password was provided"):
            p.getconn(timeout=0.5)


def test_a_password_command_from_the_environment(tls_admin, tmp_path, monkeypatch):
    """``PGPOOL_PASSWORD_COMMAND`` (operators who cannot change the code): run for every
    new connection, its output the password; a failing command is a connection error
    naming it."""
    secret = tmp_path / "secret"
    secret.write_text(DEFAULT_SECRET + "\n")
    monkeypatch.setenv("PGPOOL_PASSWORD_COMMAND", f"cat {secret}")
    with pgpool.Pool(_scram_dsn(), min_size=0, max_size=1) as p:
        _rotate_through(
            p, tls_admin, "from-a-command", lambda pw: secret.write_text(pw + "\n")
        )
    monkeypatch.setenv("PGPOOL_PASSWORD_COMMAND", "echo 'vault sealed' >&2; exit 2")
    with pgpool.Pool(_scram_dsn(), min_size=0, max_size=1) as p:
        with pytest.raises(
            pgpool.PoolTimeout, match="PGPOOL_PASSWORD_COMMAND failed.*vault sealed"
        ):
            p.getconn(timeout=0.5)
