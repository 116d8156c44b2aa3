"""The README's "Try it", run as it says against a real server: the shell lines that wait for
the server and add a todo, and the Node snippet, saved and run as the README tells (in a
folder where ``npm install`` wrote a ``package.json``), printing the todos without a warning.
"""

import json
import re
import shutil
import subprocess
import time
from pathlib import Path

import httpx
import pytest

from tests.helpers.node import E2E_PACKAGES, node_with_packages
from tests.helpers.passes import embedded_pass_only
from tests.helpers.processes import ROOT, ServerProcess
from tests.helpers.waiting import eventually

# What this file checks does not depend on the database or the channel layer: it runs once,
# in the embedded pass.
pytestmark = embedded_pass_only

README = (ROOT / "README.md").read_text()
TRY_IT = README[README.index("## Try it") : README.index("## In your own project")]


def code_blocks(text: str, language: str) -> list[str]:
    return re.findall(rf"```{language}\n(.*?)```", text, re.DOTALL)


def on_port(text: str, port: int) -> str:
    return text.replace("localhost:8000", f"127.0.0.1:{port}").replace(
        "127.0.0.1:8000", f"127.0.0.1:{port}"
    )


def test_the_shell_lines_wait_for_the_server_then_add_a_todo(server: ServerProcess) -> None:
    if shutil.which("curl") is None:
        pytest.skip("curl is needed")
    (shell,) = code_blocks(TRY_IT, "sh")
    lines = shell.splitlines()
    assert lines[0].startswith("make run &")
    # The lines after `make run &`, up to the first one that needs a todo's id.
    until_an_id = "\n".join(lines[1 : next(i for i, line in enumerate(lines) if "<id>" in line)])
    assert "healthz" in until_an_id  # it waits for the server
    result = subprocess.run(
        ["bash", "-euo", "pipefail", "-c", on_port(until_an_id, server.port)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    created, listed = result.stdout.replace("}{", "}\n{").splitlines()
    assert json.loads(created)["todo"]["description"] == "Buy milk"
    assert "Buy milk" in listed


def test_the_node_snippet_runs_as_the_readme_says(server: ServerProcess, tmp_path: Path) -> None:
    node = node_with_packages("run the README's Node snippet")
    saved_as = re.search(r"save this as `([\w.-]+)`", TRY_IT)
    assert saved_as, "the README says what to save the Node snippet as"
    file_name = saved_as.group(1)
    assert f"`node {file_name}`" in TRY_IT
    (snippet,) = code_blocks(TRY_IT, "js")
    # A folder where `npm install @motiadev/stream-client-node` ran: its package.json names
    # the dependency and no module type.
    (tmp_path / "node_modules").symlink_to(E2E_PACKAGES / "node_modules")
    version = json.loads(
        (E2E_PACKAGES / "node_modules/@motiadev/stream-client-node/package.json").read_text()
    )["version"]
    package = {"dependencies": {"@motiadev/stream-client-node": f"^{version}"}}
    (tmp_path / "package.json").write_text(json.dumps(package))
    (tmp_path / file_name).write_text(on_port(snippet, server.port))

    log = tmp_path / "node.log"
    with log.open("w") as output:
        watcher = subprocess.Popen(
            [node, file_name], cwd=tmp_path, stdout=output, stderr=subprocess.STDOUT
        )
    try:
        eventually(lambda: "todos now" in log.read_text(), "the first state", 15)
        posted = httpx.post(f"{server.http_url}/todos", json={"description": "Seen live"})
        assert posted.status_code == 201
        eventually(lambda: "Seen live" in log.read_text(), lambda: log.read_text(), 15)
        time.sleep(0.2)
    finally:
        watcher.terminate()
        watcher.wait(5)
    assert "Warning" not in log.read_text(), log.read_text()
