from django.apps import AppConfig


class ConnectionsConfig(AppConfig):
    name = "connections"
    verbose_name = "Connections"

    def ready(self) -> None:
        from .lookups import lookup_through_client
        from .overview import register_panels
        from .transformers import register_lookup_provider

        register_panels()
        register_lookup_provider(lookup_through_client)
