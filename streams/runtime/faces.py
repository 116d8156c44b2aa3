"""A package's public face, each name imported as it is first used.

Each package of the engine re-exports, in its ``__init__.py``, the few names other packages
use (its ``__all__``). Importing a face imports none of its modules: a name's module is
imported when the name is first looked up (a module ``__getattr__``, PEP 562), so the modules
import each other exactly as they would without faces. That matters before Django is set up:
``streams`` is imported as an installed app and the settings import the logging formats and
the pool options, while a sibling module of the same package (the store) imports the models.
"""

import sys
from collections.abc import Iterable, Mapping
from importlib import import_module
from typing import Any


class LazyExports:
    """The module ``__getattr__`` of a face: each name of ``names[module]`` is looked up in
    ``<package>.<module>``, each of ``modules`` is the module itself, on first use, and then
    kept in the package."""

    def __init__(
        self, package: str, names: Mapping[str, Iterable[str]], modules: Iterable[str] = ()
    ) -> None:
        self.package = package
        # name -> the module defining it (a module's own name: the module)
        self.where = {name: module for module, found in names.items() for name in found}
        self.where.update({module: module for module in modules})

    def __call__(self, name: str) -> Any:
        module = self.where.get(name)
        if module is None:
            raise AttributeError(f"module {self.package!r} has no attribute {name!r}")
        imported = import_module(f"{self.package}.{module}")
        value = imported if name == module else getattr(imported, name)
        setattr(sys.modules[self.package], name, value)
        return value
