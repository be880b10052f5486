from django.urls import path

from . import views

app_name = "audit"
urlpatterns = [
    path("", views.audit_list, name="list"),
    path("export.csv", views.audit_csv, name="csv"),
    path("versions/<str:label>/<int:pk>/", views.version_list, name="versions"),
    path("versions/<str:label>/<int:pk>/<int:history_id>/", views.version_detail, name="version"),
    path("versions/<str:label>/<int:pk>/<int:history_id>/restore/", views.version_restore, name="restore"),
]
