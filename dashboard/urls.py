from django.urls import path

from . import views

app_name = "dashboard"
urlpatterns = [
    path("", views.home, name="home"),
    path("users/", views.user_list, name="users"),
    path("users/create/", views.user_create, name="user_create"),
    path("users/<int:pk>/role/", views.user_set_role, name="user_set_role"),
    path("users/<int:pk>/deactivate/", views.user_deactivate, name="user_deactivate"),
    path("users/<int:pk>/reactivate/", views.user_reactivate, name="user_reactivate"),
    path("users/<int:pk>/password-reset/", views.user_password_reset, name="user_password_reset"),
]
