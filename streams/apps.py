from django.apps import AppConfig


class StreamsConfig(AppConfig):
    """The stream engine: models, Stream API, broadcast and the WebSocket consumer."""

    name = "streams"
    verbose_name = "Streams"

    def ready(self) -> None:
        from django.conf import settings
        from django.core.checks import register

        from .checks import TAG, check_settings, check_stream_definitions
        from .definitions import registry
        from .publishing import broadcast  # noqa: F401  (publishes the store's changes on commit)
        from .runtime import attach_default_handlers, watch_definitions
        from .sockets import redact_server_logs
        from .storage import model_writes  # noqa: F401  (turns ORM saves and deletes of items into changes)

        # The project's LOGGING is in place: the engine's loggers get a handler if it has none.
        attach_default_handlers(settings.DEBUG)
        watch_definitions("_stream.py")  # before the imports: a file that fails is watched too
        registry.autodiscover()
        # The settings are checked with every check; `check --tag streams`: the stream files.
        register(check_settings)
        register(check_stream_definitions, TAG)
        # Servers configure their loggers before they load the app: tokens in URLs are
        # redacted from then on.
        redact_server_logs()
