from django.apps import AppConfig


class ConfigurationConfig(AppConfig):
    """Configuration as code: environment variables (``${NAME}``) and the export/import of configurations."""

    name = "configuration"
    verbose_name = "Configuration"

    def ready(self) -> None:
        from django.db.models.signals import pre_save

        from .variables import refuse_saving_resolved

        pre_save.connect(refuse_saving_resolved, dispatch_uid="configuration.refuse_saving_resolved")
