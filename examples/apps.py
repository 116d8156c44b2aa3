from django.apps import AppConfig


class ExamplesConfig(AppConfig):
    """The seed's example flows, written as any project using the engine writes its own: each
    folder holds a flow's streams (``*_stream.py``) and steps (``*_step.py``), found by the
    engine's discovery. Also the live demo page and the seed's ``authenticate_stream``."""

    name = "examples"
    verbose_name = "Example flows"
