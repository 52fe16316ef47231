"""Duration settings: one rule for every face.

- ``timeout`` (the pool's and every per-call one): 0 to 100 years; NaN, infinity, a
  negative number or anything longer raises ``ProgrammingError`` naming the setting —
  never a ``pyo3_runtime.PanicException`` (which ``except Exception`` does not catch).
- ``max_lifetime``, ``max_idle``, ``leak_threshold``, ``command_timeout``: ``0``, ``-1``,
  ``inf`` and anything longer than 100 years mean off; NaN and other negatives raise.
- The environment (``PGPOOL_*``) follows the same rules as the keyword arguments.
- A huge ``max_lifetime`` never makes the pool recycle its connections.
"""

from __future__ import annotations

import math
import subprocess
import sys
import textwrap
import time

import pytest

import pgpool

MAX_SECONDS = 3_155_760_000  # 100 years: the longest duration a setting takes
OFF_ABLE = ("max_lifetime", "max_idle", "leak_threshold", "command_timeout")
ENV_OF = {
    "max_lifetime": "PGPOOL_MAX_LIFETIME",
    "max_idle": "PGPOOL_MAX_IDLE",
    "leak_threshold": "PGPOOL_LEAK_THRESHOLD",
    "command_timeout": "PGPOOL_COMMAND_TIMEOUT",
}
BAD_TIMEOUTS = (
    1e300,
    float(sys.maxsize),
    9.3e18,
    MAX_SECONDS + 1.0,
    math.inf,
    math.nan,
    -1.0,
)


def _raises_config_error(setting: str, fn, *args, **kwargs) -> str:
    """Calls ``fn`` and checks it raised pgpool's ProgrammingError naming ``setting`` (an
    ordinary ``Exception``: a Rust panic would be a BaseException and fail here)."""
    try:
        fn(*args, **kwargs)
    except Exception as e:  # noqa: BLE001 - the point: it is an Exception
        assert isinstance(e, pgpool.ProgrammingError), f"{type(e).__name__}: {e}"
        assert setting in str(e), str(e)
        assert "panicked" not in str(e)
        return str(e)
    raise AssertionError(f"{fn.__name__}{args}{kwargs} did not raise")


def _entered(factory):
    """``with factory(**kw): pass`` (the sync context managers check out on enter)."""

    def enter(**kw):
        with factory(**kw):
            pass

    enter.__name__ = factory.__name__
    return enter


@pytest.mark.parametrize("value", BAD_TIMEOUTS, ids=repr)
def test_pool_timeout_out_of_range_is_a_clear_error(dsn: str, value: float) -> None:
    _raises_config_error("timeout", pgpool.Pool, dsn, min_size=0, timeout=value)


def test_pool_timeout_limits_are_accepted(dsn: str) -> None:
    for value in (0, 0.25, MAX_SECONDS):
        with pgpool.Pool(dsn, min_size=0, max_size=1, timeout=value) as p:
            assert p.config["timeout"] == value
            with p.cursor() as cur:
                cur.execute("SELECT 1")
                assert cur.fetchone() == (1,)


@pytest.mark.parametrize("value", BAD_TIMEOUTS, ids=repr)
def test_per_call_timeouts_out_of_range_are_clear_errors(
    dsn: str, value: float
) -> None:
    with pgpool.Pool(dsn, min_size=1, max_size=1, timeout=10) as p:
        _raises_config_error("timeout", p.getconn, timeout=value)
        _raises_config_error("timeout", _entered(p.connection), timeout=value)
        _raises_config_error("timeout", _entered(p.cursor), timeout=value)
        _raises_config_error("timeout", p.wait, value)
        _raises_config_error("timeout", p.connection_async, timeout=value)
        _raises_config_error("timeout", p.cursor_async, timeout=value)
        # Nothing was lost: the pool still works with the largest accepted timeout.
        with p.connection(timeout=MAX_SECONDS) as conn:
            with conn.cursor() as cur:
                cur.execute("SELECT 2")
                assert cur.fetchone() == (2,)
        p.wait(MAX_SECONDS)
        assert p.stats()["in_use"] == 0
        _raises_config_error("timeout", p.close, timeout=value)
        p.close(timeout=MAX_SECONDS)
        assert p.closed


@pytest.mark.parametrize("setting", OFF_ABLE)
def test_off_values_of_off_able_durations(dsn: str, setting: str) -> None:
    for value in (0, -1, -1.0, math.inf, 1e12, 1e300, float(sys.maxsize)):
        with pgpool.Pool(dsn, min_size=0, max_size=1, **{setting: value}) as p:
            assert p.config[setting] is None, (setting, value)
            with p.cursor() as cur:
                cur.execute("SELECT 1")
                assert cur.fetchone() == (1,)
    with pgpool.Pool(dsn, min_size=0, max_size=1, **{setting: MAX_SECONDS}) as p:
        assert p.config[setting] == MAX_SECONDS
        with p.cursor() as cur:
            cur.execute("SELECT 1")
    with pgpool.Pool(dsn, min_size=0, max_size=1, **{setting: 2.5}) as p:
        assert p.config[setting] == 2.5


@pytest.mark.parametrize("setting", OFF_ABLE)
@pytest.mark.parametrize("value", (math.nan, -3, -0.5, -1.5, -math.inf), ids=repr)
def test_nan_and_negative_off_able_durations_are_errors(
    dsn: str, setting: str, value: float
) -> None:
    _raises_config_error(setting, pgpool.Pool, dsn, min_size=0, **{setting: value})


@pytest.mark.parametrize("setting", OFF_ABLE)
def test_environment_follows_the_same_rules(
    clean_env: pytest.MonkeyPatch, dsn: str, setting: str
) -> None:
    var = ENV_OF[setting]
    for text in ("0", "-1", "inf", "Infinity", "1e12", "off"):
        clean_env.setenv(var, text)
        with pgpool.Pool(dsn, min_size=0, max_size=1) as p:
            assert p.config[setting] is None, (var, text)
    clean_env.setenv(var, str(MAX_SECONDS))
    with pgpool.Pool(dsn, min_size=0, max_size=1) as p:
        assert p.config[setting] == MAX_SECONDS
    for text in ("nan", "NaN", "-3", "-0.5", "-inf"):
        clean_env.setenv(var, text)
        _raises_config_error(var, pgpool.Pool, dsn, min_size=0)
    clean_env.delenv(var)
    for text in ("nan", "-3", "inf", "1e300", "9.3e18", str(sys.maxsize)):
        clean_env.setenv("PGPOOL_TIMEOUT", text)
        _raises_config_error("PGPOOL_TIMEOUT", pgpool.Pool, dsn, min_size=0)


def test_environment_rules_in_a_fresh_process(dsn: str) -> None:
    """The default pool, built from the environment alone, in a new interpreter."""
    script = textwrap.dedent(
        """
        import os, sys
        import pgpool
        try:
            with pgpool.get_cursor() as cur:
                cur.execute("SELECT 1")
                print("ok", pgpool.default_pool().config[sys.argv[1]])
        except pgpool.ProgrammingError as e:
            print("error", e)
        """
    )

    def run(var: str, value: str, setting: str) -> str:
        env = {"DATABASE_URL": dsn, "PATH": "/usr/bin:/bin", var: value}
        out = subprocess.run(
            [sys.executable, "-c", script, setting],
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert out.returncode == 0, out.stderr
        assert "panicked" not in out.stderr, out.stderr
        return out.stdout.strip()

    assert run("PGPOOL_COMMAND_TIMEOUT", "-1", "command_timeout") == "ok None"
    assert run("DB_POOL_RECYCLE", "-1", "max_lifetime") == "ok None"
    assert run("PGPOOL_MAX_LIFETIME", "inf", "max_lifetime") == "ok None"
    for var, setting in (
        ("PGPOOL_COMMAND_TIMEOUT", "command_timeout"),
        ("PGPOOL_MAX_IDLE", "max_idle"),
    ):
        for value in ("-3", "nan"):
            got = run(var, value, setting)
            assert got.startswith("error") and var in got, got
    got = run("PGPOOL_TIMEOUT", "1e300", "timeout")
    assert got.startswith("error") and "PGPOOL_TIMEOUT" in got, got


@pytest.mark.parametrize("lifetime", (1e12, float(sys.maxsize), MAX_SECONDS), ids=repr)
def test_huge_max_lifetime_does_not_recycle(dsn: str, lifetime: float) -> None:
    """Item 8: 1e12 s once wrapped around in the coarse clock and replaced every
    connection at each maintenance pass (43 connections in 3 s with min_size 2 in the
    issue; 77 here before the fix)."""
    with pgpool.Pool(
        dsn, min_size=2, max_size=4, max_lifetime=lifetime, timeout=10
    ) as p:
        p.wait(10)
        deadline = time.monotonic() + 3
        while time.monotonic() < deadline:
            with p.cursor() as cur:
                cur.execute("SELECT 1")
            time.sleep(0.05)
        s = p.stats()
        assert s["connections_num"] == 2, s
        assert s["recycled_lifetime"] == 0, s
