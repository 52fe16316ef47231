"""``make demo``: the Django project migrated, then driven through its URLs (Django's
test Client: the whole request cycle, CONN_MAX_AGE=0, connections from pgpool's pool),
with concurrent requests; exits non-zero when a response is not what it should be."""

from __future__ import annotations

import concurrent.futures
import json
import os
import sys

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "demo_site.settings")

import django  # noqa: E402

django.setup()

from django.core.management import call_command  # noqa: E402
from django.db import close_old_connections, connection  # noqa: E402
from django.test import Client  # noqa: E402


def main() -> int:
    call_command("migrate", "notes", verbosity=0)
    c = Client()
    ids = [
        c.post(
            "/notes",
            json.dumps({"text": t, "tags": tags}),
            content_type="application/json",
        ).json()["id"]
        for t, tags in [
            ("hello", ["greeting"]),
            ("pgpool", ["db", "pool"]),
            ("bye", ["greeting"]),
        ]
    ]
    greetings = c.get("/notes?tag=greeting").json()["notes"]
    assert [n["text"] for n in greetings] == ["hello", "bye"], greetings

    def like(_: int) -> int:
        try:
            return Client().post(f"/notes/{ids[1]}/like").status_code
        finally:
            close_old_connections()

    with concurrent.futures.ThreadPoolExecutor(8) as ex:
        codes = list(ex.map(like, range(40)))
    assert codes.count(200) == 40, codes
    likes = [n for n in c.get("/notes").json()["notes"] if n["id"] == ids[1]][0][
        "likes"
    ]
    assert likes == 40, likes
    health = c.get("/health").json()
    print(
        f"django demo: 3 notes, tag filter {len(greetings)} rows, 40 concurrent likes -> {likes}, health {health}"
    )
    with connection.cursor() as cur:
        cur.execute("DROP TABLE notes_note")
        cur.execute("DELETE FROM django_migrations WHERE app = 'notes'")
    return 0


if __name__ == "__main__":
    sys.exit(main())
