"""Motia APIs that drive Motia's own engine (iii), which Django replaces here."""

GUIDE = "docs/motia.md"


class NotAvailableHere(RuntimeError):
    """A Motia API that talks to Motia's iii engine: there is none here."""

    def __init__(self, api: str, instead: str) -> None:
        super().__init__(
            f"{api} drives Motia's iii engine, which does not run here: {instead} "
            f"(see {GUIDE} of motia-django)"
        )
