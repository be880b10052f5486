from django.apps import AppConfig


class ExactOnlineConfig(AppConfig):
    name = "exact_online"
    verbose_name = "Exact Online connector"

    def ready(self) -> None:
        from connections.subscribers import register_subscriber

        from .subscriber import ExactSubscriber

        register_subscriber(ExactSubscriber)
        from . import publisher  # noqa: F401 - registers the Exact Online Publisher
