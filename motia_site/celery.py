"""The Celery app that runs queue, stream and cron steps.

Production runs ``celery -A motia_site worker`` (and ``beat``) against Redis; the embedded
default runs a worker thread inside the server on an in-process broker (steps.worker).
"""

import os
from types import SimpleNamespace

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "motia_site.settings")


def celery_settings() -> SimpleNamespace:
    """The ``CELERY_*`` Django settings, read once. Celery looks its configuration up on every
    message it sends; through Django's lazy settings each lookup costs as much as a query."""
    from django.conf import settings

    names = [name for name in dir(settings) if name.startswith("CELERY_")]
    return SimpleNamespace(**{name: getattr(settings, name) for name in names})


app = Celery("motia_site")
app.config_from_object(celery_settings(), namespace="CELERY")
app.autodiscover_tasks()
