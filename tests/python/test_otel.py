"""OpenTelemetry (issue 18 item 6): the pool's metrics under the database client semantic
conventions, and the dbapi / psycopg2 instrumentations' traces on pgpool connections."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from typing import Any, Dict

import pytest

import pgpool

otel_sdk = pytest.importorskip("opentelemetry.sdk.metrics")


def _points(reader: Any) -> Dict[str, list]:
    out: Dict[str, list] = {}
    data = reader.get_metrics_data()
    for rm in data.resource_metrics if data else []:
        for sm in rm.scope_metrics:
            for m in sm.metrics:
                out.setdefault(m.name, []).extend(m.data.data_points)
    return out


def test_pool_metrics_follow_the_semantic_conventions(dsn):
    from opentelemetry.sdk.metrics import MeterProvider
    from opentelemetry.sdk.metrics.export import InMemoryMetricReader

    import pgpool.otel

    reader = InMemoryMetricReader()
    provider = MeterProvider(metric_readers=[reader])
    with pgpool.Pool(dsn, min_size=0, max_size=2, name="otel") as pool:
        inst = pgpool.otel.instrument(pool, meter_provider=provider)
        assert inst is not None
        with pool.cursor() as cur:
            cur.execute("SELECT 1")
        held = [pool.getconn(), pool.getconn()]
        with pytest.raises(pgpool.PoolTimeout):
            pool.getconn(timeout=0.05)
        pts = _points(reader)
        count = {
            p.attributes["db.client.connection.state"]: p.value
            for p in pts["db.client.connection.count"]
        }
        assert count == {"idle": 0, "used": 2}
        for p in pts["db.client.connection.count"]:
            assert p.attributes["db.client.connection.pool.name"] == "otel"
        assert [p.value for p in pts["db.client.connection.max"]] == [2]
        assert [p.value for p in pts["db.client.connection.idle.max"]] == [2]
        assert [p.value for p in pts["db.client.connection.idle.min"]] == [0]
        assert [p.value for p in pts["db.client.connection.pending_requests"]] == [0]
        assert [p.value for p in pts["db.client.connection.timeouts"]] == [1]
        for c in held:
            pool.putconn(c)
        s = pool.stats()
        pts = _points(reader)  # the histograms are fed at each collection
        hist = {
            name: pts[name][0]
            for name in (
                "db.client.connection.create_time",
                "db.client.connection.wait_time",
                "db.client.connection.use_time",
            )
        }
        assert (
            hist["db.client.connection.create_time"].count == s["connections_num"] == 2
        )
        assert hist["db.client.connection.wait_time"].count == s["requests_num"] == 4
        assert hist["db.client.connection.use_time"].count == s["returns_num"] == 3
        # The timed-out wait (50 ms) is in the (0.01, 0.05] bucket or above.
        w = hist["db.client.connection.wait_time"]
        assert list(w.explicit_bounds) == list(pgpool.otel.TIME_BOUNDARIES)
        assert sum(w.bucket_counts[3:]) >= 1
        # Nothing new: no new events recorded.
        pts = _points(reader)
        assert pts["db.client.connection.use_time"][0].count == 3
        inst.close()
        assert "db.client.connection.count" not in _points(reader) or not any(
            p.value for p in _points(reader)["db.client.connection.count"]
        )


def test_without_opentelemetry_instrument_does_nothing():
    code = textwrap.dedent(
        """
        import sys
        sys.modules["opentelemetry"] = None   # as if not installed
        import pgpool.otel
        assert pgpool.otel.instrument(pgpool.Pool("host=/nonexistent", min_size=0)) is None
        print("ok")
        """
    )
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert r.stdout.strip() == "ok", r.stderr


def test_dbapi_instrumentation_traces_pgpool_connections(dsn):
    pytest.importorskip("opentelemetry.instrumentation.dbapi")
    from opentelemetry.instrumentation import dbapi
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import (
        InMemorySpanExporter,
    )

    exporter = InMemorySpanExporter()
    tp = TracerProvider()
    tp.add_span_processor(SimpleSpanProcessor(exporter))
    conn = dbapi.instrument_connection(
        "test", pgpool.connect(dsn), database_system="postgresql", tracer_provider=tp
    )
    cur = conn.cursor()
    cur.execute("SELECT %s + 1", (41,))
    assert cur.fetchone()[0] == 42
    with pytest.raises(pgpool.errors.DivisionByZero):
        cur.execute("SELECT 1/0")
    conn.close()
    spans = exporter.get_finished_spans()
    assert [s.name for s in spans] == ["SELECT", "SELECT"], spans
    assert spans[0].attributes["db.system"] == "postgresql"
    assert spans[0].attributes["db.statement"] == "SELECT %s + 1"
    assert not spans[1].status.is_ok


def test_psycopg2_instrumentation_on_the_psycopg2_facade(dsn):
    """``Psycopg2Instrumentor`` patches ``psycopg2.connect``: after
    ``pgpool.install_as_psycopg2()`` that is pgpool's (in a process of its own: the
    facade replaces ``psycopg2`` for the whole process)."""
    pytest.importorskip("opentelemetry.instrumentation.psycopg2")
    code = textwrap.dedent(
        """
        import os, pgpool
        pgpool.install_as_psycopg2()
        from opentelemetry.instrumentation.psycopg2 import Psycopg2Instrumentor
        from opentelemetry.sdk.trace import TracerProvider
        from opentelemetry.sdk.trace.export import SimpleSpanProcessor
        from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
        exporter = InMemorySpanExporter()
        tp = TracerProvider()
        tp.add_span_processor(SimpleSpanProcessor(exporter))
        Psycopg2Instrumentor().instrument(tracer_provider=tp)
        import psycopg2
        conn = psycopg2.connect(os.environ["DSN"])
        assert type(conn).__module__.startswith("pgpool"), type(conn)
        cur = conn.cursor()
        cur.execute("SELECT %s", (7,))
        assert cur.fetchone()[0] == 7
        conn.close()
        spans = exporter.get_finished_spans()
        print([s.name for s in spans], spans[0].attributes.get("db.system"))
        """
    )
    r = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        env={**os.environ, "DSN": dsn},
        timeout=60,
    )
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == "['SELECT'] postgresql", r.stdout


def test_histograms_are_recorded_in_proportion_above_the_cap(dsn, monkeypatch):
    """Above RECORD_CAP events per collection the buckets are sampled in proportion
    (every non-empty one at least once), so that a busy pool's collection stays cheap."""
    from opentelemetry.sdk.metrics import MeterProvider
    from opentelemetry.sdk.metrics.export import InMemoryMetricReader

    import pgpool.otel

    monkeypatch.setattr(pgpool.otel, "RECORD_CAP", 10)
    reader = InMemoryMetricReader()
    provider = MeterProvider(metric_readers=[reader])
    with pgpool.Pool(dsn, min_size=0, max_size=1, name="capped") as pool:
        pgpool.otel.instrument(pool, meter_provider=provider)
        for _ in range(200):
            pool.putconn(pool.getconn())
        _points(reader)  # the collection that records
        use = _points(reader)["db.client.connection.use_time"][0]
        assert 1 <= use.count <= 10 + len(use.bucket_counts), use.count
        assert pool.stats()["returns_num"] == 200  # pgpool's own count stays exact
