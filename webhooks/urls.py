"""Connections → Webhooks (the management pages); the public receiver is ``hook`` in config/urls.py."""

from __future__ import annotations

from django.urls import URLPattern, URLResolver, path

from . import views

app_name = "webhooks"
urlpatterns: list[URLPattern | URLResolver] = [
    path("", views.webhook_list, name="list"),
    path("create/", views.webhook_create, name="create"),
    path("<int:pk>/", views.webhook_detail, name="detail"),
    path("<int:pk>/edit/", views.webhook_edit, name="edit"),
    path("<int:pk>/delete/", views.webhook_delete, name="delete"),
    path("<int:pk>/test/", views.webhook_send_test, name="send_test"),
    path("<int:pk>/new-url/", views.webhook_new_url, name="new_url"),
    path("<int:pk>/deliveries/", views.webhook_deliveries, name="deliveries"),
    path("<int:pk>/deliveries/<int:delivery_pk>/", views.delivery_detail, name="delivery"),
    path("<int:pk>/deliveries/<int:delivery_pk>/replay/", views.delivery_replay, name="replay"),
]
