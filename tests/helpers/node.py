"""Node for the tests that run JavaScript: the binary, with the npm packages of ``tests/e2e``
(Motia's published Node client, ``ws``) installed as its lock file pins them."""

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

E2E_PACKAGES = Path(__file__).resolve().parents[1] / "e2e"


def node_with_packages(purpose: str) -> str:
    """The node binary, with tests/e2e's npm packages installed (``npm ci`` when any is missing
    or at another version than its lock file pins). Without node and npm the test is skipped,
    and fails in CI."""
    node, npm = shutil.which("node"), shutil.which("npm")
    if node is None or npm is None:
        message = f"node and npm are needed to {purpose}"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    if not _node_packages_installed():
        result = subprocess.run(
            [npm, "ci", "--prefix", str(E2E_PACKAGES), "--no-audit", "--no-fund"],
            capture_output=True,
            text=True,
            timeout=300,
        )
        if result.returncode != 0:
            pytest.fail(f"npm ci in {E2E_PACKAGES} failed:\n{result.stdout}{result.stderr}")
        assert _node_packages_installed()
    return node


def _node_packages_installed() -> bool:
    lock = json.loads((E2E_PACKAGES / "package-lock.json").read_text())
    for path, entry in lock.get("packages", {}).items():
        if not path:
            continue
        try:
            installed = json.loads((E2E_PACKAGES / path / "package.json").read_text())
        except (OSError, ValueError):
            return False
        if installed.get("version") != entry.get("version"):
            return False
    return True
