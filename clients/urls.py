from __future__ import annotations

from django.urls import path

from . import views

app_name = "clients"
urlpatterns = [
    path("", views.client_list, name="list"),
    path("new/", views.client_create, name="create"),
    path("oauth/callback/", views.oauth_callback, name="oauth_callback"),
    path("<int:pk>/", views.client_detail, name="detail"),
    path("<int:pk>/edit/", views.client_edit, name="edit"),
    path("<int:pk>/duplicate/", views.client_duplicate, name="duplicate"),
    path("<int:pk>/delete/", views.client_delete, name="delete"),
    path("<int:pk>/grant/", views.client_grant, name="grant"),
    path("<int:pk>/test/", views.client_test_connection, name="test_connection"),
    path("<int:pk>/revoke/", views.client_revoke, name="revoke"),
    path("<int:pk>/division/", views.client_set_division, name="division"),
    path("logs/auth/", views.auth_log, name="auth_log"),
    path("logs/auth/<int:pk>/", views.auth_log_detail, name="auth_log_detail"),
    path("logs/requests/", views.request_log, name="request_log"),
    path("logs/requests/<int:pk>/", views.request_log_detail, name="request_log_detail"),
]
