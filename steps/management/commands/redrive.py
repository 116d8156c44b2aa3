"""``manage.py redrive [ID ...] [--step NAME] [--all]``: send dead letters again.

Nothing is lost: a letter is marked re-driven once the broker took its message, and the
command refuses (exit 1, every letter left as it was) what it cannot send to a worker: on the
in-process broker, where this process has no worker (see :mod:`steps.redrive`), and ids or
steps that do not exist."""

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from steps.models import DeadLetter
from steps.redrive import CannotRedrive, RedriveStopped, redrive
from steps.registry import registry


class Command(BaseCommand):
    help = "Re-drive dead letters: by id, by step, or every one not re-driven yet (--all)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("ids", nargs="*", type=int)
        parser.add_argument("--step", help="only dead letters of this step")
        parser.add_argument("--all", action="store_true", help="every dead letter not re-driven")

    def handle(self, *args: Any, **options: Any) -> None:
        ids: list[int] = options["ids"]
        step: str | None = options["step"]
        if not (ids or options["all"] or step):
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
        try:
            count = redrive(selected, pending_only=not ids)
        except (CannotRedrive, RedriveStopped) as error:
            raise CommandError(str(error)) from error
        self.stdout.write(f"re-drove {count} dead letter(s)")
