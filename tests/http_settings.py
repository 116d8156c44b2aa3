"""Settings of the http tests' server: the project's, plus the steps of ``tests.http_app``."""

from motia_site.settings import *  # noqa: F403
from motia_site.settings import INSTALLED_APPS

INSTALLED_APPS = [*INSTALLED_APPS, "tests.http_app"]
