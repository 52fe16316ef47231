"""Shared helpers: deep comparison of query results between pgpool and psycopg2."""

from __future__ import annotations

import datetime
import decimal
import math
import signal
from typing import Any


def same(a: Any, b: Any, path: str = "value") -> None:
    """Assert ``a`` (pgpool's) is what ``b`` (psycopg2's) is: same type, same value,
    down to the sign of zero, the scale of a Decimal and the offset of a tzinfo."""
    if b is None:
        assert a is None, f"{path}: {a!r} is not None"
        return
    if isinstance(b, memoryview):
        assert isinstance(a, memoryview), (
            f"{path}: {type(a).__name__} is not memoryview"
        )
        assert bytes(a) == bytes(b), f"{path}: bytes differ"
        return
    assert type(a) is type(b), (
        f"{path}: type {type(a).__name__} ({a!r}) != {type(b).__name__} ({b!r})"
    )
    if isinstance(b, float):
        if math.isnan(b):
            assert math.isnan(a), f"{path}: {a!r} is not NaN"
        else:
            assert a == b and math.copysign(1, a) == math.copysign(1, b), (
                f"{path}: {a!r} != {b!r}"
            )
    elif isinstance(b, decimal.Decimal):
        assert str(a) == str(b), f"{path}: Decimal {a!r} != {b!r}"
    elif isinstance(b, (datetime.datetime, datetime.time)):
        assert a == b, f"{path}: {a!r} != {b!r}"
        if b.tzinfo is None:
            assert a.tzinfo is None, f"{path}: {a!r} should be naive"
        else:
            ref = b if isinstance(b, datetime.datetime) else None
            assert a.tzinfo is not None, f"{path}: {a!r} should be aware"
            assert a.utcoffset() == b.utcoffset(), (
                f"{path}: offset {a.utcoffset()} != {b.utcoffset()} ({ref})"
            )
    elif isinstance(b, (list, tuple)):
        assert len(a) == len(b), f"{path}: length {len(a)} != {len(b)}: {a!r} vs {b!r}"
        for i, (x, y) in enumerate(zip(a, b)):
            same(x, y, f"{path}[{i}]")
    elif isinstance(b, dict):
        assert list(a) == list(b), f"{path}: keys {list(a)} != {list(b)}"
        for k in b:
            same(a[k], b[k], f"{path}[{k!r}]")
    else:
        assert a == b, f"{path}: {a!r} != {b!r}"


def fetch_both(conn: Any, pg2: Any, sql: str, params: Any = None) -> tuple[Any, Any]:
    """Run ``sql`` on both connections and return (pgpool rows, psycopg2 rows)."""
    with conn.cursor() as c1:
        c1.execute(sql, params)
        r1 = c1.fetchall()
    with pg2.cursor() as c2:
        c2.execute(sql, params)
        r2 = c2.fetchall()
    return r1, r2


def default_sigint_in_child() -> None:
    """`preexec_fn` for subprocesses that must react to SIGINT: an ignored SIGINT would
    survive exec and keep Python from installing its handler."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def run_both(conn: Any, pg2: Any, script: Any) -> list[Any]:
    """``script(connection, module)`` on pgpool's connection, then on psycopg2's, each
    between rollbacks: [pgpool's outcome, psycopg2's]."""
    import psycopg2

    import pgpool

    out = []
    for c, mod in ((conn, pgpool), (pg2, psycopg2)):
        c.rollback()
        out.append(script(c, mod))
        c.rollback()
    return out
