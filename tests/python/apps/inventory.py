"""A small service written for psycopg2: a ThreadedConnectionPool, a home-made
get_cursor() helper, dict rows, Json, execute_values, error handling by SQLSTATE class.

test_psycopg2_compat.py runs this file twice: as it is, and with only the import lines
between the markers changed from psycopg2 to pgpool.
"""

# ruff: noqa: I001  (the import block below must stay as it is)
import threading
from contextlib import contextmanager

# --- imports ---
from psycopg2 import IntegrityError, OperationalError, errors, extensions
from psycopg2.extras import Json, RealDictCursor, execute_values
from psycopg2.pool import PoolError, SimpleConnectionPool, ThreadedConnectionPool

# --- end imports ---

_pool = None
TABLE = "inventory"


def init_pool(dsn, minconn=1, maxconn=4, table="inventory"):
    global _pool, TABLE
    TABLE = table
    _pool = ThreadedConnectionPool(minconn, maxconn, dsn)
    return _pool


@contextmanager
def get_cursor(dict_rows=False):
    conn = _pool.getconn()
    try:
        cur = conn.cursor(cursor_factory=RealDictCursor if dict_rows else None)
        try:
            yield cur
            conn.commit()
        except Exception:
            conn.rollback()
            raise
        finally:
            cur.close()
    finally:
        _pool.putconn(conn)


def create_schema():
    with get_cursor() as cur:
        cur.execute(
            f"CREATE TABLE {TABLE} (id serial PRIMARY KEY, name text UNIQUE NOT NULL,"
            " qty int NOT NULL CHECK (qty >= 0), meta jsonb)"
        )


def drop_schema():
    with get_cursor() as cur:
        cur.execute(f"DROP TABLE IF EXISTS {TABLE}")


def add_item(name, qty, meta=None):
    try:
        with get_cursor() as cur:
            cur.execute(
                f"INSERT INTO {TABLE} (name, qty, meta) VALUES (%s, %s, %s) RETURNING id",
                (name, qty, Json(meta) if meta is not None else None),
            )
            return cur.fetchone()[0]
    except errors.UniqueViolation:
        return None


def add_items(rows):
    with get_cursor() as cur:
        got = execute_values(
            cur,
            f"INSERT INTO {TABLE} (name, qty) VALUES %s RETURNING name",
            rows,
            fetch=True,
        )
        return sorted(r[0] for r in got)


def get_item(name):
    with get_cursor(dict_rows=True) as cur:
        cur.execute(
            f"SELECT name, qty, meta FROM {TABLE} WHERE name = %(name)s", {"name": name}
        )
        row = cur.fetchone()
        return dict(row) if row else None


def list_items(min_qty=0):
    with get_cursor() as cur:
        cur.execute(
            f"SELECT name, qty FROM {TABLE} WHERE qty >= %s ORDER BY name", (min_qty,)
        )
        return cur.fetchall()


def take(name, n):
    """Take n units; False when there are not enough (the CHECK fails)."""
    try:
        with get_cursor() as cur:
            cur.execute(f"UPDATE {TABLE} SET qty = qty - %s WHERE name = %s", (n, name))
            return cur.rowcount == 1
    except IntegrityError as e:
        assert e.pgcode == "23514", e.pgcode
        return False


def bad_sql():
    try:
        with get_cursor() as cur:
            cur.execute(f"SELECT nonexistent FROM {TABLE}")
    except errors.UndefinedColumn as e:
        return ("UndefinedColumn", e.pgcode, e.diag.message_primary)


def status_after_error():
    conn = _pool.getconn()
    try:
        cur = conn.cursor()
        try:
            cur.execute("SELECT 1/0")
        except errors.DivisionByZero:
            pass
        status = conn.info.transaction_status
        conn.rollback()
        return status == extensions.TRANSACTION_STATUS_INERROR
    finally:
        _pool.putconn(conn)


def keyed_connections():
    a1 = _pool.getconn(key="a")
    a2 = _pool.getconn(key="a")
    b = _pool.getconn(key="b")
    same = a1 is a2 and a1 is not b
    _pool.putconn(a1, key="a")
    _pool.putconn(b)
    try:
        _pool.putconn(b)
        double = "no error"
    except PoolError as e:
        double = str(e)
    return same, double


def exhaust():
    held = [_pool.getconn() for _ in range(_pool.maxconn)]
    try:
        _pool.getconn()
        result = "got one"
    except PoolError as e:
        result = str(e)
    for c in held:
        _pool.putconn(c)
    return result


def concurrent_takes(name, threads=3, each=5):
    results = []
    lock = threading.Lock()

    def worker():
        for _ in range(each):
            ok = take(name, 1)
            with lock:
                results.append(ok)

    ts = [threading.Thread(target=worker) for _ in range(threads)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    return results.count(True), results.count(False)


def simple_pool(dsn):
    p = SimpleConnectionPool(1, 2, dsn)
    conn = p.getconn()
    with conn.cursor() as cur:
        cur.execute("SELECT %s || %s", ("a", "b"))
        value = cur.fetchone()[0]
    p.putconn(conn)
    p.closeall()
    try:
        p.getconn()
        after = "no error"
    except PoolError as e:
        after = str(e)
    return value, p.closed, after


def reachable(dsn):
    """A health probe: can a pool for this DSN hand out a working connection?"""
    try:
        p = ThreadedConnectionPool(0, 1, dsn)
    except OperationalError:
        return False
    try:
        conn = p.getconn()
    except OperationalError:
        p.closeall()
        return False
    p.putconn(conn)
    p.closeall()
    return True


def close():
    _pool.closeall()
    try:
        _pool.getconn()
        return "no error"
    except PoolError as e:
        return str(e)


def scenario(dsn, table):
    """Everything above, in order; returns the transcript."""
    out = []
    init_pool(dsn, 1, 3, table)
    try:
        create_schema()
        out.append(("add", add_item("apple", 10, {"color": "red", "tags": ["a", "b"]})))
        out.append(("add-dup", add_item("apple", 1)))
        out.append(("add-many", add_items([("pear", 3), ("plum", 0), ("kiwi", 7)])))
        out.append(("get", get_item("apple")))
        out.append(("get-missing", get_item("nope")))
        out.append(("list", list_items(1)))
        out.append(("take", take("pear", 2)))
        out.append(("take-too-many", take("pear", 5)))
        out.append(("bad-sql", bad_sql()))
        out.append(("inerror", status_after_error()))
        out.append(("keyed", keyed_connections()))
        out.append(("exhaust", exhaust()))
        out.append(("concurrent", concurrent_takes("apple")))
        out.append(("after", get_item("apple")))
        out.append(("simple", simple_pool(dsn)))
        drop_schema()
        out.append(("reachable", reachable("host=127.0.0.1 port=1 connect_timeout=1")))
    finally:
        out.append(("close", close()))
    return out
