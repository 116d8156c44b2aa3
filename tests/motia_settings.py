"""Settings of the Motia tests' servers: the project's, with ``tests.motia_app`` (step and
stream files written against Motia's API) installed in place of the examples, whose ``todo``
stream and steps a Motia project would have its own of; nothing else changes."""

from motia_site.settings import *  # noqa: F403
from motia_site.settings import INSTALLED_APPS

INSTALLED_APPS = ["tests.motia_app" if app == "examples" else app for app in INSTALLED_APPS]
