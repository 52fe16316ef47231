"""pgpool.Pool: checkout and return, limits, errors, stats, session hygiene
."""

from __future__ import annotations

import threading
import time

import pytest

import pgpool
import pgpool.extensions


def test_getconn_putconn(pool):
    conn = pool.getconn()
    assert isinstance(conn, pgpool.Connection)
    with conn.cursor() as cur:
        cur.execute("SELECT 1")
        assert cur.fetchone() == (1,)
    s = pool.stats()
    assert s["in_use"] == 1
    pool.putconn(conn)
    s = pool.stats()
    assert s["in_use"] == 0
    assert s["requests_num"] >= 1


def test_stats_fields(pool):
    with pool.cursor() as cur:
        cur.execute("SELECT 1")
    s = pool.stats()
    for key in (
        "pool_min", "pool_max", "pool_size", "pool_available", "in_use", "requests_waiting",
        "requests_num", "requests_queued", "requests_wait_ms", "requests_timeouts",
        "max_wait_ms", "usage_ms", "connections_num", "connections_errors",
        "connections_lost", "returns_bad", "recycled_lifetime", "recycled_idle",
        "utilization",
    ):  # fmt: skip
        assert key in s, key
    assert s["pool_min"] == 1 and s["pool_max"] == 4
    assert s["connections_num"] >= 1
    assert s["utilization"] == 0
    conn = pool.getconn()
    assert pool.stats()["utilization"] == pytest.approx(0.25)
    pool.putconn(conn)


def test_timeout_when_exhausted(dsn):
    with pgpool.Pool(dsn, min_size=0, max_size=1, timeout=0.3) as p:
        held = p.getconn()
        started = time.monotonic()
        with pytest.raises(pgpool.PoolTimeout) as info:
            p.getconn()
        waited = time.monotonic() - started
        assert 0.25 <= waited < 3
        assert "couldn't get a connection after 0.30 sec" in str(info.value)
        assert isinstance(info.value, pgpool.PoolError)
        with pytest.raises(pgpool.PoolTimeout):
            p.getconn(timeout=0.05)
        assert p.stats()["requests_timeouts"] == 2
        p.putconn(held)
        p.putconn(p.getconn(timeout=1))


def test_waiters_are_served_when_a_connection_returns(dsn):
    with pgpool.Pool(dsn, min_size=1, max_size=1, timeout=10) as p:
        held = p.getconn()
        got = []

        def waiter():
            c = p.getconn()
            got.append(c)
            p.putconn(c)

        t = threading.Thread(target=waiter)
        t.start()
        time.sleep(0.2)
        assert p.stats()["requests_waiting"] == 1
        p.putconn(held)
        t.join(5)
        assert len(got) == 1
        assert p.stats()["requests_queued"] >= 1


def test_max_waiting(dsn):
    with pgpool.Pool(dsn, min_size=0, max_size=1, timeout=5, max_waiting=1) as p:
        held = p.getconn()
        t = threading.Thread(target=lambda: p.putconn(p.getconn()))
        t.start()
        deadline = time.monotonic() + 3
        while p.stats()["requests_waiting"] < 1 and time.monotonic() < deadline:
            time.sleep(0.01)
        with pytest.raises(pgpool.TooManyRequests):
            p.getconn()
        p.putconn(held)
        t.join(5)


def test_closed_pool(dsn):
    p = pgpool.Pool(dsn, min_size=1, max_size=2)
    conn = p.getconn()
    p.close()
    assert p.closed
    with pytest.raises(pgpool.PoolClosed):
        p.getconn()
    with pytest.raises(pgpool.PoolClosed):
        with p.cursor():
            pass
    p.putconn(conn)  # returning to a closed pool just closes it
    p.close()  # idempotent


def test_context_manager_closes(dsn):
    with pgpool.Pool(dsn, min_size=1) as p:
        with p.cursor() as cur:
            cur.execute("SELECT 1")
    assert p.closed


def test_foreign_and_double_return(dsn, pool):
    conn = pool.getconn()
    pool.putconn(conn)
    with pytest.raises(pgpool.Error):
        pool.putconn(conn)  # already returned
    with pgpool.Pool(dsn, min_size=0, max_size=1) as other:
        foreign = other.getconn()
        with pytest.raises(pgpool.Error):
            pool.putconn(foreign)
        other.putconn(foreign)
    unpooled = pgpool.connect(dsn)
    with pytest.raises(pgpool.Error):
        pool.putconn(unpooled)
    unpooled.close()
    # the pool is unharmed
    assert pool.stats()["in_use"] == 0
    with pool.cursor() as cur:
        cur.execute("SELECT 2")
        assert cur.fetchone() == (2,)


def test_return_in_transaction_rolls_back(pool, admin, table):
    conn = pool.getconn()
    with conn.cursor() as cur:
        cur.execute(f"INSERT INTO {table} (val) VALUES (1)")
    pool.putconn(conn)
    with admin.cursor() as cur:
        cur.execute(f"SELECT count(*) FROM {table}")
        assert cur.fetchone() == (0,)
    conn2 = pool.getconn()
    assert conn2.info.transaction_status == pgpool.extensions.TRANSACTION_STATUS_IDLE
    pool.putconn(conn2)


def test_return_after_error_is_clean(pool):
    conn = pool.getconn()
    with conn.cursor() as cur:
        with pytest.raises(pgpool.DataError):
            cur.execute("SELECT 1/0")
    pool.putconn(conn)
    with pool.cursor() as cur:
        cur.execute("SELECT 1")
        assert cur.fetchone() == (1,)


def test_putconn_close_discards(dsn):
    with pgpool.Pool(dsn, min_size=0, max_size=1) as p:
        conn = p.getconn()
        pid = conn.get_backend_pid()
        p.putconn(conn, close=True)
        assert conn.closed
        conn = p.getconn()
        assert conn.get_backend_pid() != pid
        p.putconn(conn)
        assert p.stats()["connections_num"] == 2


def test_connection_attributes_reset_between_users(dsn):
    with pgpool.Pool(dsn, min_size=1, max_size=1) as p:
        conn = p.getconn()
        conn.autocommit = True
        conn.readonly = True
        conn.isolation_level = "SERIALIZABLE"
        p.putconn(conn)
        conn = p.getconn()
        assert conn.autocommit is False
        assert conn.readonly is None
        assert conn.isolation_level is None
        with conn.cursor() as cur:
            cur.execute("SHOW transaction_isolation")
            assert cur.fetchone() == ("read committed",)
        p.putconn(conn)


def test_session_state_does_not_leak(direct_dsn):
    """SET, temp tables, prepared statements, LISTEN and advisory locks are reset
    when a connection returns (direct: PgBouncer has its own session rules)."""
    with pgpool.Pool(direct_dsn, min_size=1, max_size=1) as p:
        conn = p.getconn()
        pid = conn.get_backend_pid()
        conn.autocommit = True
        with conn.cursor() as cur:
            cur.execute("SET search_path TO pg_catalog")
            cur.execute("SET statement_timeout TO '1234ms'")
            cur.execute("SET application_name TO 'leaky'")
            cur.execute("CREATE TEMP TABLE leak_tmp (x int)")
            cur.execute("PREPARE leak_stmt AS SELECT 1")
            cur.execute("LISTEN leak_channel")
            cur.execute("SELECT pg_advisory_lock(4242)")
        p.putconn(conn)

        conn = p.getconn()
        assert conn.get_backend_pid() == pid  # the same server session, reset
        with conn.cursor() as cur:
            cur.execute("SHOW search_path")
            assert cur.fetchone()[0] != "pg_catalog"
            cur.execute("SHOW statement_timeout")
            assert cur.fetchone() == ("0",)
            cur.execute("SHOW application_name")
            assert cur.fetchone()[0] != "leaky"
            cur.execute(
                "SELECT count(*) FROM pg_class WHERE relname = 'leak_tmp' AND relpersistence = 't'"
            )
            assert cur.fetchone() == (0,)
            cur.execute(
                "SELECT count(*) FROM pg_prepared_statements WHERE name = 'leak_stmt'"
            )
            assert cur.fetchone() == (0,)
            cur.execute("SELECT count(*) FROM pg_listening_channels()")
            assert cur.fetchone() == (0,)
            cur.execute(
                "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND pid = pg_backend_pid()"
            )
            assert cur.fetchone() == (0,)
        p.putconn(conn)


def test_killed_backend_raises_once_then_recovers(direct_dsn, admin):
    with pgpool.Pool(direct_dsn, min_size=1, max_size=1, pre_ping=False) as p:
        conn = p.getconn()
        pid = conn.get_backend_pid()
        p.putconn(conn)
        with admin.cursor() as cur:
            cur.execute("SELECT pg_terminate_backend(%s)", (pid,))
        time.sleep(0.2)
        conn = p.getconn()
        assert conn.get_backend_pid() == pid  # no pre-ping: the dead one comes back
        with conn.cursor() as cur:
            with pytest.raises(pgpool.OperationalError):
                cur.execute("SELECT 1")
        p.putconn(conn)
        with p.cursor() as cur:
            cur.execute("SELECT pg_backend_pid()")
            assert cur.fetchone()[0] != pid
        s = p.stats()
        assert s["connections_lost"] + s["returns_bad"] >= 1
        assert s["connections_num"] == 2


def test_pre_ping_hides_killed_backend(direct_dsn, admin):
    with pgpool.Pool(direct_dsn, min_size=1, max_size=1, pre_ping=True) as p:
        conn = p.getconn()
        pid = conn.get_backend_pid()
        p.putconn(conn)
        with admin.cursor() as cur:
            cur.execute("SELECT pg_terminate_backend(%s)", (pid,))
        time.sleep(0.8)  # idle longer than the pre-ping window
        with p.cursor() as cur:
            cur.execute("SELECT pg_backend_pid()")
            assert cur.fetchone()[0] != pid


def test_resize(pool):
    pool.resize(1, 2)
    s = pool.stats()
    assert (s["pool_min"], s["pool_max"]) == (1, 2)
    with pytest.raises((pgpool.ProgrammingError, ValueError)):
        pool.resize(3, 2)


def test_health_check(pool):
    h = pool.health_check()
    assert isinstance(h, dict)
    assert h
    assert any(v is True or v in ("ok", "healthy") for v in h.values())


def test_wait_for_min_size(dsn):
    with pgpool.Pool(dsn, min_size=2, max_size=3) as p:
        p.wait(5)
        assert p.stats()["pool_size"] >= 2


def test_database_down_fails_after_timeout():
    with pgpool.Pool(
        "host=127.0.0.1 port=1 connect_timeout=1", min_size=0, timeout=0.5
    ) as p:
        started = time.monotonic()
        with pytest.raises(pgpool.PoolTimeout) as info:
            p.getconn()
        assert time.monotonic() - started < 5
        assert (
            "last connection error" in str(info.value)
            or "connect" in str(info.value).lower()
        )


def test_bad_configuration_is_rejected(dsn):
    with pytest.raises(pgpool.ProgrammingError, match="max"):
        pgpool.Pool(dsn, min_size=5, max_size=2)
    with pytest.raises((pgpool.ProgrammingError, ValueError, OverflowError, TypeError)):
        pgpool.Pool(dsn, min_size=-1)


def test_repr_and_stats_never_show_password(dsn):
    with pgpool.Pool(dsn, password="hunter2-secret", min_size=0) as p:
        assert "hunter2-secret" not in repr(p)
        assert "hunter2-secret" not in str(p.stats())


def test_concurrent_checkouts_respect_max_size(dsn):
    with pgpool.Pool(dsn, min_size=0, max_size=3, timeout=20) as p:
        peak = []
        lock = threading.Lock()
        active = [0]

        def work():
            for _ in range(5):
                with p.cursor() as cur:
                    with lock:
                        active[0] += 1
                        peak.append(active[0])
                    cur.execute("SELECT pg_sleep(0.01)")
                    with lock:
                        active[0] -= 1

        threads = [threading.Thread(target=work) for _ in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert max(peak) <= 3
        assert p.stats()["pool_size"] <= 3
        assert p.stats()["requests_num"] >= 40


def test_oldest_wait_is_the_age_of_the_oldest_waiter_now(dsn, admin):
    """``oldest_wait_ms`` (PgBouncer's ``maxwait``) is how long the client waiting now has
    waited, and drops to 0 once nobody waits; ``max_wait_ms`` / ``wait_high_water_ms``
    keep the longest wait ever."""
    import threading
    import time

    with pgpool.Pool(dsn, min_size=0, max_size=1, name="waits") as p:
        assert p.stats()["oldest_wait_ms"] == 0
        held = p.getconn()
        got = threading.Event()

        def waiter():
            c = p.getconn(timeout=30)
            got.set()
            p.putconn(c)

        t = threading.Thread(target=waiter)
        t.start()
        deadline = time.monotonic() + 10
        while p.stats()["requests_waiting"] < 1 and time.monotonic() < deadline:
            time.sleep(0.005)
        assert p.stats()["requests_waiting"] == 1
        time.sleep(0.3)
        s = p.stats()
        assert s["oldest_wait_ms"] >= 300, s
        gauge = [
            line
            for line in p.prometheus().splitlines()
            if line.startswith('pgpool_oldest_wait_seconds{pool="waits"}')
        ]
        assert len(gauge) == 1 and float(gauge[0].split()[-1]) >= 0.3, gauge
        p.putconn(held)
        assert got.wait(10)
        t.join()
        s = p.stats()
        assert s["oldest_wait_ms"] == 0
        assert s["max_wait_ms"] >= 300
        assert s["wait_high_water_ms"] == s["max_wait_ms"]
        assert 'pgpool_oldest_wait_seconds{pool="waits"} 0\n' in p.prometheus()


def test_transaction_outcomes_and_hold_times_are_counted(direct_dsn, admin):
    """PgBouncer-grade counters (issue 18 item 3): transaction blocks by outcome
    (committed, rolled back — by the user, by a COMMIT of a failed transaction, by the
    pool at return), returns inside a transaction, broken returns, and the checkout-hold
    histogram beside the acquire-wait one (stats() and Prometheus)."""

    def delta(before, after, *keys):
        return tuple(after[k] - before[k] for k in keys)

    keys = (
        "xact_committed",
        "xact_rolled_back",
        "returns_in_transaction",
        "returns_bad",
        "returns_num",
    )
    with pgpool.Pool(direct_dsn, min_size=1, max_size=1, name="outcomes") as p:
        s0 = p.stats()
        assert s0["hold_buckets"][-1] == (float("inf"), s0["returns_num"])

        with p.connection() as c:  # the block commits
            c.cursor().execute("SELECT 1")
        s1 = p.stats()
        assert delta(s0, s1, *keys) == (1, 0, 0, 0, 1)

        c = p.getconn()
        cur = c.cursor()
        cur.execute("SELECT 1")
        cur.execute("SAVEPOINT a")
        cur.execute("ROLLBACK TO SAVEPOINT a")  # tag ROLLBACK, the block goes on
        c.rollback()
        cur.execute("SELECT 1")
        with pytest.raises(pgpool.DataError):
            cur.execute("SELECT 1/0")
        c.commit()  # of a failed transaction: the server rolls it back
        cur.execute("SELECT 1")  # left open: the pool rolls it back at return
        p.putconn(c)
        s2 = p.stats()
        assert delta(s1, s2, *keys) == (0, 3, 1, 0, 1)

        c = p.getconn()
        c.autocommit = True
        cur = c.cursor()
        cur.execute("BEGIN")
        cur.execute("SELECT 1")
        cur.execute("COMMIT")  # a block ended in SQL counts the same
        cur.execute("SELECT 1")  # autocommit statements are no block
        cur.execute("COMMIT")  # nothing to commit: the server only warns
        time.sleep(0.12)
        p.putconn(c)
        s3 = p.stats()
        assert delta(s2, s3, *keys) == (1, 0, 0, 0, 1)
        holds = dict(s3["hold_buckets"])
        before = dict(s2["hold_buckets"])
        # The 120 ms hold is above the 100 ms bound and within the 500 ms one.
        assert holds[100.0] - before[100.0] == 0, (before, holds)
        assert holds[500.0] - before[500.0] == 1, (before, holds)
        assert s3["usage_ms"] - s2["usage_ms"] >= 100

        c = p.getconn()
        pid = c.get_backend_pid()
        admin.cursor().execute("SELECT pg_terminate_backend(%s)", (pid,))
        time.sleep(0.2)
        with pytest.raises(pgpool.OperationalError):
            c.cursor().execute("SELECT 1")
        p.putconn(c)
        s4 = p.stats()
        assert delta(s3, s4, *keys) == (0, 0, 0, 1, 1)

        text = p.prometheus()
        for line in (
            f'pgpool_xact_committed_total{{pool="outcomes"}} {s4["xact_committed"]}',
            f'pgpool_xact_rolled_back_total{{pool="outcomes"}} {s4["xact_rolled_back"]}',
            f'pgpool_returns_in_transaction_total{{pool="outcomes"}} {s4["returns_in_transaction"]}',
            f'pgpool_hold_seconds_count{{pool="outcomes"}} {s4["returns_num"]}',
            'pgpool_hold_seconds_bucket{pool="outcomes",le="0.5"}',
            "# TYPE pgpool_hold_seconds histogram",
        ):
            assert line in text, (line, text)
