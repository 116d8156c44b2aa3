"""Settings of the beat tests' processes: the Motia tests' (whose ``Pulse`` cron step fires
every second) with a beat schedule of the project's own, as a project sets one. ``BEAT_ENTRY``
names its entry (a test names it as a cron trigger's entry)."""

import os

from tests.motia_settings import *  # noqa: F403

CELERY_BEAT_SCHEDULE = {
    os.environ.get("BEAT_ENTRY", "project-ping"): {"task": "project.ping", "schedule": 0.5},
}
