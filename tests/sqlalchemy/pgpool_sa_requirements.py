"""The requirements class of the ``postgresql+pgpool://`` runs of SQLAlchemy's test
suites (``--requirements pgpool_sa_requirements:Requirements``).

It starts from SQLAlchemy's own ``test.requirements.DefaultRequirements`` (which knows
PostgreSQL and its drivers; the sdist's ``test/`` package is on the path during the run)
and states what the pgpool dialect supports where that differs from the psycopg2
dialect it builds on. A requirement closed here only skips tests: the gate in
run_suites.py still counts every test that passes for psycopg2 and not for pgpool.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.testing import exclusions
from test.requirements import DefaultRequirements  # type: ignore[import-not-found]


class Requirements(DefaultRequirements):  # type: ignore[misc]
    @property
    def native_hstore(self) -> Any:
        # The dialect lets SQLAlchemy convert HSTORE values (psycopg2's dialect registers
        # psycopg2's hstore typecaster on every connection instead).
        return (
            exclusions.skip_if(
                lambda config: config.db.dialect.driver == "pgpool",
                "pgpool's dialect converts HSTORE in SQLAlchemy, not natively",
            )
            + super().native_hstore
        )
