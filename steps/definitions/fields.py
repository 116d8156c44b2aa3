"""Field types for body schemas whose values a handler stores, so that the body's validation
(and the OpenAPI document) already refuses what the stream store would (a 422 either way).

``StreamKey`` is a group or item id: 1 to 255 characters, no NUL. ``StoredText`` is text kept
in a stream item: no NUL (PostgreSQL's jsonb refuses it, and the store does on every database).
"""

from typing import Annotated

from pydantic import Field

from streams.definitions import MAX_KEY_LENGTH

StreamKey = Annotated[str, Field(min_length=1, max_length=MAX_KEY_LENGTH, pattern=r"^[^\x00]+$")]
StoredText = Annotated[str, Field(pattern=r"^[^\x00]*$")]
