"""The project's Celery app is the project's: ``steps.celery.setup(app)`` in its celery.py adds
the cron steps to beat's schedule beside the project's own entries, which stay as they are."""

import subprocess
import time
from pathlib import Path

import pytest
from celery import Celery

import steps.celery
from steps.celery import check_celery_apps, merge_beat_schedule
from tests.helpers.processes import PYTHON, ROOT, TestDatabase, server_environment, terminate

BEAT_TIMEOUT = 60.0


def entry(task: str) -> dict[str, object]:
    return {"task": task, "schedule": 60.0}


def beat_environment(database: TestDatabase, **extra: str) -> dict[str, str]:
    # Beat sends to the in-process broker of its own process: nothing is left in a Redis.
    return server_environment(
        {
            **database.env,
            "DJANGO_SETTINGS_MODULE": "tests.beat_settings",
            "CELERY_BROKER_URL": "memory://",
            **extra,
        }
    )


def test_a_real_beat_sends_the_projects_entry_and_the_cron_steps(
    database: TestDatabase, tmp_path: Path
) -> None:
    log_path = tmp_path / "beat.log"
    with log_path.open("wb") as log:
        beat = subprocess.Popen(
            [PYTHON, "-m", "celery", "-A", "motia_site", "beat", "--loglevel=INFO"],
            cwd=ROOT,
            env=beat_environment(database),
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        try:
            wanted = ("Sending due task project-ping", "Sending due task Pulse:cron:0")
            deadline = time.monotonic() + BEAT_TIMEOUT
            while time.monotonic() < deadline and beat.poll() is None:
                if all(line in log_path.read_text() for line in wanted):
                    break
                time.sleep(0.2)
            text = log_path.read_text()
            assert all(line in text for line in wanted), text
        finally:
            terminate(beat, 10)


def test_an_entry_named_as_a_cron_triggers_is_a_check_error(database: TestDatabase) -> None:
    result = subprocess.run(
        [PYTHON, "manage.py", "check"],
        cwd=ROOT,
        env=beat_environment(database, BEAT_ENTRY="Pulse:cron:0"),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode != 0
    assert "steps.E006" in result.stderr
    assert "'Pulse:cron:0'" in result.stderr


def test_the_merge_keeps_the_projects_entries_and_replaces_its_own() -> None:
    app = Celery("merging", set_as_current=False)
    own = {"nightly": entry("project.nightly")}
    app.conf.beat_schedule = own
    merge_beat_schedule(app, {"Tick:cron:0": entry("steps.run_step")})
    assert set(app.conf.beat_schedule) == {"nightly", "Tick:cron:0"}
    assert own == {"nightly": entry("project.nightly")}  # the project's dict is not changed

    # Merged again (the steps changed): the engine's old entries go, the project's stay.
    merge_beat_schedule(app, {"Tock:cron:0": entry("steps.run_step")})
    assert set(app.conf.beat_schedule) == {"nightly", "Tock:cron:0"}

    # A project entry of an engine entry's name is kept, not replaced.
    app.conf.beat_schedule = {**app.conf.beat_schedule, "Tick:cron:0": entry("project.mine")}
    merge_beat_schedule(app, {"Tick:cron:0": entry("steps.run_step")})
    assert app.conf.beat_schedule["Tick:cron:0"]["task"] == "project.mine"
    assert "Tock:cron:0" not in app.conf.beat_schedule


def test_a_project_app_not_set_up_is_a_check_error(monkeypatch: pytest.MonkeyPatch) -> None:
    assert not [m for m in check_celery_apps() if m.id == "steps.E007"]
    monkeypatch.setattr(steps.celery, "_set_up", [])
    [error] = [m for m in check_celery_apps() if m.id == "steps.E007"]
    assert "'motia_site'" in error.msg
    assert "steps.celery.setup(app)" in (error.hint or "")


def test_the_site_app_schedules_its_cron_steps_and_records_heartbeats() -> None:
    from celery import current_app

    from steps.running.heartbeat import HeartbeatStep

    assert "CollectSystemMetrics:cron:0" in current_app.conf.beat_schedule
    assert HeartbeatStep in current_app.steps["consumer"]
