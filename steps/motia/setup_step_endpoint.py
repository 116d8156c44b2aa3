"""``setup_step_endpoint``: serves step sources to Motia's tools through iii. Not available
here (the dashboard and ``GET /api/flows`` describe the steps)."""

from typing import Any, NoReturn

from .unavailable import NotAvailableHere


def setup_step_endpoint(iii: Any) -> NoReturn:
    raise NotAvailableHere(
        "motia.setup_step_endpoint()", "the dashboard and GET /api/flows describe the steps"
    )
