"""``manage.py redrive [ID ...] [--step NAME] [--all]``: send dead letters again."""

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from steps.models import DeadLetter
from steps.tasks import redrive


class Command(BaseCommand):
    help = "Re-drive dead letters: by id, by step, or every one not re-driven yet (--all)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("ids", nargs="*", type=int)
        parser.add_argument("--step", help="only dead letters of this step")
        parser.add_argument("--all", action="store_true", help="every dead letter not re-driven")

    def handle(self, *args: Any, **options: Any) -> None:
        letters = DeadLetter.objects.all()
        if options["ids"]:
            letters = letters.filter(id__in=options["ids"])
        elif options["all"] or options["step"]:
            letters = letters.filter(redriven_at__isnull=True)
        else:
            raise CommandError("name dead letter ids, or use --step NAME or --all")
        if options["step"]:
            letters = letters.filter(step_name=options["step"])
        count = 0
        for letter in letters.order_by("id"):
            redrive(letter)
            count += 1
        self.stdout.write(f"re-drove {count} dead letter(s)")
