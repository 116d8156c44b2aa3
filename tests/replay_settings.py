"""Settings of the replay tests' servers: the project's, plus a probe stream and a step that
changes it (``tests.replay_app``)."""

from motia_site.settings import *  # noqa: F403
from motia_site.settings import INSTALLED_APPS

INSTALLED_APPS = [*INSTALLED_APPS, "tests.replay_app"]
