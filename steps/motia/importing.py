"""``import motia``: Motia's API, from this package, for files written against Motia.

Motia's own package is not installed here (it needs Motia's iii engine to run). The steps app
puts :class:`MotiaFinder` at the *end* of ``sys.meta_path`` as it loads, before any step or
stream module is imported: Python asks it about ``motia`` only when no other finder found a
package of that name, so an installed ``motia`` is never shadowed (it then fails to run here,
and the ``motia.E001`` check says why). The finder gives this package under the name
``motia``, and each of its modules under ``motia.<module>``: the same module objects, never a
second copy, so ``motia.Stream is steps.motia.Stream``.

Loading it also loads the project's ``.env``, as Motia's command line does (see
:mod:`steps.motia.environment`).
"""

from __future__ import annotations

import importlib
import importlib.abc
import importlib.machinery
import importlib.util
import pkgutil
import sys
from pathlib import Path
from types import ModuleType, TracebackType
from typing import Any

NAME = "motia"
PACKAGE = __name__.rsplit(".", 1)[0]
# Motia's modules that have another name here: a ``*_stream.py`` file of an installed app (and
# this one is) is taken for a stream definition.
RENAMED = {"types_stream": "stream_config"}


class MotiaFinder(importlib.abc.MetaPathFinder):
    """Finds ``motia`` and its modules as this package's, when nothing else does."""

    def find_spec(
        self, fullname: str, path: Any = None, target: ModuleType | None = None
    ) -> importlib.machinery.ModuleSpec | None:
        if fullname != NAME:
            return None  # its modules are in sys.modules once it is loaded (see _alias_all)
        return importlib.util.spec_from_loader(fullname, _AliasLoader(), is_package=True)


class _AliasLoader(importlib.abc.Loader):
    """Gives the already loaded package: ``motia`` is ``steps.motia``."""

    def create_module(self, spec: importlib.machinery.ModuleSpec) -> ModuleType:
        package = importlib.import_module(PACKAGE)
        self._spec = package.__spec__
        _alias_all(package)
        return package

    def exec_module(self, module: ModuleType) -> None:
        """Nothing to run (the package ran as it was imported under its own name); it keeps
        its own spec, which the import system replaced with the alias's."""
        module.__spec__ = self._spec


def _alias_all(package: ModuleType) -> None:
    """Put each module of the package in ``sys.modules`` as ``motia.<module>`` too: a module
    imported under that name must be the same object, not a copy run again."""
    from .environment import load_dotenv

    load_dotenv()
    names = {info.name: info.name for info in pkgutil.iter_modules(package.__path__)}
    for alias, name in {**names, **RENAMED}.items():
        module = importlib.import_module(f"{PACKAGE}.{name}")
        sys.modules.setdefault(f"{NAME}.{alias}", module)
    for alias, name in RENAMED.items():
        setattr(package, alias, sys.modules[f"{PACKAGE}.{name}"])
    package.publish()


_finder = MotiaFinder()


def install() -> None:
    """Put the finder at the end of ``sys.meta_path`` (once)."""
    if not any(isinstance(finder, MotiaFinder) for finder in sys.meta_path):
        sys.meta_path.append(_finder)


def uninstall() -> None:
    sys.meta_path[:] = [f for f in sys.meta_path if not isinstance(f, MotiaFinder)]


def installed_motia() -> importlib.machinery.ModuleSpec | None:
    """The spec of a ``motia`` package another finder finds (Motia's own, installed), not
    importing it; None when there is none."""
    for finder in sys.meta_path:
        if isinstance(finder, MotiaFinder):
            continue
        find_spec = getattr(finder, "find_spec", None)
        if find_spec is None:
            continue
        try:
            spec = find_spec(NAME, None)
        except (ImportError, ValueError):
            continue
        if spec is not None:
            return spec  # type: ignore[no-any-return]  # MetaPathFinder.find_spec's is loose
    return None


def installed_motia_directory() -> Path | None:
    spec = installed_motia()
    if spec is None:
        return None
    if spec.submodule_search_locations:
        return Path(next(iter(spec.submodule_search_locations)))
    return Path(spec.origin).parent if spec.origin else None


def explain_import_failure(module: str, error: BaseException) -> str | None:
    """Why ``module`` failed to import, when ``motia`` is why: an installed ``motia`` (its
    import raised inside that package), or a name this engine's Motia API does not have (one
    of an older Motia); None otherwise."""
    directory = installed_motia_directory()
    if directory is None:
        return _missing_name(error)
    if not _raised_in(error.__traceback__, directory) and not (
        isinstance(error, ImportError) and error.name in (NAME, "iii")
    ):
        return None
    return (
        f"imports the 'motia' package installed at {directory}, which cannot run here "
        f"({type(error).__name__}: {error}); see motia.E001"
    )


def _raised_in(traceback: TracebackType | None, directory: Path) -> bool:
    root = str(directory)
    while traceback is not None:
        if traceback.tb_frame.f_code.co_filename.startswith(root):
            return True
        traceback = traceback.tb_next
    return False


def _missing_name(error: BaseException) -> str | None:
    """A name or module of ``motia`` that Motia 1.0's Python API does not have."""
    if not isinstance(error, ImportError):
        return None
    ours = error.name == PACKAGE and error.path is not None
    if not ours and not (error.name or "").startswith(f"{NAME}."):
        return None
    return (
        f"{error}: Motia 1.0's Python API has no such name (this engine provides 1.0's, "
        "docs/motia.md; older Motia names, such as 'event' or 'emits', are not part of it)"
    )
