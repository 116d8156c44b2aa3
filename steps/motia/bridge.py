"""``motia.bridge``: Motia's old name of its iii client, made as the module is imported. Here
the module imports, and reading ``bridge`` raises
:class:`~steps.motia.unavailable.NotAvailableHere`."""

from typing import NoReturn

from .iii import get_instance


def __getattr__(name: str) -> NoReturn:
    if name == "bridge":
        get_instance()
    raise AttributeError(name)
