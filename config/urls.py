from django.contrib import admin
from django.urls import include, path

from api.v1 import api_urls
from dashboard.views import health
from webhooks.receiver import receive

urlpatterns = [
    path("health", health, name="health"),
    path("api/v1/", api_urls()),
    path("account/api-tokens/", include("api.urls")),
    path("accounts/", include("allauth.urls")),
    path("django-admin/", admin.site.urls),
    path("clients/exact/", include("exact_online.urls")),
    path("clients/", include("clients.urls")),
    path("connections/webhooks/", include("webhooks.urls")),
    path("alerts/", include("alerts.urls")),
    path("connections/", include("connections.urls")),
    path("audit/", include("audit.urls")),
    path("settings/", include("configuration.urls")),
    path("hooks/<str:token>/", receive, name="hook"),
    path("", include("dashboard.urls")),
]
