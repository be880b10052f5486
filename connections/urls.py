"""Connections' URLs: one module per feature under ``connections/urlconf/``, all in one namespace."""

from .urlconf import incoming, outgoing, routes, tasks, transformers

app_name = "connections"
urlpatterns = [
    *routes.urlpatterns,
    *incoming.urlpatterns,
    *outgoing.urlpatterns,
    *transformers.urlpatterns,
    *tasks.urlpatterns,
]
