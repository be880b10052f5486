"""Tasks: one per entity on its way through a route."""

from __future__ import annotations

from django.urls import URLPattern, URLResolver, path

from ..views import tasks as views

urlpatterns: list[URLPattern | URLResolver] = [
    path("tasks/", views.task_list, name="task_list"),
    path("tasks/bulk/", views.task_bulk, name="task_bulk"),
    path("tasks/bulk/progress/", views.task_bulk_progress, name="task_bulk_progress"),
    path("tasks/<int:pk>/", views.task_detail, name="task_detail"),
    path("tasks/<int:pk>/retry/", views.task_retry, name="task_retry"),
    path("tasks/<int:pk>/skip/", views.task_skip, name="task_skip"),
    path("tasks/<int:pk>/delete/", views.task_delete, name="task_delete"),
    path("tasks/<int:pk>/edit-payload/", views.task_edit_payload, name="task_edit_payload"),
]
