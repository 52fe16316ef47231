"""``psycopg2._range``: pgpool's range support under psycopg2's private module name."""

from __future__ import annotations

from pgpool.extras import (
    DateRange,
    DateTimeRange,
    DateTimeTZRange,
    NumericRange,
    Range,
    RangeAdapter,
    RangeCaster,
    register_range,
)

__all__ = [
    "DateRange",
    "DateTimeRange",
    "DateTimeTZRange",
    "NumericRange",
    "Range",
    "RangeAdapter",
    "RangeCaster",
    "register_range",
]
