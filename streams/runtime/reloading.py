"""``runserver`` restarts when a step or stream file is added, renamed or deleted.

Django's autoreloader restarts the development server when a module it imported changes. A
``*_step.py`` added since the start was never imported, and a deleted one can no longer be
read, so neither restarted it (and Django's ``StatReloader`` ignores a file the first time it
sees it, so watching a glob of them would not help). Each engine app calls
:func:`watch_definitions` with the file suffix it discovers, before it imports its
definitions; in the process that Django's reloader runs (and only there), that starts a
thread once the reloader does:

- it looks at the folders of every installed app four times a second (a folder's modification
  time changes when a file in it is added, removed or renamed), against their times from
  before the definitions were imported, so that nothing written meanwhile is missed;
- when one changed, it compares the definition files on disk with those the process loaded,
  and the folders with those it looks at. A new ``__pycache__``, an editor's swap file or a
  new ``.txt`` change nothing; a definition file added or removed, or a new folder that could
  hold some, restarts the server: the reloader's thread is asked to exit as Django's own
  reload does (exit code 3), through a signal that only that process handles;
- it looks at the definition files it loaded too: Django's reloader takes the times of the
  files it watches only once it started, after the checks, and misses an edit made in
  between (the fix of a step that the checks have just reported).
"""

import logging
import os
import signal
import threading
from collections.abc import Iterable, Mapping
from pathlib import Path
from types import FrameType
from typing import Any

from django.apps import apps
from django.utils import autoreload

from . import lifecycle
from .discovery import definition_files, skipped

logger = logging.getLogger("streams.reloading")

INTERVAL = 0.25
"""Seconds between two looks at the folders (about 3 ms each, for 900 folders: 1% of a core)."""
# The signal by which the watching thread asks the reloader's (main) thread to restart.
RELOAD_SIGNAL = getattr(signal, "SIGUSR1", None)  # none on Windows: no watching there


def app_folders(root: Path) -> set[Path]:
    """``root`` and the folders under it that discovery looks into."""
    folders = {root}
    for folder, subfolders, _files in os.walk(root):
        relative = Path(folder).relative_to(root)
        subfolders[:] = [name for name in subfolders if not skipped(relative / name)]
        folders.update(Path(folder, name) for name in subfolders)
    return folders


Files = Mapping[Path, int | None]
"""Definition files and their modification times."""


def differences(
    loaded: Mapping[str, Files],
    on_disk: Mapping[str, Files],
    watched_folders: frozenset[Path],
    folders: frozenset[Path],
) -> list[tuple[Path, str]]:
    """What a process that loaded ``loaded`` (definition files by suffix) and looks at
    ``watched_folders`` would miss, given what is on disk: ``(path, "added" | "removed" |
    "changed" | "folder added")``; empty when it misses nothing. A folder that went away is
    not missed: the definitions it held are."""
    found = []
    for suffix, before in loaded.items():
        now = on_disk.get(suffix, {})
        found += [(path, "added") for path in sorted(now.keys() - before.keys())]
        found += [(path, "removed") for path in sorted(before.keys() - now.keys())]
        found += [
            (path, "changed")
            for path in sorted(now.keys() & before.keys())
            if now[path] != before[path]
        ]
    found += [(path, "folder added") for path in sorted(folders - watched_folders)]
    return found


def describe(found: Iterable[tuple[Path, str]], roots: Iterable[Path]) -> str:
    """``found`` for the log, a path under an app's folder (of ``roots``) as ``app/...``."""
    parents = [root.parent for root in roots]

    def shown(path: Path) -> str:
        parent = next((parent for parent in parents if path.is_relative_to(parent)), None)
        return str(path.relative_to(parent)) if parent else str(path)

    return "; ".join(
        f"folder {shown(path)} added" if change == "folder added" else f"{shown(path)} {change}"
        for path, change in found
    )


def modified(path: Path) -> int | None:
    """``path``'s modification time (None once it is gone)."""
    try:
        return os.stat(path).st_mtime_ns
    except OSError:
        return None


class DefinitionWatch:
    """The apps' folders, the definition files a process loaded (by suffix), and the
    modification times of both when last seen."""

    def __init__(self, roots: Iterable[Path]) -> None:
        self.roots = tuple(root.resolve() for root in roots)
        self.folders = self.folders_on_disk()
        self.loaded: dict[str, Files] = {}
        self.times = self.watched_times()

    def load(self, suffix: str) -> None:
        """Remember the files of ``suffix`` now on disk: those the app is about to import."""
        self.loaded[suffix] = self.files_on_disk(suffix)
        self.times.update(self.loaded[suffix])  # the folders' times stay those seen first

    def files_on_disk(self, suffix: str) -> Files:
        files = (file for root in self.roots for file in definition_files(root, suffix))
        return {file: modified(file) for file in files}

    def folders_on_disk(self) -> frozenset[Path]:
        return frozenset(folder for root in self.roots for folder in app_folders(root))

    def watched_times(self) -> dict[Path, int | None]:
        """The modification times of the folders and of the files loaded."""
        files = [file for loaded in self.loaded.values() for file in loaded]
        return {path: modified(path) for path in (*self.folders, *files)}

    def missed(self) -> list[tuple[Path, str]]:
        """What changed on disk since the definitions were loaded (see :func:`differences`)."""
        on_disk = {suffix: self.files_on_disk(suffix) for suffix in self.loaded}
        return differences(self.loaded, on_disk, self.folders, self.folders_on_disk())

    def look(self) -> list[tuple[Path, str]]:
        """:meth:`missed`, worked out only when a folder or a file changed since the last
        look."""
        times = self.watched_times()
        if times == self.times:
            return []
        missed = self.missed()
        if not missed:
            self.times = times  # nothing that matters: changes count from here on
        return missed


_watch: DefinitionWatch | None = None


def watch_definitions(suffix: str) -> None:
    """Restart ``runserver`` when a file whose name ends with ``suffix`` is added to, renamed
    in or deleted from an installed app. Call it from ``AppConfig.ready()`` before importing
    those files; it does nothing outside the process of Django's reloader."""
    global _watch
    if RELOAD_SIGNAL is None or os.environ.get(autoreload.DJANGO_AUTORELOAD_ENV) != "true":
        return
    if _watch is None:
        _watch = DefinitionWatch(Path(app.path) for app in apps.get_app_configs())
        autoreload.autoreload_started.connect(
            _reloader_started, dispatch_uid="streams.reloading", weak=False
        )
    _watch.load(suffix)


def _reloader_started(sender: autoreload.BaseReloader, **kwargs: Any) -> None:
    """In the reloader's thread (the main one): handle the signal, start looking."""
    assert _watch is not None and RELOAD_SIGNAL is not None
    watch = _watch
    reason: list[Path] = []

    def reload(signum: int, frame: FrameType | None) -> None:
        autoreload.trigger_reload(str(reason[0]))  # exits with 3: Django starts a new process

    def look(stopping: threading.Event) -> None:
        while not stopping.wait(INTERVAL):
            missed = watch.look()
            if missed:
                logger.info("%s", describe(missed, watch.roots))
                reason.append(missed[0][0])
                os.kill(os.getpid(), RELOAD_SIGNAL)
                return

    signal.signal(RELOAD_SIGNAL, reload)
    # Started here, stopped by streams.runtime.lifecycle with the engine's other threads.
    lifecycle.register(
        "reloading",
        lifecycle.Stage.WATCH,
        lambda: lifecycle.LoopThread(look, "streams.reloading"),
        lifecycle.LoopThread.stop,
    ).ensure()
