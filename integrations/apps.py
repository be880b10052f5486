from django.apps import AppConfig


class IntegrationsConfig(AppConfig):
    name = "integrations"
    verbose_name = "Shipped integrations"

    def ready(self) -> None:
        from dashboard.bootstrap import register_seed

        from .seed import seed_webshop_integrations

        register_seed(seed_webshop_integrations)  # after the connectors' seeds (INSTALLED_APPS order)
