"""What ``runserver`` restarts for (``streams.runtime.reloading``): the definition files and
folders an app's process would miss, worked out from folders on disk. The server itself is driven in
``tests/test_dev_server.py``."""

import os
from pathlib import Path

from streams.runtime.reloading import DefinitionWatch, app_folders, describe, differences


def touch(path: Path, text: str = "") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def later(path: Path) -> None:
    """Move a folder's modification time on, as a change a moment later would."""
    stat = os.stat(path)
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns + 10**9))


def test_differences_name_what_was_added_and_removed() -> None:
    app = Path("/p/app")
    loaded = {"_step.py": {app / "a_step.py": 1, app / "b_step.py": 1, app / "d_step.py": 1}}
    on_disk = {"_step.py": {app / "b_step.py": 1, app / "c_step.py": 2, app / "d_step.py": 2}}
    folders = frozenset({app})
    found = differences(loaded, on_disk, folders, folders | {app / "sub"})
    assert found == [
        (app / "c_step.py", "added"),
        (app / "a_step.py", "removed"),
        (app / "d_step.py", "changed"),
        (app / "sub", "folder added"),
    ]
    assert describe(found, [app]) == (
        "app/c_step.py added; app/a_step.py removed; app/d_step.py changed; folder app/sub added"
    )
    # A folder that went away is nothing to restart for; the same files, nothing either.
    assert differences(loaded, loaded, folders | {app / "old"}, folders) == []


def test_app_folders_are_those_discovery_looks_into(tmp_path: Path) -> None:
    for name in ("flows/todo", "migrations", "tests", "__pycache__", ".git", "node_modules/x"):
        (tmp_path / name).mkdir(parents=True)
    assert app_folders(tmp_path) == {tmp_path, tmp_path / "flows", tmp_path / "flows/todo"}


def test_a_look_finds_definition_files_and_folders_that_came_or_went(tmp_path: Path) -> None:
    app = tmp_path / "app"
    kept = touch(app / "kept_step.py")
    touch(app / "todo_stream.py")
    watch = DefinitionWatch([app])
    watch.load("_step.py")
    watch.load("_stream.py")
    assert watch.look() == []

    # Files that define nothing: the folder changed, but nothing to restart for.
    touch(app / "notes.txt")
    touch(app / ".kept_step.py.swp")
    (app / "__pycache__").mkdir()
    later(app)
    assert watch.look() == []

    new = touch(app / "new_step.py")
    later(app)
    assert watch.look() == [(new, "added")]
    assert watch.look() == [(new, "added")]  # until the process restarts
    new.unlink()
    kept.rename(app / "renamed_step.py")
    later(app)
    assert watch.look() == [(app / "renamed_step.py", "added"), (kept, "removed")]


def test_a_look_finds_a_loaded_file_edited_since(tmp_path: Path) -> None:
    """Django's reloader would miss it: it takes the times of its files after the checks."""
    step = touch(tmp_path / "app" / "a_step.py")
    watch = DefinitionWatch([tmp_path / "app"])
    watch.load("_step.py")
    later(step)
    assert watch.look() == [(step, "changed")]


def test_a_new_folder_counts(tmp_path: Path) -> None:
    app = tmp_path / "app"
    app.mkdir()
    watch = DefinitionWatch([app])
    watch.load("_step.py")
    (app / "flows").mkdir()
    later(app)
    assert watch.look() == [(app / "flows", "folder added")]
