"""``DatabaseWrapper`` of the ``pgpool.django`` backend.

What changes from Django's PostgreSQL backend, and nothing else:

- the driver is pgpool under psycopg2's names (``pgpool.install_as_psycopg2()``), and
  Django's backend is loaded in its psycopg2 mode even when psycopg 3 is installed (it
  prefers psycopg 3 when it can import it);
- ``get_new_connection`` checks a connection out of a :class:`pgpool.Pool` (made on
  first use for the alias's connection settings, per process) and ``close`` gives it
  back (rolled back and reset by the pool), so ``CONN_MAX_AGE`` keeps its meaning (how
  long a thread keeps its connection between requests) and ``CONN_MAX_AGE = 0`` costs a
  checkout, not a new server connection, per request; ``CONN_HEALTH_CHECKS`` too;
- ``OPTIONS["pool"]`` (``True`` or a dict, as Django 5.1's option for psycopg 3) gives
  the pool's settings: ``min_size``, ``max_size``, ``timeout``, ``max_lifetime``,
  ``max_idle``, ``max_waiting``, ``pre_ping``, ``leak_threshold``, ``name`` (the
  ``PGPOOL_*`` environment variables otherwise); ``persistent`` connections and a pool
  go together here;
- the session time zone Django wants is a startup option of the pool's connections
  (``-c TimeZone=...``), so that it survives the pool's reset and no ``SET TIME ZONE``
  is needed per checkout;
- the test database is created, cloned and dropped with the pools on it closed first
  (an idle pooled connection would keep ``DROP DATABASE`` from running).
"""

from __future__ import annotations

import importlib
import os
import threading
from typing import Any, Dict, Optional, Tuple

from django.core.exceptions import ImproperlyConfigured

import pgpool

pgpool.install_as_psycopg2()


def _import_psycopg2_mode() -> Any:
    """Django's PostgreSQL backend, in its psycopg2 mode (the package's import hook hides
    psycopg 3 from it); an error saying what to do when it was loaded with psycopg 3
    before this backend's package was imported."""
    from django.db.backends.postgresql import psycopg_any

    if psycopg_any.is_psycopg3:
        raise ImproperlyConfigured(
            "pgpool.django: Django's PostgreSQL backend was already loaded with psycopg 3 "
            "in this process (psycopg 3 is installed and Django prefers it); add "
            "'import pgpool.django' at the top of the settings module, before Django "
            "loads its apps (or uninstall psycopg 3); every PostgreSQL alias of the "
            "process then uses psycopg2's API"
        )
    return importlib.import_module("django.db.backends.postgresql.base")


_pg = _import_psycopg2_mode()
from django.db.backends.postgresql.creation import (  # noqa: E402
    DatabaseCreation as _PgCreation,
)

#: psycopg_pool's option names that pgpool's Pool takes too.
_POOL_OPTIONS = (
    "min_size",
    "max_size",
    "timeout",
    "max_lifetime",
    "max_idle",
    "max_waiting",
    "pre_ping",
    "leak_threshold",
    "name",
)

# (pid, frozen connection keywords, frozen pool options) -> pgpool.Pool
_pools: Dict[Tuple[Any, ...], pgpool.Pool] = {}
_pools_lock = threading.Lock()


def _freeze(d: Dict[str, Any]) -> Tuple[Tuple[str, str], ...]:
    return tuple(sorted((str(k), repr(v)) for k, v in d.items()))


def _pool_for(keywords: Dict[str, Any], options: Dict[str, Any]) -> pgpool.Pool:
    key = (os.getpid(), _freeze(keywords), _freeze(options))
    with _pools_lock:
        pool = _pools.get(key)
        if pool is None or pool.closed:
            try:
                pool = pgpool.Pool(**options, **keywords)
            except TypeError as exc:
                raise ImproperlyConfigured(f"pgpool.django: OPTIONS: {exc}") from exc
            _pools[key] = pool
        return pool


def close_pools(dbname: Optional[str] = None) -> None:
    """Closes this process's pools (those on database ``dbname`` only, when given)."""
    with _pools_lock:
        for key, pool in list(_pools.items()):
            kw = dict(key[1])
            if dbname is None or kw.get("dbname") == repr(dbname):
                del _pools[key]
                pool.close()


class _PooledDriver:
    """The driver module as Django's backend sees it (``self.Database``), with
    ``connect()`` checking a connection out of the wrapper's pool."""

    def __init__(self, wrapper: DatabaseWrapper) -> None:
        self._wrapper = wrapper

    def __getattr__(self, name: str) -> Any:
        return getattr(_pg.Database, name)

    def connect(self, **conn_params: Any) -> Any:
        return self._wrapper._checkout(conn_params)


class DatabaseCreation(_PgCreation):  # type: ignore[misc, valid-type]
    """Django's test database handling, with the pools on a database closed before it
    is dropped or used as a template."""

    def _destroy_test_db(self, test_database_name: str, verbosity: int) -> None:
        close_pools(test_database_name)
        super()._destroy_test_db(test_database_name, verbosity)

    def _clone_test_db(self, suffix: Any, verbosity: int, keepdb: bool = False) -> None:
        close_pools(self.connection.settings_dict["NAME"])
        super()._clone_test_db(suffix, verbosity, keepdb)

    def _execute_create_test_db(
        self, cursor: Any, parameters: Any, keepdb: bool = False
    ) -> None:
        close_pools(parameters["dbname"].strip('"'))
        super()._execute_create_test_db(cursor, parameters, keepdb)


_PgWrapper: Any = _pg.DatabaseWrapper


class DatabaseWrapper(_PgWrapper):  # type: ignore[misc]
    """Django's PostgreSQL ``DatabaseWrapper`` over pgpool's pool."""

    display_name = "PostgreSQL"  # Django words its messages with it
    settings_dict: Dict[str, Any]
    creation_class = DatabaseCreation

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.Database = _PooledDriver(self)
        self._pgpool_last: Optional[Tuple[Dict[str, Any], Dict[str, Any], int, Any]] = (
            None
        )

    # Django 5.1's psycopg 3 pool: not used here (pgpool's pool is).
    @property
    def pool(self) -> None:
        return None

    def close_pool(self) -> None:
        """Closes the pools of this alias's database (Django calls it when the time
        zone settings change: new connections must start with the new one)."""
        close_pools(self.settings_dict.get("NAME") or "postgres")

    def _pool_options(self) -> Dict[str, Any]:
        opts = self.settings_dict["OPTIONS"].get("pool")
        if opts in (None, False, True):
            return {}
        if not isinstance(opts, dict):
            raise ImproperlyConfigured(
                "pgpool.django: OPTIONS['pool'] must be True or a dict of pool settings"
            )
        unknown = sorted(set(opts) - set(_POOL_OPTIONS))
        if unknown:
            raise ImproperlyConfigured(
                f"pgpool.django: unknown pool option(s) {unknown}; known: {list(_POOL_OPTIONS)}"
            )
        return dict(opts)

    def get_connection_params(self) -> Dict[str, Any]:
        saved = self.settings_dict
        if "pool" not in saved["OPTIONS"]:
            return super().get_connection_params()  # type: ignore[no-any-return]
        options = {k: v for k, v in saved["OPTIONS"].items() if k != "pool"}
        # Django's backend refuses OPTIONS["pool"] with psycopg2: it is ours here.
        self.settings_dict = {**saved, "OPTIONS": options}
        try:
            return super().get_connection_params()  # type: ignore[no-any-return]
        finally:
            self.settings_dict = saved

    def _checkout(self, conn_params: Dict[str, Any]) -> Any:
        params = dict(conn_params)
        cursor_factory = params.pop("cursor_factory", None)
        tz = self.timezone_name
        if tz:
            opt = params.get("options") or ""
            params["options"] = f"{opt} -c TimeZone={tz}".strip()
        # The pool of these settings: remembered by the wrapper (a checkout per request
        # must not pay for finding it), looked up again when the settings, the process
        # or the pool changed.
        options = self._pool_options()
        last = self._pgpool_last
        if (
            last is not None
            and last[0] == params
            and last[1] == options
            and last[2] == os.getpid()
            and not last[3].closed
        ):
            pool = last[3]
        else:
            pool = _pool_for(params, options)
            self._pgpool_last = (params, options, os.getpid(), pool)
        conn = pool.getconn()
        if cursor_factory is not None:
            conn.cursor_factory = cursor_factory
        return conn

    def _close(self) -> None:
        if self.connection is None:
            return
        pool = getattr(self.connection, "pgpool_pool", None)
        with self.wrap_database_errors:
            if pool is not None and not pool.closed:
                pool.putconn(self.connection)
            else:
                self.connection.close()
