"""Range types: ``NumericRange`` / ``DateRange`` / ``DateTimeRange`` /
``DateTimeTZRange`` as results and as parameters, and the ``Range`` API, against
psycopg2's on the same server."""

from __future__ import annotations

import datetime as dt
import decimal
import pickle
from typing import Any

import psycopg2
import psycopg2.extras
import pytest

import pgpool
from pgpool import extras

UTC = dt.timezone.utc


def outcomes(c: Any, x: Any) -> list[Any]:
    """Everything observable about ranges through connection ``c`` and module ``x``
    (pgpool.extras or psycopg2.extras), as comparable values."""
    out: list[Any] = []
    params = [
        x.NumericRange(1, 5),
        x.NumericRange(empty=True),
        x.NumericRange(None, 5, "(]"),
        x.NumericRange(decimal.Decimal("1.5"), None),
        x.NumericRange(-3, -1, "[]"),
        x.DateRange(dt.date(2020, 1, 1), dt.date(2020, 2, 1)),
        x.DateRange(empty=True),
        x.DateTimeRange(dt.datetime(2020, 1, 1), None),
        x.DateTimeTZRange(dt.datetime(2020, 1, 1, tzinfo=UTC), None, "[]"),
        x.Range(1, 2),
    ]
    with c.cursor() as cur:
        for r in params:
            try:
                out.append((repr(r), str(r), cur.mogrify("%s", (r,))))
            except Exception as e:  # noqa: BLE001 - compared between the two modules
                out.append((repr(r), type(e).__name__, str(e)))
        cur.execute(
            "SELECT '[1,5)'::int4range, 'empty'::int8range, '(,5.5]'::numrange,"
            " '[2020-01-01,2020-02-01)'::daterange, '[2020-01-01 00:00,)'::tsrange,"
            " '[2020-01-01 00:00+00,2021-01-01 00:00+00]'::tstzrange,"
            " ARRAY['[1,2)'::int4range, NULL], NULL::int4range, '[3,7]'::int4range"
        )
        out.append([(type(v).__name__, repr(v)) for v in cur.fetchone()])
        cur.execute(
            "SELECT %s = '[1,5)'::int4range, %s::int4range @> 3, %s, %s, %s::numrange",
            (
                x.NumericRange(1, 5),
                x.NumericRange(1, 5),
                x.DateRange(dt.date(2020, 1, 1), None, "[]"),
                x.DateTimeTZRange(empty=True),
                x.NumericRange(decimal.Decimal("0.5"), decimal.Decimal("2.25"), "()"),
            ),
        )
        out.append([repr(v) for v in cur.fetchone()])
    c.rollback()
    return out


def test_ranges_in_and_out_match_psycopg2(conn, pg2):
    mine, theirs = outcomes(conn, extras), outcomes(pg2, psycopg2.extras)
    assert mine == theirs
    assert mine[-2][0] == ("NumericRange", "NumericRange(1, 5, '[)')")


def api(x: Any) -> list[Any]:
    r = x.NumericRange(1, 5)
    empty = x.NumericRange(empty=True)
    out: list[Any] = [
        (3 in r, 5 in r, 1 in r, 0 in r, 3 in empty, 9 in x.NumericRange(1, None)),
        (bool(empty), bool(r), r.lower, r.upper, empty.lower, empty.upper),
        (r.lower_inc, r.upper_inc, r.lower_inf, r.upper_inf, r.isempty, empty.isempty),
        (empty.lower_inf, empty.upper_inf, x.Range().lower_inf, x.Range().upper_inf),
        (hash(r) == hash(x.NumericRange(1, 5)), r == x.NumericRange(1, 5), r != empty),
        (r == x.DateRange(1, 5), r == (1, 5), x.Range(1, 5) == r),
        (x.NumericRange(1, 5) < x.NumericRange(2, 3), x.NumericRange(None, 5) < r),
        (r <= r, r >= r, x.NumericRange(2, 3) > r, empty < r),
        repr(
            sorted(
                [
                    x.NumericRange(3, 4),
                    x.NumericRange(empty=True),
                    x.NumericRange(1, 2),
                    x.NumericRange(None, 2),
                    x.NumericRange(1, None),
                ]
            )
        ),
        pickle.loads(pickle.dumps(r)) == r,
        pickle.loads(pickle.dumps(x.DateRange(empty=True))) == x.DateRange(empty=True),
        (
            repr(x.Range()),
            str(x.Range()),
            str(empty),
            str(x.NumericRange(None, 5, "(]")),
        ),
    ]
    try:
        x.Range(1, 2, "<>")
    except ValueError as e:
        out.append(str(e))
    return out


def test_range_api_matches_psycopg2():
    assert api(extras) == api(psycopg2.extras)


@pytest.mark.parametrize(
    "cls", ["NumericRange", "DateRange", "DateTimeRange", "DateTimeTZRange"]
)
def test_range_classes_subclass_range(cls):
    assert issubclass(getattr(extras, cls), extras.Range)
    assert isinstance(getattr(extras, cls)(empty=True), extras.Range)


def test_range_of_a_subclass_round_trips(conn):
    with conn.cursor() as cur:
        r = extras.DateTimeTZRange(
            dt.datetime(2024, 1, 1, 12, tzinfo=UTC), dt.datetime(2024, 1, 2, tzinfo=UTC)
        )
        cur.execute("SELECT %s", (r,))
        got = cur.fetchone()[0]
        assert got == r and type(got) is extras.DateTimeTZRange
    conn.rollback()
    assert pgpool.extras.Range is extras.Range
