"""psycopg2's large objects (``extensions.lobject``, ``connection.lobject()``) over the
server's SQL functions (``pgpool._lobject``), checked on a real server and against
psycopg2 itself.

``pgpool._lobject.lobject(conn, ...)`` is what ``Connection.lobject()`` calls; the tests
use both.
"""

from __future__ import annotations

import os
from typing import Any, Callable, Iterator

import pytest

import pgpool
from pgpool import _lobject
from pgpool import extensions as ext

MODES = [
    "",
    None,
    "r",
    "w",
    "rw",
    "n",
    "rb",
    "rt",
    "wb",
    "wt",
    "rwb",
    "rwt",
    "nb",
    "nt",
    "b",
    "t",
    "x",
    "wr",
    "rwx",
    "bt",
    "rbt",
    "r ",
    "R",
]


@pytest.fixture
def oids(admin: Any) -> Iterator[list[int]]:
    """Oids of large objects to remove after the test (if they still exist)."""
    made: list[int] = []
    yield made
    with admin.cursor() as cur:
        for oid in made:
            cur.execute(
                "SELECT lo_unlink(oid) FROM pg_largeobject_metadata WHERE oid = %s",
                (oid,),
            )


def make(conn: Any, oids: list[int], *args: Any, **kwargs: Any) -> Any:
    lo = _lobject.lobject(conn, *args, **kwargs)
    oids.append(lo.oid)
    return lo


def outcome(fn: Callable[[], Any]) -> Any:
    try:
        return ("ok", fn())
    except Exception as e:  # noqa: BLE001 - the outcome is compared
        return (type(e).__name__, str(e))


def test_class_is_exported_and_subclassable(conn: pgpool.Connection, oids: list[int]):
    assert ext.lobject is _lobject.LargeObject
    assert ext.lobject.__name__ == "lobject"
    assert "lobject" in ext.__all__

    class Mine(ext.lobject):
        pass

    lo = _lobject.lobject(conn, lobject_factory=Mine)
    oids.append(lo.oid)
    assert type(lo) is Mine
    lo2 = conn.lobject(lobject_factory=Mine)
    oids.append(lo2.oid)
    assert type(lo2) is Mine and lo2.oid != lo.oid
    lo3 = ext.lobject(conn, lo.oid, "rb")
    assert lo3.oid == lo.oid and lo3.mode == "rb"
    with pytest.raises(TypeError):
        ext.lobject([])  # type: ignore[arg-type]
    assert repr(lo3).startswith("<lobject object at 0x") and "closed: 0" in repr(lo3)


def test_modes_as_psycopg2(conn: pgpool.Connection, pg2: Any, admin: Any):
    with admin.cursor() as cur:
        cur.execute("SELECT lo_creat(-1)")
        oid = cur.fetchone()[0]
    try:
        for mode in MODES:
            theirs = outcome(
                lambda mode=mode: (lambda lo: (lo.mode, lo.closed))(
                    pg2.lobject(oid, mode)
                )
            )
            ours = outcome(
                lambda mode=mode: (lambda lo: (lo.mode, lo.closed))(
                    _lobject.lobject(conn, oid, mode)
                )
            )
            assert ours == theirs, mode
            # A new object is always opened for writing.
            theirs = outcome(lambda mode=mode: pg2.lobject(0, mode).mode)
            ours = outcome(lambda mode=mode: _lobject.lobject(conn, 0, mode).mode)
            assert ours == theirs, mode
            pg2.rollback()
            conn.rollback()
    finally:
        with admin.cursor() as cur:
            cur.execute("SELECT lo_unlink(%s)", (oid,))


def test_write_read_seek_tell_truncate(conn: pgpool.Connection, oids: list[int]):
    lo = make(conn, oids)
    assert lo.mode == "wt" and not lo.closed
    assert lo.write(b"some data") == 9
    snowman = "\u2603"
    assert lo.write(" " + snowman) == 4  # UTF-8: 3 bytes for the snowman
    assert lo.tell() == 13
    lo.close()
    assert lo.closed
    lo = _lobject.lobject(conn, lo.oid)
    assert lo.mode == "rt"
    assert lo.read(4) == "some"
    assert lo.read() == " data " + snowman
    assert lo.read() == ""
    assert lo.seek(5) == 5 and lo.tell() == 5
    assert lo.seek(2, 1) == 7
    assert lo.read(2) == "ta"
    assert lo.seek(-3, 2) == 10
    lo = _lobject.lobject(conn, lo.oid, "rwb")
    assert lo.read(4) == b"some"
    assert isinstance(lo.read(0), bytes)
    lo.truncate(6)
    assert lo.tell() == 4  # truncate does not move
    lo.seek(0)
    assert lo.read() == b"some d"
    lo.truncate(8)
    lo.seek(0)
    assert lo.read() == b"some d\x00\x00"
    lo.truncate()
    lo.seek(0)
    assert lo.read() == b""
    conn.commit()
    with conn.cursor() as cur:
        cur.execute("SELECT length(lo_get(%s))", (lo.oid,))
        assert cur.fetchone()[0] == 0


def test_large_read_write_in_pieces(
    conn: pgpool.Connection, oids: list[int], monkeypatch: pytest.MonkeyPatch
):
    # Small pieces, so the multi-statement paths run on small data.
    monkeypatch.setattr(_lobject, "_CHUNK_MAX", 1000)
    monkeypatch.setattr(_lobject, "_CHUNK_FIRST", 100)
    data = bytes(range(256)) * 40  # 10240 bytes
    lo = make(conn, oids, 0, "wb")
    assert lo.write(data) == len(data)
    assert lo.tell() == len(data)
    lo.seek(0)
    assert lo.read() == data
    lo.seek(17)
    assert lo.read(5000) == data[17:5017]
    assert lo.read(100000) == data[5017:]


def test_write_large_text(conn: pgpool.Connection, oids: list[int]):
    data = "data" * 1000000
    lo = make(conn, oids)
    assert lo.write("some" + data) == len(data) + 4
    lo.close()
    lo = _lobject.lobject(conn, lo.oid)
    assert lo.read(4) == "some"
    assert lo.read() == data


def test_64bit_offsets(conn: pgpool.Connection, oids: list[int]):
    lo = make(conn, oids)
    length = (1 << 31) + (1 << 30)
    lo.truncate(length)
    assert lo.seek(length, 0) == length
    assert lo.tell() == length
    assert lo.seek(-1, 2) == length - 1
    assert lo.read(10) == "\x00"


def test_create_with_oid_and_errors(conn: pgpool.Connection, oids: list[int]):
    lo = make(conn, oids)
    oid = lo.oid
    conn.commit()
    lo.unlink()
    assert lo.closed
    conn.commit()
    with pytest.raises(pgpool.OperationalError) as ei:
        _lobject.lobject(conn, oid)
    assert str(ei.value) == f"ERROR:  large object {oid} does not exist\n"
    assert ei.value.pgcode == "42704"
    conn.rollback()
    lo = make(conn, oids, 0, "w", oid)
    assert lo.oid == oid
    conn.commit()
    with pytest.raises(pgpool.OperationalError):
        _lobject.lobject(conn, 0, "w", oid)
    assert not conn.closed
    conn.rollback()
    with pytest.raises(ValueError, match="bad mode for lobject: 'rr'"):
        _lobject.lobject(conn, oid, "rr")
    with pytest.raises(pgpool.OperationalError):
        _lobject.lobject(conn, 0xFFFFFFFE)
    conn.rollback()
    with pytest.raises(OverflowError):
        _lobject.lobject(conn, 1 << 32)
    with pytest.raises(TypeError):
        _lobject.lobject(conn, "1")  # type: ignore[arg-type]


def test_errors_as_psycopg2(conn: pgpool.Connection, pg2: Any):
    def run(c: Any, make: Callable[..., Any]) -> list[Any]:
        out = []
        for step in (
            lambda lo: lo.write(5),
            lambda lo: lo.seek(-5, 0),
            lambda lo: lo.seek(0, 7),
            lambda lo: lo.truncate(-1),
        ):
            lo = make()
            r = outcome(lambda step=step, lo=lo: step(lo))
            out.append(r)
            c.rollback()
        return out

    theirs = run(pg2, lambda: pg2.lobject())
    ours = run(conn, lambda: _lobject.lobject(conn))
    # The classes, and the server's messages in libpq's form.
    assert ours == theirs
    # (psycopg2 raises SystemError for this one)
    lo = _lobject.lobject(conn)
    with pytest.raises(pgpool.OperationalError) as ei:
        conn.lobject(lo.oid, "r").write(b"x")
    assert ei.value.pgcode == "55000"
    assert str(ei.value) == (
        "ERROR:  large object descriptor 1 was not opened for writing\n"
    )


def test_after_close(conn: pgpool.Connection, oids: list[int], tmp_path: Any):
    lo = make(conn, oids)
    lo.write(b"some data")
    lo.close()
    lo.close()  # twice is fine
    for call in (
        lambda: lo.write(b"x"),
        lambda: lo.read(5),
        lambda: lo.seek(0),
        lambda: lo.tell(),
        lambda: lo.truncate(),
    ):
        with pytest.raises(pgpool.InterfaceError, match="lobject already closed"):
            call()
    target = tmp_path / "out.bin"
    lo.export(str(target))
    assert target.read_bytes() == b"some data"
    lo.unlink()
    with pytest.raises(pgpool.OperationalError):
        _lobject.lobject(conn, lo.oid)


def test_after_the_transaction(conn: pgpool.Connection, oids: list[int], tmp_path: Any):
    lo = make(conn, oids)
    lo.write(b"some data")
    conn.commit()
    for call in (
        lambda: lo.write(b"x"),
        lambda: lo.read(5),
        lambda: lo.seek(0),
        lambda: lo.tell(),
        lambda: lo.truncate(),
    ):
        with pytest.raises(pgpool.ProgrammingError, match="lobject isn't valid"):
            call()
    # Nothing was sent: still no transaction.
    assert conn.info.transaction_status == ext.TRANSACTION_STATUS_IDLE
    lo.export(tmp_path / "a.bin")
    assert (tmp_path / "a.bin").read_bytes() == b"some data"
    conn.rollback()

    # A later transaction that opened its own object, whose descriptor number is the
    # one of the stale object: the stale object still refuses, and the new one is
    # untouched.
    other = make(conn, oids, 0, "wb")
    other.write(b"other")
    with pytest.raises(pgpool.ProgrammingError, match="lobject isn't valid"):
        lo.write(b"XXXX")
    assert conn.info.transaction_status == ext.TRANSACTION_STATUS_INTRANS
    other.seek(0)
    assert other.read() == b"other"
    lo.close()  # a no-op now
    assert lo.closed
    other.close()
    lo.unlink()  # works in the new transaction
    conn.commit()
    with conn.cursor() as cur:
        cur.execute(
            "SELECT count(*) FROM pg_largeobject_metadata WHERE oid = %s", (lo.oid,)
        )
        assert cur.fetchone()[0] == 0


def test_autocommit(conn: pgpool.Connection, oids: list[int], tmp_path: Any):
    lo = make(conn, oids)
    conn.commit()
    conn.autocommit = True
    msg = "can't use a lobject outside of transactions"
    with pytest.raises(pgpool.ProgrammingError, match=msg):
        _lobject.lobject(conn)
    with pytest.raises(pgpool.ProgrammingError, match=msg):
        conn.lobject(lo.oid)
    with pytest.raises(pgpool.ProgrammingError, match=msg):
        lo.read()
    with pytest.raises(pgpool.ProgrammingError, match=msg):
        lo.export(str(tmp_path / "x"))
    lo.close()
    lo.unlink()  # unlink works in autocommit (as psycopg2)
    with pytest.raises(pgpool.OperationalError):
        lo.unlink()


def test_closed_connection(dsn: str, admin: Any):
    c = pgpool.connect(dsn)
    lo = _lobject.lobject(c)
    c.close()
    assert lo.closed
    lo.close()
    with pytest.raises(pgpool.InterfaceError):
        lo.read()
    with pytest.raises(pgpool.InterfaceError):
        _lobject.lobject(c)
    with pytest.raises(pgpool.InterfaceError):
        c.lobject()


def test_import_export_client_files(
    conn: pgpool.Connection,
    oids: list[int],
    tmp_path: Any,
    monkeypatch: pytest.MonkeyPatch,
):
    monkeypatch.setattr(_lobject, "_CHUNK_MAX", 1000)
    data = os.urandom(4500)
    src = tmp_path / "in.bin"
    src.write_bytes(data)
    lo = make(conn, oids, 0, "rb", 0, str(src))
    assert lo.mode == "wb"  # a new object is opened for writing
    assert lo.read() == data
    with conn.cursor() as cur:
        cur.execute("SELECT lo_get(%s)", (lo.oid,))
        assert bytes(cur.fetchone()[0]) == data
    out = tmp_path / "out.bin"
    lo.export(out)
    assert out.read_bytes() == data
    # pathlib paths, as the factory passes them
    lo2 = make(conn, oids, 0, "r", 0, src)
    assert lo2.oid != lo.oid
    with pytest.raises(pgpool.OperationalError, match="could not open file"):
        _lobject.lobject(conn, 0, "r", 0, str(tmp_path / "missing"))
    with pytest.raises(pgpool.OperationalError, match="could not open file"):
        lo.export(str(tmp_path / "no" / "such" / "dir"))


def test_matches_psycopg2_bytes(conn: pgpool.Connection, pg2: Any, oids: list[int]):
    # An object written by pgpool reads back the same in psycopg2, and back.
    lo = make(conn, oids, 0, "wb")
    lo.write("h\u00e9llo \u2603".encode())
    conn.commit()
    theirs = pg2.lobject(lo.oid, "rt")
    assert theirs.read() == "h\u00e9llo \u2603"
    theirs = pg2.lobject(lo.oid, "w")
    theirs.seek(0, 2)
    theirs.write(b"!")
    pg2.commit()
    assert _lobject.lobject(conn, lo.oid, "rb").read() == "h\u00e9llo \u2603!".encode()


def test_tpc(direct_dsn: str, admin: Any):
    c = pgpool.connect(direct_dsn)
    try:
        c.tpc_begin(c.xid(1, "pgpool-lo", "b"))
        lo = c.lobject()
        oid = lo.oid
        c.tpc_prepare()
        with pytest.raises(pgpool.ProgrammingError):
            lo.read(5)
        with pytest.raises(pgpool.ProgrammingError):
            c.lobject()
        c.tpc_commit()
        with pytest.raises(pgpool.ProgrammingError):
            lo.read(5)
        lo.unlink()
        c.commit()
    finally:
        c.close()
    with admin.cursor() as cur:
        cur.execute(
            "SELECT count(*) FROM pg_largeobject_metadata WHERE oid = %s", (oid,)
        )
        assert cur.fetchone()[0] == 0


def test_connection_settings_do_not_matter(dsn: str, admin: Any, oids: list[int]):
    """The statements' rows do not go through the connection's cursor_factory, and
    text typecasters registered on it do not change them."""
    from pgpool import extras

    c = pgpool.connect(dsn, cursor_factory=extras.RealDictCursor)
    try:
        ext.register_type(ext.BYTES, c)
        lo = make(c, oids)
        lo.write("h\u00e9")
        lo.seek(0)
        assert lo.read() == "h\u00e9"
        c.commit()
        with pytest.raises(pgpool.ProgrammingError):
            lo.read()
        with c.cursor() as cur:
            cur.execute("SELECT 'x'::text AS t")
            assert cur.fetchone() == {"t": b"x"}  # the settings are in force
    finally:
        c.close()
