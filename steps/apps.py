from typing import Any

from django.apps import AppConfig


class StepsConfig(AppConfig):
    """The step engine: discovery, http triggers (django-ninja), queue, stream and cron
    triggers (Celery), and the handler context."""

    name = "steps"
    verbose_name = "Steps"

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        from streams.definitions import config_readers
        from streams.runtime import import_explainers

        from .motia.importing import explain_import_failure, install
        from .motia.stream_files import read_stream_config

        # Before any app is ready (the streams app imports the stream modules as it gets
        # ready): files that import motia get this engine's Motia API (steps.motia), unless
        # Motia's own package is installed, which the checks then report.
        install()
        if explain_import_failure not in import_explainers:
            import_explainers.append(explain_import_failure)
        if read_stream_config not in config_readers:
            config_readers.append(read_stream_config)

    def ready(self) -> None:
        # Imported here, not at the top: they import models, which an app's module cannot.
        from celery.signals import beat_init, worker_init
        from django.core.checks import register

        from streams.publishing import reach
        from streams.runtime import watch_definitions
        from streams.signals import stream_event

        from .celery import configure_apps
        from .checks import TAG, check_settings, check_steps, refuse_to_start
        from .definitions import registry
        from .motia.checks import check_motia
        from .records import count_reach, record_change
        from .running import dispatch_stream_triggers

        watch_definitions("_step.py")  # runserver restarts when a step file comes or goes
        # A step that cannot be loaded is kept as an error for the checks, not raised here:
        # `manage.py check` lists every problem, and the other processes refuse to start.
        registry.autodiscover()
        register(check_settings)  # with every check, as the streams app's
        register(check_steps, TAG)
        register(check_motia, TAG)
        worker_init.connect(refuse_to_start, dispatch_uid="steps.checks.worker", weak=False)
        beat_init.connect(refuse_to_start, dispatch_uid="steps.checks.beat", weak=False)
        stream_event.connect(dispatch_stream_triggers, dispatch_uid="steps.stream_triggers")
        # What traces record as it happens (steps.records.traces): changes here, sockets reached.
        stream_event.connect(record_change, dispatch_uid="steps.records.traces.changes")
        reach.count_with(count_reach)
        # The Celery app the project set up in its celery.py (steps.celery.setup) gets the
        # cron steps now that they are known; with no app of the project, Celery's default.
        configure_apps()
