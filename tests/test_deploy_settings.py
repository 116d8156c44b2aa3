"""Secure defaults: with DEBUG off the processes refuse to start on the development secret key
or without host names, in one line; ``check --deploy`` is clean with the production settings
docs/production.md documents; behind the load balancer, pages go to HTTPS and ``/healthz`` does not.
"""

import os
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path

import httpx
import pytest

from motia_site.settings import DEV_SECRET_KEY
from tests.helpers.deployment import DEPLOYED, SECRET_KEY
from tests.helpers.passes import embedded_pass_only
from tests.helpers.processes import EMBEDDED, ROOT, ServerProcess, TestDatabase

# What this file checks does not depend on the database or the channel layer: it runs once,
# in the embedded pass.
pytestmark = embedded_pass_only


def run(
    command: list[str], env: Mapping[str, str], timeout: float = 60
) -> subprocess.CompletedProcess[str]:
    environment = {k: v for k, v in os.environ.items() if not k.startswith("DJANGO_")}
    environment.update(env)
    return subprocess.run(
        command, cwd=ROOT, env=environment, capture_output=True, text=True, timeout=timeout
    )


MANAGE = [sys.executable, "manage.py"]


def test_check_deploy_is_clean_with_the_documented_production_settings() -> None:
    result = run([*MANAGE, "check", "--deploy", "--fail-level", "WARNING"], DEPLOYED)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "System check identified no issues" in result.stdout, result.stdout + result.stderr


def test_check_deploy_says_what_plain_http_gives_up() -> None:
    result = run([*MANAGE, "check", "--deploy"], {**DEPLOYED, "DJANGO_HTTPS": "0"})
    assert result.returncode == 0, result.stderr
    for warning in ("security.W004", "security.W008", "security.W012", "security.W016"):
        assert warning in result.stderr + result.stdout


@pytest.mark.parametrize(
    ("env", "reason"),
    [
        ({"DJANGO_ALLOWED_HOSTS": "app.example.com"}, "DJANGO_SECRET_KEY is not set"),
        (
            {"DJANGO_ALLOWED_HOSTS": "app.example.com", "DJANGO_SECRET_KEY": DEV_SECRET_KEY},
            "DJANGO_SECRET_KEY is the development key published in the repository",
        ),
        ({"DJANGO_SECRET_KEY": SECRET_KEY}, "DJANGO_ALLOWED_HOSTS is not set"),
        ({"DJANGO_SECRET_KEY": SECRET_KEY, "DJANGO_ALLOWED_HOSTS": " , "}, "DJANGO_ALLOWED_HOSTS"),
    ],
)
def test_debug_off_refuses_to_start_in_one_line(env: dict[str, str], reason: str) -> None:
    result = run([*MANAGE, "check"], {"DJANGO_DEBUG": "0", **env})
    assert result.returncode == 1
    assert result.stdout == ""
    (line,) = result.stderr.splitlines()
    assert line.startswith("refusing to start with DJANGO_DEBUG off: ")
    assert reason in line


@pytest.mark.parametrize(
    "command",
    [
        [*MANAGE, "migrate", "--noinput"],
        [sys.executable, "-m", "uvicorn", "motia_site.asgi:application", "--port", "0"],
        [sys.executable, "-m", "celery", "-A", "motia_site", "worker"],
        [sys.executable, "-m", "celery", "-A", "motia_site", "beat"],
    ],
    ids=["migrate", "uvicorn", "celery-worker", "celery-beat"],
)
def test_every_process_refuses_the_missing_key(command: list[str]) -> None:
    result = run(command, {"DJANGO_DEBUG": "0", "DJANGO_ALLOWED_HOSTS": "app.example.com"})
    assert result.returncode == 1, result.stdout + result.stderr
    assert "Traceback" not in result.stderr
    last = result.stderr.strip().splitlines()[-1]
    assert last.startswith("refusing to start with DJANGO_DEBUG off: DJANGO_SECRET_KEY is not set")


def test_debug_on_needs_no_environment() -> None:
    result = run([*MANAGE, "check"], {})
    assert result.returncode == 0, result.stderr


def test_behind_the_load_balancer_pages_go_to_https_and_healthz_answers(
    tmp_path: Path,
) -> None:
    """A load balancer ends TLS and forwards with X-Forwarded-Proto (trusted from 127.0.0.1 by
    uvicorn's --proxy-headers); its health checks come over plain HTTP, by address."""
    with (
        TestDatabase(tmp_path) as database,
        ServerProcess(database, {**DEPLOYED, **EMBEDDED}, production=True) as server,
    ):
        page = httpx.get(f"{server.http_url}/", headers={"Host": "app.example.com"})
        assert page.status_code == 301
        assert page.headers["location"] == "https://app.example.com/"

        secure = httpx.get(
            f"{server.http_url}/",
            headers={"Host": "app.example.com", "X-Forwarded-Proto": "https"},
        )
        assert secure.status_code == 200
        hsts = secure.headers["strict-transport-security"]
        assert hsts == "max-age=31536000; includeSubDomains; preload"

        # Not one of ALLOWED_HOSTS: refused for pages ...
        assert httpx.get(f"{server.http_url}/").status_code == 400
        # ... but the load balancer's health check is answered, over HTTP, by address.
        health = httpx.get(f"{server.http_url}/healthz", timeout=10)
        assert health.status_code == 200, health.text
        assert health.json()["status"] == "ok"


# Every variable the site reads, besides the engine settings (env_settings drops blank ones).
SITE_VARIABLES = (
    "DATABASE_URL",
    "SQLITE_PATH",
    "DATABASE_POOL_SIZE",
    "DATABASE_POOL_TIMEOUT",
    "REDIS_URL",
    "CHANNELS_PREFIX",
    "CELERY_BROKER_URL",
    "CELERY_QUEUE",
    "CELERY_VISIBILITY_TIMEOUT",
    "DATA_UPLOAD_MAX_MEMORY_SIZE",
    "LOG_LEVEL",
    "DJANGO_DEBUG",
    "DJANGO_SECRET_KEY",
    "DJANGO_ALLOWED_HOSTS",
    "DJANGO_CSRF_TRUSTED_ORIGINS",
    "DJANGO_HTTPS",
    "DJANGO_HSTS_SECONDS",
    "DJANGO_HSTS_INCLUDE_SUBDOMAINS",
    "DJANGO_HSTS_PRELOAD",
)
# What the settings came to, as the processes see them.
SETTINGS_SEEN = (
    "from django.conf import settings as s; import json; print(json.dumps(["
    "s.DATABASES['default']['ENGINE'], str(s.DATABASES['default']['NAME']),"
    " s.CHANNEL_LAYERS['default']['BACKEND'], s.CELERY_BROKER_URL, s.CELERY_TASK_DEFAULT_QUEUE,"
    " s.VISIBILITY_TIMEOUT, s.DATA_UPLOAD_MAX_MEMORY_SIZE, s.LOG_LEVEL, s.DEBUG, s.SECRET_KEY,"
    " s.ALLOWED_HOSTS, s.CSRF_TRUSTED_ORIGINS, s.HTTPS, s.SECURE_HSTS_SECONDS,"
    " s.SECURE_HSTS_INCLUDE_SUBDOMAINS, s.SECURE_HSTS_PRELOAD]))"
)


def _site(command: list[str], env: Mapping[str, str]) -> subprocess.CompletedProcess[str]:
    """``command`` with none of the site's variables set but those of ``env``."""
    environment = {k: v for k, v in os.environ.items() if k not in SITE_VARIABLES}
    environment.update(env)
    return subprocess.run(
        command, cwd=ROOT, env=environment, capture_output=True, text=True, timeout=60
    )


def test_a_variable_set_but_blank_is_unset() -> None:
    """``DATABASE_URL=`` (a compose file's or a unit's empty line) means the default, as for
    every variable of the site: no traceback, the same settings as with nothing set."""
    blank = {name: "" for name in SITE_VARIABLES}
    assert _site([*MANAGE, "check"], blank).returncode == 0
    unset = _site([*MANAGE, "shell", "-c", SETTINGS_SEEN], {})
    blanked = _site([*MANAGE, "shell", "-c", SETTINGS_SEEN], blank)
    assert blanked.returncode == 0, blanked.stderr
    assert "Traceback" not in blanked.stderr
    assert blanked.stdout == unset.stdout, (blanked.stdout, unset.stdout)
    # Spaces are blank too.
    spaced = _site([*MANAGE, "shell", "-c", SETTINGS_SEEN], {"DATABASE_URL": " ", "REDIS_URL": " "})
    assert spaced.stdout == unset.stdout, spaced.stderr
