"""The project's ``.env`` for Motia files, loaded as Motia's command line loads it.

``motia run`` and ``motia dev`` load ``.env`` from the folder they run in before they import
the steps, so Motia files read their settings from ``os.environ``. Here the same happens the
first time a file imports ``motia``: the file named by ``STEPS_MOTIA_DOTENV`` (``.env`` in the
current folder, where ``manage.py`` runs; empty: none) is loaded with python-dotenv, and it
never overrides a variable the environment already has. A project that imports no ``motia``
reads no ``.env``.
"""

import logging
from pathlib import Path

import dotenv

from ..conf import engine_settings

logger = logging.getLogger("steps.motia")

_loaded: set[Path] = set()


def load_dotenv() -> Path | None:
    """Load the ``.env`` file named by ``STEPS_MOTIA_DOTENV``, once; the file, if any."""
    name = engine_settings.STEPS_MOTIA_DOTENV
    if not name:
        return None
    path = Path(name).resolve()
    if path in _loaded or not path.is_file():
        return None
    dotenv.load_dotenv(path, override=False)
    _loaded.add(path)
    logger.info("loaded %s for Motia's steps", path)
    return path
