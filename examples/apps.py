from django.apps import AppConfig


class ExamplesConfig(AppConfig):
    """The example flows of Motia's streaming guide, written as any project using the engine
    writes its own: each folder holds a flow's streams (``*_stream.py``) and steps
    (``*_step.py``), found by the engine's discovery. Also the live demo page and the guide's
    ``authenticate_stream``."""

    name = "examples"
    verbose_name = "Example flows"
