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
