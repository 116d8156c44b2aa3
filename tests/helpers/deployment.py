"""The environment of a deployment, as docs/production.md documents it.

``DEPLOYED`` is what a server behind a TLS-terminating load balancer runs with
(``manage.py check --deploy`` finds nothing to say about it); ``LOCAL_PLAIN_HTTP`` is the
same for processes that tests reach over plain HTTP on 127.0.0.1, as ``make production`` runs
them.
"""

import secrets

# A key of this test run's own: long and random, as docs/production.md asks.
SECRET_KEY = secrets.token_urlsafe(50)

DEPLOYED = {
    "DJANGO_DEBUG": "0",
    "DJANGO_SECRET_KEY": SECRET_KEY,
    "DJANGO_ALLOWED_HOSTS": "app.example.com",
}

LOCAL_PLAIN_HTTP = {
    **DEPLOYED,
    "DJANGO_ALLOWED_HOSTS": "127.0.0.1,localhost",
    "DJANGO_HTTPS": "0",
}
