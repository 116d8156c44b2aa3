"""``get_instance`` and ``init_iii``: Motia's client of its iii engine. There is no iii engine
here, so both raise :class:`~steps.motia.unavailable.NotAvailableHere`; step files only name
them, and the engine does what they were for."""

from typing import Any, NoReturn

from .unavailable import NotAvailableHere

_INSTEAD = "Django registers the steps and streams and serves them itself"


def get_instance() -> NoReturn:
    raise NotAvailableHere("motia.get_instance()", _INSTEAD)


def init_iii(otel_config: dict[str, Any] | None = None) -> NoReturn:
    raise NotAvailableHere("motia.init_iii()", _INSTEAD)
