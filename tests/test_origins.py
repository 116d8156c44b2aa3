"""Stream sockets only from allowed origins, and tokens never in a log line.

The rules are pure (:func:`streams.sockets.origins.origin_allowed`,
:func:`streams.sockets.redaction.redact`) and tested directly; the rest runs against real servers,
runserver and uvicorn, with a real WebSocket client that sends the ``Origin`` a browser would (or
none, as Node and Python clients do).
"""

import asyncio
import json
from collections.abc import Iterator

import httpx
import pytest
import websockets
from django.test import override_settings
from websockets.exceptions import InvalidStatus
from websockets.typing import Origin

from examples.auth import token_from
from streams.sockets.auth import StreamAuthRequest
from streams.sockets.hosts import allowed_hosts
from streams.sockets.origins import origin_allowed
from streams.sockets.redaction import REDACTED, redact
from streams.sockets.tokens import issue_token
from tests.helpers.passes import embedded_pass_only
from tests.helpers.processes import AUTHENTICATE, ServerProcess, TestDatabase, logs_on_failure
from tests.helpers.wire import join, recv_frame

# What this file checks does not depend on the database or the channel layer: it runs once,
# in the embedded pass.
pytestmark = embedded_pass_only

HOSTS = ["127.0.0.1", "localhost", "[::1]", ".example.com"]


@pytest.mark.parametrize(
    ("origin", "allowed_origins", "allowed"),
    [
        (None, [], True),  # not a browser
        ("http://127.0.0.1:8000", [], True),
        ("https://localhost", [], True),
        ("http://[::1]:3000", [], True),
        ("https://app.example.com", [], True),  # .example.com: the domain and its subdomains
        ("https://example.com", [], True),
        ("http://evil.example", [], False),
        ("https://example.com.evil.example", [], False),
        ("null", [], False),  # sandboxed frames, file: pages
        ("null", ["*"], True),
        ("http://evil.example", ["*"], True),
        ("https://spa.other.org", ["https://spa.other.org"], True),
        ("https://spa.other.org/", ["HTTPS://SPA.OTHER.ORG"], True),
        ("http://spa.other.org", ["https://spa.other.org"], False),  # another scheme
        ("ftp://localhost", [], False),
        ("not a url", [], False),
        ("http://[bad", [], False),
    ],
)
def test_origin_rule(origin: str | None, allowed_origins: list[str], allowed: bool) -> None:
    assert origin_allowed(origin, HOSTS, allowed_origins) is allowed


@pytest.mark.parametrize(
    ("origin", "allowed"),
    [
        ("http://localhost:8000", True),
        ("http://app.localhost:3000", True),
        ("http://127.0.0.1:8000", True),
        ("http://[::1]:8000", True),
        ("http://evil.example", False),
    ],
)
def test_a_new_project_under_debug_takes_local_pages(origin: str, allowed: bool) -> None:
    """startproject leaves ALLOWED_HOSTS empty with DEBUG on: Django then answers the local
    names, and so do stream sockets (a dashboard on localhost connects)."""
    with override_settings(ALLOWED_HOSTS=[], DEBUG=True):
        assert origin_allowed(origin, allowed_hosts(), []) is allowed
    with override_settings(ALLOWED_HOSTS=[], DEBUG=False):
        assert origin_allowed(origin, allowed_hosts(), []) is False


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        (
            'GET /todos?authToken=abc.def HTTP/1.1" 200',
            f'GET /todos?authToken={REDACTED} HTTP/1.1" 200',
        ),
        ("/?a=1&access_token=x&b=2", f"/?a=1&access_token={REDACTED}&b=2"),
        ("/?Password=p#frag", f"/?Password={REDACTED}#frag"),
        ("/?page=2&q=token", "/?page=2&q=token"),  # a value that says token is no secret
        ("no url here", "no url here"),
        # Names are read decoded, as authentication reads them.
        ("/?%61%75%74%68%54%6f%6b%65%6e=abc", f"/?%61%75%74%68%54%6f%6b%65%6e={REDACTED}"),
        ("/?a=1&%70assword=p", f"/?a=1&%70assword={REDACTED}"),
        ("/?auth+Token=abc", f"/?auth+Token={REDACTED}"),
        ("/?%74%6Fken=abc&b=2", f"/?%74%6Fken={REDACTED}&b=2"),
        # A URL in another parameter's value has parameters of its own.
        ("/?next=/x?authToken=abc&b=2", f"/?next=/x?authToken={REDACTED}&b=2"),
    ],
)
def test_redact(line: str, expected: str) -> None:
    assert redact(line) == expected


@pytest.mark.parametrize(
    "query",
    [
        "authToken=SECRET",
        "%61%75%74%68%54%6f%6b%65%6e=SECRET",
        "%61uthToken=SECRET",
        "auth%54oken=SECRET&x=1",
        "x=1&%61%75%74%68%54%6F%6B%65%6E=SECRET",
        "authToken=decoy&%61uthToken=SECRET",  # the last one given is the one read
    ],
)
def test_whatever_authentication_takes_as_a_token_is_redacted(query: str) -> None:
    request = StreamAuthRequest.from_scope({"query_string": query.encode()})
    assert token_from(request) == "SECRET"
    line = redact(f'"GET /?{query} HTTP/1.1" 101')
    assert "SECRET" not in line, line


@pytest.fixture(scope="module", params=["runserver", "uvicorn"])
def server(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ServerProcess]:
    """A server of each kind, with one more allowed origin and ``authenticate_stream`` on."""
    env = {**AUTHENTICATE, "STREAMS_ALLOWED_ORIGINS": "https://spa.other.org", "LOG_LEVEL": "INFO"}
    production = request.param == "uvicorn"
    with (
        TestDatabase(tmp_path_factory.mktemp(request.param)) as database,
        ServerProcess(database, env, name=request.param, production=production) as server,
        logs_on_failure(request, [server]),
    ):
        yield server


def _url(server: ServerProcess, token: str) -> str:
    return f"{server.ws_url}?{httpx.QueryParams(authToken=token)}"


async def _synced(url: str, origin: str | None) -> dict[str, object]:
    """Connect with ``origin`` (None: no header), join the todo group, return the sync frame."""
    header = None if origin is None else Origin(origin)
    async with websockets.connect(url, origin=header, open_timeout=10) as ws:
        await join(ws, "todo", "todos")
        return await recv_frame(ws, 10)


@pytest.mark.parametrize(
    "origin",
    [None, "http://127.0.0.1", "http://localhost:5173", "https://spa.other.org"],
)
async def test_allowed_origins_connect_and_sync(server: ServerProcess, origin: str | None) -> None:
    frame = await _synced(_url(server, issue_token("u1", "user")), origin)
    assert frame["event"] == {"type": "sync", "data": []}, frame


@pytest.mark.parametrize("origin", ["http://evil.example", "null", "http://127.0.0.1.evil.example"])
async def test_other_origins_are_refused(server: ServerProcess, origin: str) -> None:
    with pytest.raises(InvalidStatus) as refused:
        await _synced(_url(server, issue_token("u1", "user")), origin)
    assert refused.value.response.status_code == 403


async def test_a_handshake_to_another_path_is_refused_not_failed(server: ServerProcess) -> None:
    with pytest.raises(InvalidStatus) as refused:
        await _synced(f"{server.ws_url}elsewhere/", None)
    response = refused.value.response
    if server.production:  # uvicorn lets the application answer the handshake
        assert response.status_code == 404
        assert json.loads(response.body or b"") == {
            "detail": "no stream socket at this path: connect to / or /streams/"
        }
    else:  # daphne answers every refused handshake with 403
        assert response.status_code == 403
    assert "Traceback" not in server.log()


async def test_tokens_in_urls_never_reach_the_log(server: ServerProcess) -> None:
    secret = issue_token("u1", "user")
    await _synced(_url(server, secret), None)
    with pytest.raises(InvalidStatus):  # a refused handshake is logged too
        await _synced(_url(server, secret), "http://evil.example")
    # A bad token, refused by authenticate_stream, and an HTTP request with a token in its URL.
    with pytest.raises(InvalidStatus):
        await _synced(_url(server, "not-a-valid.token-0123456789"), None)
    async with httpx.AsyncClient(base_url=server.http_url) as http:
        assert (await http.get("/todos", params={"authToken": secret})).status_code == 200
        await http.get("/no-such-page", params={"access_token": secret})
    await asyncio.sleep(0.5)  # the servers write their lines after answering
    log = server.log()
    assert secret not in log
    assert "token-0123456789" not in log
    # Lines with a secret parameter were written, with its value redacted (runserver logs
    # only 4xx and 5xx requests; uvicorn every request and handshake).
    assert f"access_token={REDACTED}" in log, log
    if server.production:
        assert f"authToken={REDACTED}" in log, log


ENCODED_TOKEN_NAME = "%61%75%74%68%54%6f%6b%65%6e"  # authToken, each letter percent-encoded


async def test_a_token_under_an_encoded_name_is_taken_and_never_logged(
    server: ServerProcess,
) -> None:
    """Authentication reads ``%61%75...`` as ``authToken``: so does redaction."""
    secret = issue_token("u1", "user")
    url = f"{server.ws_url}?{ENCODED_TOKEN_NAME}={secret}"
    frame = await _synced(url, None)  # taken as the token: the socket is let in
    assert frame["event"] == {"type": "sync", "data": []}, frame
    async with httpx.AsyncClient(base_url=server.http_url) as http:
        await http.get(f"/no-such-page?{ENCODED_TOKEN_NAME}={secret}")
        await http.get(f"/todos?%61ccess%5Ftoken={secret}")
    await asyncio.sleep(0.5)  # the servers write their lines after answering
    log = server.log()
    assert secret not in log
    # The lines were written, with the value redacted (runserver logs only 4xx and 5xx).
    assert f"{ENCODED_TOKEN_NAME}={REDACTED}" in log, log
    if server.production:
        assert f"%61ccess%5Ftoken={REDACTED}" in log, log


@pytest.fixture(scope="module")
def new_project_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    """runserver on the settings startproject writes: DEBUG on, ALLOWED_HOSTS empty."""
    with (
        TestDatabase(tmp_path_factory.mktemp("new-project")) as database,
        ServerProcess(database, {"DJANGO_ALLOWED_HOSTS": ""}, name="new-project") as server,
    ):
        yield server


@pytest.mark.parametrize("host", ["localhost", "127.0.0.1"])
async def test_a_new_project_takes_browser_sockets_from_its_local_pages(
    request: pytest.FixtureRequest, new_project_server: ServerProcess, host: str
) -> None:
    """The dashboard of a project made by the guide, opened at localhost or 127.0.0.1, gets
    its socket (Django answers these names under DEBUG with no ALLOWED_HOSTS); pages of other
    sites do not, and neither do step requests for other names."""
    server = new_project_server
    with logs_on_failure(request, [server]):
        page = f"http://{host}:{server.port}"
        frame = await _synced(server.ws_url, page)
        assert frame["event"] == {"type": "sync", "data": []}, frame
        with pytest.raises(InvalidStatus) as refused:
            await _synced(server.ws_url, "http://evil.example")
        assert refused.value.response.status_code == 403
        async with httpx.AsyncClient(base_url=server.http_url) as http:
            own = await http.get("/todos", headers={"Host": f"{host}:{server.port}"})
            assert own.status_code == 200, own.text
            other = await http.get("/todos", headers={"Host": f"evil.example:{server.port}"})
            assert other.status_code == 400, other.text
