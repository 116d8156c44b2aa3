"""streams.routing: the WebSocket routes, and the applications in front of the consumer that
hand back the next application's awaitable instead of awaiting it in a coroutine of their own
(none of them kept for the life of every socket)."""

import inspect
from typing import Any

import pytest
from asgiref.compatibility import guarantee_single_callable
from channels.testing import WebsocketCommunicator

from streams.routing import SocketRoutes, stream_socket, websocket_routes
from streams.sockets import OriginCheck, StreamConsumer

pytestmark = pytest.mark.django_db(transaction=True)


def _app(name: str, seen: list[tuple[str, dict[str, Any]]]) -> Any:
    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        seen.append((name, scope))

    return app


@pytest.mark.parametrize(
    ("path", "root_path", "routed_to"),
    [
        ("/", "", "socket"),
        ("/streams/", "", "socket"),
        ("//streams/", "", "socket"),  # leading slashes aside, as Channels' URLRouter
        ("/streams", "", "default"),
        ("/streams/x/", "", "default"),
        ("/elsewhere/", "", "default"),
        ("/api/streams/", "/api", "socket"),
        ("/api/", "/api", "socket"),
        ("/streams/", "/api", "default"),  # outside the root path
    ],
)
async def test_a_handshake_goes_to_the_application_of_its_path(
    path: str, root_path: str, routed_to: str
) -> None:
    seen: list[tuple[str, dict[str, Any]]] = []
    socket = _app("socket", seen)
    routes = SocketRoutes({"": socket, "streams/": socket}, _app("default", seen))
    scope = {"type": "websocket", "path": path, "root_path": root_path}
    await routes(scope, None, None)
    assert seen == [(routed_to, scope)]
    assert seen[0][1] is scope  # the server's scope, not a copy kept for the socket


def test_the_routing_layers_are_asgi_3_applications_without_a_coroutine_of_their_own() -> None:
    # asgiref (Channels' communicator) takes them as ASGI 3 applications, though not async.
    for application in (websocket_routes, OriginCheck(websocket_routes), stream_socket):
        assert not inspect.iscoroutinefunction(application)
        assert guarantee_single_callable(application) is application  # type: ignore[no-untyped-call]
    assert stream_socket.consumer_class is StreamConsumer


async def test_the_stream_socket_is_served_at_its_paths_and_refused_elsewhere() -> None:
    application = OriginCheck(websocket_routes)
    for path in ("/", "/streams/"):
        comm = WebsocketCommunicator(application, path)
        connected, _ = await comm.connect()
        assert connected, path
        await comm.disconnect()
    comm = WebsocketCommunicator(application, "/elsewhere/")
    connected, _ = await comm.connect()
    assert not connected  # the communicator's scope offers no denial response: a close
