"""``psycopg2._json``: pgpool's JSON support under psycopg2's private module name."""

from __future__ import annotations

from pgpool._typeinfo import get_json_oids as _get_json_oids
from pgpool.extras import (
    JSON_OID,
    JSONARRAY_OID,
    JSONB_OID,
    JSONBARRAY_OID,
    Json,
    register_default_json,
    register_default_jsonb,
    register_json,
)

__all__ = [
    "JSON_OID",
    "JSONARRAY_OID",
    "JSONB_OID",
    "JSONBARRAY_OID",
    "Json",
    "register_default_json",
    "register_default_jsonb",
    "register_json",
    "_get_json_oids",
]
