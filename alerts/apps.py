from __future__ import annotations

from django.apps import AppConfig


class AlertsConfig(AppConfig):
    """Alerts (rules, channels, history), maintenance windows and the dashboard's "needs attention" panel."""

    name = "alerts"
    verbose_name = "Alerts"

    def ready(self) -> None:
        from dashboard.overview import Panel, register_panel

        from .attention import attention_context

        register_panel(Panel(key="attention", title="Needs attention", template="alerts/_attention.html",
                             context=attention_context, order=1, wide=True))
