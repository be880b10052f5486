from django.apps import AppConfig


class WebhooksConfig(AppConfig):
    """Inbound webhooks: a URL per hook that stores every delivery, then feeds routes on the workers."""

    name = "webhooks"
    verbose_name = "Webhooks"

    def ready(self) -> None:
        from .kinds import GenericKind, register_kind

        register_kind(GenericKind)
