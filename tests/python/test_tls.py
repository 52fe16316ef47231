"""TLS from Python, with libpq's sslmode semantics, against the harness's TLS
server (``PGPOOL_TEST_TLS_URL``, certificates in ``PGPOOL_TEST_TLS_DIR``) and the main
server, which has no TLS. Through ``pgpool.Pool``, ``pgpool.connect`` and the default
pool configured from the environment (``PGSSLMODE``/``PGSSLROOTCERT``, in a subprocess).
Where it makes sense, the outcome is cross-checked with psycopg2 (libpq) on the same DSN.

The whole module skips when the harness runs without its TLS server (PGPOOL_TEST_TLS=0).
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import urllib.parse
from typing import Any, Dict, Iterator, Optional, Tuple

import pytest

import pgpool

TLS_URL = os.environ.get("PGPOOL_TEST_TLS_URL", "")
TLS_DIR = os.environ.get("PGPOOL_TEST_TLS_DIR", "")
DATABASE_URL = os.environ.get("DATABASE_URL", "")

pytestmark = pytest.mark.skipif(
    not (TLS_URL and TLS_DIR and DATABASE_URL),
    reason="PGPOOL_TEST_TLS_URL / PGPOOL_TEST_TLS_DIR not set (run through scripts/test-env)",
)

SSL_OF_ME = "SELECT ssl, version FROM pg_stat_ssl WHERE pid = pg_backend_pid()"


def _port(url: str) -> int:
    return urllib.parse.urlsplit(url).port or 5432


def tls_port() -> int:
    return _port(TLS_URL)


def plain_port() -> int:
    return _port(DATABASE_URL)


def f(name: str) -> str:
    """A file of the harness's TLS directory."""
    return os.path.join(TLS_DIR, name)


def dsn(
    host: str = "localhost",
    port: Optional[int] = None,
    user: str = "postgres",
    **kw: str,
) -> str:
    """A keyword DSN (libpq form) for the TLS server (or another port)."""
    parts = {
        "host": host,
        "port": str(port if port is not None else tls_port()),
        "user": user,
        "dbname": "postgres",
        "connect_timeout": "10",
        **kw,
    }
    return " ".join(f"{k}={v}" for k, v in parts.items())


@pytest.fixture(autouse=True)
def _no_pg_env(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """No libpq variables from the outer environment (the tests set their own)."""
    for name in list(os.environ):
        if name.startswith("PGSSL") or name in (
            "PGHOST",
            "PGPORT",
            "PGUSER",
            "PGDATABASE",
        ):
            monkeypatch.delenv(name, raising=False)
    yield


def libpq(d: str) -> Tuple[bool, Any]:
    """psycopg2's (libpq's) outcome for the DSN: (True, ssl in use) or (False, message)."""
    import psycopg2

    try:
        c = psycopg2.connect(d)
    except psycopg2.OperationalError as e:
        return False, str(e)
    try:
        with c.cursor() as cur:
            cur.execute(SSL_OF_ME)
            return True, cur.fetchone()[0]
    finally:
        c.close()


def ssl_of_connect(d: str, **kw: Any) -> Tuple[bool, str]:
    c = pgpool.connect(d, **kw)
    try:
        with c.cursor() as cur:
            cur.execute(SSL_OF_ME)
            ssl, version = cur.fetchone()
            return bool(ssl), str(version or "")
    finally:
        c.close()


def ssl_of_pool(d: str, **kw: Any) -> Tuple[bool, str]:
    with pgpool.Pool(d, min_size=0, max_size=1, timeout=10, **kw) as p:
        with p.cursor() as cur:
            cur.execute(SSL_OF_ME)
            ssl, version = cur.fetchone()
            return bool(ssl), str(version or "")


# --- each mode against the TLS server ------------------------------------------------------


@pytest.mark.parametrize("mode", ["require", "verify-ca", "verify-full"])
def test_sslmode_against_the_tls_server(mode: str) -> None:
    d = dsn(sslmode=mode, sslrootcert=f("ca.crt"))
    assert ssl_of_pool(d) == (True, "TLSv1.3")
    assert ssl_of_connect(d) == (True, "TLSv1.3")
    # The same as keyword arguments (psycopg2.connect(**kw) style).
    assert ssl_of_connect(dsn(), sslmode=mode, sslrootcert=f("ca.crt")) == (
        True,
        "TLSv1.3",
    )
    assert libpq(d) == (True, True)


def test_uri_form() -> None:
    q = urllib.parse.urlencode({"sslmode": "verify-full", "sslrootcert": f("ca.crt")})
    uri = f"postgresql://postgres@localhost:{tls_port()}/postgres?{q}"
    assert ssl_of_pool(uri) == (True, "TLSv1.3")
    assert ssl_of_connect(uri) == (True, "TLSv1.3")


@pytest.mark.parametrize(
    "mode,encrypted", [("disable", False), ("allow", False), ("prefer", True)]
)
def test_weaker_modes_against_the_tls_server(mode: str, encrypted: bool) -> None:
    d = dsn(sslmode=mode)
    assert ssl_of_pool(d)[0] is encrypted
    assert ssl_of_connect(d)[0] is encrypted
    assert libpq(d) == (True, encrypted)


# --- failures named as libpq names them ----------------------------------------------------


def test_verify_full_to_an_ip_address_fails_naming_the_host_mismatch() -> None:
    # The server's certificate names DNS:localhost only.
    d = dsn("127.0.0.1", sslmode="verify-full", sslrootcert=f("ca.crt"))
    want = 'server certificate for "localhost" does not match host name "127.0.0.1"'
    with pytest.raises(pgpool.OperationalError) as e:
        pgpool.connect(d)
    assert want in str(e.value)
    with pgpool.Pool(d, min_size=0, max_size=1, timeout=1.5) as p:
        with pytest.raises(pgpool.PoolTimeout) as t:
            p.getconn()
    assert "does not match host name" in str(t.value)
    ok, msg = libpq(d)
    assert not ok and "does not match host name" in msg
    # verify-ca does not check the name.
    assert ssl_of_connect(
        dsn("127.0.0.1", sslmode="verify-ca", sslrootcert=f("ca.crt"))
    )[0]


@pytest.mark.parametrize("mode", ["verify-ca", "verify-full", "require"])
def test_a_wrong_ca_fails(mode: str) -> None:
    # require with a root certificate file verifies the chain (libpq's rule).
    d = dsn(sslmode=mode, sslrootcert=f("wrong-ca.crt"))
    with pytest.raises(pgpool.OperationalError) as e:
        pgpool.connect(d)
    assert "certificate verify failed" in str(e.value)
    with pgpool.Pool(d, min_size=0, max_size=1, timeout=1.5) as p:
        with pytest.raises(pgpool.PoolTimeout) as t:
            p.getconn()
    assert "certificate verify failed" in str(t.value)
    assert libpq(d)[0] is False


def test_prefer_falls_back_to_plain_against_a_server_without_tls() -> None:
    d = dsn("127.0.0.1", plain_port(), sslmode="prefer", sslrootcert=f("ca.crt"))
    assert ssl_of_pool(d) == (False, "")
    assert ssl_of_connect(d) == (False, "")
    assert libpq(d) == (True, False)
    # No sslmode at all is prefer.
    assert ssl_of_connect(DATABASE_URL) == (False, "")


@pytest.mark.parametrize("mode", ["require", "verify-ca", "verify-full"])
def test_tls_modes_fail_against_a_server_without_tls(mode: str) -> None:
    d = dsn("127.0.0.1", plain_port(), sslmode=mode, sslrootcert=f("ca.crt"))
    with pytest.raises(pgpool.OperationalError) as e:
        pgpool.connect(d)
    assert "server does not support SSL, but SSL was required" in str(e.value)
    ok, msg = libpq(d)
    assert not ok and "server does not support SSL, but SSL was required" in msg


# --- client certificates, pg_stat_ssl ------------------------------------------------------


def test_client_certificate_login() -> None:
    d = dsn(
        user="certuser",
        sslmode="verify-full",
        sslrootcert=f("ca.crt"),
        sslcert=f("client.crt"),
        sslkey=f("client.key"),
    )
    with pgpool.Pool(d, min_size=1, max_size=2, timeout=10) as p:
        with p.cursor() as cur:
            cur.execute(
                "SELECT current_user, ssl, client_dn FROM pg_stat_ssl "
                "WHERE pid = pg_backend_pid()"
            )
            assert cur.fetchone() == ("certuser", True, "/CN=certuser")
    c = pgpool.connect(d)
    try:
        with c.cursor() as cur:
            cur.execute("SELECT current_user")
            assert cur.fetchone() == ("certuser",)
    finally:
        c.close()
    # Without a certificate pg_hba's `cert` rule refuses.
    no_cert = dsn(
        user="certuser",
        sslmode="verify-full",
        sslrootcert=f("ca.crt"),
        sslcert=f("no-such.crt"),
    )
    with pytest.raises(pgpool.OperationalError) as e:
        pgpool.connect(no_cert)
    assert "certificate" in str(e.value)


def test_pg_stat_ssl_shows_the_pools_connections_encrypted() -> None:
    app = "pgpool-py-tls-pool"
    d = dsn(sslmode="verify-full", sslrootcert=f("ca.crt"), application_name=app)
    with pgpool.Pool(d, min_size=3, max_size=3, timeout=10) as p:
        held = [p.getconn() for _ in range(3)]
        try:
            pids = sorted(c.get_backend_pid() for c in held)
            admin = pgpool.connect(dsn(sslmode="disable"))
            try:
                with admin.cursor() as cur:
                    cur.execute(
                        "SELECT pid, s.ssl, s.version, a.application_name "
                        "FROM pg_stat_ssl s JOIN pg_stat_activity a USING (pid) "
                        "WHERE pid = ANY(%s) ORDER BY pid",
                        (pids,),
                    )
                    rows = cur.fetchall()
            finally:
                admin.close()
        finally:
            for c in held:
                p.putconn(c)
    assert rows == [(pid, True, "TLSv1.3", app) for pid in pids]


# --- the environment (PGSSLMODE, PGSSLROOTCERT), as a service configures it ----------------

_ENV_SCRIPT = textwrap.dedent(
    """
    import json, pgpool
    out = {}
    try:
        with pgpool.get_cursor() as cur:   # the default pool, from the environment
            cur.execute("SELECT ssl, version FROM pg_stat_ssl WHERE pid = pg_backend_pid()")
            out["pool"] = list(cur.fetchone())
    except pgpool.Error as e:
        out["pool"] = type(e).__name__ + ": " + str(e)
    try:
        c = pgpool.connect()
        with c.cursor() as cur:
            cur.execute("SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()")
            out["connect"] = cur.fetchone()[0]
        c.close()
    except pgpool.Error as e:
        out["connect"] = type(e).__name__ + ": " + str(e)
    print(json.dumps(out))
    """
)


def run_with_env(extra: Dict[str, str]) -> Dict[str, Any]:
    import json

    env = {
        k: v
        for k, v in os.environ.items()
        if not (k.startswith("PG") and not k.startswith("PGPOOL_TEST"))
        and k != "DATABASE_URL"
    }
    env.update(extra)
    r = subprocess.run(
        [sys.executable, "-c", _ENV_SCRIPT],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert r.returncode == 0, r.stderr
    assert r.stderr == "", r.stderr  # nothing printed to stderr by default
    return dict(json.loads(r.stdout))


def test_environment_pgsslmode_and_pgsslrootcert() -> None:
    base = {
        "PGSSLMODE": "verify-full",
        "PGSSLROOTCERT": f("ca.crt"),
        "PGPOOL_TIMEOUT": "2",
    }
    out = run_with_env(
        {
            **base,
            "DATABASE_URL": f"postgresql://postgres@localhost:{tls_port()}/postgres",
        }
    )
    assert out == {"pool": [True, "TLSv1.3"], "connect": True}
    # The same variables, to 127.0.0.1: the host-name check applies.
    out = run_with_env(
        {
            **base,
            "DATABASE_URL": f"postgresql://postgres@127.0.0.1:{tls_port()}/postgres",
        }
    )
    assert "does not match host name" in out["pool"], out
    assert out["connect"].startswith("OperationalError"), out
    assert "does not match host name" in out["connect"], out
    # libpq's variables alone (no DATABASE_URL): PGHOST/PGPORT/PGUSER too.
    out = run_with_env(
        {
            **base,
            "PGHOST": "localhost",
            "PGPORT": str(tls_port()),
            "PGUSER": "postgres",
            "PGDATABASE": "postgres",
        }
    )
    assert out == {"pool": [True, "TLSv1.3"], "connect": True}
    # PGSSLMODE=require against the server without TLS fails as libpq does.
    out = run_with_env(
        {"PGSSLMODE": "require", "PGPOOL_TIMEOUT": "1", "DATABASE_URL": DATABASE_URL}
    )
    assert "server does not support SSL, but SSL was required" in out["connect"], out
    assert "PoolTimeout" in out["pool"] and "SSL was required" in out["pool"], out


def test_info_ssl_in_use_matches_libpq() -> None:
    import psycopg2

    for mode, want in (("require", True), ("disable", False)):
        d = dsn(sslmode=mode)
        ours = pgpool.connect(d)
        theirs = psycopg2.connect(d)
        try:
            assert ours.info.ssl_in_use is want
            assert theirs.info.ssl_in_use is want
            assert ours.info.socket >= 0
        finally:
            ours.close()
            theirs.close()
