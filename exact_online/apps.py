from django.apps import AppConfig


class ExactOnlineConfig(AppConfig):
    name = "exact_online"
    verbose_name = "Exact Online connector"
