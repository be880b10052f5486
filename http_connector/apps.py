from django.apps import AppConfig


class HttpConnectorConfig(AppConfig):
    name = "http_connector"
    verbose_name = "Generic HTTP connector"

    def ready(self) -> None:
        from clients.registry import LOOKUP_PROVIDERS, register_client_type
        from connections.publishers import register_publisher
        from connections.subscribers import register_subscriber

        from .client_type import HttpLookup, RestClientType
        from .publisher import HttpPublisher
        from .subscriber import HttpSubscriber

        register_client_type(RestClientType)
        LOOKUP_PROVIDERS.register(HttpLookup)
        register_subscriber(HttpSubscriber)
        register_publisher(HttpPublisher)
