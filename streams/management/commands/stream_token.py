"""``manage.py stream_token USER_ID [--role ROLE]``: print a signed stream token."""

from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from ...sockets import issue_token


class Command(BaseCommand):
    help = "Print a signed token for the example authenticate_stream (valid for 24 hours)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("user_id")
        parser.add_argument("--role", default="user")

    def handle(self, *args: Any, **options: Any) -> None:
        self.stdout.write(issue_token(options["user_id"], options["role"]))
