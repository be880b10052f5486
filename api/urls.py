"""The API token page (on the user's own page); the API itself is mounted from ``api.v1``."""

from django.urls import path

from . import views

app_name = "api"
urlpatterns = [
    path("", views.token_list, name="tokens"),
    path("<int:pk>/revoke/", views.token_revoke, name="token_revoke"),
]
