"""A Django project of a test's own, made as docs/guide.md makes one, and its ``runserver``.

:class:`GuideProject` runs ``django-admin startproject mysite`` and ``manage.py startapp
myapp`` in a temporary folder, adds the engine's apps, the engine's ASGI application and URLs,
and migrates its SQLite database; it has no ``LOGGING``, as the guide's project has none. The
engine comes from this checkout (installed in the test's environment), nothing else of the
repository is on its path. ``write`` adds a file (a step, a stream, another settings module).

:class:`DevServer` runs its ``manage.py runserver`` on a free port, with Django's reloader
unless told otherwise, all output in a log file; it is stopped with its whole process group
(the reloader's child included).
"""

import contextlib
import os
import signal
import subprocess
import textwrap
import time
import uuid
from pathlib import Path
from types import TracebackType
from typing import IO, Self

import httpx

from tests.helpers.processes import PYTHON, START_TIMEOUT, STOP_TIMEOUT, free_port

SETTINGS = """
INSTALLED_APPS = ["daphne", *INSTALLED_APPS, "channels", "ninja", "streams", "steps", "myapp"]
ASGI_APPLICATION = "mysite.asgi.application"
CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}
"""
ASGI = """
import os

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "mysite.settings")

from steps.application import get_asgi_application

application = get_asgi_application()
"""
URLS = """
from django.contrib import admin
from django.urls import include, path

urlpatterns = [path("admin/", admin.site.urls), path("", include("steps.urls"))]
"""


class GuideProject:
    """A project as the guide makes it, in ``root`` (the app is ``myapp``)."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root)
        self.root.mkdir(parents=True, exist_ok=True)
        environment = {
            k: v
            for k, v in os.environ.items()
            if k not in {"DJANGO_SETTINGS_MODULE", "PYTHONPATH", "DATABASE_URL", "REDIS_URL"}
        }
        self.env = {**environment, "PYTHONUNBUFFERED": "1"}
        self.run(PYTHON, "-m", "django", "startproject", "mysite", ".")
        self.run(PYTHON, "manage.py", "startapp", "myapp")
        settings = self.root / "mysite" / "settings.py"
        settings.write_text(settings.read_text() + SETTINGS)
        self.write("mysite/asgi.py", ASGI)
        self.write("mysite/urls.py", URLS)
        self.run(PYTHON, "manage.py", "migrate", "--noinput", "-v", "0")

    def run(self, *command: str) -> str:
        result = subprocess.run(
            command, cwd=self.root, env=self.env, capture_output=True, text=True, timeout=120
        )
        assert result.returncode == 0, f"{command} failed:\n{result.stdout}{result.stderr}"
        return result.stdout

    def write(self, relative: str, text: str) -> Path:
        """Write ``text`` (dedented) to the file ``relative`` of the project."""
        path = self.root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text).lstrip())
        return path


class DevServer:
    """``manage.py runserver`` of a :class:`GuideProject` (``reload``: with Django's
    reloader), on a free port; ``settings`` names another settings module."""

    def __init__(
        self, project: GuideProject, *, reload: bool = True, settings: str = "mysite.settings"
    ) -> None:
        self.project = project
        self.reload = reload
        self.settings = settings
        self.port = free_port()
        self.log_path = project.root / f"runserver-{uuid.uuid4().hex[:6]}.log"
        self.process: subprocess.Popen[bytes] | None = None
        self._log_file: IO[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def get(self, path: str) -> httpx.Response | None:
        """``GET path``, or None while nothing answers."""
        try:
            return httpx.get(f"{self.url}{path}", timeout=2)
        except httpx.TransportError:
            return None

    def start(self) -> None:
        command = [PYTHON, "manage.py", "runserver", f"127.0.0.1:{self.port}"]
        if not self.reload:
            command.append("--noreload")
        self._log_file = self.log_path.open("ab")
        self.process = subprocess.Popen(
            command,
            cwd=self.project.root,
            env={**self.project.env, "DJANGO_SETTINGS_MODULE": self.settings},
            stdin=subprocess.DEVNULL,
            stdout=self._log_file,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group: the reloader's child goes with it
        )
        deadline = time.monotonic() + START_TIMEOUT
        while self.get("/healthz") is None:
            if self.process.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"runserver did not answer:\n{self.log()}")
            time.sleep(0.1)

    def stop(self) -> None:
        """SIGTERM the process group, then SIGKILL what is left of it (the reloader's child
        may outlive its parent for a moment)."""
        process, self.process = self.process, None
        if process is not None:
            for sent in (signal.SIGTERM, signal.SIGKILL):
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(process.pid, sent)
                with contextlib.suppress(subprocess.TimeoutExpired):
                    process.wait(STOP_TIMEOUT)
        if self._log_file is not None:
            self._log_file.close()
            self._log_file = None

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
