from django.contrib import admin
from django.urls import include, path

from dashboard.views import health

urlpatterns = [
    path("health", health, name="health"),
    path("accounts/", include("allauth.urls")),
    path("django-admin/", admin.site.urls),
    path("clients/", include("clients.urls")),
    path("connections/", include("connections.urls")),
    path("", include("dashboard.urls")),
]
