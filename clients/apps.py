from __future__ import annotations

from django.apps import AppConfig


class ClientsConfig(AppConfig):
    name = "clients"
    verbose_name = "Clients"

    def ready(self) -> None:
        from celery.signals import task_postrun
        from django.core.signals import request_finished

        from dashboard.overview import Panel, register_panel

        from .usage import flush

        # Counted API calls are written after each worker job and each web request (and every few seconds).
        task_postrun.connect(flush, weak=False, dispatch_uid="clients.usage.flush.task")
        request_finished.connect(flush, weak=False, dispatch_uid="clients.usage.flush.request")

        from .panels import api_usage, client_health

        register_panel(Panel(key="http-clients", title="HTTP clients · token health and API quota",
                             template="clients/panel.html", context=client_health, order=10, wide=True))
        register_panel(Panel(key="api-usage", title="API calls · today per client and division",
                             template="clients/usage_panel.html", context=api_usage, order=15, wide=True))
