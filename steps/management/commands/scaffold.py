"""``manage.py scaffold APP_LABEL --stream NAME [--step NAME [--trigger KIND]]``: write a new
stream module and/or step module into an app's folder, from templates, as ``startapp`` does."""

import sysconfig
from pathlib import Path
from typing import Any

from django.apps import AppConfig, apps
from django.core.management.base import BaseCommand, CommandError, CommandParser

from streams.definitions import registry as streams

from ...definitions import registry as steps
from ..scaffolding import (
    TEMPLATES,
    TRIGGERS,
    Module,
    ScaffoldError,
    check_step_name,
    check_stream_name,
    step_module,
    stream_module,
)

ENGINE_APPS = {"streams", "steps"}


class Command(BaseCommand):
    help = (
        "Write a new stream (<app>/<name>_stream.py) and/or a new step (<app>/<name>_step.py) "
        "into an installed app. The step is an http step that sets an item of the stream, "
        "unless --trigger says otherwise. Existing files are never overwritten."
    )
    # Like startapp: a project whose definitions do not pass the checks yet can still grow.
    requires_system_checks: list[str] = []

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("app_label", help="the installed app to write into")
        parser.add_argument(
            "--stream",
            metavar="NAME",
            help="the stream: written when no stream of that name exists yet, and the one "
            "the step writes to (or, with --trigger stream, reacts to)",
        )
        parser.add_argument("--step", metavar="NAME", help="the step's name, e.g. CreateOrder")
        parser.add_argument(
            "--trigger",
            choices=TRIGGERS,
            help="what runs the step (default: http)",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        stream_name, step_name = options["stream"], options["step"]
        trigger = options["trigger"]
        if stream_name is None and step_name is None:
            raise CommandError("name a new stream (--stream NAME), a step (--step NAME), or both")
        if trigger is not None and step_name is None:
            raise CommandError("--trigger goes with --step")
        try:
            if stream_name is not None:
                check_stream_name(stream_name)
            if step_name is not None:
                check_step_name(step_name)
        except ScaffoldError as error:
            raise CommandError(str(error)) from None
        app = self.target_app(options["app_label"])
        modules = self.modules(app, stream_name, step_name, trigger or "http")
        directory = Path(app.path)
        targets = [(directory / module.filename, module) for module in modules]
        for path, _ in targets:
            if path.exists():
                raise CommandError(f"{path} already exists: scaffold never overwrites a file")
        for path, module in targets:
            source = module.render((TEMPLATES / module.template).read_text(encoding="utf-8"))
            with path.open("x", encoding="utf-8") as file:  # "x": never over a file made since
                file.write(source)
            self.stdout.write(f"Created {path}")

    def target_app(self, label: str) -> AppConfig:
        """The installed app of that label, if it is one of the project's own."""
        try:
            app = apps.get_app_config(label)
        except LookupError:
            labels = ", ".join(sorted(config.label for config in apps.get_app_configs()))
            raise CommandError(
                f"no installed app has the label {label!r} (installed: {labels})"
            ) from None
        if app.name in ENGINE_APPS:
            raise CommandError(
                f"{label!r} is the engine itself: write your streams and steps into an app of "
                "your own (manage.py startapp makes one)"
            )
        path = Path(app.path).resolve()
        installed = {Path(sysconfig.get_path(kind)).resolve() for kind in ("purelib", "platlib")}
        if any(path.is_relative_to(directory) for directory in installed):
            raise CommandError(
                f"{label!r} is installed in {path.parent}: scaffold writes into your own apps"
            )
        return app

    def modules(
        self, app: AppConfig, stream_name: str | None, step_name: str | None, trigger: str
    ) -> list[Module]:
        """The stream module (when the stream is new) and the step module to write."""
        new_stream = stream_name is not None and stream_name not in streams
        if stream_name is not None and not new_stream and step_name is None:
            raise CommandError(
                f"a stream named {stream_name!r} is already defined: name a new one, or add "
                "--step NAME to write a step for it"
            )
        if step_name is not None and step_name in steps:
            module = steps.get(step_name).module
            raise CommandError(f"a step named {step_name!r} is already defined ({module})")
        modules = []
        try:
            if stream_name is not None and new_stream:
                modules.append(stream_module(stream_name))
            if step_name is not None:
                modules.append(
                    step_module(step_name, trigger, app.label, stream_name, new_stream=new_stream)
                )
        except ScaffoldError as error:
            raise CommandError(str(error)) from None
        return modules
