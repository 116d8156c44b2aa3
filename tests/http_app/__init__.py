"""Steps for the http tests' server (loaded by ``tests.http_settings``): route precedence,
JSON-schema bodies, conditions and middleware, served as a project serves them."""
