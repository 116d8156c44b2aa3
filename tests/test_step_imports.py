"""The step engine's modules import each other in one direction: no cycle, even through an
import inside a function (which would only hide one); ``streams`` never imports ``steps``
(the stream engine serves without the step engine); and ``steps`` reaches ``streams`` only
through its packages' public faces (each package's ``__init__``), whose names all resolve."""

import ast
import importlib
from graphlib import CycleError, TopologicalSorter
from pathlib import Path
from typing import cast

import pytest

import steps
import streams
from streams.runtime import LazyExports

PACKAGE = Path(steps.__file__).parent


def dotted(path: Path) -> str:
    """The module a file of ``steps`` is."""
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def is_module(name: str) -> bool:
    where = PACKAGE.parent.joinpath(*name.split("."))
    return where.with_suffix(".py").exists() or (where / "__init__.py").exists()


def face_where(package: str) -> dict[str, str]:
    """A face's names and the modules of its package that define them (empty if none)."""
    init = PACKAGE.parent.joinpath(*package.split(".")) / "__init__.py"
    if not init.exists() or "LazyExports" not in init.read_text():
        return {}
    return cast(LazyExports, importlib.import_module(package).__getattr__).where


def imported_modules(path: Path, module: str | None = None) -> set[str]:
    """The ``steps`` modules that ``path`` (the module ``module``) imports, wherever the
    import is written; a name taken from a package's face is an import of its module."""
    module = module or f"steps.{path.stem}"
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                parts = package.split(".")
                parts = parts[: len(parts) - node.level + 1]
                base = ".".join(parts + ([node.module] if node.module else []))
            else:
                base = node.module or ""
            where = face_where(base) if base.startswith("steps") else {}
            for alias in node.names:
                if is_module(f"{base}.{alias.name}"):
                    names.add(f"{base}.{alias.name}")
                elif alias.name in where:
                    names.add(f"{base}.{where[alias.name]}")
                else:
                    names.add(base)
    return {name for name in names if name.startswith("steps.")}


def test_the_modules_of_steps_import_each_other_without_a_cycle() -> None:
    graph = {
        dotted(path): imported_modules(path, dotted(path))
        for path in PACKAGE.rglob("*.py")
        if path.name != "__init__.py" and "motia" not in path.parts
    }
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
    assert sorted(package.__all__) == sorted(cast(LazyExports, package.__getattr__).where)
    for name in package.__all__:
        assert getattr(package, name) is not None, name
