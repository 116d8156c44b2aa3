"""Exit 0 when PostgreSQL and Redis at the given URLs answer, 1 otherwise (used by make)."""

import sys

import psycopg
import redis


def reachable(database_url: str, redis_url: str) -> bool:
    try:
        psycopg.connect(database_url, connect_timeout=3).close()
        redis.Redis.from_url(redis_url, socket_connect_timeout=3).ping()
    except Exception as error:
        print(f"service check: {error}", file=sys.stderr)
        return False
    return True


if __name__ == "__main__":
    sys.exit(0 if reachable(sys.argv[1], sys.argv[2]) else 1)
