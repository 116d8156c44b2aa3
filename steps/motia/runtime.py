"""``Motia``: Motia's runtime, which registers steps and streams with its iii engine. Here the
steps app finds them in every installed app and registers them itself, so making one raises
:class:`~steps.motia.unavailable.NotAvailableHere`."""

from typing import Any

from .unavailable import NotAvailableHere


class Motia:
    """Motia's runtime manager (not available here)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        raise NotAvailableHere(
            "motia.Motia()",
            "put the step and stream files in an installed app, where discovery registers "
            "them; stream authentication is the STREAMS_AUTHENTICATE setting",
        )
