"""psycopg2's ``extensions.encrypt_password`` (libpq's ``PQencryptPasswordConn``) and
``extensions.Xid``, on a real server: the hashes are compared with the ones the server
computes itself, and used to log in.
"""

from __future__ import annotations

import base64
import os
import uuid
from typing import Any

import pytest

import pgpool
from pgpool import _password
from pgpool import extensions as ext
from pgpool.extensions import Xid, encrypt_password

PASSWORDS = [
    "psycopg2",
    "",
    "with space",
    "caf\u00e9",  # NFC, unchanged by SASLprep
    "cafe\u0301",  # NFKC makes it "caf\u00e9"
    "I\u00adX",  # soft hyphen: mapped to nothing
    "\u2168",  # ROMAN NUMERAL NINE: NFKC "IX"
    "a\u00a0b",  # no-break space: a space
    "bell\x07",  # a control character: prohibited, used as it is
    "\u05d0\u05d1",  # right-to-left, valid
    "\u05d0a",  # mixed bidi: invalid, used as it is
    "\U000e0001x",  # a tag character: prohibited
]


def test_exported():
    assert "encrypt_password" in ext.__all__ and "Xid" in ext.__all__
    assert ext.encrypt_password is encrypt_password


def test_md5_as_the_server(conn: pgpool.Connection, admin: Any):
    assert (
        encrypt_password("psycopg2", "ashesh", algorithm="md5")
        == "md594839d658c28a357126f105b9cb14cfc"
    )
    assert (
        encrypt_password(b"psycopg2", b"ashesh", conn, b"md5")
        == "md594839d658c28a357126f105b9cb14cfc"
    )
    role = "pgpool_pw_" + uuid.uuid4().hex[:10]
    with admin.cursor() as cur:
        cur.execute("SET password_encryption = 'md5'")
        try:
            for pw in ("psycopg2", "caf\u00e9"):
                cur.execute(f"CREATE ROLE {role} PASSWORD %s", (pw,))
                cur.execute(
                    "SELECT rolpassword FROM pg_authid WHERE rolname = %s", (role,)
                )
                assert cur.fetchone()[0] == encrypt_password(pw, role, None, "md5")
                cur.execute(f"DROP ROLE {role}")
        finally:
            cur.execute(f"DROP ROLE IF EXISTS {role}")
            cur.execute("RESET password_encryption")


def parse_scram(secret: str) -> tuple[int, bytes, bytes, bytes]:
    head, keys = secret.split("$", 2)[1:]
    iterations, salt = head.split(":")
    stored, server = keys.split(":")
    return (
        int(iterations),
        base64.b64decode(salt),
        base64.b64decode(stored),
        base64.b64decode(server),
    )


def test_scram_as_the_server(conn: pgpool.Connection, admin: Any):
    """The server's own secret for a password (its salt and iterations) is the one
    pgpool computes with that salt: same SCRAM keys, same SASLprep."""
    role = "pgpool_pw_" + uuid.uuid4().hex[:10]
    with admin.cursor() as cur:
        cur.execute("SET password_encryption = 'scram-sha-256'")
        try:
            cur.execute(f"CREATE ROLE {role}")
            for pw in PASSWORDS:
                if not pw:
                    continue  # the server refuses an empty password
                cur.execute(f"ALTER ROLE {role} PASSWORD %s", (pw,))
                cur.execute(
                    "SELECT rolpassword FROM pg_authid WHERE rolname = %s", (role,)
                )
                theirs = cur.fetchone()[0]
                iterations, salt, _, _ = parse_scram(theirs)
                ours = _password._scram_sha_256(pw.encode(), iterations, salt)
                assert ours == theirs, repr(pw)
        finally:
            cur.execute(f"DROP ROLE IF EXISTS {role}")
            cur.execute("RESET password_encryption")


def test_scram_format(conn: pgpool.Connection):
    a = encrypt_password("psycopg2", "ashesh", conn, "scram-sha-256")
    b = encrypt_password("psycopg2", "ashesh", conn.cursor(), "scram-sha-256")
    assert a.startswith("SCRAM-SHA-256$4096:")
    iterations, salt, stored, server = parse_scram(a)
    assert iterations == 4096 and len(salt) == 16
    assert len(stored) == len(server) == 32
    assert a != b  # a random salt each time
    # the secret of the same salt is the same
    assert _password._scram_sha_256(b"psycopg2", 4096, salt) == a


def test_server_default(conn: pgpool.Connection):
    cur = conn.cursor()
    cur.execute("SET password_encryption = 'md5'")
    assert encrypt_password("psycopg2", "ashesh", conn) == (
        "md594839d658c28a357126f105b9cb14cfc"
    )
    cur.execute("SET password_encryption = 'scram-sha-256'")
    assert encrypt_password("psycopg2", "ashesh", cur).startswith("SCRAM-SHA-256$")
    assert conn.info.transaction_status == ext.TRANSACTION_STATUS_INTRANS
    conn.rollback()
    # As libpq's PQexec, asking the server opens no transaction.
    assert conn.info.transaction_status == ext.TRANSACTION_STATUS_IDLE
    assert encrypt_password("psycopg2", "ashesh", conn).startswith("SCRAM-SHA-256$")
    assert conn.info.transaction_status == ext.TRANSACTION_STATUS_IDLE
    conn.autocommit = True
    assert encrypt_password("psycopg2", "ashesh", conn).startswith("SCRAM-SHA-256$")


def test_errors(conn: pgpool.Connection):
    with pytest.raises(TypeError):
        encrypt_password()  # type: ignore[call-arg]
    with pytest.raises(TypeError):
        encrypt_password("password", 42, conn, "md5")  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        encrypt_password(42, "user", conn, "md5")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="the scope must be a connection or a cursor"):
        encrypt_password(42, "user", "wat", "abc")  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        encrypt_password("password", "user", "wat", 42)  # type: ignore[arg-type]
    with pytest.raises(pgpool.ProgrammingError, match="requires a connection"):
        encrypt_password("psycopg2", "ashesh", algorithm="scram-sha-256")
    with pytest.raises(pgpool.ProgrammingError, match="requires a connection"):
        encrypt_password("psycopg2", "ashesh")
    with pytest.raises(
        pgpool.ProgrammingError,
        match='unrecognized password encryption algorithm "abc"',
    ):
        encrypt_password("psycopg2", "ashesh", conn, "abc")


def test_as_psycopg2(conn: pgpool.Connection, pg2: Any):
    import psycopg2
    import psycopg2.extensions as p2ext

    for args in (
        ("psycopg2", "ashesh", None, "md5"),
        ("caf\u00e9", "r\u00f4le", None, "md5"),
        (b"x", b"y", None, "md5"),
    ):
        assert encrypt_password(*args) == p2ext.encrypt_password(*args)
    for bad in (
        ("psycopg2", "ashesh", "abc"),
        ("psycopg2", "ashesh", "scram-sha-256"),
    ):
        with pytest.raises(pgpool.ProgrammingError) as ours:
            encrypt_password(bad[0], bad[1], None if bad[2] != "abc" else conn, bad[2])
        with pytest.raises(psycopg2.ProgrammingError) as theirs:
            p2ext.encrypt_password(
                bad[0], bad[1], None if bad[2] != "abc" else pg2, bad[2]
            )
        assert str(ours.value) == str(theirs.value)


@pytest.mark.skipif(
    not os.environ.get("PGPOOL_TEST_TLS_URL"), reason="needs the TLS test server"
)
def test_login_with_the_secret():
    """A role given pgpool's SCRAM secret logs in with the password (the TLS test
    server asks ``scramuser`` for scram-sha-256)."""
    url = os.environ["PGPOOL_TEST_TLS_URL"]
    admin = pgpool.connect(url + "?sslmode=disable")
    admin.autocommit = True
    try:
        for pw in ("pgpool-new-secret", "cafe\u0301 \u2168"):
            secret = encrypt_password(pw, "scramuser", admin, "scram-sha-256")
            cur = admin.cursor()
            cur.execute(f"ALTER ROLE scramuser PASSWORD '{secret}'")
            host = url.split("@", 1)[1].split("/", 1)[0]
            c = pgpool.connect(
                f"postgresql://scramuser@{host}/postgres",
                password=pw,
                sslmode="disable",
            )
            try:
                cur2 = c.cursor()
                cur2.execute("SELECT current_user")
                assert cur2.fetchone()[0] == "scramuser"
            finally:
                c.close()
            with pytest.raises(pgpool.OperationalError):
                pgpool.connect(
                    f"postgresql://scramuser@{host}/postgres",
                    password=pw + "x",
                    sslmode="disable",
                )
    finally:
        # Back to the password the TLS tests use.
        cur = admin.cursor()
        cur.execute("SET password_encryption = 'scram-sha-256'")
        cur.execute("ALTER ROLE scramuser PASSWORD 'scram-secret'")
        admin.close()


# ---------------------------------------------------------------------------
# Xid


def test_xid_as_psycopg2(conn: pgpool.Connection, pg2: Any):
    import psycopg2.extensions as p2ext

    for fid, g, b in ((42, "gtrid", "bqual"), (0, "", ""), (0x7FFFFFFF, "a" * 64, "b")):
        ours, theirs = Xid(fid, g, b), p2ext.Xid(fid, g, b)
        assert str(ours) == str(theirs)
        assert tuple(ours) == tuple(theirs) == (fid, g, b)
        assert (ours[0], ours[1], ours[2]) == (fid, g, b)
        assert ours.format_id == fid and ours.gtrid == g and ours.bqual == b
        assert ours.prepared is ours.owner is ours.database is None
        back = Xid.from_string(str(ours))
        assert tuple(back) == (fid, g, b)
        assert str(conn.xid(fid, g, b)) == str(pg2.xid(fid, g, b))
    for s in ("42_Z3RyaWQ=_YnF1YWw=", "plain", "99_xx_yy", "1_2", "a_b_c"):
        ours, theirs = Xid.from_string(s), p2ext.Xid.from_string(s)
        assert tuple(ours) == tuple(theirs), s
        assert (
            str(ours) == str(theirs) == (s if ours.format_id is None else str(theirs))
        )
    for bad, exc in (
        ((-1, "a", "b"), ValueError),
        ((1 << 31, "a", "b"), OverflowError),
        ((-(1 << 31) - 1, "a", "b"), OverflowError),
        ((1, "a" * 65, "b"), ValueError),
        ((1, "a", "\n"), ValueError),
        (("1", "a", "b"), TypeError),
        ((1, 2, "b"), TypeError),
    ):
        with pytest.raises(exc):
            Xid(*bad)
        with pytest.raises(exc):
            p2ext.Xid(*bad)
