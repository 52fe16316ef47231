"""The ``pgpool.django`` backend (issue 16 item 4) beside Django's stock PostgreSQL
backend on psycopg2, each in a child process (Django's settings are per process): the
same ORM work gives the same results; connections come from pgpool's pool and go back to
it; bad pool options are a clear error. Django's own test suite for the backend runs in
``tests/django/run_suite.py``."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap

import pytest

pytest.importorskip("django")

SCRIPT = r"""
import json, os, sys
engine, options = sys.argv[1], json.loads(sys.argv[2])
if engine == "django.db.backends.postgresql":
    sys.modules["psycopg"] = None  # the stock backend on psycopg2
else:
    import pgpool.django  # psycopg 3 is installed: before the apps load (docs)
from urllib.parse import unquote, urlsplit
u = urlsplit(os.environ["PGPOOL_TEST_DSN"])
import django
from django.conf import settings
settings.configure(
    DATABASES={"default": {
        "ENGINE": engine, "NAME": unquote(u.path.lstrip("/")), "USER": unquote(u.username or ""),
        "PASSWORD": unquote(u.password or ""), "HOST": u.hostname, "PORT": u.port,
        "OPTIONS": options, "CONN_MAX_AGE": 0,
    }},
    INSTALLED_APPS=["django.contrib.contenttypes", "django.contrib.auth", "django.contrib.postgres"],
    USE_TZ=True, TIME_ZONE="Europe/Paris", DEFAULT_AUTO_FIELD="django.db.models.AutoField",
)
django.setup()
from django.contrib.auth.models import Group, Permission, User
from django.contrib.postgres.fields import ArrayField, HStoreField
from django.db import connection, models, transaction
from django.db.models import Count, F, Q, Value
from django.db.models.functions import Concat

class Item(models.Model):
    name = models.CharField(max_length=50)
    tags = ArrayField(models.CharField(max_length=20), default=list)
    data = models.JSONField(default=dict)
    at = models.DateTimeField()
    class Meta:
        app_label = "auth"  # an installed app: no migrations needed for the test table

out = {}
with connection.schema_editor() as se:
    se.execute("DROP TABLE IF EXISTS auth_item")
    se.create_model(Item)
import datetime
t0 = datetime.datetime(2024, 5, 6, 7, 8, 9, tzinfo=datetime.timezone.utc)
with transaction.atomic():
    for i in range(5):
        Item.objects.create(name=f"n{i}", tags=[f"t{i}", "all"], data={"i": i, "odd": i % 2 == 1}, at=t0 + datetime.timedelta(hours=i))
try:
    with transaction.atomic():
        Item.objects.create(name="rolled back", at=t0)
        raise RuntimeError
except RuntimeError:
    pass
out["count"] = Item.objects.count()
out["odd"] = list(Item.objects.filter(data__odd=True).order_by("name").values_list("name", flat=True))
out["tags"] = list(Item.objects.filter(tags__contains=["t3"]).values_list("name", flat=True))
out["agg"] = list(Item.objects.values("data__odd").annotate(n=Count("id")).order_by("data__odd").values_list("data__odd", "n"))
out["at"] = [a.isoformat() for a in Item.objects.order_by("at").values_list("at", flat=True)]
Item.objects.filter(name="n0").update(name=Concat(F("name"), Value("!")))
out["updated"] = Item.objects.filter(Q(name__endswith="!")).count()
out["tz"] = connection.cursor().connection.info.parameter_status("TimeZone")
pids = set()
for _ in range(3):  # CONN_MAX_AGE=0: each "request" closes the connection
    with connection.cursor() as c:
        c.execute("SELECT pg_backend_pid()")
        pids.add(c.fetchone()[0])
    connection.close()
out["backends_used"] = len(pids)
with connection.schema_editor() as se:
    se.delete_model(Item)
print(json.dumps(out))
"""


def run(engine: str, dsn: str, options: dict) -> subprocess.CompletedProcess:
    env = dict(os.environ, PGPOOL_TEST_DSN=dsn)
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(SCRIPT), engine, json.dumps(options)],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_orm_results_match_the_stock_backend(direct_dsn: str) -> None:
    theirs = run("django.db.backends.postgresql", direct_dsn, {})
    assert theirs.returncode == 0, theirs.stderr[-3000:]
    ours = run("pgpool.django", direct_dsn, {"pool": {"min_size": 1, "max_size": 2}})
    assert ours.returncode == 0, ours.stderr[-3000:]
    a, b = json.loads(theirs.stdout), json.loads(ours.stdout)
    assert a.pop("backends_used") == 3  # a new server connection per request
    assert b.pop("backends_used") == 1  # pgpool's pool: the same one, checked out again
    assert a == b
    assert b["count"] == 5 and b["tz"] == "UTC"


def test_bad_pool_options_are_a_clear_error(direct_dsn: str) -> None:
    r = run("pgpool.django", direct_dsn, {"pool": {"min_size": 1, "maxsize": 2}})
    assert r.returncode != 0
    assert "ImproperlyConfigured" in r.stderr and "maxsize" in r.stderr


def test_the_stock_backend_loaded_with_psycopg3_first_is_refused() -> None:
    code = textwrap.dedent(
        """
        import django.db.backends.postgresql.psycopg_any  # psycopg 3 mode (installed)
        try:
            import pgpool.django.base
        except Exception as e:
            print(type(e).__name__, e)
        """
    )
    r = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60
    )
    assert "ImproperlyConfigured" in r.stdout and "import pgpool.django" in r.stdout, (
        r.stdout,
        r.stderr,
    )
