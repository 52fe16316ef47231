"""A Django project on pgpool: the only change from a psycopg2 project is ENGINE (and
the first import below, needed when psycopg 3 is installed too). The database comes from
DATABASE_URL (postgresql://user:password@host:port/dbname)."""

import os
from urllib.parse import unquote, urlsplit

import pgpool.django  # noqa: F401  (before Django loads its apps: see docs/python.md)

_url = urlsplit(os.environ["DATABASE_URL"])

DATABASES = {
    "default": {
        "ENGINE": "pgpool.django",
        "NAME": unquote(_url.path.lstrip("/")),
        "USER": unquote(_url.username or ""),
        "PASSWORD": unquote(_url.password or ""),
        "HOST": _url.hostname or "",
        "PORT": _url.port or "",
        "CONN_MAX_AGE": 0,
        "CONN_HEALTH_CHECKS": True,
        "OPTIONS": {"pool": {"min_size": 1, "max_size": 10, "timeout": 10}},
    }
}
SECRET_KEY = "demo-only-not-secret"
DEBUG = False
ALLOWED_HOSTS = ["testserver", "localhost"]
INSTALLED_APPS = [
    "django.contrib.contenttypes",
    "django.contrib.postgres",
    "notes",
]
ROOT_URLCONF = "demo_site.urls"
USE_TZ = True
TIME_ZONE = "UTC"
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
