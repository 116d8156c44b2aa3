"""System checks of the Motia layer (``manage.py check``, tag ``steps``).

- ``motia.E001`` (error): Motia's own ``motia`` package is installed: files that import
  ``motia`` get it instead of this engine's, and it cannot run here.
- ``motia.W001`` (warning): something of a Motia step that this engine ignores (a key Motia
  ignores too, a FIFO queue).

The other problems of Motia files are the engine's checks (``steps.E001`` ...), naming the
file and the key.
"""

from collections.abc import Sequence
from importlib import metadata
from types import ModuleType
from typing import TYPE_CHECKING, Any

from django.apps import AppConfig
from django.core.checks import CheckMessage, Error, Warning

from streams.runtime import in_apps

from .importing import installed_motia_directory

if TYPE_CHECKING:
    from .definitions import MotiaStep

# What is ignored of each module's steps, by module, as they were last loaded.
_ignored: dict[str, list[str]] = {}


def load_motia_steps(module: ModuleType) -> "list[MotiaStep]":
    """The steps of a Motia file (:func:`~steps.motia.adapter.motia_steps`), keeping what of
    them is ignored for :func:`check_motia`."""
    from .adapter import motia_steps

    _ignored.pop(module.__name__, None)
    steps, ignored = motia_steps(module)
    _ignored[module.__name__] = ignored
    return steps


def _installed_version() -> str:
    try:
        return metadata.version("motia")
    except metadata.PackageNotFoundError:
        return "unknown version"


def installed_package() -> list[CheckMessage]:
    directory = installed_motia_directory()
    if directory is None:
        return []
    return [
        Error(
            f"Motia's own 'motia' package ({_installed_version()}) is installed, at "
            f"{directory}: files that import motia get it instead of this engine's Motia API, "
            "and it cannot run here (it drives Motia's iii engine; its last release does not "
            "even import with the current iii-sdk)",
            hint="uninstall it (pip uninstall motia): this engine provides 'import motia'",
            id="motia.E001",
        )
    ]


def check_motia(
    app_configs: Sequence[AppConfig] | None = None, **kwargs: Any
) -> list[CheckMessage]:
    messages = installed_package()
    for module, notes in sorted(_ignored.items()):
        if app_configs is not None and not in_apps(module, app_configs):
            continue
        messages += [Warning(note, obj=module, id="motia.W001") for note in notes]
    return messages
