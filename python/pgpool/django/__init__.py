"""A Django database backend on pgpool: ``"ENGINE": "pgpool.django"``.

Django's own PostgreSQL backend (``django.db.backends.postgresql``) in its psycopg2
mode, with pgpool installed as psycopg2 and the connections taken from pgpool's pool
(one per database alias and connection settings, per process). See :mod:`.base` and
``docs/python.md`` ("Django").

Django's backend picks psycopg 3 when it can import it, once per process, when it is
first imported (``django.contrib.postgres`` imports it while the apps load). Importing
this package (cheap: it imports no Django module) makes that first import take the
psycopg2 mode; with psycopg 3 installed, do it at the top of the settings module::

    import pgpool.django  # noqa: F401  (before Django loads its apps)
"""

from __future__ import annotations

import importlib.abc
import importlib.machinery
import sys
from types import ModuleType
from typing import Any, Optional, Sequence

#: The modules of Django's backend that choose between psycopg 3 and psycopg2.
_CHOOSERS = (
    "django.db.backends.postgresql.psycopg_any",
    "django.db.backends.postgresql.base",
)


class _HidingPsycopg3(importlib.abc.Loader):
    """Runs a module with ``import psycopg`` failing (psycopg 3 hidden)."""

    def __init__(self, inner: Any) -> None:
        self._inner = inner

    def create_module(
        self, spec: importlib.machinery.ModuleSpec
    ) -> Optional[ModuleType]:
        return self._inner.create_module(spec)  # type: ignore[no-any-return]

    def exec_module(self, module: ModuleType) -> None:
        missing = object()
        saved = sys.modules.get("psycopg", missing)
        sys.modules["psycopg"] = None  # type: ignore[assignment]
        try:
            self._inner.exec_module(module)
        finally:
            if saved is missing:
                sys.modules.pop("psycopg", None)
            else:
                sys.modules["psycopg"] = saved  # type: ignore[assignment]


class _Psycopg2Mode(importlib.abc.MetaPathFinder):
    """Makes Django's backend load in its psycopg2 mode (see the module docs)."""

    def find_spec(
        self,
        fullname: str,
        path: Optional[Sequence[str]],
        target: Optional[ModuleType] = None,
    ) -> Optional[importlib.machinery.ModuleSpec]:
        if fullname not in _CHOOSERS:
            return None
        spec = importlib.machinery.PathFinder.find_spec(fullname, path)
        if spec is None or spec.loader is None:
            return None
        spec.loader = _HidingPsycopg3(spec.loader)
        return spec


if not any(isinstance(f, _Psycopg2Mode) for f in sys.meta_path):
    sys.meta_path.insert(0, _Psycopg2Mode())
