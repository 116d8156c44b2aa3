"""Create the PostgreSQL database that ``DATABASE_URL`` names when it does not exist yet.

``python -m motia_site.createdb`` (run by ``make production`` before ``migrate``): connects to
the server's ``postgres`` database as the same user. Nothing to do on SQLite, whose file
``migrate`` creates.
"""

import sys
from typing import Any

from django.conf import settings


def create_database() -> str | None:
    """Create the configured PostgreSQL database if missing; its name when it was created."""
    import psycopg
    from psycopg import sql

    database = settings.DATABASES["default"]
    if settings.DATABASE_IS_SQLITE:
        return None
    params: dict[str, Any] = {
        "dbname": "postgres",
        "user": database.get("USER") or None,
        "password": database.get("PASSWORD") or None,
        "host": database.get("HOST") or None,
        "port": database.get("PORT") or None,
        "connect_timeout": 10,
    }
    name = database["NAME"]
    with psycopg.connect(**{k: v for k, v in params.items() if v is not None}) as connection:
        connection.autocommit = True
        exists = connection.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name])
        if exists.fetchone():
            return None
        connection.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    return str(name)


def main() -> None:
    created = create_database()
    if created:
        print(f"created database {created}", file=sys.stderr)


if __name__ == "__main__":
    main()
