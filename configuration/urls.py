from django.urls import path

from . import views

app_name = "configuration"

urlpatterns = [
    path("variables/", views.variable_list, name="variable_list"),
    path("variables/create/", views.variable_create, name="variable_create"),
    path("variables/<int:pk>/edit/", views.variable_edit, name="variable_edit"),
    path("variables/<int:pk>/delete/", views.variable_delete, name="variable_delete"),
    path("configuration/", views.exchange, name="exchange"),
    path("configuration/export/", views.export_download, name="export"),
    path("configuration/import/", views.import_preview, name="import_preview"),
    path("configuration/import/apply/", views.import_apply, name="import_apply"),
]
