from django.apps import AppConfig


class StreamsConfig(AppConfig):
    """The stream engine: models, Stream API, broadcast and the WebSocket consumer."""

    name = "streams"
    verbose_name = "Streams"

    def ready(self) -> None:
        from django.conf import settings

        from . import (
            broadcast,  # noqa: F401  (publishes the store's changes on commit)
            checks,  # noqa: F401  (registers the settings checks)
            model_writes,  # noqa: F401  (turns ORM saves and deletes of items into changes)
        )
        from .log_config import attach_default_handlers
        from .redaction import redact_server_logs
        from .registry import registry
        from .reloading import watch_definitions

        # The project's LOGGING is in place: the engine's loggers get a handler if it has none.
        attach_default_handlers(settings.DEBUG)
        watch_definitions("_stream.py")  # before the imports: a file that fails is watched too
        registry.autodiscover()
        # Servers configure their loggers before they load the app: tokens in URLs are
        # redacted from then on.
        redact_server_logs()
