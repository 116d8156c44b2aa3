"""The engine as a library: its wheel, installed with pip into a fresh virtual environment,
serves a project of its own (made by ``django-admin startproject``, plus one app with its
streams and steps, one of them written against Motia's API) with nothing of this repository
on the path. Then Motia's own ``motia`` package is installed beside it: it is not shadowed,
and the checks say why it cannot run.

It installs the engine's dependencies from the package index (pip's cache makes that quick
after the first time), so it runs in the embedded pass of ``make test`` only.
"""

import asyncio
import os
import re
import shutil
import subprocess
import sys
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import websockets
from websockets.typing import Origin

from tests.helpers.passes import embedded_pass_only
from tests.helpers.processes import ROOT, START_TIMEOUT, free_port, terminate
from tests.helpers.waiting import eventually
from tests.helpers.wire import join, recv_frame

PROJECT_FILES = Path(__file__).resolve().parent / "wheel_project"
INSTALL_TIMEOUT = 600

pytestmark = [
    pytest.mark.timeout(INSTALL_TIMEOUT + 120),
    embedded_pass_only,
]


def run(command: list[str], cwd: Path, env: dict[str, str], timeout: float = 120) -> str:
    result = subprocess.run(
        command, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout
    )
    assert result.returncode == 0, f"{command} failed:\n{result.stdout}\n{result.stderr}"
    return result.stdout


# Motia's own package, its last release (Motia is deprecated upstream).
MOTIA_RELEASE = "motia==1.0.4rc1"


def run_failing(command: list[str], cwd: Path, env: dict[str, str]) -> str:
    """What a command that must fail prints."""
    result = subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True, timeout=120)
    assert result.returncode != 0, f"{command} did not fail:\n{result.stdout}"
    return result.stdout + result.stderr


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, dict[str, str]]]:
    """A virtual environment with the wheel installed, and a project that uses it."""
    root = tmp_path_factory.mktemp("wheel")
    # Nothing of ours may leak in: no settings module, no path to the checkout.
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in {"DJANGO_SETTINGS_MODULE", "PYTHONPATH", "DATABASE_URL", "REDIS_URL"}
    }
    env["PYTHONUNBUFFERED"] = "1"
    # Built from a copy of what the wheel is made of: setuptools leaves build/ behind.
    source = root / "source"
    source.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, source / name)
    for package in ("streams", "steps"):
        shutil.copytree(
            ROOT / package, source / package, ignore=shutil.ignore_patterns("__pycache__")
        )
    run(
        [sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "-w", str(root), str(source)],
        root,
        env,
        INSTALL_TIMEOUT,
    )
    (wheel,) = root.glob("*.whl")
    venv = root / "venv"
    run([sys.executable, "-m", "venv", str(venv)], root, env)
    python = str(venv / "bin" / "python")
    run([python, "-m", "pip", "install", "-q", str(wheel)], root, env, INSTALL_TIMEOUT)

    site = root / "site"
    site.mkdir()
    run([str(venv / "bin" / "django-admin"), "startproject", "notes_site", str(site)], site, env)
    shutil.copytree(PROJECT_FILES / "notes", site / "notes")
    for name in ("urls.py", "asgi.py"):
        shutil.copy(PROJECT_FILES / "notes_site" / name, site / "notes_site" / name)
    settings = site / "notes_site" / "settings.py"
    settings.write_text(
        settings.read_text() + (PROJECT_FILES / "notes_site" / "settings_engine.py").read_text()
    )
    env["DJANGO_SETTINGS_MODULE"] = "notes_site.settings"
    run([python, "manage.py", "migrate", "--noinput"], site, env)
    yield site, {**env, "PYTHON": python, "WHEEL": str(wheel)}


def test_the_engine_comes_from_the_wheel(project: tuple[Path, dict[str, str]]) -> None:
    site, env = project
    where = run([env["PYTHON"], "-c", "import streams, steps; print(streams.__file__)"], site, env)
    assert "site-packages" in where
    # manage.py scaffold's templates are in the wheel.
    templates = "from steps.management.scaffolding import TEMPLATES; print(*TEMPLATES.iterdir())"
    assert "http_step.py-tpl" in run([env["PYTHON"], "-c", templates], site, env)
    report = run([env["PYTHON"], "manage.py", "check"], site, env)
    assert "no issues" in report
    # The step file written against Motia's API gets the engine's motia.
    motia = "import motia; print(motia.__name__, motia.__file__)"
    name, path = run([env["PYTHON"], "manage.py", "shell", "-c", motia], site, env).split()[-2:]
    assert name == "steps.motia" and "site-packages" in path
    steps = run([env["PYTHON"], "manage.py", "steps"], site, env)
    assert "AddNote" in steps
    # No broker named, no Celery app of its own: the steps run on the in-process broker, not
    # on Celery's default (an AMQP server on localhost).
    broker = "from celery import current_app; print(current_app.conf.broker_url)"
    shell = run([env["PYTHON"], "manage.py", "shell", "-c", broker], site, env)
    assert shell.splitlines()[-1] == "memory://"


async def _subscribe_then_post(url: str) -> list[dict[str, Any]]:
    """Join the notes and their count, add a note: the frames the socket receives. The socket
    is a browser's, opened by a page of the site (startproject's settings: DEBUG on, no
    ALLOWED_HOSTS, under which Django answers the local names)."""
    page = Origin(f"http://localhost:{url.rpartition(':')[2]}")
    async with websockets.connect(f"ws://{url}/", origin=page) as socket:
        await join(socket, "note", "all")
        await join(socket, "note_count", "totals")
        frames = [await recv_frame(socket, 10), await recv_frame(socket, 10)]
        async with httpx.AsyncClient() as client:
            response = await client.post(
                f"http://{url}/notes", json={"id": "n1", "text": "from the wheel"}
            )
        assert response.status_code == 201, response.text
        # The note, then its count, made by a stream-triggered step in the embedded worker.
        frames += [await recv_frame(socket, 10), await recv_frame(socket, 10)]
    return frames


def _sign_in(url: str, env: dict[str, str], site: Path) -> httpx.Client:
    """A client signed in to the admin as a new superuser."""
    run(
        [env["PYTHON"], "manage.py", "createsuperuser", "--noinput", "--username", "admin"],
        site,
        {
            **env,
            "DJANGO_SUPERUSER_PASSWORD": "wheel-pass-1234",
            "DJANGO_SUPERUSER_EMAIL": "admin@example.com",
        },
    )
    client = httpx.Client(base_url=f"http://{url}")
    form = client.get("/admin/login/").text
    csrf = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', form)
    assert csrf is not None
    signed_in = client.post(
        "/admin/login/?next=/admin/",
        data={
            "csrfmiddlewaretoken": csrf.group(1),
            "username": "admin",
            "password": "wheel-pass-1234",
        },
    )
    assert signed_in.status_code == 302, signed_in.text
    return client


def test_a_step_answers_and_a_subscriber_sees_the_change(
    project: tuple[Path, dict[str, str]],
) -> None:
    site, env = project
    port = free_port()
    server = subprocess.Popen(
        [env["PYTHON"], "-m", "uvicorn", "notes_site.asgi:application", "--port", str(port)],
        cwd=site,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    try:
        url = f"127.0.0.1:{port}"

        def answers() -> bool:
            try:
                httpx.get(f"http://{url}/healthz", timeout=1)
            except httpx.TransportError:
                assert server.poll() is None, server.communicate()[0].decode()
                return False
            return True

        eventually(answers, "the server to answer", START_TIMEOUT)
        frames = asyncio.run(_subscribe_then_post(url))
        assert [f["event"]["type"] for f in frames[:2]] == ["sync", "sync"]
        assert frames[2]["event"] == {
            "type": "create",
            "data": {"id": "n1", "text": "from the wheel"},
        }
        assert frames[3]["streamName"] == "note_count"
        assert frames[3]["event"] == {"type": "create", "data": {"id": "all", "notes": 1}}
        hello = httpx.get(f"http://{url}/hello-motia", params={"name": "wheel"})
        assert (hello.status_code, hello.json()) == (200, {"hello": "wheel"})
        # The engine's static files are in the wheel, and served.
        client = httpx.get(f"http://{url}/static/streams/stream-client.js")
        assert client.status_code == 200 and "StreamClient" in client.text
        docs = httpx.get(f"http://{url}/api/openapi.json").json()
        assert "/notes" in docs["paths"]
        # The dashboard's templates are in the wheel too.
        admin = _sign_in(url, env, site)
        try:
            dashboard = admin.get("/dashboard/")
        finally:
            admin.close()
        assert dashboard.status_code == 200
        assert "AddNote" in dashboard.text and "CountNotes" in dashboard.text
    finally:
        terminate(server, 5)


def test_the_wheel_holds_no_package_named_motia(project: tuple[Path, dict[str, str]]) -> None:
    _, env = project
    with zipfile.ZipFile(env["WHEEL"]) as wheel:
        tops = {name.split("/", 1)[0] for name in wheel.namelist()}
    assert {top for top in tops if not top.endswith(".dist-info")} == {"streams", "steps"}


def test_motias_own_package_installed_beside_is_not_shadowed(
    project: tuple[Path, dict[str, str]],
) -> None:
    # Last in this module: it installs Motia's package into the shared environment, and
    # uninstalls it when it is done.
    site, env = project
    pip = [env["PYTHON"], "-m", "pip"]
    run([*pip, "install", "-q", MOTIA_RELEASE], site, env, INSTALL_TIMEOUT)
    try:
        report = run_failing([env["PYTHON"], "manage.py", "check"], site, env)
        assert "(motia.E001) Motia's own 'motia' package (1.0.4rc1) is installed" in report
        assert "Traceback" not in report
        # The Motia file gets Motia's package, which fails; the engine's own steps load.
        assert "notes.hello_motia_step: (steps.E001) imports the 'motia' package" in report
        assert "notes.add_note_step" not in report
    finally:
        run([*pip, "uninstall", "-q", "-y", "motia"], site, env)
