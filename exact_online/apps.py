from typing import Any

from django.apps import AppConfig
from django.core import checks


def check_allowed_hosts(**kwargs: Any) -> list[checks.CheckMessage]:
    """Fail loud at start-up on a DASH_EXACT_ALLOWED_HOSTS entry that is not a host or host:port."""
    from django.conf import settings

    from .hosts import HostPolicy

    try:
        HostPolicy.parse(list(settings.EXACT_ALLOWED_HOSTS))
    except ValueError as exc:
        return [checks.Error(str(exc), id="exact_online.E001")]
    return []


class ExactOnlineConfig(AppConfig):
    name = "exact_online"
    verbose_name = "Exact Online connector"

    def ready(self) -> None:
        checks.register(check_allowed_hosts)
        from clients.registry import LOOKUP_PROVIDERS, register_client_type
        from connections.subscribers import register_subscriber
        from dashboard.bootstrap import register_seed

        from .client_type import ExactLookup, ExactOnlineClientType
        from .seed import seed_sandbox_client
        from .subscriber import ExactSubscriber

        register_client_type(ExactOnlineClientType)
        LOOKUP_PROVIDERS.register(ExactLookup)
        register_subscriber(ExactSubscriber)
        register_seed(seed_sandbox_client)

        from webhooks.kinds import register_kind

        from . import publisher  # noqa: F401 - registers the Exact Online Publisher
        from .webhooks import ExactWebhookKind

        register_kind(ExactWebhookKind)
