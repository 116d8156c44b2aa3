"""Motia's ``generate_step_id``: a step's stable id, made from its file's path (pure)."""

import uuid

# The namespace of Motia's step ids, so that a path gives the id Motia's tools expect.
STEP_NAMESPACE = uuid.UUID("7f1c3ff2-9b00-4d0a-bdd7-efb8bca49d4f")


def generate_step_id(path: str) -> str:
    return str(uuid.uuid5(STEP_NAMESPACE, path))
