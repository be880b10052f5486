"""Connections → Routes."""

from __future__ import annotations

from django.urls import URLPattern, URLResolver, path

from ..views import routes as views

urlpatterns: list[URLPattern | URLResolver] = [
    path("routes/", views.route_list, name="route_list"),
    path("routes/create/", views.route_create, name="route_create"),
    path("routes/<int:pk>/", views.route_detail, name="route_detail"),
    path("routes/<int:pk>/edit/", views.route_edit, name="route_edit"),
    path("routes/<int:pk>/delete/", views.route_delete, name="route_delete"),
    path("routes/<int:pk>/run/", views.route_run, name="route_run"),
    path("routes/<int:pk>/dry-run/", views.route_dry_run, name="route_dry_run"),
    path("routes/<int:pk>/status/", views.route_status, name="route_status"),
]
