from django.apps import AppConfig


class StepsConfig(AppConfig):
    """The step engine: discovery, http triggers (django-ninja), queue, stream and cron
    triggers (Celery), and the handler context."""

    name = "steps"
    verbose_name = "Steps"

    def ready(self) -> None:
        from celery import current_app

        from streams.signals import stream_event

        from .cron import beat_schedule
        from .heartbeat import HeartbeatStep
        from .registry import registry
        from .stream_triggers import dispatch_stream_triggers
        from .worker import use_in_process_broker

        registry.autodiscover()
        stream_event.connect(dispatch_stream_triggers, dispatch_uid="steps.stream_triggers")
        current_app.conf.beat_schedule = beat_schedule(registry)
        # Every worker of the project's Celery app (``celery worker`` and the embedded one)
        # records its heartbeats; Celery builds a worker's bootsteps after Django is set up.
        current_app.steps["consumer"].add(HeartbeatStep)
        use_in_process_broker(current_app)
