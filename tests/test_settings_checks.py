"""``manage.py check`` names every engine setting the engine cannot use, each app its own: an
invalid value (``streams.E001``, ``steps.E008``), a dotted path that does not import or is not a
function (``streams.E002``), heartbeats slower than the health check's tolerance
(``steps.W003``), no channel layer (``streams.E005``), and a ``STREAMS_*`` or ``STEPS_*``
setting the engine does not have (``streams.W002``, ``steps.W004``)."""

import os
import subprocess
import sys
from io import StringIO

import pytest
from django.core.management import call_command
from django.core.management.base import SystemCheckError
from django.test import override_settings

from tests.helpers.processes import ROOT


def check(fail_level: str = "ERROR") -> str:
    """What ``manage.py check`` reports, raising SystemCheckError at ``fail_level``."""
    out, err = StringIO(), StringIO()
    call_command("check", fail_level=fail_level, stdout=out, stderr=err)
    return out.getvalue() + err.getvalue()


def failed_check(fail_level: str = "ERROR") -> str:
    with pytest.raises(SystemCheckError) as caught:
        check(fail_level)
    return str(caught.value)


def test_the_site_as_configured_passes() -> None:
    report = check(fail_level="WARNING")
    assert "streams." not in report
    assert "steps." not in report


@override_settings(STREAMS_MAX_FRAME_BYTES=0, STREAMS_ALLOWED_ORIGINS=["app.example.com"])
def test_invalid_values_are_errors_naming_the_setting_and_what_it_must_be() -> None:
    report = failed_check()
    assert "(streams.E001) STREAMS_MAX_FRAME_BYTES must be a positive integer (got 0)" in report
    assert "HINT: The largest client frame" in report
    assert "(streams.E001) STREAMS_ALLOWED_ORIGINS must be a list of origins" in report
    assert "(got 'app.example.com')" in report


@override_settings(STEPS_EMBEDDED_WORKER_THREADS="four", STEPS_HEALTH_CHECK_TIMEOUT=0)
def test_invalid_values_of_steps_are_errors_of_steps() -> None:
    report = failed_check()
    assert "(steps.E008) STEPS_EMBEDDED_WORKER_THREADS must be a positive integer" in report
    assert "HINT: Threads of the embedded worker." in report
    assert "(steps.E008) STEPS_HEALTH_CHECK_TIMEOUT must be a positive number of seconds" in report
    assert "streams.E001" not in report


@override_settings(STREAMS_AUTHENTICATE="tests.no_such_module.authenticate_stream")
def test_an_authenticate_path_that_does_not_import_is_an_error() -> None:
    report = failed_check()
    assert (
        "(streams.E002) STREAMS_AUTHENTICATE names 'tests.no_such_module.authenticate_stream', "
        "which cannot be imported (ModuleNotFoundError: No module named 'tests.no_such_module')"
    ) in report


@override_settings(STREAMS_TOKEN_VERIFIER="streams.sockets.tokens.no_such_function")
def test_a_token_verifier_missing_from_its_module_is_an_error() -> None:
    report = failed_check()
    assert (
        "(streams.E002) STREAMS_TOKEN_VERIFIER names 'streams.sockets.tokens.no_such_function'"
        in report
    )
    assert "cannot be imported" in report


@override_settings(STREAMS_AUTHENTICATE="streams.checks.TAG")
def test_a_path_to_something_not_callable_is_an_error() -> None:
    assert (
        "(streams.E002) STREAMS_AUTHENTICATE names 'streams.checks.TAG', which is a "
        "str, not a function"
    ) in failed_check()


@override_settings(STREAMS_AUTHENTICATE="streams.sockets.verify_token")
def test_a_path_to_a_function_passes() -> None:
    assert "streams." not in check(fail_level="WARNING")


@override_settings(STEPS_WORKER_HEARTBEAT_INTERVAL=30, STEPS_HEALTH_WORKER_MAX_AGE=20)
def test_heartbeats_slower_than_the_health_tolerance_are_a_warning() -> None:
    assert "(steps.W003) STEPS_HEALTH_WORKER_MAX_AGE (20 s) is not longer than" in check()
    assert "steps.W003" in failed_check(fail_level="WARNING")


@override_settings(STREAMS_MAX_FRAME_BYTE=1024, STEPS_NOTHING_LIKE_IT=1)
def test_a_setting_the_engine_does_not_have_is_a_warning() -> None:
    report = check()
    assert "(streams.W002) STREAMS_MAX_FRAME_BYTE is not a setting of the engine" in report
    assert "HINT: Did you mean STREAMS_MAX_FRAME_BYTES?" in report
    assert "(steps.W004) STEPS_NOTHING_LIKE_IT is not a setting of the engine" in report
    assert "HINT: The settings are in steps.conf." in report


@override_settings(CHANNEL_LAYERS={})
def test_no_channel_layer_is_an_error() -> None:
    report = failed_check()
    assert '(streams.E005) CHANNEL_LAYERS has no "default" layer' in report


def test_manage_py_check_names_an_invalid_environment_variable() -> None:
    """The site takes engine settings from the environment: a bad value is a check error, not
    a traceback."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "STREAMS_"))}
    env.update({"STREAMS_MAX_PENDING_BYTES": "8MB", "STEPS_EMBEDDED_BEAT": "0"})
    result = subprocess.run(
        [sys.executable, "manage.py", "check"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 1, result.stdout + result.stderr
    assert (
        "(streams.E001) STREAMS_MAX_PENDING_BYTES must be a positive integer (got '8MB')"
        in result.stderr
    )
    assert "Traceback" not in result.stderr
    assert "STEPS_EMBEDDED_BEAT" not in result.stderr
