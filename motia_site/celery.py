"""The Celery app that runs queue, stream and cron steps.

Production runs ``celery -A motia_site worker`` (and ``beat``) against Redis; the embedded
default runs a worker thread inside the server on an in-process broker (steps.running.worker). A
beat schedule of the site's own (``CELERY_BEAT_SCHEDULE``) runs beside the cron steps.
"""

import os
from typing import Any

from celery import Celery

import steps.celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "motia_site.settings")


def celery_settings() -> dict[str, Any]:
    """The ``CELERY_*`` Django settings, read once, under Celery's own lowercase names.

    Celery looks several settings up for every message it sends. Read through Django's lazy
    settings with a namespace, each lookup tries several spellings in several maps and costs
    tens of microseconds: a third of the cost of a send."""
    from django.conf import settings

    prefix = "CELERY_"
    return {
        name.removeprefix(prefix).lower(): getattr(settings, name)
        for name in dir(settings)
        if name.startswith(prefix)
    }


app = Celery("motia_site")
# Read when Celery first needs its configuration, not as this module is imported: a settings
# module that imports the site's settings imports this package while it is itself half-loaded.
app.add_defaults(celery_settings)
app.autodiscover_tasks()
# The engine's cron steps in beat's schedule, heartbeats from the workers, the in-process broker
# when none is named: the one call a project makes (docs/production.md).
steps.celery.setup(app)
