"""pgpool presenting itself as psycopg2 (issue 15 item 1): the ``pgpool.psycopg2``
facade and ``pgpool.install_as_psycopg2()``.

``install_as_psycopg2()`` changes ``sys.modules`` for the whole process, and the other
tests compare against the real psycopg2: every check that installs it runs in a child
interpreter.
"""

from __future__ import annotations

import re
import subprocess
import sys
import textwrap

import pytest


def run_child(code: str, dsn: str = "") -> str:
    """Run ``code`` in a fresh interpreter (DSN in ``DSN``); its stdout, or fail with
    its stderr."""
    proc = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        capture_output=True,
        text=True,
        timeout=120,
        env={"DSN": dsn, "PATH": "/usr/bin:/bin"},
    )
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


def test_facade_without_installing():
    import pgpool.extensions
    import pgpool.extras
    import pgpool.psycopg2 as pg2

    assert pg2.__version__ == "2.9.10 (dt dec pq3 ext lo64)"
    assert pg2.__pgpool_version__ == pgpool.__version__
    assert pgpool.__version__ != pg2.__version__
    assert type(pg2.__libpq_version__) is int
    assert pg2.__libpq_version__ == pg2.extensions.libpq_version() == 160000
    # the same objects, not copies
    assert pg2.extensions is pgpool.extensions
    assert pg2.extensions.connection is pgpool.extensions.connection
    assert pg2._connect is pgpool._connect
    assert pg2.Error is pgpool.Error and pg2.Binary is pgpool.Binary
    import pgpool.psycopg2.extras as x

    assert x is pgpool.extras


def test_install_as_psycopg2_registers_every_submodule():
    out = run_child(
        """
        import sys
        import pgpool
        pgpool.install_as_psycopg2()
        pgpool.install_as_psycopg2()  # idempotent
        import psycopg2
        import psycopg2.extensions, psycopg2.extras, psycopg2.errors
        import psycopg2.errorcodes, psycopg2.pool, psycopg2.sql, psycopg2.tz
        import psycopg2._json, psycopg2._range
        from psycopg2.extras import RealDictCursor, Json
        from psycopg2.tz import FixedOffsetTimezone
        from psycopg2 import sql, extensions as ext
        assert psycopg2 is pgpool.psycopg2
        for name in ("extensions", "extras", "errors", "errorcodes", "pool", "sql",
                     "tz"):
            assert sys.modules["psycopg2." + name] is getattr(pgpool, name), name
            assert getattr(psycopg2, name) is getattr(pgpool, name), name
        assert ext.connection is pgpool.Connection
        assert ext.cursor is pgpool.Cursor
        assert RealDictCursor is pgpool.extras.RealDictCursor
        assert psycopg2._json.Json is Json is pgpool.extras.Json
        assert psycopg2._range.NumericRange is pgpool.extras.NumericRange
        assert psycopg2.errors.UniqueViolation is pgpool.errors.UniqueViolation
        assert psycopg2.pool.ThreadedConnectionPool is pgpool.pool.ThreadedConnectionPool
        assert psycopg2.__version__.startswith("2.9.10 (")
        assert pgpool.__version__ == pgpool._pgpool.__version__
        print("ok")
        """
    )
    assert out.strip() == "ok"


def test_libraries_version_checks_accept_it():
    """How SQLAlchemy and Django read psycopg2's version."""
    import pgpool.psycopg2 as pg2

    # SQLAlchemy's psycopg2 dialect (_psycopg2_version): at least 2.7
    m = re.match(r"(\d+)\.(\d+)(?:\.(\d+))?", pg2.__version__)
    assert m is not None
    assert tuple(int(x) for x in m.group(1, 2, 3) if x is not None) >= (2, 7)
    # Django's backend: psycopg2.__version__.split(" ", 1)[0] >= 2.8.4
    version = tuple(int(x) for x in pg2.__version__.split(" ", 1)[0].split("."))
    assert version >= (2, 8, 4)


def test_sqlalchemy_psycopg2_dialect_accepts_the_facade(direct_dsn):
    pytest.importorskip("sqlalchemy")
    out = run_child(
        """
        import os
        import pgpool
        pgpool.install_as_psycopg2()
        import sqlalchemy as sa
        url = os.environ["DSN"].replace("postgresql://", "postgresql+psycopg2://", 1)
        engine = sa.create_engine(url, use_native_hstore=False)
        assert engine.dialect.psycopg2_version >= (2, 9), engine.dialect.psycopg2_version
        import psycopg2
        assert engine.dialect.dbapi is psycopg2
        with engine.connect() as c:
            print(c.execute(sa.text("SELECT 41 + 1")).scalar())
        """,
        direct_dsn,
    )
    assert out.strip() == "42"


def test_psycopg2_connect_through_the_facade(dsn):
    out = run_child(
        """
        import os
        import pgpool
        pgpool.install_as_psycopg2()
        import psycopg2
        conn = psycopg2.connect(os.environ["DSN"])
        assert isinstance(conn, pgpool.Connection)
        with conn.cursor() as cur:
            cur.execute("SELECT %s::int * 2", (21,))
            print(cur.fetchone()[0])
        conn.close()
        """,
        dsn,
    )
    assert out.strip() == "42"


@pytest.mark.parametrize(
    "offset,name",
    [
        (None, None),
        (0, None),
        (330, None),
        (-90, None),
        (60, "CET"),
        (-5 * 60, None),
        (15.5, None),
    ],
)
def test_tz_fixed_offset_as_psycopg2(offset, name):
    import datetime
    import pickle

    import psycopg2.tz

    import pgpool.tz

    mine = pgpool.tz.FixedOffsetTimezone(offset, name)
    theirs = psycopg2.tz.FixedOffsetTimezone(offset, name)
    dt = datetime.datetime(2024, 6, 1, 12)
    assert mine.utcoffset(dt) == theirs.utcoffset(dt)
    assert mine.tzname(dt) == theirs.tzname(dt)
    assert mine.dst(dt) == theirs.dst(dt)
    assert repr(mine) == repr(theirs)
    assert mine is pgpool.tz.FixedOffsetTimezone(offset, name)  # cached
    assert mine == pgpool.tz.FixedOffsetTimezone(offset, "other name")
    again = pickle.loads(pickle.dumps(mine))
    assert again == mine and again.tzname(dt) == mine.tzname(dt)
    assert dt.replace(tzinfo=mine).isoformat() == dt.replace(tzinfo=theirs).isoformat()


def test_tz_timedelta_offsets_and_local():
    import datetime

    import psycopg2.tz

    import pgpool.tz

    for secs in (0, 3600, -3600 - 30 * 60, 5 * 3600 + 45 * 60 + 10):
        td = datetime.timedelta(seconds=secs)
        assert pgpool.tz.FixedOffsetTimezone(td).tzname(None) == (
            psycopg2.tz.FixedOffsetTimezone(td).tzname(None)
        )
    for dt in (datetime.datetime(2024, 1, 15, 3), datetime.datetime(2024, 7, 15, 3)):
        assert pgpool.tz.LOCAL.utcoffset(dt) == psycopg2.tz.LOCAL.utcoffset(dt)
        assert pgpool.tz.LOCAL.tzname(dt) == psycopg2.tz.LOCAL.tzname(dt)
        assert pgpool.tz.LOCAL.dst(dt) == psycopg2.tz.LOCAL.dst(dt)
    assert pgpool.tz.ZERO == psycopg2.tz.ZERO
    assert pgpool.tz.STDOFFSET == psycopg2.tz.STDOFFSET
