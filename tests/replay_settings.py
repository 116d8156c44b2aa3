"""Settings of the replay tests' servers: the project's, plus a probe stream and a step that
changes it (``tests.replay_app``), and the replay log's size from the environment."""

import os

from motia_site.settings import *  # noqa: F403
from motia_site.settings import INSTALLED_APPS, STREAMS

INSTALLED_APPS = [*INSTALLED_APPS, "tests.replay_app"]
STREAMS = {**STREAMS, "REPLAY_LOG_SIZE": int(os.environ.get("STREAMS_REPLAY_LOG_SIZE", 1000))}
