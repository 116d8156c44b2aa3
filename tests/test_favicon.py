"""Every page has an icon that loads: the engine's pages name theirs, and ``/favicon.ico``
(what a browser asks for on a page that names none, as the admin's) is the engine's too."""

import re

import httpx
import pytest

from tests.helpers.passes import embedded_pass_only
from tests.helpers.processes import ServerProcess

# What this file checks does not depend on the database or the channel layer: it runs once,
# in the embedded pass.
pytestmark = embedded_pass_only


@pytest.mark.parametrize("path", ["/", "/admin/login/"])
def test_the_icon_of_every_page_loads(server: ServerProcess, path: str) -> None:
    with httpx.Client(base_url=server.http_url, follow_redirects=True, timeout=10) as client:
        page = client.get(path)
        assert page.status_code == 200
        named = re.findall(r'<link rel="icon" href="([^"]+)"', page.text)
        for icon in named or ["/favicon.ico"]:
            loaded = client.get(icon)
            assert loaded.status_code == 200, f"{icon} of {path}: {loaded.status_code}"
            assert loaded.headers["content-type"].startswith("image/"), icon
            assert len(loaded.content) > 100, icon  # an image, not an empty one
