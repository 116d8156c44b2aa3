"""``manage.py redrive [ID ...] [--step NAME] [--all]``: send dead letters again.

Nothing is lost: a letter is marked re-driven once the broker took its message, and the
command refuses (exit 1, every letter left as it was) ids and steps that do not exist, and
letters of steps the project no longer defines. On the embedded default (the in-process
broker) the command runs the re-driven messages in a worker of its own and waits for them, as
``manage.py enqueue`` does (:mod:`steps.management.running`)."""

from typing import Any

from celery import current_app
from django.core.management.base import CommandError, CommandParser
from django.utils import timezone

from ...conf import is_in_process_broker
from ...definitions import registry
from ...models import DeadLetter
from ...records import CannotRedrive, RedriveStopped, redrive
from ...running import InFlight, run_here
from ..running import ManualRunCommand


class Command(ManualRunCommand):
    help = (
        "Re-drive dead letters: by id, by step, or every one not re-driven yet (--all). With "
        "the embedded broker they run in this command's process, which waits for them; with a "
        "real broker its workers run them."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("ids", nargs="*", type=int)
        parser.add_argument("--step", help="only dead letters of this step")
        parser.add_argument("--all", action="store_true", help="every dead letter not re-driven")
        super().add_arguments(parser)

    def handle(self, *args: Any, **options: Any) -> None:
        since = timezone.now()
        selected = self._selected(options["ids"], options["step"], options["all"])
        here = is_in_process_broker(current_app.conf.broker_url)
        with InFlight() as in_flight:
            if here and selected:
                run_here()  # the in-process broker reaches this process's worker only
            try:
                count = redrive(selected, pending_only=not options["ids"])
            except (CannotRedrive, RedriveStopped) as error:
                raise CommandError(str(error)) from error
            self.stdout.write(f"re-drove {count} dead letter(s)")
            if here and count:
                traces = sorted({letter.trace_id for letter in selected})
                self.run_here_and_report(in_flight, traces, since, options)

    @staticmethod
    def _selected(ids: list[int], step: str | None, every: bool) -> list[DeadLetter]:
        if not (ids or every or step):
            raise CommandError("name dead letter ids, or use --step NAME or --all")
        if step is not None and step not in registry:
            raise CommandError(f"no step named {step!r} in this project")
        # Named letters even if re-driven before; otherwise those not re-driven yet.
        chosen: dict[str, Any] = {"id__in": ids} if ids else {"redriven_at__isnull": True}
        letters = DeadLetter.objects.filter(**chosen).order_by("id")
        if step is not None:
            letters = letters.filter(step_name=step)
        selected = list(letters)
        missing = sorted(set(ids) - {letter.pk for letter in selected})
        if missing:
            which = "" if step is None else f" of step {step!r}"
            raise CommandError(f"no dead letter{which} with id {', '.join(map(str, missing))}")
        return selected
