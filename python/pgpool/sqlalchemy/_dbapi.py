"""The DB-API module SQLAlchemy's dialect sees for ``postgresql+pgpool://``.

It is :mod:`pgpool` itself (every name is looked up there), except for ``__version__``:
SQLAlchemy's psycopg2 dialect, which ours builds on, refuses a driver whose version is
below psycopg2 2.7 (2.0 in ``__init__``, 2.1 through ``minimum_dbapi_version``), and
pgpool's own version is 0.x. The version reported here is the psycopg2 release whose
behaviour pgpool reproduces, with pgpool's own after it.

Workaround until ``pgpool.psycopg2`` (a psycopg2-compatible facade with
psycopg2's version string) is available; then this module can be that facade.
"""

from __future__ import annotations

from typing import Any

import pgpool as _pgpool

#: psycopg2's version whose semantics pgpool follows (what SQLAlchemy checks), then
#: pgpool's own.
__version__ = f"2.9.10 (pgpool {_pgpool.__version__})"


def __getattr__(name: str) -> Any:
    return getattr(_pgpool, name)


def connect(*args: Any, **kwargs: Any) -> Any:
    """An unpooled :func:`pgpool.connect` (what the dialect uses when the engine is given
    another pool class, e.g. ``poolclass=NullPool``)."""
    return _pgpool.connect(*args, **kwargs)
