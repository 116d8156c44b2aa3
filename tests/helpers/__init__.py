"""What the tests share: real server, worker and Redis processes (``processes``), the example
todo endpoints over HTTP (``todo_api``), a byte-level WebSocket client (``rawsocket``), a TCP load
balancer (``balancer``) and a deployment's environment (``deployment``)."""
