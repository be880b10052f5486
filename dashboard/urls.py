from django.urls import path

from . import views

app_name = "dashboard"
urlpatterns = [
    path("", views.home, name="home"),
    path("users/", views.user_list, name="users"),
    path("users/create/", views.user_create, name="user_create"),
    path("users/<int:pk>/role/", views.user_set_role, name="user_set_role"),
]
