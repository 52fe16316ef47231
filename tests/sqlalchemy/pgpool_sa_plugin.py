"""A pytest plugin loaded (``-p pgpool_sa_plugin``) into SQLAlchemy's own test runs of
``postgresql+pgpool://`` by tests/sqlalchemy/run_suites.py.

SQLAlchemy's tests carry driver-specific expectations: ``fails_on("+psycopg2")``,
``only_on("postgresql+psycopg2")``, ``skip_if("+psycopg2 < 2.9")``... The pgpool
dialect *is* SQLAlchemy's psycopg2 dialect on a driver with psycopg2's semantics, so
every predicate naming ``+psycopg2`` also applies to ``+pgpool`` here — in both
directions: a test psycopg2 is expected to fail must fail for pgpool too (or it is an
"unexpected success", a failure), a psycopg2-only test runs for pgpool as well.
Nothing else is changed.
"""

from __future__ import annotations

from typing import Any

import pytest


@pytest.hookimpl(trylast=True)
def pytest_configure(config: pytest.Config) -> None:
    from sqlalchemy.testing import exclusions

    spec = exclusions.SpecPredicate
    if getattr(spec, "_pgpool_alias", False):
        return
    original = spec.__call__

    def __call__(self: Any, cfg: Any) -> bool:
        hit = original(self, cfg)
        if hit or cfg is None or "+psycopg2" not in self.db:
            return bool(hit)
        if cfg.db.driver != "pgpool":
            return bool(hit)
        alias = spec(
            self.db.replace("+psycopg2", "+pgpool"),
            self.op,
            self.spec,
            self.description,
        )
        return bool(original(alias, cfg))

    spec.__call__ = __call__  # type: ignore[method-assign]
    spec._pgpool_alias = True  # type: ignore[attr-defined]


def _pgpool_run(config: pytest.Config) -> bool:
    uris = config.getoption("dburi", None) or []
    if isinstance(uris, str):
        uris = [uris]
    return any("+pgpool" in u for u in uris)


@pytest.hookimpl(tryfirst=True)
def pytest_load_initial_conftests(
    early_config: pytest.Config, parser: Any, args: Any
) -> None:
    """Tests that reach for psycopg2's own modules (``from psycopg2 import extras``, then
    ``mock.patch.object(extras, "execute_batch")``) find pgpool's, which is what the
    dialect calls: pgpool installed as psycopg2 for the run, as its users do."""
    if any("+pgpool" in a for a in args):
        import pgpool

        pgpool.install_as_psycopg2()


def pytest_collection_modifyitems(config: pytest.Config, items: Any) -> None:
    """``ServerSideCursorsTest._is_server_side`` knows drivers by name ("a huge issue as
    it prevents these tests from being usable by third party dialects", says its TODO)
    and answers False for any other: for pgpool it asks what it asks psycopg2 (a named
    cursor) or, for the asyncio adapter, its ``server_side`` flag."""
    if not _pgpool_run(config):
        return
    for item in items:
        cls = getattr(item, "cls", None)
        if cls is None or "_is_server_side" not in dir(cls):
            continue
        if getattr(cls, "_pgpool_ss", False):
            continue
        original = cls._is_server_side

        def _is_server_side(self: Any, cursor: Any, _original: Any = original) -> bool:
            if self.engine.dialect.driver != "pgpool":
                return bool(_original(self, cursor))
            flag = getattr(cursor, "server_side", None)
            if flag is not None:
                return bool(flag)
            return bool(getattr(cursor, "name", None))

        cls._is_server_side = _is_server_side
        cls._pgpool_ss = True
