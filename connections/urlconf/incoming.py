"""Connections → Incoming, and the run pages."""

from __future__ import annotations

from django.urls import URLPattern, URLResolver, path

from ..views import incoming as views
from ..views import runs

urlpatterns: list[URLPattern | URLResolver] = [
    path("incoming/", views.incoming_list, name="incoming_list"),
    path("incoming/create/", views.incoming_create, name="incoming_create"),
    path("incoming/preview/", views.incoming_preview, name="incoming_preview"),
    path("incoming/fields/", views.incoming_fields, name="incoming_fields"),
    path("incoming/sample/", views.incoming_sample, name="incoming_sample"),
    path("incoming/<int:pk>/", views.incoming_detail, name="incoming_detail"),
    path("incoming/<int:pk>/edit/", views.incoming_edit, name="incoming_edit"),
    path("incoming/<int:pk>/delete/", views.incoming_delete, name="incoming_delete"),
    path("incoming/<int:pk>/duplicate/", views.incoming_duplicate, name="incoming_duplicate"),
    path("incoming/<int:pk>/run/", views.incoming_run, name="incoming_run"),
    path("incoming/<int:pk>/cursor/", views.incoming_cursor_reset, name="incoming_cursor_reset"),
    path("runs/<int:pk>/", runs.run_detail, name="run_detail"),
    path("runs/<int:pk>/status/", runs.run_status, name="run_status"),
    path("runs/<int:pk>/resume/", runs.run_resume, name="run_resume"),
]
