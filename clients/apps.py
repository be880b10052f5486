from __future__ import annotations

from django.apps import AppConfig


class ClientsConfig(AppConfig):
    name = "clients"
    verbose_name = "Clients"

    def ready(self) -> None:
        from dashboard.overview import Panel, register_panel

        from .panels import api_usage, client_health

        register_panel(Panel(key="http-clients", title="HTTP clients · token health and API quota",
                             template="clients/panel.html", context=client_health, order=10, wide=True))
        register_panel(Panel(key="api-usage", title="API calls · today per client and division",
                             template="clients/usage_panel.html", context=api_usage, order=15, wide=True))
