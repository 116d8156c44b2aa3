"""``manage.py run_cron STEP``: run a cron step now, as beat would at a fire time."""

from typing import Any

from django.core.management.base import CommandParser

from ...definitions import registry
from ...running import Sent, fire_cron_now
from ..running import ManualRunCommand


class Command(ManualRunCommand):
    help = (
        "Run a cron step now (its first cron trigger), as beat would. With the embedded broker "
        "it runs in this command's process, which waits for it; with a real broker its workers "
        "run it."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("step", metavar="STEP", help="the cron step's name")
        super().add_arguments(parser)

    def send(self, options: dict[str, Any]) -> Sent:
        return fire_cron_now(
            options["step"], registry, origin="manage.py run_cron", trace_id=options["trace_id"]
        )
