"""Finding user definitions by file name (``*_stream.py``, ``*_step.py``) in the project's apps."""

import importlib
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

from django.apps import apps
from django.conf import settings

SKIPPED_DIRS = {"migrations", "tests", "node_modules", "__pycache__"}


def _project_apps() -> Iterator[tuple[str, Path]]:
    base = Path(settings.BASE_DIR).resolve()
    for app in apps.get_app_configs():
        path = Path(app.path).resolve()
        if path == base or base in path.parents:
            yield app.name, path


def discover_modules(suffix: str) -> list[ModuleType]:
    """Import every module of the project's apps whose file name ends with ``suffix``
    (for example ``"_stream.py"``), in a stable order."""
    modules = []
    for app_name, root in _project_apps():
        for file in sorted(root.rglob(f"*{suffix}")):
            relative = file.relative_to(root)
            if any(part in SKIPPED_DIRS or part.startswith(".") for part in relative.parts):
                continue
            dotted = ".".join((app_name, *relative.with_suffix("").parts))
            modules.append(importlib.import_module(dotted))
    return modules
