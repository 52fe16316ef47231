"""The README's "Metrics and health endpoints" Flask app, run as written (the code block is
read from README.md) with Flask's test client: seed 001's ``/health`` and
``/admin/pool-stats`` next to ``/metrics``, whose text must parse with prometheus_client's
parser and agree with ``pgpool.stats()``. Also: ``/health`` answers 503 when the database
is unreachable, and a named pool's samples carry its name."""

from __future__ import annotations

import pathlib
import re
import socket
from typing import Any, Dict, Iterator

import pytest

import pgpool

flask = pytest.importorskip("flask")
parser = pytest.importorskip("prometheus_client.parser")

README = pathlib.Path(__file__).resolve().parents[2] / "README.md"


def readme_flask_source() -> str:
    text = README.read_text(encoding="utf-8")
    section = text.split("### Metrics and health endpoints", 1)[1].split("\n### ", 1)[0]
    blocks = re.findall(r"```python\n(.*?)```", section, flags=re.S)
    flask_blocks = [b for b in blocks if "from flask import" in b]
    assert flask_blocks, (
        "no Flask example in README's Metrics and health endpoints section"
    )
    return flask_blocks[0]


@pytest.fixture
def app(clean_env: pytest.MonkeyPatch, direct_dsn: str) -> Iterator[Any]:
    """The README's app, on the default pool configured from DATABASE_URL."""
    clean_env.setenv("DATABASE_URL", direct_dsn)
    clean_env.setenv("PGPOOL_MIN_SIZE", "1")
    clean_env.setenv("PGPOOL_MAX_SIZE", "4")
    ns: Dict[str, Any] = {"__name__": "readme_metrics_app"}
    exec(compile(readme_flask_source(), str(README), "exec"), ns)
    application = ns["app"]
    application.config["TESTING"] = True
    yield application
    pgpool.close_pool()


def families(text: str) -> Dict[str, Any]:
    return {f.name: f for f in parser.text_string_to_metric_families(text)}


def sample(fams: Dict[str, Any], family: str, name: str, **labels: str) -> float:
    for s in fams[family].samples:
        if s.name == name and all(s.labels.get(k) == v for k, v in labels.items()):
            return float(s.value)
    raise AssertionError(f"no sample {name}{labels} in family {family}")


def test_the_three_routes(app: Any) -> None:
    client = app.test_client()

    r = client.get("/health")
    assert r.status_code == 200
    h = r.get_json()
    assert h["ok"] is True and h["error"] is None
    assert h["latency_ms"] >= 0
    assert h["stats"]["pool_max"] == 4

    # Some traffic, so the counters move.
    for _ in range(3):
        with pgpool.get_cursor() as cur:
            cur.execute("SELECT 1")

    r = client.get("/admin/pool-stats")
    assert r.status_code == 200
    st = r.get_json()
    for key in ("pool_size", "pool_max", "in_use", "requests_waiting", "requests_num"):
        assert key in st, key
    # seed 001's names
    assert st["postgres_waiting"] == 0
    assert 0 <= st["postgres_utilization"] <= 100
    assert st["pool_max"] == 4

    r = client.get("/metrics")
    assert r.status_code == 200
    assert r.mimetype == "text/plain"
    assert "version=0.0.4" in r.headers["Content-Type"]
    text = r.get_data(as_text=True)
    fams = families(text)
    for name, kind in [
        ("pgpool_pool_size", "gauge"),
        ("pgpool_pool_idle", "gauge"),
        ("pgpool_pool_in_use", "gauge"),
        ("pgpool_requests_waiting", "gauge"),
        ("pgpool_requests", "counter"),
        ("pgpool_requests_timeouts", "counter"),
        ("pgpool_connections_created", "counter"),
        ("pgpool_connections_lost", "counter"),
        ("pgpool_acquire_wait_seconds", "histogram"),
    ]:
        assert name in fams, f"{name} missing from /metrics"
        assert fams[name].type == kind, (name, fams[name].type)
    now = pgpool.stats()
    assert sample(fams, "pgpool_pool_in_use", "pgpool_pool_in_use") == 0
    assert sample(fams, "pgpool_pool_max", "pgpool_pool_max") == 4
    # The health check and the three cursors at least.
    requests = sample(fams, "pgpool_requests", "pgpool_requests_total")
    assert 4 <= requests <= now["requests_num"]
    count = sample(
        fams, "pgpool_acquire_wait_seconds", "pgpool_acquire_wait_seconds_count"
    )
    inf = sample(
        fams,
        "pgpool_acquire_wait_seconds",
        "pgpool_acquire_wait_seconds_bucket",
        le="+Inf",
    )
    assert count == inf and count >= 4
    assert (
        sample(fams, "pgpool_connections_created", "pgpool_connections_created_total")
        >= 1
    )
    labels = {s.labels.get("pool") for f in fams.values() for s in f.samples}
    assert labels == {"default"}


def test_health_is_503_when_the_database_is_unreachable(
    clean_env: pytest.MonkeyPatch, direct_dsn: str
) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    clean_env.setenv("DATABASE_URL", f"postgresql://postgres@127.0.0.1:{port}/postgres")
    clean_env.setenv("PGPOOL_MIN_SIZE", "0")
    clean_env.setenv("PGPOOL_TIMEOUT", "0.5")
    ns: Dict[str, Any] = {"__name__": "readme_metrics_app_down"}
    exec(compile(readme_flask_source(), str(README), "exec"), ns)
    client = ns["app"].test_client()
    try:
        r = client.get("/health")
        assert r.status_code == 503
        h = r.get_json()
        assert h["ok"] is False and h["error"]
        # The metrics still answer, and count the failed checkout.
        fams = families(client.get("/metrics").get_data(as_text=True))
        assert sample(fams, "pgpool_pool_size", "pgpool_pool_size") == 0
        assert (
            sample(fams, "pgpool_requests_timeouts", "pgpool_requests_timeouts_total")
            >= 1
        )
    finally:
        pgpool.close_pool()


def test_a_named_pool_labels_its_samples(direct_dsn: str) -> None:
    with pgpool.Pool(direct_dsn, min_size=1, max_size=2, name="orders") as p:
        with p.cursor() as cur:
            cur.execute("SELECT 1")
        fams = families(p.prometheus())
    assert sample(fams, "pgpool_pool_max", "pgpool_pool_max", pool="orders") == 2
    assert sample(fams, "pgpool_requests", "pgpool_requests_total", pool="orders") >= 1
