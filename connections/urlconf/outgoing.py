"""Connections → Outgoing."""

from __future__ import annotations

from django.urls import URLPattern, URLResolver, path

from ..views import outgoing as views

urlpatterns: list[URLPattern | URLResolver] = [
    path("outgoing/", views.outgoing_list, name="outgoing_list"),
    path("outgoing/create/", views.outgoing_create, name="outgoing_create"),
    path("outgoing/payload-template/", views.outgoing_payload_template, name="outgoing_payload_template"),
    path("outgoing/<int:pk>/", views.outgoing_detail, name="outgoing_detail"),
    path("outgoing/<int:pk>/edit/", views.outgoing_edit, name="outgoing_edit"),
    path("outgoing/<int:pk>/delete/", views.outgoing_delete, name="outgoing_delete"),
    path("outgoing/<int:pk>/duplicate/", views.outgoing_duplicate, name="outgoing_duplicate"),
]
