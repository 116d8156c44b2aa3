"""What the tests share, one module a concept:

- ``processes``: real server, worker and Redis processes on a fresh database of the test's own
  (the fixtures ``database``, ``start``, ``server``, ``auth_server`` of ``tests/conftest.py``
  start them);
- ``waiting``: bounded polling (``eventually``, ``eventually_async``);
- ``wire``: raw clients of the stream socket (join messages, frames, a recording subscriber);
- ``step_builder``: steps built from a config (and the ``define_step`` fixture);
- ``todo_api``: the example todo endpoints over HTTP;
- ``passes``: which pass of ``make test`` runs (``needs_services``, ``needs_redis``);
- ``sampling``: a measure sampled in the background;
- ``node``: Node with the npm packages of ``tests/e2e``;
- ``rawsocket``, ``balancer``, ``deployment``: a byte-level WebSocket client, a TCP load
  balancer, and a deployment's environment.
"""
