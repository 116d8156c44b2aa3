"""What ``manage.py scaffold`` writes: the names it derives and checks, and the modules it
renders from ``commands/scaffold_templates/`` (``*.py-tpl``, as ``startapp`` ships its own).

Pure: the command (``commands/scaffold.py``) looks the app and the registries up and writes
the files.
"""

import keyword
import re
from dataclasses import dataclass, field
from pathlib import Path

from django.template import Context, Engine

TEMPLATES = Path(__file__).resolve().parent / "commands" / "scaffold_templates"
TRIGGERS = ("http", "queue", "stream", "cron")
# What a step of each trigger needs a stream for (the others may write to one if given).
NEEDS_STREAM = {
    "http": "the stream whose item its handler sets",
    "stream": "the stream whose changes run it",
}
# In snake_case (the module's name): long enough for the names people give, short enough
# that every generated line stays within 100 columns.
MAX_STREAM_NAME = 32
MAX_STEP_NAME = 40
_NAME = re.compile(r"[A-Za-z][A-Za-z0-9_]*")
_WORD_START = re.compile(r"(?<=[a-z0-9])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])")


class ScaffoldError(ValueError):
    """A name or a combination of options that the command refuses."""


def snake_case(name: str) -> str:
    """``parallelMerge`` -> ``parallel_merge``, ``CreateHTTPLink`` -> ``create_http_link``."""
    return _WORD_START.sub("_", name).lower()


def camel_case(name: str) -> str:
    """``parallelMerge`` and ``parallel_merge`` -> ``ParallelMerge``."""
    return "".join(part[:1].upper() + part[1:] for part in snake_case(name).split("_"))


def check_stream_name(name: str) -> None:
    """A stream is reached as ``ctx.streams.<name>``: it must be a Python identifier."""
    if not _NAME.fullmatch(name) or keyword.iskeyword(name):
        raise ScaffoldError(
            f"{name!r} is not a valid stream name: use letters, digits and underscores, "
            "starting with a letter, and no Python keyword (ctx.streams.<name> reaches it)"
        )
    _check_length("stream", name, MAX_STREAM_NAME)


def check_step_name(name: str) -> None:
    """A step's name also names its module (``CreateOrder`` -> ``create_order_step.py``)."""
    if not _NAME.fullmatch(name):
        raise ScaffoldError(
            f"{name!r} is not a valid step name: use letters, digits and underscores, "
            "starting with a letter (for example CreateOrder)"
        )
    _check_length("step", name, MAX_STEP_NAME)


def _check_length(kind: str, name: str, most: int) -> None:
    if len(snake_case(name)) > most:
        raise ScaffoldError(
            f"{kind} name {name!r} is too long: at most {most} characters in snake_case "
            f"({snake_case(name)})"
        )


@dataclass(frozen=True)
class Module:
    """One module to write into the app's folder: its file name, its template and what the
    template is rendered with."""

    filename: str
    template: str
    context: dict[str, str] = field(default_factory=dict)

    def render(self, template_text: str) -> str:
        """The module's source, from its template's text (``autoescape`` off: it is Python)."""
        return Engine().from_string(template_text).render(Context(self.context, autoescape=False))


def stream_module(stream_name: str) -> Module:
    """``<snake>_stream.py``: a pydantic model of the items and ``config = StreamConfig(...)``."""
    check_stream_name(stream_name)
    return Module(
        f"{snake_case(stream_name)}_stream.py",
        "stream.py-tpl",
        {"stream_name": stream_name, "model": item_model(stream_name)},
    )


def item_model(stream_name: str) -> str:
    """The class name of a new stream's items: ``notes`` -> ``NotesItem``."""
    return f"{camel_case(stream_name)}Item"


def step_module(
    step_name: str,
    trigger: str,
    flow: str,
    stream_name: str | None = None,
    *,
    new_stream: bool = False,
) -> Module:
    """``<snake>_step.py``: a config with one trigger of kind ``trigger`` and its handler.

    With ``stream_name``, the handler writes to that stream (a stream step reads it); a stream
    written in the same run (``new_stream``) is also the http step's documented response.
    """
    check_step_name(step_name)
    if trigger not in TRIGGERS:
        raise ScaffoldError(f"unknown trigger {trigger!r}: choose one of {', '.join(TRIGGERS)}")
    if stream_name is None and trigger in NEEDS_STREAM:
        raise ScaffoldError(
            f"a step with a {trigger} trigger needs --stream NAME: {NEEDS_STREAM[trigger]}"
        )
    context = {"step_name": step_name, "flow": flow, "topic": f"{flow}.{kebab(step_name)}"}
    if stream_name is not None:
        check_stream_name(stream_name)
        context["stream_name"] = stream_name
        context["url_name"] = kebab(stream_name)
        if new_stream:
            context["model"] = item_model(stream_name)
            context["stream_module"] = f"{snake_case(stream_name)}_stream"
    return Module(f"{snake_case(step_name)}_step.py", f"{trigger}_step.py-tpl", context)


def kebab(name: str) -> str:
    """``parallelMerge`` -> ``parallel-merge`` (a URL path, a topic)."""
    return snake_case(name).replace("_", "-")
