"""The step engine's modules import each other in one direction: no cycle, even through an
import inside a function (which would only hide one); ``streams`` never imports ``steps``
(the stream engine serves without the step engine); and ``steps`` reaches ``streams`` only
through its packages' public faces (each package's ``__init__``), whose names all resolve."""

import ast
import importlib
from graphlib import CycleError, TopologicalSorter
from pathlib import Path

import pytest

import steps
import streams

PACKAGE = Path(steps.__file__).parent


def imported_modules(path: Path) -> set[str]:
    """The ``steps`` modules that ``path`` imports, wherever the import is written."""
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            if node.level and node.module is None:  # from . import x
                names |= {f"steps.{alias.name}" for alias in node.names}
            else:
                names.add(f"steps.{node.module}" if node.level else node.module or "")
    return {name for name in names if name.startswith("steps.")}


def test_the_modules_of_steps_import_each_other_without_a_cycle() -> None:
    graph = {f"steps.{path.stem}": imported_modules(path) for path in PACKAGE.glob("*.py")}
    try:
        tuple(TopologicalSorter(graph).static_order())
    except CycleError as error:
        pytest.fail(f"import cycle: {' -> '.join(error.args[1])}")


def test_the_walk_sees_imports_inside_functions(tmp_path: Path) -> None:
    """The check above cannot pass for want of looking: a lazy import is an edge too."""
    path = tmp_path / "lazy.py"
    path.write_text("def f():\n    from .queue import enqueue\n    from . import tasks\n")
    assert imported_modules(path) == {"steps.queue", "steps.tasks"}


def test_streams_never_imports_steps() -> None:
    importers = [
        str(path.relative_to(ROOT))
        for path in Path(streams.__file__).parent.rglob("*.py")
        if any(name == "steps" or name.startswith("steps.") for name in all_imports(path))
    ]
    assert importers == []


ROOT = PACKAGE.parent


def all_imports(path: Path) -> set[str]:
    """Every module ``path`` imports absolutely, wherever the import is written."""
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and not node.level:
            names.add(node.module or "")
    return names


def face_packages(app: str) -> list[str]:
    """The packages of ``app`` with a public face (a lazy ``__getattr__``)."""
    root = ROOT / app
    return sorted(
        f"{app}.{init.parent.name}"
        for init in root.glob("*/__init__.py")
        if "LazyExports" in init.read_text()
    )


def internal_imports(path: Path) -> list[str]:
    """The modules inside a package of ``streams`` that ``path`` imports by their own name
    (``streams.<package>.<module>``), wherever the import is written."""
    faces = set(face_packages("streams"))
    return sorted(
        name
        for name in all_imports(path)
        if name.count(".") >= 2 and name.rpartition(".")[0] in faces
    )


def test_steps_imports_only_the_faces_of_streams() -> None:
    importers = {
        str(path.relative_to(ROOT)): internal_imports(path)
        for path in sorted(PACKAGE.rglob("*.py"))
        if internal_imports(path)
    }
    assert importers == {}


def test_the_face_check_sees_an_internal_import(tmp_path: Path) -> None:
    path = tmp_path / "reaching.py"
    path.write_text(
        "from streams.storage import Streams\n"
        "def f():\n    from streams.publishing.broadcast import published\n"
    )
    assert internal_imports(path) == ["streams.publishing.broadcast"]


@pytest.mark.parametrize("face", face_packages("streams") + face_packages("steps"))
def test_every_name_of_a_face_is_there(face: str) -> None:
    """A face's ``__all__`` is what its ``__getattr__`` knows, and each name resolves."""
    package = importlib.import_module(face)
    assert sorted(package.__all__) == sorted(package.__getattr__.where)
    for name in package.__all__:
        assert getattr(package, name) is not None, name
