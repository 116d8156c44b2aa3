"""WebSocket routes: the stream socket at ``/`` (as Motia serves it) and ``/streams/``;
a handshake to any other path is refused."""

from collections.abc import Callable, Coroutine, Mapping
from typing import Any

from .sockets import StreamConsumer, refuse_handshake

NO_ROUTE = "no stream socket at this path: connect to / or /streams/"

Application = Callable[[dict[str, Any], Any, Any], Coroutine[Any, Any, None]]


async def no_route(scope: dict[str, Any], receive: Any, send: Any) -> None:
    """Refuse a handshake to a path no socket is served at: 404 with a JSON body (403 under
    daphne, see :func:`~streams.sockets.refusals.refuse_handshake`)."""
    await refuse_handshake(scope, receive, send, 404, NO_ROUTE)


class SocketRoutes:
    """ASGI application routing a handshake by its path (below the server's ``root_path``,
    leading slashes aside, as Channels' ``URLRouter`` reads it) to the application of that
    path, or to ``default``.

    Channels' ``URLRouter`` awaits the application in a coroutine of its own, with a copy of
    the scope and the route's arguments: all kept for the life of every socket (about 1.2 KB
    of each idle socket), where these paths have no arguments. A call here hands back the
    application's awaitable, with the scope as the server gave it."""

    _asgi_single_callable = True  # for asgiref: an ASGI 3 application, though not async

    def __init__(self, routes: Mapping[str, Application], default: Application) -> None:
        self.routes = dict(routes)
        self.default = default

    def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> Coroutine[Any, Any, None]:
        path: str = scope["path"]
        root_path: str = scope.get("root_path", "")
        if root_path:
            if not path.startswith(root_path):
                return self.default(scope, receive, send)
            path = path[len(root_path) :]
        application = self.routes.get(path.lstrip("/"), self.default)
        return application(scope, receive, send)


stream_socket = StreamConsumer.as_asgi()

websocket_routes = SocketRoutes({"": stream_socket, "streams/": stream_socket}, no_route)
