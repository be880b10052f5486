from django.apps import AppConfig


class ExactOnlineConfig(AppConfig):
    name = "exact_online"
    verbose_name = "Exact Online connector"

    def ready(self) -> None:
        from clients.registry import register_client_type
        from dashboard.bootstrap import register_seed

        from .client_type import ExactOnlineClientType
        from .seed import seed_sandbox_client

        register_client_type(ExactOnlineClientType)
        register_seed(seed_sandbox_client)

        from connections.subscribers import register_subscriber

        from .subscriber import ExactSubscriber

        register_subscriber(ExactSubscriber)
        from webhooks.kinds import register_kind

        from . import publisher  # noqa: F401 - registers the Exact Online Publisher
        from .webhooks import ExactWebhookKind

        register_kind(ExactWebhookKind)
