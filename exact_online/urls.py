"""The Exact Online connector's own actions (mounted under /clients/exact/)."""

from __future__ import annotations

from django.urls import URLPattern, URLResolver, path

from . import views

app_name = "exact_online"
urlpatterns: list[URLPattern | URLResolver] = [
    path("<int:pk>/webhooks/subscribe/", views.webhooks_subscribe, name="webhooks_subscribe"),
    path("<int:pk>/webhooks/refresh/", views.webhooks_refresh, name="webhooks_refresh"),
    path("<int:pk>/webhooks/delete/", views.webhooks_delete, name="webhooks_delete"),
]
