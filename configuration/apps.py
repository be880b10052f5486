from django.apps import AppConfig


class ConfigurationConfig(AppConfig):
    """Configuration as code: environment variables (``${NAME}``) and the export/import of configurations."""

    name = "configuration"
    verbose_name = "Configuration"

    def ready(self) -> None:
        from django.db.models.signals import pre_save

        from lib.http import SECRET_SOURCES

        from .variables import refuse_saving_resolved, secret_values

        pre_save.connect(refuse_saving_resolved, dispatch_uid="configuration.refuse_saving_resolved")
        if secret_values not in SECRET_SOURCES:
            SECRET_SOURCES.append(secret_values)  # encrypted variables are masked in request logs too
