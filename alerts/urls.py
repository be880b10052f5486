from django.urls import path

from . import views

app_name = "alerts"
urlpatterns = [
    path("", views.alert_list, name="alert_list"),
    path("<int:pk>/", views.alert_detail, name="alert_detail"),
    path("rules/", views.rule_list, name="rule_list"),
    path("rules/create/", views.rule_create, name="rule_create"),
    path("rules/<int:pk>/edit/", views.rule_edit, name="rule_edit"),
    path("rules/<int:pk>/delete/", views.rule_delete, name="rule_delete"),
    path("channels/", views.channel_list, name="channel_list"),
    path("channels/create/", views.channel_create, name="channel_create"),
    path("channels/<int:pk>/edit/", views.channel_edit, name="channel_edit"),
    path("channels/<int:pk>/delete/", views.channel_delete, name="channel_delete"),
    path("channels/<int:pk>/test/", views.channel_test, name="channel_test"),
    path("maintenance/", views.maintenance_list, name="maintenance_list"),
    path("maintenance/create/", views.maintenance_create, name="maintenance_create"),
    path("maintenance/<int:pk>/delete/", views.maintenance_delete, name="maintenance_delete"),
]
