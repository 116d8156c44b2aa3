"""``manage.py enqueue TOPIC JSON``: send a message to a topic now, as a step would."""

import sys
from typing import Any

from django.core.management.base import CommandParser

from ...definitions import registry
from ...running import Sent, enqueue_now, parse_json
from ..running import ManualRunCommand


class Command(ManualRunCommand):
    help = (
        "Enqueue a message now: every step subscribed to TOPIC runs with JSON as its input "
        "(checked against each one's input schema first). With the embedded broker the steps "
        "run in this command's process, which waits for them; with a real broker its workers "
        "run them."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("topic")
        parser.add_argument("data", metavar="JSON", help="the message's data ('-': read stdin)")
        super().add_arguments(parser)

    def send(self, options: dict[str, Any]) -> Sent:
        text = sys.stdin.read() if options["data"] == "-" else options["data"]
        return enqueue_now(
            options["topic"],
            parse_json(text),
            registry,
            origin="manage.py enqueue",
            trace_id=options["trace_id"],
        )
