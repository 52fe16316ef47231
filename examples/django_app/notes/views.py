import json

from django.db import connection, transaction
from django.db.models import F
from django.http import HttpRequest, JsonResponse

from .models import Note


def notes(request: HttpRequest) -> JsonResponse:
    if request.method == "POST":
        body = json.loads(request.body)
        note = Note.objects.create(text=body["text"], tags=body.get("tags", []))
        return JsonResponse({"id": note.id}, status=201)
    tag = request.GET.get("tag")
    qs = Note.objects.order_by("id")
    if tag:
        qs = qs.filter(tags__contains=[tag])
    return JsonResponse({"notes": list(qs.values("id", "text", "tags", "likes"))})


def like(request: HttpRequest, note_id: int) -> JsonResponse:
    with transaction.atomic():
        Note.objects.filter(id=note_id).update(likes=F("likes") + 1)
    return JsonResponse({"likes": Note.objects.get(id=note_id).likes})


def health(request: HttpRequest) -> JsonResponse:
    with connection.cursor() as cur:
        cur.execute("SELECT 1")
        cur.fetchone()
    pool = getattr(connection.connection, "pgpool_pool", None)
    return JsonResponse(
        {"ok": True, "pool": pool.stats()["pool_size"] if pool else None}
    )
