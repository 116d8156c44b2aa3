"""``manage.py steps [--json]``: list the project's steps by flow, with triggers and enqueues."""

import json
from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from ...definitions import flows_overview, format_overview, registry


class Command(BaseCommand):
    help = (
        "List the steps by flow: one line per step with its triggers and '-> topics' it "
        "enqueues. --json prints what GET /api/flows returns."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--json", action="store_true", help="print the overview as JSON (as GET /api/flows)"
        )

    def handle(self, *args: Any, **options: Any) -> None:
        overview = flows_overview(registry)
        if options["json"]:
            self.stdout.write(json.dumps(overview, indent=2))
        else:
            self.stdout.write(format_overview(overview))
