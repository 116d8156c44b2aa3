"""``POST /insert``: one row inserted through a Django cursor on one long-lived thread.

That is the least a Django write costs: the async view hands the insert to a single thread
created once (``sync_to_async(thread_sensitive=False, executor=...)``), which keeps its
database connection, and answers 201 with a small JSON body.
"""

import json
from concurrent.futures import ThreadPoolExecutor

from asgiref.sync import sync_to_async
from django.db import connection
from django.http import HttpRequest, JsonResponse

# One thread, created once: every insert runs on it, so it holds the only connection.
EXECUTOR = ThreadPoolExecutor(max_workers=1, thread_name_prefix="bench-insert")

CREATE_TABLE = {
    "sqlite": "CREATE TABLE IF NOT EXISTS bench_row "
    "(id INTEGER PRIMARY KEY AUTOINCREMENT, data TEXT NOT NULL)",
    "postgresql": "CREATE TABLE IF NOT EXISTS bench_row "
    "(id BIGSERIAL PRIMARY KEY, data JSONB NOT NULL)",
}


def create_table() -> None:
    with connection.cursor() as cursor:
        cursor.execute(CREATE_TABLE[connection.vendor])


def insert_row(data: str) -> int:
    with connection.cursor() as cursor:
        cursor.execute("INSERT INTO bench_row (data) VALUES (%s) RETURNING id", [data])
        return int(cursor.fetchone()[0])


async def insert(request: HttpRequest) -> JsonResponse:
    if request.method != "POST":
        return JsonResponse({"error": "POST only"}, status=405)
    data = json.dumps(json.loads(request.body))  # parsed, like a step's body
    row_id = await sync_to_async(insert_row, thread_sensitive=False, executor=EXECUTOR)(data)
    response = JsonResponse({"id": row_id}, status=201)
    response["Content-Length"] = str(len(response.content))  # as ours: no chunked encoding
    return response
