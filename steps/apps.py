from django.apps import AppConfig


class StepsConfig(AppConfig):
    """The step engine: discovery, http triggers (django-ninja), queue, stream and cron
    triggers (Celery), and the handler context."""

    name = "steps"
    verbose_name = "Steps"

    def ready(self) -> None:
        # Imported here, not at the top: they import models, which an app's module cannot.
        from celery import current_app
        from celery.signals import beat_init, worker_init
        from django.core.checks import register

        from streams.reloading import watch_definitions
        from streams.signals import stream_event

        from .checks import TAG, check_steps, refuse_to_start
        from .cron import beat_schedule
        from .heartbeat import HeartbeatStep
        from .registry import registry
        from .stream_triggers import dispatch_stream_triggers
        from .worker import use_in_process_broker

        watch_definitions("_step.py")  # runserver restarts when a step file comes or goes
        # A step that cannot be loaded is kept as an error for the checks, not raised here:
        # `manage.py check` lists every problem, and the other processes refuse to start.
        registry.autodiscover()
        register(check_steps, TAG)
        worker_init.connect(refuse_to_start, dispatch_uid="steps.checks.worker", weak=False)
        beat_init.connect(refuse_to_start, dispatch_uid="steps.checks.beat", weak=False)
        stream_event.connect(dispatch_stream_triggers, dispatch_uid="steps.stream_triggers")
        current_app.conf.beat_schedule = beat_schedule(registry)
        # Every worker of the project's Celery app (``celery worker`` and the embedded one)
        # records its heartbeats; Celery builds a worker's bootsteps after Django is set up.
        current_app.steps["consumer"].add(HeartbeatStep)
        use_in_process_broker(current_app)
