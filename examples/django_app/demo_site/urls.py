from django.urls import path
from notes import views

urlpatterns = [
    path("notes", views.notes),
    path("notes/<int:note_id>/like", views.like),
    path("health", views.health),
]
