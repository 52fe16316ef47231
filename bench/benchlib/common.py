"""Shared by the benchmark's modules: paths, the server URL, logging, importing pgpool."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any, Optional

ROOT = Path(__file__).resolve().parent.parent.parent
BENCH = ROOT / "bench"
RESULTS = BENCH / "results"
CBENCH = BENCH / "c" / "cbench"

URL = os.environ.get("BENCH_URL") or os.environ.get("DATABASE_URL") or ""

PEERS = ["psycopg2", "psycopg_pool", "sqlalchemy"]
PEER_LABEL = {
    "psycopg2": "psycopg2",
    "psycopg_pool": "psycopg_pool",
    "sqlalchemy": "SQLAlchemy",
}


def log(*args: Any) -> None:
    print(*args, file=sys.stderr, flush=True)


# ---------------------------------------------------------------------------------------
# pgpool: installed in the venv (make build-python), else the in-tree build (python/).

PGPOOL_NOTE: Optional[str] = None
PGPOOL_FROM_TREE = False


def import_pgpool() -> Any:
    """pgpool, or None (PGPOOL_NOTE says why)."""
    global PGPOOL_NOTE, PGPOOL_FROM_TREE
    try:
        import pgpool  # noqa: F401

        return pgpool
    except ImportError as e:
        first = e
    tree = ROOT / "python"
    if list((tree / "pgpool").glob("_pgpool*.so")):
        sys.path.insert(0, str(tree))
        try:
            import pgpool  # noqa: F811

            PGPOOL_FROM_TREE = True
            PGPOOL_NOTE = "pgpool imported from python/ (not installed in the venv: run make build-python)"
            return pgpool
        except ImportError as e:
            sys.path.remove(str(tree))
            PGPOOL_NOTE = f"pgpool not importable: {e}"
            return None
    PGPOOL_NOTE = f"pgpool not importable: {first}"
    return None
