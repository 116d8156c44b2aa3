"""Motia 1.0's Python API, on this engine: what ``import motia`` gives here.

Step and stream files written for Motia (``from motia import http, Stream, logger``) run
unchanged: the steps app makes ``import motia`` find this package (:mod:`.importing`) when
Motia's own is not installed, and the step registry translates each Motia step into the
engine's (:mod:`.adapter`). One module per concept, as Motia's own package has them: ``types``,
``triggers``, ``step``, ``multi_trigger``, ``streams``, ``state``, ``enqueue``, ``logger``,
``guards`` ...; docs/motia.md is the guide.

The names are loaded on first use, so that the steps app can install the import hook before
Django's apps are ready (importing this package alone imports nothing else).
"""

import importlib
import threading
from types import ModuleType
from typing import Any

# Whether this thread is loading the names (then a name not bound yet is a submodule).
_loading = threading.local()


def __getattr__(name: str) -> Any:
    # While the names load, a name not bound yet is a submodule being imported.
    if getattr(_loading, "active", False) or (name.startswith("__") and name != "__all__"):
        raise AttributeError(name)
    exports = publish()
    if name == "__all__":
        return exports.__all__
    if name in exports.__all__:
        return globals()[name]
    raise AttributeError(f"module 'motia' has no attribute {name!r}")


def publish() -> ModuleType:
    """Load the public names and bind them here, over the modules of the same name (as
    Motia's package has it: ``motia.state`` is the trigger helper, ``motia.logger`` the
    logger)."""
    _loading.active = True
    try:
        exports = importlib.import_module(f"{__name__}.exports")
    finally:
        _loading.active = False
    globals().update((name, getattr(exports, name)) for name in exports.__all__)
    return exports
