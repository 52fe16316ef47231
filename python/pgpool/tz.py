"""``psycopg2.tz``: the tzinfo classes psycopg2 offers.

``FixedOffsetTimezone(offset, name)`` is a fixed offset east of UTC (minutes or a
``timedelta``); instances with the same arguments are the same object, and they compare
equal when their offsets are. ``LocalTimezone`` (``LOCAL``) is the platform's local
time zone. Timestamps with a time zone decode into ``datetime.timezone`` objects, as in
psycopg2 2.9; ``cursor.tzinfo_factory = FixedOffsetTimezone`` asks for these instead.
"""

from __future__ import annotations

import datetime
import time
from typing import Any, ClassVar, Dict, Optional, Tuple, Union

__all__ = [
    "ZERO",
    "STDOFFSET",
    "DSTOFFSET",
    "DSTDIFF",
    "FixedOffsetTimezone",
    "LocalTimezone",
    "LOCAL",
]

ZERO = datetime.timedelta(0)


class FixedOffsetTimezone(datetime.tzinfo):
    """A fixed offset from UTC: ``offset`` minutes east (or a ``timedelta``), with an
    optional ``name`` (default ``+HH[:MM[:SS]]``). Instances are cached per
    ``(offset, name)``."""

    _name: Optional[str] = None
    _offset: datetime.timedelta = ZERO
    _cache: ClassVar[Dict[Tuple[Any, Any], FixedOffsetTimezone]] = {}

    def __new__(
        cls,
        offset: Union[None, int, float, datetime.timedelta] = None,
        name: Optional[str] = None,
    ) -> FixedOffsetTimezone:
        key = (offset, name)
        try:
            return cls._cache[key]
        except KeyError:
            tz = super().__new__(cls)
            cls._cache[key] = tz
            return tz

    def __init__(
        self,
        offset: Union[None, int, float, datetime.timedelta] = None,
        name: Optional[str] = None,
    ) -> None:
        if offset is not None:
            if not isinstance(offset, datetime.timedelta):
                offset = datetime.timedelta(minutes=offset)
            self._offset = offset
        if name is not None:
            self._name = name

    def __repr__(self) -> str:
        return (
            f"psycopg2.tz.FixedOffsetTimezone(offset={self._offset!r}, "
            f"name={self._name!r})"
        )

    def __eq__(self, other: object) -> bool:
        if isinstance(other, FixedOffsetTimezone):
            return self._offset == other._offset
        return NotImplemented

    def __ne__(self, other: object) -> bool:
        if isinstance(other, FixedOffsetTimezone):
            return self._offset != other._offset
        return NotImplemented

    def __hash__(self) -> int:
        return hash(self._offset)

    def __getinitargs__(self) -> Tuple[datetime.timedelta, Optional[str]]:
        return self._offset, self._name

    def __reduce__(self) -> Any:
        return (type(self), (self._offset, self._name))

    def utcoffset(self, dt: Optional[datetime.datetime]) -> datetime.timedelta:
        return self._offset

    def tzname(self, dt: Optional[datetime.datetime]) -> str:
        if self._name is not None:
            return self._name
        # Floor division, as psycopg2 (so -90 minutes is named "-02:30" there too).
        minutes, seconds = divmod(self._offset.total_seconds(), 60)
        hours, minutes = divmod(minutes, 60)
        text = f"{int(hours):+03d}"
        if minutes or seconds:
            text += f":{int(minutes):02d}"
            if seconds:
                text += f":{int(seconds):02d}"
        return text

    def dst(self, dt: Optional[datetime.datetime]) -> datetime.timedelta:
        return ZERO


STDOFFSET = datetime.timedelta(seconds=-time.timezone)
DSTOFFSET = datetime.timedelta(seconds=-time.altzone) if time.daylight else STDOFFSET
DSTDIFF = DSTOFFSET - STDOFFSET


class LocalTimezone(datetime.tzinfo):
    """The platform's local time zone (``time.timezone`` / ``time.altzone``)."""

    def _isdst(self, dt: Optional[datetime.datetime]) -> bool:
        if dt is None:
            return False
        fields = (dt.year, dt.month, dt.day, dt.hour, dt.minute, dt.second, 0, 0, -1)
        return time.localtime(time.mktime(fields)).tm_isdst > 0

    def utcoffset(self, dt: Optional[datetime.datetime]) -> datetime.timedelta:
        return DSTOFFSET if self._isdst(dt) else STDOFFSET

    def dst(self, dt: Optional[datetime.datetime]) -> datetime.timedelta:
        return DSTDIFF if self._isdst(dt) else ZERO

    def tzname(self, dt: Optional[datetime.datetime]) -> str:
        return time.tzname[self._isdst(dt)]


LOCAL = LocalTimezone()


def _with_factory(value: Any, cur: Any) -> Any:
    tz = getattr(value, "tzinfo", None)
    if tz is None:
        return value
    factory = cur.tzinfo_factory
    if factory is None:
        # psycopg2 with no factory: the wall-clock time as the server wrote it.
        return value.replace(tzinfo=None)
    return value.replace(tzinfo=factory(value.utcoffset()))


def _cast_timestamptz(value: Optional[str], cur: Any) -> Any:
    """timestamptz with ``cur.tzinfo_factory``'s tzinfo (psycopg2 calls the factory with
    the value's UTC offset); the binding uses it when the factory is not
    ``datetime.timezone``."""
    if value is None:
        return None
    from pgpool._pgpool import _cast

    return _with_factory(_cast(1184, value), cur)


def _cast_timetz(value: Optional[str], cur: Any) -> Any:
    """timetz with ``cur.tzinfo_factory``'s tzinfo (see :func:`_cast_timestamptz`)."""
    if value is None:
        return None
    from pgpool._pgpool import _cast

    return _with_factory(_cast(1266, value), cur)


def _apply_factory(value: Any, cur: Any) -> Any:
    """``value`` (a timestamptz/timetz, or a list or range of them, as the builtin
    decoding made it) with ``cur.tzinfo_factory``'s tzinfo on every datetime."""
    if isinstance(value, list):
        return [_apply_factory(v, cur) for v in value]
    if isinstance(value, (datetime.datetime, datetime.time)):
        return _with_factory(value, cur)
    from .extras import Range

    if isinstance(value, Range) and not value.isempty:
        return type(value)(
            _apply_factory(value.lower, cur),
            _apply_factory(value.upper, cur),
            value._bounds or "[)",
        )
    return value


def _tz_caster(oid: int) -> Any:
    def cast(value: Optional[str], cur: Any) -> Any:
        if value is None:
            return None
        from pgpool._pgpool import _cast

        return _apply_factory(_cast(oid, value), cur)

    cast.__name__ = f"_cast_{oid}_with_tzinfo_factory"
    return cast


#: type oid -> the caster the binding uses for its columns when the cursor's
#: ``tzinfo_factory`` is not ``datetime.timezone``: timestamptz, timetz, their arrays,
#: tstzrange and its array.
_TZ_CASTERS = {
    1184: _cast_timestamptz,
    1266: _cast_timetz,
    1185: _tz_caster(1185),
    1270: _tz_caster(1270),
    3910: _tz_caster(3910),
    3911: _tz_caster(3911),
}
