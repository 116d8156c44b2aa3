"""Settings of the scaffold tests' processes: the project's, plus the app ``scaffolded`` that
the tests write into, in a temporary folder of their own (``SCAFFOLD_PROJECT``)."""

import os
import sys

from motia_site.settings import *  # noqa: F403
from motia_site.settings import INSTALLED_APPS

sys.path.insert(0, os.environ["SCAFFOLD_PROJECT"])
INSTALLED_APPS = [*INSTALLED_APPS, "scaffolded"]
