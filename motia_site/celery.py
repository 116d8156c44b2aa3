"""The Celery app that runs queue, stream and cron steps.

Production runs ``celery -A motia_site worker`` (and ``beat``) against Redis; the embedded
default runs a worker thread inside the server on an in-process broker (steps.worker).
"""

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "motia_site.settings")

app = Celery("motia_site")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
