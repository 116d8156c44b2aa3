"""``motia`` on the command line: Motia's ``run``, ``dev``, ``build`` and ``typegen``. Here
Django's commands take their place (``manage.py runserver``, ``manage.py steps``; see the
migration guide), so :func:`main` says so and exits."""

import sys

from .unavailable import GUIDE

MESSAGE = (
    "Motia's command line does not run here: Django serves these steps.\n"
    "  motia dev / motia run  ->  python manage.py runserver  (or uvicorn, and celery workers)\n"
    "  motia typegen           ->  python manage.py steps --json  (and /api/openapi.json)\n"
    f"See {GUIDE} of motia-django."
)


def main() -> None:
    sys.stderr.write(MESSAGE + "\n")
    raise SystemExit(2)
