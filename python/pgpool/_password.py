"""psycopg2's ``extensions.encrypt_password``: libpq's ``PQencryptPasswordConn``.

The encrypted form of a password, as ``CREATE ROLE ... PASSWORD`` / ``ALTER ROLE``
accept it, so the clear password never reaches the server:

- ``md5``: ``"md5" + md5(password + user)`` in hex;
- ``scram-sha-256``: ``SCRAM-SHA-256$<iterations>:<salt>$<StoredKey>:<ServerKey>``
  (RFC 5802 / 7677 with a random 16-byte salt, base64 fields), the password first
  normalised with SASLprep (RFC 4013) when it is valid for it, as the server does when
  it checks a login;
- no ``algorithm``: the server's ``password_encryption`` setting, asked through
  ``scope`` (a connection or a cursor); ``on``/``off`` (before PostgreSQL 10) mean
  ``md5``.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import stringprep
import unicodedata
from typing import Any, Optional, Union

from . import _pgpool
from .errors import ProgrammingError

__all__ = ["encrypt_password"]

# libpq's defaults (SCRAM_SHA_256_DEFAULT_ITERATIONS, SCRAM_DEFAULT_SALT_LEN).
_SCRAM_ITERATIONS = 4096
_SCRAM_SALT_LEN = 16

_IDLE = 0  # TRANSACTION_STATUS_IDLE


def _as_bytes(value: Any) -> bytes:
    if isinstance(value, str):
        return value.encode("utf-8")
    if isinstance(value, bytes):
        return value
    raise TypeError(
        f"Expected bytes or unicode string, got {type(value).__name__} instead"
    )


def _conn_of(scope: Any) -> Any:
    if isinstance(scope, _pgpool.Cursor):
        return scope.connection
    if isinstance(scope, _pgpool.Connection):
        return scope
    raise TypeError("the scope must be a connection or a cursor")


def _prohibited(ch: str) -> bool:
    return (
        stringprep.in_table_c12(ch)
        or stringprep.in_table_c21_c22(ch)
        or stringprep.in_table_c3(ch)
        or stringprep.in_table_c4(ch)
        or stringprep.in_table_c5(ch)
        or stringprep.in_table_c6(ch)
        or stringprep.in_table_c7(ch)
        or stringprep.in_table_c8(ch)
        or stringprep.in_table_c9(ch)
        or stringprep.in_table_a1(ch)
    )


def _saslprep(password: bytes) -> bytes:
    """SASLprep of a UTF-8 password, or the password as it is when it is not valid
    UTF-8 or not valid for SASLprep (what libpq and the server do)."""
    try:
        text = password.decode("utf-8")
    except UnicodeDecodeError:
        return password
    # Map: non-ASCII spaces to a space, "commonly mapped to nothing" removed.
    mapped = "".join(
        " " if stringprep.in_table_c12(ch) else ch
        for ch in text
        if not stringprep.in_table_b1(ch)
    )
    normalized = unicodedata.normalize("NFKC", mapped)
    if not normalized:
        return password
    if any(_prohibited(ch) for ch in normalized):
        return password
    # Bidirectional text (RFC 3454 section 6).
    if any(stringprep.in_table_d1(ch) for ch in normalized):
        if any(stringprep.in_table_d2(ch) for ch in normalized):
            return password
        if not (
            stringprep.in_table_d1(normalized[0])
            and stringprep.in_table_d1(normalized[-1])
        ):
            return password
    return normalized.encode("utf-8")


def _scram_sha_256(
    password: bytes, iterations: int, salt: Optional[bytes] = None
) -> str:
    """The SCRAM-SHA-256 secret of ``password`` (a random salt unless given)."""
    if salt is None:
        salt = secrets.token_bytes(_SCRAM_SALT_LEN)
    salted = hashlib.pbkdf2_hmac("sha256", _saslprep(password), salt, iterations)
    client_key = hmac.new(salted, b"Client Key", hashlib.sha256).digest()
    stored_key = hashlib.sha256(client_key).digest()
    server_key = hmac.new(salted, b"Server Key", hashlib.sha256).digest()

    def b64(raw: bytes) -> str:
        return base64.b64encode(raw).decode("ascii")

    return f"SCRAM-SHA-256${iterations}:{b64(salt)}${b64(stored_key)}:{b64(server_key)}"


def _md5(password: bytes, user: bytes) -> str:
    return "md5" + hashlib.md5(password + user).hexdigest()


def _server_setting(conn: Any, name: str) -> Optional[str]:
    """``SHOW name`` on ``conn``. As libpq's ``PQexec``, it opens no transaction: one
    begun just for it is rolled back."""
    opened = not conn.autocommit and conn.info.transaction_status == _IDLE
    cur = _pgpool.Cursor(conn)
    try:
        cur.execute(f"SHOW {name}")
        row = cur.fetchone()
    finally:
        cur.close()
        if opened:
            _pgpool.Connection.rollback(conn)
    return None if row is None else str(row[0])


def _iterations(conn: Any) -> int:
    # PostgreSQL 16 reports its scram_iterations setting (libpq 16 uses it).
    try:
        value = conn.info.parameter_status("scram_iterations")
    except Exception:
        value = None
    try:
        n = int(value) if value else _SCRAM_ITERATIONS
    except ValueError:
        n = _SCRAM_ITERATIONS
    return n if n > 0 else _SCRAM_ITERATIONS


def encrypt_password(
    password: Union[str, bytes],
    user: Union[str, bytes],
    scope: Any = None,
    algorithm: Optional[Union[str, bytes]] = None,
) -> str:
    """The encrypted form of ``password`` for the role ``user`` (psycopg2's
    ``encrypt_password``): ``algorithm`` ``"md5"`` or ``"scram-sha-256"``, or None for
    the server's ``password_encryption`` (asked through ``scope``, a connection or a
    cursor). Anything but ``"md5"`` needs ``scope``; an unknown algorithm raises
    ``ProgrammingError``."""
    conn = None if scope is None else _conn_of(scope)
    user_b = _as_bytes(user)
    password_b = _as_bytes(password)
    algo: Optional[str] = None
    if algorithm is not None:
        algo = _as_bytes(algorithm).decode("utf-8", "replace")
    if algo == "md5":
        return _md5(password_b, user_b)
    if conn is None:
        raise ProgrammingError(
            "password encryption (other than 'md5' algorithm) requires a "
            "connection or cursor"
        )
    if algo is None:
        algo = _server_setting(conn, "password_encryption") or ""
    if algo in ("on", "off"):
        algo = "md5"
    if algo == "md5":
        return _md5(password_b, user_b)
    if algo == "scram-sha-256":
        return _scram_sha_256(password_b, _iterations(conn))
    raise ProgrammingError(
        "password encryption failed: unrecognized password encryption algorithm "
        f'"{algo}"\n'
    )
