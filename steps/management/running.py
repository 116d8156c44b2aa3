"""What ``manage.py enqueue`` and ``run_cron`` share: send by hand, then either run here and
wait (the embedded broker) or leave the runs to the broker's workers, and report.

On the embedded default the broker is ``memory://``, the memory of one process: a command
cannot reach a running server's embedded worker through it. The command then runs the steps in
its own process, with a worker of its own, waits until they (and what they caused) are done,
and prints their runs. Their stream changes are committed to the database, but a running
embedded server's in-memory channel layer does not hear of them: its subscribers see them on
their next join. With a real broker the command only sends; the workers run the steps.
"""

from collections.abc import Callable
from datetime import datetime
from typing import Any

from celery import current_app
from channels.layers import get_channel_layer
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.urls import NoReverseMatch, reverse
from django.utils import timezone

from streams.publishing import crosses_processes

from ..conf import is_in_process_broker
from ..http import check_broker
from ..models import DeadLetter, StepRun
from ..running import InFlight, ManualRunError, Sent, run_here, sender

# Seconds a command waits, by default, for the steps it runs itself.
DEFAULT_TIMEOUT = 60.0


def trace_url(trace_id: str) -> str:
    """The dashboard's page of a trace, or a note when the project serves no dashboard."""
    try:
        return reverse("dashboard-trace", args=[trace_id])
    except NoReverseMatch:
        return "(this project serves no dashboard)"


class ManualRunCommand(BaseCommand):
    """A command that sends something by hand (:meth:`send`) and reports what it ran."""

    origin = "manage.py"

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--trace-id", help="the trace id to run under (default: a new one)")
        parser.add_argument(
            "--timeout",
            type=float,
            default=DEFAULT_TIMEOUT,
            help="with the embedded broker: seconds to wait for the runs (default: %(default)s)",
        )

    def send(self, options: dict[str, Any]) -> Sent:
        raise NotImplementedError

    def handle(self, *args: Any, **options: Any) -> None:
        since = timezone.now()
        here = is_in_process_broker(current_app.conf.broker_url)
        if not here:
            try:
                check_broker()  # nothing is sent to a broker that is away
            except Exception as error:
                raise CommandError(f"the broker cannot be reached: {error}") from None
        with InFlight() as in_flight:
            sent = self._checked(lambda: self.send(options))
            steps = ", ".join(sent.steps)
            self.stdout.write(f"Sent {sent.what}: runs {steps}")
            self.stdout.write(f"Trace {sent.trace_id}: {trace_url(sent.trace_id)}")
            if not here:
                if not sender.wait_sent(options["timeout"]):
                    raise CommandError("the broker did not take the message")
                self.stdout.write("The broker's workers run it (see the trace for its runs).")
                return
            self.run_here_and_report(in_flight, [sent.trace_id], since, options)

    def run_here_and_report(
        self, in_flight: InFlight, trace_ids: list[str], since: datetime, options: dict[str, Any]
    ) -> None:
        """On the in-process broker: run what was sent in this process's own worker, wait for
        it (and what it caused), and report the runs of ``trace_ids`` from ``since`` on."""
        self.stdout.write(
            "The broker is in-process (memory://), which reaches no other process: running "
            "it here, in this command's own worker."
        )
        run_here()
        finished = in_flight.wait(options["timeout"])
        for trace_id in trace_ids:
            self._report(trace_id, since)
        if not finished:
            raise CommandError(f"runs still going after {options['timeout']:g} s")
        if not crosses_processes(get_channel_layer()):
            self.stdout.write(
                "Its stream changes are in the database; the live subscribers of a running "
                "embedded server see them on their next join (its in-memory channel layer "
                "does not hear of this process)."
            )
        letters = DeadLetter.objects.filter(trace_id__in=trace_ids, created_at__gte=since)
        if letters.exists():
            raise CommandError(f"{letters.count()} message(s) dead-lettered: see the trace")

    @staticmethod
    def _checked(send: Callable[[], Sent]) -> Sent:
        try:
            return send()
        except ManualRunError as error:
            raise CommandError(str(error)) from None

    def _report(self, trace_id: str, since: datetime | None = None) -> None:
        """Print the runs and dead letters of a trace (those from ``since`` on, if given)."""
        runs = StepRun.objects.filter(trace_id=trace_id).order_by("started_at", "id")
        letters = DeadLetter.objects.filter(trace_id=trace_id)
        if since is not None:
            runs = runs.filter(started_at__gte=since)
            letters = letters.filter(created_at__gte=since)
        for run in runs:
            took = "still running"
            if run.finished_at is not None:
                took = f"{(run.finished_at - run.started_at).total_seconds() * 1000:.0f} ms"
            line = f"  {run.step_name}  {run.kind}  attempt {run.attempt}  {run.status}  {took}"
            self.stdout.write(line + (f"  {run.error}" if run.error else ""))
        for letter in letters:
            self.stdout.write(f"  dead letter: {letter.step_name}: {letter.error}")
