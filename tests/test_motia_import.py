"""``import motia`` never shadows an installed ``motia``: with one on the path (here a stand-in
of Motia's own package, as it is today: it fails as it imports, for want of its engine's SDK),
Motia files get it, and ``manage.py check`` says why they cannot run (``motia.E001``), naming
each file instead of dying on a traceback. Real processes, a project's settings."""

import subprocess
from pathlib import Path

from tests.helpers.passes import embedded_pass_only
from tests.helpers.processes import PYTHON, ROOT, server_environment

# What this file checks does not depend on the database or the channel layer: it runs once,
# in the embedded pass.
pytestmark = embedded_pass_only

# As Motia 1.0.4rc1 is with the iii-sdk of today: ``import motia`` fails inside the package.
BROKEN = "from iii import Logger  # noqa\n"
# A motia package that imports (one of another kind, or a future one).
WORKING = "WHO = 'the installed one'\n"


def installed_motia(tmp_path: Path, source: str) -> Path:
    site = tmp_path / "site-packages"
    (site / "motia").mkdir(parents=True)
    (site / "motia" / "__init__.py").write_text(source)
    return site


def run(site: Path, settings: str, *args: str) -> subprocess.CompletedProcess[str]:
    env = server_environment(
        {"PYTHONPATH": str(site), "DJANGO_SETTINGS_MODULE": settings, "SQLITE_PATH": "/dev/null"}
    )
    return subprocess.run(
        [PYTHON, *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120
    )


def test_an_installed_motia_is_reported_not_shadowed(tmp_path: Path) -> None:
    site = installed_motia(tmp_path, BROKEN)
    result = run(site, "tests.motia_settings", "manage.py", "check")
    report = result.stdout + result.stderr
    assert result.returncode != 0
    assert "Traceback" not in report
    assert "(motia.E001) Motia's own 'motia' package" in report
    assert f"at {site / 'motia'}" in report
    assert "HINT: uninstall it (pip uninstall motia)" in report
    # Each Motia file, step or stream, is named with the reason it cannot load.
    for module, check in (("create_note_step", "steps"), ("notes_stream", "streams")):
        assert (
            f"tests.motia_app.notes.{module}: ({check}.E00"
            f"{1 if check == 'steps' else 3}) imports the 'motia' package installed at"
        ) in report


def test_a_working_installed_motia_is_the_one_imported(tmp_path: Path) -> None:
    site = installed_motia(tmp_path, WORKING)
    shell = "import motia; print(motia.WHO)"
    result = run(site, "motia_site.settings", "manage.py", "shell", "-c", shell)
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.strip().endswith("the installed one")
    # The project's own steps do not import motia: only the check tells.
    check = run(site, "motia_site.settings", "manage.py", "check")
    assert check.returncode != 0 and "motia.E001" in check.stdout + check.stderr


def test_without_one_motia_is_this_engines() -> None:
    shell = "import motia, steps.motia; print(motia is steps.motia, motia.Stream.__module__)"
    result = run(ROOT, "motia_site.settings", "manage.py", "shell", "-c", shell)
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.split()[-2:] == ["True", "steps.motia.streams"]


def test_importing_motia_loads_the_projects_dotenv_without_overriding(tmp_path: Path) -> None:
    dotenv = tmp_path / "project.env"
    dotenv.write_text("MOTIA_GREETING=from-dotenv\nMOTIA_KEPT=from-dotenv\n")
    shell = (
        "import os; print(os.environ.get('MOTIA_GREETING')); import motia; "
        "print(os.environ['MOTIA_GREETING'], os.environ['MOTIA_KEPT'])"
    )
    env = server_environment({"STEPS_MOTIA_DOTENV": str(dotenv), "MOTIA_KEPT": "from-environment"})
    result = subprocess.run(
        [PYTHON, "manage.py", "shell", "-c", shell],
        cwd=ROOT,
        env={**env, "SQLITE_PATH": "/dev/null"},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    # Not before a file imports motia (the project's own steps do not); then, as Motia's
    # command line does, never over what the environment has.
    assert result.stdout.splitlines()[-2:] == ["None", "from-dotenv from-environment"]
