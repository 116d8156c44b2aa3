"""Finding user definitions by file name (``*_stream.py``, ``*_step.py``) in the installed apps."""

import importlib
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from types import ModuleType

from django.apps import AppConfig, apps

SKIPPED_DIRS = {"migrations", "tests", "node_modules", "__pycache__"}


def _installed_apps() -> Iterator[tuple[str, Path]]:
    # Every installed app, wherever it lives (the project, site-packages): a definition is
    # known by its file name alone, as Django's admin finds each app's ``admin`` module.
    for app in apps.get_app_configs():
        yield app.name, Path(app.path)


def skipped(relative: Path) -> bool:
    """Whether a path inside an app (relative to its folder) is out of discovery's sight: in
    migrations, tests, node_modules, __pycache__, or a hidden file or folder."""
    return any(part in SKIPPED_DIRS or part.startswith(".") for part in relative.parts)


def definition_files(root: Path, suffix: str) -> list[Path]:
    """The files under an app's folder ``root`` whose name ends with ``suffix``, in a stable
    order (those :func:`skipped` left out)."""
    return [
        file for file in sorted(root.rglob(f"*{suffix}")) if not skipped(file.relative_to(root))
    ]


def discover_module_names(suffix: str) -> list[str]:
    """The dotted names of the modules of the installed apps whose file name ends with
    ``suffix`` (for example ``"_stream.py"``), in a stable order."""
    names = []
    for app_name, root in _installed_apps():
        for file in definition_files(root, suffix):
            relative = file.relative_to(root)
            names.append(".".join((app_name, *relative.with_suffix("").parts)))
    return names


# Explain why importing a definition module failed, when the failure is its environment's and
# not the module's: ``explain(module name, error)`` gives a message, or None. The steps app
# explains an installed ``motia`` package that cannot run here.
ImportExplainer = Callable[[str, BaseException], str | None]
import_explainers: list[ImportExplainer] = []


def import_definition(name: str) -> ModuleType | str:
    """Import the module ``name``, or say why it failed when an explainer knows why; any other
    failure is raised (a module's bug, or a configuration error of its own)."""
    try:
        return importlib.import_module(name)
    except Exception as error:
        why = next(filter(None, (explain(name, error) for explain in import_explainers)), None)
        if why is None:
            raise
        return why


def in_apps(module: str, app_configs: Sequence[AppConfig]) -> bool:
    """Whether the module named ``module`` belongs to one of ``app_configs`` (what a system
    check run for some apps only looks at)."""
    return any(module == app.name or module.startswith(f"{app.name}.") for app in app_configs)
