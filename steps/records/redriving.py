"""Re-driving dead letters: each one's message sent again, to a worker that runs it, with a
fresh retry budget (the admin's action and ``manage.py redrive``).

A dead letter is marked re-driven only once the broker took its message: when the broker
refuses it, the letter stays as it was, to be re-driven later. Nothing is sent that would be
lost: on the in-process broker (the embedded default) a message reaches only the worker of
the process that sent it, so a process that runs no embedded worker refuses (``manage.py
redrive`` starts one of its own first, and waits for it); and the letters of a step or trigger
the project no longer defines are refused, as their runs would only fail again.
"""

from collections.abc import Sequence

from celery import current_app
from django.db import transaction
from django.utils import timezone

from ..conf import is_in_process_broker
from ..definitions import registry
from ..models import DeadLetter
from ..running import OutgoingRun, SendFailed, embedded_worker_runs, send_runs

IN_PROCESS_BROKER = (
    "the broker is in-process (CELERY_BROKER_URL is memory:// or unset), and this process runs "
    "no worker: a message sent from here would be lost when it exits. Re-drive with manage.py "
    "redrive (it runs them in a worker of its own), from the admin of the running server (Dead "
    'letters, action "Re-drive the selected messages"), or configure a broker that the servers '
    "and workers share (REDIS_URL or CELERY_BROKER_URL)"
)


class CannotRedrive(Exception):
    """Nothing was re-driven, for the reason the message gives."""


class RedriveStopped(Exception):
    """The broker refused the message of ``letter``: the ``done`` letters before it were
    re-driven; it and the ones after it are left as they were."""

    def __init__(self, done: int, letter: DeadLetter, error: BaseException | None) -> None:
        super().__init__(
            f"re-drove {done} dead letter(s); the broker refused the message of dead letter "
            f"{letter.pk} ({type(error).__name__}: {error}): it and the ones after it are left "
            "as they were"
        )
        self.done, self.letter, self.error = done, letter, error


def refusal(letters: Sequence[DeadLetter]) -> str | None:
    """Why ``letters`` cannot be re-driven from this process (None when they can)."""
    if is_in_process_broker(current_app.conf.broker_url) and not embedded_worker_runs():
        return IN_PROCESS_BROKER
    unknown = [letter for letter in letters if not _runnable(letter)]
    if unknown:
        names = ", ".join(sorted({letter.step_name for letter in unknown}))
        ids = ", ".join(str(letter.pk) for letter in unknown)
        return (
            f"dead letter(s) {ids} are of steps or triggers this project does not define "
            f"({names}): their runs would fail again"
        )
    return None


def redrive(letters: Sequence[DeadLetter], *, pending_only: bool = False) -> int:
    """Re-drive ``letters`` in order (``pending_only``: those not re-driven meanwhile); how
    many were. Raises :class:`CannotRedrive` (nothing sent) or :class:`RedriveStopped` (the
    broker refused one)."""
    if not letters:
        return 0
    reason = refusal(letters)
    if reason is not None:
        raise CannotRedrive(reason)
    done = 0
    for letter in letters:
        try:
            done += _redrive_one(letter, pending_only)
        except SendFailed as failure:
            raise RedriveStopped(done, letter, failure.__cause__) from failure
    return done


def _redrive_one(letter: DeadLetter, pending_only: bool) -> bool:
    # The row stays locked until it is marked: two `redrive --all` at once send it once.
    with transaction.atomic():
        locked = DeadLetter.objects.select_for_update().get(pk=letter.pk)
        if pending_only and locked.redriven_at is not None:
            return False
        send_runs([OutgoingRun(locked.step_name, locked.payload, locked.trace_id)])
        locked.redriven_at = timezone.now()
        locked.save(update_fields=["redriven_at"])
    letter.redriven_at = locked.redriven_at
    return True


def _runnable(letter: DeadLetter) -> bool:
    """Whether the project defines the letter's step and trigger (a worker could run it)."""
    if letter.step_name not in registry:
        return False
    trigger = letter.payload.get("trigger") if isinstance(letter.payload, dict) else None
    triggers = registry.get(letter.step_name).config.triggers
    return isinstance(trigger, int) and 0 <= trigger < len(triggers)
