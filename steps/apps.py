from django.apps import AppConfig


class StepsConfig(AppConfig):
    """The step engine: step discovery, http triggers (django-ninja) and the handler context."""

    name = "steps"
    verbose_name = "Steps"

    def ready(self) -> None:
        from .registry import registry

        registry.autodiscover()
