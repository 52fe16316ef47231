"""Pool metrics for OpenTelemetry, under its database client semantic conventions
(``db.client.connection.*``), when ``opentelemetry-api`` is installed (an optional
dependency: without it :func:`instrument` does nothing and returns ``None``).

    import pgpool.otel
    pgpool.otel.instrument()              # the default pool, the global MeterProvider
    pgpool.otel.instrument(pool, meter_provider=provider)

Instruments (attribute ``db.client.connection.pool.name``: the pool's ``name``,
``default`` when unnamed; a replica's figures are in ``prometheus()``):

================================================  ==================  =================
instrument                                        kind                from ``stats()``
================================================  ==================  =================
``db.client.connection.count`` (``state`` idle /  observable up-down  ``pool_available``,
used)                                                                 ``in_use``
``db.client.connection.idle.max``                 observable up-down  ``pool_max``
``db.client.connection.idle.min``                 observable up-down  ``pool_min``
``db.client.connection.max``                      observable up-down  ``pool_max``
``db.client.connection.pending_requests``         observable up-down  ``requests_waiting``
``db.client.connection.timeouts``                 observable counter  ``requests_timeouts``
``db.client.connection.create_time`` (s)          histogram           ``create_buckets``
``db.client.connection.wait_time`` (s)            histogram           ``wait_buckets``
``db.client.connection.use_time`` (s)             histogram           ``hold_buckets``
================================================  ==================  =================

The pool measures each connect, wait and hold in the core without calling Python; the
histograms are fed at each collection from the pool's own buckets: every event since the
last collection is recorded once, at the geometric middle of its pgpool bucket (bucket
placement exact, sums approximate). Recording costs ~6 us per event in the SDK, with the
GIL held, so above :data:`RECORD_CAP` events per collection the buckets are recorded in
proportion instead: the shape stays, the counts are then a sample. ``stats()`` and
``prometheus()`` always have the exact counts and sums.

Traces: ``opentelemetry-instrumentation-dbapi``'s ``instrument_connection`` /
``trace_integration(pgpool, "connect", "postgresql")`` and
``opentelemetry-instrumentation-psycopg2`` (after :func:`pgpool.install_as_psycopg2`)
work on pgpool connections as on psycopg2's (``tests/python/test_otel.py``).
"""

from __future__ import annotations

import math
import threading
import weakref
from typing import Any, Dict, Iterable, List, Optional, Tuple

from ._pgpool import Pool

__all__ = ["instrument", "Instrumentation"]

#: OpenTelemetry's semantic-convention attribute names.
POOL_NAME = "db.client.connection.pool.name"
STATE = "db.client.connection.state"
#: At most about this many histogram records per histogram, pool and collection (the
#: OpenTelemetry SDK takes ~6 us per record, with the GIL held).
RECORD_CAP = 2000
#: The explicit bucket boundaries (s) the conventions advise for the time histograms.
TIME_BOUNDARIES = (0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5, 10)


def _mid(lower_ms: float, upper_ms: float) -> float:
    """A bucket's representative value in seconds (geometric middle; the last,
    unbounded one: twice its lower bound)."""
    if math.isinf(upper_ms):
        return lower_ms * 2 / 1000
    if lower_ms <= 0:
        return upper_ms / 2 / 1000
    return math.sqrt(lower_ms * upper_ms) / 1000


class Instrumentation:
    """The instruments registered by :func:`instrument` for some pools; ``add(pool)``
    observes one more, ``close()`` stops observing (the pools are held weakly)."""

    def __init__(self, meter: Any, pools: Iterable[Pool]) -> None:
        self._lock = threading.Lock()
        self._pools: weakref.WeakSet[Pool] = weakref.WeakSet()
        # (pool name, histogram key) -> cumulative counts already recorded
        self._seen: Dict[Tuple[str, str], List[int]] = {}
        self._closed = False
        for p in pools:
            self.add(p)

        def obs(fn: Any) -> Any:
            def callback(options: Any) -> Any:
                from opentelemetry.metrics import Observation

                return [Observation(v, a) for v, a in fn()]

            return callback

        gauges = (
            ("db.client.connection.count", self._counts, "{connection}",
             "The number of connections that are currently in the state described by the state attribute."),
            ("db.client.connection.idle.max", lambda: self._each("pool_max"), "{connection}",
             "The maximum number of idle open connections allowed."),
            ("db.client.connection.idle.min", lambda: self._each("pool_min"), "{connection}",
             "The minimum number of idle open connections allowed."),
            ("db.client.connection.max", lambda: self._each("pool_max"), "{connection}",
             "The maximum number of open connections allowed."),
            ("db.client.connection.pending_requests", lambda: self._each("requests_waiting"),
             "{request}", "The number of current pending requests for an open connection."),
        )  # fmt: skip
        self._instruments = [
            meter.create_observable_up_down_counter(
                name, callbacks=[obs(fn)], unit=unit, description=desc
            )
            for name, fn, unit, desc in gauges
        ]
        self._instruments.append(
            meter.create_observable_counter(
                "db.client.connection.timeouts",
                callbacks=[obs(self._timeouts_and_histograms)],
                unit="{timeout}",
                description="The number of connection timeouts that have occurred trying to obtain a connection from the pool.",
            )
        )
        advice = {"explicit_bucket_boundaries_advisory": list(TIME_BOUNDARIES)}
        self._hist = {}
        for key, name, desc in (
            (
                "create_buckets",
                "db.client.connection.create_time",
                "The time it took to create a new connection.",
            ),
            (
                "wait_buckets",
                "db.client.connection.wait_time",
                "The time it took to obtain an open connection from the pool.",
            ),
            (
                "hold_buckets",
                "db.client.connection.use_time",
                "The time between borrowing a connection and returning it to the pool.",
            ),
        ):
            try:
                h = meter.create_histogram(name, unit="s", description=desc, **advice)
            except TypeError:  # an API without bucket advice
                h = meter.create_histogram(name, unit="s", description=desc)
            self._hist[key] = h

    def add(self, pool: Pool) -> None:
        """Observe ``pool`` too."""
        with self._lock:
            self._pools.add(pool)

    def close(self) -> None:
        """Observe nothing any more (the instruments report no more points)."""
        with self._lock:
            self._closed = True
            self._pools = weakref.WeakSet()

    # -- what the callbacks read ------------------------------------------------------

    def _stats(self) -> List[Tuple[str, Dict[str, Any]]]:
        with self._lock:
            pools = [] if self._closed else list(self._pools)
        out = []
        for p in pools:
            if p.closed:
                continue
            name = p.name or "default"
            out.append((name, dict(p.stats())))
        return out

    def _each(self, key: str) -> List[Tuple[float, Dict[str, str]]]:
        return [(s[key], {POOL_NAME: n}) for n, s in self._stats()]

    def _counts(self) -> List[Tuple[float, Dict[str, str]]]:
        out = []
        for n, s in self._stats():
            out.append((s["pool_available"], {POOL_NAME: n, STATE: "idle"}))
            out.append((s["in_use"], {POOL_NAME: n, STATE: "used"}))
        return out

    def _timeouts_and_histograms(self) -> List[Tuple[float, Dict[str, str]]]:
        out = []
        for n, s in self._stats():
            out.append((s["requests_timeouts"], {POOL_NAME: n}))
            self._feed(n, s)
        return out

    def _feed(self, name: str, s: Dict[str, Any]) -> None:
        """Records the events of each histogram since the last collection."""
        for key, hist in self._hist.items():
            buckets = s.get(key) or []
            counts = [int(c) for _, c in buckets]
            with self._lock:
                before = self._seen.get((name, key))
                self._seen[(name, key)] = counts
            if before is None or len(before) != len(counts) or counts[-1] < before[-1]:
                before = [0] * len(counts)  # first look (or a new pool of that name)
            new: List[Tuple[float, int]] = []  # (representative value, events)
            lower = 0.0
            prev_now = prev_before = 0
            for (upper, now_c), was_c in zip(buckets, before):
                n_new = (int(now_c) - prev_now) - (was_c - prev_before)
                prev_now, prev_before = int(now_c), was_c
                if n_new > 0:
                    new.append((_mid(lower, float(upper)), n_new))
                lower = float(upper)
            total = sum(n for _, n in new)
            # A record costs ~6 us with the SDK: above RECORD_CAP events per collection the
            # buckets are recorded in proportion (every non-empty one at least once).
            scale = min(1.0, RECORD_CAP / total) if total else 1.0
            attrs = {POOL_NAME: name}
            for v, n in new:
                for _ in range(max(1, round(n * scale))):
                    hist.record(v, attrs)


def instrument(
    pool: Optional[Pool] = None, *, meter_provider: Any = None
) -> Optional[Instrumentation]:
    """Registers the pool metrics (the module docstring) for ``pool`` (default: the
    module's default pool; ``add()`` more to the result), on
    ``meter_provider`` (default: OpenTelemetry's global one). ``None`` when
    ``opentelemetry-api`` is not installed: nothing is registered."""
    try:
        from opentelemetry import metrics
    except ImportError:
        return None
    if pool is None:
        from . import default_pool

        pool = default_pool()
    from . import __version__

    meter = (
        meter_provider.get_meter("pgpool", __version__)
        if meter_provider is not None
        else metrics.get_meter("pgpool", __version__)
    )
    return Instrumentation(meter, [pool])
